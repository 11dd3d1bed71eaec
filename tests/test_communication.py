"""The communication interface: who receives what, copies not aliases, and exact counts of rounds and bytes."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from agents.common.communication import SERVER, CommStats, Communicator, LocalCommunicator, make_communicator, message_nbytes
from agents.common.graphs import (
    Graph,
    chain_plus_random_edges,
    complete,
    consensus_error,
    metropolis_weights,
    ring,
    second_largest_eigenvalue_modulus,
    star,
)


def arrays(n: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Node i holds a float64 array of i + 1 elements, so every message has a different size: 8 (i + 1) bytes."""
    rng = np.random.default_rng(seed)
    return {i: rng.normal(size=i + 1) for i in range(n)}


def size(i: int) -> int:
    return 8 * (i + 1)


# ----------------------------------------------------------------------------------------------------------------
# Message sizes and statistics
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (np.zeros((3, 4), dtype=np.float32), 3 * 4 * 4),
        (np.zeros(5, dtype=np.int8), 5),
        (np.zeros((2, 3), dtype=np.complex128)[:, ::2], 2 * 2 * 16),  # a strided view counts its own elements only
        (np.float32(1.0), 4),
        (3.5, 8),
        (7, 8),
        (True, 1),
        ("héllo", 6),  # UTF-8: é is two bytes
        (b"abc", 3),
        ({"theta": np.ones(10), "Lambda": np.ones((10, 10)), "V": 0.5}, 8 * 10 + 8 * 100 + 8),
        ([np.ones(2, dtype=np.float32), (np.ones(3, dtype=np.int16), 1.0)], 2 * 4 + 3 * 2 + 8),
        ({"outer": {"inner": [np.ones(4)]}}, 32),
        ([], 0),
    ],
)
def test_message_nbytes(message: object, expected: int) -> None:
    assert message_nbytes(message) == expected


def test_message_nbytes_of_tensors_and_other_objects() -> None:
    assert message_nbytes(torch.zeros(3, 5)) == 3 * 5 * 4
    assert message_nbytes(torch.zeros(7, dtype=torch.float64)) == 56
    other = {1, 2, 3}  # not an array, scalar or container of them: pickled size
    assert message_nbytes(other) == len(pickle.dumps(other, protocol=pickle.HIGHEST_PROTOCOL))
    assert message_nbytes(None) == len(pickle.dumps(None, protocol=pickle.HIGHEST_PROTOCOL))


def test_stats_as_dict_is_json_ready_and_reset_zeroes() -> None:
    comm = LocalCommunicator()
    comm.gather({0: np.ones(2), "agent-b": np.ones(3)})
    data = json.loads(json.dumps(comm.stats.as_dict(), sort_keys=True))
    assert data == {
        "rounds": 1, "messages": 2, "bytes": 40,
        "bytes_sent": {"0": 16, "agent-b": 24}, "bytes_received": {"server": 40},
    }
    comm.stats.reset()
    assert comm.stats == CommStats()


# ----------------------------------------------------------------------------------------------------------------
# Collectives: exactly the right messages to exactly the right nodes, exactly counted
# ----------------------------------------------------------------------------------------------------------------


def test_gather_delivers_every_message_to_the_server() -> None:
    comm, messages = LocalCommunicator(), arrays(5)
    received = comm.gather(messages)
    assert list(received) == list(messages)
    for node, message in messages.items():
        np.testing.assert_array_equal(received[node], message)
    assert comm.stats.rounds == 1 and comm.stats.messages == 5
    assert comm.stats.bytes == sum(size(i) for i in range(5)) == 120
    assert comm.stats.bytes_sent == {i: size(i) for i in range(5)}
    assert comm.stats.bytes_received == {SERVER: 120}


def test_gather_to_another_node_and_self_messages_are_free() -> None:
    comm = LocalCommunicator(server="hub")
    received = comm.gather({"hub": np.ones(100), 1: np.ones(2)})  # the hub's own contribution crosses no link
    assert set(received) == {"hub", 1}
    assert comm.stats.messages == 1 and comm.stats.bytes == 16 and comm.stats.bytes_received == {"hub": 16}
    received = comm.gather({1: 1.0, 2: 2.0}, to=3)
    assert received == {1: 1.0, 2: 2.0} and comm.stats.bytes_received[3] == 16 and comm.stats.rounds == 2


