"""Task observability: whether, and how, the agent sees the task it is running.

Four modes, for single environments (`TaskObservation`) and vector environments
(`VectorTaskObservation`):

* ``"hidden"``: the observation is unchanged (the contextual-MDP setting: the agent must infer the task);
* ``"params"``: a 1-D ``Box`` observation followed by the task's normalized parameter vector
  (``family.features(task)``, each entry in [-1, 1]; labels from ``family.parameters.feature_names()``);
* ``"onehot"``: a 1-D ``Box`` observation followed by a one-hot vector over a fixed, explicit list of tasks;
* ``"dict"``: ``{"obs": <the observation>, "task": <the normalized parameter vector>}``.

The ``"params"``/``"onehot"`` spaces are float32 ``Box`` es whose bounds are the inner bounds followed by
[-1, 1] (parameters) or [0, 1] (one-hot), so every observation stays inside the declared space.

The one-hot layout must be the same in every environment a policy meets (training and evaluation), so
``tasks=`` is required in ``"onehot"`` mode rather than read from the environment's task sampler. An
episode on a task outside that list gets an all-zero code and a warning (once per wrapper) with
``unknown="zeros"`` (the default, so that a one-hot policy can still be evaluated out of distribution), or
a ``ValueError`` with ``unknown="error"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from mtenvs.core.family import TaskFamily
from mtenvs.core.samplers import TaskSampler
from mtenvs.core.task import Task, TaskSet
from mtenvs.core.wrappers._support import current_tasks, family_of_env, family_of_vector_env

Mode = Literal["params", "onehot", "dict", "hidden"]
MODES: tuple[str, ...] = ("params", "onehot", "dict", "hidden")
Unknown = Literal["zeros", "error"]

# Feature vectors of tasks are cached; the cache is cleared when it grows past this many tasks (samplers
# without a finite support produce a new task at every reset).
_CACHE_LIMIT = 4096


def _one_hot_tasks(tasks: Any, family: TaskFamily, owner: str) -> tuple[str, tuple[Task, ...]]:
    """The name and the validated, duplicate-free tasks of a one-hot layout."""
    if tasks is None:
        raise ValueError(
            f"{owner}: mode='onehot' needs tasks= (a TaskSet, a list of tasks or a task-set name such as 'train'), "
            "so that the one-hot layout is the same in every environment the policy meets"
        )
    if isinstance(tasks, str):
        tasks = family.task_set(tasks)
    if isinstance(tasks, TaskSampler):
        if tasks.support is None:
            raise ValueError(f"{owner}: tasks= is a sampler without a finite support; pass a TaskSet or a list of tasks")
        tasks = tasks.support
    if isinstance(tasks, (Task, Mapping)) or not isinstance(tasks, Sequence) or len(tasks) == 0:
        raise ValueError(f"{owner}: tasks= must be a non-empty TaskSet, list of tasks or task-set name, got {tasks!r}")
    validated = tuple(family.validate(t) for t in tasks)
    if len(set(validated)) != len(validated):
        raise ValueError(f"{owner}: tasks= contains the same task more than once; one-hot positions must be distinct")
    name = tasks.name if isinstance(tasks, TaskSet) else f"{len(validated)} tasks"
    return name, validated


class TaskEncoding:
    """The observation transform of one observability mode: spaces, per-task codes, single and batched obs.

    Args:
        mode: ``"params"``, ``"onehot"``, ``"dict"`` or ``"hidden"``.
        family: the family whose tasks are encoded.
        tasks: the one-hot layout (``"onehot"`` only): a `TaskSet`, a list of tasks, a task-set name,
            or a sampler with a finite support.
        unknown: ``"zeros"`` or ``"error"``: what a task outside the one-hot layout gets.
        owner: the name used in error messages.
    """

    def __init__(self, mode: str, family: TaskFamily, tasks: Any = None, unknown: str = "zeros",
                 owner: str = "TaskObservation") -> None:
        if mode not in MODES:
            raise ValueError(f"{owner}: mode must be one of {list(MODES)}, got {mode!r}")
        if unknown not in ("zeros", "error"):
            raise ValueError(f"{owner}: unknown must be 'zeros' or 'error', got {unknown!r}")
        if tasks is not None and mode != "onehot":
            raise ValueError(f"{owner}: tasks= sets the one-hot layout and is only used with mode='onehot', not {mode!r}")
        self.mode = mode
        self.family = family
        self.unknown = unknown
        self.owner = owner
        self._cache: dict[Task, np.ndarray] = {}
        # Batched lookups: task id -> row of a table of codes.
        self._rows: dict[str, int] = {}
        self._warned = False
        self.set_name = ""
        #: The one-hot layout (``"onehot"`` mode), else ``None``.
        self.tasks: tuple[Task, ...] | None = None
        if mode == "onehot":
            self.set_name, self.tasks = _one_hot_tasks(tasks, family, owner)
            self._index = {task: i for i, task in enumerate(self.tasks)}
            self.code_low, self.code_high = np.zeros(len(self.tasks), np.float32), np.ones(len(self.tasks), np.float32)
        else:
            dim = family.parameters.feature_dim
            self.code_low, self.code_high = np.full(dim, -1.0, np.float32), np.ones(dim, np.float32)
        self._table = np.zeros((0, len(self.code_low)), dtype=np.float32)

    @property
    def code_names(self) -> list[str]:
        """One label per appended entry: parameter feature names, or the ids of the one-hot tasks."""
        if self.tasks is not None:
            return [task.id for task in self.tasks]
        return self.family.parameters.feature_names()

    def observation_space(self, inner: gym.Space) -> gym.Space:
        """The space of encoded observations, given the space of the inner observations."""
        if self.mode == "hidden":
            return inner
        if self.mode == "dict":
            return spaces.Dict({"obs": inner, "task": spaces.Box(self.code_low, self.code_high, dtype=np.float32)})
        if not isinstance(inner, spaces.Box) or len(inner.shape) != 1:
            raise ValueError(
                f"{self.owner}: mode={self.mode!r} appends to a 1-D Box observation, got {inner}; "
                "use mode='dict', or flatten the observation first (gymnasium.wrappers.FlattenObservation)"
            )
        # Casting both the bounds and the observations to float32 keeps every observation inside the bounds:
        # rounding to nearest is monotone.
        low = np.concatenate([inner.low.astype(np.float32), self.code_low])
        high = np.concatenate([inner.high.astype(np.float32), self.code_high])
        return spaces.Box(low, high, dtype=np.float32)

    def code(self, task: Task) -> np.ndarray:
        """The appended vector of ``task`` (read-only and shared: copy it before handing it out)."""
        code = self._cache.get(task)
        if code is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            code = self._one_hot(task) if self.tasks is not None else self.family.features(task)
            code = np.asarray(code, dtype=np.float32)
            code.setflags(write=False)
            self._cache[task] = code
        return code

    def _one_hot(self, task: Task) -> np.ndarray:
        assert self.tasks is not None
        code = np.zeros(len(self.tasks), dtype=np.float32)
        position = self._index.get(task)
        if position is not None:
            code[position] = 1.0
            return code
        message = f"{self.owner}: task {task.id} ({task!r}) is not in the one-hot task set {self.set_name!r}"
        if self.unknown == "error":
            raise ValueError(message)
        if not self._warned:
            self._warned = True
            warnings.warn(f"{message}; its one-hot code is all zeros (warned once)", stacklevel=4)
        return code

    def codes(self, ids: Sequence[str], tasks: Callable[[], Sequence[Task]]) -> np.ndarray:
        """The codes of a batch of task ids as a new ``(len(ids), dim)`` array.

        ``tasks()`` must return the `Task` objects behind the ids; it is called only when some id has
        not been seen before, so a step whose tasks are all known costs one dictionary pass and one gather.
        """
        try:
            rows = np.fromiter(map(self._rows.__getitem__, ids), dtype=np.intp, count=len(ids))
        except KeyError:
            fresh = list(tasks())
            if len(self._rows) + len(fresh) > _CACHE_LIMIT:
                self._rows.clear()
            for task in fresh:
                self._add_row(task)
            rows = np.fromiter(map(self._rows.__getitem__, ids), dtype=np.intp, count=len(ids))
        return self._table[rows]

    def _add_row(self, task: Task) -> None:
        if task.id in self._rows:
            return
        row = len(self._rows)
        if row == len(self._table):  # grow the table by doubling, so adding n tasks costs O(n) overall
            grown = np.zeros((max(2 * row, 16), len(self.code_low)), dtype=np.float32)
            grown[:row] = self._table[:row]
            self._table = grown
        self._table[row] = self.code(task)
        self._rows[task.id] = row

    def attach(self, obs: Any, code: np.ndarray) -> Any:
        """One encoded observation (a new object): ``obs`` with ``code`` appended, or the dict of both."""
        if self.mode == "dict":
            return {"obs": obs, "task": np.array(code, dtype=np.float32)}
        return np.concatenate([np.asarray(obs, dtype=np.float32), code])

    def attach_batch(self, obs: Any, codes: np.ndarray) -> Any:
        """A batch of encoded observations (new arrays), one code per row."""
        if self.mode == "dict":
            return {"obs": obs, "task": codes}
        return np.concatenate([np.asarray(obs, dtype=np.float32), codes], axis=1)

    def observe(self, obs: Any, task: Task) -> Any:
        """The encoded observation of one environment on ``task`` (a new object)."""
        return obs if self.mode == "hidden" else self.attach(obs, self.code(task))


def _info_task(info: Mapping[str, Any], owner: str) -> Task:
    task = info.get("task")
    if not isinstance(task, Task):
        raise ValueError(f"{owner}: the environment's info has no 'task' (a Task); wrap an mtenvs family environment")
    return task


class TaskObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Show the current task to the agent (see the module docstring for the modes).

    The task is read from ``info["task"]`` at every reset and step, so a task changed mid-episode (by
    `ParameterDrift` or ``change_task``) is shown from the next step on.

    Examples:
        >>> env = TaskObservation(gym.make("mtenvs/CartPole-v0", tasks="train"), mode="params")
        >>> env.observation_space.shape   # 4 state entries + 6 normalized parameters
        (10,)

    Args:
        env: an mtenvs family environment (``env.unwrapped`` is a ``TaskEnv``).
        mode: ``"params"`` (default), ``"onehot"``, ``"dict"`` or ``"hidden"``.
        tasks: the one-hot layout, required with ``mode="onehot"`` (a TaskSet, a list of tasks, a task-set name).
        unknown: with ``mode="onehot"``, what a task outside ``tasks`` gets: ``"zeros"`` (and one warning) or
            ``"error"`` (a ``ValueError``).
    """

    def __init__(self, env: gym.Env, mode: Mode = "params", tasks: Any = None, unknown: Unknown = "zeros") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, mode=mode, tasks=tasks, unknown=unknown)
        gym.Wrapper.__init__(self, env)
        family = family_of_env(env, "TaskObservation")
        self.encoding = TaskEncoding(mode, family, tasks, unknown, owner="TaskObservation")
        self.observation_space = self.encoding.observation_space(env.observation_space)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the inner environment and encode its observation with the episode's task."""
        obs, info = self.env.reset(seed=seed, options=options)
        return self.encoding.observe(obs, _info_task(info, "TaskObservation")), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the inner environment and encode its observation with the task reported in ``info``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.encoding.observe(obs, _info_task(info, "TaskObservation")), reward, terminated, truncated, info


