"""``ModelFamily``: a task family whose every task has a known finite model, hence exact values and optima."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mtenvs.core.family import TaskFamily, TaskSetBuilder
from mtenvs.core.parameters import ParameterSpace
from mtenvs.core.task import Task
from mtenvs.gridworld.tabular import TabularMDP

ModelBuilder = Callable[[Task, float], TabularMDP]

#: Environment settings that do not change the dynamics (accepted and ignored by ``optimal_value``).
_NEUTRAL_SETTINGS = frozenset({"render_mode"})


class ModelFamily(TaskFamily):
    """A `TaskFamily` with model access: ``family.model(task, gamma)`` is the task's `TabularMDP`.

    Its reference policy ``"optimal"`` (`optimal_policy`) acts optimally on every task.

    Args:
        name: as for `TaskFamily`.
        parameters: as for `TaskFamily`.
        description: as for `TaskFamily`.
        set_sizes: as for `TaskFamily`.
        task_sets: as for `TaskFamily`.
        model_builder: ``(task, gamma) -> TabularMDP`` for a validated task.
        horizon: the registered episode length (``max_episode_steps``) of the family's environment.
        gamma: the discount factor the family's papers use, the default of `model`.
    """

    def __init__(self, name: str, parameters: ParameterSpace, *, model_builder: ModelBuilder, horizon: int,
                 gamma: float, description: str = "", set_sizes: Mapping[str, int] | None = None,
                 task_sets: Mapping[str, TaskSetBuilder] | None = None) -> None:
        super().__init__(name, parameters, description=description, set_sizes=set_sizes, task_sets=task_sets)
        self._model_builder = model_builder
        self.horizon = horizon
        self.gamma = gamma
        self.reference_policies["optimal"] = self.optimal_policy

    def model(self, task: Task | Mapping[str, Any], gamma: float | None = None) -> TabularMDP:
        """The known model of ``task`` (validated first) with discount ``gamma`` (default: the family's)."""
        return self._model_builder(self.validate(task), self.gamma if gamma is None else gamma)

    def optimal_value(self, task: Task | Mapping[str, Any], *, gamma: float | None = None,
                      max_episode_steps: int | None = None, **env_kwargs: Any) -> float:
        """The optimal expected return from the task's start distribution, by dynamic programming.

        Without ``gamma`` it is the undiscounted return of an episode truncated after ``max_episode_steps`` steps
        (default: the registered limit), i.e. exactly what the environment reports as an episode's return; with
        ``gamma`` it is the discounted value ``V*(rho)`` of the paper, over ``max_episode_steps`` steps if given and
        over an infinite horizon (value iteration) otherwise.

        Raises:
            ValueError: an environment setting that this family's environments do not have.
        """
        unknown = set(env_kwargs) - _NEUTRAL_SETTINGS
        if unknown:
            raise ValueError(f"{self.name}: optimal_value got unknown environment setting(s) {sorted(unknown)}")
        if gamma is None:
            return self.model(task, 1.0).optimal_value(max_episode_steps or self.horizon)
        return self.model(task, gamma).optimal_value(max_episode_steps)

    def optimal_policy(self, tasks: Sequence[Task | Mapping[str, Any]],
                       gamma: float | None = None) -> Callable[[Any], np.ndarray]:
        """A batched policy whose row ``i`` plays a deterministic optimal action of ``tasks[i]`` (greedy with respect
        to the discounted optimal values, value iteration with ``gamma``, default the family's)."""
        models = [self.model(task, gamma) for task in tasks]
        table = np.stack([m.greedy_policy(m.optimal_values()).argmax(axis=1) for m in models])
        rows = np.arange(len(models))

        def act(observations: Any) -> np.ndarray:
            return table[rows, np.asarray(observations, dtype=np.int64)]

        return act
