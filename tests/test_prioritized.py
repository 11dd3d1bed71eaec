"""Prioritized task sampling (p ∝ s^α, IS weights (T p)^−β / max, smoothed scores) and IS-PPO (paper 004)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy import stats
from stable_baselines3 import PPO

import mtenvs
from agents.perminv import ISPPO, PermutationInvariantPolicy, PrioritizedTasks, TaskWeightedRolloutBuffer
from mtenvs.core.wrappers import TaskSchedule
from mtenvs.sb3 import make_vec_env

ENV_ID = "mtenvs/EntityAllocation-v0"
FAMILY = mtenvs.family("EntityAllocation")


def tasks(n: int) -> list:
    return [FAMILY.task(mismatch=0.1 * i) for i in range(n)]


def test_probabilities_and_weights_equal_the_formulas() -> None:
    sampler = PrioritizedTasks(tasks(4), alpha=0.5, is_beta=0.7, eps=0.0)
    sampler.scores[:] = [4.0, 1.0, 0.25, 9.0]
    p = np.array([2.0, 1.0, 0.5, 3.0]) / 6.5  # s^0.5 / Σ s^0.5
    np.testing.assert_allclose(sampler.probabilities(), p, rtol=1e-15)
    w = (4 * p) ** -0.7
    np.testing.assert_allclose(sampler.is_weights(), w / w.max(), rtol=1e-15)
    assert sampler.is_weights().max() == 1.0
    sampler.is_beta = 1.0  # β = 1 after max-normalisation: w_t = p_min / p_t
    np.testing.assert_allclose(sampler.is_weights(), p.min() / p, rtol=1e-14)
    eps = PrioritizedTasks(tasks(2), alpha=2.0, eps=0.5)
    eps.scores[:] = [0.0, 1.5]
    np.testing.assert_allclose(eps.probabilities(), np.array([0.25, 4.0]) / 4.25, rtol=1e-15)


def test_alpha_zero_is_uniform_with_unit_weights() -> None:
    sampler = PrioritizedTasks(tasks(5), alpha=0.0)
    sampler.scores[:] = [0.1, 3.0, 7.0, 0.0, 1.0]
    np.testing.assert_array_equal(sampler.probabilities(), np.full(5, 0.2))
    np.testing.assert_array_equal(sampler.is_weights(), np.ones(5))


def test_score_smoothing_arithmetic() -> None:
    sampler = PrioritizedTasks(tasks(3), score_smoothing=0.2, initial_score=1.0)
    sampler.update_score(1, 6.0)
    sampler.update_score(FAMILY.task(mismatch=0.1).id, 1.0)  # by id
    sampler.update_score(tasks(3)[2], 2.0)  # by Task
    np.testing.assert_allclose(sampler.scores, [1.0, 0.2 * (0.2 + 0.8 * 6.0) + 0.8, 0.2 + 0.8 * 2.0], rtol=1e-15)


def test_draws_follow_the_probabilities() -> None:
    sampler = PrioritizedTasks(tasks(4), alpha=1.0)
    sampler.scores[:] = [1.0, 2.0, 3.0, 4.0]
    draws = sampler.sample_indices(np.random.default_rng(0), 20_000)
    counts = np.bincount(draws, minlength=4)
    assert stats.chisquare(counts, 20_000 * sampler.probabilities()).pvalue > 1e-3
    single = [sampler.support.index(sampler.sample(np.random.default_rng(s))) for s in range(2000)]
    assert stats.chisquare(np.bincount(single, minlength=4), 2000 * sampler.probabilities()).pvalue > 1e-3


def test_episode_hook_scores_the_variance_of_returns() -> None:
    sampler = PrioritizedTasks(tasks(2), score_smoothing=0.5, initial_score=1.0)
    for g in (1.0, 3.0, 2.0):
        sampler.update(sampler.support[0], g, 1)
    # first return only starts the mean; then (3 − 1)^2 = 4 and (2 − 2)^2 = 0
    assert sampler.scores[0] == pytest.approx(0.5 * (0.5 * 1.0 + 0.5 * 4.0) + 0.0)
    assert sampler.scores[1] == 1.0
    custom = PrioritizedTasks(tasks(2), score_smoothing=0.0, episode_scorer=lambda g, n: abs(g) / n)
    custom.update(custom.support[1], -6.0, 3)
    assert custom.scores[1] == 2.0


def test_schedule_wrapper_drives_the_curriculum() -> None:
    sampler = PrioritizedTasks(tasks(3), alpha=1.0, eps=0.0)
    env = TaskSchedule(gym.make(ENV_ID, noise_std=0.0), sampler)
    env.reset(seed=0)
    seen = set()
    for _ in range(30):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert terminated or truncated
        seen.add(info["task_id"])
        env.reset()
    assert seen <= {t.id for t in sampler.support} and len(seen) > 1
    assert not np.allclose(sampler.scores, 1.0)  # the hook moved the scores


@pytest.mark.parametrize("bad", [{"alpha": -1.0}, {"is_beta": float("nan")}, {"score_smoothing": 1.0},
                                 {"initial_score": 0.0}, {"eps": -1e-3}, {"alpha": True}])
def test_bad_hyperparameters_are_rejected(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        PrioritizedTasks(tasks(2), **bad)


def test_bad_scores_and_tasks_leave_the_state_unchanged() -> None:
    sampler = PrioritizedTasks(tasks(2))
    for call in (lambda: sampler.update_score(0, -1.0), lambda: sampler.update_score(0, float("inf")),
                 lambda: sampler.update_score(5, 1.0), lambda: sampler.update_score("nope", 1.0)):
        with pytest.raises(ValueError):
            call()
    np.testing.assert_array_equal(sampler.scores, [1.0, 1.0])
    with pytest.raises(ValueError, match="at least one task"):
        PrioritizedTasks([])


def test_positions_map_task_ids_and_mark_strangers() -> None:
    sampler = PrioritizedTasks(tasks(3))
    assert sampler.positions([tasks(3)[2].id, "CartPole-0000000000", None, tasks(3)[0].id]) == [2, -1, -1, 0]


# ------------------------------------------------------------------------------------------------- IS-PPO
def make_model(algo: type, env_sampler: PrioritizedTasks, **kwargs: object) -> PPO:
    venv = make_vec_env(ENV_ID, 2, tasks=env_sampler, seed=0)
    settings = {"n_steps": 32, "batch_size": 16, "n_epochs": 2, **kwargs}
    return algo(PermutationInvariantPolicy, venv, seed=0, device="cpu",
                policy_kwargs={"features_extractor_kwargs": {"kind": "mlp", "hidden": 8}}, **settings)


def test_isppo_with_unit_weights_equals_sb3_ppo() -> None:
    ppo = make_model(PPO, PrioritizedTasks(tasks(3)))
    ppo.learn(64)  # each constructor re-seeds the global generators, so build and train one model at a time
    shared = PrioritizedTasks(tasks(3))  # equal scores: every IS weight is exactly 1 by the formula
    ours = make_model(ISPPO, shared, sampler=shared)
    ours.learn(64)
    assert np.all(ours.rollout_buffer.task_indices >= 0)
    for (name, a), (_, b) in zip(ppo.policy.state_dict().items(), ours.policy.state_dict().items(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    assert not torch.allclose(ppo.policy.log_concentration, torch.log(torch.tensor(10.0)))  # training happened
    for key in ("train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/loss"):
        assert ours.logger.name_to_value[key] == pytest.approx(ppo.logger.name_to_value[key], rel=1e-5, abs=1e-7), key


def test_isppo_records_tasks_applies_weights_and_scores_tasks() -> None:
    sampler = PrioritizedTasks(tasks(3), alpha=1.0)
    sampler.scores[:] = [1.0, 2.0, 4.0]
    model = make_model(ISPPO, sampler, sampler=sampler)
    model.learn(32)
    buffer = model.rollout_buffer
    assert isinstance(buffer, TaskWeightedRolloutBuffer)
    assert np.all(buffer.task_indices >= 0) and len(np.unique(buffer.task_indices)) > 1
    # every sample carries its task's IS weight, (T p_t)^-1 / max = p_min / p_t at the scores used
    expected = np.array([1.0, 0.5, 0.25], dtype=np.float32)[buffer.task_indices]
    np.testing.assert_allclose(buffer.weights, model.rollout_buffer.swap_and_flatten(expected), rtol=1e-6)
    # after the update each seen task's score was smoothed towards the variance of its rewards
    for t in np.unique(buffer.task_indices):
        variance = np.var(buffer.rewards[buffer.task_indices == t])
        assert sampler.scores[t] == pytest.approx(0.2 * [1.0, 2.0, 4.0][t] + 0.8 * variance, rel=1e-6)


def test_weights_multiply_the_loss_after_advantage_normalisation() -> None:
    one_batch = {"n_epochs": 1, "batch_size": 64}  # a single minibatch: the logged losses are those of the first step
    ppo = make_model(PPO, PrioritizedTasks(tasks(2)), **one_batch)
    ppo.learn(64)
    ours = make_model(ISPPO, PrioritizedTasks(tasks(2)), sampler=None, **one_batch)

    def halve(buffer: TaskWeightedRolloutBuffer) -> None:
        buffer.weights = np.full_like(buffer.weights, 0.5)

    ours.assign_weights = halve  # type: ignore[method-assign]
    ours.learn(64)
    # a constant weight applied before the normalisation would cancel; after it, it scales every term
    for key in ("train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/loss"):
        assert ours.logger.name_to_value[key] == pytest.approx(0.5 * ppo.logger.name_to_value[key], rel=1e-5), key


def test_zero_weights_leave_the_policy_unchanged() -> None:
    model = make_model(ISPPO, PrioritizedTasks(tasks(2)), sampler=None)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}

    def zero(buffer: TaskWeightedRolloutBuffer) -> None:
        buffer.weights = np.zeros_like(buffer.weights)

    model.assign_weights = zero  # type: ignore[method-assign]
    model.learn(32)
    for name, value in model.policy.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_isppo_rejects_a_sampler_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="PrioritizedTasks"):
        make_model(ISPPO, PrioritizedTasks(tasks(2)), sampler="uniform")


def test_environments_draw_from_the_shared_sampler() -> None:
    sampler = PrioritizedTasks(tasks(3), alpha=1.0, eps=0.0)
    sampler.scores[:] = [1.0, 1e-12, 1e-12]  # p ≈ (1, 0, 0)
    model = make_model(ISPPO, sampler, sampler=sampler)
    model.learn(32)
    assert np.all(model.rollout_buffer.task_indices == 0)
    # the over-sampled task gets the smallest weight, p_min / p_0 (β = 1)
    np.testing.assert_allclose(model.rollout_buffer.weights, np.float32(1e-12 / (1.0 + 2e-12)), rtol=1e-6)
