"""The wrapper suite, checked against independent references: closed-form codes, Gymnasium's own wrappers,
fresh environments set to the drifted parameter, brute-force statistics and the permutation equivariance."""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.env_match import check_environments_match
from gymnasium.wrappers import RecordEpisodeStatistics
from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecordEpisodeStatistics
from scipy import stats
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import mtenvs
from mtenvs.control.cartpole import CartPoleEnv
from mtenvs.core.samplers import EveryKEpisodes, FamilyDistribution, FixedTask, RoundRobin, UniformTasks
from mtenvs.core.task import Task, TaskSet
from mtenvs.core.vector import vector_env_for
from mtenvs.wrappers import (
    EntityPermutation,
    ParameterDrift,
    TaskEpisodeStatistics,
    TaskObservation,
    TaskSchedule,
    VectorTaskEpisodeStatistics,
    VectorTaskObservation,
    linear,
    piecewise,
    sinusoid,
)

ENV_ID = "mtenvs/CartPole-v0"
FAMILY = mtenvs.family("CartPole")
TRAIN = FAMILY.task_set("train")
SyncCartPole = vector_env_for(CartPoleEnv)


def cartpole(**kwargs: Any) -> gym.Env:
    return gym.make(ENV_ID, **kwargs)


def expected_features(task: Task) -> np.ndarray:
    """Normalized parameters computed from the declared bounds: 2 (v - low) / (high - low) - 1."""
    values = []
    for name, parameter in FAMILY.parameters.items():
        low, high = parameter.bounds  # type: ignore[attr-defined]
        values.append(2.0 * (task[name] - low) / (high - low) - 1.0)
    return np.asarray(values, dtype=np.float32)


def one_hot(task_id: str, task_set: TaskSet) -> np.ndarray:
    code = np.zeros(len(task_set), dtype=np.float32)
    code[[t.id for t in task_set].index(task_id)] = 1.0
    return code


def task_by_id(task_id: str, tasks: list[Task]) -> Task:
    return next(t for t in tasks if t.id == task_id)


def random_actions(space: gym.Space, n: int, seed: int) -> list[Any]:
    space.seed(seed)
    return [space.sample() for _ in range(n)]


# ============================================================================================== observability
def test_params_mode_appends_the_normalized_parameters() -> None:
    env = TaskObservation(cartpole(tasks="train"), mode="params")
    plain = cartpole(tasks="train")
    assert env.observation_space.dtype == np.float32 and env.observation_space.shape == (10,)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        ref, ref_info = plain.reset(seed=seed)
        assert info["task_id"] == ref_info["task_id"]
        for action in [*random_actions(env.action_space, 30, seed), None]:
            assert obs.dtype == np.float32 and env.observation_space.contains(obs)
            np.testing.assert_array_equal(obs[:4], ref)
            np.testing.assert_allclose(obs[4:], expected_features(info["task"]), atol=1e-6)
            if action is None:
                break
            obs, _, term, trunc, info = env.step(action)
            ref, *_ = plain.step(action)
            if term or trunc:
                break