class VectorTaskObservation(VectorWrapper):
    """`TaskObservation` for vector environments: each row shows the task of its own sub-env.

    Works on native mtenvs vector envs (``gym.make_vec("mtenvs/...")``) and on ``SyncVectorEnv`` s of family
    envs, in every autoreset mode. With ``SameStep`` autoreset, ``infos["final_obs"]`` of a finished sub-env
    is encoded with the task of the episode that ended, while the returned observation (already the first of
    the next episode) is encoded with the new task. Arguments are those of `TaskObservation`.
    """

    def __init__(self, env: VectorEnv, mode: Mode = "params", tasks: Any = None, unknown: Unknown = "zeros") -> None:
        super().__init__(env)
        family = family_of_vector_env(env, "VectorTaskObservation")
        self.encoding = TaskEncoding(mode, family, tasks, unknown, owner="VectorTaskObservation")
        self.single_observation_space = self.encoding.observation_space(env.single_observation_space)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._same_step = env.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP
        self._codes: np.ndarray | None = None

    def _current_codes(self, infos: Mapping[str, Any]) -> np.ndarray:
        """The code of every sub-env's current task, looked up by ``infos["task_id"]`` when it covers every sub-env."""
        ids, mask = infos.get("task_id"), infos.get("_task_id")
        if ids is None or mask is None or not np.all(mask):  # e.g. a partial reset of a SyncVectorEnv
            tasks = current_tasks(self.env)
            return self.encoding.codes([task.id for task in tasks], lambda: tasks)
        return self.encoding.codes(ids, lambda: current_tasks(self.env))

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset (all or ``options["reset_mask"]`` sub-envs) and encode every row with its sub-env's task."""
        obs, infos = self.env.reset(seed=seed, options=options)
        if self.encoding.mode == "hidden":
            return obs, infos
        self._codes = self._current_codes(infos)
        return self.encoding.attach_batch(obs, self._codes), infos

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step every sub-env and encode the observations (and ``final_obs`` with ``SameStep`` autoreset)."""
        if self.encoding.mode == "hidden":
            return self.env.step(actions)
        before = self._codes
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        self._codes = self._current_codes(infos)
        if self._same_step and "final_obs" in infos and before is not None:
            # Sub-env tasks change only at resets, so a final observation belongs to the task held before the step.
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(infos.get("_final_obs", [o is not None for o in infos["final_obs"]])):
                final_obs[i] = self.encoding.attach(infos["final_obs"][i], before[i])
            infos = {**infos, "final_obs": final_obs}
        return self.encoding.attach_batch(obs, self._codes), rewards, terminated, truncated, infos
