"""Every method on the one contract (`agents.common.method.Method`), swept like `test_conformance.py` sweeps the envs.

For each registered method: `learn` runs and hands the callback one `UnitRecord` per unit; a callback returning
`False` stops after that unit; `learn(a + b)` equals `learn(a)`, `save`, `load`, `learn(b)` bit for bit, and a run
whose driver died resumes from its checkpoint file to the same end; Ray equals local for the multi-agent methods;
bad arguments name the field; the progress bar runs; the SB3 logger writes every unit's metrics to CSV.

A new method joins by adding a `Case` to `CASES`: a factory of a small instance (keywords go to the constructor) and
the outcome two runs must agree on.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from identical import assert_identical
from stable_baselines3.common.logger import configure

import mtenvs
from agents.common.method import CallbackList, Method, MethodCallback, StopAfterUnits, UnitRecord
from agents.dcpg import TabularDCPG
from agents.dcpg.deep import DeepDCPG
from agents.lifelong import EPGELLA, GOMTL, PG, PGELLA
from agents.lsvi.coop import CoopLSVI, HeterogeneousCoopLSVI
from agents.lsvi.distmt import DistMTLSVI
from agents.lsvi.mmdp import MultiAgentCoopLSVI
from agents.perminv import AllocationLSPI
from agents.perminv.direct_pg import PortfolioPG
from agents.sharing.agent import LearnerConfig
from agents.sharing.simnet import SimilarityMatcher, SimNetConfig
from agents.sharing.system import SharingSystem
from mtenvs.progress import ProgressOptions


def without_times(value: Any) -> Any:
    """`value` with every wall-time entry dropped (keys ending in "seconds", and "wall_time")."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if not (str(k).endswith("seconds") or k == "wall_time")}
    if isinstance(value, list | tuple):
        return [without_times(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class Case:
    """One method in the sweep: `make(**kwargs)` builds a small instance, `outcome(method)` is what runs compare."""

    name: str
    make: Callable[..., Method]
    outcome: Callable[[Any], Any]
    ray: bool = False   # multi-agent: takes backend="ray" and must give the local result (checked here) ...
    ray_checked_by: str = ""   # ... unless a stronger test (Ray equals local through actor deaths) names it
    slow: bool = False


# ------------------------------------------------------------------------------------------------ the registry
LIFELONG_ENV = "mtenvs/SimpleMass-v0"
LIFELONG_TASKS = list(mtenvs.family("SimpleMass").sample(3, seed=0))
LIFELONG = {"n_trajectories": 4, "horizon": 8, "sigma": 0.1, "step_size": 0.1, "seed": 0}
LINEAR = {"instance": 0, "n_states": 5, "n_actions": 3, "dim": 4, "horizon": 3}
CHAIN = list(mtenvs.family("ConflictChain").task_set("challenge2"))
GRID = list(mtenvs.family("GridWorld").task_set("a"))[:2]
SHARING = LearnerConfig(steps_per_task=40, learning_starts=10, buffer_size=200, buffer_cap=20, offline_steps=3,
                        fisher_samples=8, target_update_interval=20, max_episode_steps=20)
SIMNET = SimNetConfig(steps=20, learning_starts=10, target_update_interval=10, max_episode_steps=20)


def lifelong(cls: type, **extra: Any) -> Callable[..., Method]:
    return lambda **kwargs: cls(LIFELONG_ENV, LIFELONG_TASKS, **{**LIFELONG, **extra, **kwargs})


def lifelong_outcome(method: Any) -> Any:
    comm = getattr(method, "comm", None)
    return without_times(method.history), method.thetas, comm.stats.as_dict() if comm is not None else None


def linear_mdp() -> Any:
    return mtenvs.family("LinearMDP").model(LINEAR)


def heterogeneous_tasks() -> list[Any]:
    family = mtenvs.family("LinearLargeHeterogeneity")
    return [family.model(family.task(agent=m, **{k: v for k, v in LINEAR.items() if k != "instance"}))
            for m in range(2)]


def distmt(**kwargs: Any) -> DistMTLSVI:
    family = mtenvs.family("LinearContextual")
    tasks = [family.model(t) for t in family.tasks_of(family.task(num_tasks=3, c_sep=0.9))]
    return DistMTLSVI(tasks, n_agents=2, c_sep=0.9, episodes_phase1=8, episodes_phase2=10, seed=0, **kwargs)


def mmdp(**kwargs: Any) -> MultiAgentCoopLSVI:
    from mtenvs.linear.multiagent import FAMILY

    return MultiAgentCoopLSVI(FAMILY.model(FAMILY.default_task()), threshold=1.0, beta=1.0, seed=2, **kwargs)


def portfolio(**kwargs: Any) -> PortfolioPG:
    family = mtenvs.family("Portfolio")
    return PortfolioPG(gym.make("mtenvs/Portfolio-v0", window=5), [family.task(selection=1)], batch_size=8, seed=0,
                       **kwargs)


def lspi(**kwargs: Any) -> AllocationLSPI:
    rng = np.random.default_rng(0)
    x, x_next = rng.random((60, 3)), rng.random((60, 3))
    a = rng.dirichlet(np.ones(3), size=60)
    return AllocationLSPI(3, gamma=0.5, ridge=1e-6, max_iterations=50, tol=0.0,
                          samples=(x, a, (x * a).sum(axis=1), x_next), **kwargs)


def sharing(**kwargs: Any) -> SharingSystem:
    return SharingSystem(["Breakout", "Pong"], 2, SHARING, None, SIMNET, SimilarityMatcher(tau=None),
                         seed=3, **kwargs)


def net_parameters(net: Any) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in net.parameters()]


CASES = [
    Case("PG-eNAC", lifelong(PG), lifelong_outcome),
    Case("PG-REINFORCE", lifelong(PG, estimator="reinforce"), lifelong_outcome),
    Case("PG-ELLA", lifelong(PGELLA, latent_dim=2), lifelong_outcome),
    Case("GO-MTL", lifelong(GOMTL, latent_dim=2), lifelong_outcome),
    Case("ePG-ELLA", lifelong(EPGELLA, latent_dim=2, num_nodes=3, extra_edges=1, admm_iterations=4), lifelong_outcome,
         ray=True, ray_checked_by="test_ray_lifelong.test_killed_node_actors_are_restarted_without_changing_the_run"),
    Case("LSVI", lambda **kw: CoopLSVI([linear_mdp()], beta=1.0, seed=0, **kw),
         lambda m: (m.history, m.synced_logdet)),
    Case("Coop-LSVI", lambda **kw: CoopLSVI([linear_mdp()] * 3, threshold=2.0, beta=1.0, seed=0, **kw),
         lambda m: (m.history, m.comm.stats.as_dict(), m.synced_logdet), ray=True,
         ray_checked_by="test_ray_lsvi.test_coop_on_ray_equals_local_when_actors_die"),
    Case("Coop-LSVI-heterogeneous", lambda **kw: HeterogeneousCoopLSVI(heterogeneous_tasks(), threshold=0.0, beta=1.0,
                                                                        seed=0, **kw),
         lambda m: (m.history, m.comm.stats.as_dict(), m.synced_logdet), ray=True),
    Case("Coop-LSVI-multiagent", mmdp, lambda m: (m.history, m.comm.stats.as_dict())),
    Case("DistMT-LSVI", distmt, lambda m: (m.history, m.comm.stats.as_dict()), ray=True,
         ray_checked_by="test_ray_lsvi.test_distmt_on_ray_equals_local_when_an_agent_and_the_server_die"),
    Case("DCPG-tabular-exact", lambda **kw: TabularDCPG(CHAIN, "ring", alpha=0.5, lam=0.01, seed=7, log_interval=1,
                                                                     **kw),
         lambda m: (m.history, m.theta)),
    Case("DCPG-tabular-mc", lambda **kw: TabularDCPG(CHAIN, "ring", gradient="mc", alpha=0.5, lam=0.01, seed=7,
                                                                  log_interval=1, **kw),
         lambda m: (m.history, m.theta), ray=True,
         ray_checked_by="test_ray_dcpg.test_monte_carlo_dcpg_on_ray_equals_local_through_deaths"),
    Case("DCPG-deep", lambda **kw: DeepDCPG("mtenvs/GridWorld-v0", GRID, algo="ppo", n_envs=1, n_steps=8, seed=3,
                                            policy_kwargs={"net_arch": {"pi": [8], "vf": [8]}}, **kw),
         lambda m: (without_times(m.history), m.average_vector().numpy()), ray=True,
         ray_checked_by="test_ray_dcpg.test_deep_dcpg_on_ray_equals_local_through_a_killed_agent"),
    Case("portfolio-PG", portfolio, lambda m: (m.history, net_parameters(m.net))),
    Case("LSPI", lspi, lambda m: (m.theta, m.iterations)),
    Case("Atari-sharing", sharing, lambda m: (without_times(m.records), m.comm.stats.as_dict()), ray=True,
         ray_checked_by="test_ray_sharing.test_sharing_on_ray_equals_in_process_through_agent_and_hub_deaths", slow=True),
]


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in cases]


