"""Worker pools: one stateful worker per node (an agent, a processor, a server), whose methods the driver calls.

A multi-agent method keeps each node's own state (its environments, model, statistics, random streams) in a *worker*
object and drives the run in rounds: ``pool.map(Agent.local_step)`` runs a method, given by reference, on every
worker, the driver routes the returned messages through a `Communicator`, and
``pool.map(Agent.apply, {node: (message,), ...})`` hands each worker what it received. The reference is what a
reader, an editor or a type checker follows to the code that runs. The algorithm reads the same whatever runs the
workers:

* `LocalWorkerPool` (``backend="local"``, the default) keeps the workers in this process and calls them one
  after another, in node order;
* `RayWorkerPool` (``backend="ray"``, an optional extra) puts each worker in its
  own Ray actor, so rollouts and updates run in separate processes (or machines) in parallel, restarts a worker that
  dies from its last checkpoint and replays the calls made since, and gives the same results.

Same results on both: each worker owns a `GlobalRNGState` (Python's ``random``, NumPy's legacy global
generator and torch's default generator), swapped in around every call to it. Code that draws from the global
generators (SB3 does) therefore draws exactly what it would in a process of its own, whichever backend runs it and
however many other workers share the process. A worker class that draws only from generators it owns sets
``uses_global_random_streams = False`` and skips the swap (it costs a few hundred microseconds per call). Results
come back in node order on both backends.

Checkpoints: `WorkerPool.snapshot` serializes every worker with its random streams (cloudpickle, so lambdas and
locally defined classes travel too); `WorkerPool.restore` puts such a snapshot back. `save_checkpoint` /
`load_checkpoint` write and read a run's checkpoint atomically, so a run whose driver (or server) dies resumes
from its last complete checkpoint.
"""

from __future__ import annotations

import os
import pickle
import random
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

from agents.common.communication import Node, import_ray_module
from mtenvs.files import atomic_write_bytes

__all__ = [
    "GlobalRNGState",
    "LocalWorkerPool",
    "WorkerPool",
    "load_checkpoint",
    "make_worker_pool",
    "save_checkpoint",
]


class GlobalRNGState:
    """The state of the process-wide random generators one worker draws from: ``random``, ``np.random``, torch.

    `active` swaps them in for a block and saves what the block drew back into this object, leaving the
    caller's generators as they were. Torch is handled only when it is imported (a worker that never touches torch
    pays nothing for it).
    """

    def __init__(self, seed: int) -> None:
        python_rng = random.Random(seed)
        legacy = np.random.RandomState(seed % 2**32)
        self.python = python_rng.getstate()
        self.numpy = legacy.get_state()
        self.seed = int(seed)
        self.torch: Any = None  # filled lazily from ``seed`` the first time torch is in use

    def _torch_state(self) -> Any:
        import torch

        if self.torch is None:
            generator = torch.Generator().manual_seed(self.seed)
            self.torch = generator.get_state()
        return self.torch

    @contextmanager
    def active(self) -> Iterator[None]:
        """Draw from this worker's generators inside the block."""
        torch = sys.modules.get("torch")
        outer = (random.getstate(), np.random.get_state(), torch.random.get_rng_state() if torch else None)
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        if torch is not None:
            torch.random.set_rng_state(self._torch_state())
        try:
            yield
        finally:
            self.python = random.getstate()
            self.numpy = np.random.get_state()
            torch = sys.modules.get("torch")  # the block may have imported it
            if torch is not None:
                self.torch = torch.random.get_rng_state()
            random.setstate(outer[0])
            np.random.set_state(outer[1])
            if torch is not None and outer[2] is not None:
                torch.random.set_rng_state(outer[2])


@contextmanager
def worker_streams(worker: Any, state: GlobalRNGState) -> Iterator[None]:
    """Swap in ``state`` around a call to ``worker``, unless its class declares ``uses_global_random_streams = False``."""
    if getattr(worker, "uses_global_random_streams", True):
        with state.active():
            yield
    else:
        yield


