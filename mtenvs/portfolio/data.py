"""Daily price tables for the portfolio family: the `PriceData` container and its sources.

Sources:

* ``"sp500"``: daily closes of 20 S&P 500 stocks, 1990-01-02 to 2022-12-28, shipped inside the ``skfolio`` wheel
  (`sp500_prices`; no download). The table has closes only, so high and low equal the close.
* ``"synthetic"``: a seeded generator (`mtenvs.portfolio.market.synthetic_market`).
* a CSV file or a pandas ``DataFrame`` of daily prices (`csv_prices`, `from_dataframe`), in one of two
  layouts: *wide* (a date column or index, then one close column per ticker) or *long* (columns ``date``,
  ``ticker``, ``close`` and optionally ``high`` and ``low``; other columns such as ``open`` are ignored).

Missing prices are forward-filled (no trade on that day: the price stays) and the leading days on which some
ticker has no price yet are dropped.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class PriceData:
    """Daily close, high and low prices of a universe of tickers on a common calendar.

    Attributes:
        dates: trading days, ``datetime64[D]``, strictly increasing, shape ``(T,)``.
        tickers: the universe, one name per column.
        close, high, low: prices, shape ``(T, M)``, positive and finite, ``low <= close <= high``.
        has_high_low: whether high and low are real data (``False``: they are copies of the close).
    """

    dates: np.ndarray
    tickers: tuple[str, ...]
    close: np.ndarray
    high: np.ndarray
    low: np.ndarray
    has_high_low: bool = True
    name: str = field(default="prices")

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates).astype("datetime64[D]")
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "tickers", tuple(str(t) for t in self.tickers))
        shape = (len(dates), len(self.tickers))
        for name in ("close", "high", "low"):
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if array.shape != shape:
                raise ValueError(f"PriceData: {name} must have shape (days, tickers) = {shape}, got {array.shape}")
            if not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise ValueError(f"PriceData: {name} prices must be positive and finite")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if len(set(self.tickers)) != len(self.tickers):
            raise ValueError(f"PriceData: tickers must be unique, got {list(self.tickers)}")
        if len(dates) < 2 or np.any(np.diff(dates) <= np.timedelta64(0, "D")):
            raise ValueError("PriceData: dates must be strictly increasing, with at least two days")
        if np.any(self.low > self.close * (1 + 1e-9)) or np.any(self.high < self.close * (1 - 1e-9)):
            raise ValueError("PriceData: prices must satisfy low <= close <= high")

    @property
    def n_days(self) -> int:
        """Number of trading days ``T``."""
        return len(self.dates)

    def to_frame(self, field: str = "close") -> Any:
        """One price field as a wide pandas ``DataFrame`` (index ``date``, one column per ticker)."""
        import pandas as pd

        if field not in ("close", "high", "low"):
            raise ValueError(f"PriceData.to_frame: field must be 'close', 'high' or 'low', got {field!r}")
        index = pd.DatetimeIndex(self.dates.astype("datetime64[ns]"), name="date")
        return pd.DataFrame(np.asarray(getattr(self, field)), index=index, columns=list(self.tickers))


# ------------------------------------------------------------------------------------------------ pandas input
def _clean(frame: Any, owner: str) -> Any:
    """Sort by date, forward-fill gaps and drop the leading days on which some ticker has no price."""
    frame = frame.sort_index().ffill()
    complete = frame.notna().all(axis=1).to_numpy()
    if not complete.any():
        raise ValueError(f"{owner}: no day has a price for every ticker")
    return frame.iloc[int(np.argmax(complete)):]


def from_dataframe(frame: Any, name: str = "dataframe") -> PriceData:
    """A `PriceData` from a pandas ``DataFrame`` in the wide or the long layout (see the module docstring).

    Raises:
        ValueError: for a missing date or close column, unparsable dates, or prices that are not positive.
    """
    import pandas as pd

    owner = f"price data {name!r}"
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    lower = {c.lower(): c for c in frame.columns}
    if "ticker" in lower:
        missing = [c for c in ("date", "close") if c not in lower]
        if missing:
            raise ValueError(f"{owner}: a long table needs columns date, ticker and close; missing {missing}")
        frame[lower["date"]] = pd.to_datetime(frame[lower["date"]])
        fields = {f: frame.pivot_table(index=lower["date"], columns=lower["ticker"], values=lower[f], aggfunc="last")
                  for f in ("close", "high", "low") if f in lower}
        has_high_low = "high" in fields and "low" in fields
    else:
        if "date" in lower:
            frame = frame.set_index(lower["date"])
        elif not isinstance(frame.index, pd.DatetimeIndex):  # e.g. a CSV whose date column has no header
            frame = frame.set_index(frame.columns[0])
        try:
            frame.index = pd.to_datetime(frame.index)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{owner}: a wide table needs dates in its first column or index ({error})") from None
        fields = {"close": frame.apply(pd.to_numeric, errors="coerce")}
        has_high_low = False
    close = _clean(fields["close"], owner)
    tickers = [str(t) for t in close.columns]
    if has_high_low:
        high = _clean(fields["high"], owner).reindex(index=close.index, columns=close.columns).fillna(close)
        low = _clean(fields["low"], owner).reindex(index=close.index, columns=close.columns).fillna(close)
        high_values = np.maximum(high.to_numpy(float), close.to_numpy(float))
        low_values = np.minimum(low.to_numpy(float), close.to_numpy(float))
    else:
        high_values = low_values = close.to_numpy(float)
    return PriceData(close.index.to_numpy().astype("datetime64[D]"), tuple(tickers), close.to_numpy(float),
                     high_values, low_values, has_high_low=has_high_low, name=name)


def csv_prices(path: str | os.PathLike[str]) -> PriceData:
    """Daily prices from a CSV file (wide or long layout; see the module docstring)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"price source: no such CSV file {path!r}")
    return _cached_csv(path, os.path.getmtime(path))


@functools.lru_cache(maxsize=8)
def _cached_csv(path: str, mtime: float) -> PriceData:
    import pandas as pd

    return from_dataframe(pd.read_csv(path), name=os.path.basename(path))


@functools.lru_cache(maxsize=1)
def sp500_prices() -> PriceData:
    """Daily closes of 20 S&P 500 stocks, 1990-01-02 to 2022-12-28 (8,313 days), from ``skfolio``'s bundled data.

    Closes only (high = low = close). Prices are split-adjusted and rounded to 3 decimals, so early prices of
    some stocks (e.g. AAPL at 0.264 in 1990) move in coarse steps.
    """
    try:
        from skfolio.datasets import load_sp500_dataset
    except ImportError as error:
        raise ValueError("price source 'sp500' needs the skfolio package (pip install skfolio)") from error
    return from_dataframe(load_sp500_dataset(), name="sp500")
