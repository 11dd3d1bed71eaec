"""The direct policy gradient for portfolios against ``mtenvs/Portfolio-v0``, and the synthetic experiment's augmentation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import mtenvs
from agents.experiments.perminv_synthetic import permutation_augment
from agents.perminv import PrioritizedTasks
from agents.perminv.direct_pg import (
    PortfolioPG,
    PortfolioPolicy,
    PortfolioTaskData,
    evaluate_portfolio,
    geometric_start,
    log_return,
    portfolio_net,
)
from mtenvs.entities.allocation import allocation_reward, entropy_weights

ENV_ID = "mtenvs/Portfolio-v0"
WINDOW = 8
FAMILY = mtenvs.family("Portfolio")


@pytest.mark.parametrize("source", ["synthetic", "sp500"])
def test_task_data_and_reward_replay_the_environment(source: str) -> None:
    task = FAMILY.task(selection=7)
    env = gym.make(ENV_ID, task=task, source=source, window=WINDOW, episode_length=None)
    data = PortfolioTaskData.from_env(env, task)
    day = data.first + 100
    obs, _ = env.reset(seed=0, options={"state": day})
    previous = np.zeros(data.n_assets)  # the episode starts in cash: no asset weight
    rng = np.random.default_rng(0)
    for n in range(day, day + 5):
        np.testing.assert_allclose(obs[1:, :-1], data.price_features(np.array([n]))[0], rtol=1e-6)
        np.testing.assert_allclose(obs[1:, -1], previous, atol=1e-6)
        action = rng.dirichlet(np.ones(data.n_assets))
        obs, reward, _, _, info = env.step(np.concatenate([[0.0], action]).astype(np.float32))
        weights = info["weights"][1:]  # what the env executed (float32 action, renormalised)
        ours = log_return(torch.as_tensor(previous), torch.as_tensor(weights), torch.as_tensor(data.relatives(np.array([n]))[0]),
                          data.commission)
        assert float(ours) == pytest.approx(reward, abs=1e-12)
        grown = weights * data.relatives(np.array([n]))[0]
        previous = grown / grown.sum()


def test_untrained_network_trades_exactly_like_equal_crp() -> None:
    task = FAMILY.task(selection=3, period="test")
    policy = PortfolioPolicy(portfolio_net(WINDOW))
    crp = FAMILY.reference_policies["equal_crp"]([task])
    ours = evaluate_portfolio(policy, ENV_ID, task, window=WINDOW)
    baseline = evaluate_portfolio(crp, ENV_ID, task, window=WINDOW)
    assert ours == pytest.approx(baseline, rel=1e-12)
    assert ours["days"] > 200 and ours["wealth"] > 0


def make_trainer(weight: float) -> PortfolioPG:
    env = gym.make(ENV_ID, window=WINDOW)
    sampler = PrioritizedTasks([FAMILY.task(selection=1)])
    sampler.is_weights = lambda: np.array([weight])  # type: ignore[method-assign]
    trainer = PortfolioPG(env, [FAMILY.task(selection=1)], sampler=sampler, batch_size=20, seed=0)
    trainer.optimizer = torch.optim.SGD(trainer.net.parameters(), lr=0.5)
    return trainer


def test_is_weight_scales_the_policy_gradient_step() -> None:
    full, half = make_trainer(1.0), make_trainer(0.5)
    before = {k: v.clone() for k, v in full.net.state_dict().items()}
    full.update()
    half.update()
    moved = 0
    for name, start in before.items():
        step_full = full.net.state_dict()[name] - start
        step_half = half.net.state_dict()[name] - start
        assert torch.allclose(step_half, 0.5 * step_full, atol=1e-7), name
        moved += int(step_full.abs().max() > 0)
    assert moved > 0


def test_an_update_writes_the_memory_and_smooths_the_score() -> None:
    trainer = make_trainer(1.0)
    trainer.optimizer = torch.optim.Adam(trainer.net.parameters(), lr=1e-2)
    trainer.learn(3)
    score_before = trainer.sampler.scores[0]
    untouched = trainer.memory[0].copy()
    record = trainer.update()
    days = np.arange(record["start"], record["start"] + 20)
    assert trainer.data[0].first < days[0] and days[-1] < trainer.data[0].end  # never the held-out period
    changed = np.flatnonzero(np.any(trainer.memory[0] != untouched, axis=1))
    assert set(changed) <= set(days)
    uniform = 1.0 / trainer.data[0].n_assets
    assert record["score"] == pytest.approx(np.max(np.abs(trainer.memory[0][days] - uniform)), rel=1e-5)
    assert record["score"] > 1e-4
    assert trainer.sampler.scores[0] == pytest.approx(0.2 * score_before + 0.8 * record["score"])


def test_trainer_rejects_test_period_tasks_and_bad_batches() -> None:
    env = gym.make(ENV_ID, window=WINDOW)
    with pytest.raises(ValueError, match="period='train'"):
        PortfolioPG(env, [FAMILY.task(period="test")])
    with pytest.raises(ValueError, match="batch_size"):
        PortfolioPG(env, [FAMILY.task()], batch_size=0)


def test_geometric_start_is_in_range_and_recency_biased() -> None:
    rng = np.random.default_rng(0)
    uniform = [geometric_start(rng, 100, 1e-4) for _ in range(3000)]
    recent = [geometric_start(rng, 100, 0.2) for _ in range(3000)]
    assert min(uniform) >= 0 and max(uniform) <= 99 and min(recent) >= 0
    assert abs(np.mean(uniform) - 49.5) < 3 and np.mean(recent) > 90


def test_permutation_augmentation_is_exact_without_mismatch() -> None:
    rng = np.random.default_rng(0)
    x, a = rng.uniform(size=(5, 4)), rng.dirichlet(np.ones(4), size=5)
    equal = entropy_weights(0.0, 0.1, 4)
    xs, acts, rs = permutation_augment(x, a, allocation_reward(x, a, equal), 50, rng)
    assert xs.shape == (50, 4) and np.array_equal(xs[:5], x)
    np.testing.assert_allclose(rs, allocation_reward(xs, acts, equal), atol=1e-12)  # ε = 0: a sample of the same MDP
    skewed = entropy_weights(0.8, 0.1, 4)
    xs, acts, rs = permutation_augment(x, a, allocation_reward(x, a, skewed), 50, rng)
    assert not np.allclose(rs, allocation_reward(xs, acts, skewed))  # ε > 0: a nearby MDP
    for j in range(5, 50):  # each copy is one original with one permutation applied to both x and a
        i = int(np.flatnonzero(np.isin(x, xs[j]).all(axis=1))[0])
        sigma = np.array([int(np.flatnonzero(x[i] == value)[0]) for value in xs[j]])
        np.testing.assert_array_equal(acts[j], a[i][sigma])
        assert rs[j] == rs[i]
