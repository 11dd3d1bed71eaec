"""Vector environments in which every sub-env runs its own task.

``gym.make_vec("mtenvs/<Family>-v0", num_envs=N, tasks=...)`` returns one of these (the id's
``vector_entry_point``):

* `TaskVectorEnv`, the base of *native* batched envs: all sub-envs are stepped in one NumPy
  computation, each with its own parameter values;
* `SyncTaskVectorEnv`, the fallback for families without a native version: Gymnasium's
  ``SyncVectorEnv`` over single family envs, with the same task semantics.

Task arguments, for both:

* ``tasks=[t0, ..., t_{N-1}]`` (a list or tuple with exactly one task per sub-env): sub-env ``i`` always runs ``t_i``;
* ``task=t`` (a Task or dict): every sub-env runs ``t``;
* ``tasks="train"``, a `TaskSet` or a `TaskSampler`: each sub-env draws a new task at every
  (auto)reset.

``infos["task_id"]`` holds the current task id of every sub-env (an object array, with the usual ``_task_id``
mask) and ``env.unwrapped.tasks`` the `Task` objects. (The Sync fallback also batches its sub-envs'
``info["task"]``; native envs leave it out, as building an object array of tasks every step would cost more than
the dynamics.) Autoreset modes: ``NextStep`` (Gymnasium's default), ``SameStep`` (what
stable-baselines3 expects; the final observation is in ``infos["final_obs"]``) and ``Disabled`` (reset
finished sub-envs with ``reset(options={"reset_mask": mask})``).

Tasks: sub-env ``i`` draws its tasks from a generator of its own, ``task_generator(seed + i)`` after
``reset(seed=seed)`` (the generator a single env reset with ``seed + i`` uses, and the one the Sync fallback's
sub-env ``i`` uses), so the sequence of tasks each sub-env runs depends on the seed only, never on when the
episodes of the other sub-envs end (i.e. never on the policy). This holds for every sampler that keeps no state
between draws (task-set names, task lists as ``TaskSet``, ``UniformTasks``, ``WeightedTasks``,
``FamilyDistribution``, custom samplers without state); a stateful sampler (``RoundRobin``, ``EveryKEpisodes``, a
curriculum) is one object shared by the sub-envs and advances in the order their episodes end. For the finite
stateless samplers (``TaskSampler.stateless``) each sub-env's draws are made ``TASK_BLOCK`` at a time with
``sample_indices``, which keeps the speed of one batched draw; NumPy's bounded integers and weighted choices give the
same numbers in a block as one at a time, so every sub-env still runs the tasks of a single env reset with
``seed + i`` (the conformance tests check it). Initial states come from one generator for the whole
batch (as in Gymnasium's native vector envs), so they differ from a ``SyncVectorEnv`` of single envs; the
dynamics, rewards and episode ends are the same step for step, which the conformance tests check by replaying
each sub-env's tasks and initial states.

Every task a sampler gives is validated by the family (as in single envs), and a refused ``reset`` option
(``state`` of the wrong shape, type or magnitude) raises ``ValueError`` and leaves every sub-env as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from mtenvs.core.env import (
    MAX_ACTION,
    TaskEnv,
    check_render_mode,
    check_reset_options,
    choose_task_spec,
    episode_task,
    resolve_task_spec,
)
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Categorical
from mtenvs.core.samplers import TaskSampler, TaskSpec
from mtenvs.core.seeding import task_generator
from mtenvs.core.task import Task, TaskSet

#: Task draws a native vector env makes ahead, per sub-env, for a stateless sampler.
TASK_BLOCK = 64


def parse_autoreset_mode(mode: str | AutoresetMode, allowed: Sequence[AutoresetMode], owner: str) -> AutoresetMode:
    """An `AutoresetMode` from its name or value, or a ``ValueError`` listing the allowed modes."""
    try:
        parsed = mode if isinstance(mode, AutoresetMode) else AutoresetMode(mode)
    except ValueError:
        parsed = None
    if parsed not in allowed:
        raise ValueError(f"{owner}: autoreset_mode={mode!r} is not supported; use one of {[m.value for m in allowed]}")
    return parsed


def check_num_envs(num_envs: Any, owner: str) -> int:
    """``num_envs`` as a positive ``int``, or a ``ValueError``."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ValueError(f"{owner}: num_envs must be a positive integer, got {num_envs!r}")
    return int(num_envs)


