"""DCPG's agents as workers: the same run in process and on Ray (bit for bit), through actor deaths, and resumed from a
run checkpoint.

The in-process run is the reference: a Ray run with the same seed must give identical parameters, histories and
message counts, also when an agent's actor is killed between rounds or dies in the middle of one; a run stopped by
an exception and resumed from its checkpoint file must end exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from identical import assert_identical

import mtenvs
from agents.dcpg import TabularDCPG
from agents.dcpg.deep import DeepDCPG
from mtenvs.gridworld.chains import chain_model
from mtenvs.gridworld.tabular import TabularMDP

CHAIN = list(mtenvs.family("ConflictChain").task_set("challenge2"))
GRID_TASKS = list(mtenvs.family("GridWorld").task_set("a"))[:2]
DEEP = {"algo": "ppo", "n_envs": 1, "n_steps": 8, "learning_rate": 1e-3, "seed": 3,
        "policy_kwargs": {"net_arch": {"pi": [8], "vf": [8]}}}


@dataclasses.dataclass(frozen=True, eq=False)
class DyingChain(TabularMDP):
    """A chain model whose episode sampling kills its process once, after the test arms it (a worker dying mid-call)."""

    arm_flag: str = ""

    def sample_episode(self, policy: Any, rng: np.random.Generator, max_steps: int,
                       start_state: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        died = self.arm_flag + ".died"
        if os.path.exists(self.arm_flag) and not os.path.exists(died):
            Path(died).touch()
            os._exit(1)
        return super().sample_episode(policy, rng, max_steps, start_state)


def chain_agents(arm_flag: str | None = None) -> list[Any]:
    """Two agents playing their chain environments, and one sampling from the first task's model (gamma = 0.9 for all:
    the family's default)."""
    model = chain_model(CHAIN[0], 0.9)
    if arm_flag is not None:
        model = DyingChain(model.transitions, model.rewards, model.start, model.gamma, model.terminal, model.goal,
                           arm_flag=arm_flag)
    return [CHAIN[0], CHAIN[1], model]


def tabular(entries: list[Any], **kwargs: Any) -> TabularDCPG:
    return TabularDCPG(entries, "ring", gradient="mc", alpha=0.5, lam=0.01, seed=7, **kwargs)


def deep(**kwargs: Any) -> DeepDCPG:
    return DeepDCPG("mtenvs/GridWorld-v0", GRID_TASKS, **{**DEEP, **kwargs})  # type: ignore[arg-type]


def deep_result(dcpg: DeepDCPG) -> dict[str, Any]:
    """Everything a deep run produced (wall times aside), as plain values for bitwise comparison."""
    return {"theta": [v.numpy() for v in dcpg.parameter_vectors().values()],
            "history": [{k: v for k, v in r.items() if k != "seconds"} for r in dcpg.history],
            "comm": dataclasses.asdict(dcpg.communicator.stats)}


def tabular_result(dcpg: TabularDCPG) -> dict[str, Any]:
    return {"theta": dcpg.theta, "history": dcpg.history, "comm": dataclasses.asdict(dcpg.communicator.stats)}


@pytest.fixture(autouse=True)
def _ship_this_module_by_value() -> Any:
    """Ray's workers cannot import a test module: send DyingChain's code along with its pickles."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_resumed_monte_carlo_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    reference = tabular(chain_agents()).learn(10, log_interval=3)

    def crash(dcpg: TabularDCPG, record: Any) -> None:
        if dcpg.iteration == 8:  # the last checkpoint is from iteration 6: iterations 7 and 8 are run again
            raise RuntimeError("driver crash")

    path = tmp_path / "tabular.ckpt"
    with pytest.raises(RuntimeError, match="driver crash"):
        tabular(chain_agents()).learn(10, callback=crash, log_interval=3, checkpoint_path=path)
    resumed = tabular(chain_agents()).learn(10, log_interval=3, checkpoint_path=path)
    assert_identical(tabular_result(resumed), tabular_result(reference))
    assert [h["iteration"] for h in resumed.history] == [0, 3, 6, 9, 10]
    assert resumed.communicator.stats.rounds == 10


def test_monte_carlo_agents_draw_from_their_own_streams() -> None:
    """Agent 0's gradients do not depend on which other agents run beside it (its worker owns its generator)."""
    theta = np.random.default_rng(0).normal(size=(5, 2))
    three = tabular(chain_agents())
    alone = tabular(chain_agents())
    first = [three.local_gradient(0, theta) for _ in range(3)]
    for _ in range(2):
        alone.local_gradient(1, theta)
    assert_identical([alone.local_gradient(0, theta) for _ in range(3)], first)
    assert not np.array_equal(first[0], first[1])


