"""``mtenvs.evaluate`` against hand-run single-env episodes and closed-form optima."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.evaluation import RandomPolicy

CHAIN = "mtenvs/ToyChain-v0"


def always_right(observations: np.ndarray) -> np.ndarray:
    return np.ones(len(observations), dtype=np.int64)


def test_oracle_scores_one_and_has_zero_regret() -> None:
    result = mtenvs.evaluate(always_right, CHAIN, "test", episodes=4)
    for r in result.per_task:
        assert r.optimal_value == pytest.approx(-r.task["step_cost"] * (r.task["length"] - 1))
        assert r.regret == pytest.approx(0.0)
        if r.random_return == pytest.approx(r.optimal_value):
            assert r.normalized_score is None  # undefined when the random policy happened to be optimal
        else:
            assert r.normalized_score == pytest.approx(1.0)
    assert sum(r.normalized_score is not None for r in result.per_task) >= 6


def test_random_policy_scores_zero() -> None:
    space = gym.make(CHAIN).action_space
    result = mtenvs.evaluate(RandomPolicy(space, seed=0), CHAIN, "test", episodes=4, seed=0)
    for r in result.per_task:
        assert r.normalized_score == pytest.approx(0.0)
        assert r.regret > 0


def test_returns_match_single_env_episodes() -> None:
    fam = mtenvs.family("CartPole")
    tasks = fam.task_set("test")[:3]

    def policy(observations: np.ndarray) -> np.ndarray:
        return np.where(observations[:, 2:3] + 0.3 * observations[:, 3:4] > 0, 0.3, -0.3).astype(np.float32)

    result = mtenvs.evaluate(policy, "mtenvs/CartPole-v0", tasks, episodes=2, seed=3)
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=6, tasks=[t for t in tasks for _ in range(2)])
    vec.reset(seed=3)
    starts = vec.unwrapped.states
    for k, r in enumerate(result.per_task):
        for e in range(2):
            env = gym.make("mtenvs/CartPole-v0")
            obs, _ = env.reset(options={"task": tasks[k], "state": starts[2 * k + e]})
            total, length, done = 0.0, 0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy(obs[None])[0])
                total += reward
                length += 1
                done = terminated or truncated
            assert r.returns[e] == pytest.approx(total) and r.lengths[e] == length
        assert r.stderr == pytest.approx(np.std(r.returns, ddof=1) / np.sqrt(2))
    assert result.per_task[0].optimal_value is None and result.mean_regret is None
    assert "test-0" in result.table()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="episodes"):
        mtenvs.evaluate(always_right, CHAIN, "test", episodes=0)
    with pytest.raises(ValueError, match="unknown parameter"):
        mtenvs.evaluate(always_right, CHAIN, [{"lenght": 3}])
    with pytest.raises(ValueError, match="not an mtenvs id"):
        mtenvs.evaluate(always_right, "CartPole-v1", "test")