def check_max_episode_steps(max_episode_steps: Any, owner: str) -> int | None:
    """``max_episode_steps`` as ``None`` or a positive ``int``, or a ``ValueError``."""
    if max_episode_steps is None:
        return None
    if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1:
        raise ValueError(f"{owner}: max_episode_steps must be a positive integer or None, got {max_episode_steps!r}")
    return int(max_episode_steps)


def per_env_tasks(task: TaskSpec, tasks: TaskSpec, family: TaskFamily, num_envs: int) -> list[Task] | None:
    """The list of per-sub-env tasks when ``tasks`` is a plain list/tuple of tasks, else ``None``.

    Raises:
        ValueError: if both arguments are given, or a plain list does not have one task per sub-env.
    """
    spec = choose_task_spec(task, tasks, family)
    if isinstance(spec, (list, tuple)) and not isinstance(spec, TaskSet):
        if len(spec) != num_envs:
            raise ValueError(
                f"{family.name}: tasks= as a list gives one task per sub-env, so it needs num_envs={num_envs} "
                f"tasks, got {len(spec)}; to draw from a list at every reset pass mtenvs.TaskSet(name, tasks)"
            )
        return [family.validate(t) for t in spec]
    return None


def batch_states(states: Any, num_envs: int, owner: str) -> np.ndarray:
    """``reset(options={"state": ...})`` of a vector env as an array with one row per sub-env, or a ``ValueError``.

    The family's own check (type, shape, finiteness, magnitude) follows on the rows of the reset sub-envs.
    """
    try:
        array = np.asarray(states)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: reset option 'state' must be an array with one row per sub-env") from None
    if array.ndim < 1 or array.shape[0] != num_envs or array.dtype.kind not in "biuf":
        raise ValueError(f"{owner}: reset option 'state' must be a numeric array with one row per sub-env "
                         f"(shape ({num_envs}, ...)), got {type(states).__name__} of shape {array.shape} "
                         f"and dtype {array.dtype}")
    return array


def batch_box_actions(actions: Any, num_envs: int, shape: tuple[int, ...], owner: str) -> np.ndarray:
    """Validate a batch of continuous actions of shape ``(num_envs, *shape)``: real numbers (no strings or complex
    numbers), finite and at most ``MAX_ACTION`` in magnitude, else a ``ValueError`` naming the sub-envs."""
    try:
        raw = np.asarray(actions)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: actions must be numeric with shape {(num_envs, *shape)}") from None
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{owner}: actions must be real numbers with shape {(num_envs, *shape)}, got dtype {raw.dtype}")
    array = raw.astype(np.float64, copy=False)
    if array.shape != (num_envs, *shape):
        if array.size == num_envs * int(np.prod(shape)) and array.ndim == 1:
            array = array.reshape(num_envs, *shape)
        else:
            raise ValueError(f"{owner}: actions must have shape {(num_envs, *shape)}, got {array.shape}")
    flat = array.reshape(num_envs, -1)
    good = np.abs(flat) <= MAX_ACTION  # False for NaN too
    if not good.all():
        bad = np.flatnonzero(~good.all(axis=1))
        raise ValueError(f"{owner}: actions must be finite and at most {MAX_ACTION:g} in magnitude; sub-envs "
                         f"{bad.tolist()} got {flat[bad[0]].tolist()}")
    return array


def batch_discrete_actions(actions: Any, num_envs: int, n: int, owner: str) -> np.ndarray:
    """Validate a batch of discrete actions in ``{0, ..., n-1}``, shape ``(num_envs,)``."""
    array = np.asarray(actions)
    if array.shape != (num_envs,):
        raise ValueError(f"{owner}: actions must have shape ({num_envs},), got {array.shape}")
    if array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise ValueError(f"{owner}: actions must be integers in [0, {n - 1}], got dtype {array.dtype}")
    if array.min() < 0 or array.max() >= n:
        raise ValueError(f"{owner}: actions must be in [0, {n - 1}], got values in [{array.min()}, {array.max()}]")
    return array