def _node_seeds(nodes: Sequence[Node], seed: int) -> dict[Node, int]:
    """One independent 63-bit seed per node, from ``seed`` and the node's position."""
    children = np.random.SeedSequence(seed).spawn(len(nodes))
    return {node: int(child.generate_state(2, np.uint32).astype(np.uint64) @ np.array([1, 2**31], np.uint64))
            for node, child in zip(nodes, children, strict=True)}


def method_name(method: Callable[..., Any]) -> str:
    """The name under which a worker runs ``method``, a public method given by reference (e.g. `CoopAgent.play`).

    The pool runs each worker's method of that name (a subclass's override, as any method call would); on Ray the
    name is what travels to the actor, which resolves it on the worker it holds.

    Raises:
        TypeError: ``method`` is a string or not a function.
        ValueError: ``method`` is private (its name starts with ``_``).
    """
    if isinstance(method, str) or not callable(method) or not isinstance(getattr(method, "__name__", None), str):
        raise TypeError(f"method must be a worker method reference such as CoopAgent.play, got {method!r}")
    if method.__name__.startswith("_"):
        raise ValueError(f"method must be a public worker method; got {method.__qualname__!r}")
    return method.__name__


def check_call_args(nodes: Sequence[Node], method: Callable[..., Any], args: Mapping[Node, Any] | None,
                    targets: Sequence[Node] | None) -> tuple[str, list[Node], dict[Node, tuple]]:
    """Validate a `WorkerPool.map`'s arguments; the method's name, the nodes called (in pool order) and their
    positional args."""
    name = method_name(method)
    known = set(nodes)
    if targets is None:
        targets = list(args) if args is not None else list(nodes)
    unknown = [node for node in targets if node not in known]
    if unknown:
        raise ValueError(f"nodes {unknown!r} are not in this pool; its nodes are {list(nodes)!r}")
    if args is not None:
        extra = [node for node in args if node not in set(targets)]
        if extra:
            raise ValueError(f"args given for nodes {extra!r} that are not called (nodes={list(targets)!r})")
    ordered = [node for node in nodes if node in set(targets)]
    positional = {}
    for node in ordered:
        value = () if args is None or node not in args else args[node]
        positional[node] = value if isinstance(value, tuple) else (value,)
    return name, ordered, positional


