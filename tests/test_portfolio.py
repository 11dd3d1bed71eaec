"""The portfolio family: reward identities, costs, observations, equivariance, price sources and task sets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

import mtenvs
from mtenvs.portfolio.data import PriceData, csv_prices, from_dataframe, sp500_prices
from mtenvs.portfolio.market import synthetic_market
from mtenvs.portfolio.trading import drift, exact_remainder, linear_remainder, period_log_return

ENV_ID = "mtenvs/Portfolio-v0"
FAMILY = mtenvs.family("Portfolio")
WINDOW = 5


def small_prices(n_days: int = 60, seed: int = 0) -> PriceData:
    """Six tickers of random prices with real high/low columns."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_days, 6)), axis=0))
    high = close * np.exp(np.abs(rng.normal(0, 0.01, close.shape)))
    low = close * np.exp(-np.abs(rng.normal(0, 0.01, close.shape)))
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n_days)
    return PriceData(dates, ("A", "B", "C", "D", "E", "F"), close, high, low)


def make(prices: PriceData, commission: float = 0.01, **kwargs) -> gym.Env:
    settings = {"n_assets": 3, "window": WINDOW, "episode_length": 10, "heldout_assets": 3, "split_date": "2020-02-10"}
    return gym.make(ENV_ID, source=prices, task={"commission": commission}, disable_env_checker=True,
                    **{**settings, **kwargs})


def relatives(prices: PriceData, columns: np.ndarray, day: int) -> np.ndarray:
    return np.r_[1.0, prices.close[day, columns] / prices.close[day - 1, columns]]


# ----------------------------------------------------------------------------------------------- reward
def test_all_cash_earns_nothing_and_pays_nothing() -> None:
    env = make(small_prices())
    env.reset(seed=0)
    for _ in range(10):
        _, reward, _, truncated, info = env.step(np.array([1.0, 0, 0, 0]))
        assert reward == 0.0 and info["portfolio_value"] == 1.0 and info["cost"] == 0.0
    assert truncated


def test_no_trade_reward_is_the_log_growth() -> None:
    prices = small_prices()
    env = make(prices, commission=0.02)
    _, info = env.reset(seed=0, options={"state": 20})
    columns = env.unwrapped.asset_columns
    env.step(np.array([0.1, 0.2, 0.3, 0.4]))  # buy once; afterwards hold the drifted weights
    for day in range(21, 25):
        held = env.unwrapped.weights
        _, reward, _, _, info = env.step(held)
        assert info["cost"] == pytest.approx(0.0, abs=1e-15)
        assert reward == pytest.approx(np.log(held @ relatives(prices, columns, day)), rel=1e-12)


def test_transaction_cost_of_a_known_rebalance() -> None:
    prices = small_prices()
    c = 0.01
    env = make(prices, commission=c)
    env.reset(options={"state": 30})
    columns = env.unwrapped.asset_columns
    target = np.array([0.4, 0.2, 0.2, 0.2])  # from all cash: 60% of the wealth buys assets
    _, reward, _, _, info = env.step(target)
    assert info["turnover"] == pytest.approx(0.6) and info["cost"] == pytest.approx(c * 0.6)
    assert reward == pytest.approx(np.log(1 - c * 0.6) + np.log(target @ relatives(prices, columns, 30)), rel=1e-12)
    # Next day: move everything back to cash; the drifted weights are sold.
    held = drift(target, relatives(prices, columns, 30))
    _, reward, _, _, info = env.step(np.array([1.0, 0, 0, 0]))
    assert info["cost"] == pytest.approx(c * held[1:].sum(), rel=1e-12)
    assert reward == pytest.approx(np.log(1 - c * held[1:].sum()))


def test_rewards_add_up_to_the_log_wealth_and_weights_drift() -> None:
    env = make(small_prices(), episode_length=None)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    total, done = 0.0, False
    while not done:
        action = rng.uniform(size=4)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
        assert obs[:, -1].sum() == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(obs[:, -1], env.unwrapped.weights, rtol=1e-6)
    assert total == pytest.approx(np.log(info["portfolio_value"]), rel=1e-10)
    assert info["date"] == "2020-02-09"  # whole-period episodes end on the last day before the split date


def test_exact_remainder_solves_the_trading_accounts() -> None:
    rng = np.random.default_rng(2)
    for c in (0.0025, 0.02):
        for _ in range(5):
            w, a = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))

            def cash_balance(mu: float, w: np.ndarray = w, a: np.ndarray = a, c: float = c) -> float:
                sold = np.clip(w[1:] - mu * a[1:], 0, None).sum()
                bought = np.clip(mu * a[1:] - w[1:], 0, None).sum()
                return (1 - c) * (w[0] + (1 - c) * sold - mu * a[0]) - bought  # buying pays c on the cash spent

            assert exact_remainder(w, a, c) == pytest.approx(brentq(cash_balance, 0.5, 1.0, xtol=1e-15), abs=1e-13)
            assert abs(exact_remainder(w, a, c) - linear_remainder(w, a, c)) < 2 * c * c


