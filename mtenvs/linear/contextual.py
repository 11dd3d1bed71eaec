"""Linear contextual MDPs for DistMT-LSVI (paper 000): M tasks, one known φ, optimal values separated by c_Sep.

Task m of an instance is a latent-simplex linear MDP (``mtenvs.linear.generator``) with the instance's feature map
φ and its own μ_{m,h}, η_{m,h} (Assumption 1). Assumption 2, |V*_{m,1}(s_0) − V*_{m',1}(s_0)| > c_Sep for m ≠ m', is
enforced by the following offset rule (ours: paper 000 gives no instance) and then verified on the exact optima:

1. draw η_{m,h} ∈ [0, 1 − w]^d with w = (M − 1)·g / H and g = 1.05·c_Sep, and compute the base optima V_m by DP;
2. in increasing order of V_m, raise each task's rewards by a constant c_m ≥ 0 (the same for every h and every
   coordinate of η), so that its optimum lies at least g above the previous one. Because φ sums to 1, adding c_m
   to η shifts every reward by c_m and V*_{m,1}(s_0) by exactly H·c_m, and c_m ≤ w keeps rewards in [0, 1];
3. recompute every V* by DP and raise ``ValueError`` if some pair is not more than c_Sep apart.

Feasibility needs (M − 1)·g < H (V* lies in [0, H]); tasks violating it are rejected with a ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mtenvs.core.parameters import ParameterSpace
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.linear.env import LinearMDPEnv
from mtenvs.linear.family import (
    INSTANCE,
    SIZE_PARAMETERS,
    ContinuousSetting,
    LinearFamily,
    Setting,
    sizes,
    trim_cache,
)
from mtenvs.linear.generator import linear_mdp, rng_for, simplex_features, simplex_measures
from mtenvs.linear.model import LinearMDP

#: The separation actually built is this factor times c_Sep, so that the strict inequality holds with room.
GAP_FACTOR = 1.05
MAX_TASKS = 50

PARAMETERS = ParameterSpace([
    *SIZE_PARAMETERS,
    Setting("num_tasks", 5, bounds=(1, MAX_TASKS), description="number of tasks M of the contextual MDP"),
    ContinuousSetting("c_sep", 0.25, bounds=(1e-3, 10.0), description="separation c_Sep of the tasks' optimal values"),
    INSTANCE,
    Setting("task_index", 0, bounds=(0, MAX_TASKS - 1), train=(0, 4), description="which task m of the M"),
])


class LinearContextualFamily(LinearFamily):
    """Paper 000's contextual MDP: task ``task_index`` out of ``num_tasks`` separated tasks of an instance.

    The named task set ``"contextual"`` holds the M tasks of instance 0 with the default sizes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instances: dict[Task, tuple[LinearMDP, ...]] = {}

    def check_task(self, task: Task) -> None:
        """``task_index < num_tasks``, a feasible separation ``(M − 1)·1.05·c_Sep < H``, and the memory budget for
        all M models of the instance (see `LinearFamily.check_task`)."""
        super().check_task(task)
        if task["task_index"] >= task["num_tasks"]:
            raise ValueError(f"{self.name} task: task_index = {task['task_index']} must be below "
                             f"num_tasks = {task['num_tasks']}")
        span = (task["num_tasks"] - 1) * GAP_FACTOR * task["c_sep"]
        if span >= task["horizon"]:
            raise ValueError(f"{self.name} task: c_sep = {task['c_sep']:g} is too large for num_tasks = "
                             f"{task['num_tasks']} and horizon = {task['horizon']}: optimal values lie in [0, H], so "
                             f"(num_tasks - 1) * {GAP_FACTOR} * c_sep must be below H")

    def models_per_task(self, task: Task) -> int:
        """All ``num_tasks`` models of the instance are built (and kept) together."""
        return int(task["num_tasks"])

    def build_model(self, task: Task) -> LinearMDP:
        return self.task_models(task)[task["task_index"]]

    def task_models(self, task: Task) -> tuple[LinearMDP, ...]:
        """The M separated models of the instance ``task`` belongs to, in task-index order."""
        task = self.validate(task)
        key = {k: v for k, v in task.params.items() if k != "task_index"}
        cached = self._instances.get(Task(self.name, key))
        if cached is None:
            cached = separated_models(task)
            self._instances[Task(self.name, key)] = cached
            trim_cache(self._instances, lambda models: sum(m.transitions.nbytes for m in models))
        return cached

    def tasks_of(self, task: Task) -> list[Task]:
        """All M tasks of the instance ``task`` belongs to, in task-index order."""
        task = self.validate(task)
        return [self.task(task, task_index=m) for m in range(task["num_tasks"])]


def separated_models(task: Task) -> tuple[LinearMDP, ...]:
    """Build and verify the M tasks of ``task``'s instance (see the module docstring)."""
    n_states, n_actions, dim, horizon = sizes(task)
    num_tasks, c_sep, instance = task["num_tasks"], task["c_sep"], task["instance"]
    tag = ("contextual", n_states, n_actions, dim, horizon, num_tasks, instance)
    features = simplex_features(rng_for(*tag, "features"), n_states, n_actions, dim)
    gap = GAP_FACTOR * c_sep
    room = (num_tasks - 1) * gap / horizon               # the largest offset c_m step 2 can need
    mus, etas = [], []
    for m in range(num_tasks):
        rng = rng_for(*tag, "task", m)
        mus.append(simplex_measures(rng, horizon, dim, n_states))
        etas.append(rng.uniform(0.0, 1.0 - room, size=(horizon, dim)))
    base = [linear_mdp(features, mu, eta).optimal_value() for mu, eta in zip(mus, etas, strict=True)]
    offsets = np.zeros(num_tasks)
    previous = -np.inf
    for m in np.argsort(base, kind="stable"):
        target = max(base[m], previous + gap)
        offsets[m] = (target - base[m]) / horizon           # V* shifts by H·c_m
        previous = target
    models = tuple(linear_mdp(features, mu, eta + offsets[m]) for m, (mu, eta) in enumerate(zip(mus, etas, strict=True)))
    values = np.array([model.optimal_value() for model in models])
    separation = min_separation(values)
    if separation <= c_sep:
        raise ValueError(f"LinearContextual: the optimal values {values.round(4).tolist()} are only {separation:.4g} "
                         f"apart, not more than c_sep = {c_sep:g}")
    return models


def min_separation(values: np.ndarray) -> float:
    """min_{m ≠ m'} |values[m] − values[m']| (``inf`` for fewer than two values)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(np.min(np.diff(ordered))) if ordered.size > 1 else float("inf")


def _contextual_set(family: LinearContextualFamily) -> list[Task]:
    return [Task(family.name, task.params, name=f"task-{task['task_index']}") for task in
            family.tasks_of(family.default_task())]


FAMILY = LinearContextualFamily(
    "LinearContextual",
    PARAMETERS,
    description="M latent-simplex linear MDPs sharing a known feature map, with optimal values separated by c_Sep "
                "(the contextual MDP of DistMT-LSVI, paper 000).",
    set_sizes={"train": 20, "test": 10, "ood": 10},
    task_sets={"contextual": _contextual_set},
)


class LinearContextualEnv(LinearMDPEnv):
    """``mtenvs/LinearContextual-v0``: one task of paper 000's contextual MDP; the task index is never observed.

    See `LinearMDPEnv` for the spaces and ``info["features"]``; ``tasks="contextual"``
    draws one of the M tasks of instance 0 at every reset.
    """

    family = FAMILY


LinearContextualVectorEnv = vector_env_for(LinearContextualEnv, "LinearContextualVectorEnv")
