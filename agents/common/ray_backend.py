"""A Ray backend for the `Communicator`: messages travel through Ray's object store.

Each packet's message is put into the object store by its sender (`ray.put`; a sender that sends the same
object to several receivers in one round puts it once and every receiver gets the same reference) and resolved by its
receiver (`ray.get`). Delivery order is the order of the packets, whatever order Ray completes them in, and
every receiver gets its own writable copy (Ray hands out read-only, zero-copy NumPy arrays). The rounds, messages
and bytes are counted by `Communicator` exactly as for the in-process backend:
bytes are the payload's `message_nbytes`, not Ray's serialized size.

Sessions: a communicator (or `ray_session`) starts a local Ray cluster only when Ray is not initialized yet
(``num_cpus=2``, no dashboard, worker logs not forwarded); ``address="auto"`` or ``"ray://host:port"`` joins an
existing cluster instead. Closing shuts Ray down only if that very communicator (or session) started it, so a
communicator inside a cluster someone else runs never stops that cluster; open a `ray_session` around code that
creates several communicators so they share one session.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import ray

from agents.common.communication import SERVER, Communicator, Node, Packet
from mtenvs.runner.session import LOCAL_CLUSTER_DEFAULTS, ray_session
from mtenvs.runner.session import acquire as _acquire
from mtenvs.runner.session import release as _release

__all__ = ["LOCAL_CLUSTER_DEFAULTS", "RayCommunicator", "ray_session"]

class RayCommunicator(Communicator):
    """Messages as Ray object references, put by the sender and resolved by the receiver, in a deterministic order.

    Args:
        server: the server's node id.
        address: ``None`` starts a local cluster (`LOCAL_CLUSTER_DEFAULTS`) if Ray is not initialized;
            ``"auto"`` or ``"ray://host:port"`` joins an existing cluster. Ignored when Ray is already initialized.
        **ray_init_kwargs: further `ray.init` options.
    """

    def __init__(self, server: Node = SERVER, address: str | None = None, **ray_init_kwargs: Any) -> None:
        super().__init__(server)
        self._owns_session = _acquire(address, ray_init_kwargs)
        self._closed = False
        self._mailboxes: defaultdict[Node, list[tuple[Node, Any]]] = defaultdict(list)

    def _transport(self, packets: Sequence[Packet]) -> list[Any]:
        if self._closed:
            raise RuntimeError("this RayCommunicator is closed; create a new one")
        # Sender side: one object per (sender, message object) of the round, shared by all its receivers.
        refs: dict[tuple[Node, int], ray.ObjectRef] = {}
        keys = []
        for packet in packets:
            key = (packet.source, id(packet.message))
            if key not in refs:
                refs[key] = ray.put(packet.message)
            keys.append(key)
        # Receiver side: ray.get of a list returns in the list's order, so delivery order is the packets' order.
        # Ray's NumPy results are read-only views of shared memory; a deep copy gives each receiver its own
        # writable value, as the in-process backend does.
        resolved = ray.get([refs[key] for key in keys])
        return [copy.deepcopy(value) for value in resolved]

    def _post(self, target: Node, source: Node, delivered: Any) -> None:
        self._mailboxes[target].append((source, delivered))

    def _drain(self, target: Node) -> list[tuple[Node, Any]]:
        return self._mailboxes.pop(target, [])

    def close(self) -> None:
        """Drop undelivered mail; shut Ray down only if this communicator started it."""
        if not self._closed:
            self._closed = True
            self._mailboxes.clear()
            _release(self._owns_session)
