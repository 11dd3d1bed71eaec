"""One game's emulator: ale-py's ``AtariEnv`` with either RAM observations or the standard pixel preprocessing.

ale-py (the ``atari`` extra) and OpenCV (needed by Gymnasium's ``AtariPreprocessing`` for pixels) are imported here,
on first use, so that ``import mtenvs`` works without them.
"""

from __future__ import annotations

import pickle
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from mtenvs.atari.games import ROMS

Observation = Literal["ram", "pixels"]

#: ALE v5 settings (Machado et al. 2018): each agent step repeats the action for 4 frames.
FRAME_SKIP = 4
#: The standard pixel preprocessing (Mnih et al. 2015): up to 30 no-ops at reset, 84×84 grayscale, 4 stacked frames.
NOOP_MAX, SCREEN_SIZE, FRAME_STACK = 30, 84, 4
RAM_SIZE = 128

_INSTALL_HINT = 'pip install "mtenvs[atari]"'


def require_ale_py() -> Any:
    """The ``ale_py`` module, or an ``ImportError`` that names the extra to install."""
    try:
        import ale_py
    except ImportError as error:
        raise ImportError(f"the AtariTasks family needs ale-py (the Arcade Learning Environment): {_INSTALL_HINT}") from error
    return ale_py


def require_opencv() -> None:
    """Check that OpenCV is importable (Gymnasium's ``AtariPreprocessing`` resizes frames with it)."""
    try:
        import cv2  # noqa: F401
    except ImportError as error:
        raise ImportError("AtariTasks observation='pixels' needs OpenCV for Gymnasium's AtariPreprocessing: "
                          "pip install opencv-python-headless") from error


def observation_space(observation: Observation) -> gym.spaces.Box:
    """``Box(0, 255, (128,), uint8)`` for RAM, ``Box(0, 255, (4, 84, 84), uint8)`` for pixels."""
    shape = (RAM_SIZE,) if observation == "ram" else (FRAME_STACK, SCREEN_SIZE, SCREEN_SIZE)
    return gym.spaces.Box(0, 255, shape, dtype=np.uint8)


class GameEmulator:
    """A game's ALE environment stack, stepped with indices into the full 18-action set.

    * ``"ram"``: ``AtariEnv(obs_type="ram", frameskip=4)``, i.e. exactly ``ALE/<Game>-v5`` with RAM observations;
    * ``"pixels"``: ``AtariEnv(frameskip=1)`` inside Gymnasium's ``AtariPreprocessing`` (frame skip 4 with max-pooling
      of the last two frames, up to 30 no-ops at reset, 84×84 grayscale) and ``FrameStackObservation(4)``.

    Both use the full action space and sticky actions with ``repeat_action_probability``. Pickling keeps the
    emulator (RAM, CPU and random generator, via ``cloneState(include_rng=True)``) and the wrappers' buffers, so a
    copy continues exactly like the original.
    """

    def __init__(self, game: str, observation: Observation, repeat_action_probability: float) -> None:
        self.game, self.observation, self.repeat_action_probability = game, observation, repeat_action_probability
        ale_py = require_ale_py()
        gym.register_envs(ale_py)
        pixels = observation == "pixels"
        if pixels:
            require_opencv()
        self.base = ale_py.env.AtariEnv(ROMS[game], obs_type="grayscale" if pixels else "ram",
                                        frameskip=1 if pixels else FRAME_SKIP,
                                        repeat_action_probability=repeat_action_probability, full_action_space=True)
        self.env: gym.Env = self.base
        if pixels:
            preprocessed = gym.wrappers.AtariPreprocessing(self.base, noop_max=NOOP_MAX, frame_skip=FRAME_SKIP,
                                                           screen_size=SCREEN_SIZE)
            self.env = gym.wrappers.FrameStackObservation(preprocessed, FRAME_STACK)

    @property
    def ale(self) -> Any:
        """The game's ``ale_py.ALEInterface``."""
        return self.base.ale

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new game; a ``seed`` reloads the ROM with that seed (about 0.1 s), ``None`` continues the RNG."""
        return self.env.reset(seed=seed)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One agent step (4 emulator frames) with action index ``action`` of the full action set."""
        return self.env.step(action)

    def screen(self) -> np.ndarray:
        """The current RGB frame, ``(210, 160, 3)`` uint8."""
        return self.ale.getScreenRGB()

    # -------------------------------------------------------------------------------------------- pickling
    def _wrappers(self) -> list[gym.Wrapper]:
        layers, env = [], self.env
        while isinstance(env, gym.Wrapper):
            layers.append(env)
            env = env.env
        return layers

    def __getstate__(self) -> dict[str, Any]:
        return {
            "settings": (self.game, self.observation, self.repeat_action_probability),
            "emulator": pickle.dumps(self.ale.cloneState(include_rng=True)),
            "np_random": self.base.np_random.bit_generator.state,
            "wrappers": [{k: v for k, v in layer.__dict__.items() if k != "env"} for layer in self._wrappers()],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(*state["settings"])  # type: ignore[misc]
        self.ale.restoreState(pickle.loads(state["emulator"]))
        self.base.np_random.bit_generator.state = state["np_random"]
        for layer, saved in zip(self._wrappers(), state["wrappers"], strict=True):
            layer.__dict__.update(saved)
