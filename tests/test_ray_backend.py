"""The Ray communication backend: the same deliveries and counts as the in-process backend, and the same results.

Ray tests share one Ray session (the `ray_cluster` fixture of conftest, a cluster the communicators did not start,
so their ``close()`` must leave it running). The equivalence tests run every Communicator operation and every
multi-agent method on both backends with the same seed and require bit-identical values and statistics.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from identical import assert_identical

import mtenvs
from agents.common.communication import Communicator, LocalCommunicator, make_communicator
from agents.common.graphs import chain_plus_random_edges, metropolis_weights, ring

ENV_ID = "mtenvs/SimpleMass-v0"


# ------------------------------------------------------------------------------------------------ helpers




def both(ray_cluster: Any, run: Callable[[Communicator], Any]) -> tuple[Any, Any, Communicator, Communicator]:
    """``run`` on a fresh local and a fresh Ray communicator: both results and both communicators."""
    local, remote = LocalCommunicator(), make_communicator("ray")
    with local, remote:
        return run(local), run(remote), local, remote


def assert_same_stats(local: Communicator, remote: Communicator) -> None:
    assert_identical(local.stats.as_dict(), remote.stats.as_dict(), "stats")
    assert local.stats.messages > 0


# ------------------------------------------------------------------------------------------------ without Ray


def test_importing_the_packages_never_imports_ray() -> None:
    code = ("import sys, mtenvs, agents.common, agents.common.communication, agents.lsvi, agents.lifelong; "
            "from agents.common.communication import make_communicator; make_communicator('local'); "
            "sys.exit(int('ray' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_asking_for_ray_without_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError(name="ray")
    monkeypatch.delitem(sys.modules, "agents.common.ray_backend", raising=False)
    with pytest.raises(ImportError, match=r'needs Ray, an optional extra: pip install "mtenvs\[ray\]"'):
        make_communicator("ray")


def test_only_the_starter_of_a_session_shuts_it_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Session ownership against a fake ``ray`` (no cluster needed)."""
    pytest.importorskip("ray")
    from agents.common import ray_backend

    calls: list[tuple[str, Any]] = []
    state = {"up": False}

    class FakeRay:
        @staticmethod
        def is_initialized() -> bool:
            return state["up"]

        @staticmethod
        def init(address: Any = None, **kwargs: Any) -> None:
            calls.append(("init", (address, kwargs)))
            state["up"] = True

        @staticmethod
        def shutdown() -> None:
            calls.append(("shutdown", None))
            state["up"] = False

    monkeypatch.setattr(ray_backend, "ray", FakeRay)
    monkeypatch.setitem(sys.modules, "ray", FakeRay)  # the session functions (mtenvs.runner.session) import ray late
    with ray_backend.ray_session():
        ray_backend.RayCommunicator().close()  # inside a session: the communicator does not own Ray
        assert calls == [("init", (None, ray_backend.LOCAL_CLUSTER_DEFAULTS))] and state["up"]
    assert calls[-1] == ("shutdown", None) and not state["up"]
    # Joining a cluster passes only the caller's options (ray.init refuses num_cpus when connecting).
    comm = ray_backend.RayCommunicator(address="auto", namespace="x")
    assert calls[-1] == ("init", ("auto", {"namespace": "x"}))
    comm.close()
    comm.close()  # idempotent
    assert calls[-1] == ("shutdown", None) and len(calls) == 4
    # A session someone else started is never shut down.
    state["up"] = True
    ray_backend.RayCommunicator().close()
    with ray_backend.ray_session(address="auto"):
        pass
    assert len(calls) == 4 and state["up"]
    with pytest.raises(ValueError, match="address must be None"):
        ray_backend.RayCommunicator(address=6379)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ every operation


def _every_operation(comm: Communicator) -> list[Any]:
    rng = np.random.default_rng(0)
    graph = ring(5)
    values = {i: rng.standard_normal((3, 2)).astype(np.float32 if i % 2 else np.float64) for i in graph.nodes}
    shared = np.asfortranarray(rng.standard_normal((4, 3)))
    out: list[Any] = [
        comm.gather({i: {"theta": rng.standard_normal(4), "v": float(i), "ok": bool(i % 2)} for i in range(4)}),
        comm.broadcast(shared, to=[0, 1, 2]),
        comm.scatter({i: [i, np.int64(i), f"label-{i}"] for i in range(3)}),
        comm.exchange(values, graph),
        comm.mix(values, metropolis_weights(graph), graph),
        comm.mix({i: np.full(2, float(i)) for i in range(4)}, metropolis_weights(ring(4))),
        comm.all_reduce_mean({i: rng.standard_normal(3) for i in range(4)}),
        comm.route([(0, 1, np.arange(3)), (1, 0, (1.5, None)), (2, 2, "to myself"), (3, 0, b"raw")]),
    ]
    comm.send(0, 1, {"a": np.ones(2)})
    with comm.round():
        comm.send(2, 1, 7)
        comm.send(0, "server", np.zeros(3, dtype=np.int8))
    out += [comm.receive(1), comm.receive("server"), comm.receive(3)]
    return out


