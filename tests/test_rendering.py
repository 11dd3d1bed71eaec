"""``render_mode="rgb_array"`` of every family that has it: frame format, determinism, frames that follow the task
and the state, the errors before reset, and Gymnasium's checker with rendering on."""

from __future__ import annotations

import importlib
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import mtenvs
from mtenvs.control.helicopter import NOMINAL_A, NOMINAL_B


def _renders(env_id: str) -> bool:
    module, _, name = gym.spec(env_id).entry_point.partition(":")
    return "rgb_array" in getattr(importlib.import_module(module), name).metadata.get("render_modes", [])


RENDERING_IDS = [env_id for env_id in mtenvs.env_ids() if _renders(env_id)]
#: Ids whose frames draw every task parameter and raise before reset (CartPole's draws only the pole length and
#: DroneNav's only the floor plan; those three draw an empty scene before reset).
DRAWN_IDS = [env_id for env_id in RENDERING_IDS if mtenvs.family_of(env_id).name not in ("CartPole", "GridWorld",
                                                                                               "DroneNav")]
EXPECTED = ["CartPole", "SimpleMass", "DoubleMass", "DoubleInvertedPendulum", "Helicopter", "EntityAllocation",
            "FedAggregation", "GridWorld", "LinearContextual", "LinearMDP", "LinearSmallHeterogeneity",
            "LinearLargeHeterogeneity", "DroneNav", "Portfolio", "ConflictChain", "AtariTasks"]
#: Ids whose tasks can differ in a parameter their dynamics ignore (the chain's ``p`` in the reversed variant).
SAME_DYNAMICS_IDS = ["mtenvs/ConflictChain-v0"]

_ENVS: dict[str, gym.Env] = {}


def env_for(env_id: str) -> gym.Env:
    """One unwrapped rendering env per id, built once (the portfolio and federated envs load data)."""
    if env_id not in _ENVS:
        _ENVS[env_id] = gym.make(env_id, render_mode="rgb_array").unwrapped
    return _ENVS[env_id]


def frame_of(env: gym.Env, task: mtenvs.Task, seed: int = 0, steps: int = 0) -> np.ndarray:
    env.reset(seed=seed, options={"task": task})
    env.action_space.seed(seed)
    for _ in range(steps):
        env.step(env.action_space.sample())
    return env.render()


def test_every_family_renders() -> None:
    assert sorted({mtenvs.family_of(i).name for i in RENDERING_IDS}) == sorted(EXPECTED)


@pytest.mark.parametrize("env_id", RENDERING_IDS)
def test_frames_are_rgb_arrays_and_deterministic(env_id: str) -> None:
    env = env_for(env_id)
    task = env.family.default_task()
    frame = frame_of(env, task, steps=2)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 100
    assert np.array_equal(frame, env.render())            # rendering does not change the state
    assert np.array_equal(frame, frame_of(env, task, steps=2))
    frame[:] = 0
    assert env.render().any()                              # a fresh array every call


@pytest.mark.parametrize("env_id", [env_id for env_id in DRAWN_IDS if env_id not in SAME_DYNAMICS_IDS])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_different_tasks_give_different_frames(env_id: str, seed: int) -> None:
    env = env_for(env_id)
    family = env.family
    first, second = family.sample(2, seed=seed)
    if first.params == second.params:
        return
    frames = [frame_of(env, task, seed=seed) for task in (first, second)]
    assert not np.array_equal(*frames), f"{env_id}: tasks {first} and {second} render the same frame"


@pytest.mark.parametrize("env_id", [env_id for env_id in RENDERING_IDS if env_id != "mtenvs/AtariTasks-v0"])
def test_a_new_state_gives_a_new_frame(env_id: str) -> None:  # an Atari state is the emulator's; test_atari covers it
    env = env_for(env_id)
    env.reset(seed=3, options={"task": env.family.default_task()})
    env.action_space.seed(3)
    before, frame = np.copy(env.state), env.render()
    for _ in range(10):   # ten steps (or to the episode's end) move every family's state by a visible amount
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert not np.array_equal(np.copy(env.state), before), "the state never changed"
    assert not np.array_equal(env.render(), frame)


@pytest.mark.parametrize("env_id", DRAWN_IDS)
def test_render_before_reset_raises_reset_needed(env_id: str) -> None:
    env = gym.spec(env_id).make(render_mode="rgb_array").unwrapped   # without OrderEnforcing, which raises first
    with pytest.raises(ResetNeeded, match="reset"):
        env.render()
    env.reset(seed=0)
    assert env.render() is not None