def test_onehot_mode_marks_the_task_position_and_zeros_unknown_tasks_once() -> None:
    env = TaskObservation(cartpole(tasks="train"), mode="onehot", tasks=TRAIN)
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        np.testing.assert_array_equal(obs[4:], one_hot(info["task_id"], TRAIN))
        obs, *_, info = env.step(env.action_space.sample())
        np.testing.assert_array_equal(obs[4:], one_hot(info["task_id"], TRAIN))
    outside = FAMILY.task_set("ood")[0]
    with pytest.warns(UserWarning, match="not in the one-hot task set 'train'"):
        obs, _ = env.reset(options={"task": outside})
    assert not obs[4:].any() and env.observation_space.contains(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        env.reset(options={"task": FAMILY.task_set("ood")[1]})
    strict = TaskObservation(cartpole(), mode="onehot", tasks=list(TRAIN)[:3], unknown="error")
    with pytest.raises(ValueError, match="is not in the one-hot task set"):
        strict.reset(options={"task": outside})


def test_dict_and_hidden_modes() -> None:
    env = TaskObservation(cartpole(tasks="train"), mode="dict")
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert env.observation_space["task"] == spaces.Box(-1.0, 1.0, (FAMILY.parameters.feature_dim,), np.float32)
    np.testing.assert_allclose(obs["task"], expected_features(info["task"]), atol=1e-6)
    # Hidden: step for step the same as the unwrapped environment.
    check_environments_match(TaskObservation(cartpole(tasks="train"), mode="hidden"), cartpole(tasks="train"),
                             num_steps=60, seed=3)
    assert TaskObservation(cartpole(), mode="hidden").observation_space == cartpole().observation_space


@pytest.mark.parametrize("mode", ["params", "onehot", "dict", "hidden"])
def test_checkers_pass_and_spec_rebuilds_the_wrapper(mode: str) -> None:
    env = TaskObservation(cartpole(tasks="train"), mode=mode, tasks="train" if mode == "onehot" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "env is wrapped" and "infinite bounds" notes
        check_env(env)
    sb3_check_env(env)
    rebuilt = gym.make(env.spec)
    assert isinstance(rebuilt, TaskObservation) and rebuilt.observation_space == env.observation_space
    a, _ = env.reset(seed=7)
    b, _ = rebuilt.reset(seed=7)
    assert gym.utils.env_checker.data_equivalence(a, b)


def test_observability_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"mode must be one of \['params', 'onehot', 'dict', 'hidden'\]"):
        TaskObservation(cartpole(), mode="features")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs tasks="):
        TaskObservation(cartpole(), mode="onehot")
    with pytest.raises(ValueError, match="only used with mode='onehot'"):
        TaskObservation(cartpole(), mode="params", tasks="train")
    with pytest.raises(ValueError, match="same task more than once"):
        TaskObservation(cartpole(), mode="onehot", tasks=[TRAIN[0], TRAIN[0]])
    with pytest.raises(ValueError, match="1-D Box"):
        TaskObservation(TaskObservation(cartpole(), mode="dict"), mode="params")
    with pytest.raises(ValueError, match="needs an mtenvs family environment"):
        TaskObservation(gym.make("CartPole-v1"))


def _check_vector_rows(obs: np.ndarray, ids: np.ndarray, tasks: list[Task]) -> None:
    for i, task_id in enumerate(ids):
        np.testing.assert_allclose(obs[i, 4:], expected_features(task_by_id(task_id, tasks)), atol=1e-6)


@pytest.mark.parametrize("kind", ["native", "sync"])
def test_vector_observation_next_step_rows_follow_each_sub_env_task(kind: str) -> None:
    tasks = list(TRAIN)[:5]
    make = (lambda: gym.make_vec(ENV_ID, num_envs=3, tasks=TaskSet("few", tasks), max_episode_steps=7)) \
        if kind == "native" else (lambda: SyncCartPole(3, tasks=TaskSet("few", tasks), max_episode_steps=7))
    env, plain = VectorTaskObservation(make(), mode="params"), make()
    obs, infos = env.reset(seed=0)
    ref, _ = plain.reset(seed=0)
    seen = set()
    for actions in random_actions(env.action_space, 25, 0):
        assert env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs[:, :4], ref)
        _check_vector_rows(obs, infos["task_id"], tasks)
        seen.update(infos["task_id"])
        obs, _, _, _, infos = env.step(actions)
        ref, *_ = plain.step(actions)
    assert len(seen) > 3  # autoresets drew new tasks along the way


def test_vector_observation_same_step_encodes_final_obs_with_the_finished_task() -> None:
    tasks = list(TRAIN)[:6]
    make = lambda: gym.make_vec(ENV_ID, num_envs=3, tasks=TaskSet("few", tasks), max_episode_steps=5,  # noqa: E731
                                autoreset_mode="SameStep")
    env, plain = VectorTaskObservation(make(), mode="params"), make()
    obs, infos = env.reset(seed=2)
    plain.reset(seed=2)
    finals = 0
    for actions in random_actions(env.action_space, 16, 2):
        obs, _, _, _, infos = env.step(actions)
        ref, _, _, _, ref_infos = plain.step(actions)
        np.testing.assert_array_equal(obs[:, :4], ref)
        _check_vector_rows(obs, infos["task_id"], tasks)
        for i in np.flatnonzero(infos.get("_final_obs", [])):
            finals += 1
            final = infos["final_obs"][i]
            assert env.single_observation_space.contains(final)
            np.testing.assert_array_equal(final[:4], ref_infos["final_obs"][i])
            finished = task_by_id(infos["final_info"]["task_id"][i], tasks)
            np.testing.assert_allclose(final[4:], expected_features(finished), atol=1e-6)
    assert finals >= 6


