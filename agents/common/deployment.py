"""A run's deployment: its communicator and worker pool, both on one backend and, for Ray, in one session.

Every multi-agent method builds its `Deployment` from the same two arguments, ``backend`` (``"local"``: in
process; ``"ray"``: one Ray actor per worker, in one Ray session with the communicator) and ``backend_options`` (for Ray:
``address`` to join a cluster, the worker pool's `POOL_OPTIONS`, and further ``ray.init`` options for a local
cluster), and releases it with `Deployment.close`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from agents.common.communication import BACKENDS, Communicator, Node, import_ray_module, make_communicator
from agents.common.workers import WorkerPool, make_worker_pool

__all__ = ["POOL_OPTIONS", "Deployment"]

#: ``backend_options`` keys that configure the Ray worker pool; the others (but ``address``) go to ``ray.init``.
POOL_OPTIONS = ("checkpoint_every", "max_restarts", "actor_options")


class Deployment:
    """The communicator and the worker pool of one run, both on ``backend``.

    Args:
        workers: node → worker object (agents, then the server); ``None`` for a run whose nodes compute in the driver
            and only exchange messages (no pool).
        backend: ``"local"`` (in process) or ``"ray"`` (one Ray actor per worker).
        backend_options: for ``"ray"`` only: ``address`` (join a cluster), the pool's ``checkpoint_every``,
            ``max_restarts``, ``actor_options``, and further ``ray.init`` options for a local cluster.
        seed: seeds the workers' global random streams.
        comm: a communicator to use instead of a new one (the deployment then does not close it).
        default_checkpoint_every: the Ray pool's ``checkpoint_every`` when ``backend_options`` does not set it.
    """

    def __init__(self, workers: Mapping[Node, Any] | None, *, backend: str = "local",
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
            ray_session = import_ray_module("ray_backend").ray_session
            address = options.pop("address", None)
            init_options = _ray_init_options()
            unknown = sorted(key for key in options if key not in POOL_OPTIONS and key not in init_options)
            if unknown:
                raise ValueError(f"unknown backend_options {unknown}; allowed: address, {', '.join(POOL_OPTIONS)} and "
                                 f"ray.init options")
            pool_options = {"checkpoint_every": default_checkpoint_every,
                            **{key: options.pop(key) for key in POOL_OPTIONS if key in options}}
            self._session = ray_session(address, **options)     # one session for the communicator and the pool
            self._session.__enter__()
        try:
            if self.comm is None:
                self.comm = make_communicator(backend)
            if workers is not None:
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


def _ray_init_options() -> set[str]:
    """The keyword options `ray.init` declares (its private ``_``-prefixed ones pass through ``**kwargs``)."""
    import ray

    return {name for name in inspect.signature(ray.init).parameters if name != "kwargs"} | {"_node_ip_address", "_temp_dir"}
