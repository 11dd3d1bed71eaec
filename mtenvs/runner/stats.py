"""Summary statistics over independent replicates: the mean with a Student-t 95% confidence interval."""

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


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean of ``values`` with the Student-t interval ``mean ± t_{(1+c)/2, n-1} · s / √n``.

    The t-interval assumes roughly normal replicate means; with the few seeds papers use it is wider (more honest)
    than a bootstrap interval. Non-finite values are dropped (a diverged replicate has no value to average).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        return Estimate(None, None, None, 0, confidence)
    mean = float(data.mean())
    if n == 1:
        return Estimate(mean, None, None, 1, confidence)
    from scipy import stats  # scipy.stats takes a few hundred ms to import; only runs that summarize need it

    half = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1) * data.std(ddof=1) / math.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n, confidence)


def mean_over_seeds(config: Any, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Default aggregate: for every numeric top-level metric, the mean over each replicate, then :func:`mean_ci`.

    Units are grouped by their ``seed`` parameter (each unit is its own replicate if it has none), so with units
    ``(seed, task)`` each replicate contributes its mean over tasks. Non-numeric and nested metrics are left to
    experiment-specific aggregates.
    """
    del config  # the default does not depend on the configuration
    groups: dict[str, dict[Any, list[float]]] = {}
    for record in records:
        replicate = record.params.get("seed", record.key)
        for name, value in record.metrics.items():
            if value is None or (isinstance(value, Real) and not isinstance(value, bool)):
                groups.setdefault(name, {}).setdefault(replicate, []).append(math.nan if value is None else float(value))
    return {name: mean_ci([float(np.mean(v)) for v in by_replicate.values()]).to_json()
            for name, by_replicate in groups.items()}


def is_estimate(value: Any) -> bool:
    """Whether a summary value is the JSON form of an :class:`Estimate`."""
    return isinstance(value, Mapping) and {"mean", "low", "high", "n"} <= set(value)
