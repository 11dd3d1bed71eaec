"""Summary statistics over independent replicates: the mean with a Student-t 95% confidence interval.

A metric with a declared range (regret >= 0, a fraction in [0, 1]) gets the Student-t interval intersected with
that range. The mean of values inside the range lies inside it, so cutting away the impossible part of the interval
keeps its coverage; unlike a percentile bootstrap, whose interval for 2 to 5 seeds covers far less than its nominal
95%, the intersected interval stays honest with the few seeds the papers use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from mtenvs.runner.units import UnitRecord


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` independent replicates with a two-sided ``confidence`` interval ``[low, high]``.

    ``low``/``high`` are ``None`` when ``n < 2`` (no interval exists) and ``mean`` is ``None`` when ``n == 0``.
    """

    mean: float | None
    low: float | None
    high: float | None
    n: int
    confidence: float = 0.95
    method: str = "student-t"

    def to_json(self) -> dict[str, Any]:
        """The form stored in ``results.json`` (the schema's ``estimate``)."""
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n,
                "confidence": self.confidence, "method": self.method}


Bounds = tuple[float | None, float | None]


def _check_bounds(bounds: Bounds) -> tuple[float, float]:
    """``bounds`` as two floats (``None`` is unbounded); ``ValueError`` unless ``low <= high``."""
    if not (isinstance(bounds, tuple) and len(bounds) == 2):
        raise ValueError(f"bounds must be a pair (low, high) with None for no bound, got {bounds!r}")
    low = -math.inf if bounds[0] is None else float(bounds[0])
    high = math.inf if bounds[1] is None else float(bounds[1])
    if not low <= high:
        raise ValueError(f"bounds must have low <= high, got {bounds!r}")
    return low, high


def range_text(bounds: Bounds) -> str:
    """A declared range as ``[0, inf)`` or ``[0, 1]``."""
    low, high = _check_bounds(bounds)
    left = "(-inf" if low == -math.inf else f"[{low:g}"
    right = "inf)" if high == math.inf else f"{high:g}]"
    return f"{left}, {right}"