def test_every_operation_delivers_the_same_values_and_counts(ray_cluster: Any) -> None:
    local, remote, local_comm, remote_comm = both(ray_cluster, _every_operation)
    assert_identical(local, remote, "delivered")
    assert_same_stats(local_comm, remote_comm)
    assert ray_cluster.is_initialized()  # closing the communicators left the cluster they did not start running


def test_receivers_get_their_own_writable_copies(ray_cluster: Any) -> None:
    with make_communicator("ray") as comm:
        message = {"x": np.arange(4.0)}
        copies = comm.broadcast(message, to=[0, 1])
        copies[0]["x"][0] = 99.0  # Ray's zero-copy arrays are read-only; the backend must hand out writable copies
        assert copies[1]["x"][0] == 0.0 and message["x"][0] == 0.0
        big = np.ones((200, 200))  # large enough for the shared-memory object store
        received = comm.gather({0: big, 1: big})
        received[0] += 1.0
        assert np.all(received[1] == 1.0) and np.all(big == 1.0)


def test_failures_leave_the_counts_untouched(ray_cluster: Any) -> None:
    with make_communicator("ray") as comm:
        with pytest.raises(ValueError, match="two messages from 0 to 1"):
            comm.route([(0, 1, 1.0), (0, 1, 2.0)])
        with pytest.raises(ValueError, match="exactly one entry per graph node"):
            comm.exchange({0: 1.0}, ring(3))
        assert comm.stats.rounds == 0 and comm.stats.messages == 0
    with pytest.raises(RuntimeError, match="closed"):
        comm.gather({0: 1.0})


# ------------------------------------------------------------------------------------------------ the methods


def _without_timings(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in record.items() if not k.endswith("seconds")} for record in history]


def test_consensus_admm_is_identical(ray_cluster: Any) -> None:
    from agents.lifelong.admm import consensus_admm

    rng = np.random.default_rng(3)
    graph = chain_plus_random_edges(5, 3, 0)
    quadratics = {i: (lambda a: a @ a.T + np.eye(3))(rng.standard_normal((3, 3))) for i in graph.nodes}
    linears = {i: rng.standard_normal(3) for i in graph.nodes}

    def run(comm: Communicator) -> Any:
        result = consensus_admm(quadratics, linears, graph, comm, iterations=30, tol=1e-9)
        return result.values, result.consensus_errors, result.iterations

    local, remote, local_comm, remote_comm = both(ray_cluster, run)
    assert_identical(local, remote)
    assert_same_stats(local_comm, remote_comm)


def test_epg_ella_is_identical(ray_cluster: Any) -> None:
    from agents.lifelong import EPGELLA

    tasks = list(mtenvs.family("SimpleMass").sample(3, seed=0))

    def run(comm: Communicator) -> Any:
        algo = EPGELLA(ENV_ID, tasks, latent_dim=2, num_nodes=3, extra_edges=1, admm_iterations=10, admm_tol=1e-8,
                       n_trajectories=6, horizon=10, sigma=0.1, step_size=0.1, seed=0, comm=comm)
        algo.learn(2)
        algo.close()
        return _without_timings(algo.history), algo.bases, algo.coefficients, algo.thetas

    local, remote, local_comm, remote_comm = both(ray_cluster, run)
    assert_identical(local, remote)
    assert_same_stats(local_comm, remote_comm)


def test_distmt_lsvi_is_identical(ray_cluster: Any) -> None:
    from agents.lsvi.distmt import DistMTLSVI

    family = mtenvs.family("LinearContextual")
    tasks = [family.model(t) for t in family.tasks_of(family.task(num_tasks=3, c_sep=0.9))]

    def run(comm: Communicator) -> Any:
        algo = DistMTLSVI(tasks, n_agents=2, c_sep=0.9, episodes_phase1=15, episodes_phase2=20, seed=0, comm=comm)
        algo.learn(3)
        return algo.history, algo.episodes, algo.server.values, algo.server.origin, algo.server.statistics

    local, remote, local_comm, remote_comm = both(ray_cluster, run)
    assert_identical(local, remote)
    assert_same_stats(local_comm, remote_comm)


