"""A seeded synthetic stock market with learnable structure (the fast price source of the portfolio family).

Daily log returns follow a one-factor model with a persistent per-asset drift (our stand-in for the stock data of
paper 004, Sec. 6.2, whose tickers and source are not given and which cannot be fetched offline):

``r[n, i] = mu + b_i f_n + signal_strength * s[n, i] + sigma_i eps[n, i]``

* ``f_n ~ N(0, market_vol^2)``: a common market factor, loadings ``b_i ~ U(0.5, 1.5)``;
* ``s[n, i]``: a stationary AR(1) with unit variance and autocorrelation ``persistence`` (a momentum regime),
  the same law for every asset, so assets stay exchangeable; a policy that reads the price window can detect it;
* ``sigma_i ~ U(0.015, 0.025)``: idiosyncratic volatility.

The open is the previous close times ``exp(N(0, (sigma_i / 4)^2))``; high and low extend ``max``/``min`` of open
and close by ``exp(±|N(0, (sigma_i / 2)^2)|)``. With ``signal_strength = 0`` prices are a random walk and no policy
beats equal weights in expectation.
"""

from __future__ import annotations

import functools

import numpy as np

from mtenvs.portfolio.data import PriceData

#: The paper's universe: 50 training and 18 held-out instruments, daily data 2009-2019.
PAPER_UNIVERSE = 68


def business_days(start: str, end: str) -> np.ndarray:
    """Weekdays from ``start`` to ``end`` inclusive (``datetime64[D]``)."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    return days[np.is_busday(days)]


@functools.lru_cache(maxsize=8)
def synthetic_market(
    n_assets: int = PAPER_UNIVERSE,
    start: str = "2009-01-01",
    end: str = "2019-12-31",
    seed: int = 0,
    signal_strength: float = 0.002,
    persistence: float = 0.98,
    market_vol: float = 0.01,
    drift: float = 0.0003,
) -> PriceData:
    """Prices of ``n_assets`` tickers ``SYN00, SYN01, ...`` on the weekdays from ``start`` to ``end``.

    Same arguments, same prices (the result is cached). See the module docstring for the model.
    """
    if isinstance(n_assets, bool) or not isinstance(n_assets, (int, np.integer)) or n_assets < 2:
        raise ValueError(f"synthetic_market: n_assets must be an integer >= 2, got {n_assets!r}")
    if not 0 <= persistence < 1:
        raise ValueError(f"synthetic_market: persistence must be in [0, 1), got {persistence!r}")
    if not (np.isfinite(signal_strength) and signal_strength >= 0 and market_vol >= 0 and np.isfinite(drift)):
        raise ValueError("synthetic_market: signal_strength and market_vol must be finite and >= 0, drift finite")
    dates = business_days(start, end)
    rng = np.random.default_rng(seed)
    t, m = len(dates), int(n_assets)
    loadings = rng.uniform(0.5, 1.5, m)
    sigma = rng.uniform(0.015, 0.025, m)
    factor = rng.normal(0.0, market_vol, t)
    shocks = rng.normal(size=(t, m))
    signal = np.empty((t, m))
    signal[0] = rng.normal(size=m)
    innovation = np.sqrt(1.0 - persistence**2) * rng.normal(size=(t, m))
    for n in range(1, t):  # an AR(1) recursion; scipy.signal.lfilter would do the same along axis 0
        signal[n] = persistence * signal[n - 1] + innovation[n]
    log_returns = drift + factor[:, None] * loadings + signal_strength * signal + sigma * shocks
    log_returns[0] = 0.0
    close = 100.0 * np.exp(np.cumsum(log_returns, axis=0))
    previous = np.vstack([close[:1], close[:-1]])
    opening = previous * np.exp(rng.normal(size=(t, m)) * sigma / 4)
    high = np.maximum(opening, close) * np.exp(np.abs(rng.normal(size=(t, m))) * sigma / 2)
    low = np.minimum(opening, close) * np.exp(-np.abs(rng.normal(size=(t, m))) * sigma / 2)
    tickers = tuple(f"SYN{i:02d}" for i in range(m))
    return PriceData(dates, tickers, close, high, low, has_high_low=True, name="synthetic")
