"""ePG-ELLA's processor nodes as workers: the same run in process and in Ray actors, through actor deaths and resumes.

The in-process run is the reference: on Ray (one actor per node) the same seed must give bit-identical histories,
node copies ``L_i``, coefficients, policies and communication counts, also when a node's actor is killed between
iterations or dies inside a call (it is restarted from its last checkpoint and replays the calls since), and a run
resumed from its checkpoint file must end exactly as an uninterrupted one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from identical import assert_identical

import mtenvs
from agents.lifelong import EPGELLA
from agents.lifelong.admm import ConsensusNode
from agents.lifelong.workers import ProcessorNode

ENV_ID = "mtenvs/SimpleMass-v0"
TASKS = list(mtenvs.family("SimpleMass").sample(4, seed=0))


def learner(backend: str = "local", **kwargs: Any) -> EPGELLA:
    """3 nodes (a chain plus one edge), 4 SimpleMass tasks (node 0 owns two), greedy evaluation on."""
    return EPGELLA(ENV_ID, TASKS, latent_dim=2, num_nodes=3, extra_edges=1, admm_iterations=12, admm_tol=1e-8,
                   n_trajectories=6, horizon=12, sigma=0.1, step_size=0.1, evaluate=True, seed=3, backend=backend,
                   **kwargs)


def outcome(algo: EPGELLA) -> dict[str, Any]:
    """Everything a run produces except wall times."""
    history = [{k: v for k, v in record.items() if not k.endswith("seconds")} for record in algo.history]
    return {"history": history, "bases": algo.bases, "coefficients": algo.coefficients, "thetas": algo.thetas,
            "comm": algo.comm.stats.as_dict()}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The uninterrupted in-process run of 3 iterations."""
    algo = learner()
    try:
        return outcome(algo.learn(3))
    finally:
        algo.close()


class DyingNode(ProcessorNode):
    """A node whose process vanishes once, in its first ADMM step after its basis was first set."""

    flag = ""

    def admm(self, method: Any, requests: Any, inbox: Any) -> Any:
        if method is ConsensusNode.step and self.node == 1 and np.any(self.basis) and not os.path.exists(self.flag):
            Path(self.flag).touch()
            os._exit(1)
        return super().admm(method, requests, inbox)


@pytest.fixture
def _ship_this_module_by_value() -> Any:
    """Ray's workers cannot import a test module: send DyingNode's code along with its pickles."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


# ------------------------------------------------------------------------------------------------ in process


def test_the_run_is_reproducible_and_reaches_consensus(reference: dict[str, Any]) -> None:
    algo = learner()
    try:
        assert_identical(outcome(algo.learn(3)), reference)
    finally:
        algo.close()
    last = reference["history"][-1]
    assert last["alg2_consensus_errors"][-1] < 1e-2 * last["alg2_consensus_errors"][0]  # the node copies agree
    np.testing.assert_allclose(reference["thetas"][3], reference["bases"][0] @ reference["coefficients"][3])
    assert len(set(reference["history"][0]["task_rewards"])) == 4  # every task rolled out by its own owner


def test_bad_backends_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"backend must be one of \['local', 'ray'\]"):
        learner(backend="mpi")
    with pytest.raises(ValueError, match="backend_options apply to backend='ray' only"):
        learner(backend_options={"checkpoint_every": 1})
    with pytest.raises(ValueError, match=r"unknown backend_options \['workers'\]"):
        learner(backend="ray", backend_options={"workers": 2})
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError(name="ray")
        patch.delitem(sys.modules, "agents.common.ray_backend", raising=False)
        with pytest.raises(ImportError, match=r'needs Ray, an optional extra: pip install "mtenvs\[ray\]"'):
            learner(backend="ray")
    algo = learner()
    with pytest.raises(ValueError, match="does not own tasks"):
        algo.pool.map(ProcessorNode.hold_trajectories, {1: ({0: None},)})
    algo.close()


# ------------------------------------------------------------------------------------------------ Ray


@pytest.mark.usefixtures("_ship_this_module_by_value")
def test_killed_node_actors_are_restarted_without_changing_the_run(ray_cluster: Any, reference: dict[str, Any],
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    import agents.lifelong.epg_ella as epg_ella

    monkeypatch.setattr(DyingNode, "flag", str(tmp_path / "died"))
    monkeypatch.setattr(epg_ella, "ProcessorNode", DyingNode)  # node 1 dies inside a call in iteration 2

    def kill_node_2(algo: EPGELLA, record: dict[str, Any]) -> None:
        if record.index == 2:
            ray_cluster.kill(algo.pool.actor(2))  # killed between iterations

    algo = learner("ray")
    try:
        assert_identical(outcome(algo.learn(3, callback=kill_node_2)), reference)
        assert (tmp_path / "died").exists() and algo.pool.restarts == {0: 0, 1: 1, 2: 1}
    finally:
        algo.close()