def test_broadcast_and_scatter() -> None:
    comm = LocalCommunicator()
    union = {"W": np.arange(6.0).reshape(2, 3), "count": 4}
    received = comm.broadcast(union, to=[0, 1, 2])
    assert list(received) == [0, 1, 2]
    for copy_ in received.values():
        np.testing.assert_array_equal(copy_["W"], union["W"])
        assert copy_["count"] == 4
    assert comm.stats.rounds == 1 and comm.stats.messages == 3 and comm.stats.bytes == 3 * (48 + 8)
    assert comm.stats.bytes_sent == {SERVER: 168} and comm.stats.bytes_received == {0: 56, 1: 56, 2: 56}

    labels = {0: "new", 1: 3, 2: 1}  # paper 000: the server tells each agent its own label
    assert comm.scatter(labels) == labels
    assert comm.stats.rounds == 2 and comm.stats.messages == 6 and comm.stats.bytes == 168 + 3 + 8 + 8
    assert comm.broadcast(1.0, to=[5], source=7) == {5: 1.0} and comm.stats.bytes_sent[7] == 8


@pytest.mark.parametrize("graph", [ring(5), star(6), chain_plus_random_edges(10, 20, seed=0), Graph(3, [(0, 1)])])
def test_exchange_delivers_exactly_the_neighbours_messages(graph: Graph) -> None:
    comm, messages = LocalCommunicator(), arrays(graph.num_nodes, seed=2)
    received = comm.exchange(messages, graph)
    assert set(received) == set(graph.nodes)
    for i in graph.nodes:
        expected_senders = {j for e in graph.edges if i in e for j in e if j != i}  # brute force from the edge list
        assert set(received[i]) == expected_senders
        for j, message in received[i].items():
            np.testing.assert_array_equal(message, messages[j])
    assert comm.stats.rounds == 1 and comm.stats.messages == 2 * graph.num_edges
    assert comm.stats.bytes == sum(size(i) + size(j) for i, j in graph.edges)
    for i in graph.nodes:
        if graph.degree(i):
            assert comm.stats.bytes_sent[i] == graph.degree(i) * size(i)
            assert comm.stats.bytes_received[i] == sum(size(j) for j in graph.neighbors(i))


def test_route_delivers_per_edge_messages() -> None:
    # Paper 002's ADMM: node i sends a different dual to each neighbour.
    comm = LocalCommunicator()
    inboxes = comm.route([(0, 1, np.ones(3)), (0, 2, np.zeros(1)), (2, 1, "x")])
    assert set(inboxes) == {1, 2} and set(inboxes[1]) == {0, 2} and set(inboxes[2]) == {0}
    np.testing.assert_array_equal(inboxes[1][0], np.ones(3))
    assert comm.stats.rounds == 1 and comm.stats.messages == 3 and comm.stats.bytes == 24 + 8 + 1


# ----------------------------------------------------------------------------------------------------------------
# Copies, not aliases
# ----------------------------------------------------------------------------------------------------------------


def test_received_messages_are_copies() -> None:
    comm = LocalCommunicator()
    sender = {0: np.zeros(3), 1: {"theta": np.zeros(2), "history": [1, 2]}}
    received = comm.gather(sender)
    received[0][:] = 9.0
    received[1]["theta"][0] = 9.0
    received[1]["history"].append(3)
    np.testing.assert_array_equal(sender[0], np.zeros(3))
    np.testing.assert_array_equal(sender[1]["theta"], np.zeros(2))
    assert sender[1]["history"] == [1, 2]

    original = np.zeros(4)
    copies = comm.broadcast(original, to=[0, 1])
    copies[0][0] = 5.0
    assert original[0] == 0.0 and copies[1][0] == 0.0  # neither the sender nor the other receiver sees it

    values = {i: np.zeros(2) for i in range(3)}
    got = comm.exchange(values, ring(3))
    got[0][1][:] = 7.0
    assert np.all(values[1] == 0.0) and np.all(got[2][1] == 0.0)


