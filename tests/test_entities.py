"""The synthetic entity-allocation family: closed-form optimum, optimal value, reward, equivariance."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import logsumexp, softmax

import mtenvs
from mtenvs.core.wrappers import EntityPermutation
from mtenvs.entities.allocation import (
    allocation_reward,
    entropy_weights,
    normalize_allocation,
    optimal_allocation,
    optimal_reward,
)

ENV_ID = "mtenvs/EntityAllocation-v0"
FAMILY = mtenvs.family("EntityAllocation")


def test_entropy_weights_span_the_mismatch() -> None:
    betas = entropy_weights(0.8, 0.1, 10)
    assert betas[0] == pytest.approx(0.1) and betas.max() - betas.min() == pytest.approx(0.8)
    assert np.all(np.diff(betas) > 0)


def test_equal_weights_optimum_is_softmax() -> None:
    x = np.random.default_rng(0).uniform(size=(5, 10))
    np.testing.assert_allclose(optimal_allocation(x, np.full(10, 0.3)), softmax(x / 0.3, axis=-1))
    np.testing.assert_allclose(optimal_reward(x, np.full(10, 0.3)), 0.3 * logsumexp(x / 0.3, axis=-1), rtol=1e-12)


@pytest.mark.parametrize("mismatch", [0.2, 0.8, 1.5])
def test_closed_form_optimum_matches_scipy_on_the_simplex(mismatch: float) -> None:
    rng = np.random.default_rng(1)
    betas = entropy_weights(mismatch, 0.1, 6)
    for x in rng.uniform(size=(4, 6)):
        closed = optimal_allocation(x, betas)
        assert closed.sum() == pytest.approx(1.0, abs=1e-12)
        result = optimize.minimize(lambda a, x=x: -allocation_reward(x, a, betas), np.full(6, 1 / 6), method="SLSQP",
                                   bounds=[(1e-12, 1.0)] * 6, constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1}],
                                   options={"ftol": 1e-14, "maxiter": 500})
        assert result.success
        np.testing.assert_allclose(closed, result.x, atol=2e-5)
        assert allocation_reward(x, closed, betas) >= -result.fun - 1e-12


def test_optimal_value_matches_an_exact_one_dimensional_integral() -> None:
    # With equal weights beta, max_a R = beta log S with S = sum_i exp(x_i / beta); Frullani's identity gives
    # E[log S] = int_0^inf (e^-t - phi(t)^m) / t dt with phi(t) = E[exp(-t exp(U / beta))], U ~ U[0, 1].
    beta, m = 0.3, 10

    def phi(t: float) -> float:
        return integrate.quad(lambda u: np.exp(-t * np.exp(u / beta)), 0.0, 1.0, epsabs=1e-13)[0]

    def integrand(s: float) -> float:  # t = e^s
        t = np.exp(s)
        return np.exp(-t) - phi(t) ** m

    exact = beta * integrate.quad(integrand, -40.0, 5.0, limit=200, epsabs=1e-11)[0]
    assert FAMILY.optimal_value({"mismatch": 0.0, "beta0": beta}, n_entities=m) == pytest.approx(exact, abs=2e-5)
    assert FAMILY.optimal_value({"mismatch": 0.0, "beta0": beta}, n_entities=m, horizon=3) == pytest.approx(3 * exact,
                                                                                                          abs=6e-5)


def test_optimal_policy_attains_the_optimal_value() -> None:
    task = FAMILY.task(mismatch=0.5)
    env = gym.make(ENV_ID, task=task, noise_std=0.0, horizon=2000)
    policy = FAMILY.reference_policies["optimal"]([task])
    obs, _ = env.reset(seed=0)
    rewards, uniform = [], []
    for _ in range(2000):
        x = obs[:, 0].astype(np.float64)
        uniform.append(float(allocation_reward(x, np.full(10, 0.1), env.unwrapped.betas)))
        obs, reward, *_ = env.step(policy(obs[None])[0])
        rewards.append(reward)
    value = FAMILY.optimal_value(task)
    assert np.mean(rewards) == pytest.approx(value, abs=4 * np.std(rewards) / np.sqrt(2000))
    assert np.mean(rewards) > np.mean(uniform)


def test_action_normalization_and_reported_weights() -> None:
    np.testing.assert_allclose(normalize_allocation(np.zeros(4)), np.full(4, 0.25))
    np.testing.assert_allclose(normalize_allocation(np.array([1.0, 3.0, 0.0, 0.0])), [0.25, 0.75, 0.0, 0.0])
    env = gym.make(ENV_ID, noise_std=0.0)
    obs, _ = env.reset(seed=0)
    action = np.linspace(0.1, 1.0, 10)
    _, reward, terminated, truncated, info = env.step(action)
    np.testing.assert_allclose(info["weights"], action / action.sum())
    x = obs[:, 0].astype(np.float64)
    assert reward == pytest.approx(float(x @ info["weights"] - np.sum(0.1 * info["weights"] * np.log(info["weights"]))),
                                   rel=1e-6)
    assert terminated and not truncated


def test_reward_noise_has_the_declared_spread() -> None:
    env = gym.make(ENV_ID, noise_std=0.1, horizon=3000)
    env.reset(seed=3)
    noise = [r - info["expected_reward"] for r, info in (env.step(np.ones(10))[1::3] for _ in range(3000))]
    assert np.std(noise) == pytest.approx(0.1, rel=0.08) and abs(np.mean(noise)) < 0.01


def test_permuting_entities_permutes_observation_and_optimum_when_weights_are_equal() -> None:
    rng = np.random.default_rng(4)
    x, perm = rng.uniform(size=10), rng.permutation(10)
    betas = entropy_weights(0.0, 0.1, 10)
    np.testing.assert_allclose(optimal_allocation(x[perm], betas), optimal_allocation(x, betas)[perm], atol=1e-14)
    action = rng.uniform(size=10)
    for mismatch in (0.0, 0.8):
        env = gym.make(ENV_ID, task={"mismatch": mismatch}, noise_std=0.0)
        obs, _ = env.reset(seed=0, options={"state": x})
        reward = env.step(action)[1]
        obs_p, _ = env.reset(seed=0, options={"state": x[perm]})
        np.testing.assert_array_equal(obs_p, obs[perm])
        reward_p = env.step(action[perm])[1]
        if mismatch == 0.0:  # the reward is invariant under a joint permutation of states and actions
            assert reward_p == pytest.approx(reward, rel=1e-12)
        else:  # unequal entropy weights break the invariance (the paper's epsilon)
            assert abs(reward_p - reward) > 1e-3


def test_permutation_wrapper_is_transparent_for_an_equivariant_policy() -> None:
    def run(mismatch: float, wrapped: bool) -> list[float]:
        env = gym.make(ENV_ID, task={"mismatch": mismatch}, noise_std=0.0, horizon=50)
        env = EntityPermutation(env) if wrapped else env
        equal_betas = entropy_weights(0.0, 0.1, 10)  # the policy assumes equal weights (it cannot see the betas)
        obs, _ = env.reset(seed=5)
        out = []
        for _ in range(50):
            obs, reward, *_ = env.step(optimal_allocation(obs[:, 0].astype(np.float64), equal_betas))
            out.append(reward)
        return out

    for mismatch in (0.0, 0.8):
        np.testing.assert_allclose(run(mismatch, True), run(mismatch, False), rtol=1e-12)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="n_entities"):
        gym.make(ENV_ID, n_entities=1)
    with pytest.raises(ValueError, match="noise_std"):
        gym.make(ENV_ID, noise_std=-1.0)
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": np.full(10, 2.0)})
