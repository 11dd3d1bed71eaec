"""N lifelong agents sharing experience through the hub, in synchronous rounds (paper 000 §4; rounds are
synchronous as in its theory, §3).

Each agent learns its own random permutation of the M games, one per round. In round t every agent trains its
SimNet on its game and queries the hub (one gather, one scatter); the hub holds what agents published in rounds
before t. Each agent then learns its game (Scenario 1 or 2, `agents.sharing.agent`), and all agents publish
(one gather). ``sharing=False`` with N = 1 is the isolated agent: no SimNet, no hub, no messages. Every agent and the
hub's store are workers of one `Deployment`: in this process, or each in its own Ray
actor, where the agents' SimNet training and DQN learning run in parallel.

A round is §5's instance of Algorithm 1's round: the SimNet parameters are the statistic an agent sends (lines
3–5), the hub's nearest-neighbour test under τ is the server's test (line 6), borrowing a matched peer's buffer and
weights is playing a known task's policy (lines 7–9, Scenario 2), learning from scratch is the second exploration
(lines 11–14, Scenario 1), and publishing is the server's update of its tables (lines 15–17). The nodes are plain
classes in modules named for them, `SharingAgent` (`agents.sharing.agent`) and `HubStore` (`agents.sharing.hub`),
and `SharingSystem.step` calls them through the worker pool with method references
(`pool.map(SharingAgent.learn_task, ...)`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from agents.common.communication import SERVER, Communicator
from agents.common.deployment import Deployment
from agents.common.method import Method
from agents.common.workers import WorkerPool
from agents.sharing.agent import LearnerConfig, SharingAgent, TaskRecord
from agents.sharing.hub import Hub, HubStore
from agents.sharing.simnet import SimilarityMatcher, SimNet, SimNetConfig
from mtenvs.core.seeding import stable_seed

__all__ = ["SharingSystem"]


class SharingSystem(Method):
    """The N-agent system: every agent a worker (a Ray actor on ``backend="ray"``), the hub's store another.

    The method contract (`agents.common.method.Method`) with the unit "round": `learn(total)` runs up to `total`
    more rounds (never more than the M games); a record's `info` holds the round's `TaskRecord` of every agent.

    Args:
        games: the M games.
        n_agents: N.
        learner: EWC-DQN and sharing settings.
        comm: the communicator (its server node is the hub); default: one of ``backend``, closed by `close`.
        simnet: SimNet settings (needed when ``sharing``).
        matcher: the hub's matcher (metric and τ; needed when ``sharing``).
        sharing: False for isolated agents.
        seed: the system seed (task permutations, agent seeds, the workers' global random streams).
        backend: ``"local"`` (every agent in this process, one after another) or ``"ray"`` (one actor per agent and
            one for the hub's store, agents learning in parallel); same results either way.
        backend_options: for ``"ray"``: ``address``, ``checkpoint_every``, ``max_restarts``, ``actor_options`` and
            further ``ray.init`` options (see `Deployment`).
    """

    unit: ClassVar[str] = "round"
    _resources: ClassVar[tuple[str, ...]] = ("deployment", "comm", "pool", "hub")

    def __init__(self, games: Sequence[str], n_agents: int, learner: LearnerConfig, comm: Communicator | None = None,
                 simnet: SimNetConfig | None = None, matcher: SimilarityMatcher | None = None, sharing: bool = True,
                 seed: int = 0, backend: str = "local", backend_options: Mapping[str, Any] | None = None) -> None:
        if not games or len(set(games)) != len(games):
            raise ValueError(f"games must be a non-empty list of distinct game names, got {list(games)!r}")
        if int(n_agents) < 1:
            raise ValueError(f"n_agents must be a positive int, got {n_agents!r}")
        if sharing and matcher is None:
            raise ValueError("a sharing system needs a matcher (and comm, or a backend to make one)")
        self.games = list(games)
        self.n_agents = int(n_agents)
        self.sharing = bool(sharing)
        trainer = SimNet(simnet) if sharing else None
        rng = np.random.default_rng(stable_seed("sharing-permutations", seed) % 2**32)
        #: each agent's game sequence: a random permutation of the M games
        self.sequences = [[self.games[k] for k in rng.permutation(len(self.games))] for _ in range(self.n_agents)]
        workers: dict[Any, Any] = {i: SharingAgent(i, learner, trainer, stable_seed("sharing-agent-seed", seed, i) % 2**31)
                                   for i in range(self.n_agents)}
        server = comm.server if comm is not None else SERVER
        if sharing:
            workers[server] = HubStore(matcher)  # type: ignore[arg-type]
        self.deployment = Deployment(workers, backend=backend, backend_options=backend_options,
                                     seed=stable_seed("sharing-workers", seed) % 2**31, comm=comm)
        self.comm: Communicator = self.deployment.comm  # type: ignore[assignment]
        self.pool: WorkerPool = self.deployment.pool  # type: ignore[assignment]
        self.hub = Hub(self.comm, pool=self.pool) if sharing else None
        self.round = 0
        self._records: dict[int, list[TaskRecord]] = {i: [] for i in range(self.n_agents)}

    @property
    def agents(self) -> list[SharingAgent]:
        """The agents as they are now (copies fetched from their actors on Ray)."""
        return [self.pool.fetch(i) for i in range(self.n_agents)]

    @property
    def records(self) -> list[TaskRecord]:
        """Every agent's task records, by agent then round."""
        return [r for i in range(self.n_agents) for r in self._records[i]]

    def step(self) -> list[TaskRecord]:
        """One synchronous round: similarity, query, learn, publish (each a call to every agent's worker)."""
        t = self.round
        if t >= len(self.games):
            raise ValueError(f"all {len(self.games)} rounds are done")
        agents = range(self.n_agents)
        games = {i: self.sequences[i][t] for i in agents}
        replies: dict[Any, Any] = {}
        if self.hub is not None:
            # Alg. 1 lines 3-6: each agent trains its SimNet on the new game (step 1) and sends the parameters to
            # the hub, which answers with the nearest published task within tau (one gather, one scatter)
            replies = self.hub.query(self.pool.map(SharingAgent.similarity, {i: (games[i], t) for i in agents}))
        # lines 7-14: a match borrows the peer's buffer and weights (Scenario 2), no match learns from scratch
        # (Scenario 1); either way EWC consolidates at the task's end (step 3)
        done = self.pool.map(SharingAgent.learn_task, {i: (games[i], t, replies.get(i)) for i in agents})
        if self.hub is not None:
            # lines 15-17: every agent publishes SimNet, capped buffer and weights to the hub (one gather)
            self.hub.publish(self.pool.map(SharingAgent.publication, {i: (t, games[i]) for i in agents}))
        for i, record in done.items():
            self._records[i].append(record)
        self.round += 1
        return list(done.values())

    def _learn_unit(self) -> dict[str, Any]:
        records = self.step()
        returns = [r.final_reward for r in records]
        return {"round": self.round, "mean_final_reward": float(np.mean(returns)),
                "borrowed": sum(r.borrowed for r in records), "records": records}

    def _done(self) -> bool:
        return self.round >= len(self.games)

    def _fingerprint(self) -> dict[str, Any]:
        return {**super()._fingerprint(), "sequences": self.sequences}

    def run(self, checkpoint_path: str | os.PathLike[str] | None = None) -> list[TaskRecord]:
        """All remaining rounds; every record. Deprecated: use `learn(total)` and `records`."""
        warnings.warn("SharingSystem.run() is deprecated: use learn(len(games)) and records", DeprecationWarning,
                      stacklevel=2)
        if not self._done() or checkpoint_path is not None:
            self.learn(len(self.games), checkpoint_path=checkpoint_path)
        return self.records

    def close(self) -> None:
        """Close every agent's environment and release the workers (and the communicator made here)."""
        if self.deployment.pool is not None:
            self.pool.map(SharingAgent.close, nodes=list(range(self.n_agents)))
        self.deployment.close()

    def __enter__(self) -> SharingSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
