"""DistMT-LSVI (paper 000): task identification, ε-optimality by the exact oracle, Group, theory, communication."""

from __future__ import annotations

import numpy as np
import pytest

import mtenvs
from agents.lsvi.core import EpisodeSampler
from agents.lsvi.distmt import DistMTLSVI, DistMTServer, exploration_phase, planning
from agents.lsvi.theory import distmt_beta, distmt_episodes, distmt_per_agent_bound, distmt_rounds

C_SEP = 0.9


@pytest.fixture(scope="module")
def tasks() -> list:
    family = mtenvs.family("LinearContextual")
    return [family.model(t) for t in family.tasks_of(family.task(num_tasks=4, c_sep=C_SEP))]


@pytest.fixture(scope="module")
def trained(tasks: list) -> DistMTLSVI:
    algo = DistMTLSVI(tasks, n_agents=3, c_sep=C_SEP, episodes_phase1=120, episodes_phase2=300, beta1=0.5, beta2=0.5,
                      epsilon=0.2, seed=0)
    return algo.learn(12)


def test_identifies_every_task_and_returns_epsilon_optimal_policies(trained: DistMTLSVI, tasks: list) -> None:
    assert trained.identification_correct()
    assert trained.server.n_labels == len(tasks)                         # every task drawn in 12 rounds of 3 agents
    assert sorted(trained.server.origin) == list(range(len(tasks)))
    for agent in range(trained.n_agents):
        values = trained.policy_values(agent)                             # exact V^π by DP, (labels, M)
        for label, task in enumerate(trained.server.origin):
            assert values[label, task] >= tasks[task].optimal_value() - trained.epsilon
    assert trained.covered_tasks() == list(range(len(tasks)))


def test_phase_one_estimates_agree_within_a_task_and_separate_tasks(trained: DistMTLSVI, tasks: list) -> None:
    """What identification needs: same-task estimates within c_Sep/2, other tasks' further apart,
    every estimate within c_Sep of its V* (at a practical β_1 they need not be optimistic as Lemma 1 assumes; the
    c_Sep/2 test only uses their consistency within a task)."""
    groups = [np.array(g) for g in trained.server.values]
    for label, task in enumerate(trained.server.origin):
        assert np.ptp(groups[label]) <= C_SEP / 2
        assert np.abs(groups[label] - tasks[task].optimal_value()).max() < C_SEP
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            assert np.abs(groups[i][:, None] - groups[j][None, :]).min() > C_SEP / 2


def test_episodes_and_communication_are_counted(trained: DistMTLSVI) -> None:
    phase2 = np.sum([r.phase2 for r in trained.history], axis=0)
    np.testing.assert_array_equal(trained.episodes, 120 * len(trained.history) + 300 * phase2)
    first = trained.history[0]
    # round 1: gather (θ, Λ, V), scatter labels, gather phase-2 statistics, broadcast new labels
    assert first.comm_rounds == 4
    h, d = trained.horizon, trained.features.shape[-1]
    report = 8 * (h * d + h * d * d + 1)                                  # float64 θ_h, Λ_h and V
    statistics = 8 * (h * d + h * d * d)
    n, new = trained.n_agents, first.n_labels
    expected = n * report + n * 8 + sum(first.phase2) * statistics + n * new * statistics
    assert first.comm_bytes == expected


def test_group_follows_algorithm_4() -> None:
    server = DistMTServer(c_sep=1.0)
    stats = {"theta": np.zeros((1, 1)), "gram": np.ones((1, 1, 1))}
    new = server.group([1.0, 1.3, 3.0], [None, None, None], [stats, stats, stats], [0, 0, 1])
    assert new == [0, 1]                                                  # the second agent joins the label opened first
    assert server.values == [[1.0, 1.3], [3.0]] and server.origin == [0, 1]
    new = server.group([3.2, 0.9], [1, None], [None, stats], [1, 0])
    assert new == [] and server.values == [[1.0, 1.3, 0.9], [3.0, 3.2]]
    assert server.match(1.6) is None                                      # 1.6 is 0.6 > c_Sep/2 from 1.0
    assert server.match(2.9) == 1


def test_exploration_ignores_rewards_and_planning_uses_them(tasks: list) -> None:
    sampler, rng = EpisodeSampler(tasks[0]), np.random.default_rng(0)
    buffers, stats = exploration_phase(sampler, tasks[0].features, 0.5, 20, rng)
    other = EpisodeSampler(tasks[1])        # same features and start state, other rewards and dynamics
    buffers2, _ = exploration_phase(other, tasks[1].features, 0.5, 1, np.random.default_rng(0))
    assert buffers2[0].view()[1][0] == buffers[0].view()[1][0]            # the first action depends on no reward
    assert all(len(b) == 20 for b in buffers) and stats[0].count == 20
    q = planning(tasks[0].features, buffers, stats, 0.5)
    assert 0.0 < q.value(0) <= tasks[0].horizon


def test_theory_formulas() -> None:
    assert distmt_rounds(10, 20, 0.1) == 14 and distmt_rounds(10, 20, 0.05) == 16     # ⌈6 M ln(M/δ)/N⌉ by hand
    assert distmt_rounds(2, 1000, 0.5) == 1
    k = distmt_episodes(5, 5, 10, 0.1, 0.5)
    assert k == int(np.ceil(125 * 5**6 * np.log(5 * 5 * 10 / (0.1 * 0.5)) / 0.25))
    assert distmt_beta(5, 5, 10, 0.1, 0.5) == pytest.approx(25 * np.sqrt(np.log(5000)))
    assert distmt_per_agent_bound(3, 10, 20) == 90
    with pytest.raises(ValueError, match="delta"):
        distmt_rounds(10, 2, 0.0)


def test_theory_constructor_uses_the_formulas(tasks: list) -> None:
    algo = DistMTLSVI.from_theory(tasks, 2, C_SEP, epsilon=0.5, delta=0.1, c_beta=0.02, c_episodes=1e-6)
    d, h, m = tasks[0].dim, tasks[0].horizon, len(tasks)
    assert algo.episodes_phase1 == distmt_episodes(d, h, m, 0.1, C_SEP, 1e-6)
    assert algo.episodes_phase2 == distmt_episodes(d, h, m, 0.1, 0.5, 1e-6) > algo.episodes_phase1
    assert algo.beta2 == pytest.approx(distmt_beta(d, h, m, 0.1, 0.5, 0.02))
    assert algo.default_rounds() == distmt_rounds(m, 2, 0.1)


def test_bad_arguments_are_rejected(tasks: list) -> None:
    with pytest.raises(ValueError, match="n_agents"):
        DistMTLSVI(tasks, 0, c_sep=C_SEP)
    with pytest.raises(ValueError, match="c_sep"):
        DistMTLSVI(tasks, 2, c_sep=-1.0)
    with pytest.raises(ValueError, match="assignment"):
        DistMTLSVI(tasks, 2, c_sep=C_SEP, assignment="round-robin")  # type: ignore[arg-type]
    other = mtenvs.family("LinearMDP").model({"instance": 3})
    with pytest.raises(ValueError, match="share features"):
        DistMTLSVI([tasks[0], other], 2, c_sep=C_SEP)


def test_permutation_assignment_gives_each_agent_every_task(tasks: list) -> None:
    algo = DistMTLSVI(tasks, 2, c_sep=C_SEP, episodes_phase1=5, episodes_phase2=5, assignment="permutation", seed=1)
    algo.learn(len(tasks))
    for agent in range(2):
        assert sorted(r.tasks[agent] for r in algo.history) == list(range(len(tasks)))
