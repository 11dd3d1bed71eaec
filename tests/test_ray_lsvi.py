"""DistMT-LSVI and Coop-LSVI with their agents and servers as workers: Ray equals in-process, bit for bit, also when an
agent's or the server's actor dies mid-run; a run resumes from its checkpoint file exactly where it stopped.

The in-process run with the same seed is the reference for every Ray run. Ray tests take the session-scoped
``ray_cluster`` fixture (one local session for the whole test run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
from identical import assert_identical

import mtenvs
from agents.lsvi.coop import CoopAgent, CoopLSVI
from agents.lsvi.distmt import DistMTLSVI

SIZES = {"instance": 0, "n_states": 5, "n_actions": 3, "dim": 4, "horizon": 3}


@pytest.fixture(scope="module")
def distmt_tasks() -> list:
    family = mtenvs.family("LinearContextual")
    return [family.model(t) for t in family.tasks_of(family.task(num_tasks=3, c_sep=0.9))]


@pytest.fixture(scope="module")
def coop_task() -> Any:
    return mtenvs.family("LinearMDP").model(SIZES)


def distmt(tasks: list, **kwargs: Any) -> DistMTLSVI:
    return DistMTLSVI(tasks, n_agents=2, c_sep=0.9, episodes_phase1=15, episodes_phase2=20, seed=0, **kwargs)


def coop(task: Any, **kwargs: Any) -> CoopLSVI:
    return CoopLSVI([task] * 3, **{"threshold": 2.0, "beta": 1.0, "seed": 0, **kwargs})


def distmt_result(algo: DistMTLSVI) -> Any:
    server = algo.server
    return (algo.history, algo.episodes, server.values, server.origin, server.statistics, algo.comm.stats.as_dict(),
            [algo.label_policies(i) for i in range(algo.n_agents)],
            [{m: q.q for m, q in table.items()} for table in algo.policies])


def coop_result(algo: CoopLSVI) -> Any:
    return (algo.history, algo.comm.stats.as_dict(), algo.synced_logdet, [[s.gram for s in agent] for agent in algo.stats],
            [[b.view() for b in agent] for agent in algo.data], [s.gram for s in algo.synced_stats], algo.episode,
            algo.last_sync)


class Stop(Exception):
    """Raised from a callback to stop a run as if its driver had died."""


class DyingCoopAgent(CoopAgent):
    """A Coop-LSVI agent whose process vanishes in the middle of its ``die_at``-th episode (once: a flag file)."""

    flag: str | None = None
    die_at = 0
    played = 0

    def play(self, elapsed: int) -> tuple[float, bool]:
        result = super().play(elapsed)                                 # the episode's state changes are made ...
        self.played += 1
        if self.flag is not None and self.played == self.die_at and not os.path.exists(self.flag):
            Path(self.flag).touch()
            os._exit(1)                                                # ... and the actor dies before it answers
        return result


@pytest.fixture(autouse=True)
def _ship_this_module_by_value() -> Any:
    """Ray's workers cannot import a test module: send the dying agent's class along with its pickle."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


# ------------------------------------------------------------------------------------------------ in process


def test_the_server_is_a_worker_and_messages_are_counted_as_before(distmt_tasks: list, coop_task: Any) -> None:
    algo = distmt(distmt_tasks).learn(1)
    assert algo.pool.nodes == (0, 1, "server")
    assert algo.server is algo.pool.fetch("server").server             # in process: the worker itself
    h, d = algo.horizon, algo.features.shape[-1]
    statistics, first = 8 * (h * d + h * d * d), algo.history[0]
    assert first.comm_rounds == 4 and first.n_labels >= 1 and all(first.phase2)
    # gather (θ, Λ, V); scatter labels; gather phase-2 statistics; broadcast the new labels' statistics to both agents
    assert first.comm_bytes == 2 * (statistics + 8) + 2 * 8 + 2 * statistics + 2 * first.n_labels * statistics
    sync = coop(coop_task, threshold=0.0).learn(2)
    # the server's synchronized statistics hold every agent's tuples, as each agent's do after a synchronization
    s, a, _, _ = sync.data[0][1].view()
    np.testing.assert_allclose(sync.synced_stats[1].gram, coop_task.features[s, a].T @ coop_task.features[s, a])
    assert len(s) == 3 * 2 and sync.synced_stats[1].count == 6


def test_backend_arguments_are_checked(distmt_tasks: list, coop_task: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        coop(coop_task, backend="mpi")
    with pytest.raises(ValueError, match="backend_options apply to backend='ray' only"):
        distmt(distmt_tasks, backend_options={"checkpoint_every": 2})
    with pytest.raises(ValueError, match="checkpoint_every"):
        coop(coop_task).learn(2, checkpoint_path=tmp_path / "a", checkpoint_every=0)
    coop(coop_task).learn(2, checkpoint_path=tmp_path / "b")
    with pytest.raises(ValueError, match="holds another run"):
        CoopLSVI([coop_task] * 2, seed=0).learn(2, checkpoint_path=tmp_path / "b")


def test_asking_for_ray_without_ray_names_the_extra(coop_task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)                    # makes `import ray` raise ImportError(name="ray")
    monkeypatch.delitem(sys.modules, "agents.common.ray_backend", raising=False)
    with pytest.raises(ImportError, match=r'needs Ray, an optional extra: pip install "mtenvs\[ray\]"'):
        coop(coop_task, backend="ray")


# ------------------------------------------------------------------------------------------------ Ray


def test_distmt_on_ray_equals_local_when_an_agent_and_the_server_die(ray_cluster: Any, distmt_tasks: list) -> None:
    reference = distmt_result(distmt(distmt_tasks).learn(4))

    def kill(algo: DistMTLSVI, record: Any) -> None:
        if record.info.round == 0:
            ray_cluster.kill(algo.pool.actor(1))                       # an agent, between rounds
        if record.info.round == 2:
            ray_cluster.kill(algo.pool.actor("server"))                # the server, between rounds

    with distmt(distmt_tasks, backend="ray", backend_options={"checkpoint_every": 3}) as algo:
        pids = algo.pool.pids()
        assert len(set(pids.values())) == 3 and os.getpid() not in pids.values()   # each node in a process of its own
        algo.learn(4, callback=kill)
        assert algo.pool.restarts == {0: 0, 1: 1, "server": 1}
    assert_identical(distmt_result(algo), reference)                  # read from the workers' final state after close


def test_coop_on_ray_equals_local_when_actors_die(ray_cluster: Any, coop_task: Any, tmp_path: Path) -> None:
    reference = coop_result(coop(coop_task).learn(12))

    def kill(algo: CoopLSVI, record: Any) -> None:
        if algo.episode == 3:
            ray_cluster.kill(algo.pool.actor(2))                       # an agent, between episodes
        if algo.episode == 6:
            ray_cluster.kill(algo.pool.actor("server"))                # the server, between episodes

    with coop(coop_task, backend="ray", backend_options={"checkpoint_every": 4}) as algo:
        worker, rng = cloudpickle.loads(algo.pool.snapshot_of(0))
        worker.__class__ = DyingCoopAgent                              # agent 0 dies inside its 8th episode's call
        worker.flag, worker.die_at = str(tmp_path / "died"), 8
        algo.pool.restore({0: cloudpickle.dumps((worker, rng))})
        algo.learn(12, callback=kill)
        assert os.path.exists(tmp_path / "died")
        assert algo.pool.restarts == {0: 1, 1: 0, 2: 1, "server": 1}
        assert sum(algo.history.synchronized[6:]) >= 1                 # the server was needed after its death
    assert_identical(coop_result(algo), reference)