@pytest.mark.parametrize("mode", ["onehot", "dict"])
def test_vector_observation_other_modes(mode: str) -> None:
    tasks = TaskSet("few", list(TRAIN)[:4])
    env = VectorTaskObservation(SyncCartPole(4, tasks=list(tasks)), mode=mode, tasks=tasks if mode == "onehot" else None)
    obs, infos = env.reset(seed=0)
    obs, *_, infos = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    for i in range(4):
        if mode == "onehot":
            np.testing.assert_array_equal(obs[i, 4:], one_hot(infos["task_id"][i], tasks))
        else:
            np.testing.assert_allclose(obs["task"][i], expected_features(tasks[i]), atol=1e-6)


def test_vector_observation_with_ever_new_tasks_and_partial_resets(monkeypatch: pytest.MonkeyPatch) -> None:
    from mtenvs.core.wrappers import observation

    monkeypatch.setattr(observation, "_CACHE_LIMIT", 8)  # exercise the clearing of the code table
    env = VectorTaskObservation(gym.make_vec(ENV_ID, num_envs=4, tasks=FamilyDistribution(FAMILY), max_episode_steps=2))
    obs, _ = env.reset(seed=0)
    seen = set()
    for actions in random_actions(env.action_space, 20, 0):
        current = env.unwrapped.tasks
        seen.update(current)
        _check_vector_rows(obs, [t.id for t in current], current)
        obs, *_ = env.step(actions)
    assert len(seen) > 20
    sync = VectorTaskObservation(SyncCartPole(2, tasks=list(TRAIN)[:2], autoreset_mode="Disabled"))
    sync.reset(seed=0)
    obs, _ = sync.reset(options={"reset_mask": np.array([False, True]), "task": TRAIN[5]})
    _check_vector_rows(obs, [TRAIN[0].id, TRAIN[5].id], list(TRAIN))