def test_mailbox_holds_a_snapshot_taken_at_send_time() -> None:
    comm = LocalCommunicator()
    theta = np.zeros(3)
    comm.send(0, 1, theta)
    theta[:] = 1.0  # the sender keeps working after sending
    ((source, message),) = comm.receive(1)
    assert source == 0 and np.all(message == 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Point to point and rounds
# ----------------------------------------------------------------------------------------------------------------


def test_mailbox_is_fifo_per_target_and_receive_empties_it() -> None:
    comm = LocalCommunicator()
    comm.send(0, 2, "a")
    comm.send(1, 2, "b")
    comm.send(0, 3, "c")
    comm.send(0, 2, "d")
    assert comm.receive(2) == [(0, "a"), (1, "b"), (0, "d")]
    assert comm.receive(2) == []
    assert comm.receive(3) == [(0, "c")]
    assert comm.stats.rounds == 4 and comm.stats.messages == 4 and comm.stats.bytes == 4


def test_rounds_one_per_collective_and_one_per_round_block() -> None:
    comm, graph = LocalCommunicator(), ring(4)
    values = {i: np.ones(2) for i in range(4)}
    comm.gather(values)
    comm.broadcast(1.0, to=list(range(4)))
    comm.exchange(values, graph)
    comm.mix(values, metropolis_weights(graph, lazy=True), graph)
    comm.all_reduce_mean(values)
    assert comm.stats.rounds == 5
    with comm.round():  # a Gauss-Seidel wave: several sends, one round
        comm.send(0, 1, 1.0)
        comm.send(2, 3, 1.0)
        with comm.round():
            comm.gather({1: 1.0})
    assert comm.stats.rounds == 6 and comm.stats.messages == 4 + 4 + 8 + 8 + 12 + 3
    comm.send(0, 1, 1.0)
    comm.send(0, 1, 1.0)
    assert comm.stats.rounds == 8


# ----------------------------------------------------------------------------------------------------------------
# Consensus
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", [ring(6), star(5), chain_plus_random_edges(8, 6, seed=4)])
def test_mix_equals_the_matrix_product(graph: Graph) -> None:
    comm = LocalCommunicator()
    w = metropolis_weights(graph, lazy=True)
    x = np.random.default_rng(3).normal(size=(graph.num_nodes, 3))
    mixed = comm.mix({i: x[i] for i in graph.nodes}, w, graph)
    np.testing.assert_allclose(np.stack([mixed[i] for i in graph.nodes]), w @ x, atol=1e-14)
    assert comm.stats.rounds == 1 and comm.stats.messages == 2 * graph.num_edges
    assert comm.stats.bytes == 2 * graph.num_edges * 3 * 8


def test_mix_sends_along_the_support_of_w_when_no_graph_is_given() -> None:
    comm = LocalCommunicator()
    values = {i: np.full(2, float(i)) for i in range(4)}
    mixed = comm.mix(values, np.eye(4))  # W = I: nobody needs anybody's value
    assert all(np.array_equal(mixed[i], values[i]) for i in range(4))
    assert comm.stats.messages == 0 and comm.stats.rounds == 1
    comm.mix(values, np.eye(4), ring(4))  # on a ring graph every node still talks to its two neighbours
    assert comm.stats.messages == 8


def test_repeated_mixing_reaches_the_exact_average_at_the_predicted_rate() -> None:
    comm, graph = LocalCommunicator(), ring(6)
    w = metropolis_weights(graph, lazy=True)
    slem = second_largest_eigenvalue_modulus(w)
    assert slem == pytest.approx(0.75)
    x = arrays(6)
    x = {i: np.resize(v, 4) for i, v in x.items()}
    average = np.mean(list(x.values()), axis=0)
    errors = [consensus_error(x)]
    steps = 60
    for _ in range(steps):
        x = comm.mix(x, w, graph)
        errors.append(consensus_error(x))
        np.testing.assert_allclose(np.mean(list(x.values()), axis=0), average, atol=1e-12)
    # max_i ||x_i - xbar|| <= ||X - Xbar||_F <= slem^k ||X^0 - Xbar||_F <= slem^k sqrt(n) max_i ||x_i^0 - xbar||
    assert all(errors[k] <= slem**k * np.sqrt(6) * errors[0] + 1e-12 for k in range(steps + 1))
    assert errors[-1] / errors[-2] == pytest.approx(slem, rel=1e-3)
    assert errors[-1] < 1e-6
    assert comm.stats.rounds == steps and comm.stats.messages == steps * 12 and comm.stats.bytes == steps * 12 * 32


def test_complete_graph_with_uniform_weights_agrees_in_one_step() -> None:
    comm = LocalCommunicator()
    x = arrays(5)
    x = {i: np.resize(v, 3) for i, v in x.items()}
    mixed = comm.mix(x, np.full((5, 5), 0.2), complete(5))
    assert consensus_error(mixed) < 1e-15
    np.testing.assert_allclose(mixed[0], np.mean(list(x.values()), axis=0), atol=1e-15)


def test_all_reduce_mean_is_exact_and_bitwise_equal_everywhere() -> None:
    comm = LocalCommunicator()
    values = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 5.0]), 7: np.array([0.1, 0.7])}
    means = comm.all_reduce_mean(values)
    expected = np.stack(list(values.values())).mean(axis=0)
    for mean in means.values():
        np.testing.assert_allclose(mean, expected, rtol=1e-15)
        assert np.array_equal(mean, means["a"])
    assert comm.stats.rounds == 1 and comm.stats.messages == 6 and comm.stats.bytes == 6 * 16