class WorkerPool(ABC):
    """One worker per node; `map` runs a method on all (or some) of them and returns results by node.

    Args:
        workers: node → worker object (any picklable object; its public methods are what `map` runs).
        seed: seeds every worker's `GlobalRNGState` (node k gets the k-th child of ``SeedSequence(seed)``).
    """

    def __init__(self, workers: Mapping[Node, Any], seed: int = 0) -> None:
        if not isinstance(workers, Mapping) or not workers:
            raise ValueError("workers must be a non-empty mapping node -> worker object")
        self.nodes: tuple[Node, ...] = tuple(workers)
        self.seed = int(seed)
        #: Restarts of each node's worker after it died (always 0 in process).
        self.restarts: dict[Node, int] = dict.fromkeys(self.nodes, 0)

    @abstractmethod
    def map(self, method: Callable[..., Any], args: Mapping[Node, Any] | None = None, *,
            nodes: Sequence[Node] | None = None, **kwargs: Any) -> dict[Node, Any]:
        """Run ``worker.method(*args[node], **kwargs)`` on the chosen workers; their results in pool node order.

        Args:
            method: the worker method, by reference (e.g. `CoopAgent.play`); each worker runs its own method of
                that name (a subclass's override, as any method call would).
            args: node → positional arguments (a tuple, or one value). Calls exactly these nodes unless ``nodes``
                is given; nodes without an entry get no positional arguments.
            nodes: which nodes to call (default: the keys of ``args``, else all).
            **kwargs: keyword arguments shared by every call.

        Raises:
            TypeError: ``method`` is a name or not a function.
            ValueError: ``method`` is private, or ``args`` / ``nodes`` name nodes outside the pool.
        """

    @abstractmethod
    def snapshot(self) -> dict[Node, bytes]:
        """Every worker serialized together with its random streams."""

    @abstractmethod
    def restore(self, snapshots: Mapping[Node, bytes]) -> None:
        """Put workers (and their random streams) back from a `snapshot` (all nodes or some)."""

    def fetch(self, node: Node) -> Any:
        """A copy of ``node``'s worker as it is now (the object itself in process)."""
        return cloudpickle.loads(self.snapshot_of(node))[0]

    def snapshot_of(self, node: Node) -> bytes:
        """One worker's snapshot."""
        return self.snapshot()[node]

    def close(self) -> None:  # noqa: B027  (nothing to release in process; the Ray pool stops its actors)
        """Release the workers' resources (processes, for the Ray pool)."""

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalWorkerPool(WorkerPool):
    """All workers in this process, called one after another in node order."""

    def __init__(self, workers: Mapping[Node, Any], seed: int = 0) -> None:
        super().__init__(workers, seed)
        self.workers: dict[Node, Any] = dict(workers)
        self.rng: dict[Node, GlobalRNGState] = {node: GlobalRNGState(s) for node, s in _node_seeds(self.nodes, seed).items()}

    def map(self, method: Callable[..., Any], args: Mapping[Node, Any] | None = None, *,
            nodes: Sequence[Node] | None = None, **kwargs: Any) -> dict[Node, Any]:
        name, ordered, positional = check_call_args(self.nodes, method, args, nodes)
        results = {}
        for node in ordered:
            with worker_streams(self.workers[node], self.rng[node]):
                results[node] = getattr(self.workers[node], name)(*positional[node], **kwargs)
        return results

    def snapshot(self) -> dict[Node, bytes]:
        return {node: cloudpickle.dumps((self.workers[node], self.rng[node])) for node in self.nodes}

    def snapshot_of(self, node: Node) -> bytes:
        return cloudpickle.dumps((self.workers[node], self.rng[node]))

    def restore(self, snapshots: Mapping[Node, bytes]) -> None:
        unknown = [node for node in snapshots if node not in self.workers]
        if unknown:
            raise ValueError(f"snapshot nodes {unknown!r} are not in this pool")
        loaded = {node: pickle.loads(blob) for node, blob in snapshots.items()}
        for node, (worker, rng) in loaded.items():
            self.workers[node], self.rng[node] = worker, rng

    def fetch(self, node: Node) -> Any:
        if node not in self.workers:
            raise ValueError(f"node {node!r} is not in this pool; its nodes are {list(self.nodes)!r}")
        return self.workers[node]


def _ray_pool(workers: Mapping[Node, Any], seed: int = 0, **options: Any) -> WorkerPool:
    """The Ray pool, imported only when asked for (Ray is an optional extra)."""
    return import_ray_module("ray_workers").RayWorkerPool(workers, seed=seed, **options)


_POOLS: dict[str, Callable[..., WorkerPool]] = {"local": LocalWorkerPool, "ray": _ray_pool}


def make_worker_pool(workers: Mapping[Node, Any], backend: str = "local", seed: int = 0, **options: Any) -> WorkerPool:
    """A worker pool for ``backend``: ``"local"`` (in process) or ``"ray"`` (one Ray actor per worker; ``options``:
    ``address``, ``checkpoint_every``, ``max_restarts``, ``actor_options`` and further ``ray.init`` options, see
    `RayWorkerPool`)."""
    if backend not in _POOLS:
        raise ValueError(f"unknown worker backend {backend!r}; available: {sorted(_POOLS)}")
    if backend == "local" and options:
        raise ValueError(f"the local worker pool takes no options; got {sorted(options)}")
    return _POOLS[backend](workers, seed=seed, **options)


def save_checkpoint(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` (cloudpickled) to ``path`` atomically: a reader sees the previous checkpoint or this one,
    never a partial file, even if the process dies while writing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, cloudpickle.dumps(payload))


def load_checkpoint(path: str | os.PathLike[str]) -> Any | None:
    """The payload `save_checkpoint` wrote to ``path``, or ``None`` if there is none yet."""
    path = Path(path)
    if not path.exists():
        return None
    with path.open("rb") as file:
        return pickle.load(file)
