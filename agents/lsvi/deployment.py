"""How a cooperative LSVI run is deployed: its communicator and worker pool on one backend, and run-level checkpoints.

:class:`Deployment` builds the :class:`~agents.common.communication.Communicator` and the
:class:`~agents.common.workers.WorkerPool` of a run from one ``backend`` (``"local"``: in process; ``"ray"``: one Ray
actor per agent and server, messages through Ray's object store, both in one Ray session). :class:`PooledRun` is what
the drivers share: access to a worker's state (also after the run is closed), and ``learn(..., checkpoint_path=...)``
that saves {progress, driver state, every worker, communication counts} after each step and resumes from that file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np

from agents.common.communication import BACKENDS, Communicator, Node, make_communicator
from agents.common.workers import WorkerPool, load_checkpoint, make_worker_pool, save_checkpoint

__all__ = ["POOL_OPTIONS", "Deployment", "PooledRun", "node_seeds"]

#: ``backend_options`` keys that configure the Ray worker pool; the others (but ``address``) go to ``ray.init``.
POOL_OPTIONS = ("checkpoint_every", "max_restarts", "actor_options")


def node_seeds(seed: int | None, count: int) -> tuple[int, list[np.random.SeedSequence]]:
    """An integer seed for the pool's per-worker global streams and ``count`` independent seed sequences (the
    agents' episode generators), all from one run ``seed`` (``None``: fresh entropy)."""
    pool_seed, *children = np.random.SeedSequence(seed).spawn(count + 1)
    return int(pool_seed.generate_state(1, np.uint64)[0] >> np.uint64(1)), children


class Deployment:
    """The communicator and the worker pool of one run, both on ``backend``.

    Args:
        workers: node → worker object (agents, then the server).
        backend: ``"local"`` (in process) or ``"ray"`` (one Ray actor per worker, messages through Ray's object store).
        backend_options: for ``"ray"`` only: ``address`` (join a cluster), the pool's ``checkpoint_every``,
            ``max_restarts``, ``actor_options``, and further ``ray.init`` options for a local cluster.
        seed: seeds the workers' global random streams.
        comm: a communicator to use instead of a new one (the deployment then does not close it).
        default_checkpoint_every: the Ray pool's ``checkpoint_every`` when ``backend_options`` does not set it.
    """

    def __init__(self, workers: Mapping[Node, Any], *, backend: str = "local",
                 backend_options: Mapping[str, Any] | None = None, seed: int = 0, comm: Communicator | None = None,
                 default_checkpoint_every: int = 1) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        if backend_options is not None and not isinstance(backend_options, Mapping):
            raise ValueError(f"backend_options must be a dict or None, got {type(backend_options).__name__}")
        options = dict(backend_options or {})
        if backend == "local" and options:
            raise ValueError(f"backend_options apply to backend='ray' only; got {sorted(options)} for backend='local'")
        self.backend = backend
        self._session: Any = None
        self._owns_comm = comm is None
        self.pool: WorkerPool | None = None
        self.comm: Communicator | None = comm
        pool_options: dict[str, Any] = {}
        if backend == "ray":
            try:
                from agents.common.ray_backend import ray_session
            except ImportError as error:
                if getattr(error, "name", None) != "ray":
                    raise
                raise ImportError('backend="ray" needs Ray, an optional extra: pip install "mtenvs[ray]"') from error
            address = options.pop("address", None)
            pool_options = {"checkpoint_every": default_checkpoint_every,
                            **{key: options.pop(key) for key in POOL_OPTIONS if key in options}}
            self._session = ray_session(address, **options)     # one session for the communicator and the pool
            self._session.__enter__()
        try:
            if self.comm is None:
                self.comm = make_communicator(backend)
            self.pool = make_worker_pool(workers, backend, seed=seed, **pool_options)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the workers, close the communicator if this deployment made it, and leave the Ray session."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
        if self._owns_comm and self.comm is not None:
            self.comm.close()
            self._owns_comm = False
        session, self._session = self._session, None
        if session is not None:
            session.__exit__(None, None, None)


class PooledRun:
    """Shared by the drivers whose nodes are workers: ``self.deployment`` holds the pool and the communicator.

    Subclasses set :attr:`deployment`, :attr:`comm` and list in :attr:`driver_state` the attributes a checkpoint
    saves besides the workers (the driver's own progress and records).
    """

    deployment: Deployment
    comm: Communicator
    driver_state: tuple[str, ...] = ()
    _closed_workers: dict[Node, Any] | None = None

    @property
    def pool(self) -> WorkerPool:
        """The worker pool (one worker per agent, and the server)."""
        if self.deployment.pool is None:
            raise RuntimeError("this run is closed: its workers are gone (their final state is still readable)")
        return self.deployment.pool

    def worker(self, node: Node) -> Any:
        """Node ``node``'s worker as it is now (a copy on Ray; the final state once the run is closed)."""
        if self._closed_workers is not None:
            return self._closed_workers[node]
        return self.pool.fetch(node)

    def close(self) -> None:
        """Keep every worker's final state, then stop the workers and release the backend."""
        if self._closed_workers is None and self.deployment.pool is not None:
            pool = self.deployment.pool
            self._closed_workers = {node: pool.fetch(node) for node in pool.nodes}
        self.deployment.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- run-level checkpoints ----------------------------------------------------------------------------------------
    def _save(self, path: str | Path, target: int) -> None:
        save_checkpoint(path, {"target": target, "driver": {name: getattr(self, name) for name in self.driver_state},
                               "workers": self.pool.snapshot(), "comm": self.comm.stats})

    def _resume(self, path: str | Path) -> int | None:
        """Put the run back as the checkpoint at ``path`` left it; the step count it was heading for (``None``: no file)."""
        payload = load_checkpoint(path)
        if payload is None:
            return None
        if set(payload["workers"]) != set(self.pool.nodes):
            raise ValueError(f"checkpoint {str(path)!r} holds nodes {list(payload['workers'])}, this run has "
                             f"{list(self.pool.nodes)}")
        for name, value in payload["driver"].items():
            setattr(self, name, value)
        self.pool.restore(payload["workers"])
        self.comm.stats = copy.deepcopy(payload["comm"])
        return int(payload["target"])

    def _run(self, steps: int, progress: Callable[[], int], step: Callable[[], Any], *, checkpoint_path: str | Path | None,
             checkpoint_every: int, callback: Callable[[Any, Any], Any] | None,
             done: Callable[[], bool] = lambda: False) -> None:
        """Run ``step`` until ``progress()`` reaches its value now plus ``steps`` (or ``done()``), saving a checkpoint
        every ``checkpoint_every`` steps and at the end, then calling ``callback(self, record)`` after each step.

        With a ``checkpoint_path`` that exists, the run first resumes from it and heads for the target saved there.
        """
        if not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
        target = progress() + steps
        if checkpoint_path is not None:
            saved = self._resume(checkpoint_path)
            target = target if saved is None else saved
        while progress() < target and not done():
            record = step()
            if checkpoint_path is not None and (progress() % checkpoint_every == 0 or progress() >= target or done()):
                self._save(checkpoint_path, target)
            if callback is not None:
                callback(self, record)