def test_exact_cost_model_in_the_env() -> None:
    env = make(small_prices(), commission=0.02, cost_model="exact")
    env.reset(options={"state": 30})
    _, _, _, _, info = env.step(np.array([0.4, 0.2, 0.2, 0.2]))
    assert info["cost"] == pytest.approx(1 - exact_remainder(np.array([1.0, 0, 0, 0]), np.array([0.4, 0.2, 0.2, 0.2]), 0.02))


# -------------------------------------------------------------------------------------------- observation
def test_observation_is_the_price_window_relative_to_the_last_close() -> None:
    prices = small_prices()
    env = make(prices)
    obs, _ = env.reset(options={"state": 25})
    columns = env.unwrapped.asset_columns
    last = prices.close[24, columns]
    np.testing.assert_allclose(obs[1:, :WINDOW], (prices.close[20:25, columns] / last).T, rtol=1e-6)
    np.testing.assert_allclose(obs[1:, WINDOW:2 * WINDOW], (prices.high[20:25, columns] / last).T, rtol=1e-6)
    np.testing.assert_allclose(obs[1:, 2 * WINDOW:3 * WINDOW], (prices.low[20:25, columns] / last).T, rtol=1e-6)
    assert np.all(obs[0, :-1] == 1.0) and obs[:, -1].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert np.all(obs[1:, WINDOW - 1] == 1.0)


def test_permuting_assets_permutes_observations_and_keeps_rewards() -> None:
    prices = small_prices()
    perm = np.array([2, 0, 1])
    # The training pool is the first three tickers in table order; reorder them in a second table.
    order = np.r_[perm, 3, 4, 5]
    permuted = PriceData(prices.dates, tuple(np.array(prices.tickers)[order]), prices.close[:, order],
                         prices.high[:, order], prices.low[:, order])
    env, env_p = make(prices), make(permuted)
    obs, _ = env.reset(options={"state": 15})
    obs_p, _ = env_p.reset(options={"state": 15})
    index = np.r_[0, 1 + perm]
    assert env_p.unwrapped.assets == tuple(np.array(env.unwrapped.assets)[index])
    rng = np.random.default_rng(3)
    for _ in range(10):
        np.testing.assert_array_equal(obs_p, obs[index])
        action = rng.uniform(size=4)
        obs, reward, *_, info = env.step(action)
        obs_p, reward_p, *_, info_p = env_p.step(action[index])
        assert reward_p == pytest.approx(reward, rel=1e-12)
        np.testing.assert_allclose(info_p["weights"], info["weights"][index])


def test_period_data_replays_the_episode_offline() -> None:
    env = make(small_prices(), commission=0.01, episode_length=None)
    obs, _ = env.reset(seed=0)
    data = env.unwrapped.period_data()
    assert data.features.shape == (len(data.days), 4, 3 * WINDOW) and data.assets == env.unwrapped.assets
    rng = np.random.default_rng(1)
    previous = np.array([1.0, 0.0, 0.0, 0.0])
    for k in range(len(data.days)):
        np.testing.assert_array_equal(obs[:, :-1], data.features[k])
        action = rng.dirichlet(np.ones(4))
        obs, reward, _, truncated, _ = env.step(action)
        expected, _ = period_log_return(previous, action, data.relatives[k], 0.01)
        assert reward == pytest.approx(expected, rel=1e-12)
        previous = drift(action, data.relatives[k])
    assert truncated


# ---------------------------------------------------------------------------------------------- tasks
def test_task_sets_choose_pools_and_periods() -> None:
    env = gym.make(ENV_ID, disable_env_checker=True)
    base = env.unwrapped
    heldout = {base.prices.tickers[i] for i in base.universe.heldout}
    split = np.datetime64("2019-01-01")
    assert len(heldout) == 18 and len(base.universe.train) == 50
    for name, pool, after_split in [("train", "train", False), ("heldout_period", "train", True),
                                    ("heldout_assets", "heldout", True)]:
        for task in FAMILY.task_set(name)[:5]:
            _, info = env.reset(seed=0, options={"task": task})
            assets = set(base.assets[1:])
            assert (assets <= heldout) == (pool == "heldout") and len(assets) == 10
            _, _, _, _, info = env.step(np.ones(11))
            assert (np.datetime64(info["date"]) >= split) == after_split
    selections = {tuple(gym.make(ENV_ID, task=t).unwrapped.assets) for t in FAMILY.task_set("train")[:10]}
    assert len(selections) == 10