def close(method: Any) -> None:
    if hasattr(method, "close"):
        method.close()


# ------------------------------------------------------------------------------------------------ the sweep
@pytest.mark.parametrize("case", params(CASES))
def test_learn_hands_one_record_per_unit_and_a_false_callback_stops(case: Case) -> None:
    method = case.make()
    seen: list[UnitRecord] = []
    try:
        assert method.learn(1, callback=lambda m, r: seen.append(r)) is method
        method.learn(2, callback=lambda m, r: seen.append(r) or r.index < 2)   # continues; stops after unit 2
        assert method.num_units == 2 and [r.index for r in seen] == [1, 2]
        for record in seen:
            assert isinstance(record, UnitRecord) and record.unit == type(method).unit
            assert all(isinstance(k, str) and type(v) is float for k, v in record.metrics.items())
            assert record.wall_time >= 0
            assert (record.comm_rounds is None) == (record.comm_bytes is None)
    finally:
        close(method)


@pytest.mark.parametrize("case", params(CASES))
def test_save_load_resumes_exactly(case: Case, tmp_path: Path) -> None:
    uninterrupted = case.make()
    first = case.make()
    try:
        reference = case.outcome(uninterrupted.learn(2))
        first.learn(1)
        first.save(tmp_path / "method.pkl")
    finally:
        close(uninterrupted)
        close(first)
    resumed = type(first).load(tmp_path / "method.pkl")
    try:
        assert resumed.num_units == 1
        assert_identical(case.outcome(resumed.learn(1)), reference)
    finally:
        close(resumed)