def test_backend_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"backend must be one of \['local', 'ray'\], got 'mpi'"):
        TabularDCPG(CHAIN, backend="mpi")
    with pytest.raises(ValueError, match="backend_options apply to backend='ray' only"):
        tabular(chain_agents(), backend_options={"checkpoint_every": 2})
    with pytest.raises(ValueError, match="backend must be one of"):
        deep(backend="mpi")


def test_the_runner_offers_the_ray_backend_for_every_dcpg_experiment() -> None:
    from mtenvs.runner import plan_run

    for name in ("003-dcpg-chains", "003-dcpg-gridworld", "003-dcpg-drone"):
        assert plan_run(name, "quick", backend="ray").config.backend == "ray"
        assert plan_run(name, "quick").config.backend == "local"


# ------------------------------------------------------------------------------------------------ Ray
def test_deep_dcpg_on_ray_equals_local_through_a_killed_agent(ray_cluster: Any) -> None:
    reference = deep().learn(3)
    with deep(backend="ray", backend_options={"checkpoint_every": 3}) as dcpg:
        pids = dcpg.pool.pids()
        assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()  # one process per agent

        def kill(run: DeepDCPG, record: Any) -> None:
            if record.index == 1:   # between rounds, with calls to replay since the last checkpoint
                ray_cluster.kill(run.pool.actor(1))

        dcpg.learn(3, callback=kill)
        assert dcpg.pool.restarts == {0: 0, 1: 1}
        assert_identical(deep_result(dcpg), deep_result(reference))
        assert dcpg.history[-1]["comm_rounds"] == 3 and dcpg.communicator.stats.messages == 6
    assert ray_cluster.is_initialized()  # closing the run leaves a session it did not start


def test_monte_carlo_dcpg_on_ray_equals_local_through_deaths(ray_cluster: Any, tmp_path: Path) -> None:
    arm = str(tmp_path / "arm")
    reference = tabular(chain_agents()).learn(9, log_interval=3)
    with tabular(chain_agents(arm), backend="ray", backend_options={"checkpoint_every": 4}) as dcpg:

        def faults(run: TabularDCPG, record: Any) -> None:
            if run.iteration == 3:
                ray_cluster.kill(run.pool.actor(0))   # killed between calls
            if run.iteration == 6:
                Path(arm).touch()                     # agent 2 dies in the middle of iteration 7's update

        dcpg.learn(9, callback=faults, log_interval=3)
        assert os.path.exists(arm + ".died") and dcpg.pool.restarts == {0: 1, 1: 0, 2: 1}
        assert_identical(tabular_result(dcpg), tabular_result(reference))


def test_chains_experiment_runs_on_ray(ray_cluster: Any, tmp_path: Path) -> None:
    from mtenvs.runner import plan_run
    from mtenvs.runner.run import execute

    overrides = ["iterations1=60", "iterations2=60", "log_interval=20"]
    documents = [execute(plan_run("003-dcpg-chains", "quick", overrides=overrides, backend=backend,
                                  out=tmp_path / backend)) for backend in ("local", "ray")]
    assert documents[1]["config"]["backend"] == "ray"
    assert_identical(documents[1]["summary"], documents[0]["summary"])
