"""Worker pools: per-worker random streams, argument checks, checkpoints, and Ray actors that die and come back.

The in-process pool is the reference: the Ray pool must return bit-identical results for the same workers and seed,
also when an actor is killed between calls or dies in the middle of one.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from identical import assert_identical

from agents.common.workers import GlobalRNGState, LocalWorkerPool, load_checkpoint, make_worker_pool, save_checkpoint


class Drawer:
    """A worker that draws from every process-wide generator, and can die (once) when told to."""

    def __init__(self, offset: float, die_flag: str | None = None) -> None:
        self.offset = offset
        self.die_flag = die_flag
        self.history: list[tuple[float, float, float]] = []

    def draw(self, scale: float = 1.0, die: bool = False) -> tuple[float, float, float]:
        value = (random.random() * scale + self.offset, float(np.random.rand()) * scale, float(torch.rand(())) * scale)
        self.history.append(value)
        if die and self.die_flag is not None and not os.path.exists(self.die_flag):
            Path(self.die_flag).touch()
            os._exit(1)  # the process vanishes mid-call, as a killed worker does
        return value

    def add(self, amount: float) -> float:
        self.offset += amount
        return self.offset

    def fail(self) -> None:
        raise KeyError("the worker's own error")


def drawers(n: int, die_flag: str | None = None, dying: int | None = None) -> dict[int, Drawer]:
    return {i: Drawer(float(i), die_flag if i == dying else None) for i in range(n)}


# ------------------------------------------------------------------------------------------------ in process


def test_worker_streams_do_not_depend_on_the_other_workers_or_the_caller() -> None:
    """A worker draws the same values whether it is called alone or with others, and the caller's streams stay put."""
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    outer = (random.random(), np.random.rand(), float(torch.rand(())))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    pool = LocalWorkerPool(drawers(3), seed=7)
    together = [pool.map(Drawer.draw) for _ in range(3)]
    assert (random.random(), np.random.rand(), float(torch.rand(()))) == outer
    alone = LocalWorkerPool(drawers(3), seed=7)
    only_two = [alone.map(Drawer.draw, nodes=[2])[2] for _ in range(3)]
    assert only_two == [round_[2] for round_ in together]
    assert together[0][0] != together[0][1]  # different workers draw different streams


def test_a_worker_that_owns_its_generators_skips_the_swap() -> None:
    """``uses_global_random_streams = False``: the worker's global draws come from the caller's streams (so the swap
    really is skipped, and really happens for the others)."""

    class OwnStreams(Drawer):
        uses_global_random_streams = False

    np.random.seed(11)
    expected = np.random.rand()
    np.random.seed(11)
    assert LocalWorkerPool({0: OwnStreams(0.0)}, seed=3).map(Drawer.draw)[0][1] == expected
    np.random.seed(11)
    assert LocalWorkerPool({0: Drawer(0.0)}, seed=3).map(Drawer.draw)[0][1] != expected


def test_streams_follow_the_seed() -> None:
    a = LocalWorkerPool(drawers(2), seed=0).map(Drawer.draw)
    b = LocalWorkerPool(drawers(2), seed=0).map(Drawer.draw)
    c = LocalWorkerPool(drawers(2), seed=1).map(Drawer.draw)
    assert a == b and a != c


def test_rng_state_is_an_independent_copy_of_a_seeded_generator() -> None:
    state = GlobalRNGState(123)
    with state.active():
        drawn = [random.random() for _ in range(3)], np.random.rand(3)
    assert drawn[0] == [random.Random(123).random() for _ in range(1)] + drawn[0][1:]
    np.testing.assert_array_equal(drawn[1], np.random.RandomState(123).rand(3))


def test_map_arguments() -> None:
    pool = LocalWorkerPool(drawers(3))
    assert pool.map(Drawer.add, {2: 1.5, 0: (0.5,)}) == {0: 0.5, 2: 3.5}  # pool order, only the nodes given
    assert pool.map(Drawer.add, nodes=[1], amount=2.0) == {1: 3.0}
    with pytest.raises(ValueError, match=r"nodes \[5\] are not in this pool"):
        pool.map(Drawer.add, {5: 1.0})
    with pytest.raises(ValueError, match="args given for nodes"):
        pool.map(Drawer.add, {0: 1.0, 1: 1.0}, nodes=[0])
    with pytest.raises(ValueError, match="public worker method"):
        pool.map(Drawer.__init__)
    with pytest.raises(KeyError, match="own error"):
        pool.map(Drawer.fail, nodes=[0])
    with pytest.raises(ValueError, match="unknown worker backend 'mpi'"):
        make_worker_pool(drawers(1), backend="mpi")
    with pytest.raises(ValueError, match="non-empty mapping"):
        LocalWorkerPool({})