def test_vector_observation_on_gymnasium_sync_vector_env() -> None:
    env = VectorTaskObservation(gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", tasks="train"))
    obs, infos = env.reset(seed=0)
    _check_vector_rows(obs, infos["task_id"], list(TRAIN))


# ================================================================================================= schedules
class RecordingSampler(RoundRobin):
    """Round robin that records the feedback it is given."""

    def __init__(self, tasks: Any) -> None:
        super().__init__(tasks)
        self.updates: list[tuple[str, float, int]] = []

    def update(self, task: Task, episode_return: float, episode_length: int) -> None:
        self.updates.append((task.id, episode_return, episode_length))


def _episode_ids(env: gym.Env, seed: int, episodes: int, policy_seed: int) -> list[str]:
    ids = [env.reset(seed=seed)[1]["task_id"]]
    rng = np.random.default_rng(policy_seed)
    for _ in range(episodes - 1):
        for _ in range(int(rng.integers(1, 4))):
            env.step(rng.uniform(-1, 1, size=1).astype(np.float32))
        ids.append(env.reset()[1]["task_id"])
    return ids


def test_schedule_draws_the_same_stream_as_the_env_sampler() -> None:
    scheduled = TaskSchedule(cartpole(), UniformTasks(TRAIN))
    reference = cartpole(tasks=UniformTasks(TRAIN))
    ids = _episode_ids(scheduled, 11, 12, policy_seed=0)
    assert ids == _episode_ids(reference, 11, 12, policy_seed=0)
    assert ids == _episode_ids(scheduled, 11, 12, policy_seed=1)  # the policy never changes the tasks
    assert ids != _episode_ids(scheduled, 12, 12, policy_seed=0)
    assert len(set(ids)) > 6


def test_schedule_feeds_episode_outcomes_back() -> None:
    tasks = list(TRAIN)[:3]
    sampler = RecordingSampler(tasks)
    env = TaskSchedule(RecordEpisodeStatistics(cartpole(max_episode_steps=12)), sampler)
    reference = []
    env.reset(seed=0)
    while len(reference) < 7:
        push = np.ones(1, np.float32) if len(reference) % 2 else np.zeros(1, np.float32)  # falls soon / balances
        _, _, term, trunc, info = env.step(push)
        if term or trunc:
            reference.append((info["task_id"], info["episode"]["r"], info["episode"]["l"]))
            env.reset()
    assert sampler.updates == reference
    assert [u[0] for u in sampler.updates] == [tasks[k % 3].id for k in range(7)]  # round robin
    lengths = [length for _, _, length in sampler.updates]
    assert 12 in lengths and min(lengths) < 12  # truncations and terminations both end episodes


def test_schedule_leaves_the_sampler_alone_on_explicit_tasks() -> None:
    tasks = list(TRAIN)[:3]
    sampler = RecordingSampler(tasks)
    env = TaskSchedule(cartpole(max_episode_steps=3), sampler)
    _, info = env.reset(seed=0, options={"task": {"pole_length": 1.5}})
    assert info["task"]["pole_length"] == 1.5
    for _ in range(3):
        env.step(np.zeros(1, np.float32))
    assert sampler.updates == []
    assert env.reset()[1]["task_id"] == tasks[0].id  # the round robin did not move


def test_schedule_every_k_episodes_and_rebuild() -> None:
    tasks = list(TRAIN)[:3]
    env = TaskSchedule(cartpole(), EveryKEpisodes(RoundRobin(tasks), k=2))
    ids = [env.reset(seed=0)[1]["task_id"]] + [env.reset()[1]["task_id"] for _ in range(5)]
    assert ids == [tasks[0].id, tasks[0].id, tasks[1].id, tasks[1].id, tasks[2].id, tasks[2].id]
    env.reset(seed=0), env.reset(), env.reset()  # a, a, b
    assert env.reset(seed=0)[1]["task_id"] == tasks[0].id  # a seeded reset restarts the schedule
    assert isinstance(gym.make(env.spec), TaskSchedule)
    with pytest.raises(ValueError, match="needs an mtenvs family environment"):
        TaskSchedule(gym.make("CartPole-v1"), FixedTask(TRAIN[0]))


# ================================================================================================ statistics
def _run_pair(wrapped: gym.Env, reference: gym.Env, steps: int, seed: int) -> list[tuple[dict, dict, str]]:
    """Step two identical environments with the same actions; collect (ours, reference, reset task id)."""
    episodes = []
    _, info = wrapped.reset(seed=seed)
    reference.reset(seed=seed)
    start_id = info["task_id"]
    for action in random_actions(wrapped.action_space, steps, seed):
        _, _, term, trunc, info = wrapped.step(action)
        _, _, ref_term, ref_trunc, ref_info = reference.step(action)
        assert (term, trunc) == (ref_term, ref_trunc)
        if term or trunc:
            episodes.append((info["episode"], ref_info["episode"], start_id))
            start_id = wrapped.reset()[1]["task_id"]
            reference.reset()
    return episodes


def test_episode_statistics_agree_with_gymnasium_and_group_by_task() -> None:
    tasks = list(TRAIN)[:3]
    env = TaskEpisodeStatistics(cartpole(tasks=TaskSet("three", tasks), max_episode_steps=30), buffer_length=4)
    reference = RecordEpisodeStatistics(cartpole(tasks=TaskSet("three", tasks), max_episode_steps=30))
    episodes = _run_pair(env, reference, 600, seed=0)
    assert len(episodes) > 20
    by_task: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for ours, ref, start_id in episodes:
        assert (ours["r"], ours["l"]) == (ref["r"], ref["l"]) and isinstance(ours["r"], float)
        assert ours["task_id"] == start_id
        by_task[start_id].append((ours["r"], ours["l"]))
    summary = env.summary()
    assert set(summary) == set(by_task)
    for task_id, runs in by_task.items():
        last = np.array(runs[-4:])
        assert summary[task_id]["episodes"] == len(runs)
        assert summary[task_id]["mean_return"] == pytest.approx(last[:, 0].mean())
        assert summary[task_id]["std_return"] == pytest.approx(last[:, 0].std())
        assert summary[task_id]["mean_length"] == pytest.approx(last[:, 1].mean())
    assert list(env.return_queue) == list(reference.return_queue)[-4:]


class _EpisodeWriter(gym.Wrapper):
    """Writes info["episode"] at episode end, as SB3's Monitor does."""

    def step(self, action: Any) -> Any:
        obs, reward, term, trunc, info = self.env.step(action)
        if term or trunc:
            info["episode"] = {"r": 0.0, "l": 0, "t": 0.0}
        return obs, reward, term, trunc, info


def test_episode_statistics_refuse_to_stack() -> None:
    from stable_baselines3.common.monitor import Monitor

    with pytest.raises(ValueError, match="Monitor"):
        TaskEpisodeStatistics(Monitor(cartpole()))
    with pytest.raises(ValueError, match="RecordEpisodeStatistics"):
        TaskEpisodeStatistics(RecordEpisodeStatistics(cartpole()))
    env = TaskEpisodeStatistics(_EpisodeWriter(cartpole(max_episode_steps=2)))
    env.reset(seed=0)
    env.step(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="already has an 'episode' entry"):
        env.step(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="buffer_length"):
        TaskEpisodeStatistics(cartpole(), buffer_length=0)


def test_episode_statistics_reach_sb3_ep_info_buffer() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: TaskEpisodeStatistics(cartpole(tasks="train", max_episode_steps=20))])
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    assert len(model.ep_info_buffer) >= 3
    assert all(info["task_id"] in TRAIN.ids and info["l"] <= 20 for info in model.ep_info_buffer)