def test_mix_keeps_dtype_and_works_on_tensors() -> None:
    comm, w = LocalCommunicator(), metropolis_weights(ring(3), lazy=True)
    mixed = comm.mix({i: np.full(2, i, dtype=np.float32) for i in range(3)}, w)
    assert mixed[0].dtype == np.float32
    tensors = comm.mix({i: torch.full((2,), float(i)) for i in range(3)}, w)
    assert isinstance(tensors[0], torch.Tensor)
    torch.testing.assert_close(tensors[0], torch.full((2,), 0.75))  # 0.5 * 0 + 0.25 * 1 + 0.25 * 2
    assert comm.stats.bytes == 6 * 8 + 6 * 8  # float32 pairs and float32 tensors: 8 bytes per message


# ----------------------------------------------------------------------------------------------------------------
# Bad input: a clear ValueError and untouched statistics
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda c: c.gather({0: 1.0}, to=[1]), "to must be a hashable node id"),
        (lambda c: c.route([(0, 1, "a"), (0, 1, "b")]), "two messages from 0 to 1 in one round"),
        (lambda c: c.route([(0, 1)]), "(source, target, message) triple"),
        (lambda c: c.broadcast(1.0, to=[1, 1]), "two messages from 'server' to 1"),
        (lambda c: c.exchange({0: 1.0, 1: 1.0}, ring(3)), "missing [2]"),
        (lambda c: c.exchange({0: 1.0, 1: 1.0, 2: 1.0, 5: 1.0}, ring(3)), "not in the graph [5]"),
        (lambda c: c.mix({0: 1.0, 1: 1.0}, np.array([[0.9, 0.1], [0.2, 0.8]])), "not symmetric"),
        (lambda c: c.mix({i: 1.0 for i in range(4)}, metropolis_weights(ring(4)), star(4)), "is not an edge"),
        (lambda c: c.send([0], 1, 1.0), "source must be a hashable node id"),
        (lambda c: c.all_reduce_mean({}), "at least one value"),
    ],
)
def test_bad_input_raises_and_leaves_stats_untouched(call, fragment: str) -> None:
    comm = LocalCommunicator()
    comm.gather({0: np.ones(2)})
    before = comm.stats.as_dict()
    with pytest.raises(ValueError) as excinfo:
        call(comm)
    assert fragment in str(excinfo.value)
    assert comm.stats.as_dict() == before


def test_a_message_that_cannot_be_sized_leaves_stats_untouched() -> None:
    comm = LocalCommunicator()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        comm.gather({0: lambda: None})  # not picklable, so its size is unknown
    assert comm.stats == CommStats()


def test_make_communicator() -> None:
    comm = make_communicator(server="hub")
    assert isinstance(comm, LocalCommunicator) and isinstance(comm, Communicator) and comm.server == "hub"
    assert isinstance(make_communicator("local"), LocalCommunicator)
    with pytest.raises(ValueError, match=r"unknown communication backend 'mpi'; available: \['local', 'ray'\]"):
        make_communicator("mpi")
    with make_communicator() as comm:  # a context manager that closes the backend
        comm.send(0, 1, 1.0)
