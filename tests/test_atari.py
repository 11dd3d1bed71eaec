"""The AtariTasks family against ale-py's own environments: RAM and pixels step for step, task switching, seeding,
pickling, the "10 of 20" draw, score normalization and the error messages."""

from __future__ import annotations

import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.atari.family import FAMILY, TRAIN_GAMES, ten_of_twenty
from mtenvs.atari.games import GAMES, ROMS, draw_games

ale_py = pytest.importorskip("ale_py")
gym.register_envs(ale_py)

ENV_ID = "mtenvs/AtariTasks-v0"


def actions(n: int, seed: int = 0) -> list[int]:
    return [int(a) for a in np.random.default_rng(seed).integers(18, size=n)]


def ale_reference(game: str, **kwargs: object) -> gym.Env:
    """ale-py's own ``ALE/<Game>-v5`` (no wrappers) with the full action set."""
    return gym.make(f"ALE/{game}-v5", full_action_space=True, disable_env_checker=True, **kwargs).unwrapped


def test_every_game_has_the_shared_spaces() -> None:
    """The spaces are declared once; every ROM of the pool has 18 legal actions, 128 bytes of RAM and a 210×160
    screen, and each leaves its own RAM signature after a reset."""
    env = gym.make(ENV_ID)
    assert env.observation_space == gym.spaces.Box(0, 255, (128,), np.uint8)
    assert env.action_space == gym.spaces.Discrete(18)
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    signatures = set()
    for game in GAMES:
        ale.loadROM(ale_py.roms.get_rom_path(ROMS[game]))
        assert len(ale.getLegalActionSet()) == 18 and ale.getRAMSize() == 128 and ale.getScreenDims() == (210, 160)
        ale.reset_game()
        signatures.add(ale.getRAM().tobytes())
    assert len(signatures) == len(GAMES)


def test_switching_task_at_reset_switches_the_rom() -> None:
    env = gym.make(ENV_ID, disable_env_checker=True)
    env.reset(seed=0)
    for game in ("Alien", "RoadRunner", "Boxing"):  # first episodes after reset(seed=0), which played Pong
        ram, info = env.reset(options={"task": {"game": game}})
        assert info["task"]["game"] == game == env.unwrapped.game and env.observation_space.contains(ram)
        reference, _ = ale_reference(game, obs_type="ram").reset(seed=info["ale_seed"])
        np.testing.assert_array_equal(ram, reference)  # the RAM of that ROM, as ale-py's env of the game starts


def test_task_sets() -> None:
    train, test, ood, pool = (FAMILY.task_set(n) for n in ("train", "test", "ood", "pool"))
    assert [t["game"] for t in pool] == list(GAMES) and len(set(GAMES)) == 20
    assert [t["game"] for t in train] == list(TRAIN_GAMES) == [t["game"] for t in test] == draw_games(0)
    assert sorted(t["game"] for t in ood) == sorted(set(GAMES) - set(TRAIN_GAMES))
    assert list(FAMILY.task_set("ten-of-twenty")) == list(train)
    assert FAMILY.task_set_names() == ["train", "test", "ood", "pool", "ten-of-twenty"]
    assert {FAMILY.sample_task(np.random.default_rng(s), "ood")["game"] for s in range(50)} <= set(GAMES) - set(TRAIN_GAMES)


def test_ten_of_twenty() -> None:
    draws = {seed: [t["game"] for t in ten_of_twenty(seed)] for seed in range(5)}
    for seed, games in draws.items():
        assert len(set(games)) == 10 and set(games) <= set(GAMES)
        assert [t["game"] for t in ten_of_twenty(seed)] == games
    assert len({tuple(g) for g in draws.values()}) == 5
    assert draws[0] == list(TRAIN_GAMES)
    with pytest.raises(ValueError, match="k must be"):
        draw_games(0, k=21)


def test_bad_game_names_the_parameter_and_lists_the_pool() -> None:
    for make in (lambda: gym.make(ENV_ID, task={"game": "MsPacMan"}),
                 lambda: gym.make(ENV_ID).reset(options={"task": {"game": "MsPacMan"}})):
        with pytest.raises(ValueError) as error:
            make()
        message = str(error.value)
        assert "'game'" in message and "did you mean 'MsPacman'" in message and all(g in message for g in GAMES)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="observation"):
        gym.make(ENV_ID, observation="rgb")
    with pytest.raises(ValueError, match="repeat_action_probability"):
        gym.make(ENV_ID, repeat_action_probability=1.5)
    env = gym.make(ENV_ID, disable_env_checker=True)
    with pytest.raises(ValueError, match="state"):
        env.reset(seed=0, options={"state": np.zeros(128)})


# ------------------------------------------------------------------------------------------------ ale-py as reference
@pytest.mark.parametrize(("game", "sticky"), [("Breakout", 0.25), ("Asterix", 0.1)])
def test_ram_mode_is_ale_v5_step_for_step(game: str, sticky: float) -> None:
    env = gym.make(ENV_ID, task={"game": game}, repeat_action_probability=sticky, render_mode="rgb_array")
    reference = ale_reference(game, obs_type="ram", repeat_action_probability=sticky, render_mode="rgb_array")
    obs, info = env.reset(seed=3)
    ref_obs, _ = reference.reset(seed=info["ale_seed"])
    np.testing.assert_array_equal(obs, ref_obs)
    episodes = 0
    for t, action in enumerate(actions(2000, seed=1)):
        obs, reward, terminated, truncated, info = env.step(action)
        ref = reference.step(action)
        np.testing.assert_array_equal(obs, ref[0])
        assert (reward, terminated, truncated) == (ref[1], ref[2], ref[3]), t
        assert info["lives"] == ref[4]["lives"] and info["episode_frame_number"] == ref[4]["episode_frame_number"]
        if t % 97 == 0:
            np.testing.assert_array_equal(env.render(), reference.render())
        if terminated:
            episodes += 1
            if episodes == 2:
                break
            np.testing.assert_array_equal(env.reset()[0], reference.reset()[0])  # the next episode continues the RNG
    assert episodes == 2


