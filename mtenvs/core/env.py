"""``TaskEnv``: the base class of every family environment.

It implements the task half of the contract, so that a family only writes its dynamics:

* ``task=`` / ``tasks=`` at construction: a fixed `Task`, a dict of overrides (missing keys take the
  defaults), a task-set name or a list of tasks (a new task drawn at every reset), or any
  `TaskSampler`;
* ``reset(options={"task": ...})`` runs one episode on the given task; ``options={"state": ...}`` starts it
  from a given state where the family supports it;
* ``info["task"]`` (the `Task`) and ``info["task_id"]`` on every reset and step;
* ``reset(seed=s)`` seeds two independent streams: ``env.np_random`` (initial states, noise) and a task
  stream, so the tasks drawn never depend on how many random numbers the dynamics used;
* one validation path: every task, however it enters (arguments, reset options, each draw of a sampler), passes
  ``family.validate``; Box actions and start states are checked by `numeric_array` (real numbers only, finite,
  bounded in magnitude); a refused input raises ``ValueError`` naming the field and leaves the episode as it was.

A subclass sets ``family``, the spaces and ``metadata``, and implements `_apply_task`,
`_reset_state` and ``step``. In ``step`` it returns ``self._info()`` as the info dict.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from mtenvs.core.family import TaskFamily
from mtenvs.core.samplers import TaskSampler, TaskSpec, UniformTasks, as_sampler
from mtenvs.core.seeding import task_generator
from mtenvs.core.task import Task

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")

#: Reset option keys every family env accepts.
BASE_RESET_OPTIONS = frozenset({"task", "state"})


def choose_task_spec(task: TaskSpec, tasks: TaskSpec, family: TaskFamily) -> TaskSpec:
    """The one given of a ``task=``/``tasks=`` pair of constructor arguments.

    When both are given, ``task=`` wins, with a warning: that is what a user means who adds ``task={...}`` to a saved
    configuration holding ``tasks="train"`` (rl_zoo3's ``--env-kwargs`` merges both into one set of keyword
    arguments). To silence the warning, pass ``tasks=None`` with it.
    """
    if task is not None and tasks is not None:
        warnings.warn(f"{family.name}: both task= and tasks= were given; task= overrides tasks={_describe(tasks)} "
                      "(pass tasks=None to silence this warning)", UserWarning, stacklevel=3)
        return task
    return task if task is not None else tasks


def _describe(spec: Any) -> str:
    return repr(spec) if isinstance(spec, str) else f"<{type(spec).__name__}>"


def built_by_make_vec() -> bool:
    """Whether the caller is being built by Gymnasium's ``make_vec`` for a ``"sync"`` or ``"async"`` vector env (its
    ``create_single_env``), which builds every sub-env with the same arguments and cannot tell one its index."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "create_single_env" and frame.f_globals.get("__name__") == "gymnasium.envs.registration":
            return True
        frame = frame.f_back
    return False


def check_not_per_env_list(spec: TaskSpec, family: TaskFamily) -> None:
    """Refuse a plain list of tasks in a sub-env built by ``gym.make_vec(..., vectorization_mode="sync"/"async")``.

    ``tasks=[t0, ..., t_{N-1}]`` means "sub-env ``i`` runs ``t_i``" for every vector env; Gymnasium's sync and async
    modes build each sub-env with the same arguments, so they cannot honour it and a sub-env would sample from the
    list instead.
    """
    from mtenvs.core.task import TaskSet

    if isinstance(spec, (list, tuple)) and not isinstance(spec, TaskSet) and built_by_make_vec():
        raise ValueError(
            f"{family.name}: tasks=[list] gives sub-env i the task i, which gym.make_vec(..., "
            "vectorization_mode='sync' or 'async') cannot do (it builds every sub-env with the same arguments); use "
            "the default vectorization mode (the id's own vector env, which pins task i to sub-env i), or pass "
            "mtenvs.TaskSet(name, tasks) to have every sub-env draw from the list at each reset")


