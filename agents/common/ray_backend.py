"""The Ray backend for the `Communicator`: the Ray session of a run whose messages the driver routes.

Every message of a multi-agent method passes through the driver: a node's message is the result of its worker's call
(Ray carries it from the actor to the driver) and what a node receives is an argument of its next call (Ray carries
it to the actor). Between the two the communicator only counts the message and hands each receiver its own copy,
which needs no object store: `RayCommunicator` delivers deep copies in the driver, exactly as `LocalCommunicator`
does, so rounds, messages, bytes and every delivered value are those of the in-process backend.

Sessions: a communicator (or `ray_session`) starts a local Ray cluster only when Ray is not initialized yet
(``num_cpus=2``, no dashboard, worker logs not forwarded); ``address="auto"`` or ``"ray://host:port"`` joins an
existing cluster instead. Closing shuts Ray down only if that very communicator (or session) started it, so a
communicator inside a cluster someone else runs never stops that cluster; open a `ray_session` around code that
creates several communicators so they share one session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ray  # noqa: F401  (the backend needs Ray: importing it here names the extra when Ray is missing)

from agents.common.communication import SERVER, LocalCommunicator, Node, Packet
from mtenvs.runner.session import LOCAL_CLUSTER_DEFAULTS, ray_session
from mtenvs.runner.session import acquire as _acquire
from mtenvs.runner.session import release as _release

__all__ = ["LOCAL_CLUSTER_DEFAULTS", "RayCommunicator", "ray_session"]


class RayCommunicator(LocalCommunicator):
    """The in-process communicator inside a Ray session: messages are deep copies made in the driver.

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

    def _transport(self, packets: Sequence[Packet]) -> list[Any]:
        if self._closed:
            raise RuntimeError("this RayCommunicator is closed; create a new one")
        return super()._transport(packets)

    def close(self) -> None:
        """Drop undelivered mail; shut Ray down only if this communicator started it."""
        if not self._closed:
            self._closed = True
            self._mailboxes.clear()
            _release(self._owns_session)
