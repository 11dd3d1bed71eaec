"""The setting of "Scalable Lifelong Reinforcement Learning" (paper 002) for its five control domains.

One object per domain, `PAPER_002`, holds the environment id, its settings and the episode length, and
gives what a learner needs: batched environments over a list of tasks, the state/action sizes, the
discrete-time linear model (exact for the linear families, the upright linearization for the nonlinear ones)
and the quadratic cost. Every domain uses the quadratic cost ``-(x' Q x + u' R u)`` with ``Q = I`` and ``R = I``
on the physical input, 150 steps of 0.05 s, no termination, and a uniform start box around the goal state 0::

    from mtenvs.control.paper002 import PAPER_002, make_paper002_vec
    setting = PAPER_002["Helicopter"]                 # or PAPER_002["HC"]
    tasks = setting.tasks("train")                    # Table 1 draws (50 tasks)
    venv = make_paper002_vec("Helicopter", tasks, seed=0)
    a_d, b_d = setting.linear_model(tasks[0])         # x' = a_d x + b_d a, a = environment action
    q, r = setting.cost_matrices(tasks[0])            # reward = -(x' q x + a' r a)
    setting.optimal_value(tasks[0])                   # exact LQR optimum (linear domains)

The paper prints the reward as ``-||x - x_goal|| - ||u||``; ``setting.make_vec(tasks, reward="norm")`` runs that
literal form, which has no closed-form optimum. The quadratic form is the default here because it makes the
LQR optimum, and so regret, exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from mtenvs.control import cartpole, double_pendulum
from mtenvs.control.linear_env import LinearFamily
from mtenvs.control.linear_system import zero_order_hold
from mtenvs.core import registry
from mtenvs.core.family import NoExactOptimum, TaskFamily
from mtenvs.core.names import unknown_name
from mtenvs.core.task import Task, TaskSet

#: Steps per episode in every domain (7.5 s at 0.05 s per step).
EPISODE_STEPS = 150
#: Seconds per environment step.
DT = 0.05


def _cartpole_linear(task: Task) -> tuple[np.ndarray, np.ndarray]:
    a, b = cartpole.linearization(task)
    return a, b * task["force_limit"]  # per unit action


def _pendulum_linear(task: Task) -> tuple[np.ndarray, np.ndarray]:
    a, b = double_pendulum.linearization(task)
    return a, b * double_pendulum.DEFAULT_SETTINGS["action_scale"]


@dataclass(frozen=True)
class PaperSetting:
    """One domain of paper 002: the environment id, its settings, and the references a learner needs.

    Attributes:
        name: the family name (``"SimpleMass"``, ...); ``abbreviation``: the paper's (``"SM"``, ...).
        env_id: the registered id; ``kwargs``: its settings for the paper's setting.
        state_dim, action_dim: sizes of observations and actions.
        exact: whether `linear_model` is the exact dynamics (linear families) or a linearization.
    """

    name: str
    abbreviation: str
    env_id: str
    kwargs: Mapping[str, Any]
    state_dim: int
    action_dim: int
    exact: bool
    _continuous_linearization: Callable[[Task], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)
    max_episode_steps: int = EPISODE_STEPS

    @property
    def family(self) -> TaskFamily:
        """The task family."""
        return registry.family(self.name)

    def tasks(self, split: str = "train") -> TaskSet:
        """A named task set of the family (``"train"`` = 50 draws from Table 1's ranges)."""
        return self.family.task_set(split)

    def make(self, task: Any = None, **overrides: Any) -> gym.Env:
        """One environment in the paper's setting (``overrides`` change settings, e.g. ``reward="norm"``)."""
        return gym.make(self.env_id, task=task, max_episode_steps=self.max_episode_steps, **{**self.kwargs, **overrides})

    def make_vec(self, tasks: Sequence[Task | Mapping[str, Any]], seed: int | None = None, **overrides: Any) -> VectorEnv:
        """A native batched environment with one sub-env per task (sub-env ``i`` always runs ``tasks[i]``).

        With ``seed``, the environment is reset once with it, so the episodes that follow (``reset()`` without a
        seed, or autoresets) are reproducible.
        """
        venv = gym.make_vec(self.env_id, num_envs=len(tasks), tasks=list(tasks), max_episode_steps=self.max_episode_steps,
                            **{**self.kwargs, **overrides})
        if seed is not None:
            venv.reset(seed=seed)
        return venv

    def linear_model(self, task: Task | Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Discrete-time ``(A_d, B_d)`` for the environment action: ``x_{t+1} ≈ A_d x_t + B_d a_t``.

        Exact (up to action clipping) for the linear families; for cart-pole and the double inverted pendulum
        it is the zero-order-hold discretization of the linearization about the upright rest state.
        """
        family = self.family
        if isinstance(family, LinearFamily):
            return family.discrete_system(task, **self.kwargs)
        assert self._continuous_linearization is not None
        return zero_order_hold(*self._continuous_linearization(family.validate(task)), DT)

    def cost_matrices(self, task: Task | Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(Q, R)`` with reward ``-(x' Q x + a' R a)`` in environment units (``R`` includes the action scale).

        ``task`` matters only for cart-pole, whose action scale is the task's ``force_limit``.
        """
        if self.name == "CartPole":
            limit = self.family.validate(task if task is not None else {})["force_limit"]
            return np.eye(4), np.array([[limit**2]])
        if self.name == "DoubleInvertedPendulum":
            return double_pendulum.make_config(**self.kwargs)[0].cost_matrices()
        family = self.family
        assert isinstance(family, LinearFamily)
        return family.config(**self.kwargs).cost_matrices()

    def optimal_value(self, task: Task | Mapping[str, Any]) -> float:
        """The exact optimal expected episode return (finite-horizon LQR); ``NoExactOptimum`` for nonlinear domains."""
        family = self.family
        if not isinstance(family, LinearFamily):
            raise NoExactOptimum(f"{self.name} is nonlinear; it has a linearization but no exact optimum")
        return family.optimal_value(task, max_episode_steps=self.max_episode_steps, **self.kwargs)


_SETTINGS = [
    PaperSetting("SimpleMass", "SM", "mtenvs/SimpleMass-v0", MappingProxyType({}), 2, 1, True),
    PaperSetting("DoubleMass", "DM", "mtenvs/DoubleMass-v0", MappingProxyType({}), 4, 1, True),
    PaperSetting("CartPole", "CP", "mtenvs/CartPole-v0", MappingProxyType({
        "reward": "quadratic", "integrator": "rk4", "dt": DT, "substeps": 5, "terminate_on_fall": False,
        "initial_state_bounds": cartpole.QUADRATIC_START}), 4, 1, False, _cartpole_linear),
    PaperSetting("DoubleInvertedPendulum", "DIP", "mtenvs/DoubleInvertedPendulum-v0", MappingProxyType({}), 6, 1, False,
                 _pendulum_linear),
    PaperSetting("Helicopter", "HC", "mtenvs/Helicopter-v0", MappingProxyType({}), 4, 2, True),
]
#: The five domains by family name and by the paper's abbreviation (SM, DM, CP, DIP, HC).
PAPER_002: Mapping[str, PaperSetting] = MappingProxyType(
    {s.name: s for s in _SETTINGS} | {s.abbreviation: s for s in _SETTINGS})
#: Family names in the paper's order.
DOMAINS = tuple(s.name for s in _SETTINGS)


def paper002_setting(name: str) -> PaperSetting:
    """The `PaperSetting` of a domain by family name or abbreviation (``ValueError`` naming the choices)."""
    if name not in PAPER_002:
        raise ValueError(unknown_name("paper-002 domain", name, list(PAPER_002)))
    return PAPER_002[name]


def make_paper002_vec(family_name: str, tasks: Sequence[Task | Mapping[str, Any]], seed: int | None = None,
                      **overrides: Any) -> VectorEnv:
    """A batched environment in paper 002's setting with one sub-env per task (see `PaperSetting.make_vec`)."""
    return paper002_setting(family_name).make_vec(tasks, seed=seed, **overrides)
