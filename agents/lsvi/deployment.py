"""What the cooperative LSVI drivers share on top of their `Deployment`.

`PooledRun` is a method (`agents.common.method.Method`: `learn`, checkpoints, `save` / `load`) whose nodes are
workers, with access to a worker's state, also after the run is closed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from agents.common.communication import Communicator, Node
from agents.common.deployment import Deployment
from agents.common.method import Method
from agents.common.workers import WorkerPool

__all__ = ["PooledRun", "node_seeds"]


def node_seeds(seed: int | None, count: int) -> tuple[int, list[np.random.SeedSequence]]:
    """An integer seed for the pool's per-worker global streams and ``count`` independent seed sequences (the
    agents' episode generators), all from one run ``seed`` (``None``: fresh entropy)."""
    pool_seed, *children = np.random.SeedSequence(seed).spawn(count + 1)
    return int(pool_seed.generate_state(1, np.uint64)[0] >> np.uint64(1)), children


class PooledRun(Method):
    """Shared by the drivers whose nodes are workers: ``self.deployment`` holds the pool and the communicator.

    Subclasses set `deployment` and `comm` and implement one unit of work (`Method._learn_unit`).
    """

    deployment: Deployment
    comm: Communicator
    _closed_workers: dict[Node, Any] | None = None
    _resources: ClassVar[tuple[str, ...]] = ("deployment", "comm", "_closed_workers")

    def _worker_pool(self) -> WorkerPool:
        return self.pool

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
