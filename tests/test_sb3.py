"""The stable-baselines3 adapter against SB3's own DummyVecEnv, and PPO across cart-pole tasks."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

import mtenvs
from mtenvs.control.cartpole import CartPoleEnv
from mtenvs.core.vector import vector_env_for
from mtenvs.evaluation import RandomPolicy
from mtenvs.progress import ProgressOptions
from mtenvs.sb3 import ProgressCallback, SB3VecEnv, TaskStatsCallback, make_vec_env, without_log_folder

FAMILY = mtenvs.family("CartPole")


@pytest.mark.parametrize("env_id", ["mtenvs/CartPole-v0", "mtenvs/ToyChain-v0"])
def test_adapter_matches_sb3_dummy_vec_env(env_id: str) -> None:
    fam = mtenvs.family_of(env_id)
    tasks = list(fam.task_set("train")[:4])
    if env_id == "mtenvs/CartPole-v0":  # compare through the Sync form, whose seeding is SB3's (seed + i)
        ours = SB3VecEnv(vector_env_for(CartPoleEnv)(4, tasks=tasks, max_episode_steps=30, autoreset_mode="SameStep"))
    else:
        ours = make_vec_env(env_id, 4, tasks=tasks, monitor=False)
    steps = 30 if env_id == "mtenvs/CartPole-v0" else gym.spec(env_id).max_episode_steps
    reference = DummyVecEnv([lambda t=t: gym.make(env_id, task=t, max_episode_steps=steps) for t in tasks])
    ours.seed(5)
    reference.seed(5)
    np.testing.assert_array_equal(ours.reset(), reference.reset())
    space = reference.action_space
    space.seed(0)
    ends = truncations = 0
    for _ in range(120):
        actions = np.stack([space.sample() for _ in range(4)])
        a, b = ours.step(actions), reference.step(actions)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])
        for i in np.flatnonzero(b[2]):
            ends += 1
            np.testing.assert_array_equal(a[3][i]["terminal_observation"], b[3][i]["terminal_observation"])
            assert a[3][i]["TimeLimit.truncated"] == b[3][i]["TimeLimit.truncated"]
            truncations += b[3][i]["TimeLimit.truncated"]
            assert a[3][i]["task_id"] == tasks[i].id == ours.reset_infos[i]["task_id"]
    assert ends > 5 and (truncations > 0 or env_id != "mtenvs/CartPole-v0")


def test_monitor_records_the_finished_episodes_task() -> None:
    venv = make_vec_env("mtenvs/CartPole-v0", 4, tasks="train", seed=0, env_kwargs={"max_episode_steps": 5})
    assert isinstance(venv, VecMonitor)
    venv.reset()
    expected = [t.id for t in venv.venv.venv.unwrapped.tasks]
    for _ in range(5):
        _, _, dones, infos = venv.step(np.zeros((4, 1), dtype=np.float32))
    assert dones.all()
    assert [info["task_id"] for info in infos] == expected  # the task of the episode that ended
    assert all(info["episode"]["l"] == 5 for info in infos)


def test_seeding_reproduces_and_differs() -> None:
    def first_obs(seed: int) -> np.ndarray:
        venv = make_vec_env("mtenvs/CartPole-v0", 3, tasks="train", seed=seed)
        return np.concatenate([venv.reset(), *[venv.step(np.ones((3, 1), dtype=np.float32))[0] for _ in range(3)]])

    np.testing.assert_array_equal(first_obs(1), first_obs(1))
    assert not np.array_equal(first_obs(1), first_obs(2))


def test_adapter_rejects_other_autoreset_modes() -> None:
    with pytest.raises(ValueError, match="SameStep"):
        SB3VecEnv(gym.make_vec("mtenvs/CartPole-v0", num_envs=2))


def test_ppo_trained_on_train_tasks_beats_random_on_test_tasks() -> None:
    venv = make_vec_env("mtenvs/CartPole-v0", n_envs=8, tasks="train", seed=0)
    callback = TaskStatsCallback()
    model = PPO("MlpPolicy", venv, seed=0, device="cpu", n_steps=256, batch_size=256, learning_rate=1e-3)
    model.learn(20_000, callback=callback)
    assert len(callback.stats) > 10  # per-task statistics were collected

    test_tasks = FAMILY.task_set("test")[:20]
    trained = mtenvs.evaluate(model, "mtenvs/CartPole-v0", test_tasks, episodes=3, seed=1)
    random = mtenvs.evaluate(RandomPolicy(gym.make("mtenvs/CartPole-v0").action_space, 1), "mtenvs/CartPole-v0",
                             test_tasks, episodes=3, seed=1)
    assert trained.mean_return > 3 * random.mean_return, (trained.mean_return, random.mean_return)
    better = sum(t.mean_return > r.mean_return for t, r in zip(trained.per_task, random.per_task, strict=True))
    assert better >= 18


def test_vector_wrappers_show_the_task_to_the_agent() -> None:
    from mtenvs.wrappers import VectorTaskObservation

    venv = make_vec_env("mtenvs/CartPole-v0", 4, tasks="train", seed=0,
                        vector_wrappers=[lambda v: VectorTaskObservation(v, mode="params")])
    assert venv.observation_space.shape == (4 + FAMILY.parameters.feature_dim,)
    obs = venv.reset()
    tasks = venv.venv.venv.unwrapped.tasks
    np.testing.assert_allclose(obs[:, 4:], np.stack([FAMILY.features(t) for t in tasks]))
    ended = 0
    for _ in range(100):
        obs, _, dones, infos = venv.step(np.ones((4, 1), dtype=np.float32))
        for i in np.flatnonzero(dones):  # the terminal observation shows the finished episode's task
            ended += 1
            finished = FAMILY.task_set("train")[FAMILY.task_set("train").ids.index(infos[i]["task_id"])]
            np.testing.assert_allclose(infos[i]["terminal_observation"][4:], FAMILY.features(finished))
    assert ended >= 4
    np.testing.assert_allclose(obs[:, 4:], np.stack([FAMILY.features(t) for t in venv.venv.venv.unwrapped.tasks]))
    PPO("MlpPolicy", venv, n_steps=64, batch_size=64, device="cpu", seed=0).learn(256)


def test_trainings_leave_no_sb3_folder_in_the_temp_dir(tmp_path, monkeypatch, capsys) -> None:
    """SB3 creates ``<tempdir>/SB3-<date-time>`` on each ``learn`` of a model without ``tensorboard_log``; the
    benchmark's agents, deep DCPG's learners and ``without_log_folder`` models create none, and keep their output."""
    import tempfile

    from stable_baselines3 import A2C

    from agents.dcpg.deep import DeepDCPG
    from mtenvs.benchmarking import build_agent
    from mtenvs.sb3 import without_log_folder

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    venv = make_vec_env("mtenvs/CartPole-v0", n_envs=2, tasks="train", seed=0)
    PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, device="cpu").learn(32)
    (made,) = temp.glob("SB3-*")  # SB3's own behaviour, which the rest avoids
    made.rmdir()  # empty

    build_agent(PPO, venv, seed=0).learn(32)
    chatty = without_log_folder(A2C("MlpPolicy", venv, n_steps=8, device="cpu", verbose=1))
    chatty.learn(32, log_interval=1)
    assert "total_timesteps" in capsys.readouterr().out  # verbose output still printed
    DeepDCPG("mtenvs/DroneNav-v0", [{"plan": "long"}, {"plan": "cloud"}], algo="a2c", n_envs=1, n_steps=8,
             env_kwargs={"image_shape": (8, 8), "max_episode_steps": 30}).learn(2)
    assert list(temp.glob("SB3-*")) == []


def test_progress_callback_counts_steps_through_mtenvs_progress_and_changes_nothing() -> None:
    def trained(callback: ProgressCallback | None) -> list[np.ndarray]:
        venv = make_vec_env("mtenvs/CartPole-v0", n_envs=2, tasks="train", seed=0)
        model = without_log_folder(PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, device="cpu", seed=0))
        model.learn(64, callback=callback)
        return [p.detach().numpy().copy() for p in model.policy.parameters()]

    stream = io.StringIO()
    with_bar = trained(ProgressCallback(ProgressOptions(stream=stream, interval=0.0)))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("PPO: 2/64 steps | elapsed")        # two sub-envs: two steps per call
    assert lines[-1].startswith("PPO: 64/64 steps | elapsed") and len(lines) == 32
    assert all(np.array_equal(a, b) for a, b in zip(with_bar, trained(None), strict=True))
    with pytest.raises(ValueError, match="setting"):
        ProgressCallback("yes")  # type: ignore[arg-type]
