"""Continual learning: task sequences, the switch schedule, evaluation normalized by exact optima, metrics, suites."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.continual import (
    ContinualEnv,
    ContinualEvalCallback,
    SequenceEvaluator,
    TaskSequence,
    average_performance,
    backward_transfer,
    forgetting,
    forward_transfer,
    interval_estimate,
    make_continual_sb3_env,
    make_continual_vector_env,
    sequence,
    sequences,
    zero_shot_transfer,
)
from mtenvs.continual.metrics import area_under_curve, per_task_forgetting, per_task_forward_transfer
from mtenvs.evaluation import RandomPolicy, rollout_returns

CARTPOLE = "mtenvs/CartPole-v0"


# ------------------------------------------------------------------------------------------------ sequences
def test_named_sequences_cover_the_families() -> None:
    names = sequences()
    for name in ["cartpole-spread", "cartpole-drift", "simplemass-spread", "doublemass-spread", "helicopter-spread",
                 "gridworld-conflict", "linearmdp-spread"]:
        assert name in names
        seq = sequence(name)
        assert seq.name == name and len(seq) >= 3 and seq.budget > 0
        assert all(t.family == seq.family for t in seq)


def test_gridworld_conflict_is_papers_panel_c_in_order() -> None:
    seq = sequence("gridworld-conflict")
    assert [t["layout"] for t in seq] == ["c1", "c2", "c3", "c4"]
    assert list(seq.tasks) == list(mtenvs.family("GridWorld").task_set("c"))


def test_json_round_trip_keeps_every_field() -> None:
    seq = TaskSequence.spread("mtenvs/SimpleMass-v0", 4, 1000, seed=3, announce=False, name="mine",
                              env_kwargs={"max_episode_steps": 50})
    again = TaskSequence.from_json(seq.to_json())
    assert again == seq
    assert json.loads(again.to_json()) == json.loads(seq.to_json())
    assert [t.name for t in again] == [t.name for t in seq]


def test_same_seed_same_sequence_other_seed_other_tasks() -> None:
    a = TaskSequence.spread(CARTPOLE, 5, 100, seed=7)
    b = TaskSequence.spread(CARTPOLE, 5, 100, seed=7)
    c = TaskSequence.spread(CARTPOLE, 5, 100, seed=8)
    assert a == b
    assert a.tasks != c.tasks


def test_spread_tasks_lie_in_the_training_region_and_are_far_apart() -> None:
    family = mtenvs.family("CartPole")
    seq = TaskSequence.spread(CARTPOLE, 5, 100, seed=0)
    features = np.stack([family.features(t) for t in seq])
    random = np.stack([family.features(t) for t in family.sample(5, seed=0)])
    for task in seq:
        for name in ("cart_mass", "pole_mass", "pole_length"):
            low, high = family.parameters[name].train
            assert low <= task[name] <= high

    def min_distance(x: np.ndarray) -> float:
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return float(d[np.triu_indices(len(x), 1)].min())

    assert min_distance(features) > min_distance(random)  # farthest-point choice beats 5 plain draws


def test_drift_goes_linearly_from_corner_to_corner() -> None:
    family = mtenvs.family("SimpleMass")
    seq = TaskSequence.drift("mtenvs/SimpleMass-v0", 3, 100)
    for name in ("mass", "spring", "damping"):
        low, high = family.parameters[name].train
        assert [t[name] for t in seq] == pytest.approx([low, (low + high) / 2, high])


@pytest.mark.parametrize(("build", "field"), [
    (lambda: TaskSequence(CARTPOLE, [], 100), "tasks"),
    (lambda: TaskSequence(CARTPOLE, [{}], 0), "budget"),
    (lambda: TaskSequence(CARTPOLE, [{}], -5), "budget"),
    (lambda: TaskSequence(CARTPOLE, [{}], 2.5), "budget"),
    (lambda: TaskSequence(CARTPOLE, [mtenvs.family("SimpleMass").default_task()], 100), "tasks[0]"),
    (lambda: TaskSequence(CARTPOLE, [{}, {"pole_mass": -1.0}], 100), "tasks[1]"),
    (lambda: TaskSequence("mtenvs/Nope-v0", [{}], 100), "env_id"),
    (lambda: sequence("cartpole-sprad"), "name"),
    (lambda: TaskSequence.spread(CARTPOLE, 0, 100), "n"),
])
def test_bad_input_names_the_field(build, field: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(field)):
        build()


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match="cartpole-spread"):
        sequence("cartpole-sprad")


# ------------------------------------------------------------------------------------------------- schedule
def test_single_env_switches_exactly_on_budget() -> None:
    seq = TaskSequence.spread(CARTPOLE, 3, 37, seed=0)
    env = ContinualEnv(gym.make(CARTPOLE), seq)
    _, info = env.reset(seed=0)
    assert info["task_index"] == 0 and env.unwrapped.task == seq[0]
    indices, switches, tasks = [], [], []
    for step in range(1, 130):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        indices.append(info["task_index"])
        tasks.append(env.unwrapped.task)
        if info.get("task_switch"):
            switches.append(step)
            assert truncated
        if terminated or truncated:
            _, info = env.reset()
            assert env.unwrapped.task == seq[info["task_index"]]
    assert switches == [37, 74]  # the last task's end is not a switch
    assert indices == [min(s // 37, 2) for s in range(129)]
    assert all(t == seq[i] for t, i in zip(tasks, indices, strict=True))
    assert info["sequence_done"] and env.total_steps == 129


def test_unannounced_switch_changes_the_task_inside_the_episode() -> None:
    seq = TaskSequence.spread("mtenvs/SimpleMass-v0", 2, 10, seed=0, announce=False)
    env = ContinualEnv(gym.make(seq.env_id), seq)
    env.reset(seed=0)
    for _ in range(10):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert not (terminated or truncated) and "task_switch" not in info
    assert env.unwrapped.task == seq[1] and env.task_index == 1


def test_vector_env_switches_every_sub_env_in_the_same_step() -> None:
    seq = TaskSequence.spread(CARTPOLE, 3, 12, seed=0)
    venv = make_continual_vector_env(seq, 4)
    venv.reset(seed=0)
    for vector_step in range(1, 10):
        _, _, _, truncated, info = venv.step(venv.action_space.sample())
        if vector_step in (3, 6):  # 3 vector steps x 4 sub-envs = 12 environment steps
            assert truncated.all() and info["final_info"]["task_switch"].all()
            assert (info["task_index"] == vector_step // 3).all()
        else:
            assert "final_info" not in info or "task_switch" not in info["final_info"]
    with pytest.raises(ValueError, match=r"^budget"):
        make_continual_vector_env(seq, 5)


def test_task_option_is_refused() -> None:
    seq = TaskSequence.spread(CARTPOLE, 2, 10, seed=0)
    env = ContinualEnv(gym.make(CARTPOLE), seq)
    with pytest.raises(ValueError, match=r"^options"):
        env.reset(options={"task": seq[1]})
    with pytest.raises(ValueError, match=r"^env"):
        ContinualEnv(gym.make("mtenvs/SimpleMass-v0"), seq)


# ------------------------------------------------------------------------------------------- normalization
def test_optimal_policy_scores_one_and_random_about_zero() -> None:
    """SimpleMass has an exact finite-horizon LQR optimum; its LQR controller is optimal, so its mean return
    over E episodes is the optimum up to sampling error. The tolerance is 3 standard errors of the mean return
    (from the sample's own spread), divided by the score's span (optimum - random)."""
    seq = sequence("simplemass-spread")
    episodes = 20
    evaluator = SequenceEvaluator(seq, episodes=episodes, seed=0)
    family = mtenvs.family("SimpleMass")
    random_mean, optimum = evaluator.anchors()
    for j, task in enumerate(seq):
        assert optimum[j] == pytest.approx(family.optimal_value(task, max_episode_steps=150))
        lqr = family.reference_policies["lqr"]([task] * episodes)
        returns, _ = rollout_returns(lqr, seq.env_id, [task] * episodes, seed=j * episodes)
        span = optimum[j] - random_mean[j]
        score = evaluator.normalize(np.where(np.arange(len(seq)) == j, returns.mean(), random_mean))[j]
        assert score == pytest.approx(1.0, abs=3 * returns.std(ddof=1) / np.sqrt(episodes) / span)
        other, _ = rollout_returns(RandomPolicy(gym.make(seq.env_id).action_space, seed=123), seq.env_id,
                                   [task] * episodes, seed=j * episodes)
        tolerance = 3 * np.sqrt(2) * other.std(ddof=1) / np.sqrt(episodes) / span  # difference of two means
        assert evaluator.normalize(np.where(np.arange(len(seq)) == j, other.mean(), random_mean))[j] == \
            pytest.approx(0.0, abs=tolerance)
    scores = evaluator.record(0, policy_for=lambda j: family.reference_policies["lqr"]([seq[j]] * episodes))
    assert np.allclose(scores["scores"], 1.0, atol=0.03)


# ------------------------------------------------------------------------------------------------- metrics
R = np.array([[0.9, 0.1, 0.0],
              [0.5, 0.8, 0.2],
              [0.3, 0.6, 0.7]])


def test_metrics_on_a_hand_computed_matrix() -> None:
    assert average_performance(R) == pytest.approx((0.3 + 0.6 + 0.7) / 3)
    assert per_task_forgetting(R) == pytest.approx([0.9 - 0.3, 0.8 - 0.6])
    assert forgetting(R) == pytest.approx(0.4)
    assert backward_transfer(R) == pytest.approx(-0.4)
    assert zero_shot_transfer(R, [0.05, 0.0, 0.1]) == pytest.approx(((0.1 - 0.0) + (0.2 - 0.1)) / 2)
    assert forgetting([[0.5]]) == 0.0


def test_forward_transfer_is_continual_worlds_normalized_auc_difference() -> None:
    # curve 0 -> 1 linearly: mean 0.5; reference curve 0 -> 0.5: mean 0.25; FT = (0.5 - 0.25) / (1 - 0.25) = 1/3
    assert area_under_curve([0, 50, 100], [0.0, 0.5, 1.0]) == pytest.approx(0.5)
    assert area_under_curve([10, 20], [0.2, 0.4]) == pytest.approx(0.3)
    assert per_task_forward_transfer([0.5, 0.2], [0.25, 0.6]) == pytest.approx([1 / 3, -1.0])
    assert forward_transfer([0.5, 0.2], [0.25, 0.6]) == pytest.approx((1 / 3 - 1) / 2)
    assert np.isnan(per_task_forward_transfer([0.9], [1.0])[0])


def test_interval_is_rliables_stratified_bootstrap() -> None:
    # One task, two runs {0, 1}: a bootstrap mean is 0 (p 1/4), 0.5 (1/2) or 1 (1/4), so the 2.5% and 97.5%
    # percentiles are exactly 0 and 1.
    assert interval_estimate([[0.0], [1.0]]) == {"mean": 0.5, "low": 0.0, "high": 1.0, "seeds": 2, "tasks": 1}
    # One seed: a point. Constant runs: a point.
    one = interval_estimate([[0.2, 0.4]])
    assert one["low"] == one["high"] == one["mean"] == pytest.approx(0.3)
    # Stratified: tasks are never resampled, so a task with identical runs contributes its exact value.
    scores = np.array([[0.0, 0.5], [1.0, 0.5], [0.5, 0.5]])
    result = interval_estimate(scores, reps=4000)
    rng = np.random.default_rng(0)
    draws = scores[rng.integers(0, 3, (4000, 3)), 0].mean(axis=1) / 2 + 0.25
    assert result["low"] == pytest.approx(np.percentile(draws, 2.5), abs=0.03)
    assert result["high"] == pytest.approx(np.percentile(draws, 97.5), abs=0.03)
    assert result["mean"] == pytest.approx(0.5)


# --------------------------------------------------------------------------------------- evaluation hooks
def test_sb3_callback_records_exactly_at_the_task_ends() -> None:
    from stable_baselines3 import PPO

    seq = TaskSequence.spread(CARTPOLE, 2, 128, seed=0)
    evaluator = SequenceEvaluator(seq, episodes=1, eval_points=2)
    env = make_continual_sb3_env(seq, 2, seed=0)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(seq.total_steps, callback=ContinualEvalCallback(evaluator))
    assert [e["step"] for e in evaluator.history] == [0, 64, 128, 192, 256]
    assert [e["task_index"] for e in evaluator.history] == [0, 0, 0, 1, 1]
    results = evaluator.results()
    assert np.asarray(results["matrix"]).shape == (2, 2)
    assert results["matrix"][0] == evaluator.history[2]["scores"]


def test_plain_evaluator_hook_for_any_learner() -> None:
    seq = TaskSequence.spread("mtenvs/SimpleMass-v0", 2, 100, seed=0)
    evaluator = SequenceEvaluator(seq, episodes=2, eval_points=2)
    zero = lambda obs: np.zeros((len(obs), 1), dtype=np.float32)  # noqa: E731
    assert evaluator.maybe_record(0, zero)[0]["step"] == 0
    assert [e["step"] for e in evaluator.maybe_record(160, zero)] == [50, 100, 150]
    assert evaluator.maybe_record(160, zero) == []
    with pytest.raises(ValueError, match=r"^eval_points"):
        SequenceEvaluator(seq, eval_points=3)


# --------------------------------------------------------------------------------------------------- suites
class _Zero:
    """A do-nothing agent of the benchmark protocol (steps its env, acts 0)."""

    def __init__(self, env, seed):
        self.env = env
        env.reset()

    def learn(self, total_timesteps):
        for _ in range(total_timesteps // self.env.num_envs):
            self.env.step(np.zeros((self.env.num_envs, *self.env.action_space.shape), dtype=np.float32))
        return self

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.zeros((len(observation), 1), dtype=np.float32), None


def test_continual_suite_writes_a_scorecard_with_intervals(tmp_path, monkeypatch) -> None:
    import sys
    import types

    from mtenvs.benchmarking import format_scorecard, run_suite, suites

    assert {"continual-cartpole-v0", "continual-simplemass-v0", "continual-gridworld-v0"} <= set(suites())
    module = types.ModuleType("zero_agent_module")
    module.Zero = _Zero
    monkeypatch.setitem(sys.modules, "zero_agent_module", module)
    document = run_suite("continual-simplemass", "zero_agent_module:Zero", size="quick", out=tmp_path,
                         overrides={"seeds": 2, "budget_scale": 0.01, "episodes": 2, "tasks": 2})
    summary = document["summary"]
    assert summary["seeds"] == 2 and np.asarray(summary["matrix"]).shape == (2, 2)
    for name in ("average_performance", "forgetting", "forward_transfer", "scratch_performance"):
        metric = summary["metrics"][name]
        assert metric["seeds"] == 2
        if metric["mean"] is not None:
            assert metric["low"] <= metric["mean"] + 1e-12 and metric["mean"] <= metric["high"] + 1e-12
    # a constant policy is the same learner before and after training: no forgetting
    assert summary["metrics"]["forgetting"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert (tmp_path / "benchmark-continual-simplemass-v0.png").exists()
    assert "forgetting" in format_scorecard(summary)


@pytest.mark.parametrize("name", ["continual-cartpole", "continual-simplemass", "continual-gridworld"])
def test_continual_suite_anchors_beat_random_on_every_task(name: str) -> None:
    """The score's span is positive on every task of every shipped continual suite (at the quick size's episodes),
    so every score is defined."""
    from mtenvs.benchmarking import get_suite

    suite = get_suite(name)
    seq = suite.sequence()
    random, anchor = SequenceEvaluator(seq, episodes=suite.quick.get("episodes", suite.episodes)).anchors()
    assert np.all(anchor > random)


def test_new_named_sequences_can_be_registered() -> None:
    from mtenvs.continual import register_sequence

    register_sequence("test-gridworld-spread", lambda: TaskSequence.spread("mtenvs/GridWorld-v0", 3, 500, seed=1))
    seq = sequence("test-gridworld-spread")
    assert seq.name == "test-gridworld-spread" and len(set(seq.tasks)) == 3
    assert all(1 <= t["num_obstacles"] <= 4 for t in seq)  # the training region
    with pytest.raises(ValueError, match=r"^name"):
        register_sequence("", lambda: seq)