def test_synthetic_market_has_learnable_momentum() -> None:
    def log_wealth(signal: float, momentum: bool) -> float:
        data = synthetic_market(n_assets=20, signal_strength=signal, seed=1)
        env = gym.make(ENV_ID, source=data, n_assets=10, heldout_assets=10, episode_length=None, disable_env_checker=True)
        obs, _ = env.reset(seed=0)
        total, done = 0.0, False
        while not done:  # momentum: overweight assets that rose over the last 30 days
            action = np.r_[0.0, np.exp(-20 * np.log(obs[1:, 20])) if momentum else np.ones(10)]
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        return total

    assert log_wealth(0.002, True) > log_wealth(0.002, False) + 0.3
    assert log_wealth(0.0, True) < log_wealth(0.0, False)


# --------------------------------------------------------------------------------------------- sources
def test_csv_round_trips_a_dataframe(tmp_path) -> None:
    prices = small_prices()
    wide = prices.to_frame("close")
    wide.to_csv(tmp_path / "wide.csv")
    loaded = csv_prices(tmp_path / "wide.csv")
    pd.testing.assert_frame_equal(loaded.to_frame("close"), wide, check_freq=False)
    assert not loaded.has_high_low and np.array_equal(loaded.high, loaded.close)
    long = pd.concat([prices.to_frame(f).stack().rename(f) for f in ("close", "high", "low")], axis=1)
    long = long.rename_axis(["date", "ticker"]).reset_index()
    long.to_csv(tmp_path / "long.csv", index=False)
    loaded = csv_prices(tmp_path / "long.csv")
    assert loaded.has_high_low and loaded.tickers == prices.tickers
    for field in ("close", "high", "low"):
        np.testing.assert_allclose(getattr(loaded, field), getattr(prices, field), rtol=1e-14)
    env = gym.make(ENV_ID, source=str(tmp_path / "long.csv"), n_assets=2, window=WINDOW, episode_length=5)
    assert env.reset(seed=0)[0].shape == (3, 3 * WINDOW + 1)


def test_wide_csv_with_an_unnamed_date_column(tmp_path) -> None:
    frame = small_prices().to_frame("close").rename_axis(None)
    frame.to_csv(tmp_path / "prices.csv")
    loaded = csv_prices(tmp_path / "prices.csv")
    assert str(loaded.dates[0]) == "2020-01-01" and np.allclose(loaded.close, frame.to_numpy())
    pd.DataFrame({"date": ["2020-01-01"], "ticker": ["A"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="close"):
        csv_prices(tmp_path / "bad.csv")


def test_missing_prices_are_forward_filled() -> None:
    frame = pd.DataFrame({"X": [np.nan, 1.0, np.nan, 3.0], "Y": [5.0, 6.0, 7.0, 8.0]},
                         index=pd.date_range("2021-01-01", periods=4))
    data = from_dataframe(frame)
    assert data.n_days == 3 and data.close[:, 0].tolist() == [1.0, 1.0, 3.0]


def test_sp500_source_is_close_only_real_data() -> None:
    data = sp500_prices()
    assert data.close.shape == (8313, 20) and not data.has_high_low
    assert str(data.dates[0]) == "1990-01-02" and str(data.dates[-1]) == "2022-12-28"
    env = gym.make("mtenvs/PortfolioSP500-v0", tasks="heldout_assets")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 151) and set(env.unwrapped.assets[1:]) <= {"MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"}
    np.testing.assert_array_equal(obs[:, 50:100], obs[:, :50])  # high = close without high/low data


def test_bad_settings_raise() -> None:
    prices = small_prices()
    with pytest.raises(ValueError, match="n_assets"):
        make(prices, n_assets=4)
    with pytest.raises(ValueError, match="split_date"):
        make(prices, split_date="2030-01-01")
    with pytest.raises(ValueError, match="cost_model"):
        make(prices, cost_model="free")
    with pytest.raises(ValueError, match="episode_length"):
        make(prices, episode_length=100)
    with pytest.raises(ValueError, match="heldout_assets"):
        make(prices, heldout_assets=["ZZZ"])
    with pytest.raises(ValueError, match="source"):
        gym.make(ENV_ID, source=42)
    env = make(prices)
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": 1})
    with pytest.raises(ValueError, match="positive"):
        PriceData(prices.dates, prices.tickers, -prices.close, prices.high, prices.low)
