"""Conformance of every registered id: the checkers, determinism, pickling, vector == single, bad inputs.

The sweep is built from the registry, so a family joins it by registering (``tests/toy_family.py`` shows it).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import mtenvs

ENV_IDS = mtenvs.env_ids()


def sweep_tasks(env_id: str) -> list[tuple[str, mtenvs.Task]]:
    """The default task, two train tasks, a test task and two out-of-distribution tasks."""
    fam = mtenvs.family_of(env_id)
    train, test, ood = fam.task_set("train"), fam.task_set("test"), fam.task_set("ood")
    return [("default", fam.default_task()), ("train0", train[0]), ("train1", train[1]), ("test0", test[0]),
            ("ood0", ood[0]), ("ood1", ood[1])]


TASK_CASES = [pytest.param(env_id, task, id=f"{env_id}-{label}") for env_id in ENV_IDS for label, task in sweep_tasks(env_id)]


def sample_actions(space: gym.Space, n: int, seed: int) -> list[Any]:
    space.seed(seed)
    return [space.sample() for _ in range(n)]


def rollout(env: gym.Env, seed: int, actions: list[Any], episodes: int) -> list[tuple[Any, ...]]:
    """(obs, reward, terminated, truncated, task_id) of every step of ``episodes`` episodes."""
    record = []
    obs, info = env.reset(seed=seed)
    record.append((obs, None, None, None, info["task_id"]))
    done_episodes, k = 0, 0
    while done_episodes < episodes:
        obs, reward, terminated, truncated, info = env.step(actions[k % len(actions)])
        k += 1
        record.append((obs, reward, terminated, truncated, info["task_id"]))
        if terminated or truncated:
            done_episodes += 1
            obs, info = env.reset()
            record.append((obs, None, None, None, info["task_id"]))
    return record


# ---------------------------------------------------------------------------------------------- checkers
@pytest.mark.parametrize(("env_id", "task"), TASK_CASES)
def test_gymnasium_check_env(env_id: str, task: mtenvs.Task) -> None:
    env = gym.make(env_id, task=task)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # unbounded velocities are declared as such
        warnings.filterwarnings("ignore", message=".*symmetric.*")
        gym_check_env(env.unwrapped)


@pytest.mark.parametrize(("env_id", "task"), TASK_CASES)
def test_sb3_check_env(env_id: str, task: mtenvs.Task) -> None:
    sb3_check_env(gym.make(env_id, task=task).unwrapped, warn=False)


# ---------------------------------------------------------------------------------- the task contract
@pytest.mark.parametrize(("env_id", "task"), TASK_CASES)
def test_observations_inside_space_and_python_types(env_id: str, task: mtenvs.Task) -> None:
    env = gym.make(env_id, task=task, disable_env_checker=True)
    actions = sample_actions(env.action_space, 300, seed=1)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["task"] == task and info["task_id"] == task.id
    for k in range(300):
        obs, reward, terminated, truncated, info = env.step(actions[k])
        assert env.observation_space.contains(obs), (k, obs)
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
        assert info["task"] == task and info["task_id"] == task.id
        if terminated or truncated:
            obs, info = env.reset()
            assert env.observation_space.contains(obs)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_one_seed_reproduces_the_whole_stream(env_id: str) -> None:
    env = gym.make(env_id, tasks="train")
    actions = sample_actions(env.action_space, 200, seed=3)
    first, second = rollout(env, 7, actions, episodes=6), rollout(gym.make(env_id, tasks="train"), 7, actions, episodes=6)
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    other = rollout(env, 8, actions, episodes=6)
    assert [r[4] for r in other if r[1] is None] != [r[4] for r in first if r[1] is None]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_task_stream_does_not_depend_on_the_policy(env_id: str) -> None:
    def episode_tasks(action_seed: int) -> list[str]:
        env = gym.make(env_id, tasks="train")
        records = rollout(env, 11, sample_actions(env.action_space, 200, seed=action_seed), episodes=8)
        return [r[4] for r in records if r[1] is None]

    assert episode_tasks(0) == episode_tasks(1)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_option_task_lasts_one_episode(env_id: str) -> None:
    fam = mtenvs.family_of(env_id)
    special = fam.task_set("ood")[0]
    env = gym.make(env_id)
    _, info = env.reset(seed=0, options={"task": special})
    assert info["task"] == special
    _, info = env.reset()
    assert info["task"] == fam.default_task()
    _, info = env.reset(options={"task": dict(special.params)})
    assert info["task"] == special


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip(env_id: str) -> None:
    env = gym.make(env_id, tasks="train")
    actions = sample_actions(env.action_space, 60, seed=5)
    env.reset(seed=2)
    for action in actions[:10]:
        env.step(action)
    copy = pickle.loads(pickle.dumps(env))
    for action in actions[10:]:
        a, b = env.step(action), copy.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4] and a[4]["task_id"] == b[4]["task_id"]
        if a[2] or a[3]:
            assert np.array_equal(env.reset()[0], copy.reset()[0])


# ------------------------------------------------------------------------------------ vector == single
def replay_single(env_id: str, vec: Any, env_kwargs: dict[str, Any], i: int) -> gym.Env:
    """A single env started in sub-env ``i``'s task and state."""
    single = gym.make(env_id, max_episode_steps=vec.unwrapped.max_episode_steps, **env_kwargs)
    task, state = vec.unwrapped.tasks[i], vec.unwrapped.states[i]
    single.reset(options={"task": task, "state": state})
    return single


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_native_vector_env_matches_single_envs(env_id: str, mode: AutoresetMode) -> None:
    fam = mtenvs.family_of(env_id)
    vec = gym.make_vec(env_id, num_envs=6, tasks=fam.task_set("train"), max_episode_steps=25, autoreset_mode=mode)
    if not hasattr(vec.unwrapped, "states"):
        pytest.skip("Sync fallback: its sub-envs are single envs")
    obs, infos = vec.reset(seed=4)
    singles = [replay_single(env_id, vec, {}, i) for i in range(6)]
    actions = sample_actions(vec.action_space, 120, seed=9)
    restart = np.zeros(6, dtype=bool)
    for t in range(120):
        obs, rewards, terminated, truncated, infos = vec.step(actions[t])
        for i in range(6):
            if restart[i]:  # NextStep: this step only reset sub-env i
                assert rewards[i] == 0 and not terminated[i] and not truncated[i]
                singles[i] = replay_single(env_id, vec, {}, i)
                continue
            single_action = actions[t][i]
            s_obs, s_reward, s_term, s_trunc, s_info = singles[i].step(single_action)
            assert s_reward == pytest.approx(float(rewards[i]), rel=1e-6) and s_term == terminated[i] and s_trunc == truncated[i]
            final = infos["final_obs"][i] if mode == AutoresetMode.SAME_STEP and (s_term or s_trunc) else obs[i]
            np.testing.assert_array_equal(s_obs, final)
            if mode == AutoresetMode.SAME_STEP and (s_term or s_trunc):
                assert infos["final_info"]["task_id"][i] == s_info["task_id"]
                singles[i] = replay_single(env_id, vec, {}, i)
                np.testing.assert_array_equal(singles[i].unwrapped._observation(), obs[i])  # the new episode's start
        if mode == AutoresetMode.NEXT_STEP:
            restart = terminated | truncated
        assert list(infos["task_id"]) == [t.id for t in vec.unwrapped.tasks]


