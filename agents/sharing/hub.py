"""The hub (paper 000 §4: "central server"): agents publish per-task knowledge and query it by SimNet similarity.

Per (agent, round) the hub stores what the agent published at that task's end (the paper names the buffers and the
initial parameters; what exactly is stored is our choice): its SimNet
parameters, its final replay buffer (capped) and its Q-network weights. A query carries an agent's fresh SimNet
parameters; the hub answers with the nearest stored task's buffer and weights if the distance passes τ, else with
"no match". Every message crosses the `Communicator`: publishing and querying are
one ``gather`` to the server each, replies one ``scatter``, so rounds and bytes are counted (buffers dominate). The
store itself (`HubStore`) can live in a worker of its own, e.g. a Ray actor.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.communication import Communicator
from agents.common.workers import WorkerPool
from agents.sharing.simnet import Match, SimilarityMatcher

__all__ = ["Hub", "HubStore", "Publication", "Reply"]

Key = tuple[Hashable, int]


@dataclass(frozen=True)
class Publication:
    """What one agent publishes for one task: the message it sends to the hub, as arrays.

    Attributes:
        round: the round (task index in the agent's sequence) the task was learned in.
        simnet: flattened SimNet parameters.
        buffer: exported replay buffer (`agents.sharing.buffers.export_transitions`).
        weights: Q-network ``state_dict`` as NumPy arrays.
        label: the game's name; stored for reporting only, never used for matching.
    """

    round: int
    simnet: np.ndarray
    buffer: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    label: str = ""

    def message(self) -> dict[str, Any]:
        """The wire form (a dict of arrays and scalars)."""
        return {"round": self.round, "simnet": self.simnet, "buffer": self.buffer, "weights": self.weights,
                "label": self.label}

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Publication:
        """Rebuild a publication from its wire form."""
        return cls(int(message["round"]), message["simnet"], dict(message["buffer"]), dict(message["weights"]),
                   str(message["label"]))


@dataclass(frozen=True)
class Reply:
    """The hub's answer to a query: the matched (agent, round), its distance, buffer and weights; or no match."""

    matched: bool
    source: Key | None = None
    distance: float | None = None
    buffer: dict[str, np.ndarray] | None = None
    weights: dict[str, np.ndarray] | None = None
    label: str = ""


class HubStore:
    """The hub's state: every published task under (agent, round), and the matcher. A worker of its own (the server
    node of the system's deployment, so a Ray actor on ``backend="ray"``); `Hub` carries its messages."""

    uses_global_random_streams = False  # matching draws no random numbers

    def __init__(self, matcher: SimilarityMatcher) -> None:
        self.matcher = matcher
        self.store: dict[Key, Publication] = {}

    def receive(self, received: Mapping[Hashable, Mapping[str, Any]]) -> None:
        """Store the publications the agents sent (agent → wire form)."""
        for agent, message in received.items():
            publication = Publication.from_message(message)
            self.store[(agent, publication.round)] = publication

    def best_match(self, simnet: np.ndarray) -> Match | None:
        """The stored task nearest to ``simnet`` (``None`` if the store is empty)."""
        return self.matcher.match(simnet, {key: p.simnet for key, p in self.store.items()})

    def answer(self, received: Mapping[Hashable, Mapping[str, Any]]) -> dict[Hashable, dict[str, Any]]:
        """Each querying agent's reply in wire form: the accepted nearest task's buffer and weights, or no match."""
        replies: dict[Hashable, dict[str, Any]] = {}
        for agent, message in received.items():
            match = self.best_match(message["simnet"])
            if match is None or not match.accepted:
                replies[agent] = {"matched": False}
                continue
            found = self.store[match.key]  # type: ignore[index]
            replies[agent] = {"matched": True, "source_agent": match.key[0], "source_round": match.key[1],  # type: ignore[index]
                              "distance": match.distance, "buffer": found.buffer, "weights": found.weights,
                              "label": found.label}
        return replies


class Hub:
    """The hub as agents reach it: every message through ``comm``, the state in a `HubStore`.

    Args:
        comm: the communicator; the hub is its ``server`` node.
        matcher: nearest-neighbour matcher with threshold τ (for a hub whose store lives in this process).
        pool: a worker pool holding the store as node ``comm.server`` instead (then ``matcher`` is not used).
    """

    def __init__(self, comm: Communicator, matcher: SimilarityMatcher | None = None, *, pool: WorkerPool | None = None) -> None:
        if (matcher is None) == (pool is None):
            raise ValueError("give the hub either a matcher (its store in this process) or a pool holding its store")
        self.comm = comm
        self.pool = pool
        self._local = HubStore(matcher) if matcher is not None else None

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        """Run a `HubStore` method, given by reference, on the store wherever it lives."""
        if self._local is not None:
            return method(self._local, *args)
        return self.pool.map(method, {self.comm.server: args})[self.comm.server]  # type: ignore[union-attr]

    @property
    def store(self) -> dict[Key, Publication]:
        """Every published task (a copy fetched from the worker when the store lives in a pool)."""
        if self._local is not None:
            return self._local.store
        return self.pool.fetch(self.comm.server).store  # type: ignore[union-attr]

    def publish(self, publications: Mapping[Hashable, Publication]) -> None:
        """Each agent sends its publication to the hub (one gather round); the hub stores it under (agent, round)."""
        self._call(HubStore.receive, self.comm.gather({agent: p.message() for agent, p in publications.items()}))

    def best_match(self, simnet: np.ndarray) -> Match | None:
        """The stored task nearest to ``simnet`` (``None`` if the store is empty)."""
        return self._call(HubStore.best_match, simnet)

    def query(self, simnets: Mapping[Hashable, np.ndarray]) -> dict[Hashable, Reply]:
        """Agents send SimNet parameters (one gather round); the hub replies to each (one scatter round)."""
        received = self.comm.gather({agent: {"simnet": params} for agent, params in simnets.items()})
        delivered = self.comm.scatter(self._call(HubStore.answer, received))
        return {agent: _reply(message) for agent, message in delivered.items()}


def _reply(message: Mapping[str, Any]) -> Reply:
    if not message["matched"]:
        return Reply(False)
    return Reply(True, (message["source_agent"], int(message["source_round"])), float(message["distance"]),
                 dict(message["buffer"]), dict(message["weights"]), str(message["label"]))