def mean_ci(values: Sequence[float], confidence: float = 0.95, bounds: Bounds | None = None) -> Estimate:
    """Mean of ``values`` with the Student-t interval ``mean ± t_{(1+c)/2, n-1} · s / √n``.

    The t-interval assumes roughly normal replicate means; with the few seeds papers use it is wider (more honest)
    than a bootstrap interval. Non-finite values are dropped (a diverged replicate has no value to average).

    Args:
        values: one value per independent replicate.
        confidence: two-sided confidence level in (0, 1).
        bounds: the metric's range ``(low, high)``, ``None`` for an open side (regret: ``(0, None)``, a fraction:
            ``(0, 1)``). The interval is intersected with it (method ``"student-t, clipped to [0, inf)"``), which keeps
            its coverage since the mean of values in the range lies in the range.

    Raises:
        ValueError: ``confidence`` is outside (0, 1), ``bounds`` is malformed, or a value lies outside ``bounds``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    method = "student-t"
    if bounds is not None:
        low, high = _check_bounds(bounds)
        outside = data[(data < low) | (data > high)]
        if outside.size:
            raise ValueError(f"values must lie in the declared range {range_text(bounds)}, got {outside[0]!r}")
        method = f"student-t, clipped to {range_text(bounds)}"
    n = int(data.size)
    if n == 0:
        return Estimate(None, None, None, 0, confidence, method)
    mean = float(data.mean())
    if n == 1:
        return Estimate(mean, None, None, 1, confidence, method)
    from scipy import stats  # scipy.stats takes a few hundred ms to import; only runs that summarize need it

    half = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1) * data.std(ddof=1) / math.sqrt(n))
    if bounds is None:
        return Estimate(mean, mean - half, mean + half, n, confidence)
    return Estimate(mean, max(mean - half, low), min(mean + half, high), n, confidence, method)


def mean_over_seeds(config: Any, records: Sequence[UnitRecord], *,
                    bounds: Mapping[str, Bounds] | None = None) -> dict[str, Any]:
    """Default aggregate: for every numeric top-level metric, the mean over each replicate, then `mean_ci`.

    Units are grouped by their ``seed`` parameter (each unit is its own replicate if it has none), so with units
    ``(seed, task)`` each replicate contributes its mean over tasks. Non-numeric and nested metrics are left to
    experiment-specific aggregates. ``bounds`` declares the range of metrics by name (``{"regret": (0, None)}``);
    an experiment passes it with ``functools.partial(mean_over_seeds, bounds=...)``.
    """
    del config  # the default does not depend on the configuration
    bounds = bounds or {}
    groups: dict[str, dict[Any, list[float]]] = {}
    for record in records:
        replicate = record.params.get("seed", record.key)
        for name, value in record.metrics.items():
            if value is None or (isinstance(value, Real) and not isinstance(value, bool)):
                groups.setdefault(name, {}).setdefault(replicate, []).append(math.nan if value is None else float(value))
    return {name: mean_ci([float(np.mean(v)) for v in by_replicate.values()], bounds=bounds.get(name)).to_json()
            for name, by_replicate in groups.items()}


def is_estimate(value: Any) -> bool:
    """Whether a summary value is the JSON form of an `Estimate`."""
    return isinstance(value, Mapping) and {"mean", "low", "high", "n"} <= set(value)


def seeds_for_power(values: Sequence[float], power: float = 0.8, confidence: float = 0.95,
                    max_seeds: int = 100_000) -> int | None:
    """How many seeds a run needs for its ``confidence`` interval of the mean to exclude 0 with probability ``power``.

    A power calculation for the verdict rule of this module: the two-sided Student-t interval of ``n`` replicates
    lies above 0 (or below) exactly when the one-sided t-test at level ``(1 - confidence) / 2`` rejects a zero mean.
    With the effect size ``d = |mean| / sd`` estimated from ``values`` (a pilot run's per-seed values), its power at
    ``n`` seeds is ``P(T'_{n-1, d√n} > t_{(1+c)/2, n-1})`` (noncentral t). The estimate assumes roughly normal
    per-seed values; heavy tails (a few failed seeds) make it optimistic or pessimistic, so read it as an order of
    magnitude.

    Args:
        values: per-seed values of a pilot run (at least 2, not all equal).
        power: the wanted probability that the interval excludes 0, in (0, 1).
        confidence: the interval's two-sided confidence level, in (0, 1).
        max_seeds: the search stops there.

    Returns:
        The smallest number of seeds (at least 2) with at least ``power``, or ``None`` when the mean is 0 or more
        than ``max_seeds`` would be needed.
    """
    from scipy import stats

    for name, level in (("power", power), ("confidence", confidence)):
        if not (isinstance(level, Real) and 0 < level < 1):
            raise ValueError(f"{name} must be in (0, 1), got {level!r}")
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if data.size < 2:
        raise ValueError(f"values must hold at least 2 finite per-seed values, got {data.size}")
    sd = float(data.std(ddof=1))
    if sd == 0:
        raise ValueError("values must not all be equal (no spread to estimate an effect size from)")
    effect = abs(float(data.mean())) / sd
    if effect == 0:
        return None

    def power_at(n: int) -> float:
        critical = stats.t.ppf((1 + confidence) / 2, n - 1)
        return float(stats.nct.sf(critical, n - 1, effect * math.sqrt(n)))

    low, high = 2, 2
    while power_at(high) < power:  # power grows with n: double, then bisect
        if high >= max_seeds:
            return None
        low, high = high, min(2 * high, max_seeds)
    while low < high:
        middle = (low + high) // 2
        if power_at(middle) >= power:
            high = middle
        else:
            low = middle + 1
    return high
