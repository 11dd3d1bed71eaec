"""The one way agents, servers and processor nodes exchange messages, with exact counts of rounds and bytes.

Nodes are hashable ids: agents and processors are usually ints, a server is just another id (``"server"`` by
default). Every exchange is one synchronous *round* of point-to-point messages; the collectives are the patterns the
papers use:

* ``gather``   every listed node sends to the server (paper 000's test values, paper 001's Gram increments);
* ``broadcast``/``scatter``  the server sends one message to all / a message each (paper 001's union, paper 000's labels);
* ``exchange`` each graph node sends its message to each neighbour (paper 003's consensus step);
* ``mix``      consensus ``x_i <- sum_j W_ij x_j`` on top of ``exchange``; ``all_reduce_mean`` the exact average;
* ``route``    any set of point-to-point messages in one round (paper 002's per-edge ADMM duals);
* ``send``/``receive``  a mailbox for asynchronous patterns; group sends with ``with comm.round(): ...``.

Accounting: each collective (and each ``send`` outside a ``round()`` block) counts one round; a ``round()`` block
counts one round however much it sends. A message to a different node counts once, with ``message_nbytes`` bytes,
for its sender and its receiver; a node's message to itself is delivered but crosses no link and is not counted.

Receivers always get their own copy: mutating a received message never changes the sender's data or another
receiver's. A backend only implements how packets travel (`Communicator._transport`) and the mailbox; the
collectives and the accounting live in `Communicator`, so every backend counts the same way. The in-process
backend is `LocalCommunicator`; `RayCommunicator` (an optional extra) is the same in-process delivery inside a
Ray session (the messages are routed by the driver, whichever process computed them).
"""

from __future__ import annotations

import copy
import importlib
import pickle
import sys
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, NamedTuple

import numpy as np

from agents.common.graphs import Graph, validate_mixing_matrix

__all__ = [
    "BACKENDS",
    "SERVER",
    "Backend",
    "CommStats",
    "Communicator",
    "LocalCommunicator",
    "Packet",
    "import_ray_module",
    "make_communicator",
    "message_nbytes",
]

#: The default id of the server node.
SERVER = "server"

Node = Hashable


# ----------------------------------------------------------------------------------------------------------------
# Message size and statistics
# ----------------------------------------------------------------------------------------------------------------


