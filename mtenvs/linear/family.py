"""What every linear-MDP family shares: size parameters, a cached task → model map, and the exact optimum.

A task of a linear family is JSON data (the generator's sizes and seeds); `LinearFamily.model` builds its
`LinearMDP` deterministically from it (and caches it), so V*, Q* and V^π of any task are
exact and the same in every process.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, Integer, Parameter
from mtenvs.core.task import Task
from mtenvs.linear.model import LinearMDP

#: Tasks whose models are kept in memory per family.
CACHE_SIZE = 512
#: Memory budget, in bytes, of building one task: a task whose tables would need more (see
#: `LinearFamily.memory_estimate`) is refused with a ``ValueError`` before anything is allocated. Raise it (the
#: module attribute is read at every check) to build larger tasks on purpose.
MEMORY_BUDGET = 512 * 2**20
#: Bytes of models a family keeps in its cache; the oldest are dropped beyond it (they are rebuilt when needed), so
#: running through a large task set never holds more than this.
CACHE_BUDGET = 1024 * 2**20
#: Transition-table copies (8·H·S·A·S bytes each) alive at the peak of building and using a task: two per model (the
#: model's table and the generator's product it is copied from, or the model's cumulative sums, which every
#: environment on the model shares) plus this many temporaries of the checks. (Measured with ``tracemalloc``: 126 MiB
#: at the peak for a LinearMDP task with S = 100, A = 16, H = 20, whose estimate is 124 MiB.)
PEAK_TEMPORARIES = 3


@dataclass(frozen=True)
class Setting(Integer):
    """An integer parameter that no drawn task set moves outside its training region (it has no ``ood`` values).

    Used for sizes and seeds whose other values give a different problem rather than a harder one; any value
    inside the bounds can still be set by hand.
    """

    def _ood_values(self) -> list[int]:
        return []


@dataclass(frozen=True)
class ContinuousSetting(Continuous):
    """A real parameter that no drawn task set moves outside its training region (see `Setting`)."""

    def _ood_intervals(self) -> list[tuple[float, float]]:
        return []


#: Sizes of the latent-simplex generator, shared by every linear family. They are held at their defaults in drawn
#: task sets; an environment's spaces follow the sizes of the task it is built with.
SIZE_PARAMETERS: tuple[Parameter, ...] = (
    Setting("n_states", 10, bounds=(2, 200), description="number of states |S|"),
    Setting("n_actions", 4, bounds=(2, 32), description="number of actions |A|"),
    Setting("dim", 5, bounds=(1, 64), description="feature dimension d of φ(s, a)"),
    Setting("horizon", 5, bounds=(1, 100), description="episode length H"),
)

#: The generator seed: ``train``/``test`` draw instances 0-999, ``ood`` draws unseen instances 1000-9999.
INSTANCE = Integer("instance", 0, bounds=(0, 9999), train=(0, 999),
                   description="seed of the random linear MDP (features, dynamics, rewards)")

SIZE_NAMES = ("n_states", "n_actions", "dim", "horizon")


def sizes(task: Task | Mapping[str, Any]) -> tuple[int, int, int, int]:
    """``(n_states, n_actions, dim, horizon)`` of a task."""
    return tuple(int(task[name]) for name in SIZE_NAMES)  # type: ignore[return-value]


def trim_cache(cache: dict[Any, Any], size: Any) -> None:
    """Drop the oldest entries of ``cache`` until it holds at most ``CACHE_SIZE`` entries and ``CACHE_BUDGET`` bytes
    (``size(value)`` gives an entry's bytes); the newest entry always stays."""
    total = sum(size(value) for value in cache.values())
    while len(cache) > 1 and (len(cache) > CACHE_SIZE or total > CACHE_BUDGET):
        total -= size(cache.pop(next(iter(cache))))


class LinearFamily(TaskFamily):
    """A family of finite linear MDPs: each task names one `LinearMDP`, built by `build_model`.

    Subclasses implement `build_model` and may add cross-parameter checks in `check_task`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._models: dict[Task, LinearMDP] = {}

    def task(self, overrides: Task | Mapping[str, Any] | None = None, /, **params: Any) -> Task:
        """A validated task (see `TaskFamily.task`), also checked by `check_task`."""
        task = super().task(overrides, **params)
        self.check_task(task)
        return task

    def check_task(self, task: Task) -> None:
        """Raise ``ValueError`` for parameter values that are valid one by one but not together.

        The base check refuses tasks whose tables exceed `MEMORY_BUDGET` (see `memory_estimate`); subclasses that
        add checks call it.
        """
        estimate = self.memory_estimate(task)
        if estimate > MEMORY_BUDGET:
            n_states, n_actions, _, horizon = sizes(task)
            models = self.models_per_task(task)
            count = f" x {models} models" if models > 1 else ""
            raise ValueError(
                f"{self.name} task: n_states = {n_states}, n_actions = {n_actions}, horizon = {horizon}{count} need "
                f"about {estimate / 2**20:,.0f} MiB of tables (8·horizon·n_states²·n_actions bytes per copy), above "
                f"the budget of {MEMORY_BUDGET / 2**20:,.0f} MiB "
                f"(mtenvs.linear.family.MEMORY_BUDGET); choose smaller sizes or raise the budget")

    def models_per_task(self, task: Task) -> int:
        """How many models of this size building ``task`` holds at once (1; more for instance-wide families)."""
        return 1

    def memory_estimate(self, task: Task | Mapping[str, Any]) -> int:
        """Bytes the tables of ``task`` need at their peak: ``2 · models_per_task + PEAK_TEMPORARIES`` transition
        tables of 8·H·S²·A bytes (the other tables are smaller by a factor S; two rows are added for them)."""
        n_states, n_actions, _, horizon = sizes(task)
        per_copy = 8 * horizon * n_states * n_actions * (n_states + 2)
        return per_copy * (2 * self.models_per_task(task) + PEAK_TEMPORARIES)  # type: ignore[arg-type]

    @abstractmethod
    def build_model(self, task: Task) -> LinearMDP:
        """The linear MDP of a validated task (deterministic in the task's parameters)."""

    def model(self, task: Task | Mapping[str, Any]) -> LinearMDP:
        """The `LinearMDP` of ``task`` (a Task or dict of overrides), built once and cached."""
        task = self.validate(task)
        key = Task(task.family, task.params)  # the name is a label only
        model = self._models.get(key)
        if model is None:
            model = self.build_model(key)
            self._models[key] = model
            trim_cache(self._models, lambda m: m.transitions.nbytes)
        return model

    def feature_map(self, task: Task | Mapping[str, Any]) -> np.ndarray:
        """φ of ``task`` for every state and action, shape ``(S, A, d)`` (read-only)."""
        return self.model(task).features

    def optimal_value(self, task: Task | Mapping[str, Any], max_episode_steps: int | None = None,
                      **env_kwargs: Any) -> float:
        """V*_1(s_0) by backward induction; with a time limit shorter than H, the optimum of the first steps."""
        if env_kwargs:
            raise ValueError(f"{self.name}: unknown environment settings {sorted(env_kwargs)}")
        model = self.model(task)
        if max_episode_steps is None or max_episode_steps >= model.horizon:
            return model.optimal_value()
        steps = int(max_episode_steps)
        truncated = LinearMDP(model.features, model.transitions[:steps], model.rewards[:steps], model.start_state)
        return truncated.optimal_value()