def test_snapshot_restore_replays_exactly() -> None:
    pool = LocalWorkerPool(drawers(2), seed=3)
    pool.map(Drawer.draw)
    saved = pool.snapshot()
    after = [pool.map(Drawer.draw) for _ in range(2)]
    pool.restore(saved)
    assert [pool.map(Drawer.draw) for _ in range(2)] == after


def test_checkpoint_files_are_atomic(tmp_path: Path) -> None:
    path = tmp_path / "run" / "checkpoint.pkl"
    assert load_checkpoint(path) is None
    save_checkpoint(path, {"round": 1, "f": lambda x: x + 1})
    payload = load_checkpoint(path)
    assert payload["round"] == 1 and payload["f"](1) == 2

    class Unpicklable:
        def __reduce__(self) -> Any:
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        save_checkpoint(path, {"round": 2, "bad": Unpicklable()})
    assert load_checkpoint(path)["round"] == 1  # the previous checkpoint survives a failed write
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pkl"]  # no temporary file left behind


def test_importing_the_pools_does_not_import_ray() -> None:
    code = "import agents.common.workers, sys; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------------------ Ray


@pytest.fixture(autouse=True)
def _ship_this_module_by_value() -> Any:
    """Ray's workers cannot import a test module: send the worker class's code along with its pickles."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_ray_pool_equals_local_and_survives_deaths(ray_cluster: Any, tmp_path: Path) -> None:
    flag = str(tmp_path / "died")
    local = LocalWorkerPool(drawers(3), seed=5)
    pool = make_worker_pool(drawers(3, flag, dying=1), backend="ray", seed=5, checkpoint_every=2)
    try:
        pids = pool.pids()
        assert len(set(pids.values())) == 3 and os.getpid() not in pids.values()  # one process per worker
        for round_ in range(5):
            # round 3: worker 1 dies in the middle of the call, after a checkpoint and one logged call
            assert_identical(pool.map(Drawer.draw, die=round_ == 3), local.map(Drawer.draw))
        assert os.path.exists(flag) and pool.restarts == {0: 0, 1: 1, 2: 0}
        ray_cluster.kill(pool.actor(2))  # killed between calls
        assert_identical(pool.map(Drawer.draw, scale=2.0), local.map(Drawer.draw, scale=2.0))
        assert pool.restarts == {0: 0, 1: 1, 2: 1}
        assert_identical(pool.fetch(1).history, local.fetch(1).history)
        with pytest.raises(KeyError, match="own error"):  # the worker's exception is not a fault
            pool.map(Drawer.fail, nodes=[0])
        assert pool.restarts[0] == 0
        saved = pool.snapshot()
        expected = [local.map(Drawer.draw) for _ in range(2)]
        assert_identical([pool.map(Drawer.draw) for _ in range(2)], expected)
        pool.restore(saved)
        assert_identical([pool.map(Drawer.draw) for _ in range(2)], expected)
    finally:
        pool.close()
    assert ray_cluster.is_initialized()  # the pool did not start the session, so it leaves it running
    with pytest.raises(RuntimeError, match="closed"):
        pool.map(Drawer.draw)


def test_ray_pool_gives_up_after_max_restarts(ray_cluster: Any, tmp_path: Path) -> None:
    pool = make_worker_pool(drawers(1), backend="ray", max_restarts=0)
    try:
        ray_cluster.kill(pool.actor(0))
        with pytest.raises(RuntimeError, match=r"worker 0 died 1 times \(max_restarts=0\)"):
            pool.map(Drawer.draw)
    finally:
        pool.close()
    with pytest.raises(ValueError, match="checkpoint_every"):
        make_worker_pool(drawers(1), backend="ray", checkpoint_every=-1)


def test_map_runs_each_workers_own_method_of_the_referenced_name() -> None:
    class Twice(Drawer):
        def add(self, amount: float) -> float:
            return super().add(2 * amount)

    pool = LocalWorkerPool({0: Drawer(0.0), 1: Twice(0.0)}, seed=4)
    assert pool.map(Drawer.add, amount=1.5) == {0: 1.5, 1: 3.0}  # the subclass's override, as a method call runs it
    with pytest.raises(TypeError, match=r"method reference such as CoopAgent.play, got 'draw'"):
        pool.map("draw")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method reference"):
        pool.map(42)  # type: ignore[arg-type]
