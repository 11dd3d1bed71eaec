"""The hub (paper 000 §5: "central server"): agents publish per-task knowledge and query it by SimNet similarity.

Per (agent, round) the hub stores what the agent published at that task's end (notes-000 §6 item 18): its SimNet
parameters, its final replay buffer (capped) and its Q-network weights. A query carries an agent's fresh SimNet
parameters; the hub answers with the nearest stored task's buffer and weights if the distance passes τ, else with
"no match". Every message crosses the :class:`~agents.common.communication.Communicator`: publishing and querying are
one ``gather`` to the server each, replies one ``scatter``, so rounds and bytes are counted (buffers dominate).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.communication import Communicator
from agents.sharing.simnet import Match, SimilarityMatcher

__all__ = ["Hub", "Publication", "Reply"]

Key = tuple[Hashable, int]


@dataclass(frozen=True)
class Publication:
    """What one agent publishes for one task: the message it sends to the hub, as arrays.

    Attributes:
        round: the round (task index in the agent's sequence) the task was learned in.
        simnet: flattened SimNet parameters.
        buffer: exported replay buffer (:func:`agents.sharing.buffers.export_transitions`).
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


class Hub:
    """The server's store and matcher, reached only through ``comm``.

    Args:
        comm: the communicator; the hub is its ``server`` node.
        matcher: nearest-neighbour matcher with threshold τ.
    """

    def __init__(self, comm: Communicator, matcher: SimilarityMatcher) -> None:
        self.comm = comm
        self.matcher = matcher
        self.store: dict[Key, Publication] = {}

    def publish(self, publications: Mapping[Hashable, Publication]) -> None:
        """Each agent sends its publication to the hub (one gather round); the hub stores it under (agent, round)."""
        received = self.comm.gather({agent: p.message() for agent, p in publications.items()})
        for agent, message in received.items():
            publication = Publication.from_message(message)
            self.store[(agent, publication.round)] = publication

    def best_match(self, simnet: np.ndarray) -> Match | None:
        """The stored task nearest to ``simnet`` (``None`` if the store is empty)."""
        return self.matcher.match(simnet, {key: p.simnet for key, p in self.store.items()})

    def query(self, simnets: Mapping[Hashable, np.ndarray]) -> dict[Hashable, Reply]:
        """Agents send SimNet parameters (one gather round); the hub replies to each (one scatter round)."""
        received = self.comm.gather({agent: {"simnet": params} for agent, params in simnets.items()})
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
        delivered = self.comm.scatter(replies)
        return {agent: _reply(message) for agent, message in delivered.items()}


def _reply(message: Mapping[str, Any]) -> Reply:
    if not message["matched"]:
        return Reply(False)
    return Reply(True, (message["source_agent"], int(message["source_round"])), float(message["distance"]),
                 dict(message["buffer"]), dict(message["weights"]), str(message["label"]))
