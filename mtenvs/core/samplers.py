"""Task samplers: which task an environment runs at each reset.

A sampler is asked for a task at every reset and is given the environment's task generator, so one
``reset(seed=s)`` reproduces the whole task stream. Samplers with a finite ``support`` can also draw
indices in bulk, which native vector envs use to reassign many sub-envs in one NumPy call.

The `TaskSampler` base class is the hook that curricula plug into: override `TaskSampler.sample`
and, to learn from outcomes, `TaskSampler.update`, which the `TaskSchedule`
wrapper calls at the end of every episode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mtenvs.core.task import Task, TaskSet

if TYPE_CHECKING:
    from mtenvs.core.family import TaskFamily


class TaskSampler:
    """Base class: choose a task at each reset. Subclass and override `sample` (and optionally
    `update` and `restart`)."""

    #: The finite set of tasks this sampler draws from, or ``None`` when it is unbounded.
    support: tuple[Task, ...] | None = None
    #: Whether draws depend on the generator only (no state between draws), so that ``sample_indices(rng, k)`` may
    #: stand for ``k`` draws made ahead of time: native vector envs then draw each sub-env's tasks in blocks. A
    #: subclass that keeps state between draws, or whose ``sample`` and ``sample_indices`` differ, sets it to ``False``.
    stateless: bool = False

    def sample(self, rng: np.random.Generator) -> Task:
        """The task for the next episode."""
        raise NotImplementedError

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws as indices into `support` (only for samplers with a finite support)."""
        if self.support is None:
            raise TypeError(f"{type(self).__name__} has no finite support")
        index = {task: i for i, task in enumerate(self.support)}
        return np.fromiter((index[self.sample(rng)] for _ in range(n)), dtype=np.int64, count=n)

    def restart(self) -> None:
        """Forget internal position (round-robin counters etc.); called when the environment is re-seeded."""

    def update(self, task: Task, episode_return: float, episode_length: int) -> None:
        """Feedback at the end of an episode run on ``task``. The default ignores it."""

    def bind(self, family: TaskFamily) -> TaskSampler:
        """Validate the sampler's tasks against ``family``; returns the sampler."""
        return self


class FixedTask(TaskSampler):
    """Always the same task."""

    stateless = True

    def __init__(self, task: Task) -> None:
        self.task = task
        self.support = (task,)

    def sample(self, rng: np.random.Generator) -> Task:
        return self.task

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.int64)

    def bind(self, family: TaskFamily) -> TaskSampler:
        self.task = family.validate(self.task)
        self.support = (self.task,)
        return self

    def __repr__(self) -> str:
        return f"FixedTask({self.task!r})"


class _FiniteSampler(TaskSampler):
    def __init__(self, tasks: Sequence[Task]) -> None:
        if len(tasks) == 0:
            raise ValueError(f"{type(self).__name__} needs at least one task")
        self.support = tuple(tasks)
        self.name = tasks.name if isinstance(tasks, TaskSet) else None

    def bind(self, family: TaskFamily) -> TaskSampler:
        self.support = tuple(family.validate(t) for t in self.support)
        return self


class UniformTasks(_FiniteSampler):
    """A task drawn uniformly at random from a finite set at every reset."""

    stateless = True

    def sample(self, rng: np.random.Generator) -> Task:
        return self.support[int(rng.integers(len(self.support)))]

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(len(self.support), size=n)

    def __repr__(self) -> str:
        return f"UniformTasks({self.name or len(self.support)})"


class WeightedTasks(_FiniteSampler):
    """A task drawn from a finite set with fixed, non-negative weights (normalized internally)."""

    stateless = True

    def __init__(self, tasks: Sequence[Task], weights: Sequence[float]) -> None:
        super().__init__(tasks)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(self.support),):
            raise ValueError(f"weights must have one entry per task ({len(self.support)}), got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
        self.probabilities = w / w.sum()

    def sample(self, rng: np.random.Generator) -> Task:
        return self.support[int(rng.choice(len(self.support), p=self.probabilities))]

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.support), size=n, p=self.probabilities)


