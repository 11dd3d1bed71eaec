"""Paper 000's sharing metrics against brute force and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.sharing.metrics import frames_to_reach, normalized_reward, running_mean, slope


def test_normalized_reward_maps_random_to_zero_and_isolated_to_one() -> None:
    assert normalized_reward(-3.0, -3.0, 5.0) == 0.0
    assert normalized_reward(5.0, -3.0, 5.0) == 1.0
    assert normalized_reward(9.0, -3.0, 5.0) == pytest.approx(1.5)
    assert math.isnan(normalized_reward(1.0, 2.0, 2.0))  # isolated no better than random: undefined


def test_running_mean_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(size=17)
    for window in (1, 3, 5, 40):
        brute = [r[max(0, k + 1 - window) : k + 1].mean() for k in range(len(r))]
        np.testing.assert_allclose(running_mean(r, window), brute)
    with pytest.raises(ValueError, match="window"):
        running_mean(r, 0)


def test_frames_to_reach_is_the_first_episode_end_over_threshold() -> None:
    frames, returns = [100, 250, 400, 520], [0.0, 2.0, 4.0, 1.0]
    assert frames_to_reach(frames, returns, 2.0, window=1) == 250
    assert frames_to_reach(frames, returns, 2.0, window=2) == 400  # running means 0, 1, 3, 2.5
    assert frames_to_reach(frames, returns, 5.0, window=1) is None
    assert frames_to_reach([], [], 0.0, window=1) is None


def test_slope_matches_least_squares() -> None:
    xs, ys = [1, 3, 5, 10, 20], [1.0, 2.5, 4.6, 9.0, 17.0]
    assert slope(xs, ys) == pytest.approx(np.polyfit(xs, ys, 1)[0])
    assert slope([1, 2, 3], [1.0, float("nan"), 3.0]) == pytest.approx(1.0)
    assert slope([1, 1], [0.0, 1.0]) is None
