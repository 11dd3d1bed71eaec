"""The built-in benchmark suites, one per group of families (``mtenvs benchmark SUITE --agent module:attribute``).

Scores are normalized per task against a uniformly random policy (0) and the family's exact optimum (1) where it has
one (LQR for the linear control systems, dynamic programming for linear MDPs, the closed form for entity
allocation), else against a documented reference policy (LQR on the linearization, FedAvg, equal-weight constant
rebalancing), which a learner can beat (scores above 1). See `mtenvs.benchmarking` for the protocol.

This module also holds what a suite is (`Suite`, `SuiteEntry`) and the suite registry; `mtenvs.benchmarking` runs
and scores them. Installed packages add suites through the ``mtenvs.suites`` entry-point group (see
`mtenvs.plugins`); the built-in ones below need no installed metadata: they are registered when this module loads.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mtenvs import plugins
from mtenvs.core.names import unknown_name

__all__ = ["Suite", "SuiteEntry", "get_suite", "register_suite", "suites"]


@dataclass(frozen=True)
class SuiteEntry:
    """One family setting of a suite.

    Args:
        env_id: the environment id.
        train: the task set to train on.
        evaluate: the task sets to evaluate on.
        budget: training environment steps at full size.
        episodes: evaluation episodes per task.
        eval_tasks: evaluate on the first ``eval_tasks`` tasks of each set (``None``: all).
        n_envs: parallel training environments.
        env_kwargs: environment settings.
        reference: name of the family's reference policy used as the score anchor when there is no exact optimum
            (for the whole family, or for the tasks whose ``optimal_value`` raises ``NoExactOptimum``).
    """

    env_id: str
    train: str = "train"
    evaluate: tuple[str, ...] = ("test", "ood")
    budget: int = 100_000
    episodes: int = 5
    eval_tasks: int | None = None
    n_envs: int = 8
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    reference: str | None = None


@dataclass(frozen=True)
class Suite:
    """A named, versioned benchmark: entries, seeds, and the quick-size scale used by tests and demos."""

    name: str
    version: int
    description: str
    entries: tuple[SuiteEntry, ...]
    seeds: int = 3
    quick: Mapping[str, Any] = field(default_factory=lambda: {"budget_scale": 0.2, "seeds": 1, "eval_tasks": 10,
                                                               "episodes": 2})

    @property
    def id(self) -> str:
        """``name-vN``."""
        return f"{self.name}-v{self.version}"


_SUITES: dict[str, Suite] = {}
#: Suite entry points already loaded (or tried), by ``(name, value)``.
_LOADED: set[tuple[str, str]] = set()


def register_suite(suite: Suite) -> Suite:
    """Make ``suite`` available to ``mtenvs benchmark`` under ``suite.id`` (and its bare name, newest version)."""
    _SUITES[suite.id] = suite
    newest = _SUITES.get(suite.name)
    if newest is None or newest.version <= suite.version:
        _SUITES[suite.name] = suite
    return suite


def _load_installed() -> None:
    """Load the ``mtenvs.suites`` entry points of installed packages not loaded yet (a `Suite` object is
    registered; a module registers its own); one that fails is skipped with a warning naming it."""
    for entry_point in plugins.entry_points(plugins.SUITES_GROUP):
        key = (entry_point.name, entry_point.value)
        if key in _LOADED:
            continue
        _LOADED.add(key)
        ok, loaded = plugins.load(entry_point, plugins.SUITES_GROUP)
        if not ok:
            continue
        if isinstance(loaded, Suite):
            register_suite(loaded)
        elif not isinstance(loaded, types.ModuleType):
            plugins.warn(f"{plugins.SUITES_GROUP} entry point {plugins.describe(entry_point)} is a "
                         f"{type(loaded).__name__}; it must be a Suite or a module that registers suites")


def suites() -> dict[str, Suite]:
    """Registered suites by id (``name-vN``): the built-in ones and those of installed packages."""
    _load_installed()
    return {key: s for key, s in _SUITES.items() if key == s.id}


def get_suite(name: str) -> Suite:
    """The suite ``name`` or ``name-vN`` (``ValueError`` with close matches if unknown)."""
    if name not in _SUITES:
        _load_installed()
    if name not in _SUITES:
        raise ValueError(unknown_name("benchmark suite", name, suites()))
    return _SUITES[name]


# --------------------------------------------------------------------------------------------- built-in suites
CARTPOLE_GENERALIZATION = register_suite(Suite(
    "cartpole-generalization", 0,
    "Train on the 50 training cart-pole tasks (paper 002's Table 1 ranges), evaluate on 50 unseen test tasks and "
    "50 out-of-distribution tasks; scores are relative to a random policy (0) and each task's LQR controller (1).",
    (SuiteEntry("mtenvs/CartPole-v0", budget=100_000, reference="lqr"),),
))


CONTROL = register_suite(Suite(
    "control", 0,
    "The control domains of paper 002 (quadratic cost, 150-step episodes): train on 50 tasks from Table 1's "
    "ranges, evaluate on unseen and out-of-distribution tasks. Simple mass, double mass and helicopter are scored "
    "against their exact finite-horizon LQR optimum (the LQR policy itself on the few "
    "out-of-distribution helicopters whose optimal input would be clipped); the double inverted "
    "pendulum against LQR on its linearization.",
    (
        SuiteEntry("mtenvs/SimpleMass-v0", budget=100_000),
        SuiteEntry("mtenvs/DoubleMass-v0", budget=100_000),
        SuiteEntry("mtenvs/DoubleInvertedPendulum-v0", budget=200_000, reference="lqr"),
        SuiteEntry("mtenvs/Helicopter-v0", budget=200_000, reference="lqr"),  # where clipping binds
    ),
))

LINEAR_MDP = register_suite(Suite(
    "linear-mdp", 0,
    "Finite-horizon linear MDPs with hidden task identity (papers 000 and 001): one policy trained across random "
    "instances, scored against each instance's exact optimum by dynamic programming.",
    (
        SuiteEntry("mtenvs/LinearMDP-v0", budget=50_000),
        SuiteEntry("mtenvs/LinearContextual-v0", budget=50_000),
    ),
))

ALLOCATION = register_suite(Suite(
    "allocation", 0,
    "Resource allocation over sets of entities (paper 004): entity allocation against its closed-form optimum, "
    "portfolios on a synthetic market against equal-weight constant rebalancing (unseen asset selections, held-out "
    "period), federated aggregation on digits against FedAvg (unseen client mixes).",
    (
        SuiteEntry("mtenvs/EntityAllocation-v0", budget=50_000),
        SuiteEntry("mtenvs/Portfolio-v0", budget=100_000, evaluate=("test", "ood"), reference="equal_crp",
                   eval_tasks=10, episodes=2),
        SuiteEntry("mtenvs/FedAggregation-v0", budget=20_000, reference="fedavg", eval_tasks=5, episodes=1, n_envs=4),
    ),
))

GRIDWORLD = register_suite(Suite(
    "gridworld", 0,
    "10×10 GridWorlds with random goal and obstacle layouts (paper 003): train on 50 random layouts with corner "
    "starts, evaluate on unseen layouts and on out-of-distribution ones (the paper's named layouts, more obstacles, "
    "uniform starts), scored against each layout's exact optimum by value iteration.",
    (SuiteEntry("mtenvs/GridWorld-v0", budget=100_000),),
))

CROSS_FAMILY = register_suite(Suite(
    "cross-family", 0,
    "One entry per kind of task family, for a quick all-round score: cart-pole (LQR reference), simple mass and "
    "GridWorld (exact optima), linear MDPs with hidden identity (exact DP) and entity allocation (closed form).",
    (
        SuiteEntry("mtenvs/CartPole-v0", budget=50_000, reference="lqr"),
        SuiteEntry("mtenvs/SimpleMass-v0", budget=50_000),
        SuiteEntry("mtenvs/GridWorld-v0", budget=50_000),
        SuiteEntry("mtenvs/LinearMDP-v0", budget=30_000),
        SuiteEntry("mtenvs/EntityAllocation-v0", budget=30_000),
    ),
))
