"""The two-task chains of paper 003 (§2.2, App. A): exact values against the paper's closed forms (with its printed
slips corrected), brute force over deterministic policies, and the behaviour of exact DCPG at the bad stationary point."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from agents.dcpg import TabularDCPG
from agents.dcpg.objective import policy_gradient
from mtenvs.gridworld.chains import FAMILY, chain_model

CHALLENGE1 = list(FAMILY.task_set("challenge1"))
CHALLENGE2 = list(FAMILY.task_set("challenge2"))
SQRT_HALF = math.sqrt(0.5)


def policy_at_s3(q: float, s2: float = 1.0, s4: float = 1.0) -> np.ndarray:
    """pi(L|S3) = q, pi(L|S2) = s2, pi(L|S4) = s4 (S1/S5 absorbing: any row)."""
    return np.array([[0.5, 0.5], [s2, 1 - s2], [q, 1 - q], [s4, 1 - s4], [0.5, 0.5]])


def summed_value(tasks: list[mtenvs.Task], pi: np.ndarray, gamma: float) -> float:
    return sum(chain_model(t, gamma).value(pi) for t in tasks)


# ------------------------------------------------------------------------------------------ Challenge 1
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_reversed_chain_values_match_the_closed_forms(gamma: float) -> None:
    for q in np.linspace(0.0, 1.0, 11):
        pi = policy_at_s3(q)
        v1, v2 = (chain_model(t, gamma).value(pi) for t in CHALLENGE1)
        assert v1 == pytest.approx(q * gamma / (1 - (1 - q) * gamma**2), abs=1e-12)
        assert v2 == pytest.approx((1 - q) * gamma / (1 - q * gamma**2), abs=1e-12)


@pytest.mark.parametrize("gamma", [0.5, 0.7071, 0.9, 0.99])
def test_no_deterministic_policy_is_optimal(gamma: float) -> None:
    grid = np.linspace(0.0, 1.0, 201)
    values = [summed_value(CHALLENGE1, policy_at_s3(q), gamma) for q in grid]
    assert grid[int(np.argmax(values))] == pytest.approx(0.5)
    assert max(values) == pytest.approx(2 * gamma / (2 - gamma**2), abs=1e-12)
    deterministic = [summed_value(CHALLENGE1, np.eye(2)[list(actions)], gamma)
                     for actions in itertools.product((0, 1), repeat=5)]
    assert max(deterministic) == pytest.approx(gamma, abs=1e-12)  # pi_l and pi_r; every other is no better
    assert max(deterministic) < 2 * gamma / (2 - gamma**2)


def test_exact_dcpg_finds_the_randomized_optimum() -> None:
    # N = 2, W = 11^T / 2 (the lazy-Metropolis "ring" of two agents), alpha = 0.1, lambda = 1e-4
    agent = TabularDCPG(CHALLENGE1, "ring", alpha=0.1, lam=1e-4, gamma=0.9, theta0=[[0, 0], [0, 0], [1, 0], [0, 0], [0, 0]])
    np.testing.assert_allclose(agent.weights, [[0.5, 0.5], [0.5, 0.5]])
    agent.learn(3000, log_interval=3000)
    pi = agent.policy()
    assert pi[2, 0] == pytest.approx(0.5, abs=1e-3)
    assert pi[1, 0] > 0.99 and pi[3, 0] > 0.99
    assert agent.evaluate().joint_objective == pytest.approx(2 * 0.9 / (2 - 0.81), abs=0.01)
    assert agent.evaluate().joint_objective > 0.9 + 0.5  # far above every deterministic policy


# ------------------------------------------------------------------------------------------ Challenge 2
@pytest.mark.parametrize(("gamma", "p"), [(SQRT_HALF, 0.6), (SQRT_HALF, 0.8), (SQRT_HALF, 1.0), (0.9, 0.8), (0.5, 0.7)])
def test_stochastic_chain_stationary_point_values(gamma: float, p: float) -> None:
    tasks = [FAMILY.task(variant="stochastic", task=k, p=p) for k in (1, 2)]
    always_right, uniform = policy_at_s3(0.0), policy_at_s3(0.5)
    v1, v2 = (chain_model(t, gamma).value(always_right) for t in tasks)
    assert v1 == pytest.approx(-gamma * p / (1 - gamma**2 * (1 - p)), abs=1e-12)
    assert v2 == pytest.approx(gamma * (1 - p) / (1 - gamma**2 * p), abs=1e-12)
    pi1 = gamma * (1 - 2 * p) * (1 - gamma**2) / (1 - gamma**2 + gamma**4 * p * (1 - p))
    assert v1 + v2 == pytest.approx(pi1, abs=1e-12)
    assert summed_value(tasks, policy_at_s3(1.0), gamma) == pytest.approx(pi1, abs=1e-12)  # pi_2, by symmetry
    assert summed_value(tasks, uniform, gamma) == pytest.approx(gamma * (2 - 4 * p) / (2 - gamma**2), abs=1e-12)
    # the uniform point: visitation of S3 and the mirrored advantages of App. A
    m1, m2 = (chain_model(t, gamma) for t in tasks)
    assert m1.visitation(uniform)[2] == pytest.approx(2 * (1 - gamma) / (2 - gamma**2), abs=1e-12)
    a1 = gamma * (-2 * gamma**2 * p**2 + 2 * gamma**2 * p - gamma**2 + 1) / (2 - gamma**2)
    assert m1.advantages(uniform)[2] == pytest.approx([a1, -a1], abs=1e-12)
    assert m2.advantages(uniform)[2] == pytest.approx([-a1, a1], abs=1e-12)


def test_corrected_sqrt_half_simplifications() -> None:
    # the paper's printed simplifications are wrong; these are the corrected ones
    for p in (0.6, 0.8, 1.0):
        tasks = [FAMILY.task(variant="stochastic", task=k, p=p) for k in (1, 2)]
        assert summed_value(tasks, policy_at_s3(0.0), SQRT_HALF) == pytest.approx(
            math.sqrt(2) * (1 - 2 * p) / ((2 - p) * (1 + p)), abs=1e-12)
        assert summed_value(tasks, policy_at_s3(0.5), SQRT_HALF) == pytest.approx(2 * math.sqrt(2) / 3 * (1 - 2 * p), abs=1e-12)
    assert summed_value(CHALLENGE2, policy_at_s3(0.0), SQRT_HALF) == pytest.approx(-0.39284, abs=1e-5)
    assert summed_value(CHALLENGE2, policy_at_s3(0.5), SQRT_HALF) == pytest.approx(-0.56569, abs=1e-5)


def test_uniform_is_the_global_minimum_and_a_stationary_point() -> None:
    models = [chain_model(t, SQRT_HALF) for t in CHALLENGE2]
    grid = np.linspace(0.0, 1.0, 201)
    values = np.array([sum(m.value(policy_at_s3(q)) for m in models) for q in grid])
    assert grid[values.argmin()] == pytest.approx(0.5) and values.max() == pytest.approx(values[0])
    gradient = sum(policy_gradient(m, np.zeros((5, 2)), lam=0.1) for m in models)
    assert np.abs(gradient).max() < 1e-15


def test_exact_dcpg_stays_at_uniform_from_zero_and_escapes_from_a_nudge() -> None:
    stuck = TabularDCPG(CHALLENGE2, "ring", alpha=1.0, lam=0.0, gamma=SQRT_HALF).learn(300, log_interval=300)
    assert stuck.policy()[2, 0] == pytest.approx(0.5, abs=1e-12)
    assert stuck.consensus_error() > 0.1  # the two agents disagree, their average does not move
    nudged = TabularDCPG(CHALLENGE2, "ring", alpha=0.1, lam=0.0, gamma=SQRT_HALF,
                         theta0=[[0, 0], [0, 0], [0.1, 0], [0, 0], [0, 0]]).learn(2500, log_interval=2500)
    assert nudged.policy()[2, 0] > 0.99
    assert nudged.evaluate().joint_objective > -0.40


# ------------------------------------------------------------------------------------------ environment
def test_env_transitions_and_rewards_follow_the_model() -> None:
    env = gym.make("mtenvs/ConflictChain-v0", task=CHALLENGE1[1])
    env.reset(seed=0)
    assert env.step(0)[:3] == (1, 0.0, False)  # S3 -L-> S2
    assert env.step(1)[:3] == (0, -1.0, True)  # task 2: R in S2 leads to S1, its penalty
    env.reset(options={"state": 3})
    assert env.step(0)[:3] == (4, 1.0, True)  # task 2: L in S4 leads to S5, its reward
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": 0})


def test_env_returns_match_exact_values_monte_carlo() -> None:
    gamma = 0.9
    pi = policy_at_s3(0.3, 0.6, 0.2)
    for task in CHALLENGE2:
        env = gym.make("mtenvs/ConflictChain-v0", task=task).unwrapped
        env.reset(seed=1)
        rng = np.random.default_rng(2)
        returns = []
        for _ in range(3000):
            state, _ = env.reset()
            total, discount = 0.0, 1.0
            for _ in range(100):
                state, reward, terminated, _, _ = env.step(int(rng.random() > pi[state, 0]))
                total += discount * reward
                discount *= gamma
                if terminated:
                    break
            returns.append(total)
        exact = chain_model(task, gamma).value(pi, horizon=100)
        assert abs(np.mean(returns) - exact) < 4 * np.std(returns) / np.sqrt(len(returns))


def test_optimal_value_is_the_single_task_optimum() -> None:
    task1 = CHALLENGE1[0]
    assert FAMILY.optimal_value(task1, gamma=0.9) == pytest.approx(0.9)     # L, L: +1 at the second step
    assert FAMILY.optimal_value(task1) == pytest.approx(1.0)                # undiscounted, within 100 steps
    assert FAMILY.optimal_value(CHALLENGE2[0], gamma=SQRT_HALF) == pytest.approx(
        chain_model(CHALLENGE2[0], SQRT_HALF).optimal_value())