@pytest.mark.parametrize(("kind", "mode"), [("native", "NextStep"), ("native", "SameStep"), ("sync", "NextStep"),
                                            ("sync", "SameStep")])
def test_vector_episode_statistics_agree_with_gymnasium(kind: str, mode: str) -> None:
    tasks = TaskSet("few", list(TRAIN)[:4])

    def make() -> gym.vector.VectorEnv:
        if kind == "native":
            return gym.make_vec(ENV_ID, num_envs=3, tasks=tasks, max_episode_steps=25, autoreset_mode=mode)
        return SyncCartPole(3, tasks=tasks, max_episode_steps=25, autoreset_mode=mode)

    env = VectorTaskEpisodeStatistics(make(), buffer_length=50)
    reference = VectorRecordEpisodeStatistics(make())
    env.reset(seed=5)
    reference.reset(seed=5)
    ended: dict[str, list[float]] = defaultdict(list)
    for actions in random_actions(env.action_space, 150, 5):
        _, _, _, _, infos = env.step(actions)
        _, _, _, _, ref = reference.step(actions)
        assert ("_episode" in infos) == ("_episode" in ref)
        if "_episode" not in infos:
            continue
        np.testing.assert_array_equal(infos["_episode"], ref["_episode"])
        np.testing.assert_array_equal(infos["episode"]["r"], ref["episode"]["r"])
        np.testing.assert_array_equal(infos["episode"]["l"], ref["episode"]["l"])
        # The episode's task, read independently: NextStep reports it in this step's infos; SameStep has
        # already reset, so it is in final_info.
        source = infos["final_info"]["task_id"] if mode == "SameStep" else infos["task_id"]
        for i in range(3):
            if infos["_episode"][i]:
                assert infos["episode"]["task_id"][i] == source[i]
                ended[source[i]].append(float(infos["episode"]["r"][i]))
            else:
                assert infos["episode"]["task_id"][i] is None
    assert sum(len(v) for v in ended.values()) > 10
    summary = env.summary()
    assert {k: v["episodes"] for k, v in summary.items()} == {k: len(v) for k, v in ended.items()}
    for task_id, returns in ended.items():
        assert summary[task_id]["mean_return"] == pytest.approx(np.mean(returns))


