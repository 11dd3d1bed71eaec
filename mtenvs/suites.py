"""The built-in benchmark suites, one per group of families (``mtenvs benchmark SUITE --agent module:attribute``).

Scores are normalized per task against a uniformly random policy (0) and the family's exact optimum (1) where it has
one (LQR for the linear control systems, dynamic programming for linear MDPs, the closed form for entity
allocation), else against a documented reference policy (LQR on the linearization, FedAvg, equal-weight constant
rebalancing), which a learner can beat (scores above 1). See :mod:`mtenvs.benchmarking` for the protocol.
"""

from __future__ import annotations

from mtenvs.benchmarking import Suite, SuiteEntry, register_suite

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
