"""The PettingZoo multi-task env: PettingZoo's own API and seed tests, and every agent checked against a single
``gym.make`` environment fed the same seed and actions."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.spaces import Box, Discrete
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.test.state_test import state_test
from pettingzoo.utils import parallel_to_aec

import mtenvs
from mtenvs.core.seeding import child_seeds
from mtenvs.multiagent import MultiTaskParallelEnv, env, parallel_env

ENV_ID = "mtenvs/CartPole-v0"
CARTPOLE = mtenvs.family("CartPole")
TASKS = [{"pole_length": 0.3}, {"pole_length": 0.8, "cart_mass": 0.5}, {"force_limit": 20.0}]

# CartPole's velocity bounds are infinite; PettingZoo's api_test and state_test warn about that.
pytestmark = pytest.mark.filterwarnings("ignore:(Agent|Environment).s m.* (observation|state) space value is")


def random_actions(par: MultiTaskParallelEnv, rng: np.random.Generator, discrete: bool) -> dict[str, Any]:
    if discrete:
        return {agent: int(rng.integers(2)) for agent in par.agents}
    return {agent: rng.uniform(-1.0, 1.0, size=1).astype(np.float32) for agent in par.agents}


# ------------------------------------------------------------------------------------------ PettingZoo test suite
def test_pettingzoo_parallel_api_test() -> None:
    parallel_api_test(parallel_env(ENV_ID, TASKS), num_cycles=1000)


@pytest.mark.parametrize("discrete", [False, True])
def test_pettingzoo_api_test_on_the_aec_version(discrete: bool) -> None:
    api_test(env(ENV_ID, TASKS, discrete_actions=discrete), num_cycles=300)
    api_test(parallel_to_aec(parallel_env(ENV_ID, TASKS[:2], discrete_actions=discrete)), num_cycles=300)


def test_pettingzoo_seed_tests() -> None:
    parallel_seed_test(lambda: parallel_env(ENV_ID, "train", num_agents=3), num_cycles=200)
    seed_test(lambda: env(ENV_ID, "train", num_agents=3, discrete_actions=True), num_cycles=200)


def test_pettingzoo_state_test() -> None:
    state_test(env(ENV_ID, TASKS), parallel_env(ENV_ID, TASKS), num_cycles=100)


# ------------------------------------------------------------------------------- agents against a single env
@pytest.mark.parametrize("discrete", [False, True])
def test_each_agent_follows_its_own_single_env(discrete: bool) -> None:
    kwargs = {"discrete_actions": discrete, "max_episode_steps": 25}
    par = parallel_env(ENV_ID, TASKS, **kwargs)
    references = dict(zip(par.possible_agents, [gym.make(ENV_ID, task=t, **kwargs) for t in TASKS], strict=True))
    rng = np.random.default_rng(0)
    ends: list[str] = []
    for episode, seed in enumerate([7, None]):  # a seeded episode, then one that continues every RNG
        observations, infos = par.reset(seed=seed)
        for agent, seed_i, task in zip(par.possible_agents, child_seeds(seed, 3), TASKS, strict=True):
            ref_obs, ref_info = references[agent].reset(seed=seed_i if episode == 0 else None)
            np.testing.assert_array_equal(observations[agent], ref_obs)
            assert observations[agent].dtype == ref_obs.dtype
            assert infos[agent]["task"] == ref_info["task"] == CARTPOLE.task(task)
            assert infos[agent]["task_id"] == ref_info["task_id"]
        while par.agents:
            actions = random_actions(par, rng, discrete)
            observations, rewards, terminations, truncations, infos = par.step(actions)
            assert set(observations) == set(rewards) == set(terminations) == set(truncations) == set(actions)
            for agent, action in actions.items():
                ref_obs, ref_reward, ref_term, ref_trunc, ref_info = references[agent].step(action)
                np.testing.assert_array_equal(observations[agent], ref_obs)
                assert type(rewards[agent]) is float and rewards[agent] == ref_reward
                assert terminations[agent] is ref_term and truncations[agent] is ref_trunc
                assert infos[agent]["task_id"] == ref_info["task_id"]
                assert (agent in par.agents) == (not (ref_term or ref_trunc))
                if ref_term or ref_trunc:
                    ends.append("terminated" if ref_term else "truncated")
    assert len(ends) == 6


def test_one_seed_reproduces_everything_and_agents_get_independent_seeds() -> None:
    def rollout(seed: int) -> list[Any]:
        par = parallel_env(ENV_ID, [{}, {}, {}])
        trace: list[Any] = [par.reset(seed=seed)[0]]
        while par.agents:
            trace.append(par.step({agent: np.ones(1, np.float32) for agent in par.agents})[:4])
        return trace

    first, again, other = rollout(3), rollout(3), rollout(4)
    assert gym.utils.env_checker.data_equivalence(first, again, exact=True)
    assert not gym.utils.env_checker.data_equivalence(first[0], other[0])
    start = first[0]  # same task, different derived seeds: every pair of initial states differs
    assert len({start[agent].tobytes() for agent in start}) == 3


# ------------------------------------------------------------------------------------------------------ tasks
def test_tasks_override_for_one_episode() -> None:
    par = parallel_env(ENV_ID, [{}, {"pole_length": 0.3}])
    override = CARTPOLE.task(pole_length=1.5, gravity=5.0)
    observations, infos = par.reset(seed=3, options={"tasks": [override, None]})
    assert infos["agent_0"]["task"] == override and infos["agent_1"]["task"] == CARTPOLE.task(pole_length=0.3)
    assert par.current_tasks == {"agent_0": override, "agent_1": CARTPOLE.task(pole_length=0.3)}
    reference = gym.make(ENV_ID, task=override)
    np.testing.assert_array_equal(observations["agent_0"], reference.reset(seed=child_seeds(3, 2)[0])[0])
    for _ in range(5):
        action = np.full(1, 0.7, np.float32)
        got = par.step({"agent_0": action, "agent_1": action})[0]["agent_0"]
        np.testing.assert_array_equal(got, reference.step(action)[0])
    _, infos = par.reset(seed=3)  # the next episode is back on the agents' own tasks
    assert infos["agent_0"]["task"] == CARTPOLE.default_task()
    assert par.tasks == [CARTPOLE.default_task(), CARTPOLE.task(pole_length=0.3)]


def test_task_set_name_gives_agent_i_task_i() -> None:
    par = parallel_env(ENV_ID, "test", num_agents=4)
    expected = list(CARTPOLE.task_set("test")[:4])
    _, infos = par.reset(seed=0)
    assert par.tasks == expected
    assert [infos[f"agent_{i}"]["task"] for i in range(4)] == expected
    size = len(CARTPOLE.task_set("test"))
    with pytest.raises(ValueError, match=f"has {size} tasks, fewer than num_agents={size + 1}"):
        parallel_env(ENV_ID, "test", num_agents=size + 1)


# --------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((ENV_ID, []), {}, "tasks is empty"),
        ((ENV_ID, [{}, {"pole_lenght": 0.5}]), {}, r"tasks\[1\].*unknown parameter 'pole_lenght'"),
        ((ENV_ID, [{"gravity": 99.0}]), {}, r"tasks\[0\].*'gravity'"),
        ((ENV_ID, {"pole_length": 0.5}), {}, "one task .* per agent"),
        ((ENV_ID, "train"), {}, "pass num_agents"),
        ((ENV_ID, "trian"), {"num_agents": 2}, "unknown task set 'trian'"),
        ((ENV_ID, [{}, {}]), {"num_agents": 3}, "num_agents=3 but tasks lists 2"),
        ((ENV_ID, "train"), {"num_agents": 0}, "num_agents must be a positive integer"),
        (("mtenvs/Nope-v0", [{}]), {}, "'mtenvs/Nope-v0' is not an mtenvs id"),
        (("CartPole-v1", [{}]), {}, "'CartPole-v1' is not an mtenvs id"),
        ((ENV_ID, [{}]), {"render_mode": "human"}, "render_mode must be None or one of"),
        ((ENV_ID, [{}]), {"task": {}}, "task= is not an environment setting"),
        ((ENV_ID, [{}]), {"max_cycles": 5, "max_episode_steps": 5}, "either max_cycles or max_episode_steps"),
    ],
)
def test_bad_constructor_arguments(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parallel_env(*args, **kwargs)


def twin_envs() -> tuple[MultiTaskParallelEnv, MultiTaskParallelEnv]:
    """Two identical envs reset with the same seed: one gets bad input, the other is the untouched reference."""
    pair = parallel_env(ENV_ID, TASKS[:2]), parallel_env(ENV_ID, TASKS[:2])
    for par in pair:
        par.reset(seed=11)
    return pair


def assert_in_step(par: MultiTaskParallelEnv, reference: MultiTaskParallelEnv) -> None:
    actions = {agent: np.full(1, 0.5, np.float32) for agent in reference.agents}
    assert par.agents == reference.agents
    assert gym.utils.env_checker.data_equivalence(par.step(actions)[:4], reference.step(actions)[:4], exact=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("tasks", "options must be a dict"),
        ({"tasks": {"pole_length": 0.5}}, r"options\['tasks'\] must be a list of 2 tasks"),
        ({"tasks": [{}]}, r"must be a list of 2 tasks .* got 1 entries"),
        ({"tasks": [{}, {"gravity": -1.0}]}, r"options\['tasks'\]\[1\].*'gravity'"),
        ({"task": {}}, r"unknown reset option\(s\) \['task'\]"),
    ],
)
def test_bad_reset_options_raise_and_leave_the_episode_alone(options: Any, message: str) -> None:
    par, reference = twin_envs()
    with pytest.raises(ValueError, match=message):
        par.reset(seed=0, options=options)
    assert_in_step(par, reference)


def test_pettingzoo_options_probe_is_ignored_and_bad_seeds_rejected() -> None:
    par = parallel_env(ENV_ID, TASKS[:2])
    _, infos = par.reset(seed=0, options={"options": 1})
    assert [info["task"] for info in infos.values()] == [CARTPOLE.task(t) for t in TASKS[:2]]
    for seed in (-1, 1.5, "0"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            par.reset(seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ([0.5, 0.5], "actions must be a dict"),
        ({"agent_0": np.zeros(1, np.float32)}, r"missing \['agent_1'\]"),
        ({"agent_0": [0.0], "agent_1": [0.0], "agent_7": [0.0]}, r"not live \['agent_7'\]"),
        ({"agent_0": [0.0], "agent_1": [np.nan]}, "agent_1: action must be finite"),
        ({"agent_0": [0.0], "agent_1": [0.0, 1.0]}, r"agent_1: action must have shape \(1,\)"),
    ],
)
def test_bad_actions_raise_before_any_agent_moves(actions: Any, message: str) -> None:
    par, reference = twin_envs()
    with pytest.raises(ValueError, match=message):
        par.step(actions)
    assert_in_step(par, reference)


def test_done_agents_take_no_actions_and_stepping_needs_a_reset() -> None:
    par = parallel_env(ENV_ID, [{"force_limit": 50.0}, {}], max_episode_steps=30)
    with pytest.raises(ResetNeeded):
        par.step({"agent_0": [0.0], "agent_1": [0.0]})

    def balance(obs: np.ndarray) -> list[float]:  # a PD controller that keeps agent 1's pole up for 30 steps
        return [float(np.clip(10 * obs[2] + obs[3] + 0.1 * obs[1], -1, 1))]

    observations, _ = par.reset(seed=0)
    steps = 0
    while "agent_0" in par.agents:  # full force one way topples agent 0 long before agent 1's time limit
        observations, *_ = par.step({"agent_0": [1.0], "agent_1": balance(observations["agent_1"])})
        steps += 1
    assert par.agents == ["agent_1"] and steps < 30
    with pytest.raises(ValueError, match=r"\['agent_0'\] are done until the next reset"):
        par.step({"agent_0": [0.0], "agent_1": [0.0]})
    while par.agents:
        observations, _, terminations, truncations, _ = par.step({"agent_1": balance(observations["agent_1"])})
        steps += 1
    assert steps == 30 and truncations == {"agent_1": True} and terminations == {"agent_1": False}
    with pytest.raises(ResetNeeded):
        par.step({})


@pytest.mark.skipif("mtenvs/ToyChain-v0" not in gym.registry, reason="needs the test-only chain family (conftest)")
@pytest.mark.filterwarnings("ignore:.*render_mode='rgb_array' that is not in the possible render_modes")
def test_agents_leave_when_their_own_chain_ends() -> None:
    # Walking right, an agent on a chain of length L ends after L - 1 steps, each costing step_cost (closed form).
    lengths, costs = [4, 2, 6], [1.0, 0.5, 2.0]
    par = parallel_env("mtenvs/ToyChain-v0", [{"length": n, "step_cost": c} for n, c in zip(lengths, costs, strict=True)])
    assert par.metadata["render_modes"] == []
    par.reset(seed=0)
    returns = dict.fromkeys(par.possible_agents, 0.0)
    left_after: dict[str, int] = {}
    for step in range(1, 10):
        _, rewards, terminations, _, _ = par.step(dict.fromkeys(par.agents, 1))
        for agent, reward in rewards.items():
            returns[agent] += reward
            if terminations[agent]:
                left_after[agent] = step
        if not par.agents:
            break
    assert left_after == {f"agent_{i}": n - 1 for i, n in enumerate(lengths)}
    assert returns == {f"agent_{i}": -c * (n - 1) for i, (n, c) in enumerate(zip(lengths, costs, strict=True))}
    with pytest.raises(ValueError, match="render_mode='rgb_array' is not supported"):
        parallel_env("mtenvs/ToyChain-v0", [{}], render_mode="rgb_array")


# ----------------------------------------------------------------------------------- spaces, metadata, registry
@pytest.mark.parametrize("discrete", [False, True])
def test_spaces_are_the_single_envs_and_stable(discrete: bool) -> None:
    par = parallel_env(ENV_ID, TASKS, discrete_actions=discrete)
    single = gym.make(ENV_ID, discrete_actions=discrete)
    for agent in par.possible_agents:
        assert par.observation_space(agent) is par.observation_space(agent)
        assert par.action_space(agent) is par.action_space(agent)
        assert par.observation_space(agent) == single.observation_space
        assert par.action_space(agent) == (Discrete(2) if discrete else Box(-1.0, 1.0, (1,), np.float32))
    assert par.action_space("agent_0") is not par.action_space("agent_1")  # seeding one leaves the others alone
    assert par.possible_agents == ["agent_0", "agent_1", "agent_2"]
    with pytest.raises(ValueError, match="unknown agent 'agent_3'"):
        par.observation_space("agent_3")


def test_metadata() -> None:
    par = parallel_env(ENV_ID, TASKS)
    assert par.metadata == {"name": "mtenvs_CartPole_v0", "render_modes": ["rgb_array"], "is_parallelizable": True,
                            "render_fps": 50}
    assert env(ENV_ID, TASKS).metadata["is_parallelizable"] is True


def test_pettingzoo_registry_makes_both_versions() -> None:
    par = pettingzoo.make("parallel", ENV_ID, tasks=TASKS, max_cycles=5)
    assert isinstance(par, MultiTaskParallelEnv)
    par.reset(seed=0)
    for step in range(5):  # alternating pushes keep the pole up for 5 steps: the episode ends by the time limit
        *_, terminations, truncations, _ = par.step({agent: [(-1.0) ** step] for agent in par.agents})
    assert par.agents == [] and all(truncations.values()) and not any(terminations.values())
    aec = pettingzoo.make("aec", ENV_ID, tasks=TASKS[:2])
    assert isinstance(aec, pettingzoo.AECEnv) and isinstance(aec.unwrapped, MultiTaskParallelEnv)


# ------------------------------------------------------------------------------------ render, state and close
def test_render_tiles_the_single_env_frames() -> None:
    par = parallel_env(ENV_ID, TASKS[:2], render_mode="rgb_array")
    par.reset(seed=5)
    frame = par.render()
    singles = []
    for task, seed in zip(TASKS[:2], child_seeds(5, 2), strict=True):
        single = gym.make(ENV_ID, task=task, render_mode="rgb_array")
        single.reset(seed=seed)
        singles.append(single.render())
    assert frame.dtype == np.uint8 and frame.shape == (400, 1200, 3)
    np.testing.assert_array_equal(frame, np.hstack(singles))
    assert parallel_env(ENV_ID, TASKS[:1]).render() is None


def test_state_concatenates_the_latest_observations() -> None:
    par = parallel_env(ENV_ID, TASKS, max_episode_steps=2)
    with pytest.raises(ResetNeeded):
        par.state()
    observations, _ = par.reset(seed=1)
    np.testing.assert_array_equal(par.state(), np.concatenate([observations[a] for a in par.possible_agents]))
    first = observations["agent_0"]
    observations, *_ = par.step({agent: [0.0] for agent in par.agents})
    state = par.state()
    assert state.shape == (12,) and par.state_space.contains(state)
    np.testing.assert_array_equal(state[4:8], observations["agent_1"])
    assert not np.array_equal(state[:4], first)


def test_close_closes_every_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    par = parallel_env(ENV_ID, TASKS)
    closed: list[str] = []
    for agent, agent_env in par.envs.items():
        monkeypatch.setattr(agent_env, "close", lambda agent=agent: closed.append(agent))
    par.close()
    assert closed == par.possible_agents


@pytest.mark.parametrize("family_name", mtenvs.families())
def test_pettingzoo_aec_api_test_passes_for_every_family(family_name: str) -> None:
    """GridWorld and ConflictChain observe a Python int; the AEC API test reads ``.dtype`` of observations."""
    env_id = mtenvs.env_ids(family_name)[0]
    fam = mtenvs.family(family_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(env(env_id, [fam.default_task(), fam.task_set("train")[0]]), num_cycles=30)


def test_discrete_observations_are_numpy_integers_of_the_space_dtype() -> None:
    par = parallel_env("mtenvs/GridWorld-v0", [{}, {}])
    observations, _ = par.reset(seed=0)
    for agent, obs in observations.items():
        assert isinstance(obs, np.integer) and obs.dtype == par.observation_space(agent).dtype
        assert par.observation_space(agent).contains(obs)


def finishing_at_different_times(autoreset: bool = True) -> MultiTaskParallelEnv:
    """Two CartPoles whose poles fall at very different times (a short pole falls fast)."""
    return parallel_env(ENV_ID, [{"pole_length": 0.1}, {"pole_length": 2.0}], autoreset=autoreset, max_cycles=40)


def test_autoreset_restarts_each_agent_and_reports_its_final_observation() -> None:
    par = finishing_at_different_times()
    reference = [gym.make(ENV_ID, task=task, max_episode_steps=40) for task in par.tasks]
    observations, _ = par.reset(seed=3)
    for agent, single, seed in zip(par.possible_agents, reference, child_seeds(3, 2), strict=True):
        np.testing.assert_array_equal(single.reset(seed=seed)[0], observations[agent])
    ends = {agent: 0 for agent in par.possible_agents}
    for t in range(200):
        action = np.array([1.0 if t % 3 else -1.0], dtype=np.float32)
        observations, rewards, terminations, truncations, infos = par.step({agent: action for agent in par.agents})
        assert par.agents == par.possible_agents  # nobody leaves
        for agent, single in zip(par.possible_agents, reference, strict=True):
            obs, reward, terminated, truncated, _ = single.step(action)
            assert (reward, terminated, truncated) == (rewards[agent], terminations[agent], truncations[agent])
            if terminated or truncated:
                ends[agent] += 1
                np.testing.assert_array_equal(infos[agent]["final_observation"], obs)
                np.testing.assert_array_equal(infos[agent]["terminal_observation"], obs)
                obs, info = single.reset()
                assert infos[agent]["task_id"] == info["task_id"]
            np.testing.assert_array_equal(observations[agent], obs)
    assert ends["agent_0"] > ends["agent_1"] >= 1  # the agents finished at different times


@pytest.mark.parametrize("black_death", [False, True])
def test_supersuit_vector_pipeline_to_sb3_with_agents_finishing_at_different_times(black_death: bool) -> None:
    """SuperSuit's ``pettingzoo_env_to_vec_env_v1`` asserts that no agent leaves; with ``autoreset=True`` none does,
    with and without ``black_death_v3``. Before, both failed (an AssertionError, or ResetNeeded after black death)."""
    supersuit = pytest.importorskip("supersuit")
    from stable_baselines3 import PPO

    par = finishing_at_different_times()
    if black_death:
        par = supersuit.black_death_v3(par)
    vec = supersuit.concat_vec_envs_v1(supersuit.pettingzoo_env_to_vec_env_v1(par), 2, num_cpus=0,
                                       base_class="stable_baselines3")
    vec.reset()
    dones = np.zeros(vec.num_envs)
    for _ in range(120):
        _, _, done, infos = vec.step(np.array([vec.action_space.sample() for _ in range(vec.num_envs)]))
        dones += done
        for i in np.flatnonzero(done):
            if not black_death:
                assert "terminal_observation" in infos[i]
    if not black_death:
        assert dones.min() >= 1 and dones.max() > dones.min()  # per-agent episode ends reach SB3
    PPO("MlpPolicy", vec, n_steps=32, batch_size=32, n_epochs=1, device="cpu").learn(128)
    vec.close()