class TaskVectorEnv(VectorEnv):
    """Base class of native batched family envs (see the module docstring for the task semantics).

    A subclass sets ``family``, ``single_observation_space``/``single_action_space`` (then calls
    `_batch_spaces`), and implements:

    * `_apply_tasks` ``(idx)``: parameters of sub-envs ``idx`` changed (``self.params`` holds them);
    * `_reset_states` ``(idx, states)``: draw initial states of sub-envs ``idx`` from ``self.np_random``
      (or copy the given ``states``);
    * `_check_actions` ``(actions)`` → validated array;
    * `_step_states` ``(actions)`` → ``(rewards float32 (N,), terminated bool (N,))``, advancing all;
    * `_observe` ``()`` → a new observation array for all sub-envs.
    """

    family: ClassVar[TaskFamily]
    metadata: dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    supported_autoreset_modes: ClassVar[tuple[AutoresetMode, ...]] = (
        AutoresetMode.NEXT_STEP,
        AutoresetMode.SAME_STEP,
        AutoresetMode.DISABLED,
    )

    def __init__(
        self,
        num_envs: int = 1,
        *,
        task: TaskSpec = None,
        tasks: TaskSpec = None,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        owner = self.family.name
        self.num_envs = check_num_envs(num_envs, owner)
        self.max_episode_steps = check_max_episode_steps(max_episode_steps, owner)
        self.autoreset_mode = parse_autoreset_mode(autoreset_mode, self.supported_autoreset_modes, owner)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        check_render_mode(render_mode, self.metadata, owner)
        self.render_mode = render_mode

        n = self.num_envs
        spec = choose_task_spec(task, tasks, self.family)  # warns once if both are given
        fixed = per_env_tasks(spec, None, self.family, n)
        self._fixed_tasks = fixed is not None
        self._sampler: TaskSampler | None = None
        if fixed is not None:
            table: tuple[Task, ...] | None = tuple(fixed)
        else:
            self._sampler = resolve_task_spec(spec, None, self.family)
            table = self._sampler.support
        self._table = table
        self._numeric = [name for name, p in self.family.parameters.items() if not isinstance(p, Categorical)]
        self._others = [name for name in self.family.parameters if name not in self._numeric]
        # Numeric parameters live in one (parameters × sub-envs) matrix so that reassigning tasks is one gather.
        self._param_matrix = np.zeros((len(self._numeric), n), dtype=np.float64)
        #: Current parameter values per sub-env, ``{name: array of shape (num_envs,)}`` (views; do not rebind).
        self.params: dict[str, np.ndarray] = {name: self._param_matrix[row] for row, name in enumerate(self._numeric)}
        self.params.update({name: np.empty(n, dtype=object) for name in self._others})
        # Tasks seen so far; sub-env i runs self._known[self._rows[i]]. The table (if any) comes first.
        self._known: list[Task] = list(table or ())
        self._known_pos: dict[Task, int] = {t: i for i, t in enumerate(self._known)}
        self._known_ids = np.array([t.id for t in self._known], dtype=object)
        self._rows = np.full(n, -1, dtype=np.int64)
        self._fixed_intact = False
        self._ids: np.ndarray | None = None
        self._all_true = np.ones(n, dtype=np.bool_)
        self._all_true.setflags(write=False)
        if table is not None:
            self._table_matrix = np.array([[t[name] for t in table] for name in self._numeric], dtype=np.float64)
            self._table_other = {name: np.array([t[name] for t in table], dtype=object) for name in self._others}
        self._table_pos: dict[Task, int] = {t: i for i, t in enumerate(table or ())}
        self._task_rngs: list[np.random.Generator] | None = None  # one per sub-env
        self._blocks: np.ndarray | None = None  # draws made ahead per sub-env (stateless samplers)
        self._block_pos = np.zeros(0, dtype=np.int64)
        self._option_rng: np.random.Generator | None = None  # draws of reset(options={"task": <set name>})
        self._steps = np.zeros(n, dtype=np.int64)
        self._done = np.zeros(n, dtype=np.bool_)
        self._has_reset = False
        self._assign_tasks(np.arange(n), override=None)

    def _batch_spaces(self) -> None:
        """Set the batched ``observation_space``/``action_space`` from the single-env spaces."""
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    # ------------------------------------------------------------------------------------------- tasks
    @property
    def tasks(self) -> list[Task]:
        """The current task of every sub-env."""
        return [self._known[row] for row in self._rows]

    def _assign_tasks(self, idx: np.ndarray, override: Task | None) -> None:
        if len(idx) == 0:
            return
        if override is not None:
            self._set_each(idx, [override] * len(idx))
            self._fixed_intact = False
        elif self._fixed_tasks:
            if self._fixed_intact:
                return  # every sub-env already runs its own fixed task
            self._set_from_table(idx, idx)
            self._fixed_intact = bool(np.array_equal(self._rows, np.arange(self.num_envs)))
        else:
            assert self._sampler is not None
            # Before the first reset (the constructor's placeholder tasks) one fresh generator serves every sub-env.
            rngs = self._task_rngs if self._task_rngs is not None else [task_generator(None)] * self.num_envs
            sampler, known = self._sampler, self._table_pos
            if self._table is not None and sampler.stateless:
                rows = self._block_rows(idx, rngs)
                if np.array_equal(self._rows[idx], rows):
                    return  # the same tasks again (e.g. a single fixed task)
                self._set_from_table(idx, rows)
                self._ids = None
                self._apply_tasks(idx)
                return
            tasks = [sampler.sample(rngs[i]) for i in idx]
            rows = [known.get(task, -1) if isinstance(task, Task) else -1 for task in tasks]
            if -1 in rows:  # a task outside the validated table: check it like a single env does
                self._set_each(idx, [task if row >= 0 else self._validated(task)
                                     for task, row in zip(tasks, rows, strict=True)])
            else:
                table_rows = np.array(rows, dtype=np.int64)
                if np.array_equal(self._rows[idx], table_rows):
                    return  # the same tasks again (e.g. a single fixed task)
                self._set_from_table(idx, table_rows)
        self._ids = None
        self._apply_tasks(idx)

    def _block_rows(self, idx: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        """The next table row of each sub-env in ``idx``, from blocks of ``TASK_BLOCK`` draws made ahead with each
        sub-env's own generator (for stateless samplers: one NumPy gather per step instead of a call per sub-env)."""
        assert self._sampler is not None
        if self._blocks is None:
            self._blocks = np.zeros(self.num_envs * TASK_BLOCK, dtype=np.int64)  # sub-env i's block at i*TASK_BLOCK
            self._block_pos = np.arange(self.num_envs, dtype=np.int64) * TASK_BLOCK + TASK_BLOCK  # next flat index
        position = self._block_pos[idx]
        ends = (idx + 1) * TASK_BLOCK
        if (position >= ends).any():
            for i in idx[position >= ends]:
                start = int(i) * TASK_BLOCK
                self._blocks[start:start + TASK_BLOCK] = self._sampler.sample_indices(rngs[i], TASK_BLOCK)
                self._block_pos[i] = start
            position = self._block_pos[idx]
        self._block_pos[idx] = position + 1
        return self._blocks[position]

    def _validated(self, task: Any) -> Task:
        """A sampler's draw, validated by the family (``ValueError`` naming the sampler and the field)."""
        try:
            return self.family.validate(task)
        except ValueError as error:
            raise ValueError(f"task sampler {type(self._sampler).__name__} gave an invalid task: {error}") from None

    def _set_from_table(self, idx: np.ndarray, rows: np.ndarray) -> None:
        self._rows[idx] = rows
        self._param_matrix[:, idx] = self._table_matrix[:, rows]
        for name, values in self._table_other.items():
            self.params[name][idx] = values[rows]

    def _set_each(self, idx: np.ndarray, tasks: list[Task]) -> None:
        for i, task in zip(idx, tasks, strict=True):
            self._rows[i] = self._remember(task)
            self._param_matrix[:, i] = [task[name] for name in self._numeric]
            for name in self._others:
                self.params[name][i] = task[name]

    def _remember(self, task: Task) -> int:
        """Row of ``task`` among the known tasks (added if new; tasks no sub-env runs are forgotten now and then)."""
        row = self._known_pos.get(task)
        if row is not None:
            return row
        keep = len(self._table or ())
        if len(self._known) >= keep + 4 * self.num_envs:
            live = sorted({int(r) for r in self._rows if r >= keep})
            renumber = {old: keep + new for new, old in enumerate(live)}
            self._known = self._known[:keep] + [self._known[r] for r in live]
            self._rows = np.array([renumber.get(int(r), int(r)) for r in self._rows], dtype=np.int64)
            self._known_pos = {t: i for i, t in enumerate(self._known)}
        self._known.append(task)
        self._known_pos[task] = len(self._known) - 1
        self._known_ids = np.array([t.id for t in self._known], dtype=object)
        return len(self._known) - 1

    def _infos(self) -> dict[str, Any]:
        # The id array is rebuilt only when some sub-env's task changed; it is read-only, so sharing it
        # between steps is safe.
        if self._ids is None:
            self._ids = self._known_ids[self._rows]
            self._ids.setflags(write=False)
        return {"task_id": self._ids, "_task_id": self._all_true}

    # ------------------------------------------------------------------------------------------- reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-envs, or those in ``options["reset_mask"]``.

        Options: ``task`` (one task for every reset sub-env, this episode only), ``state`` (initial states,
        shape ``(num_envs, *state_shape)``), ``reset_mask`` (bool array of shape ``(num_envs,)``).
        """
        owner = self.family.name
        options = check_reset_options(options, ("task", "state", "reset_mask"), owner)
        if "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(f"{owner}: reset_mask must be a bool array of shape ({self.num_envs},) with a True entry")
            idx = np.flatnonzero(mask)
        else:
            idx = np.arange(self.num_envs)
        given = options.get("task")
        if given is not None and not isinstance(given, str):
            given = self.family.validate(given)
        elif given is not None:
            self.family.task_set(given)  # an unknown set name raises here
        if options.get("state") is not None:
            batch_states(options["state"], self.num_envs, owner)
        super().reset(seed=seed)
        if seed is not None or self._task_rngs is None:
            base = seed if seed is not None else self.np_random_seed
            base = base if base is not None and base >= 0 else None
            self._task_rngs = [task_generator(None if base is None else base + i) for i in range(self.num_envs)]
            self._blocks = None
            self._option_rng = task_generator(base)
            if self._sampler is not None:
                self._sampler.restart()
        override = episode_task(given, self.family, self._option_rng) if given is not None else None
        states = options.get("state")
        if states is None:
            self._assign_tasks(idx, override)
            self._reset_states(idx, None)
        else:
            rows = batch_states(states, self.num_envs, owner)[idx]
            saved = self._task_snapshot()
            self._assign_tasks(idx, override)
            try:
                self._reset_states(idx, rows)
            except ValueError:
                self._restore_tasks(saved, idx)  # a refused state leaves every sub-env as it was
                raise
        self._steps[idx] = 0
        self._done[idx] = False
        self._has_reset = True
        return self._observe(), self._infos()

    def _task_snapshot(self) -> tuple[Any, ...]:
        return (self._rows.copy(), self._param_matrix.copy(), {k: self.params[k].copy() for k in self._others},
                self._fixed_intact, list(self._known), dict(self._known_pos), self._known_ids)

    def _restore_tasks(self, saved: tuple[Any, ...], idx: np.ndarray) -> None:
        rows, matrix, others, intact, known, known_pos, known_ids = saved
        self._rows[:] = rows
        self._param_matrix[:] = matrix
        for name, values in others.items():
            self.params[name][:] = values
        self._fixed_intact, self._known, self._known_pos, self._known_ids = intact, known, known_pos, known_ids
        self._ids = None
        self._apply_tasks(idx)

    # -------------------------------------------------------------------------------------------- step
    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance every sub-env one step; finished sub-envs are reset according to the autoreset mode."""
        if not self._has_reset:
            raise ResetNeeded(f"{self.family.name}: call reset() before step()")
        mode = self.autoreset_mode
        if mode is AutoresetMode.DISABLED and self._done.any():
            raise ResetNeeded(
                f"{self.family.name}: sub-envs {np.flatnonzero(self._done).tolist()} finished; reset them with "
                "reset(options={'reset_mask': mask}) before stepping (autoreset_mode='Disabled')"
            )
        checked = self._check_actions(actions)
        rewards, terminated = self._step_states(checked)
        self._steps += 1
        if self.max_episode_steps is not None:
            truncated = self._steps >= self.max_episode_steps
        else:
            truncated = np.zeros(self.num_envs, dtype=np.bool_)

        if mode is AutoresetMode.NEXT_STEP:
            previous = self._done
            if previous.any():
                idx = np.flatnonzero(previous)
                self._assign_tasks(idx, None)
                self._reset_states(idx, None)
                self._steps[idx] = 0
                rewards[idx] = 0.0
                terminated[idx] = False
                truncated[idx] = False
            self._done = terminated | truncated
            return self._observe(), rewards, terminated, truncated, self._infos()

        done = terminated | truncated
        if mode is AutoresetMode.DISABLED or not done.any():
            self._done = done
            return self._observe(), rewards, terminated, truncated, self._infos()

        # SAME_STEP: report the final observation and info, then reset the finished sub-envs now.
        idx = np.flatnonzero(done)
        final_obs_batch = self._observe()
        final_info = {key: value for key, value in self._infos().items() if not key.startswith("_")}
        self._assign_tasks(idx, None)
        self._reset_states(idx, None)
        self._steps[idx] = 0
        self._done = np.zeros(self.num_envs, dtype=np.bool_)
        infos = self._infos()
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i in idx:
            final_obs[i] = final_obs_batch[i]
        for key in list(final_info):
            final_info[f"_{key}"] = done.copy()
        infos = dict(infos)
        infos.update({"final_obs": final_obs, "_final_obs": done.copy(), "final_info": final_info, "_final_info": done.copy()})
        return self._observe(), rewards, terminated, truncated, infos

    # ------------------------------------------------------------------------------------ family hooks
    def _apply_tasks(self, idx: np.ndarray) -> None:
        """Parameters of sub-envs ``idx`` changed in ``self.params``; update derived quantities."""

    def _reset_states(self, idx: np.ndarray, states: np.ndarray | None) -> None:
        raise NotImplementedError

    def _check_actions(self, actions: Any) -> np.ndarray:
        raise NotImplementedError

    def _step_states(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _observe(self) -> np.ndarray:
        raise NotImplementedError


class SyncTaskVectorEnv(SyncVectorEnv):
    """Gymnasium's ``SyncVectorEnv`` over single family envs, with the task semantics of `TaskVectorEnv`.

    A family without a native batched env registers a two-line subclass as its ``vector_entry_point``::

        class GridWorldVectorEnv(SyncTaskVectorEnv):
            env_class = GridWorldEnv

    Extra keyword arguments go to every single env. Sub-env ``i`` is seeded with ``seed + i``.
    """

    env_class: ClassVar[type[TaskEnv]]

    def __init__(
        self,
        num_envs: int = 1,
        *,
        task: TaskSpec = None,
        tasks: TaskSpec = None,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        family = self.env_class.family
        n = check_num_envs(num_envs, family.name)
        steps = check_max_episode_steps(max_episode_steps, family.name)
        mode = parse_autoreset_mode(autoreset_mode, tuple(AutoresetMode), family.name)
        spec = choose_task_spec(task, tasks, family)  # warns once if both are given
        fixed = per_env_tasks(spec, None, family, n)
        shared = None if fixed is not None else resolve_task_spec(spec, None, family)

        def make(i: int) -> Any:
            def build() -> gym.Env:
                spec: Any = fixed[i] if fixed is not None else shared
                env: gym.Env = self.env_class(task=spec, render_mode=render_mode, **env_kwargs)
                return gym.wrappers.TimeLimit(env, steps) if steps is not None else env
            return build

        super().__init__([make(i) for i in range(n)], autoreset_mode=mode)
        self.max_episode_steps = steps
        self.render_mode = render_mode

    @property
    def tasks(self) -> list[Task]:
        """The current task of every sub-env."""
        return [env.unwrapped.task for env in self.envs]  # type: ignore[attr-defined]


def vector_env_for(env_class: type[TaskEnv], name: str | None = None) -> type[SyncTaskVectorEnv]:
    """A `SyncTaskVectorEnv` subclass for ``env_class`` (for families without a native vector env)."""
    return type(name or f"{env_class.__name__}SyncVector", (SyncTaskVectorEnv,), {"env_class": env_class,
                                                                               "__module__": env_class.__module__})

