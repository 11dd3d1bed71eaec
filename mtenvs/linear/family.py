"""What every linear-MDP family shares: size parameters, a cached task → model map, and the exact optimum.

A task of a linear family is JSON data (the generator's sizes and seeds); :meth:`LinearFamily.model` builds its
:class:`~mtenvs.linear.model.LinearMDP` deterministically from it (and caches it), so V*, Q* and V^π of any task are
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
    """A real parameter that no drawn task set moves outside its training region (see :class:`Setting`)."""

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


class LinearFamily(TaskFamily):
    """A family of finite linear MDPs: each task names one :class:`LinearMDP`, built by :meth:`build_model`.

    Subclasses implement :meth:`build_model` and may add cross-parameter checks in :meth:`check_task`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._models: dict[Task, LinearMDP] = {}

    def task(self, overrides: Task | Mapping[str, Any] | None = None, /, **params: Any) -> Task:
        """A validated task (see :meth:`TaskFamily.task`), also checked by :meth:`check_task`."""
        task = super().task(overrides, **params)
        self.check_task(task)
        return task

    def check_task(self, task: Task) -> None:
        """Raise ``ValueError`` for parameter values that are valid one by one but not together."""

    @abstractmethod
    def build_model(self, task: Task) -> LinearMDP:
        """The linear MDP of a validated task (deterministic in the task's parameters)."""

    def model(self, task: Task | Mapping[str, Any]) -> LinearMDP:
        """The :class:`LinearMDP` of ``task`` (a Task or dict of overrides), built once and cached."""
        task = self.validate(task)
        key = Task(task.family, task.params)  # the name is a label only
        model = self._models.get(key)
        if model is None:
            model = self.build_model(key)
            if len(self._models) >= CACHE_SIZE:
                self._models.pop(next(iter(self._models)))
            self._models[key] = model
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