def message_nbytes(message: Any) -> int:
    """Payload size of a message in bytes.

    NumPy arrays and scalars count their ``nbytes`` (Python ``bool``/``int``/``float``/``complex`` as the NumPy scalar
    they convert to), torch tensors ``numel * element_size``, ``str`` its UTF-8 length, ``bytes`` its length;
    dicts (values only, keys are addressing), lists and tuples the sum of their items. Anything else counts
    ``len(pickle.dumps(message))``.
    """
    if isinstance(message, np.ndarray | np.generic):
        return int(message.nbytes)
    if isinstance(message, bool | int | float | complex):
        return int(np.asarray(message).nbytes)
    if isinstance(message, str):
        return len(message.encode("utf-8"))
    if isinstance(message, bytes | bytearray):
        return len(message)
    if isinstance(message, Mapping):
        return sum(message_nbytes(value) for value in message.values())
    if isinstance(message, list | tuple):
        return sum(message_nbytes(item) for item in message)
    torch = sys.modules.get("torch")  # a tensor can only exist if torch is already imported
    if torch is not None and isinstance(message, torch.Tensor):
        return int(message.numel() * message.element_size())
    return len(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


@dataclass
class CommStats:
    """Cumulative communication counts: rounds, messages, bytes, and bytes per sender and per receiver."""

    rounds: int = 0
    messages: int = 0
    bytes: int = 0
    bytes_sent: dict[Node, int] = field(default_factory=dict)
    bytes_received: dict[Node, int] = field(default_factory=dict)

    def record(self, source: Node, target: Node, nbytes: int) -> None:
        """Count one message of ``nbytes`` bytes from ``source`` to ``target``."""
        self.messages += 1
        self.bytes += nbytes
        self.bytes_sent[source] = self.bytes_sent.get(source, 0) + nbytes
        self.bytes_received[target] = self.bytes_received.get(target, 0) + nbytes

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (node ids become strings)."""
        return {
            "rounds": self.rounds,
            "messages": self.messages,
            "bytes": self.bytes,
            "bytes_sent": {str(node): n for node, n in self.bytes_sent.items()},
            "bytes_received": {str(node): n for node, n in self.bytes_received.items()},
        }

    def reset(self) -> None:
        """Set every count back to zero."""
        self.rounds = self.messages = self.bytes = 0
        self.bytes_sent.clear()
        self.bytes_received.clear()


class Packet(NamedTuple):
    """One point-to-point message."""

    source: Node
    target: Node
    message: Any


def _check_node(node: Any, role: str) -> Node:
    try:
        hash(node)
    except TypeError:
        raise ValueError(f"{role} must be a hashable node id (an int or a string); got {node!r}") from None
    return node


# ----------------------------------------------------------------------------------------------------------------
# The interface
# ----------------------------------------------------------------------------------------------------------------


class Communicator(ABC):
    """Synchronous message passing between nodes, with exact accounting in `stats`.

    Subclasses implement only the transport hooks `_transport`, `_post` and `_drain`.
    """

    def __init__(self, server: Node = SERVER) -> None:
        self.server = _check_node(server, "server")
        self.stats = CommStats()
        self._round_depth = 0

    # --- backend hooks --------------------------------------------------------------------------------------------

    @abstractmethod
    def _transport(self, packets: Sequence[Packet]) -> list[Any]:
        """Carry the packets; return what each target receives (its own copy), in the order of ``packets``."""

    @abstractmethod
    def _post(self, target: Node, source: Node, delivered: Any) -> None:
        """Append a transported message to ``target``'s mailbox."""

    @abstractmethod
    def _drain(self, target: Node) -> list[tuple[Node, Any]]:
        """Remove and return ``target``'s mailbox as ``(source, message)`` pairs, oldest first."""

    def close(self) -> None:
        """Release backend resources (nothing for the in-process backend)."""
        return None

    def __enter__(self) -> Communicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rounds and accounting ------------------------------------------------------------------------------------

    @contextmanager
    def round(self) -> Iterator[None]:
        """Group everything sent inside the block into one round (counted on entry; blocks may nest)."""
        if self._round_depth == 0:
            self.stats.rounds += 1
        self._round_depth += 1
        try:
            yield
        finally:
            self._round_depth -= 1

    def _deliver(self, packets: Sequence[Packet]) -> list[Any]:
        # Size and transport first, count last: a message that cannot be sized or carried leaves the stats untouched.
        crossing = [(packet, message_nbytes(packet.message)) for packet in packets if packet.source != packet.target]
        delivered = self._transport(packets)
        if self._round_depth == 0:
            self.stats.rounds += 1
        for packet, nbytes in crossing:
            self.stats.record(packet.source, packet.target, nbytes)
        return delivered

    # --- the primitive: one round of point-to-point messages ------------------------------------------------------

    def route(self, packets: Iterable[tuple[Node, Node, Any]]) -> dict[Node, dict[Node, Any]]:
        """Deliver ``(source, target, message)`` triples in one round; returns ``{target: {source: message}}``.

        At most one message per ``(source, target)`` pair per round.
        """
        checked: list[Packet] = []
        pairs: set[tuple[Node, Node]] = set()
        for item in packets:
            try:
                source, target, message = item
            except (TypeError, ValueError):
                raise ValueError(f"each packet must be a (source, target, message) triple; got {item!r}") from None
            pair = (_check_node(source, "source"), _check_node(target, "target"))
            if pair in pairs:
                raise ValueError(f"two messages from {source!r} to {target!r} in one round; send a list or a dict")
            pairs.add(pair)
            checked.append(Packet(source, target, message))
        inboxes: dict[Node, dict[Node, Any]] = {}
        for packet, received in zip(checked, self._deliver(checked), strict=True):
            inboxes.setdefault(packet.target, {})[packet.source] = received
        return inboxes

    # --- collectives ----------------------------------------------------------------------------------------------

    def gather(self, messages: Mapping[Node, Any], to: Node | None = None) -> dict[Node, Any]:
        """Every node in ``messages`` sends its message to ``to`` (default: the server); returns ``{node: message}``
        as the receiver sees it."""
        to = self.server if to is None else _check_node(to, "to")
        return self.route((node, to, message) for node, message in messages.items()).get(to, {})

    def broadcast(self, message: Any, to: Sequence[Node], source: Node | None = None) -> dict[Node, Any]:
        """``source`` (default: the server) sends ``message`` to each node in ``to``; returns ``{node: its copy}``."""
        source = self.server if source is None else source
        inboxes = self.route((source, node, message) for node in to)
        return {node: inboxes[node][source] for node in to}

    def scatter(self, messages: Mapping[Node, Any], source: Node | None = None) -> dict[Node, Any]:
        """``source`` (default: the server) sends ``messages[node]`` to each ``node``; returns ``{node: its copy}``."""
        source = self.server if source is None else source
        inboxes = self.route((source, node, message) for node, message in messages.items())
        return {node: inboxes[node][source] for node in messages}

    def exchange(self, messages: Mapping[int, Any], graph: Graph) -> dict[int, dict[int, Any]]:
        """Each node of ``graph`` sends ``messages[node]`` to every neighbour; returns
        ``{node: {neighbour: neighbour's message}}`` (2 messages per edge, one round)."""
        self._check_graph_keys(messages, graph, "messages")
        inboxes = self.route(
            packet for i, j in graph.edges for packet in ((i, j, messages[i]), (j, i, messages[j]))
        )
        return {node: {j: inboxes[node][j] for j in graph.neighbors(node)} for node in graph.nodes}

    def mix(self, values: Mapping[int, Any], weights: Any, graph: Graph | None = None) -> dict[int, Any]:
        """One consensus step ``x_i <- sum_j W_ij x_j`` (an `exchange`, so one round).

        ``weights`` is validated (symmetric, doubly stochastic; zero off ``graph`` if given). Messages travel along
        the edges of ``graph``, or along the non-zero off-diagonal entries of ``weights`` when no graph is given.
        Values are arrays, tensors or numbers; node ``i``'s own value enters with weight ``W_ii`` without a message.
        """
        w = validate_mixing_matrix(weights, graph)
        if graph is None:
            graph = Graph(w.shape[0], [(int(i), int(j)) for i, j in np.argwhere(np.triu(w, k=1) != 0)])
        received = self.exchange(values, graph)
        mixed: dict[int, Any] = {}
        for i in graph.nodes:
            # Python-float weights keep the values' dtype (float32 arrays stay float32; tensors stay tensors).
            total = float(w[i, i]) * values[i]
            for j, x_j in received[i].items():
                total = total + float(w[i, j]) * x_j
            mixed[i] = total
        return mixed

    def all_reduce_mean(self, values: Mapping[Node, Any]) -> dict[Node, Any]:
        """Every node ends with the exact mean of all values: one all-to-all round (``n (n - 1)`` messages).

        Each node sums in the same order, so all results are bitwise equal. For a server-relayed average
        (two rounds, ``2 n`` messages) use `gather` then `broadcast`.
        """
        if not values:
            raise ValueError("all_reduce_mean needs at least one value")
        nodes = list(values)
        inboxes = self.route((i, j, values[i]) for i in nodes for j in nodes if i != j)
        means: dict[Node, Any] = {}
        for node in nodes:
            contributions = [values[j] if j == node else inboxes[node][j] for j in nodes]
            total = contributions[0]
            for x in contributions[1:]:
                total = total + x
            means[node] = total / len(nodes)
        return means

    # --- point to point -------------------------------------------------------------------------------------------

    def send(self, source: Node, target: Node, message: Any) -> None:
        """Put a copy of ``message`` in ``target``'s mailbox (one round unless inside a `round` block)."""
        packet = Packet(_check_node(source, "source"), _check_node(target, "target"), message)
        (delivered,) = self._deliver([packet])
        self._post(target, source, delivered)

    def receive(self, target: Node) -> list[tuple[Node, Any]]:
        """Empty ``target``'s mailbox: the ``(source, message)`` pairs sent to it, oldest first."""
        return self._drain(_check_node(target, "target"))

    # --- helpers --------------------------------------------------------------------------------------------------

    @staticmethod
    def _check_graph_keys(messages: Mapping[Any, Any], graph: Graph, name: str) -> None:
        keys, nodes = set(messages), set(graph.nodes)
        if keys != nodes:
            missing, unknown = sorted(nodes - keys), sorted(keys - nodes, key=repr)
            raise ValueError(
                f"{name} must have exactly one entry per graph node 0..{graph.num_nodes - 1}; "
                f"missing {missing}, not in the graph {unknown}"
            )


# ----------------------------------------------------------------------------------------------------------------
# Backends
# ----------------------------------------------------------------------------------------------------------------


class LocalCommunicator(Communicator):
    """In-process backend: a message travels as a deep copy, mailboxes are lists."""

    def __init__(self, server: Node = SERVER) -> None:
        super().__init__(server)
        self._mailboxes: defaultdict[Node, list[tuple[Node, Any]]] = defaultdict(list)

    def _transport(self, packets: Sequence[Packet]) -> list[Any]:
        return [copy.deepcopy(packet.message) for packet in packets]

    def _post(self, target: Node, source: Node, delivered: Any) -> None:
        self._mailboxes[target].append((source, delivered))

    def _drain(self, target: Node) -> list[tuple[Node, Any]]:
        return self._mailboxes.pop(target, [])


def import_ray_module(name: str) -> ModuleType:
    """Import ``agents.common.<name>``, a module built on Ray, with an error naming the extra when Ray is missing
    (Ray is optional, so the Ray backends are imported only when asked for)."""
    try:
        return importlib.import_module(f"agents.common.{name}")
    except ImportError as error:
        if getattr(error, "name", None) != "ray":
            raise
        raise ImportError('backend="ray" needs Ray, an optional extra: pip install "mtenvs[ray]"') from error


def _ray_communicator(**kwargs: Any) -> Communicator:
    """The Ray backend."""
    return import_ray_module("ray_backend").RayCommunicator(**kwargs)


_BACKENDS: dict[str, Callable[..., Communicator]] = {"local": LocalCommunicator, "ray": _ray_communicator}

#: The backend names `make_communicator` accepts.
BACKENDS = tuple(_BACKENDS)

#: The type of a ``backend`` config field (multi-agent experiments declare ``backend: Backend = "local"``).
Backend = Literal["local", "ray"]


def make_communicator(backend: str = "local", **kwargs: Any) -> Communicator:
    """A communicator for ``backend``; ``kwargs`` go to its constructor.

    ``"local"``: in-process (`LocalCommunicator`; ``server``). ``"ray"``: the same delivery inside a Ray session
    (`RayCommunicator`; ``server``, ``address=None`` to start a local cluster or
    ``"auto"``/``"ray://host:port"`` to join one, and further ``ray.init`` options). Ray is imported only here.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"unknown communication backend {backend!r}; available: {sorted(_BACKENDS)}")
    return _BACKENDS[backend](**kwargs)