def test_coop_lsvi_is_identical(ray_cluster: Any) -> None:
    from agents.lsvi.coop import CoopLSVI

    task = mtenvs.family("LinearMDP").model({"instance": 0, "n_states": 5, "n_actions": 3, "dim": 4, "horizon": 3})

    def run(comm: Communicator) -> Any:
        algo = CoopLSVI([task] * 3, threshold=2.0, beta=1.0, seed=0, comm=comm).learn(12)
        return algo.history, [[s.gram for s in agent] for agent in algo.stats], algo.synced_logdet

    local, remote, local_comm, remote_comm = both(ray_cluster, run)
    assert_identical(local, remote)
    assert_same_stats(local_comm, remote_comm)


def test_multi_agent_coop_lsvi_is_identical(ray_cluster: Any) -> None:
    from agents.lsvi.mmdp import MultiAgentCoopLSVI
    from mtenvs.linear.multiagent import FAMILY

    model = FAMILY.model(FAMILY.default_task())

    def run(comm: Communicator) -> Any:
        algo = MultiAgentCoopLSVI(model, threshold=1.5, beta=1.0, seed=0, comm=comm).learn(6)
        return algo.history, [s.gram for s in algo.current], algo._data

    local, remote, local_comm, remote_comm = both(ray_cluster, run)
    assert_identical(local, remote)
    assert_same_stats(local_comm, remote_comm)


# ------------------------------------------------------------------------------------------------ runner and CLI

TINY_RUNS = {
    "000-distmt-scaling": ["seeds=1", "agents=2", "num_tasks=2", "episodes_phase1=15", "episodes_phase2=20"],
    "001-coop-rounds": ["episodes=12", "thresholds_alg1=2", "thresholds_alg2=2", "checkpoints=3", "seeds=1"],
}


def test_the_cli_rejects_a_backend_where_it_does_not_apply(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from mtenvs.cli import main

    assert main(["run", "cartpole-generalization", "--backend", "ray", "--out", str(tmp_path / "a")]) == 2
    error = capsys.readouterr().err
    assert "'cartpole-generalization' has no communication backend" in error and "001-coop-rounds" in error
    assert main(["run", "001-coop-rounds", "--address", "auto", "--out", str(tmp_path / "b")]) == 2
    assert "--address auto joins a Ray cluster: it needs --backend ray" in capsys.readouterr().err
    assert main(["run", "001-coop-rounds", "--backend", "mpi"]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_runner_reports_a_missing_ray_before_writing(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import importlib.util

    from mtenvs.runner import MissingExtra, plan_run

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(MissingExtra, match=r'pip install "mtenvs\[ray\]"'):
        plan_run("001-coop-rounds", backend="ray", out=tmp_path / "run")
    assert plan_run("001-coop-rounds", backend="local", out=tmp_path / "run").config.backend == "local"


@pytest.mark.parametrize("name", sorted(TINY_RUNS))
def test_a_run_on_ray_from_the_cli_equals_the_local_run(ray_cluster: Any, name: str, tmp_path: Any) -> None:
    from mtenvs.cli import main
    from mtenvs.runner import read_results, run_experiment

    local = run_experiment(name, overrides=TINY_RUNS[name], out=tmp_path / "local")
    sets = [arg for item in TINY_RUNS[name] for arg in ("--set", item)]
    assert main(["run", name, "--backend", "ray", "--quiet", "--out", str(tmp_path / "ray"), *sets]) == 0
    remote = read_results(tmp_path / "ray" / "results.json")
    assert local["config"]["backend"] == "local" and remote["config"]["backend"] == "ray"
    metrics = [[u["metrics"] for u in document["units"]] for document in (local, remote)]
    assert_identical(metrics[0], metrics[1])
    assert_identical(local["summary"], remote["summary"])
    assert ray_cluster.is_initialized()


def test_the_overhead_benchmark_counts_a_ring_mix(ray_cluster: Any) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "ray_overhead.py"
    spec = importlib.util.spec_from_file_location("ray_overhead", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    row = module.measure(nodes=5, rounds=2, dim=3, repeats=1)
    assert row["messages"] == 10 and row["bytes"] == 10 * 3 * 8  # 2 n messages of n float64 vectors per round
    assert row["local"] > 0 and row["ray"] > 0
