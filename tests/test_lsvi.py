"""The LSVI core: incremental ridge statistics equal a direct solve; LSVI equals closed forms on tabular features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.lsvi.core import EpisodeSampler, LinearQ, Optimism, TransitionBuffer, lsvi_backward, run_episode
from agents.lsvi.ridge import RidgeStatistics
from mtenvs.linear.model import LinearMDP


def tabular_mdp(n_states: int = 3, n_actions: int = 2, horizon: int = 3, seed: int = 0) -> LinearMDP:
    """A random tabular MDP as a linear MDP: φ(s, a) = e_{(s, a)}, d = |S||A|."""
    rng = np.random.default_rng(seed)
    features = np.eye(n_states * n_actions).reshape(n_states, n_actions, n_states * n_actions)
    transitions = rng.dirichlet(np.ones(n_states), size=(horizon, n_states, n_actions))
    rewards = rng.uniform(size=(horizon, n_states, n_actions))
    return LinearMDP(features, transitions, rewards, 0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), dim=st.integers(1, 8), batches=st.lists(st.integers(1, 5), min_size=1, max_size=12),
       lam=st.floats(0.1, 5.0))
def test_incremental_statistics_equal_a_direct_solve(seed: int, dim: int, batches: list[int], lam: float) -> None:
    rng = np.random.default_rng(seed)
    incremental, direct = RidgeStatistics(dim, lam), RidgeStatistics(dim, lam, incremental=False)
    rows = []
    for k in batches:
        phi = rng.normal(size=(k, dim)) / np.sqrt(dim)
        rows.append(phi)
        gain = incremental.update(phi if k > 1 else phi[0])
        direct_gain = direct.update(phi)
        assert gain == pytest.approx(direct_gain, rel=1e-9, abs=1e-9)
    stacked = np.concatenate(rows)
    matrix = lam * np.eye(dim) + stacked.T @ stacked
    np.testing.assert_allclose(incremental.inverse, np.linalg.inv(matrix), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(direct.inverse, np.linalg.inv(matrix), rtol=1e-9, atol=1e-11)
    assert incremental.logdet == pytest.approx(np.linalg.slogdet(matrix)[1], abs=1e-9)
    b = rng.normal(size=dim)
    np.testing.assert_allclose(incremental.solve(b), np.linalg.solve(matrix, b), rtol=1e-8, atol=1e-10)
    probe = rng.normal(size=(4, 3, dim))
    expected = np.sqrt(np.einsum("...i,ij,...j->...", probe, np.linalg.inv(matrix), probe))
    np.testing.assert_allclose(incremental.bonus(probe), expected, rtol=1e-9)
    assert incremental.count == stacked.shape[0]


def test_ridge_statistics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="dim"):
        RidgeStatistics(0)
    with pytest.raises(ValueError, match="lam"):
        RidgeStatistics(3, lam=0.0)
    stats = RidgeStatistics(3)
    with pytest.raises(ValueError, match="shape"):
        stats.update(np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        stats.update(np.array([1.0, np.nan, 0.0]))
    np.testing.assert_array_equal(stats.inverse, np.eye(3))      # a rejected update leaves the state untouched
    assert stats.count == 0


def fill(model: LinearMDP, episodes: int, seed: int, incremental: bool = True) -> tuple[list[TransitionBuffer],
                                                                                         list[RidgeStatistics]]:
    """Data of uniformly random policies, with ridge statistics kept incrementally or by refactorization."""
    rng = np.random.default_rng(seed)
    sampler = EpisodeSampler(model)
    buffers = [TransitionBuffer(1) for _ in range(model.horizon)]
    stats = [RidgeStatistics(model.dim, incremental=incremental) for _ in range(model.horizon)]
    for _ in range(episodes):
        policy = rng.integers(model.n_actions, size=(model.horizon, model.n_states))
        for h, (s, a, r, s_next) in enumerate(run_episode(sampler, policy, rng)):
            buffers[h].add(s, a, r, s_next)
            stats[h].update(model.features[s, a])
    return buffers, stats


def test_lsvi_with_incremental_statistics_equals_direct() -> None:
    model = tabular_mdp(4, 3, 4, seed=1)
    buffers, incremental = fill(model, 60, seed=2)
    _, direct = fill(model, 60, seed=2, incremental=False)
    for optimism in (Optimism(0.7), Optimism(0.7, bonus_cap=4.0, bonus_scale=1.25, clip="horizon")):
        fast = lsvi_backward(model.features, buffers, incremental, optimism)
        slow = lsvi_backward(model.features, buffers, direct, optimism)
        np.testing.assert_allclose(fast.q, slow.q, rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(fast.policy(), slow.policy())


def test_lsvi_on_tabular_features_matches_the_closed_form() -> None:
    """One-hot φ: w_h(s, a) = Σ y / (n + λ) and ‖φ‖_{Λ⁻¹} = 1/sqrt(n + λ) with n the visits of (s, a) at step h."""
    model = tabular_mdp(3, 2, 3, seed=3)
    buffers, stats = fill(model, 25, seed=4)
    beta, horizon = 0.4, model.horizon
    q = lsvi_backward(model.features, buffers, stats, Optimism(beta))
    expected = np.zeros_like(q.q)
    v_next = np.zeros(model.n_states)
    for h in range(horizon - 1, -1, -1):
        s, a, r, s_next = buffers[h].view()
        sums = np.zeros((model.n_states, model.n_actions))
        counts = np.zeros((model.n_states, model.n_actions))
        np.add.at(sums, (s, a), r + v_next[s_next])
        np.add.at(counts, (s, a), 1.0)
        expected[h] = np.minimum(sums / (counts + 1.0) + beta / np.sqrt(counts + 1.0), horizon - h)
        v_next = expected[h].max(axis=1)
    np.testing.assert_allclose(q.q, expected, rtol=1e-10, atol=1e-12)


def test_lsvi_without_bonus_converges_to_the_exact_optimum() -> None:
    model = tabular_mdp(3, 2, 3, seed=5)
    buffers, stats = fill(model, 4000, seed=6)
    q = lsvi_backward(model.features, buffers, stats, Optimism(0.0))
    v = q.values[0, model.start_state]
    assert v == pytest.approx(model.optimal_value(), abs=0.05)
    assert model.policy_value(q.policy()) == pytest.approx(model.optimal_value(), abs=1e-9)


def test_optimism_clips_and_caps() -> None:
    features = np.eye(2).reshape(1, 2, 2)
    inverse = np.eye(2)
    weights = np.array([5.0, -1.0])
    remaining = Optimism(2.0).q_values(features, weights, inverse, h=1, horizon=3)
    np.testing.assert_allclose(remaining, [[2.0, 1.0]])                 # min{⟨w, φ⟩ + β‖φ‖, H − h}
    capped = Optimism(2.0, bonus_cap=0.5, bonus_scale=2.0, clip="horizon").q_values(features, weights, inverse, 1, 3)
    np.testing.assert_allclose(capped, [[3.0, 0.0]])                    # min{⟨w, φ⟩ + κ min{β‖φ‖, u}, H}
    with pytest.raises(ValueError, match="beta"):
        Optimism(-1.0)
    with pytest.raises(ValueError, match="clip"):
        Optimism(1.0, clip="never")  # type: ignore[arg-type]


def test_linear_q_from_parameters_reproduces_the_backward_pass() -> None:
    model = tabular_mdp(3, 2, 3, seed=7)
    buffers, stats = fill(model, 30, seed=8)
    q = lsvi_backward(model.features, buffers, stats, Optimism(0.3))
    rebuilt = LinearQ.from_parameters(model.features, q.weights, q.inverses, q.optimism)
    np.testing.assert_allclose(rebuilt.q, q.q, rtol=1e-12)


def test_episode_sampler_follows_the_transition_probabilities() -> None:
    model = tabular_mdp(3, 2, 2, seed=9)
    sampler, rng = EpisodeSampler(model), np.random.default_rng(0)
    draws = np.array([sampler.step(1, 2, 1, rng)[1] for _ in range(20_000)])
    frequencies = np.bincount(draws, minlength=3) / draws.size
    np.testing.assert_allclose(frequencies, model.transitions[1, 2, 1], atol=0.015)
    assert sampler.step(0, 1, 0, rng)[0] == model.rewards[0, 1, 0]
