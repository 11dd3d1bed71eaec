"""Portfolio allocation over assets drawn from a universe (paper 004, Sec. 6.2; reward of Jiang et al. 2017).

Reads top to bottom: parameters and task sets, the price sources and the universe split, the environment,
the vector environment, reference policies, rendering.

A task is a portfolio: ``n_assets`` assets drawn (by the integer ``selection``) from the training universe or from
the held-out assets (``pool``), traded over the training period or the held-out final period (``period``), at a
commission rate (``commission``). The price source, the universe split and the split date are environment
settings, so the same task means the same draw on every source.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import TaskEnv, box_action
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Categorical, Continuous, Integer, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.simplex import normalize_allocation
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.portfolio.data import PriceData, csv_prices, from_dataframe, sp500_prices
from mtenvs.portfolio.market import synthetic_market
from mtenvs.portfolio.trading import drift, period_log_return
from mtenvs.rendering import require_reset

# ------------------------------------------------------------------------------------------------ parameters
MAX_SELECTION = 999_999
PARAMETERS = ParameterSpace([
    Continuous("commission", 0.0025, bounds=(0.0, 0.05),
               description="proportional transaction cost c on every asset bought or sold (Jiang et al. 2017: 0.25%)"),
    Integer("selection", 0, bounds=(0, MAX_SELECTION), train=(0, MAX_SELECTION),
            description="which portfolio of the pool: seeds the draw of n_assets assets without replacement"),
    Categorical("pool", "train", choices=("train", "heldout"),
                description="draw the assets from the training universe or from the held-out assets"),
    Categorical("period", "train", choices=("train", "test"),
                description="trade in the training period or in the held-out final period (from split_date on)"),
])


def _heldout_period(family: TaskFamily) -> list[Task]:
    return [task.replace(period="test") for task in family.task_set("train")]


def _heldout_assets(family: TaskFamily) -> list[Task]:
    return [task.replace(pool="heldout", period="test") for task in family.task_set("test")]


FAMILY = TaskFamily(
    "Portfolio",
    PARAMETERS,
    description="Daily rebalancing of a portfolio of cash plus assets drawn from a universe; reward = log return "
                "after proportional transaction costs. Tasks differ in the assets, the period and the commission.",
    task_sets={"heldout_period": _heldout_period, "heldout_assets": _heldout_assets},
)


# ------------------------------------------------------------------------------------------------ sources
@dataclass(frozen=True)
class SourceDefaults:
    """Per-source defaults of the universe split, the split date and the portfolio size."""

    heldout: int | None  # number of held-out tickers (the last ones); None: a third of the universe
    split_date: str | None  # None: the date 80% of the way through the calendar
    n_assets: int


#: The synthetic universe follows the paper (50 + 18 instruments, test year 2019, portfolios of 10). The 20
#: S&P 500 stocks split alphabetically into 12 training and 8 held-out stocks (MSFT PEP PFE PG RRC UNH WMT XOM),
#: test period 2018-2022, portfolios of 5 (so that the held-out pool holds 56 portfolios).
SOURCE_DEFAULTS = {
    "synthetic": SourceDefaults(18, "2019-01-01", 10),
    "sp500": SourceDefaults(8, "2018-01-01", 5),
    "custom": SourceDefaults(None, None, 5),
}
CASH = "CASH"


def load_prices(source: Any) -> tuple[PriceData, str]:
    """``(prices, kind)`` for a ``source`` argument: ``"synthetic"``, ``"sp500"``, a CSV path, a DataFrame or PriceData."""
    if isinstance(source, PriceData):
        return source, "custom"
    if isinstance(source, str) and source in ("synthetic", "sp500"):
        return (synthetic_market() if source == "synthetic" else sp500_prices()), source
    if isinstance(source, (str, os.PathLike)):
        return csv_prices(source), "custom"
    if type(source).__name__ == "DataFrame":
        return from_dataframe(source), "custom"
    raise ValueError(f"Portfolio: source must be 'synthetic', 'sp500', a CSV path, a pandas DataFrame or a PriceData, "
                     f"got {type(source).__name__} {source!r}")


@dataclass(frozen=True)
class Universe:
    """The tickers of the two pools and the first day of the held-out period, resolved against a price table."""

    train: tuple[int, ...]  # column indices of the training universe
    heldout: tuple[int, ...]
    split: int  # index of the first day of the test period

    @classmethod
    def resolve(cls, prices: PriceData, kind: str, heldout_assets: Any, split_date: Any) -> Universe:
        """Validate the split arguments (``None`` → the source's defaults) against ``prices``."""
        defaults = SOURCE_DEFAULTS[kind]
        tickers = list(prices.tickers)
        if heldout_assets is None:
            count = defaults.heldout if defaults.heldout is not None else len(tickers) // 3
            heldout = tickers[len(tickers) - count:]
        elif isinstance(heldout_assets, (int, np.integer)) and not isinstance(heldout_assets, bool):
            if not 0 < heldout_assets < len(tickers):
                raise ValueError(f"Portfolio: heldout_assets as a count must be in [1, {len(tickers) - 1}], "
                                 f"got {heldout_assets}")
            heldout = tickers[len(tickers) - int(heldout_assets):]
        else:
            heldout = [str(t) for t in heldout_assets]
            unknown = [t for t in heldout if t not in tickers]
            if unknown or len(set(heldout)) != len(heldout) or not 0 < len(heldout) < len(tickers):
                raise ValueError(f"Portfolio: heldout_assets must be distinct tickers of the source, leaving some for "
                                 f"training; unknown {unknown}; tickers are {tickers}")
        train = [t for t in tickers if t not in heldout]
        if split_date is None:
            split_date = defaults.split_date or str(prices.dates[int(0.8 * prices.n_days)])
        try:
            day = np.datetime64(str(split_date), "D")
        except ValueError:
            raise ValueError(f"Portfolio: split_date must be a date like '2019-01-01', got {split_date!r}") from None
        split = int(np.searchsorted(prices.dates, day))
        if not 0 < split < prices.n_days:
            raise ValueError(f"Portfolio: split_date={split_date} leaves no training or no test days; the data run "
                             f"from {prices.dates[0]} to {prices.dates[-1]}")
        return cls(tuple(tickers.index(t) for t in train), tuple(tickers.index(t) for t in heldout), split)

    def assets(self, task: Task, n_assets: int) -> np.ndarray:
        """Column indices of the task's assets: ``n_assets`` of its pool drawn with ``selection``, in pool order."""
        pool = self.train if task["pool"] == "train" else self.heldout
        chosen = np.random.default_rng(task["selection"]).choice(len(pool), size=n_assets, replace=False)
        return np.asarray(pool)[np.sort(chosen)]


# ------------------------------------------------------------------------------------------------ environment
@dataclass(frozen=True, eq=False)
class PeriodData:
    """A task's period as arrays: trading day ``k`` starts with observation features ``features[k]`` and then
    prices move by ``relatives[k]``. With weights ``a[k]`` chosen on day ``k`` and ``w[k-1]`` the drifted weights of
    the day before, the rewards are `period_log_return` of ``(w[k-1], a[k], relatives[k])``.
    """

    days: np.ndarray  # indices into the price table
    dates: np.ndarray
    features: np.ndarray  # (days, n_assets + 1, 3 * window) float32, cash row first
    relatives: np.ndarray  # (days, n_assets + 1), cash 1
    assets: tuple[str, ...]


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Portfolio: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class PortfolioEnv(TaskEnv[np.ndarray, np.ndarray]):
    """Rebalance a portfolio of cash and ``n_assets`` stocks every trading day.

    ## Description
    The portfolio task of "Efficient Reinforcement Learning in Resource Allocation Problems Through Permutation
    Invariant Multi-Task Learning" (paper 004, Sec. 6.2), with the reward of Jiang, Xu & Liang (2017). Entity 0 is
    cash; entities ``1..m`` are the task's assets. Prices are exogenous: actions move only the portfolio weights.
    ``mtenvs/Portfolio-v0`` trades the synthetic market; ``mtenvs/PortfolioSP500-v0`` the real S&P 500 closes.
    ``env.unwrapped.period_data()`` returns the task's whole period as arrays for offline trainers.

    ## Observation Space
    ``Box(0, inf, (n_assets + 1, 3 * window + 1))`` float32, one row per entity with that entity's features only:
    columns ``[0, window)`` are the closes of the last ``window`` days (oldest first) divided by the latest close,
    ``[window, 2 window)`` the highs and ``[2 window, 3 window)`` the lows, divided by the same close; the last
    column is the entity's previous weight ``w_{i, n-1}`` (after drift). The cash row has price features 1.
    With close-only data (the ``"sp500"`` source, wide CSV files) high and low equal the close, so those columns
    repeat the close ratios.

    ## Action Space
    ``Box(0, 1, (n_assets + 1,))``, cash first: normalized to weights ``a / sum(a)`` (all zero → equal weights).
    ``info["weights"]`` holds the executed weights.

    ## Reward
    The log return after transaction costs, ``ln(mu) + ln(sum_i a_i y_i)``, with price relatives ``y`` (cash:
    1) and remainder ``mu = 1 - c sum_{i>=1} |w_{i,n-1} - a_i|`` (``cost_model="linear"``, the corrected form of
    the paper's formula) or the exact remainder of Jiang et al. eq. 14 (``cost_model="exact"``). Rewards add up
    to the log growth of the portfolio value (``info["portfolio_value"]``, starting at 1).

    ## Starting State
    All wealth in cash. The first day is drawn uniformly among the days of the task's period that leave room for
    the episode (or is the period's first day when ``episode_length=None``); ``reset(options={"state": day})``
    starts on a given day index of the price table.

    ## Episode End
    Truncation after ``episode_length`` trading days (default 252, one year), or at the end of the period when
    ``episode_length=None``. There is no termination.

    ## Arguments
    * ``task`` / ``tasks``: ``commission``, ``selection``, ``pool`` (``"train"``/``"heldout"``), ``period``
      (``"train"``/``"test"``). Named task sets: ``heldout_period`` (training portfolios in the test period) and
      ``heldout_assets`` (held-out portfolios in the test period).
    * ``source``: ``"synthetic"`` (default; 68 generated assets, 2009-2019), ``"sp500"`` (20 real stocks,
      1990-2022, from skfolio), a CSV path, a pandas DataFrame or a `PriceData`.
    * ``n_assets``: assets per portfolio (default: 10 synthetic, 5 otherwise, at most the held-out pool's size).
    * ``window``: days of price history per observation (default 50).
    * ``episode_length``: trading days per episode, or ``None`` for the whole period.
    * ``heldout_assets``: tickers (or a count of last tickers) kept out of the training universe
      (default: synthetic 18, sp500 8, otherwise a third).
    * ``split_date``: first day of the held-out period (default: synthetic 2019-01-01, sp500 2018-01-01,
      otherwise 80% through the calendar).
    * ``cost_model``: ``"linear"`` (default) or ``"exact"``.
    * ``render_mode``: ``"rgb_array"`` (the price window per asset, the weights and the wealth) or ``None``.

    ## Version History
    * v0: initial release.
    * v0: ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: TaskSpec = None,
        *,
        tasks: TaskSpec = None,
        source: Any = "synthetic",
        n_assets: int | None = None,
        window: int = 50,
        episode_length: int | None = 252,
        heldout_assets: Any = None,
        split_date: Any = None,
        cost_model: str = "linear",
        render_mode: str | None = None,
    ) -> None:
        self.prices, kind = load_prices(source)
        self.universe = Universe.resolve(self.prices, kind, heldout_assets, split_date)
        default_assets = min(SOURCE_DEFAULTS[kind].n_assets, len(self.universe.heldout))
        self.n_assets = default_assets if n_assets is None else _positive_int(n_assets, "n_assets")
        smallest = min(len(self.universe.train), len(self.universe.heldout))
        if self.n_assets > smallest:
            raise ValueError(f"Portfolio: n_assets={self.n_assets} exceeds the smaller pool ({len(self.universe.train)} "
                             f"training, {len(self.universe.heldout)} held-out assets)")
        self.window = _positive_int(window, "window", 2)
        self.episode_length = None if episode_length is None else _positive_int(episode_length, "episode_length")
        if cost_model not in ("linear", "exact"):
            raise ValueError(f"Portfolio: cost_model must be 'linear' or 'exact', got {cost_model!r}")
        self.cost_model = cost_model
        # A period's first trading day needs `window` earlier days of prices (the test window may reach back into the
        # training period: those prices are in the past).
        self._periods = {"train": (self.window, self.universe.split),
                         "test": (max(self.universe.split, self.window), self.prices.n_days)}
        for name, (first, end) in self._periods.items():
            if end - first < (self.episode_length or 1):
                raise ValueError(f"Portfolio: the {name} period has {max(end - first, 0)} usable days after a window of "
                                 f"{self.window}, fewer than episode_length={self.episode_length}")
        n_features = 3 * self.window + 1
        high = np.full((self.n_assets + 1, n_features), np.inf, dtype=np.float32)
        high[:, -1] = 1.0
        self.observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, (self.n_assets + 1,), dtype=np.float32)
        self._day: int | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    # ------------------------------------------------------------------------------------------- tasks
    def _apply_task(self, task: Task) -> None:
        self.asset_columns = self.universe.assets(task, self.n_assets)
        self.assets = (CASH, *(self.prices.tickers[c] for c in self.asset_columns))
        self._commission = task["commission"]
        # One (days, 3, assets) table of the task's prices, so that an observation is a slice and a division.
        p = self.prices
        self._table = np.stack([p.close[:, self.asset_columns], p.high[:, self.asset_columns],
                                p.low[:, self.asset_columns]], axis=1)

    def _start_days(self) -> tuple[int, int, int]:
        """``(first, last, end)``: admissible first days ``[first, last]`` and the end of the task's period."""
        first, end = self._periods[self._task["period"]]
        return first, end - (self.episode_length or 1), end

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        first, last, end = self._start_days()
        if options.get("state") is not None:
            day = options["state"]
            if isinstance(day, np.ndarray) and day.size == 1:
                day = day.reshape(()).item()
            if isinstance(day, (bool, np.bool_)) or not isinstance(day, (int, np.integer, float, np.floating)) \
                    or not first <= day <= last or day != int(day):
                raise ValueError(f"Portfolio: reset option 'state' is the first day's index, an integer in "
                                 f"[{first}, {last}] for this task's period; got {options['state']!r}")
            self._day = int(day)
        else:
            self._day = first if self.episode_length is None else int(self.np_random.integers(first, last + 1))
        self._end = end if self.episode_length is None else self._day + self.episode_length
        self._weights = np.zeros(self.n_assets + 1)
        self._weights[0] = 1.0
        self._value = 1.0
        return self._observation()

    def price_features(self, days: np.ndarray) -> np.ndarray:
        """Price features of the observations at the start of ``days`` (indices into the price table).

        Shape ``(len(days), n_assets + 1, 3 * window)``, float32, cash row first (all ones): the observation
        without its last column (the previous weights).
        """
        days = np.asarray(days, dtype=np.int64)
        windows = self._table[days[:, None] + np.arange(-self.window, 0)]  # (days, window, 3, assets), oldest first
        ratios = windows / self._table[days - 1, 0][:, None, None, :]
        features = np.ones((len(days), self.n_assets + 1, 3 * self.window), dtype=np.float32)
        features[:, 1:] = ratios.transpose(0, 3, 2, 1).reshape(len(days), self.n_assets, -1)
        return features

    def price_relatives(self, days: np.ndarray) -> np.ndarray:
        """Price relatives ``y_n = close_n / close_{n-1}`` of ``days``, shape ``(len(days), n_assets + 1)``, cash 1."""
        days = np.asarray(days, dtype=np.int64)
        relatives = np.ones((len(days), self.n_assets + 1))
        relatives[:, 1:] = self._table[days, 0] / self._table[days - 1, 0]
        return relatives

    def period_data(self) -> PeriodData:
        """The whole period of the current task as arrays, for trainers that replay it offline (prices are exogenous)."""
        first, end = self._periods[self._task["period"]]
        days = np.arange(first, end)
        return PeriodData(days, self.prices.dates[days], self.price_features(days), self.price_relatives(days),
                          self.assets)

    def _observation(self) -> np.ndarray:
        obs = np.empty((self.n_assets + 1, 3 * self.window + 1), dtype=np.float32)
        obs[:, :-1] = self.price_features(np.array([self._day]))[0]
        obs[:, -1] = self._weights
        return obs

    # -------------------------------------------------------------------------------------------- step
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Rebalance to the action's weights, pay the costs, and let one day of prices move the portfolio."""
        if self._day is None:
            self._require_reset()
        target = normalize_allocation(box_action(action, (self.n_assets + 1,), "Portfolio"))
        day = self._day
        relatives = self.price_relatives(np.array([day]))[0]
        reward, remainder = period_log_return(self._weights, target, relatives, self._commission,
                                              exact=self.cost_model == "exact")
        turnover = float(np.abs(self._weights[1:] - target[1:]).sum())
        self._weights = drift(target, relatives)
        self._value *= float(np.exp(reward))
        self._day = day + 1
        truncated = self._day >= self._end
        info = {**self._info(), "weights": target, "portfolio_value": self._value, "turnover": turnover,
                "cost": 1.0 - remainder, "date": str(self.prices.dates[day]), "assets": self.assets}
        return self._observation(), reward, False, truncated, info

    @property
    def state(self) -> int | None:
        """Index (in the price table) of the next trading day, or ``None`` before reset."""
        return self._day

    @property
    def weights(self) -> np.ndarray:
        """The current end-of-period weights ``w_{n-1}`` (cash first)."""
        return self._weights.copy()

    def render(self) -> np.ndarray | None:
        """A 600×400 RGB frame in ``"rgb_array"`` mode (see `draw_portfolio`); ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._day is not None, self.family.name)
        closes = self.price_features(np.array([self._day]))[0, 1:, :self.window]
        return draw_portfolio(self._task, self.assets, closes, self._weights, self._value,
                              str(self.prices.dates[self._day - 1]))


PortfolioVectorEnv = vector_env_for(PortfolioEnv, "PortfolioVectorEnv")


# ------------------------------------------------------------------------------------------------ references
def equal_crp_policy(tasks: Any, **env_kwargs: Any) -> Any:
    """Equal constantly-rebalanced portfolio over the assets (no cash): the paper's baseline."""

    def act(observations: np.ndarray) -> np.ndarray:
        obs = np.asarray(observations)
        action = np.ones(obs.shape[:-1], dtype=np.float32)
        action[..., 0] = 0.0
        return action

    return act


FAMILY.reference_policies["equal_crp"] = equal_crp_policy


# ------------------------------------------------------------------------------------------------ rendering
def draw_portfolio(task: Task, assets: tuple[str, ...], closes: np.ndarray, weights: np.ndarray, value: float,
                   date: str) -> np.ndarray:
    """The task's portfolio on its latest day (600×400 RGB): the closes of the observation window divided by the
    latest close, one line per asset (the price features the agent sees), the current weights as bars (cash first),
    and the wealth, date, commission, pool and period."""
    from mtenvs.rendering import Canvas, bars, lines, palette

    canvas = Canvas(600, 400)
    fills = palette(len(assets))
    finite = closes[np.isfinite(closes)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 2.0)
    pad = 0.05 * max(high - low, 1e-3)
    canvas.text((10, 8), f"{date}   wealth = {value:.4f}   commission = {task['commission']:.2%}   "
                         f"pool = {task['pool']}   period = {task['period']}")
    lines(canvas, (40.0, 50.0, 480.0, 220.0), list(closes), (low - pad, high + pad), fills[1:],
          title=f"close / latest close over the last {closes.shape[1]} days")
    canvas.text((36, 50), f"{high:.2f}", size=11, anchor="ra")
    canvas.text((36, 220), f"{low:.2f}", size=11, anchor="rs")
    for i, (name, fill) in enumerate(zip(assets[1:], fills[1:], strict=True)):
        canvas.text((490, 50 + 15 * i), name, size=11, fill=fill)
    bars(canvas, (40.0, 270.0, 580.0, 370.0), list(weights), (0.0, max(0.2, float(weights.max()))), fills, list(assets),
         "weights (after the last day's price moves)", label_size=10)
    return canvas.frame()
