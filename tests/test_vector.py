"""Task semantics of vector envs, native (cart-pole) and the Sync fallback (toy chain), checked the same way."""

from __future__ import annotations

from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import RecordEpisodeStatistics

import mtenvs

IDS = ["mtenvs/CartPole-v0", "mtenvs/ToyChain-v0"]


def run(vec: gym.vector.VectorEnv, steps: int, seed: int, dones: list | None = None) -> list[list[str]]:
    """The task ids of every step (and, in ``dones``, which sub-envs ended their episode at that step)."""
    vec.action_space.seed(seed)
    ids = [list(vec.reset(seed=seed)[1]["task_id"])]
    for _ in range(steps):
        _, _, terminated, truncated, infos = vec.step(vec.action_space.sample())
        ids.append(list(infos["task_id"]))
        if dones is not None:
            dones.append(terminated | truncated)
    return ids


@pytest.mark.parametrize("env_id", IDS)
def test_fixed_task_per_sub_env(env_id: str) -> None:
    tasks = mtenvs.family_of(env_id).sample(5, seed=0)
    vec = gym.make_vec(env_id, num_envs=5, tasks=tasks)
    for ids in run(vec, 200, seed=0):
        assert list(ids) == [t.id for t in tasks]
    assert vec.unwrapped.tasks == tasks


@pytest.mark.parametrize("env_id", IDS)
def test_task_set_redrawn_at_each_autoreset(env_id: str) -> None:
    train = mtenvs.family_of(env_id).task_set("train")
    vec = gym.make_vec(env_id, num_envs=4, tasks="train", max_episode_steps=10)
    dones: list[np.ndarray] = []
    history = run(vec, 300, seed=1, dones=dones)
    seen = Counter(i for ids in history for i in ids)
    assert set(seen) <= set(train.ids)
    assert len(seen) >= min(len(train), 6)  # many different tasks over ~120 episodes
    # NextStep autoreset: a sub-env's task changes only on the step right after its episode ended
    changes = 0
    for t in range(1, len(history) - 1):
        for i in range(4):
            if history[t + 1][i] != history[t][i]:
                assert dones[t - 1][i], (t, i)
                changes += 1
    assert changes > 20
    assert run(gym.make_vec(env_id, num_envs=4, tasks="train", max_episode_steps=10), 300, seed=1) == history


def test_native_task_draws_are_uniform_over_the_set() -> None:
    train = mtenvs.family("CartPole").task_set("train")
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=64, tasks=train, max_episode_steps=2)
    dones: list[np.ndarray] = []
    history = run(vec, 400, seed=2, dones=dones)
    # one sample per draw: the first reset, then each sub-env on the step after its episode ended
    counts = Counter(history[0])
    for t in range(1, len(history) - 1):
        counts.update(history[t + 1][i] for i in np.flatnonzero(dones[t - 1]))
    frequencies = np.array([counts[i] for i in train.ids], dtype=float)
    # chi-square goodness of fit against uniform, 49 degrees of freedom: 99.9% quantile ≈ 85.4
    expected = frequencies.sum() / len(train)
    assert ((frequencies - expected) ** 2 / expected).sum() < 85.4


@pytest.mark.parametrize("env_id", IDS)
def test_vector_time_limit_comes_from_the_spec(env_id: str) -> None:
    vec = gym.make_vec(env_id, num_envs=2)
    assert vec.unwrapped.max_episode_steps == gym.spec(env_id).max_episode_steps


def test_disabled_autoreset_with_reset_mask() -> None:
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=3, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=5)
    vec.reset(seed=0)
    actions = np.zeros((3, 1), dtype=np.float32)
    for _ in range(5):
        _, _, _terminated, truncated, _ = vec.step(actions)
    assert truncated.all()
    with pytest.raises(gym.error.ResetNeeded):
        vec.step(actions)
    before = vec.unwrapped.states
    obs, _ = vec.reset(options={"reset_mask": np.array([True, False, False])})
    np.testing.assert_array_equal(obs[1:], before[1:].astype(np.float32))  # untouched sub-envs keep their state
    assert np.abs(obs[0]).max() <= 0.05
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.array([1, 0, 0])})


def test_vector_reset_task_option_applies_to_every_sub_env_for_one_episode() -> None:
    fam = mtenvs.family("CartPole")
    special = fam.task(pole_length=1.5)
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=3, tasks="train", max_episode_steps=3)
    _, infos = vec.reset(seed=0, options={"task": special})
    assert list(infos["task_id"]) == [special.id] * 3
    for _ in range(4):  # episodes end after 3 steps; the next ones draw from the set again
        _, _, _, _, infos = vec.step(np.zeros((3, 1), dtype=np.float32))
    assert special.id not in infos["task_id"]


def test_unbounded_sampler_keeps_memory_bounded() -> None:
    fam = mtenvs.family("CartPole")
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=4, tasks=mtenvs.core.FamilyDistribution(fam), max_episode_steps=1)
    vec.reset(seed=0)
    for _ in range(200):
        _, _, _, _, infos = vec.step(np.zeros((4, 1), dtype=np.float32))
        assert list(infos["task_id"]) == [t.id for t in vec.unwrapped.tasks]
    assert len(vec.unwrapped._known) <= 5 * 4


def test_record_episode_statistics_works_on_native_vector_env() -> None:
    vec = RecordEpisodeStatistics(gym.make_vec("mtenvs/CartPole-v0", num_envs=4, max_episode_steps=7))
    vec.reset(seed=0)
    for _ in range(8):
        _, _, _, _, infos = vec.step(np.zeros((4, 1), dtype=np.float32))
        if "episode" in infos:
            break
    assert infos["_episode"].any() and set(infos["episode"]["l"][infos["_episode"]]) <= set(range(1, 8))


def test_bad_batched_actions() -> None:
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=3)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        vec.step(np.zeros((2, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"sub-envs \[1\]"):
        vec.step(np.array([[0.0], [np.nan], [0.0]], dtype=np.float32))
    discrete = gym.make_vec("mtenvs/CartPole-v0", num_envs=2, discrete_actions=True)
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        discrete.step(np.array([0, 2]))
