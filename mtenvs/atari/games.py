"""The pool of 20 Atari 2600 games and the "10 of 20" draw of paper 000's experiments.

Paper 000 ("Scaling Distributed Multi-task Reinforcement Learning with Experience Sharing", Sec. 4) samples
"10 unique tasks from the 20 total tasks" but lists only two of them (Alien and RoadRunner). The pool below is a
standard set of well-known ALE games that contains both (our choice).
"""

from __future__ import annotations

import numpy as np

#: The 20 games, by their ALE environment names (``ALE/<Game>-v5``), in alphabetical order.
GAMES: tuple[str, ...] = (
    "Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing", "Breakout", "ChopperCommand",
    "CrazyClimber", "DemonAttack", "Freeway", "Frostbite", "Gopher", "Hero", "Jamesbond", "Kangaroo", "MsPacman",
    "Pong", "RoadRunner",
)

#: ROM names of the games as ``ale_py.roms`` spells them (snake case).
ROMS: dict[str, str] = {
    "Alien": "alien", "Amidar": "amidar", "Assault": "assault", "Asterix": "asterix", "BankHeist": "bank_heist",
    "BattleZone": "battle_zone", "Boxing": "boxing", "Breakout": "breakout", "ChopperCommand": "chopper_command",
    "CrazyClimber": "crazy_climber", "DemonAttack": "demon_attack", "Freeway": "freeway", "Frostbite": "frostbite",
    "Gopher": "gopher", "Hero": "hero", "Jamesbond": "jamesbond", "Kangaroo": "kangaroo", "MsPacman": "ms_pacman",
    "Pong": "pong", "RoadRunner": "road_runner",
}

#: How many games the paper's protocol draws from the pool.
DRAWN_GAMES = 10


def draw_games(seed: int, k: int = DRAWN_GAMES) -> list[str]:
    """``k`` distinct games of `GAMES` drawn with ``numpy.random.default_rng(seed)``, in draw order.

    The draw order is a random permutation, so it can serve as the order in which an agent meets the games (the
    paper gives each agent "a permutation of sequences of M distinct tasks").

    Raises:
        ValueError: ``k`` is not an integer in ``[1, 20]``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(GAMES):
        raise ValueError(f"k must be an integer in [1, {len(GAMES)}] (the pool has {len(GAMES)} games), got {k!r}")
    rng = np.random.default_rng(seed)
    return [GAMES[i] for i in rng.choice(len(GAMES), size=int(k), replace=False)]