def resolve_task_spec(task: TaskSpec, tasks: TaskSpec, family: TaskFamily) -> TaskSampler:
    """The sampler for a ``task=``/``tasks=`` pair of constructor arguments (at most one may be given)."""
    return as_sampler(choose_task_spec(task, tasks, family), family)


def episode_task(spec: Any, family: TaskFamily, rng: np.random.Generator) -> Task:
    """The task named by ``options["task"]``: a Task, a dict of overrides, or a task-set name (one draw)."""
    if isinstance(spec, str):
        return UniformTasks(family.task_set(spec)).sample(rng)
    return family.validate(spec)


def sampled_task(sampler: TaskSampler, family: TaskFamily, rng: np.random.Generator) -> Task:
    """The sampler's next task, validated by ``family`` (a custom sampler may return a dict or a bad task).

    Raises:
        ValueError: naming the sampler and the field the task fails on.
    """
    task = sampler.sample(rng)
    try:
        return family.validate(task)
    except ValueError as error:
        raise ValueError(f"task sampler {type(sampler).__name__} gave an invalid task: {error}") from None


def check_reset_options(options: Any, allowed: Any, owner: str) -> dict[str, Any]:
    """``options`` as a new dict, or a ``ValueError`` for something that is not a dict or has unknown keys."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"{owner}: reset options must be a dict, got {type(options).__name__}")
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"{owner}: unknown reset option(s) {sorted(map(str, unknown))}; allowed: {sorted(allowed)}")
    return dict(options)


def check_render_mode(render_mode: str | None, metadata: Mapping[str, Any], owner: str) -> None:
    """Raise ``ValueError`` if ``render_mode`` is not one the environment lists in its metadata."""
    modes = metadata.get("render_modes", [])
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"{owner}: render_mode={render_mode!r} is not supported; supported modes: {modes}")


#: The largest magnitude accepted in an action entry: beyond it, the squares and sums that rewards and allocations
#: compute leave the float range (entries inside the action space are far below it).
MAX_ACTION = 1e150


def numeric_array(value: Any, shape: tuple[int, ...], owner: str, what: str, limit: float | None = None) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (a flat array of the right size is reshaped), or a ``ValueError``.

    Refused, with a message naming ``what``: strings, complex numbers and other non-real values (numpy would
    coerce ``"0.5"``), the wrong shape, NaN or inf, and entries beyond ``limit`` in magnitude.
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {what} must be real numbers with shape {shape}, got {value!r:.80}") from None
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{owner}: {what} must be real numbers with shape {shape}, got {type(value).__name__} of dtype "
                         f"{raw.dtype} ({value!r:.80})")
    array = raw.astype(np.float64, copy=False)
    if array.shape != shape:
        if array.size == math.prod(shape) and array.ndim <= 1:
            array = array.reshape(shape)
        else:
            raise ValueError(f"{owner}: {what} must have shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{owner}: {what} must be finite, got {array.tolist()}")
    if limit is not None and np.any(np.abs(array) > limit):
        raise ValueError(f"{owner}: {what} entries must lie in [-{limit:g}, {limit:g}], got {array.tolist()}")
    return array


def box_action(action: Any, shape: tuple[int, ...], owner: str) -> np.ndarray:
    """Validate a continuous action: real numbers (no strings or complex numbers) of ``shape``, every entry finite
    and at most `MAX_ACTION` in magnitude.

    Raises:
        ValueError: naming the expected shape, or reporting the bad entries.
    """
    return numeric_array(action, shape, owner, "action", MAX_ACTION)


def discrete_action(action: Any, n: int, owner: str) -> int:
    """Validate a discrete action in ``{0, ..., n-1}`` and return it as ``int``."""
    if isinstance(action, np.ndarray):
        if action.size != 1:
            raise ValueError(f"{owner}: action must be a single integer in [0, {n - 1}], got shape {action.shape}")
        action = action.reshape(()).item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        if isinstance(action, float) and action.is_integer():
            action = int(action)
        else:
            raise ValueError(f"{owner}: action must be an integer in [0, {n - 1}], got {action!r}")
    value = int(action)
    if not 0 <= value < n:
        raise ValueError(f"{owner}: action must be in [0, {n - 1}], got {value}")
    return value


class TaskEnv(gym.Env[ObsType, ActType], Generic[ObsType, ActType]):
    """Base class of family environments; see the module docstring for the contract it implements.

    Args:
        task: a fixed task (``Task`` or dict of overrides), or a task-set name / list / sampler.
        tasks: the same, for readability when several tasks are meant (``tasks="train"``). When both are given,
            ``task=`` wins with a warning (see `choose_task_spec`). A plain list is refused inside
            ``gym.make_vec(..., vectorization_mode="sync"/"async")``, where it cannot mean one task per sub-env.
        render_mode: one of ``metadata["render_modes"]`` or ``None``.
    """

    family: ClassVar[TaskFamily]
    #: Reset option keys accepted beyond ``task`` and ``state``.
    extra_reset_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, render_mode: str | None = None) -> None:
        check_render_mode(render_mode, self.metadata, self.family.name)
        self.render_mode = render_mode
        check_not_per_env_list(tasks if tasks is not None else task, self.family)
        self._sampler = resolve_task_spec(task, tasks, self.family)
        self._task_rng: np.random.Generator | None = None
        support = self._sampler.support
        self._set_task(support[0] if support else self.family.default_task())

    # ------------------------------------------------------------------------------------------- tasks
    @property
    def task(self) -> Task:
        """The task of the current episode."""
        return self._task

    @property
    def task_sampler(self) -> TaskSampler:
        """The sampler that picks the task at each reset."""
        return self._sampler

    @task_sampler.setter
    def task_sampler(self, sampler: TaskSampler) -> None:
        self._sampler = as_sampler(sampler, self.family)

    def change_task(self, task: Task | Mapping[str, Any]) -> Task:
        """Switch to ``task`` now, keeping the current state (for non-stationary tasks). Returns the task."""
        validated = self.family.validate(task)
        self._set_task(validated)
        return validated

    def _set_task(self, task: Task) -> None:
        self._task = task
        self._task_id = task.id
        self._apply_task(task)

    def _info(self) -> dict[str, Any]:
        """The info dict every reset and step returns (a new dict each call)."""
        return {"task": self._task, "task_id": self._task_id}

    # ------------------------------------------------------------------------------------------- reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsType, dict[str, Any]]:
        """Start an episode: choose the task (``options["task"]`` or the sampler), then the initial state.

        A refused option raises ``ValueError`` and leaves the episode in progress as it was (its task and state), so
        stepping continues. Unknown keys and a bad ``task`` are refused before anything changes, the generators
        included; a bad ``state`` is refused after the seed and the next task were drawn.
        """
        options = check_reset_options(options, BASE_RESET_OPTIONS | self.extra_reset_options, self.family.name)
        given = options.get("task")
        if given is not None and not isinstance(given, str):
            given = self.family.validate(given)
        elif given is not None:
            self.family.task_set(given)  # an unknown set name raises here
        super().reset(seed=seed)
        if seed is not None or self._task_rng is None:
            base = seed if seed is not None else self.np_random_seed
            self._task_rng = task_generator(base if base is not None and base >= 0 else None)
            self._sampler.restart()
        if given is not None:
            task = episode_task(given, self.family, self._task_rng)
        else:
            task = sampled_task(self._sampler, self.family, self._task_rng)
        previous = self._task
        self._set_task(task)
        try:
            observation = self._reset_state(options)
        except ValueError:
            self._set_task(previous)  # a refused reset option leaves the environment as it was
            raise
        return observation, self._info()

    # ------------------------------------------------------------------------------------ family hooks
    def _apply_task(self, task: Task) -> None:
        """Load the parameters of ``task`` into the dynamics (called at every reset and task change)."""
        raise NotImplementedError

    def _reset_state(self, options: dict[str, Any]) -> ObsType:
        """Draw the initial state from ``self.np_random`` (or take ``options["state"]``); return the observation."""
        raise NotImplementedError

    def _require_reset(self) -> None:
        raise ResetNeeded(f"{self.family.name}: call reset() before step()")
