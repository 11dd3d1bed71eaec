"""Coop-LSVI (paper 001): synchronization semantics, communication bounds (Lemmas 1, 3), regret between baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mtenvs
from agents.lsvi.coop import CoopLSVI, HeterogeneousCoopLSVI, always_communicating, independent_agents
from agents.lsvi.mmdp import MultiAgentCoopLSVI, bayes_regret, vector_policy_values
from agents.lsvi.theory import coop_beta, coop_rounds_bound, heterogeneity_coefficient, mmdp_rounds_bound

SIZES = {"n_states": 6, "n_actions": 3, "dim": 4, "horizon": 4}


@pytest.fixture(scope="module")
def task() -> object:
    return mtenvs.family("LinearMDP").model({"instance": 0, **SIZES})


@pytest.fixture(scope="module")
def runs(task: object) -> dict[str, CoopLSVI]:
    tasks = [task] * 4
    return {"independent": independent_agents(tasks, beta=4.0, seed=0).learn(200),
            "coop": CoopLSVI(tasks, threshold=10.0, beta=4.0, seed=0).learn(200),
            "always": always_communicating(tasks, beta=4.0, seed=0).learn(200)}


def test_group_regret_lies_between_the_baselines(runs: dict[str, CoopLSVI]) -> None:
    regret = {name: run.history.group_regret[-1] for name, run in runs.items()}
    assert regret["coop"] < regret["independent"]
    assert regret["coop"] >= 0.9 * regret["always"]
    assert regret["independent"] - regret["coop"] > 0.5 * (regret["independent"] - regret["always"])
    assert runs["coop"].history.sync_episodes[-1] < 0.2 * runs["always"].history.sync_episodes[-1]


def test_baselines_communicate_never_or_always(runs: dict[str, CoopLSVI]) -> None:
    assert runs["independent"].comm.stats.rounds == 0 and not any(runs["independent"].history.synchronized)
    assert all(runs["always"].history.synchronized)
    assert runs["always"].comm.stats.rounds == 2 * 200                    # one gather and one broadcast per episode


def test_after_a_synchronization_every_agent_regresses_on_the_union(task: object) -> None:
    algo = CoopLSVI([task] * 3, threshold=0.0, beta=1.0, seed=1).learn(7)
    for h in range(task.horizon):
        union = sorted(zip(*(b.tolist() for b in algo.data[0][h].view()), strict=True))
        assert len(union) == 3 * 7
        for m in range(3):
            assert sorted(zip(*(b.tolist() for b in algo.data[m][h].view()), strict=True)) == union
            s, a, _, _ = algo.data[m][h].view()
            phi = task.features[s, a]
            np.testing.assert_allclose(algo.stats[m][h].inverse, np.linalg.inv(np.eye(task.dim) + phi.T @ phi),
                                       rtol=1e-9, atol=1e-12)
            assert len(algo.pending[m][h]) == 0


def test_synchronization_messages_carry_the_pending_tuples(task: object) -> None:
    algo = CoopLSVI([task] * 2, threshold=0.0, beta=1.0, seed=2).learn(1)
    tuple_bytes = 6 * 8                                                   # step, state, action, reward, next state, agent
    per_agent = task.horizon * tuple_bytes
    assert algo.comm.stats.bytes == 2 * per_agent + 2 * (2 * per_agent)   # gather, then the union to both agents


def test_communication_rounds_respect_lemma_1(task: object) -> None:
    for threshold in (30.0, 100.0):
        algo = CoopLSVI([task] * 4, threshold=threshold, beta=4.0, seed=3).learn(300)
        bound = coop_rounds_bound(task.dim, task.horizon, 4, 300, threshold)
        assert bound < 300
        assert algo.history.sync_episodes[-1] <= bound


def test_algorithm_3_regresses_on_agent_context_features() -> None:
    family = mtenvs.family("LinearLargeHeterogeneity")
    tasks = [family.model(family.task(agent=m, **SIZES)) for m in range(3)]
    algo = HeterogeneousCoopLSVI(tasks, threshold=0.0, beta=2.0, seed=0).learn(3)
    n_states = SIZES["n_states"]
    for m in range(3):
        np.testing.assert_array_equal(algo.features[m * n_states:(m + 1) * n_states], tasks[m].features)
    rows = algo.data[0][1].view()[0]
    assert {int(r) // n_states for r in rows} == {0, 1, 2}               # agent 0 holds every agent's (n, x) rows
    assert algo.policy(2).shape == (SIZES["horizon"], n_states)
    contexts = np.array([family.context(family.task(agent=m, **SIZES)) for m in range(3)])
    assert heterogeneity_coefficient(contexts) == min(3, family.default_task()["chi"])
    with pytest.raises(ValueError, match="identical feature tables"):
        CoopLSVI(tasks, agent_features=False)


def test_bad_arguments_are_rejected(task: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        CoopLSVI([task], threshold=-1.0)
    with pytest.raises(ValueError, match="beta"):
        CoopLSVI([task], beta=math.nan)
    assert coop_beta(4, 4, 2, 100, xi=0.1) > coop_beta(4, 4, 2, 100)


# ------------------------------------------------------------------------------------------------ Algorithm 2
@pytest.fixture(scope="module")
def mmdp() -> object:
    from mtenvs.linear.multiagent import FAMILY

    return FAMILY.model(FAMILY.default_task())


def test_vector_policy_values_match_the_oracle(mmdp: object) -> None:
    rng = np.random.default_rng(0)
    for _ in range(3):
        policy = rng.integers(mmdp.n_actions, size=(mmdp.horizon, mmdp.n_states))
        np.testing.assert_allclose(vector_policy_values(mmdp, policy), mmdp.agent_values(policy), rtol=1e-12)


def test_bayes_regret_matches_brute_force(mmdp: object) -> None:
    rng = np.random.default_rng(1)
    policies = [rng.integers(mmdp.n_actions, size=(mmdp.horizon, mmdp.n_states)) for _ in range(4)]
    weights = rng.dirichlet(np.ones(mmdp.n_agents), size=6)
    values = np.array([vector_policy_values(mmdp, p) for p in policies])
    brute = np.mean([mmdp.pareto_value(v) - max(mmdp.scalarized(v).policy_value(p) for p in policies) for v in weights])
    assert bayes_regret(mmdp, values, weights) == pytest.approx(brute, rel=1e-12)


def test_pareto_recovery_improves_and_rounds_respect_lemma_3(mmdp: object) -> None:
    algo = MultiAgentCoopLSVI(mmdp, threshold=10.0, beta=3.0, seed=0)
    early = algo.learn(40).bayes_regret(100)
    late = algo.learn(260).bayes_regret(100)
    assert 0.0 <= late < 0.5 * early
    assert algo.history.sync_episodes[-1] <= mmdp_rounds_bound(mmdp.dim, mmdp.horizon, mmdp.n_agents, 300, 10.0)
    assert algo.comm.stats.rounds == 2 * algo.history.sync_episodes[-1]


def test_spectral_bonus_bounds_every_scalarized_bonus(mmdp: object) -> None:
    algo = MultiAgentCoopLSVI(mmdp, threshold=1.0, beta=1.0, seed=2).learn(5)
    assert all(algo.history.synchronized)                                # S ≤ 1: every episode
    for v in np.random.default_rng(3).dirichlet(np.ones(mmdp.n_agents), size=5):
        scalarized = algo.synced[1].bonus(algo.features @ v)
        assert np.all(scalarized <= np.sqrt(algo._spectral_bonus(1)) + 1e-12)


def test_team_average_weights_are_fixed(mmdp: object) -> None:
    algo = MultiAgentCoopLSVI(mmdp, weight_concentration=None, seed=0).learn(2)
    np.testing.assert_array_equal(algo.history.weights[1], np.full(mmdp.n_agents, 1 / mmdp.n_agents))
    with pytest.raises(ValueError, match="bonus"):
        MultiAgentCoopLSVI(mmdp, bonus="frobenius")  # type: ignore[arg-type]


def test_agents_learn_from_the_registered_gymnasium_environments(task: object) -> None:
    import gymnasium as gym

    def run() -> CoopLSVI:
        envs = [gym.make("mtenvs/LinearMDP-v0", task={"instance": 0, **SIZES}) for _ in range(2)]
        return CoopLSVI(envs, threshold=0.0, beta=2.0, seed=5).learn(6)

    first, second = run(), run()
    np.testing.assert_allclose(first.tasks[0].transitions, task.transitions)      # the env's model gives φ and V*
    s, a, r, _ = first.data[0][0].view()
    assert len(s) == 12 and np.all(s == task.start_state)
    np.testing.assert_allclose(r, task.rewards[0, s, a])                            # rewards observed from the env
    np.testing.assert_array_equal(first.data[1][2].view()[0], second.data[1][2].view()[0])   # seeded: reproducible
    with pytest.raises(ValueError, match="LinearMDP or a Gymnasium env"):
        CoopLSVI([object()])