def test_pixel_mode_is_gymnasium_atari_preprocessing() -> None:
    pytest.importorskip("cv2")
    env = gym.make(ENV_ID, task={"game": "Pong"}, observation="pixels")
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    reference = gym.make("ALE/Pong-v5", frameskip=1, full_action_space=True, disable_env_checker=True)
    reference = gym.wrappers.FrameStackObservation(gym.wrappers.AtariPreprocessing(reference), 4)
    obs, info = env.reset(seed=5)
    np.testing.assert_array_equal(obs, reference.reset(seed=info["ale_seed"])[0])
    for action in actions(150, seed=2):
        step, ref = env.step(action), reference.step(action)
        np.testing.assert_array_equal(step[0], ref[0])
        assert step[1:4] == ref[1:4]


# ------------------------------------------------------------------------------------------------ seeding and pickling
def rollout(env: gym.Env, seed: int, steps: int) -> list[tuple]:
    record = [(env.reset(seed=seed)[0].tobytes(),)]
    for action in actions(steps, seed=7):
        obs, reward, terminated, truncated, info = env.step(action)
        record.append((obs.tobytes(), reward, info["task_id"]))
        if terminated or truncated:
            record.append((env.reset()[0].tobytes(), env.unwrapped.game))
    return record


def test_one_seed_reproduces_games_and_sticky_actions() -> None:
    make = lambda: gym.make(ENV_ID, tasks=[FAMILY.task(game="Asterix"), FAMILY.task(game="RoadRunner")],  # noqa: E731
                            max_episode_steps=100)
    first = rollout(make(), 11, 500)
    assert first == rollout(make(), 11, 500)
    assert len({r[2] for r in first if len(r) == 3}) == 2  # both games were played
    assert first != rollout(make(), 12, 500)


def test_pickled_pixel_env_continues_identically() -> None:
    pytest.importorskip("cv2")
    env = gym.make(ENV_ID, tasks="train", observation="pixels")
    env.reset(seed=2)
    for action in actions(25):
        env.step(action)
    copy = pickle.loads(pickle.dumps(env))
    for action in actions(60, seed=3):
        a, b = env.step(action), copy.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]


def test_changing_game_mid_episode_needs_a_reset() -> None:
    env = gym.make(ENV_ID, disable_env_checker=True)
    env.reset(seed=0)
    env.unwrapped.change_task({"game": "Boxing"})
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    _, info = env.reset(options={"task": {"game": "Boxing"}})
    assert info["task"]["game"] == "Boxing" and info["lives"] == 0


def test_vector_env_plays_a_game_per_sub_env() -> None:
    tasks = [FAMILY.task(game="Pong"), FAMILY.task(game="Breakout")]
    venv = gym.make_vec(ENV_ID, num_envs=2, tasks=tasks)
    obs, infos = venv.reset(seed=0)
    assert obs.shape == (2, 128) and list(infos["task_id"]) == [t.id for t in tasks]
    obs, *_ = venv.step(np.array([1, 1]))
    assert not np.array_equal(obs[0], obs[1])


# ------------------------------------------------------------------------------------------------ scores
def test_scores_normalize_random_to_zero_and_human_to_one() -> None:
    from mtenvs.atari.scores import HUMAN_SCORES, MEASURED_RANDOM_SCORES, RANDOM_SCORES, human_normalized_score

    assert set(RANDOM_SCORES) == set(HUMAN_SCORES) == set(MEASURED_RANDOM_SCORES) == set(GAMES)
    for game in GAMES:
        assert human_normalized_score(game, RANDOM_SCORES[game]) == 0.0
        assert human_normalized_score(game, HUMAN_SCORES[game]) == pytest.approx(1.0)
        assert human_normalized_score(game, MEASURED_RANDOM_SCORES[game], random="measured") == 0.0
    assert human_normalized_score("Pong", -3.05) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"game.*Pong"):
        human_normalized_score("Tetris", 1.0)


def test_measured_random_scores_are_reproduced_by_the_generator() -> None:
    from mtenvs.atari.measured_scores import EPISODES, MEASURED_RANDOM_SCORES, SEED
    from mtenvs.atari.scores import measure_random_scores

    assert measure_random_scores(["Asterix"], EPISODES, SEED) == {"Asterix": MEASURED_RANDOM_SCORES["Asterix"]}


def test_random_reference_policy() -> None:
    policy = FAMILY.reference_policies["random"](list(FAMILY.task_set("train"))[:3])
    batch = policy(np.zeros((3, 128), dtype=np.uint8))
    assert batch.shape == (3,) and all(0 <= a < 18 for a in batch)


# ------------------------------------------------------------------------------------------------ without ale-py
def test_missing_ale_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from mtenvs.atari.env import AtariTasksEnv

    monkeypatch.setitem(sys.modules, "ale_py", None)  # makes `import ale_py` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "mtenvs\[atari\]"'):
        AtariTasksEnv()


def test_import_mtenvs_does_not_import_ale_py() -> None:
    code = ("import sys; sys.modules['ale_py'] = None; import mtenvs, gymnasium as gym\n"
            "assert 'AtariTasks' in mtenvs.families() and len(mtenvs.family('AtariTasks').task_set('pool')) == 20\n"
            "try:\n    gym.make('mtenvs/AtariTasks-v0')\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "mtenvs[atari]"' in out.stdout
    assert mtenvs.family("AtariTasks") is FAMILY