def test_vector_episode_statistics_with_partial_resets() -> None:
    tasks = list(TRAIN)[:2]
    env = VectorTaskEpisodeStatistics(gym.make_vec(ENV_ID, num_envs=2, tasks=tasks, max_episode_steps=3,
                                                   autoreset_mode="Disabled"))
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, trunc, infos = env.step(np.zeros((2, 1), np.float32))
    assert trunc.all() and list(infos["episode"]["task_id"]) == [tasks[0].id, tasks[1].id]
    env.reset(options={"reset_mask": np.array([True, False]), "task": tasks[1]})
    env.reset(options={"reset_mask": np.array([False, True])})
    for _ in range(3):
        _, _, _, _, infos = env.step(np.zeros((2, 1), np.float32))
    assert list(infos["episode"]["task_id"]) == [tasks[1].id, tasks[1].id]
    assert env.summary()[tasks[1].id]["episodes"] == 3


# ===================================================================================================== drift
def test_schedule_helpers_closed_forms() -> None:
    ramp = linear(0.5, 1.5, steps=4)
    assert [ramp(t) for t in (0, 2, 4, 10)] == [0.5, 1.0, 1.5, 1.5]
    wave = sinusoid(1.0, 0.5, period=8)
    assert wave(0) == 1.0 and wave(2) == pytest.approx(1.5) and wave(6) == pytest.approx(0.5)
    steps = piecewise([0, 10, 20], [0.3, 0.9, 0.6])
    assert [steps(t) for t in (0, 9, 10, 19, 20, 99)] == [0.3, 0.3, 0.9, 0.9, 0.6, 0.6]
    assert piecewise([0, 10], [0.0, 1.0], interpolation="linear")(5) == pytest.approx(0.5)
    assert (ramp.extremes, wave.extremes, steps.extremes) == ((0.5, 1.5), (0.5, 1.5), (0.3, 0.9))
    for bad, match in [(lambda: linear(0, 1, 0), "steps"), (lambda: linear(0, float("nan"), 5), "end"),
                       (lambda: sinusoid(1, 1, 0), "period"), (lambda: piecewise([1, 2], [0, 1]), "start at 0"),
                       (lambda: piecewise([0, 0], [0, 1]), "increase strictly"),
                       (lambda: piecewise([0], [0, 1]), "equal length")]:
        with pytest.raises(ValueError, match=match):
            bad()


@pytest.mark.parametrize("schedule", [linear(0.3, 1.8, steps=40), sinusoid(1.0, 0.7, period=15),
                                      piecewise([0, 5, 12], [0.4, 1.6, 0.9])])
def test_drift_transitions_equal_a_fresh_env_at_the_drifted_parameter(schedule: Any) -> None:
    env = ParameterDrift(cartpole(task={"cart_mass": 0.7}), "pole_length", schedule)
    fresh = cartpole()
    obs, info = env.reset(seed=4)
    assert info["task"]["pole_length"] == pytest.approx(schedule(0)) and info["task"]["cart_mass"] == 0.7
    differs = False
    for t, action in enumerate(random_actions(env.action_space, 40, 4)):
        state = env.unwrapped.state
        drifted = FAMILY.task(cart_mass=0.7, pole_length=schedule(t))
        fresh.reset(options={"task": drifted, "state": state})
        expected, reward, term, _, _ = fresh.step(action)
        nominal = cartpole(task={"cart_mass": 0.7})
        nominal.reset(options={"state": state})
        differs |= not np.array_equal(nominal.step(action)[0], expected)
        obs, r, done, _, info = env.step(action)
        np.testing.assert_array_equal(obs, expected)
        assert (r, done) == (reward, term) and info["task"] == drifted and info["task_id"] == drifted.id
        if done:
            break
    assert differs  # the drift changed the dynamics


