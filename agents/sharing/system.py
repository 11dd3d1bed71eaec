"""N lifelong agents sharing experience through the hub, in synchronous rounds (paper 000 §5; notes-000 §6 item 25).

Each agent learns its own random permutation of the M games, one per round. In round t every agent trains its
SimNet on its game and queries the hub (one gather, one scatter); the hub holds what agents published in rounds
before t. Each agent then learns its game (Scenario 1 or 2, :mod:`agents.sharing.agent`), and all agents publish
(one gather). ``sharing=False`` with N = 1 is the isolated agent: no SimNet, no hub, no messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.common.communication import Communicator
from agents.sharing.agent import LearnerConfig, SharingAgent, TaskRecord
from agents.sharing.hub import Hub
from agents.sharing.simnet import SimilarityMatcher, SimNet, SimNetConfig
from mtenvs.core.seeding import stable_seed

__all__ = ["SharingSystem"]


class SharingSystem:
    """The N-agent system.

    Args:
        games: the M games.
        n_agents: N.
        learner: EWC-DQN and sharing settings.
        comm: the communicator (its server node is the hub); unused when ``sharing`` is False.
        simnet: SimNet settings (needed when ``sharing``).
        matcher: the hub's matcher (metric and τ; needed when ``sharing``).
        sharing: False for isolated agents.
        seed: the system seed (task permutations and agent seeds).
    """

    def __init__(self, games: Sequence[str], n_agents: int, learner: LearnerConfig, comm: Communicator | None = None,
                 simnet: SimNetConfig | None = None, matcher: SimilarityMatcher | None = None, sharing: bool = True,
                 seed: int = 0) -> None:
        if not games or len(set(games)) != len(games):
            raise ValueError(f"games must be a non-empty list of distinct game names, got {list(games)!r}")
        if int(n_agents) < 1:
            raise ValueError(f"n_agents must be a positive int, got {n_agents!r}")
        if sharing and (comm is None or matcher is None):
            raise ValueError("a sharing system needs comm and matcher")
        self.games = list(games)
        self.n_agents = int(n_agents)
        self.sharing = bool(sharing)
        self.comm = comm
        self.hub = Hub(comm, matcher) if sharing else None  # type: ignore[arg-type]
        trainer = SimNet(simnet) if sharing else None
        rng = np.random.default_rng(stable_seed("sharing-permutations", seed) % 2**32)
        #: each agent's game sequence: a random permutation of the M games
        self.sequences = [[self.games[k] for k in rng.permutation(len(self.games))] for _ in range(self.n_agents)]
        self.agents = [SharingAgent(i, learner, trainer, stable_seed("sharing-agent-seed", seed, i) % 2**31)
                       for i in range(self.n_agents)]
        self.round = 0

    @property
    def records(self) -> list[TaskRecord]:
        """Every agent's task records, by agent then round."""
        return [r for agent in self.agents for r in agent.records]

    def step(self) -> list[TaskRecord]:
        """One synchronous round: similarity, query, learn, publish."""
        t = self.round
        if t >= len(self.games):
            raise ValueError(f"all {len(self.games)} rounds are done")
        games = {agent.agent_id: self.sequences[agent.agent_id][t] for agent in self.agents}
        replies: dict[Any, Any] = {}
        if self.hub is not None:
            simnets = {agent.agent_id: agent.similarity(games[agent.agent_id], t) for agent in self.agents}
            replies = self.hub.query(simnets)
        done = [agent.learn_task(games[agent.agent_id], t, replies.get(agent.agent_id)) for agent in self.agents]
        if self.hub is not None:
            self.hub.publish({agent.agent_id: agent.publication(t, games[agent.agent_id]) for agent in self.agents})
        self.round += 1
        return done

    def run(self) -> list[TaskRecord]:
        """All remaining rounds; every record."""
        while self.round < len(self.games):
            self.step()
        return self.records

    def close(self) -> None:
        """Close every agent's environment."""
        for agent in self.agents:
            agent.close()
