"""``TaskFamily``: a declared parameter space plus seeded sampling, named task sets and exact references."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mtenvs.core.names import unknown_name
from mtenvs.core.parameters import ParameterSpace, Region
from mtenvs.core.seeding import stable_seed
from mtenvs.core.task import Task, TaskSet

#: Sizes of the standard task sets every family has.
DEFAULT_SET_SIZES: Mapping[str, int] = {"train": 50, "test": 50, "ood": 50}

TaskSetBuilder = Callable[["TaskFamily"], Sequence[Task]]


class NoExactOptimum(NotImplementedError):
    """Raised by `TaskFamily.optimal_value` for families (or settings) without an exact optimum."""


class TaskFamily:
    """A family of related tasks: the parameter space, how tasks are drawn, and named task sets.

    Every family has three standard task sets, fixed for all users (their seeds derive from the family name):

    * ``train``: draws from the training region of every parameter;
    * ``test``: further draws from the same region, none equal to a ``train`` task;
    * ``ood``: tasks with at least one parameter outside its training region (but inside its bounds).

    Families add named sets of their own through ``task_sets`` (e.g. the layouts of a paper's figure).

    Args:
        name: the family name used in ids (``mtenvs/<name>-v0``).
        parameters: the declared parameter space.
        description: one paragraph for documentation.
        set_sizes: sizes of the standard sets (default 50 each).
        task_sets: extra named sets, each built lazily by a function of the family.

    Attributes:
        reference_policies: documented reference controllers by name, each a function ``(tasks, **kwargs)`` that
            returns a batched policy whose row ``i`` acts on ``tasks[i]`` (benchmark suites score against them
            when a family has no exact optimum).
    """

    def __init__(
        self,
        name: str,
        parameters: ParameterSpace,
        *,
        description: str = "",
        set_sizes: Mapping[str, int] | None = None,
        task_sets: Mapping[str, TaskSetBuilder] | None = None,
    ) -> None:
        self.name = name
        self.parameters = parameters
        self.description = description
        self.set_sizes = {**DEFAULT_SET_SIZES, **(set_sizes or {})}
        self._extra_sets = dict(task_sets or {})
        self._set_cache: dict[str, TaskSet] = {}
        self._default = Task(name, parameters.defaults(), name="default")
        self.reference_policies: dict[str, Callable[..., Any]] = {}
        self._valid: set[Task] = set()  # tasks already validated (tasks are immutable, so the result cannot change)

    def __repr__(self) -> str:
        return f"TaskFamily({self.name!r}, parameters={list(self.parameters)})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_valid"] = set()  # a cache: copies start without it
        return state

    # ----------------------------------------------------------------------------------------------- tasks
    def default_task(self) -> Task:
        """The family's nominal task (every parameter at its default)."""
        return self._default

    def task(self, overrides: Task | Mapping[str, Any] | None = None, /, **params: Any) -> Task:
        """A validated task: the defaults, updated by ``overrides`` and keyword parameters.

        Raises:
            ValueError: for an unknown parameter, a value of the wrong type, NaN/inf, or a value out of bounds;
                the message names the parameter, the value and the bounds.
        """
        name = None
        if isinstance(overrides, Task):
            if overrides.family != self.name:
                raise ValueError(f"{self.name}: field 'family' of the task is {overrides.family!r}, expected "
                                 f"{self.name!r} (a task of another family)")
            name = overrides.name
            overrides = dict(overrides.params)
        values = self.parameters.validate({**(overrides or {}), **params}, owner=f"{self.name} task")
        return Task(self.name, values, name=name)

    def validate(self, task: Task | Mapping[str, Any]) -> Task:
        """Check a task (or a dict of overrides) and return it as a complete, canonical `Task`.

        This is the one gate every task passes, however it enters (``task=``/``tasks=``, reset options, task
        samplers, task sets, JSON, vector envs). A `Task` already validated is returned as is, at the cost of a
        set lookup.

        Raises:
            ValueError: naming the field: an unknown parameter, a value of the wrong type, NaN, inf or beyond the
                float range, a value out of bounds, a cross-parameter constraint, a task of another family, or
                something that is neither a `Task` nor a dict.
        """
        if isinstance(task, Task):
            if task in self._valid and task.family == self.name:
                return task
            validated = self.task(task)
            if validated == task:
                if len(self._valid) >= 65536:
                    self._valid.clear()
                self._valid.add(validated)
            return validated
        if isinstance(task, Mapping):
            return self.task(task)
        raise ValueError(f"{self.name}: a task must be a Task or a dict of parameters, got {type(task).__name__}")

    def sample_task(self, rng: np.random.Generator, region: Region = "train") -> Task:
        """One task drawn with ``rng`` from the training region (``"train"``) or outside it (``"ood"``)."""
        return Task(self.name, self.parameters.sample(rng, region))

    def sample(self, n: int, seed: int | None = None, split: str = "train") -> list[Task]:
        """``n`` tasks drawn with a generator seeded by ``seed``.

        ``split`` is ``"train"`` or ``"test"`` (both the training region) or ``"ood"``.
        """
        if split not in ("train", "test", "ood"):
            raise ValueError(f"split must be 'train', 'test' or 'ood', got {split!r}")
        rng = np.random.default_rng(seed)
        region: Region = "ood" if split == "ood" else "train"
        return [self.sample_task(rng, region) for _ in range(int(n))]

    # ------------------------------------------------------------------------------------------- task sets
    def task_set_names(self) -> list[str]:
        """Names accepted by `task_set`."""
        return ["train", "test", "ood", *(name for name in self._extra_sets if name not in ("train", "test", "ood"))]

    def task_set(self, name: str) -> TaskSet:
        """The named task set (built once, then cached). Raises ``ValueError`` naming close matches."""
        if name not in self._set_cache:
            self._set_cache[name] = self._build_set(name)
        return self._set_cache[name]

    def _build_set(self, name: str) -> TaskSet:
        if name in self._extra_sets:
            tasks = [self.task(t) for t in self._extra_sets[name](self)]
            return TaskSet(name, tasks)
        if name not in ("train", "test", "ood"):
            raise ValueError(f"{self.name}: {unknown_name('task set', name, self.task_set_names())}")
        size = self.set_sizes[name]
        rng = np.random.default_rng(stable_seed("task-set", self.name, name))
        region: Region = "ood" if name == "ood" else "train"
        exclude = set(self.task_set("train")) if name == "test" else set()
        tasks: list[Task] = []
        seen: set[Task] = set()
        attempts = 0
        while len(tasks) < size and attempts < 100 * size:
            attempts += 1
            task = self.sample_task(rng, region)
            if task in exclude or task in seen:
                continue
            seen.add(task)
            tasks.append(Task(self.name, task.params, name=f"{name}-{len(tasks)}"))
        if not tasks:
            raise ValueError(f"{self.name}: could not draw any task for set {name!r}")
        return TaskSet(name, tasks)

    # ------------------------------------------------------------------------------------------ references
    @property
    def has_optimum(self) -> bool:
        """Whether `optimal_value` is exact for this family."""
        return type(self).optimal_value is not TaskFamily.optimal_value

    def optimal_value(self, task: Task | Mapping[str, Any], **env_kwargs: Any) -> float:
        """The exact optimal expected return of ``task`` under the environment settings ``env_kwargs``.

        Raises:
            NoExactOptimum: the family has no exact optimum (the default).
        """
        raise NoExactOptimum(f"{self.name} has no exact optimal value")

    def features(self, task: Task) -> np.ndarray:
        """Normalized parameter features of a task, in [-1, 1] (float32)."""
        return self.parameters.features(task.params)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: parameters, task sets and whether an exact optimum exists."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters.describe(),
            "task_sets": {name: (len(self.task_set(name))) for name in self.task_set_names()},
            "exact_optimum": self.has_optimum,
        }
