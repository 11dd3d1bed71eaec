"""A `WorkerPool` whose workers live in Ray actors, one per node, restarted on failure.

Each worker is shipped to its own actor (a separate process, on any machine of the cluster) together with its
`GlobalRNGState`; `RayWorkerPool.map` submits the method to every chosen actor at
once, so the workers run in parallel, and collects the results in node order.

Faults: the pool keeps each worker's last checkpoint (taken every ``checkpoint_every`` calls, and at start) and the
calls made since. When an actor dies (its process is killed, its machine goes away) while the pool waits on it, a
new actor is started from that checkpoint, the logged calls are replayed, and the failed call runs again: because a
worker's result depends only on its state and random streams, the run goes on exactly as if nothing had happened. A
worker that keeps dying (more than ``max_restarts`` times) stops the run with an error naming it. An exception the
worker's own code raises is not a fault: it is raised in the driver unchanged.

Ray's own actor restarts are off (``max_restarts=0`` on the actor): Ray would restart an actor from its constructor
arguments, i.e. from the state at the start of the run, not from the last checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cloudpickle
import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError

from agents.common.communication import Node
from agents.common.ray_backend import _acquire, _release
from agents.common.workers import GlobalRNGState, WorkerPool, _node_seeds, check_call_args, worker_streams

__all__ = ["DEFAULT_ACTOR_OPTIONS", "RayWorkerPool"]

#: Options of every worker actor (overridable with ``actor_options``). ``num_cpus=0`` lets any number of actors
#: share a small machine; on a cluster pass ``{"num_cpus": 1}`` (and e.g. ``scheduling_strategy="SPREAD"``) to give
#: each worker a CPU of its own.
DEFAULT_ACTOR_OPTIONS: dict[str, Any] = {"num_cpus": 0}

_FAULTS = (ActorDiedError, ActorUnavailableError, RayActorError)


class _WorkerHost:
    """The actor: holds one worker and its random streams, runs its methods."""

    def __init__(self, snapshot: bytes) -> None:
        self.worker, self.rng = cloudpickle.loads(snapshot)
        import sys

        torch = sys.modules.get("torch")
        if torch is not None:  # one thread per worker: workers, not threads, are the unit of parallelism
            torch.set_num_threads(1)

    def call(self, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Run the held worker's method named ``method`` (the pool resolves a method reference to its name)."""
        with worker_streams(self.worker, self.rng):
            return getattr(self.worker, method)(*args, **kwargs)

    def snapshot(self) -> bytes:
        return cloudpickle.dumps((self.worker, self.rng))

    def pid(self) -> int:
        import os

        return os.getpid()


