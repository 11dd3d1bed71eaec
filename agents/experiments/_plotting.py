"""Plot pieces shared by the reproductions: a mean curve with its spread over seeds, error bars, integer ticks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mtenvs.runner.stats import mean_ci


def interval(runs: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Pointwise mean of ``runs`` (one row per seed) and its 95% Student-t interval (``None`` for one seed)."""
    data = np.asarray(runs, dtype=float)
    estimates = [mean_ci(list(column)) for column in data.T]
    mean = np.array([e.mean for e in estimates], dtype=float)
    if data.shape[0] < 2:
        return mean, None, None
    low = np.array([np.nan if e.low is None else e.low for e in estimates], dtype=float)
    high = np.array([np.nan if e.high is None else e.high for e in estimates], dtype=float)
    return mean, low, high


def mean_band(axis: Any, x: Sequence[float], runs: Sequence[Sequence[float]], *, spread: str = "range",
              **style: Any) -> Any:
    """Draw the mean of ``runs`` over seeds and shade their spread where there are several seeds.

    Args:
        axis: the matplotlib axes.
        x: the abscissae, one per column of ``runs``.
        runs: one row per seed.
        spread: ``"range"`` (lowest to highest seed; readable with the two or three seeds of a scaled run) or
            ``"ci"`` (the 95% Student-t interval of the mean, which two seeds make very wide).
        **style: passed to ``axis.plot`` (``label``, ``color``, ``marker``...).

    Returns:
        The plotted line.
    """
    if spread not in ("range", "ci"):
        raise ValueError(f"spread must be 'range' or 'ci', got {spread!r}")
    data = np.asarray(runs, dtype=float)
    mean, low, high = interval(data)
    (line,) = axis.plot(x, mean, **style)
    if data.shape[0] > 1:
        if spread == "range":
            low, high = data.min(axis=0), data.max(axis=0)
        axis.fill_between(x, low, high, color=line.get_color(), alpha=0.15, lw=0)
    return line


def estimate_bars(axis: Any, x: Sequence[float], estimates: Sequence[dict[str, Any]], *, positive: bool = False,
                  **style: Any) -> Any:
    """Error bars from summary estimates (``{"mean", "low", "high"}``; no bar where the interval is missing).

    With ``positive`` (log-scale axes) a lower bar never reaches zero.
    """
    mean = np.array([e["mean"] for e in estimates], dtype=float)
    low = np.array([e["mean"] - e["low"] if e.get("low") is not None else 0.0 for e in estimates])
    high = np.array([e["high"] - e["mean"] if e.get("high") is not None else 0.0 for e in estimates])
    if positive:
        low = np.minimum(low, 0.9 * mean)
    return axis.errorbar(x, mean, yerr=[low, high], capsize=3, **style)


def integer_ticks(axis: Any) -> None:
    """Whole-number ticks on the x axis (iterations, rounds)."""
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
