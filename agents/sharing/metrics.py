"""Paper 000's metrics for the sharing system (§4).

* normalized agent reward: ``(R - R_random) / (R_isolated - R_random)`` per task (random = 0, isolated = 1), then
  averaged over tasks and agents; the aggregate sums the agents' averages;
* frames to reach ``x`` of the isolated reward: the first own frame at which the running mean of the last
  ``window`` training-episode returns reaches ``R_random + x (R_isolated - R_random)`` (Fig. 2);
* the slope of a metric against N (``scipy.stats.linregress``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["frames_to_reach", "normalized_reward", "running_mean", "slope"]


def normalized_reward(reward: float, random: float, isolated: float, min_gap: float = 1e-6) -> float:
    """``(R - R_random) / (R_isolated - R_random)``; NaN when the isolated agent is within ``min_gap`` of random."""
    gap = isolated - random
    if not np.isfinite(reward) or not np.isfinite(gap) or abs(gap) <= min_gap:
        return float("nan")
    return float((reward - random) / gap)


def running_mean(returns: Sequence[float], window: int) -> np.ndarray:
    """Mean of the last ``window`` returns at every episode (fewer at the start)."""
    if window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    r = np.asarray(returns, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(r)])
    k = np.arange(1, len(r) + 1)
    lo = np.maximum(0, k - window)
    return (cumulative[k] - cumulative[lo]) / (k - lo)


def frames_to_reach(frames: Sequence[int], returns: Sequence[float], threshold: float, window: int) -> int | None:
    """First episode-end frame whose running mean (``window`` episodes) is at least ``threshold``; ``None`` if never."""
    if len(frames) != len(returns):
        raise ValueError(f"frames and returns must have the same length, got {len(frames)} and {len(returns)}")
    if not len(returns):
        return None
    hits = np.flatnonzero(running_mean(returns, window) >= threshold)
    return int(frames[hits[0]]) if hits.size else None


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ``ys`` against ``xs`` (NaN pairs dropped); ``None`` with fewer than two distinct x."""
    from scipy import stats

    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if np.unique(x[keep]).size < 2:
        return None
    return float(stats.linregress(x[keep], y[keep]).slope)