class RoundRobin(_FiniteSampler):
    """The tasks of a finite set in order, cycling; restarts from the first task when re-seeded."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        super().__init__(tasks)
        self._position = 0

    def sample(self, rng: np.random.Generator) -> Task:
        task = self.support[self._position % len(self.support)]
        self._position += 1
        return task

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        indices = (self._position + np.arange(n)) % len(self.support)
        self._position += n
        return indices

    def restart(self) -> None:
        self._position = 0


class EveryKEpisodes(TaskSampler):
    """Keep a task for ``k`` consecutive episodes, then ask ``inner`` for the next one."""

    def __init__(self, inner: TaskSampler, k: int) -> None:
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.inner = inner
        self.k = k
        self.support = inner.support
        self._current: Task | None = None
        self._count = 0

    def sample(self, rng: np.random.Generator) -> Task:
        if self._current is None or self._count >= self.k:
            self._current = self.inner.sample(rng)
            self._count = 0
        self._count += 1
        return self._current

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return TaskSampler.sample_indices(self, rng, n)

    def restart(self) -> None:
        self.inner.restart()
        self._current = None
        self._count = 0

    def update(self, task: Task, episode_return: float, episode_length: int) -> None:
        self.inner.update(task, episode_return, episode_length)

    def bind(self, family: TaskFamily) -> TaskSampler:
        self.inner.bind(family)
        self.support = self.inner.support
        return self


class FamilyDistribution(TaskSampler):
    """A fresh task from the family's training region (or from outside it: ``region="ood"``) at every reset."""

    def __init__(self, family: TaskFamily, region: str = "train") -> None:
        if region not in ("train", "ood"):
            raise ValueError(f"region must be 'train' or 'ood', got {region!r}")
        self.family = family
        self.region = region

    def sample(self, rng: np.random.Generator) -> Task:
        return self.family.sample_task(rng, self.region)  # type: ignore[arg-type]


class FunctionSampler(TaskSampler):
    """Adapt a plain function ``fn(rng) -> Task | dict`` into a sampler."""

    def __init__(self, fn: Callable[[np.random.Generator], Task | Mapping[str, Any]]) -> None:
        self.fn = fn
        self._family: TaskFamily | None = None

    def sample(self, rng: np.random.Generator) -> Task:
        task = self.fn(rng)
        return self._family.validate(task) if self._family is not None else task  # type: ignore[return-value]

    def bind(self, family: TaskFamily) -> TaskSampler:
        self._family = family
        return self


TaskSpec = Task | Mapping[str, Any] | str | Sequence[Task] | TaskSampler | Callable[..., Any] | None


def as_sampler(spec: TaskSpec, family: TaskFamily) -> TaskSampler:
    """Turn any accepted ``task=``/``tasks=`` argument into a sampler bound to ``family``.

    Every task a sampler gives an environment passes ``family.validate`` (a custom sampler's ``support`` here,
    each of its draws at reset), so a sampler cannot bypass the checks of ``task=``.

    ``None`` → the default task; a `Task` or a dict of overrides → that fixed task; a string → the
    named task set, sampled uniformly; a sequence of tasks → sampled uniformly; a `TaskSampler` → as is;
    a callable ``fn(rng)`` → `FunctionSampler`.
    """
    if spec is None:
        return FixedTask(family.default_task())
    if isinstance(spec, TaskSampler):
        sampler = spec.bind(family)
        if sampler.support is not None:  # a custom sampler's support is checked here; its draws at every reset
            sampler.support = tuple(family.validate(task) for task in sampler.support)
        return sampler
    if isinstance(spec, (Task, Mapping)):
        return FixedTask(family.validate(spec))
    if isinstance(spec, str):
        return UniformTasks(family.task_set(spec))
    if isinstance(spec, Sequence):
        return UniformTasks(spec).bind(family)
    if callable(spec):
        return FunctionSampler(spec).bind(family)
    raise ValueError(
        f"{family.name}: tasks must be a Task, a dict, a task-set name, a list of tasks or a TaskSampler; "
        f"got {type(spec).__name__}"
    )
