"""What the cooperative LSVI drivers share on top of their :class:`~agents.common.deployment.Deployment`.

:class:`PooledRun` gives access to a worker's state (also after the run is closed), and
``learn(..., checkpoint_path=...)`` that saves {progress, driver state, every worker, communication counts} after each
step and resumes from that file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import numpy as np

from agents.common.communication import Communicator, Node
from agents.common.deployment import Deployment
from agents.common.workers import WorkerPool, load_checkpoint, save_checkpoint

__all__ = ["PooledRun", "node_seeds"]


def node_seeds(seed: int | None, count: int) -> tuple[int, list[np.random.SeedSequence]]:
    """An integer seed for the pool's per-worker global streams and ``count`` independent seed sequences (the
    agents' episode generators), all from one run ``seed`` (``None``: fresh entropy)."""
    pool_seed, *children = np.random.SeedSequence(seed).spawn(count + 1)
    return int(pool_seed.generate_state(1, np.uint64)[0] >> np.uint64(1)), children


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