@pytest.mark.parametrize("case", params(CASES))
def test_a_run_whose_driver_died_resumes_from_its_checkpoint(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"

    def dies(method: Any, record: UnitRecord) -> None:
        if record.index == 1:
            raise KeyboardInterrupt("the driver goes away")

    uninterrupted, interrupted = case.make(), case.make()
    try:
        reference = case.outcome(uninterrupted.learn(2))
        with pytest.raises(KeyboardInterrupt):
            interrupted.learn(2, callback=dies, checkpoint_path=path)
    finally:
        close(uninterrupted)
        close(interrupted)
    resumed, seen = case.make(), []
    try:
        resumed.learn(2, callback=lambda m, r: seen.append(r.index), checkpoint_path=path)
        assert seen == [2]                                  # unit 1 came from the checkpoint
        assert_identical(case.outcome(resumed), reference)
    finally:
        close(resumed)


def test_every_multi_agent_method_is_checked_on_ray() -> None:
    """A case whose Ray check lives in a fault-injection test names a test that exists."""
    import importlib

    for case in CASES:
        if case.ray_checked_by:
            module, test = case.ray_checked_by.split(".")
            assert callable(getattr(importlib.import_module(module), test)), case.ray_checked_by


@pytest.mark.parametrize("case", params([c for c in CASES if c.ray and not c.ray_checked_by]))
def test_ray_equals_local(case: Case, ray_cluster: Any) -> None:
    local = case.make()
    try:
        reference = case.outcome(local.learn(2))
    finally:
        close(local)
    remote = case.make(backend="ray")
    try:
        remote.learn(2)
        outcome = case.outcome(remote)
    finally:
        close(remote)
    assert_identical(outcome, reference)


@pytest.mark.parametrize("case", params([c for c in CASES if not c.slow]))
def test_bad_arguments_name_the_field(case: Case) -> None:
    with pytest.raises(TypeError, match="bogus_rate"):
        case.make(bogus_rate=1.0)
    method = case.make()
    try:
        for total, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)):
            with pytest.raises(error, match="total"):
                method.learn(total)
        with pytest.raises(ValueError, match="checkpoint_every"):
            method.learn(1, checkpoint_every=0)
        with pytest.raises(TypeError, match="callback"):
            method.learn(1, callback=3)
        assert method.num_units == 0
    finally:
        close(method)


@pytest.mark.parametrize("case", params(CASES))
def test_progress_bar_and_logger(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    method = case.make()
    stream = io.StringIO()
    try:
        method.set_logger(configure(str(tmp_path), ["csv"]))
        method.learn(1, progress_bar=True)
        method.learn(1, progress_bar=ProgressOptions(leave=False, position=1, stream=stream, interval=0.0,
                                                     indent="  "))
        with pytest.raises(ValueError, match="progress_bar"):
            method.learn(1, progress_bar="yes")
        assert method.num_units == 2
    finally:
        close(method)
    unit, name = type(method).unit, type(method).__name__
    assert f"{name}: 1/1 {unit} | elapsed" in capsys.readouterr().err   # captured stderr is no terminal: plain lines
    assert stream.getvalue().startswith(f"  {name}: 1/1 {unit} | elapsed")   # the nested configuration's stream
    with open(tmp_path / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r[f"time/{unit}s"]) for r in rows] == [1.0, 2.0]
    assert any(key.startswith("train/") for key in rows[0])
    assert all(math.isfinite(float(r["time/unit_seconds"])) for r in rows)