def test_drift_rejects_out_of_bounds_values() -> None:
    with pytest.raises(ValueError, match=r"'pole_length' = 2.5 is outside its bounds \[0.05, 2\] m"):
        ParameterDrift(cartpole(), "pole_length", linear(0.5, 2.5, steps=10))
    with pytest.raises(ValueError, match="did you mean 'pole_length'"):
        ParameterDrift(cartpole(), "pole_lenght", linear(0.5, 1.0, steps=10))
    env = ParameterDrift(cartpole(), "gravity", lambda t: 9.8 + 10.0 * t)  # leaves [1, 25] at t = 2
    env.reset(seed=0)
    env.step(np.zeros(1, np.float32))
    env.step(np.zeros(1, np.float32))
    state, task = env.unwrapped.state, env.unwrapped.task
    with pytest.raises(ValueError, match=r"'gravity' = 29\.8 is outside its bounds"):
        env.step(np.zeros(1, np.float32))
    np.testing.assert_array_equal(env.unwrapped.state, state)  # nothing moved
    assert env.unwrapped.task == task


def test_drift_is_visible_through_task_observation_and_checkers() -> None:
    env = TaskObservation(ParameterDrift(cartpole(), "pole_length", linear(0.2, 1.0, steps=8)), mode="params")
    env.reset(seed=0)
    index = FAMILY.parameters.feature_names().index("pole_length")
    for t in range(1, 5):
        obs, *_ = env.step(np.zeros(1, np.float32))
        assert obs[4 + index] == pytest.approx(expected_features(FAMILY.task(pole_length=0.2 + 0.1 * (t - 1)))[index])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(ParameterDrift(cartpole(), "pole_length", sinusoid(0.8, 0.3, 10)))


# =============================================================================================== permutation
class EntityEnv(gym.Env):
    """Interchangeable entities: each has features (value, momentum) that evolve by the same rule; the
    action weights each entity (optionally after a cash entry); the reward sums entity-wise terms."""

    metadata = {"render_modes": []}

    def __init__(self, n: int = 4, cash: bool = False, as_dict: bool = False, uneven_bounds: bool = False) -> None:
        self.n, self.cash, self.as_dict = n, cash, as_dict
        high = np.full((n, 2), 10.0, np.float32)
        if uneven_bounds:
            high[:, 0] = np.arange(10, 10 + n)  # entity-specific bounds, all above any reachable value
        entities = spaces.Box(-high, high, dtype=np.float32)
        self.observation_space = spaces.Dict({"assets": entities, "cash": spaces.Box(-10, 10, (1,), np.float32)}) \
            if as_dict else entities
        self.action_space = spaces.Box(-1.0, 1.0, (n + int(cash),), np.float32)
        self._state = np.zeros((n, 2))
        self._cash = 0.0
        self._t = 0

    def _obs(self) -> Any:
        assets = self._state.astype(np.float32)
        return {"assets": assets, "cash": np.array([self._cash], np.float32)} if self.as_dict else assets

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._state = self.np_random.uniform(-1, 1, size=(self.n, 2))
        self._cash, self._t = 0.0, 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        action = np.clip(np.asarray(action, dtype=np.float64), -1, 1)
        weights = action[int(self.cash):]
        reward = float(np.sum(self._state[:, 0] * weights - 0.1 * weights**2))
        if self.cash:
            reward += 0.05 * float(action[0])
        noise = self.np_random.normal(0.0, 0.1, size=(self.n, 2))
        self._state = np.clip(0.8 * self._state + 0.2 * np.stack([weights, weights**2], axis=1) + noise, -5, 5)
        self._cash = float(np.clip(self._cash + reward, -9, 9))
        self._t += 1
        return self._obs(), reward, False, self._t >= 12, {}


def position_policy(assets: np.ndarray, cash: bool) -> np.ndarray:
    """A deterministic policy that depends on entity positions (so it is not permutation-equivariant)."""
    n = len(assets)
    action = np.tanh(assets[:, 0] * np.arange(1, n + 1) - assets[:, 1])
    return np.concatenate([[0.5], action]).astype(np.float32) if cash else action.astype(np.float32)


