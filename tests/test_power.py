"""The seeds a run needs for its interval to exclude 0 (`mtenvs.runner.stats.seeds_for_power`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtenvs.runner.stats import mean_ci, seeds_for_power


@pytest.mark.parametrize("values", [[0.064, -0.002, -0.028, 0.488, 0.005], [1.0, 2.0, 3.0], [-0.3, 0.1, -0.5, -0.2]])
def test_seeds_match_statsmodels_one_sided_t_test_power(values: list[float]) -> None:
    """The interval excludes 0 exactly when a one-sided t-test at level (1 - c)/2 rejects: statsmodels' solver."""
    from statsmodels.stats.power import TTestPower

    effect = abs(np.mean(values)) / np.std(values, ddof=1)
    expected = TTestPower().solve_power(effect_size=effect, alpha=0.025, power=0.8, alternative="larger")
    assert seeds_for_power(values) == max(2, math.ceil(expected))


def test_simulated_runs_at_that_many_seeds_have_that_power() -> None:
    """Normal per-seed values with the pilot's mean and sd: the share of runs whose 95% interval lies above 0 is about
    0.8 at the returned n and well below it at half of n."""
    rng = np.random.default_rng(0)
    n = seeds_for_power([0.2, 0.9, -0.1, 0.6])  # mean 0.4, sd ≈ 0.43: effect ≈ 0.93
    assert n is not None

    def share(seeds: int) -> float:
        return float(np.mean([mean_ci(list(rng.normal(0.4, np.std([0.2, 0.9, -0.1, 0.6], ddof=1), seeds))).low > 0
                              for _ in range(3000)]))

    assert 0.77 <= share(n) <= 0.86
    assert share(n // 2) < 0.6


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ValueError, match="power"):
        seeds_for_power([1.0, 2.0], power=1.0)
    with pytest.raises(ValueError, match="confidence"):
        seeds_for_power([1.0, 2.0], confidence=0)
    with pytest.raises(ValueError, match="values"):
        seeds_for_power([1.0])
    with pytest.raises(ValueError, match="values"):
        seeds_for_power([1.0, 1.0])
    assert seeds_for_power([-1.0, 1.0]) is None  # no effect, no number of seeds