@pytest.mark.parametrize("env_id", RENDERING_IDS)
def test_without_render_mode_render_returns_none(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    assert env.render() is None


@pytest.mark.parametrize("env_id", DRAWN_IDS)
def test_gymnasium_checker_passes_with_rendering(env_id: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")
        warnings.filterwarnings("ignore", message=".*symmetric.*")
        check_env(gym.make(env_id, render_mode="rgb_array").unwrapped)


# ------------------------------------------------------------------------------------------ what the frames show
Region = tuple[slice, slice]
WHOLE: Region = (slice(None), slice(None))


def _mask(frame: np.ndarray, colours: list[tuple[int, int, int]], region: Region = WHOLE) -> np.ndarray:
    """Pixels of ``region`` painted in one of ``colours``."""
    return np.any([np.all(frame[region] == c, axis=-1) for c in colours], axis=0)


def _count(frame: np.ndarray, colour: tuple[int, int, int], region: Region = WHOLE) -> int:
    return int(_mask(frame, [colour], region).sum())


def test_simple_mass_block_area_grows_with_the_mass() -> None:
    env = env_for("mtenvs/SimpleMass-v0")
    areas = [_count(frame_of(env, env.family.task(mass=m)), (70, 110, 170)) for m in (1.0, 8.0)]
    assert 3.0 < areas[1] / areas[0] < 5.0        # the side grows as m^(1/3), so the area as m^(2/3) = 4


def test_double_pendulum_poles_are_drawn_to_scale() -> None:
    env = env_for("mtenvs/DoubleInvertedPendulum-v0")
    upright, pole = np.zeros(6), (202, 152, 101)
    areas = [_count(frame_of_state(env, env.family.task(length_1=l1, length_2=0.5), upright), pole) for l1 in (0.3, 0.9)]
    # Upright poles are 9-pixel-wide vertical bars at 110 pixels per metre: 0.6 m more pole is 66 x 9 more pixels.
    assert abs((areas[1] - areas[0]) / (0.6 * 110 * 9) - 1.0) < 0.1


def frame_of_state(env: gym.Env, task: mtenvs.Task, state: np.ndarray) -> np.ndarray:
    env.reset(seed=0, options={"task": task, "state": state})
    return env.render()


def test_helicopter_bars_show_the_perturbation_and_nothing_for_the_nominal_model() -> None:
    env = env_for("mtenvs/Helicopter-v0")
    family = env.family
    nominal = family.default_task()
    assert np.array_equal(np.array([[nominal[f"A{i}{j}"] for j in range(1, 5)] for i in range(1, 5)]), NOMINAL_A)
    assert np.array_equal(np.array([[nominal[f"B{i}{j}"] for j in range(1, 3)] for i in range(1, 5)]), NOMINAL_B)
    chart = (slice(40, 345), slice(395, 600))
    bar_colours = [(200, 70, 60), (60, 100, 200)]
    plain = frame_of_state(env, nominal, np.zeros(4))
    bar_rows = np.flatnonzero(_mask(plain, bar_colours, chart).any(axis=1))
    assert len(bar_rows) <= 4       # zero-height bars: one line (at most two pixel rows) on each chart's axis
    up = frame_of_state(env, family.task(A11=nominal["A11"] * 1.2), np.zeros(4))
    down = frame_of_state(env, family.task(A11=nominal["A11"] * 0.8), np.zeros(4))   # A11 < 0: smaller is larger
    assert _count(up, bar_colours[1], chart) > _count(plain, bar_colours[1], chart) + 100
    assert _count(down, bar_colours[0], chart) > _count(plain, bar_colours[0], chart) + 100


def test_linear_mdp_nodes_are_coloured_by_the_expected_reward() -> None:
    from mtenvs.rendering import colours

    env = env_for("mtenvs/LinearMDP-v0")
    task = env.family.task_set("train")[0]
    frame = frame_of_state(env, task, np.array([3, 1]))
    expected = env.family.model(task).rewards[1].mean(axis=1)
    for s, colour in enumerate(colours(expected, 0.0, 1.0)):
        if s != 3:   # the current state is ringed
            assert _count(frame, colour, (slice(80, 140), slice(None))) > 100, f"node {s} is not coloured by its reward"


def test_federated_histograms_count_each_clients_samples() -> None:
    env = env_for("mtenvs/FedAggregation-v0")
    env.reset(seed=0, options={"task": env.family.task(alpha=0.1)})
    frame = env.render()
    from mtenvs.rendering import palette

    pixels = [_count(frame, colour, (slice(50, 191), slice(40, 481))) for colour in palette(10)]
    counts = env.unwrapped._label_counts.sum(axis=0)
    ratio = np.array(pixels) / counts       # every digit's area is proportional to its number of samples
    assert ratio.min() > 0 and ratio.max() / ratio.min() < 1.3


def test_chain_frames_follow_the_task_and_the_state() -> None:
    env = env_for("mtenvs/ConflictChain-v0")
    family = env.family
    one, two = (family.task({"variant": "reversed", "task": k}) for k in (1, 2))
    stochastic = [family.task({"variant": "stochastic", "task": 1, "p": p}) for p in (0.6, 0.9)]
    assert not np.array_equal(frame_of(env, one), frame_of(env, two))  # the paying end swaps sides
    assert not np.array_equal(*(frame_of(env, t) for t in stochastic))  # arc widths follow p
    env.reset(seed=0, options={"task": one})
    start = env.render()
    env.step(1)
    assert not np.array_equal(start, env.render())  # the ring moves with the agent