# ----------------------------------------------------------------------------------------- bad inputs
def bad_action(space: gym.Space, kind: str) -> Any:
    if kind == "shape":
        return np.zeros((*space.shape, 2), dtype=np.float32) if isinstance(space, gym.spaces.Box) else np.array([0, 1])
    if kind == "string":
        return np.full(space.shape, "0.5") if isinstance(space, gym.spaces.Box) else "1"
    if kind == "complex":
        return np.full(space.shape, 0.5 + 3j) if isinstance(space, gym.spaces.Box) else 1 + 0j
    if kind == "huge":
        return np.full(space.shape, 1e300)
    return np.full(space.shape, np.nan, dtype=np.float32)


def first_parameter(fam: mtenvs.TaskFamily) -> str:
    return next(iter(fam.parameters))


def other_family_task(fam: mtenvs.TaskFamily) -> mtenvs.Task:
    other = "SimpleMass" if fam.name != "SimpleMass" else "CartPole"
    return mtenvs.family(other).default_task()


#: The hostile-input table: each case gives a bad task (for the family) and the fragments its error must contain.
BAD_TASKS = {
    "unknown parameter": lambda fam: ({"no_such_parameter": 1.0}, ["no_such_parameter"]),
    "nan": lambda fam: ({first_parameter(fam): float("nan")}, [first_parameter(fam)]),
    "inf": lambda fam: ({first_parameter(fam): float("inf")}, [first_parameter(fam)]),
    "out of bounds": lambda fam: ({first_parameter(fam): 1e9}, [first_parameter(fam), "bounds"]),
    "overflow": lambda fam: ({first_parameter(fam): 10**400}, [first_parameter(fam)]),
    "wrong type": lambda fam: ({first_parameter(fam): "abc"}, [first_parameter(fam)]),
    "complex": lambda fam: ({first_parameter(fam): 1 + 2j}, [first_parameter(fam)]),
    "numpy array": lambda fam: ({first_parameter(fam): np.array([1.0, 2.0])}, [first_parameter(fam)]),
    "another family": lambda fam: (other_family_task(fam), ["'family'"]),
    "not a task": lambda fam: (3.5, ["a Task"]),
}


