"""``AtariTasksEnv``: the multi-game Atari environment (a task is a game; one action set and one observation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from mtenvs.atari.emulator import FRAME_SKIP, GameEmulator, Observation, observation_space, require_ale_py
from mtenvs.atari.family import FAMILY, NUM_ACTIONS
from mtenvs.core.env import TaskEnv, discrete_action
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.seeding import stable_seed
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.rendering import require_reset

#: The standard episode cap: 108,000 emulator frames (30 minutes at 60 Hz) = 27,000 agent steps at frame skip 4.
MAX_EPISODE_FRAMES = 108_000
MAX_EPISODE_STEPS = MAX_EPISODE_FRAMES // FRAME_SKIP


def ale_seed(base: int, game: str) -> int:
    """The ALE seed of ``game``'s emulator after a reset that drew ``base`` from the environment's generator."""
    return stable_seed("AtariTasks", "ale", base, game) % 2**31


class AtariTasksEnv(TaskEnv[np.ndarray, np.int64]):
    """Atari 2600 games of the Arcade Learning Environment; one task = one game of a pool of 20.

    ## Description
    The multi-game Atari setting of "Scaling Distributed Multi-task Reinforcement Learning with Experience Sharing"
    (paper 000): each task is a whole game (its own dynamics, reward and visuals), while the action and observation
    spaces are shared. Games are emulated by ale-py (the ``atari`` extra, ``pip install "mtenvs[atari]"``) with the
    settings of ``ALE/<Game>-v5`` (Machado et al. 2018): the full 18-action set and sticky actions. The pool of 20
    games is `mtenvs.atari.games.GAMES`; ``train``/``test`` are the ten games of the seed-0 "10 of 20" draw,
    ``ood`` the other ten (see `mtenvs.atari.family`). Each game's emulator is created once and kept, so
    switching games at reset costs a ``reset`` of that game's emulator (milliseconds), after the first time.

    ## Observation Space
    ``observation="ram"`` (default): the console's 128 bytes of RAM, ``Box(0, 255, (128,), uint8)``, after each
    4-frame step, exactly as ``ALE/<Game>-v5`` with ``obs_type="ram"``. ``observation="pixels"``: the usual DQN
    preprocessing, Gymnasium's ``AtariPreprocessing`` (grayscale, max over the last two of 4 skipped frames, resized
    to 84×84 with ``INTER_AREA``) and ``FrameStackObservation(4)``: ``Box(0, 255, (4, 84, 84), uint8)``, oldest frame
    first. The game is hidden; use `mtenvs.wrappers.TaskObservation` to show it.

    ## Action Space
    ``Discrete(18)``: the full Atari joystick set (``NOOP, FIRE, UP, RIGHT, LEFT, DOWN, UPRIGHT, UPLEFT, DOWNRIGHT,
    DOWNLEFT, UPFIRE, RIGHTFIRE, LEFTFIRE, DOWNFIRE, UPRIGHTFIRE, UPLEFTFIRE, DOWNRIGHTFIRE, DOWNLEFTFIRE``) in every
    game; actions a game ignores act as ``NOOP``. Each action is repeated for 4 frames; with probability
    ``repeat_action_probability`` per frame the console repeats the previous action instead (sticky actions).

    ## Reward
    The change of the game's score over the step, **unclipped** (so scores compare with published ones). Clipping
    to {-1, 0, 1} for training is a wrapper's job (Gymnasium's ``ClipReward``, SB3's ``ClipRewardEnv`` /
    ``AtariWrapper``). `mtenvs.atari.scores` has random and human scores per game for normalization.

    ## Starting State
    The game's power-on state after ALE's reset; in pixels mode followed by 1 to 30 no-op steps. Randomness (sticky
    actions, no-ops) comes from the emulator's generator: ``reset(seed=s)`` draws a base from ``env.np_random`` and
    seeds each game's emulator with `ale_seed` of it when the game is first played after that reset (the ROM is
    reloaded, about 0.1 s; ``info["ale_seed"]`` reports the seed). Later episodes of the same game continue its
    emulator's generator, as ``ALE/<Game>-v5`` does, so one ``reset(seed=s)`` reproduces the whole stream.

    ## Episode End
    Termination when the game is over (all lives lost, or the game's own end, e.g. Pong at 21 points or the 2 m 16 s
    of Freeway). Truncation after 27,000 agent steps (108,000 frames, 30 minutes of play, the standard cap) for
    ``mtenvs/AtariTasks-v0``. ``info`` holds ``lives``, ``episode_frame_number`` and ``frame_number`` (the
    emulator's frame counters) besides ``task`` and ``task_id``. Losing a life does not end the episode.

    ## Arguments
    * ``task`` / ``tasks``: the game or the set of games (see `mtenvs.core.env.TaskEnv`), e.g.
      ``task={"game": "Breakout"}`` or ``tasks="train"``.
    * ``observation``: ``"ram"`` (default) or ``"pixels"`` (needs OpenCV).
    * ``repeat_action_probability``: sticky-action probability per frame (default 0.25, ALE v5; 0 disables).
    * ``render_mode``: ``"rgb_array"`` (the console's 210×160 RGB frame) or ``None``.

    Vectorized, ``gym.make_vec("mtenvs/AtariTasks-v0", num_envs=N, tasks=...)`` is a ``SyncVectorEnv`` of these
    environments (each sub-env may play a different game).

    ## Version History
    * v0: initial release (ale-py 0.12, ALE v5 settings, pool of 20 games).
    """

    family = FAMILY
    #: 60 frames per second / 4 frames per step.
    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        task: TaskSpec = None,
        *,
        tasks: TaskSpec = None,
        observation: str = "ram",
        repeat_action_probability: float = 0.25,
        render_mode: str | None = None,
    ) -> None:
        if observation not in ("ram", "pixels"):
            raise ValueError(f"AtariTasks: observation must be 'ram' or 'pixels', got {observation!r}")
        p = repeat_action_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ValueError(f"AtariTasks: repeat_action_probability must be a number in [0, 1], got {p!r}")
        require_ale_py()
        self.observation: Observation = observation  # type: ignore[assignment]
        self.repeat_action_probability = float(p)
        self.observation_space = observation_space(self.observation)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self._emulators: dict[str, GameEmulator] = {}
        self._seeded: set[str] = set()          # games whose emulator was seeded since the last seeded reset
        self._ale_base: int | None = None
        self._reseed = False
        self._active: GameEmulator | None = None  # the emulator of the running episode
        self._ale_info: dict[str, Any] = {}
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    # ------------------------------------------------------------------------------------------- tasks
    def _emulator(self, game: str) -> GameEmulator:
        if game not in self._emulators:
            self._emulators[game] = GameEmulator(game, self.observation, self.repeat_action_probability)
        return self._emulators[game]

    def _apply_task(self, task: Task) -> None:
        if self._active is not None and self._active.game != task["game"]:
            self._active = None  # another game: the running episode cannot go on (reset first)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode of the next game (``options["task"]`` or the sampler); see *Starting State*."""
        self._reseed = seed is not None or self._ale_base is None
        return super().reset(seed=seed, options=options)

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            raise ValueError("AtariTasks: reset option 'state' is not supported (emulator states are not settable)")
        if self._reseed:
            self._ale_base, self._reseed = int(self.np_random.integers(2**62)), False
            self._seeded.clear()
        game = self._task["game"]
        emulator = self._emulator(game)
        seed = None if game in self._seeded else ale_seed(self._ale_base, game)  # type: ignore[arg-type]
        observation, info = emulator.reset(seed=seed)
        self._seeded.add(game)
        self._active = emulator
        self._ale_info = {key: info[key] for key in ("lives", "episode_frame_number", "frame_number")}
        if seed is not None:
            self._ale_info["ale_seed"] = seed
        return observation

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info.update(self._ale_info)
        return info

    # ------------------------------------------------------------------------------------------- step
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play one agent step (4 frames) of the current game."""
        if self._active is None:
            self._require_reset()
        index = discrete_action(action, NUM_ACTIONS, "AtariTasks")
        observation, reward, terminated, truncated, info = self._active.step(index)  # type: ignore[union-attr]
        self._ale_info = {"lives": info["lives"], "episode_frame_number": info["episode_frame_number"],
                          "frame_number": info["frame_number"]}
        return observation, float(reward), bool(terminated), bool(truncated), self._info()

    @property
    def game(self) -> str:
        """The game of the current episode."""
        return self._task["game"]

    @property
    def ale(self) -> Any:
        """The current game's ``ale_py.ALEInterface`` (for lives, action meanings, state cloning)."""
        return self._emulator(self.game).ale

    # ------------------------------------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # Emulators not seeded since the last seeded reset hold nothing the stream depends on: rebuild them lazily.
        state["_emulators"] = {g: e for g, e in self._emulators.items() if g in self._seeded}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._active is not None:
            self._active = self._emulators[self._active.game]

    # ------------------------------------------------------------------------------------------- rendering
    def render(self) -> np.ndarray | None:
        """The console's RGB frame (210×160×3 uint8) in ``"rgb_array"`` mode; ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._active is not None, "AtariTasks")
        return self._emulator(self.game).screen()

    def close(self) -> None:
        """Release every game's emulator."""
        self._emulators.clear()
        self._active = None
        super().close()


#: The vector env of ``mtenvs/AtariTasks-v0``: Gymnasium's ``SyncVectorEnv`` of single envs (each sub-env may play a
#: different game); emulators step one at a time, so a batched version would gain nothing.
AtariTasksVectorEnv = vector_env_for(AtariTasksEnv, "AtariTasksVectorEnv")
