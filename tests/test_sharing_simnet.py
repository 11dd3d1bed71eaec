"""SimNet distances, the τ calibration, the matcher and confusion matrix on known clusters, and SimNet training."""

from __future__ import annotations

import numpy as np
import pytest

from agents.sharing.simnet import (
    SimilarityMatcher,
    SimNet,
    SimNetConfig,
    calibrate_tau,
    confusion_matrix,
    input_profile,
    parameter_distance,
)


def test_parameter_distance_is_euclidean() -> None:
    assert parameter_distance(np.array([0.0, 3.0]), np.array([4.0, 0.0])) == 5.0
    with pytest.raises(ValueError, match="same shape"):
        parameter_distance(np.zeros(2), np.zeros(3))


def test_input_profile_sums_absolute_first_layer_changes_per_input() -> None:
    init = np.zeros(2 * 3 + 5)
    params = init.copy()
    params[:6] = [1, -2, 0, 3, 0, 0]  # W1 is 2 x 3 (hidden x inputs), row-major; the tail is other layers
    params[6:] = 100.0  # later layers do not enter
    expected = np.array([4.0, 2.0, 0.0])
    np.testing.assert_allclose(input_profile(params, init, n_inputs=3, hidden=2), expected / np.linalg.norm(expected))


def test_calibrated_tau_is_half_the_median_cross_label_distance() -> None:
    points = [np.array([0.0]), np.array([0.1]), np.array([10.0]), np.array([30.0])]
    labels = ["a", "a", "b", "c"]
    cross = [10.0, 30.0, 9.9, 29.9, 20.0]
    assert calibrate_tau(points, labels) == pytest.approx(0.5 * np.median(cross))
    with pytest.raises(ValueError, match="two different labels"):
        calibrate_tau(points[:2], labels[:2])


def test_matcher_takes_the_nearest_and_applies_tau() -> None:
    matcher = SimilarityMatcher(tau=1.0)
    stored = {"a": np.zeros(2), "b": np.array([3.0, 0.0])}
    assert matcher.match(np.array([2.5, 0.0]), stored) == ("b", 0.5, True)
    assert matcher.match(np.array([1.5, 1.5]), stored).accepted is False  # type: ignore[union-attr]
    assert matcher.match(np.zeros(2), {}) is None
    with pytest.raises(ValueError, match="metric"):
        SimilarityMatcher(metric="cosine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs init"):
        SimilarityMatcher(metric="input_profile")


def test_confusion_matrix_on_separated_and_overlapping_clusters() -> None:
    rng = np.random.default_rng(0)
    centres = {"A": np.zeros(5), "B": np.full(5, 10.0), "C": np.full(5, -10.0)}
    stored = {g: [c + rng.normal(0, 0.1, 5) for _ in range(2)] for g, c in centres.items()}
    held = {g: [c + rng.normal(0, 0.1, 5) for _ in range(3)] for g, c in centres.items()}
    matcher = SimilarityMatcher()
    matcher.calibrate([p for ps in stored.values() for p in ps], [g for g, ps in stored.items() for _ in ps])
    games, counts = confusion_matrix(stored, held, matcher)
    assert games == ["A", "B", "C"]
    np.testing.assert_array_equal(counts, np.hstack([3 * np.eye(3, dtype=int), np.zeros((3, 1), int)]))
    strict = SimilarityMatcher(tau=1e-6)  # everything rejected: the last column counts rejections
    np.testing.assert_array_equal(confusion_matrix(stored, held, strict)[1][:, 3], [3, 3, 3])
    with pytest.raises(ValueError, match="no stored SimNets"):
        confusion_matrix({"A": stored["A"]}, {"B": held["B"]}, matcher)


def test_simnet_starts_from_one_shared_point_and_trains_deterministically() -> None:
    config = SimNetConfig(steps=120, learning_starts=40, target_update_interval=40, max_episode_steps=60)
    net, other = SimNet(config), SimNet(config)
    start = net.initial_parameters
    assert start.shape == (128 * 64 + 64 + 64 * 18 + 18,)
    np.testing.assert_array_equal(start, other.initial_parameters)
    model = net.model(_dummy_env(), seed=5)  # any seed: the Q-networks start at the shared point
    import torch as th

    for q in (model.q_net, model.q_net_target):
        np.testing.assert_array_equal(th.nn.utils.parameters_to_vector(q.parameters()).detach().numpy(), start)
    a, b = net.fit("Breakout", seed=1), other.fit("Breakout", seed=1)
    np.testing.assert_array_equal(a, b)
    assert parameter_distance(a, start) > 0


def test_simnet_config_is_validated() -> None:
    with pytest.raises(ValueError, match="learning_starts"):
        SimNetConfig(steps=100, learning_starts=100)
    with pytest.raises(ValueError, match="hidden"):
        SimNetConfig(hidden=0)


def _dummy_env():
    import gymnasium as gym
    from gymnasium import spaces

    class Ram(gym.Env):
        observation_space = spaces.Box(0, 255, (128,), np.uint8)
        action_space = spaces.Discrete(18)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(128, np.uint8), {}

        def step(self, action):
            return np.zeros(128, np.uint8), 0.0, True, False, {}

    return Ram()


@pytest.mark.slow
def test_input_profile_identifies_held_out_games() -> None:
    """Held-out check at toy size: SimNets of three games from new seeds match their own game's stored SimNet."""
    config = SimNetConfig(steps=300, learning_starts=30, target_update_interval=15, max_episode_steps=100)
    net = SimNet(config)
    games = ["Boxing", "Freeway", "Breakout"]
    stored = {g: [net.fit(g, seed=0)] for g in games}
    held = {g: [net.fit(g, seed=1)] for g in games}
    matcher = SimilarityMatcher(metric="input_profile", init=net.initial_parameters)
    matcher.calibrate([stored[g][0] for g in games], games)
    _, counts = confusion_matrix(stored, held, matcher)
    np.testing.assert_array_equal(counts[:, :3], np.eye(3, dtype=int))
