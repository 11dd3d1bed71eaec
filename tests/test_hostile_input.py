"""Hostile input, tried as a careless or adversarial user would: each test is one reproducer and its expected
outcome (a clear ``ValueError`` naming the field, or correct behaviour), and a refused input never corrupts state.

The generic table over every registered id (bad tasks through every entry path, bad actions) is in
``test_conformance.py``; the property-based sweep of every family's bounds is in ``test_bounds_sweep.py``.
"""

from __future__ import annotations

import copy
import json
import pickle
import tracemalloc
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs import Task, TaskSampler, TaskSet
from mtenvs.linear import family as linear_family

CARTPOLE = mtenvs.family("CartPole")
NATIVE_IDS = [env_id for env_id in mtenvs.env_ids() if hasattr(gym.make_vec(env_id, num_envs=1).unwrapped, "states")]


def same_step(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return bool(np.array_equal(a[0], b[0])) and a[1:4] == b[1:4]


# ------------------------------------------------------------------------------ 1. bounds that mean what they say
UNSTABLE_DIP = {"cart_mass": 10, "mass_1": 0.01, "mass_2": 1.0, "length_1": 0.1, "length_2": 2.0}


def test_diverging_double_pendulum_terminates_with_a_finite_last_observation() -> None:
    """All five values inside the bounds; the state leaves the float range within a few steps. Before: NaN at step 4
    and no termination; now the step that would produce NaN terminates, with its reason, at the last finite state."""
    env = gym.make("mtenvs/DoubleInvertedPendulum-v0", task=UNSTABLE_DIP)
    obs, _ = env.reset(seed=0)
    steps = 0
    while steps < 150:
        previous = env.unwrapped.state
        obs, reward, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
        steps += 1
        assert np.isfinite(obs).all() and np.isfinite(reward)
        if terminated:
            break
    assert terminated and not truncated and steps < 20
    assert info["termination_reason"] == "diverged"
    np.testing.assert_array_equal(env.unwrapped.state, previous)  # stopped before the NaN
    # From the same start, the native vector env terminates the same sub-env at the same step as a single env.
    start = np.array([0.01, 0.0, 0.02, 0.0, -0.02, 0.0])
    vec = gym.make_vec("mtenvs/DoubleInvertedPendulum-v0", num_envs=2, tasks=[UNSTABLE_DIP, {}])
    vec.reset(options={"state": np.stack([start, start])})
    single = gym.make("mtenvs/DoubleInvertedPendulum-v0", task=UNSTABLE_DIP)
    single.reset(options={"state": start})
    for _ in range(150):
        s = single.step(np.zeros(1, dtype=np.float32))
        v = vec.step(np.zeros((2, 1), dtype=np.float32))
        assert s[2] == bool(v[2][0]) and not v[2][1]
        np.testing.assert_array_equal(s[0], v[0][0])
        if s[2]:
            break
    assert s[2] and s[4]["termination_reason"] == "diverged"


def test_linear_systems_terminate_when_diverging() -> None:
    env = gym.make("mtenvs/Helicopter-v0", max_episode_steps=None)
    env.reset(seed=0, options={"state": [1e4] * 4})
    action = np.ones(env.action_space.shape, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow warnings either
        for _ in range(100_000):
            obs, reward, terminated, _, info = env.step(action)
            assert np.isfinite(obs).all() and np.isfinite(reward)
            if terminated:
                break
    assert terminated and info["termination_reason"] == "diverged"


def test_linear_contextual_memory_budget_refuses_before_allocating() -> None:
    family = mtenvs.family("LinearContextual")
    tracemalloc.start()
    try:
        for overrides in ({"n_states": 200, "n_actions": 32, "horizon": 100}, {"n_states": 60, "n_actions": 32,
                                                                                "horizon": 40, "num_tasks": 50}):
            with pytest.raises(ValueError, match=r"n_states = .*MiB.*MEMORY_BUDGET") as error:
                gym.make("mtenvs/LinearContextual-v0", task=overrides)
            estimate = family.memory_estimate(family.parameters.validate(overrides, "test"))
            assert f"{estimate / 2**20:,.0f} MiB" in str(error.value) and estimate > linear_family.MEMORY_BUDGET
        assert tracemalloc.get_traced_memory()[1] < 20 * 2**20  # nothing near the tables was allocated
    finally:
        tracemalloc.stop()


def test_memory_estimate_bounds_the_measured_peak() -> None:
    family = mtenvs.family("LinearMDP")
    task = family.task(n_states=60, n_actions=8, horizon=10, instance=7)
    tracemalloc.start()
    try:
        gym.make("mtenvs/LinearMDP-v0", task=task).reset(seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.5 * family.memory_estimate(task) < peak < 1.3 * family.memory_estimate(task)


def test_model_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    family = mtenvs.family("LinearMDP")
    tasks = [family.task(n_states=40, n_actions=4, horizon=5, instance=i) for i in range(6)]
    one = family.model(tasks[0]).transitions.nbytes
    monkeypatch.setattr(linear_family, "CACHE_BUDGET", 3 * one)
    family._models.clear()
    for task in tasks:
        family.model(task)
    assert len(family._models) == 3 and list(family._models)[-1] == tasks[-1]


def test_tiny_xi_runs_and_keeps_its_bound() -> None:
    """xi = 1e-12 is inside the bounds: before, its certificate cancelled to noise and the refusal did not name xi."""
    from mtenvs.linear.parallel import heterogeneity

    family = mtenvs.family("LinearSmallHeterogeneity")
    models = [family.model(family.task(xi=1e-12, agent=m)) for m in range(3)]
    tv, gap = heterogeneity(models)
    assert tv <= 1e-12 + 1e-9 and gap <= 1e-12 + 1e-9
    gym.make("mtenvs/LinearSmallHeterogeneity-v0", task={"xi": 1e-12}).reset(seed=0)


# ------------------------------------------------------------------------ 2. one validation path for every task
class Draws(TaskSampler):
    """A custom sampler (the curriculum hook) that returns whatever it is given."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def sample(self, rng: np.random.Generator) -> Any:
        return self.draw


BAD_DRAWS = {
    "nan": (CARTPOLE.default_task().replace(pole_length=float("nan")), "'pole_length'"),
    "out of bounds": (CARTPOLE.default_task().replace(pole_length=1e9), "'pole_length'"),
    "another family": (mtenvs.family("SimpleMass").default_task(), "'family'"),
    "a string": ("train", "Task or a dict"),
    "a dict with a bad value": ({"pole_length": -1.0}, "'pole_length'"),
}


@pytest.mark.parametrize("case", list(BAD_DRAWS))
@pytest.mark.parametrize("mode", ["single", "native", "sync"])
def test_custom_sampler_draws_are_validated(case: str, mode: str) -> None:
    draw, fragment = BAD_DRAWS[case]
    with pytest.raises(ValueError, match="task sampler Draws gave an invalid task") as error:
        if mode == "single":
            gym.make("mtenvs/CartPole-v0", tasks=Draws(draw)).reset(seed=0)
        else:
            kwargs = {} if mode == "native" else {"vectorization_mode": "sync"}
            gym.make_vec("mtenvs/CartPole-v0", num_envs=2, tasks=Draws(draw), **kwargs).reset(seed=0)
    assert fragment in str(error.value)


@pytest.mark.parametrize("mode", ["single", "native", "sync"])
def test_custom_sampler_may_return_dicts(mode: str) -> None:
    expected = CARTPOLE.task(pole_length=0.7)
    if mode == "single":
        env = gym.make("mtenvs/CartPole-v0", tasks=Draws({"pole_length": 0.7}))
        assert env.reset(seed=0)[1]["task"] == expected
        assert env.unwrapped.task == expected
    else:
        kwargs = {} if mode == "native" else {"vectorization_mode": "sync"}
        vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=2, tasks=Draws({"pole_length": 0.7}), **kwargs)
        _, infos = vec.reset(seed=0)
        assert list(infos["task_id"]) == [expected.id] * 2


def test_custom_sampler_support_is_validated() -> None:
    class Finite(Draws):
        support = (CARTPOLE.default_task().replace(pole_length=float("nan")),)

    with pytest.raises(ValueError, match="'pole_length'"):
        gym.make_vec("mtenvs/CartPole-v0", num_envs=2, tasks=Finite(None))


@pytest.mark.parametrize(("params", "fragment"), [
    ({"pole_length": 10**400}, "'pole_length'"),
    ({"cart_mass": -(10**400)}, "'cart_mass'"),
    ({"pole_length": float("inf")}, "'pole_length'"),
    ({"pole_length": np.array([0.5, 0.6])}, "'pole_length'"),
    ({"pole_length": 0.5 + 1j}, "'pole_length'"),
])
def test_overflowing_and_mistyped_numbers_name_the_field(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        CARTPOLE.task(params)


@pytest.mark.parametrize("value", [np.array(["a1", "a2"]), np.array("a1"), ["a1"], 3.5, None])
def test_categorical_given_arrays_or_other_types(value: Any) -> None:
    gridworld = mtenvs.family("GridWorld")
    if isinstance(value, np.ndarray) and value.ndim == 0:  # a NumPy scalar string is the value itself
        assert gridworld.task(layout=np.str_("a1"))["layout"] == "a1"
        return
    with pytest.raises(ValueError, match="parameter 'layout' must be one of"):
        gridworld.task(layout=value)


def test_integer_parameter_overflow_names_the_field() -> None:
    with pytest.raises(ValueError, match="'n_states' = <integer of 401 digits> is outside its bounds"):
        mtenvs.family("LinearMDP").task(n_states=10**400)


GOOD = json.loads(CARTPOLE.task(pole_length=0.8).to_json())
BAD_JSON = {
    "nan": json.dumps({**GOOD, "params": {**GOOD["params"], "pole_length": float("nan")}}),
    "out of bounds": json.dumps({**GOOD, "params": {**GOOD["params"], "pole_length": 1e9}}),
    "unknown parameter": json.dumps({**GOOD, "params": {**GOOD["params"], "bogus": 1}}),
    "unknown family": json.dumps({**GOOD, "family": "NoSuchFamily"}),
    "unknown key": json.dumps({**GOOD, "extra": 1}),
    "params not a dict": json.dumps({**GOOD, "params": [1, 2]}),
    "family not a string": json.dumps({**GOOD, "family": 3}),
    "name not a string": json.dumps({**GOOD, "name": 3}),
    "a list": "[1, 2]",
    "missing params": json.dumps({"family": "CartPole"}),
    "not JSON": "{not json",
    "bytes not utf-8": b"\xff\xfe{",
    "None": None,
    "deep nesting": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_malformed_task_json_gives_value_errors(case: str) -> None:
    with pytest.raises(ValueError):
        Task.from_json(BAD_JSON[case])


def test_task_json_round_trip_and_task_set_errors() -> None:
    task = CARTPOLE.task(pole_length=0.8)
    assert Task.from_json(task.to_json()) == task
    with pytest.raises(ValueError, match="expected 'SimpleMass'"):
        Task.from_json(task.to_json(), mtenvs.family("SimpleMass"))
    for text in ('{"tasks": []}', '{"name": 1, "tasks": []}', '{"name": "x", "tasks": {}}', "[" * 50_000):
        with pytest.raises(ValueError):
            TaskSet.from_json(text)
    bad = json.dumps({"name": "s", "tasks": [task.to_dict(), {**task.to_dict(), "params": {"pole_length": -1}}]})
    with pytest.raises(ValueError, match=r"tasks\[1\].*'pole_length'"):
        TaskSet.from_json(bad)


# ------------------------------------------------------------------------------ 3. actions and reset states
STATE_IDS = {"mtenvs/CartPole-v0": 4, "mtenvs/DoubleInvertedPendulum-v0": 6, "mtenvs/SimpleMass-v0": 2,
             "mtenvs/DoubleMass-v0": 4, "mtenvs/Helicopter-v0": 4}


@pytest.mark.parametrize("value", [1e300, 1e6, float("inf"), float("nan"), "abc", 0.5 + 1j])
@pytest.mark.parametrize("env_id", list(STATE_IDS))
def test_hostile_reset_states_are_refused_and_keep_the_env(env_id: str, value: Any) -> None:
    env, twin = gym.make(env_id), gym.make(env_id)
    env.reset(seed=3)
    twin.reset(seed=3)
    state = np.zeros(STATE_IDS[env_id], dtype=object if isinstance(value, (str, complex)) else np.float64)
    state[1] = value
    with pytest.raises(ValueError, match="reset option 'state'"):
        env.reset(options={"state": state})
    assert env.unwrapped.task == twin.unwrapped.task
    action = np.full(env.action_space.shape, 0.3, dtype=np.float32)
    assert same_step(env.step(action), twin.step(action))  # the refused reset left the episode running


@pytest.mark.parametrize("value", [float("inf"), -float("inf"), float("nan"), 1e300, "abc", 0.5 + 1j, 10**400])
def test_portfolio_hostile_start_day(value: Any) -> None:
    env = gym.make("mtenvs/Portfolio-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="reset option 'state' is the first day's index"):
        env.reset(options={"state": value})


@pytest.mark.parametrize("env_id", ["mtenvs/Portfolio-v0", "mtenvs/PortfolioSP500-v0"])
def test_portfolio_huge_action_is_refused_and_the_next_step_is_normal(env_id: str) -> None:
    """Before: ``np.full(11, 1e308)`` overflowed the weight sum (reward -inf, value 0) and the next step was NaN."""
    env, twin = gym.make(env_id), gym.make(env_id)
    env.reset(seed=0)
    twin.reset(seed=0)
    with pytest.raises(ValueError, match="action entries must lie in"):
        env.step(np.full(env.action_space.shape, 1e308))
    action = env.action_space.sample()
    a, b = env.step(action), twin.step(action)
    assert same_step(a, b) and np.isfinite(a[1]) and a[4]["portfolio_value"] > 0


BOX_IDS = [env_id for env_id in mtenvs.env_ids() if isinstance(gym.make(env_id).action_space, gym.spaces.Box)]


@pytest.mark.parametrize("bad", ["0.5", 0.5 + 3j, "string array", "complex array", "huge"])
@pytest.mark.parametrize("env_id", BOX_IDS)
def test_strings_and_complex_numbers_are_not_actions(env_id: str, bad: str) -> None:
    env = gym.make(env_id, disable_env_checker=True)
    shape = env.action_space.shape
    action = {"string array": np.full(shape, "0.5"), "complex array": np.full(shape, 0.5 + 3j),
              "huge": np.full(shape, 1e200)}.get(bad, bad)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)
    if NATIVE_IDS.count(env_id):
        vec = gym.make_vec(env_id, num_envs=2)
        vec.reset(seed=0)
        with pytest.raises(ValueError, match="action"):
            vec.step(np.stack([np.asarray(action)] * 2) if not isinstance(action, str) else [action, action])


# ------------------------------------------------------------------------------------------ 4. native vector envs
@pytest.mark.parametrize("bad", ["abc", 1e300, [[0.0] * 4], float("nan")])
def test_native_vector_bad_states_are_refused_and_keep_the_batch(bad: Any) -> None:
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=3, tasks="train")
    vec.reset(seed=1)
    tasks, states = vec.unwrapped.tasks, vec.unwrapped.states
    if isinstance(bad, float):
        bad = np.full((3, 4), bad)
    with pytest.raises(ValueError, match="reset option 'state'"):
        vec.reset(options={"state": bad})
    assert vec.unwrapped.tasks == tasks
    np.testing.assert_array_equal(vec.unwrapped.states, states)


def episode_tasks_per_sub_env(env_id: str, action_seed: int, num_envs: int = 3, steps: int = 240) -> list[list[str]]:
    """The task id of every episode each sub-env starts, under random actions drawn with ``action_seed``."""
    vec = gym.make_vec(env_id, num_envs=num_envs, tasks="train", max_episode_steps=int(17 + 5 * action_seed))
    _, infos = vec.reset(seed=5)
    sequences = [[task_id] for task_id in infos["task_id"]]
    vec.action_space.seed(action_seed)
    ended = np.zeros(num_envs, dtype=bool)
    for _ in range(steps):
        _, _, terminated, truncated, infos = vec.step(vec.action_space.sample())
        for i in np.flatnonzero(ended):  # NextStep: this step started sub-env i's next episode
            sequences[i].append(infos["task_id"][i])
        ended = terminated | truncated
    return sequences


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_each_sub_env_task_sequence_depends_on_the_seed_only(env_id: str) -> None:
    """Two policies (and time limits) end episodes at different times; each sub-env still runs the same tasks, which
    are those of a single env reset with seed + i (the generator the Sync fallback's sub-env i uses)."""
    first, second = episode_tasks_per_sub_env(env_id, 0), episode_tasks_per_sub_env(env_id, 1)
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        n = min(len(a), len(b))
        assert n >= 3 and a[:n] == b[:n]
        single = gym.make(env_id, tasks="train")
        expected = [single.reset(seed=5 + i)[1]["task_id"]] + [single.reset()[1]["task_id"] for _ in range(n - 1)]
        assert a[:n] == expected


def test_sync_and_async_refuse_a_per_sub_env_list_and_native_pins_it() -> None:
    tasks = list(CARTPOLE.task_set("train")[:3])
    vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=3, tasks=tasks)
    assert list(vec.reset(seed=0)[1]["task_id"]) == [t.id for t in tasks]
    for mode in ("sync", "async"):
        with pytest.raises(ValueError, match="cannot do"):
            gym.make_vec("mtenvs/CartPole-v0", num_envs=3, tasks=tasks, vectorization_mode=mode)
    sampled = gym.make_vec("mtenvs/CartPole-v0", num_envs=3, tasks=TaskSet("three", tasks), vectorization_mode="sync")
    assert set(sampled.reset(seed=0)[1]["task_id"]) <= {t.id for t in tasks}
    assert gym.make("mtenvs/CartPole-v0", tasks=tasks).reset(seed=0)[1]["task"] in tasks  # a single env draws


# ------------------------------------------------------------------------------------------------ 5. Atari copies
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_atari_copies_continue_exactly_with_sticky_actions(how: str) -> None:
    pytest.importorskip("ale_py")
    env = gym.make("mtenvs/AtariTasks-v0", task={"game": "Breakout"}, repeat_action_probability=0.75)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for action in rng.integers(18, size=30):
        env.step(int(action))
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    for action in rng.integers(18, size=60):
        assert same_step(env.step(int(action)), twin.step(int(action)))


# ------------------------------------------------------------------------------------------------ 6. interop
def test_rl_zoo3_env_kwargs_merge_lets_task_override_tasks() -> None:
    saved = {"tasks": "train", "max_episode_steps": 50}  # the saved configuration of a trained model
    user = {"task": {"pole_length": 1.2}}  # --env-kwargs "task:{'pole_length': 1.2}"
    with pytest.warns(UserWarning, match="task= overrides tasks='train'"):
        env = gym.make("mtenvs/CartPole-v0", **{**saved, **user})
    for _ in range(3):
        assert env.reset()[1]["task"] == CARTPOLE.task(pole_length=1.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym.make("mtenvs/CartPole-v0", **{**saved, **user, "tasks": None})


@pytest.mark.parametrize("options", [{"task": {"pole_length": float("nan")}}, {"task": "no-such-set"}, {"bogus": 1},
                                     ["task"], "task"])
def test_refused_reset_options_change_nothing_not_even_the_generators(options: Any) -> None:
    env, twin = gym.make("mtenvs/CartPole-v0", tasks="train"), gym.make("mtenvs/CartPole-v0", tasks="train")
    env.reset(seed=4)
    twin.reset(seed=4)
    with pytest.raises(ValueError):
        env.reset(seed=99, options=options)
    for _ in range(3):
        assert same_step(env.step(np.array([0.2], dtype=np.float32)), twin.step(np.array([0.2], dtype=np.float32)))
    a, b = env.reset(), twin.reset()
    assert np.array_equal(a[0], b[0]) and a[1]["task_id"] == b[1]["task_id"]
    vec, vec_twin = gym.make_vec("mtenvs/CartPole-v0", num_envs=2, tasks="train"), gym.make_vec(
        "mtenvs/CartPole-v0", num_envs=2, tasks="train")
    vec.reset(seed=4)
    vec_twin.reset(seed=4)
    with pytest.raises(ValueError):
        vec.reset(seed=99, options=options)
    a, b = vec.reset(), vec_twin.reset()
    assert np.array_equal(a[0], b[0]) and list(a[1]["task_id"]) == list(b[1]["task_id"])


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_atari_copies_continue_exactly_across_games_and_resets(how: str) -> None:
    pytest.importorskip("ale_py")
    env = gym.make("mtenvs/AtariTasks-v0", tasks="train", max_episode_steps=25)
    env.reset(seed=7)
    rng = np.random.default_rng(0)
    for action in rng.integers(18, size=70):
        if any(env.step(int(action))[2:4]):
            env.reset()
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    for action in rng.integers(18, size=80):
        a, b = env.step(int(action)), twin.step(int(action))
        assert same_step(a, b)
        if a[2] or a[3]:
            first, second = env.reset(), twin.reset()
            assert np.array_equal(first[0], second[0]) and first[1]["task_id"] == second[1]["task_id"]


def test_sub_envs_on_one_linear_task_share_its_tables() -> None:
    """Memory does not grow with num_envs: every sub-env samples from the model's one table of cumulative sums."""
    task = mtenvs.family("LinearMDP").task(n_states=30, n_actions=4, horizon=6, instance=11)
    vec = gym.make_vec("mtenvs/LinearMDP-v0", num_envs=4, task=task)
    vec.reset(seed=0)
    tables = {id(env.unwrapped._cdf) for env in vec.unwrapped.envs}
    assert len(tables) == 1
    np.testing.assert_array_equal(vec.unwrapped.envs[0].unwrapped._cdf,
                                  np.cumsum(mtenvs.family("LinearMDP").model(task).transitions, axis=-1))
