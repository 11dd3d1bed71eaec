"""Pieces shared by the methods: communication between agents, servers and processor nodes; graphs."""

from agents.common.communication import SERVER, CommStats, Communicator, LocalCommunicator, make_communicator, message_nbytes
from agents.common.graphs import (
    Graph,
    chain,
    chain_plus_random_edges,
    complete,
    complete_bipartite,
    consensus_error,
    from_edges,
    metropolis_weights,
    ring,
    second_largest_eigenvalue_modulus,
    star,
    uniform_weights,
    validate_mixing_matrix,
)

__all__ = [
    "SERVER",
    "CommStats",
    "Communicator",
    "Graph",
    "LocalCommunicator",
    "chain",
    "chain_plus_random_edges",
    "complete",
    "complete_bipartite",
    "consensus_error",
    "from_edges",
    "make_communicator",
    "message_nbytes",
    "metropolis_weights",
    "ring",
    "second_largest_eigenvalue_modulus",
    "star",
    "uniform_weights",
    "validate_mixing_matrix",
]
