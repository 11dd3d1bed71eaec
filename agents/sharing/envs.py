"""The one place that builds an Atari game's environment, draws the games and reads their random scores.

An Atari task is one game of ``mtenvs/AtariTasks-v0`` (ALE v5 settings: frameskip 4, sticky actions 0.25; the full
18-action space shared by all games; the 128-byte RAM as observation, our reading of the paper's
"observation embedding", §4). ale-py is imported by the family only when an environment is built.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["ATARI_ENV_ID", "N_ACTIONS", "RAM_SIZE", "make_game_env", "random_scores", "ten_of_twenty"]

#: Length of the RAM observation.
RAM_SIZE = 128
#: Size of ALE's full action space.
N_ACTIONS = 18
#: The task family's environment id.
ATARI_ENV_ID = "mtenvs/AtariTasks-v0"


def make_game_env(game: str, seed: int | None = None, max_episode_steps: int | None = None) -> gym.Env:
    """``mtenvs/AtariTasks-v0`` fixed to ``game`` (RAM observations), optionally time-limited and seeded.

    ``seed`` seeds the first reset and the action space; ``max_episode_steps`` replaces the registered 27,000-step cap.
    """
    import mtenvs  # noqa: F401  (registers the family)

    if not isinstance(game, str) or not game:
        raise ValueError(f"game must be a non-empty game name such as 'Pong', got {game!r}")
    if max_episode_steps is not None and max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be a positive int or None, got {max_episode_steps!r}")
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": int(max_episode_steps)}
    env = gym.make(ATARI_ENV_ID, task={"game": game}, **kwargs)
    if seed is not None:
        env.reset(seed=int(seed))
        env.action_space.seed(int(seed))
    return env


def random_scores() -> dict[str, float]:
    """The family's random-policy score per game, measured at its own settings (RAM, full action set, sticky
    actions, 27,000-step cap)."""
    from mtenvs.atari.scores import MEASURED_RANDOM_SCORES

    return {str(k): float(v) for k, v in MEASURED_RANDOM_SCORES.items()}


def ten_of_twenty(seed: int) -> list[str]:
    """The paper's "randomly sample 10 unique tasks from the 20 total tasks": the family's draw for ``seed``."""
    from mtenvs.atari.family import ten_of_twenty as family_draw

    return [str(task.params["game"]) for task in family_draw(seed)]
