"""Tabular DCPG: mixing matrices of paper 003, the update of Eq. 9 step by step, the single-agent baselines,
communication accounting, the consensus bound of Lemma B.2, the Monte-Carlo gradient's mean, and GridWorld (a)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mtenvs
from agents.common.graphs import complete_bipartite, consensus_error
from agents.dcpg import TabularDCPG, build_graph, mixing_matrix, monte_carlo_gradient, theorem1_step_size
from agents.dcpg.objective import policy_gradient, softmax_policy
from mtenvs.gridworld.chains import chain_model

GRID = mtenvs.family("GridWorld")
CHAIN = mtenvs.family("ConflictChain")
PANEL_A = list(GRID.task_set("a"))
CHALLENGE2 = list(CHAIN.task_set("challenge2"))


# ------------------------------------------------------------------------------------------ mixing matrices
def test_lazy_metropolis_ring_matches_the_paper() -> None:
    w4 = mixing_matrix(build_graph("ring", 4), "lazy-metropolis")
    np.testing.assert_allclose(w4, [[.5, .25, 0, .25], [.25, .5, .25, 0], [0, .25, .5, .25], [.25, 0, .25, .5]])
    agent = TabularDCPG(PANEL_A, "ring")
    assert agent.sigma_2 == pytest.approx(0.5) and agent.sigma_n == pytest.approx(0.0, abs=1e-12)
    six = TabularDCPG(list(GRID.task_set("d")), "ring")
    assert six.sigma_2 == pytest.approx(0.75)
    # N = 3: the ring is the complete graph, singular values 1, .25, .25
    three = TabularDCPG(PANEL_A[:3], "ring")
    np.testing.assert_allclose(three.weights, np.full((3, 3), 0.25) + 0.25 * np.eye(3))


def test_other_graphs_and_explicit_weights() -> None:
    bipartite = TabularDCPG(PANEL_A, "bipartite")
    assert bipartite.graph == complete_bipartite(2, 2)
    assert bipartite.sigma_2 < 1.0  # lazy weights avoid the -1 eigenvalue of a bipartite graph
    complete = TabularDCPG(PANEL_A, "complete", "uniform")
    np.testing.assert_allclose(complete.weights, np.full((4, 4), 0.25))
    assert complete.sigma_2 == pytest.approx(0.0, abs=1e-12)
    edges = TabularDCPG(PANEL_A, [(0, 1), (1, 2), (1, 3)])
    assert edges.graph.degree(1) == 3 and np.allclose(edges.weights.sum(axis=0), 1.0)
    bound = theorem1_step_size([0.99] * 4, 1e-3, 100, edges.weights)
    assert 0 < bound < 1e-7  # impractically small


def test_bad_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="graph must be one of"):
        TabularDCPG(PANEL_A, "torus")
    with pytest.raises(ValueError, match="connected"):
        TabularDCPG(PANEL_A, [(0, 1), (2, 3)])
    with pytest.raises(ValueError, match="not an edge"):
        TabularDCPG(PANEL_A, "chain", np.full((4, 4), 0.25))
    with pytest.raises(ValueError, match="weights must be one of"):
        TabularDCPG(PANEL_A, weights="max-degree")
    with pytest.raises(ValueError, match="theta0"):
        TabularDCPG(PANEL_A, theta0=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="state and action sets"):
        TabularDCPG([PANEL_A[0], CHALLENGE2[0]])
    with pytest.raises(ValueError, match="gradient"):
        TabularDCPG(PANEL_A, gradient="natural")


# ------------------------------------------------------------------------------------------ the update
def test_one_iteration_is_equation_9() -> None:
    theta0 = np.random.default_rng(0).normal(size=(4, 100, 4))
    agent = TabularDCPG(PANEL_A, "ring", alpha=0.7, lam=0.01, theta0=theta0)
    gradients = np.stack([policy_gradient(GRID.model(t), theta0[i], 0.01) for i, t in enumerate(PANEL_A)])
    agent.step()
    expected = np.einsum("ij,jsa->isa", agent.weights, theta0) + 0.7 * gradients
    np.testing.assert_allclose(agent.theta, expected, atol=1e-13)
    # two messages of one 100x4 float64 table per ring edge per iteration
    assert agent.communicator.stats.messages == 8 and agent.communicator.stats.bytes == 8 * 100 * 4 * 8


def test_identity_weights_are_independent_single_agent_training() -> None:
    together = TabularDCPG(PANEL_A, weights="identity", alpha=1.0, lam=1e-3).learn(20, log_interval=20)
    for i, task in enumerate(PANEL_A):
        alone = TabularDCPG([task], alpha=1.0, lam=1e-3).learn(20, log_interval=20)
        np.testing.assert_allclose(together.theta[i], alone.theta[0], atol=1e-13)
    assert together.communicator.stats.bytes == 0


def test_consensus_error_stays_within_lemma_b2() -> None:
    gamma, lam, alpha = 0.9, 0.01, 0.05
    tasks = list(CHAIN.task_set("challenge1"))
    agent = TabularDCPG(tasks, "ring", alpha=alpha, lam=lam, gamma=gamma, theta0=np.random.default_rng(1).normal(size=(5, 2)))
    agent.learn(300, log_interval=1)
    # ±1 rewards: |A| <= 2/(1-gamma), so the bound uses 2D
    d = 2 * len(tasks) * lam + len(tasks) / (1 - gamma) ** 2
    errors = [record["consensus_error"] for record in agent.history]
    assert max(errors) <= alpha * 2 * d / (1 - agent.sigma_2)
    assert errors[0] == 0.0 and max(errors) > 0
    assert errors[-1] == pytest.approx(consensus_error(dict(enumerate(agent.theta))))


def test_monte_carlo_gradient_is_unbiased() -> None:
    gamma, lam = 0.9, 0.05
    task = CHALLENGE2[0]
    theta = np.random.default_rng(2).normal(size=(5, 2))
    exact = policy_gradient(chain_model(task, gamma), theta, lam)
    from_env = TabularDCPG([task], gradient="mc", gamma=gamma, lam=lam, seed=3)
    from_model = TabularDCPG([chain_model(task, gamma)], gradient="mc", lam=lam, seed=4)
    for agent in (from_env, from_model):
        samples = np.stack([agent.local_gradient(0, theta) for _ in range(4000)])
        mean, stderr = samples.mean(axis=0), samples.std(axis=0, ddof=1) / math.sqrt(len(samples))
        assert np.all(np.abs(mean - exact) <= 4.5 * stderr + 1e-12)


def test_monte_carlo_gradient_of_a_hand_computed_episode() -> None:
    theta = np.zeros((3, 2))
    episode = (np.array([0, 1]), np.array([1, 0]), np.array([0.0, 1.0]))
    gradient = monte_carlo_gradient(theta, episode, gamma=0.5, lam=0.0)
    # G_0 = 0.5, G_1 = 1; weights gamma^t G_t = 0.5, 0.5; score e_a - (0.5, 0.5)
    np.testing.assert_allclose(gradient, [[-0.25, 0.25], [0.25, -0.25], [0.0, 0.0]])
    undiscounted = monte_carlo_gradient(theta, episode, gamma=0.5, lam=0.0, discount_weighting=False)
    np.testing.assert_allclose(undiscounted[1], [0.5, -0.5])
    np.testing.assert_allclose(monte_carlo_gradient(theta, episode, 0.5, lam=0.3) - gradient,
                               (0.3 / 3) * (0.5 - softmax_policy(theta)))


# ------------------------------------------------------------------------------------------ GridWorld (a)
def test_dcpg_common_policy_solves_every_task_of_panel_a() -> None:
    dcpg = TabularDCPG(PANEL_A, "ring", alpha=1.0, lam=1e-3).learn(300, log_interval=100)
    evaluation = dcpg.evaluate()
    assert evaluation.tasks_solved == 4 and all(evaluation.solved)
    assert evaluation.joint_objective > 3.4  # the optimum is 3.6135
    assert dcpg.history[-1]["tasks_solved"] == 4 and dcpg.history[0]["iteration"] == 0
    singles = TabularDCPG(PANEL_A, weights="identity", alpha=1.0, lam=1e-3).learn(300, log_interval=300)
    for i in range(4):
        assert evaluation.joint_objective >= singles.evaluate(singles.theta[i]).joint_objective


# ------------------------------------------------------------------------------------------ experiments
def test_experiments_run_end_to_end_on_a_small_budget(tmp_path) -> None:
    from mtenvs.runner import plan_run
    from mtenvs.runner.run import execute

    chains = execute(plan_run("003-dcpg-chains", "quick", overrides=["iterations1=300", "iterations2=300"],
                              out=tmp_path / "chains"))
    summary = chains["summary"]
    assert summary["c1_optimum_grid"] == pytest.approx(2 * 0.9 / (2 - 0.81))
    assert summary["c2_stuck_pi_left_s3"] == pytest.approx(0.5) and summary["c1_best_sa_joint"] < 0.9
    grid = execute(plan_run("003-dcpg-gridworld", "quick", overrides=["panels=a,c", "iterations=150", "gradient=exact",
                                                                      "seeds=1"], out=tmp_path / "grid"))
    summary = grid["summary"]
    assert summary["a_dcpg_tasks_solved"] == 4 and summary["a_dcpg_minus_best_sa"] > 0
    assert summary["c_num_tasks"] == 4 and (tmp_path / "grid" / "003-dcpg-gridworld.png").exists()


def test_gridworld_runs_the_papers_protocol_by_default(tmp_path) -> None:
    """§5.1: Monte-Carlo gradients for 1000 episodes; the summary holds, per panel, the mean over seeds of the units'
    values with an interval inside the metric's range (tasks solved in [0, number of tasks])."""
    from mtenvs.runner import get, plan_run
    from mtenvs.runner.run import execute

    full = get("003-dcpg-gridworld").make_config("full")
    assert (full.gradient, full.iterations) == ("mc", 1000) and full.seeds >= 5
    run = execute(plan_run("003-dcpg-gridworld", "quick", overrides=["panels=a", "iterations=60", "seeds=3"],
                           out=tmp_path / "grid"))
    dcpg = [u["metrics"] for u in run["units"] if u["params"]["method"] == "dcpg"]
    solved = run["summary"]["a_dcpg_tasks_solved"]
    assert solved["n"] == 3 and solved["mean"] == pytest.approx(np.mean([m["tasks_solved"] for m in dcpg]))
    assert 0 <= solved["low"] <= solved["mean"] <= solved["high"] <= 4
    joint = run["summary"]["a_dcpg_joint"]
    assert joint["mean"] == pytest.approx(np.mean([m["joint_objective"] for m in dcpg]))
    assert len({m["joint_objective"] for m in dcpg}) > 1  # sampled gradients: the seeds differ
