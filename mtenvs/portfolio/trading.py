"""Portfolio accounting: rebalancing costs, the one-period log return and weight drift (paper 004, Sec. 6.2).

Weights are vectors over ``(cash, asset_1, ..., asset_m)``; cash has price relative 1 and trades free of
commission (only the assets bought or sold pay). With previous end-of-period weights ``w`` (after drift), new
weights ``a`` chosen at the start of the period, price relatives ``y`` and commission rate ``c``:

* transaction remainder ``mu``: the fraction of wealth left after rebalancing from ``w`` to ``a``. The paper prints
  ``beta ≈ c sum_i |w_i - a_i|``, a typo for the first-order form ``mu = 1 - c sum_{i>=1} |w_i - a_i|`` used in
  Jiang et al. (2017)'s code; `exact_remainder` solves the exact accounting (Jiang et al. 2017, eq. 14);
* reward ``R = ln(mu) + ln(a · y)``, so returns add up to the log growth of the portfolio value;
* end-of-period weights ``w' = a ⊙ y / (a · y)``.
"""

from __future__ import annotations

import numpy as np


def linear_remainder(previous: np.ndarray, target: np.ndarray, commission: float) -> float:
    """``1 - c * sum_{i>=1} |w_i - a_i|``: the remainder factor to first order in ``c`` (index 0 is cash)."""
    return 1.0 - commission * float(np.abs(previous[1:] - target[1:]).sum())


def exact_remainder(previous: np.ndarray, target: np.ndarray, commission: float, iterations: int = 50) -> float:
    """The exact remainder factor when selling and buying both pay ``c`` (Jiang et al. 2017, eq. 14).

    Solves ``mu = [1 - c w_0 - (2c - c^2) sum_{i>=1} (w_i - mu a_i)^+] / (1 - c a_0)`` by fixed-point iteration
    from ``mu = 1 - c sum |w_i - a_i|`` (the map is a contraction for ``c < 1/2``).
    """
    c = commission
    mu = linear_remainder(previous, target, c)
    for _ in range(iterations):
        sold = np.clip(previous[1:] - mu * target[1:], 0.0, None).sum()
        updated = (1.0 - c * previous[0] - (2 * c - c * c) * sold) / (1.0 - c * target[0])
        if abs(updated - mu) < 1e-15:
            return float(updated)
        mu = updated
    return float(mu)


def period_log_return(previous: np.ndarray, target: np.ndarray, relatives: np.ndarray, commission: float,
                      exact: bool = False) -> tuple[float, float]:
    """``(R, mu)``: the log return ``ln(mu) + ln(a · y)`` of one period and the remainder factor ``mu``."""
    mu = exact_remainder(previous, target, commission) if exact else linear_remainder(previous, target, commission)
    return float(np.log(mu) + np.log(float(target @ relatives))), mu


def drift(weights: np.ndarray, relatives: np.ndarray) -> np.ndarray:
    """End-of-period weights ``a ⊙ y / (a · y)`` after prices moved by ``relatives``."""
    grown = weights * relatives
    return grown / grown.sum()
