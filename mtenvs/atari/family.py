"""The ``AtariTasks`` family: a task is one game of a pool of 20, so the only task parameter is ``game``.

Task sets of a family whose only parameter is a finite category (there is no unseen game "inside" the training
region):

* ``train``: the ten games of the seed-0 "10 of 20" draw (`ten_of_twenty`), in draw order;
* ``test``: the same ten games. Held-out evaluation on Atari means new episodes (other emulator seeds, sticky
  actions, no-op starts) of the games trained on, as in multi-game Atari benchmarks;
* ``ood``: the other ten games of the pool, never seen in training (zero-shot transfer);
* ``pool``: all 20 games, in alphabetical order;
* ``ten-of-twenty``: the paper's protocol, ten distinct games drawn from the pool with seed 0 (equal to ``train``;
  other seeds: `ten_of_twenty`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mtenvs.atari.games import GAMES, draw_games
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Categorical, ParameterSpace
from mtenvs.core.task import Task, TaskSet

#: Number of actions of the full Atari 2600 joystick action set, shared by every game.
NUM_ACTIONS = 18


#: Training games: the seed-0 draw of ten from the pool.
TRAIN_GAMES: tuple[str, ...] = tuple(draw_games(0))

PARAMETERS = ParameterSpace([
    Categorical("game", "Pong", choices=GAMES, train=TRAIN_GAMES,
                  description="the Atari 2600 game (ALE ROM); train = the seed-0 draw of 10 of the 20 games"),
])


def _games(name: str, games: list[str] | tuple[str, ...]) -> Callable[[TaskFamily], list[Task]]:
    def build(family: TaskFamily) -> list[Task]:
        return [Task(family.name, {"game": game}, name=f"{name}-{game}") for game in games]
    return build


FAMILY = TaskFamily(
    "AtariTasks",
    PARAMETERS,
    description="Atari 2600 games of the Arcade Learning Environment with one shared action space (18 actions) and "
                "one observation (RAM or 84×84 frames); a task is a game from a pool of 20 (paper 000).",
    task_sets={
        "train": _games("train", TRAIN_GAMES),
        "test": _games("test", TRAIN_GAMES),
        "ood": _games("ood", [g for g in GAMES if g not in TRAIN_GAMES]),
        "pool": _games("pool", GAMES),
        "ten-of-twenty": _games("ten-of-twenty", TRAIN_GAMES),
    },
)


def ten_of_twenty(seed: int) -> TaskSet:
    """The paper's protocol: ten distinct games drawn from the pool of 20 with ``seed``, as a task set in draw order.

    The same seed always gives the same games in the same order (`mtenvs.atari.games.draw_games`).
    """
    games = draw_games(seed)
    return TaskSet(f"ten-of-twenty-{seed}", [FAMILY.task(Task(FAMILY.name, {"game": g}, name=g)) for g in games])


def random_policy(tasks: Any, seed: int | None = 0) -> Callable[[np.ndarray], np.ndarray]:
    """The ``random`` reference policy: uniformly random actions among the 18, one per row of a batch.

    ``tasks`` (one per row) only sets the batch layout; every game shares the action set. Returns a callable on a
    batch of observations (the form `mtenvs.evaluation.rollout_returns` accepts).
    """
    rng = np.random.default_rng(seed)

    def act(observations: np.ndarray) -> np.ndarray:
        return rng.integers(NUM_ACTIONS, size=len(observations))

    return act


FAMILY.reference_policies["random"] = random_policy