# ------------------------------------------------------------------------------------------------ callbacks
class Counting(MethodCallback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def _on_training_start(self) -> None:
        self.events.append("start")

    def _on_unit(self, record: UnitRecord) -> bool:
        self.events.append(f"unit {record.index}")
        return True

    def _on_training_end(self) -> None:
        self.events.append("end")


def test_callback_classes_and_lists_work_as_in_sb3() -> None:
    method = CASES[0].make()
    counting, calls = Counting(), []
    try:
        method.learn(5, callback=[counting, lambda m, r: calls.append(m is method), StopAfterUnits(2)])
    finally:
        close(method)
    assert counting.events == ["start", "unit 1", "unit 2", "end"] and counting.method is method
    assert calls == [True, True] and method.num_units == 2
    assert isinstance(CallbackList([]), MethodCallback)
    with pytest.raises(ValueError, match="units"):
        StopAfterUnits(0)


def test_load_rejects_another_methods_file(tmp_path: Path) -> None:
    method = lspi()
    method.learn(1)
    method.save(tmp_path / "lspi.pkl")
    with pytest.raises(ValueError, match="not a saved"):
        PortfolioPG.load(tmp_path / "lspi.pkl")
    with pytest.raises(FileNotFoundError):
        AllocationLSPI.load(tmp_path / "missing.pkl")
    loaded = AllocationLSPI.load(tmp_path / "lspi.pkl", max_iterations=3)  # the saved state wins over arguments
    assert loaded.num_units == 1 and loaded.max_iterations == 50


class Counter(Method):
    """A minimal method: each unit adds a random draw to a running sum."""

    unit = "step"
    _resources = ("lock",)

    def __init__(self, lock: Any, seed: int = 0) -> None:
        self.lock, self.rng, self.total = lock, np.random.default_rng(seed), 0.0

    def _learn_unit(self) -> dict[str, float]:
        self.total += float(self.rng.random())
        return {"total": self.total}


def test_arguments_that_do_not_pickle_are_passed_to_load(tmp_path: Path) -> None:
    import threading

    method = Counter(threading.Lock(), seed=1).learn(2)
    method.save(tmp_path / "counter.pkl")
    with pytest.raises(ValueError, match="did not pickle; pass them to load"):
        Counter.load(tmp_path / "counter.pkl")
    resumed = Counter.load(tmp_path / "counter.pkl", threading.Lock()).learn(1)
    assert resumed.total == Counter(threading.Lock(), seed=1).learn(3).total and resumed.num_units == 3


# ------------------------------------------------------------------------------ the SB3-face methods' progress
def isppo() -> Any:
    from agents.perminv import ISPPO, PermutationInvariantPolicy, PrioritizedTasks
    from mtenvs.sb3 import make_vec_env

    tasks = mtenvs.family("EntityAllocation").task_set("train")[:2]
    sampler = PrioritizedTasks(tasks)
    venv = make_vec_env("mtenvs/EntityAllocation-v0", 2, tasks=sampler, seed=0)
    return ISPPO(PermutationInvariantPolicy, venv, sampler=sampler, n_steps=16, batch_size=16, n_epochs=1, seed=0,
                 device="cpu", policy_kwargs={"features_extractor_kwargs": {"kind": "mlp", "hidden": 8}})


def ewc_dqn() -> Any:
    from agents.sharing.ewc import EWCDQN

    return EWCDQN("MlpPolicy", gym.make("CartPole-v1"), learning_starts=8, buffer_size=200, batch_size=8, seed=0,
                  device="cpu")


@pytest.mark.parametrize("make", [isppo, ewc_dqn], ids=["ISPPO", "EWC-DQN"])
def test_sb3_subclasses_show_progress_as_sb3_does_and_through_mtenvs_progress(make: Callable[[], Any]) -> None:
    """ISPPO and EWC-DQN keep SB3's face: its own `progress_bar=True`, or `mtenvs.sb3.ProgressCallback` nested."""
    from mtenvs.sb3 import ProgressCallback, without_log_folder

    model = without_log_folder(make())
    model.learn(32, progress_bar=True)
    stream = io.StringIO()
    model.learn(32, callback=ProgressCallback(ProgressOptions(stream=stream, interval=0.0, indent="  ")))
    assert model.num_timesteps >= 32                    # each learn counts from 0 (reset_num_timesteps=True)
    name = type(model).__name__
    assert stream.getvalue().splitlines()[-1].startswith(f"  {name}: 32/32 steps | elapsed")