class Draws(mtenvs.TaskSampler):
    """A custom sampler that returns the given draw (the curriculum hook)."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def sample(self, rng: np.random.Generator) -> Any:
        return self.draw


def unchecked(fam: mtenvs.TaskFamily, task: Any) -> Any:
    """A dict of overrides as a Task that skipped validation (``Task.replace`` does not validate)."""
    return fam.default_task().replace(**task) if isinstance(task, dict) else task


def task_json(fam: mtenvs.TaskFamily, task: Any) -> str:
    if isinstance(task, mtenvs.Task):
        return task.to_json()
    params = task if isinstance(task, dict) else {"x": task}
    return json.dumps({"family": fam.name, "params": {k: v if not isinstance(v, (np.ndarray, complex)) else str(v)
                                                      for k, v in params.items()}}, default=str)


#: Every way a task enters an environment.
ENTRY_PATHS = {
    "make": lambda env_id, fam, task: gym.make(env_id, task=task),
    "reset option": lambda env_id, fam, task: gym.make(env_id).reset(options={"task": task}),
    "make_vec": lambda env_id, fam, task: gym.make_vec(env_id, num_envs=2, task=task),
    "make_vec list": lambda env_id, fam, task: gym.make_vec(env_id, num_envs=2, tasks=[fam.default_task(), task]),
    "sampler": lambda env_id, fam, task: gym.make(env_id, tasks=Draws(task)).reset(seed=0),
    "sampler make_vec": lambda env_id, fam, task: gym.make_vec(env_id, num_envs=2, tasks=Draws(task)).reset(seed=0),
    "sampler sync": lambda env_id, fam, task: gym.make_vec(env_id, num_envs=2, tasks=Draws(task),
                                                           vectorization_mode="sync").reset(seed=0),
    "task set": lambda env_id, fam, task: gym.make(env_id, tasks=mtenvs.TaskSet("s", [unchecked(fam, task)])),
    "json": lambda env_id, fam, task: mtenvs.Task.from_json(task_json(fam, task), fam),
}


@pytest.mark.parametrize("case", list(BAD_TASKS))
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_tasks_raise_clear_errors(env_id: str, case: str) -> None:
    fam = mtenvs.family_of(env_id)
    task, fragments = BAD_TASKS[case](fam)
    for path, enter in ENTRY_PATHS.items():
        expected = fragments
        if path == "json" and case in ("not a task", "numpy array", "complex"):
            expected = []  # JSON cannot carry these values; the decoded stand-in is refused all the same
        with pytest.raises(ValueError) as error:
            enter(env_id, fam, task)
        assert all(f in str(error.value) for f in expected), (path, str(error.value))


@pytest.mark.parametrize("kind", ["shape", "nan", "string", "complex", "huge"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_actions_raise_and_keep_state(env_id: str, kind: str) -> None:
    env = gym.make(env_id, disable_env_checker=True)
    if kind in ("nan", "huge") and not isinstance(env.action_space, gym.spaces.Box):
        pytest.skip("discrete actions cannot be NaN or huge")
    _obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(bad_action(env.action_space, kind))
    env2 = gym.make(env_id, disable_env_checker=True)
    env2.reset(seed=0)
    action = sample_actions(env.action_space, 1, seed=0)[0]
    a, b = env.step(action), env2.step(action)  # the failed step left the state untouched
    assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_hostile_reset_states_raise_value_errors(env_id: str) -> None:
    """Strings, overflowing or NaN values, complex numbers, dicts and lists of the wrong length, single and vector."""
    env, vec = gym.make(env_id), gym.make_vec(env_id, num_envs=2)
    env.reset(seed=0)
    vec.reset(seed=0)
    for bad in ("abc", 1e300, float("nan"), 0.5 + 1j, {"a": 1}, list(range(9))):
        with pytest.raises(ValueError, match="state"):
            env.reset(options={"state": bad})
        with pytest.raises(ValueError, match="state"):
            vec.reset(options={"state": bad})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_vector_arguments(env_id: str) -> None:
    fam = mtenvs.family_of(env_id)
    with pytest.raises(ValueError, match="one task per sub-env"):
        gym.make_vec(env_id, num_envs=3, tasks=list(fam.task_set("train")[:2]))
    special = fam.task_set("ood")[0]
    with pytest.warns(UserWarning, match="task= overrides tasks="):  # rl_zoo3 merges a user's task= into saved kwargs
        vec = gym.make_vec(env_id, num_envs=2, task=special, tasks="train")
    assert vec.unwrapped.tasks == [special, special]
    with pytest.raises(ValueError, match="autoreset_mode"):
        gym.make_vec(env_id, num_envs=2, autoreset_mode="sometimes")


def test_make_without_import() -> None:
    code = "import gymnasium as gym; env = gym.make('mtenvs:mtenvs/CartPole-v0'); print(env.reset(seed=0)[1]['task_id'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == mtenvs.family("CartPole").default_task().id