class RayWorkerPool(WorkerPool):
    """Workers in Ray actors, called in parallel, restarted from their last checkpoint when they die.

    Args:
        workers: node → worker object (picklable with cloudpickle).
        seed: seeds the workers' random streams, exactly as `LocalWorkerPool` does.
        address: ``None`` starts a local cluster if Ray is not initialized (see
            `RayCommunicator`); ``"auto"`` / ``"ray://host:port"`` joins one.
        checkpoint_every: take a checkpoint of every worker after this many calls (``0``: only at start). Smaller
            means less to replay after a fault and more serialization per call.
        max_restarts: how many times one node's worker may be restarted before the run stops.
        actor_options: Ray actor options (`DEFAULT_ACTOR_OPTIONS` updated by these).
        **ray_init_kwargs: further `ray.init` options for a local cluster.
    """

    def __init__(self, workers: Mapping[Node, Any], seed: int = 0, address: str | None = None, checkpoint_every: int = 1,
                 max_restarts: int = 3, actor_options: Mapping[str, Any] | None = None, **ray_init_kwargs: Any) -> None:
        super().__init__(workers, seed)
        if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer >= 0; got {checkpoint_every!r}")
        if not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts must be an integer >= 0; got {max_restarts!r}")
        self.checkpoint_every = checkpoint_every
        self.max_restarts = max_restarts
        self._options = {**DEFAULT_ACTOR_OPTIONS, **dict(actor_options or {}), "max_restarts": 0}
        self._owns_session = _acquire(address, ray_init_kwargs)
        self._host = ray.remote(_WorkerHost)
        seeds = _node_seeds(self.nodes, seed)
        self._checkpoints: dict[Node, bytes] = {
            node: cloudpickle.dumps((worker, GlobalRNGState(seeds[node]))) for node, worker in workers.items()}
        self._replay: dict[Node, list[tuple[str, tuple, dict[str, Any]]]] = {node: [] for node in self.nodes}
        self._calls_since_checkpoint = 0
        self._actors: dict[Node, Any] = {node: self._start(node) for node in self.nodes}
        self._closed = False

    def _start(self, node: Node) -> Any:
        return self._host.options(**self._options).remote(self._checkpoints[node])

    # -- calls --------------------------------------------------------------------------------------------------------
    def map(self, method: Callable[..., Any], args: Mapping[Node, Any] | None = None, *,
            nodes: Sequence[Node] | None = None, **kwargs: Any) -> dict[Node, Any]:
        self._check_open()
        name, ordered, positional = check_call_args(self.nodes, method, args, nodes)
        # The method's name travels to each actor, which runs its worker's method of that name.
        pending = {node: self._actors[node].call.remote(name, positional[node], kwargs) for node in ordered}
        results = {}
        for node in ordered:
            results[node] = self._result(node, pending[node], name, positional[node], kwargs)
            self._replay[node].append((name, positional[node], kwargs))
        self._calls_since_checkpoint += 1
        if self.checkpoint_every and self._calls_since_checkpoint >= self.checkpoint_every:
            self.checkpoint()
        return results

    def _result(self, node: Node, ref: Any, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        """The call's result; if the actor died, restart it from its checkpoint, replay, and call again."""
        while True:
            try:
                return ray.get(ref)
            except RayTaskError as error:  # the worker's own exception: not a fault
                raise error.as_instanceof_cause() from None
            except _FAULTS as error:
                self._restart(node, error)
                ref = self._actors[node].call.remote(method, args, kwargs)

    def _restart(self, node: Node, error: Exception) -> None:
        self.restarts[node] += 1
        if self.restarts[node] > self.max_restarts:
            raise RuntimeError(f"worker {node!r} died {self.restarts[node]} times (max_restarts={self.max_restarts}); "
                               f"last error: {error}") from error
        self._actors[node] = self._start(node)
        for method, args, kwargs in self._replay[node]:
            ray.get(self._actors[node].call.remote(method, args, kwargs))

    # -- checkpoints --------------------------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Take a checkpoint of every worker now (they restart from here after a fault)."""
        self._checkpoints = self.snapshot()
        self._replay = {node: [] for node in self.nodes}
        self._calls_since_checkpoint = 0

    def snapshot(self) -> dict[Node, bytes]:
        self._check_open()
        pending = {node: self._actors[node].snapshot.remote() for node in self.nodes}  # all serialize in parallel
        return {node: self._get_snapshot(node, pending[node]) for node in self.nodes}

    def snapshot_of(self, node: Node) -> bytes:
        self._check_open()
        if node not in self._actors:
            raise ValueError(f"node {node!r} is not in this pool; its nodes are {list(self.nodes)!r}")
        return self._get_snapshot(node, self._actors[node].snapshot.remote())

    def _get_snapshot(self, node: Node, ref: Any) -> bytes:
        while True:
            try:
                return ray.get(ref)
            except _FAULTS as error:
                self._restart(node, error)
                ref = self._actors[node].snapshot.remote()

    def restore(self, snapshots: Mapping[Node, bytes]) -> None:
        self._check_open()
        unknown = [node for node in snapshots if node not in self._actors]
        if unknown:
            raise ValueError(f"snapshot nodes {unknown!r} are not in this pool")
        for node, blob in snapshots.items():
            ray.kill(self._actors[node])
            self._checkpoints[node] = blob
            self._replay[node] = []
            self._actors[node] = self._start(node)

    # -- introspection and shutdown -----------------------------------------------------------------------------------
    def actor(self, node: Node) -> Any:
        """The Ray actor handle of ``node``'s worker (for monitoring, or for killing it on purpose in a test)."""
        return self._actors[node]

    def pids(self) -> dict[Node, int]:
        """The process id of every worker's actor."""
        return dict(zip(self.nodes, ray.get([self._actors[node].pid.remote() for node in self.nodes]), strict=True))

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this RayWorkerPool is closed; create a new one")

    def close(self) -> None:
        """Stop the actors; shut Ray down only if this pool started it."""
        if not getattr(self, "_closed", True):
            self._closed = True
            for actor in self._actors.values():
                ray.kill(actor)
            self._actors.clear()
            _release(self._owns_session)