@pytest.mark.parametrize(("cash", "as_dict"), [(False, False), (True, True)])
def test_permutation_equivariance(cash: bool, as_dict: bool) -> None:
    kwargs = {"keys": ["assets"], "action_offset": 1} if as_dict else {}
    wrapped = EntityPermutation(EntityEnv(cash=cash, as_dict=as_dict), **kwargs)
    plain = EntityEnv(cash=cash, as_dict=as_dict)
    assets = (lambda o: o["assets"]) if as_dict else (lambda o: o)
    perms = []
    for seed in range(5):
        obs_w, info = wrapped.reset(seed=seed)
        obs, _ = plain.reset(seed=seed)
        perm = info["permutation"]
        assert sorted(perm) == list(range(4))
        for _ in range(12):
            assert wrapped.observation_space.contains(obs_w)
            np.testing.assert_array_equal(assets(obs_w), assets(obs)[perm])
            if as_dict:
                np.testing.assert_array_equal(obs_w["cash"], obs["cash"])
            action = position_policy(assets(obs), cash)
            # The same policy, seen through the permutation: un-permute the shown entities, act, permute back.
            shown = np.empty_like(assets(obs_w))
            shown[perm] = assets(obs_w)
            permuted_action = position_policy(shown, cash)
            permuted_action[int(cash):] = permuted_action[int(cash):][perm]
            obs_w, reward_w, _, trunc_w, info = wrapped.step(permuted_action)
            obs, reward, _, trunc, _ = plain.step(action)
            assert reward_w == reward and trunc_w == trunc
            np.testing.assert_array_equal(info["permutation"], perm)
        perms.append(tuple(perm))
    assert len(set(perms)) > 1  # episodes use different orders


def test_permutation_changes_what_a_position_dependent_policy_earns() -> None:
    wrapped, plain = EntityPermutation(EntityEnv()), EntityEnv()
    totals = []
    for env in (wrapped, plain):
        total = 0.0
        for seed in range(5):
            obs, _ = env.reset(seed=seed)
            for _ in range(12):
                obs, reward, *_ = env.step(position_policy(obs, cash=False))
                total += reward
        totals.append(total)
    assert totals[0] != totals[1]


def test_permutations_are_seeded_and_uniform() -> None:
    env = EntityPermutation(EntityEnv(n=3))
    first = [env.reset(seed=3)[1]["permutation"].tolist()] + [env.reset()[1]["permutation"].tolist() for _ in range(9)]
    again = [env.reset(seed=3)[1]["permutation"].tolist()] + [env.reset()[1]["permutation"].tolist() for _ in range(9)]
    assert first == again
    other = [env.reset(seed=4)[1]["permutation"].tolist()] + [env.reset()[1]["permutation"].tolist() for _ in range(9)]
    assert first != other
    env.reset(seed=0)
    counts = defaultdict(int)
    for _ in range(1200):
        counts[tuple(env.reset()[1]["permutation"])] += 1
    assert len(counts) == 6
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3
    # The environment's own generator is untouched: the dynamics match the unwrapped env's.
    check_environments_match(EntityEnv(), EntityPermutation(EntityEnv(), action_axis=None), num_steps=30, seed=1,
                             skip_obs=True, info_comparison="superset")


def test_permutation_spaces_and_errors() -> None:
    uneven = EntityPermutation(EntityEnv(uneven_bounds=True))
    np.testing.assert_array_equal(uneven.observation_space.high[:, 0], np.full(4, 13.0))  # the envelope
    obs, _ = uneven.reset(seed=0)
    assert uneven.observation_space.contains(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no spec, so no render-mode check
        check_env(EntityPermutation(EntityEnv(cash=True, as_dict=True), keys=["assets"], action_offset=1))
    with pytest.raises(ValueError, match="entity counts disagree"):
        EntityPermutation(EntityEnv(cash=True))  # 5 action entries, 4 entities
    with pytest.raises(ValueError, match="needs keys="):
        EntityPermutation(EntityEnv(as_dict=True))
    with pytest.raises(ValueError, match="not in the observation"):
        EntityPermutation(EntityEnv(as_dict=True), keys=["stocks"])
    with pytest.raises(ValueError, match="obs_axis"):
        EntityPermutation(EntityEnv(), obs_axis=2)
    env = EntityEnv()
    env.action_space = spaces.Box(np.array([-1, -1, -1, -2], np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="same for every entity"):
        EntityPermutation(env)
    wrapped = EntityPermutation(EntityEnv())
    wrapped.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(4,\)"):
        wrapped.step(np.zeros(3))
