"""PG-ELLA and GO-MTL through a task sequence, and the continual-baselines experiment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.lifelong import GOMTL, PGELLA
from agents.lifelong.continual import SequentialLifelong
from mtenvs.continual import SequenceEvaluator, TaskSequence

SEQ = TaskSequence.spread("mtenvs/SimpleMass-v0", 3, 300, seed=0)


@pytest.mark.parametrize("method", ["PG-ELLA", "GO-MTL"])
def test_only_the_current_task_is_learned(method: str) -> None:
    learner = SequentialLifelong(method, SEQ, seed=0, n_trajectories=2, horizon=50, latent_dim=1)
    evaluator = SequenceEvaluator(SEQ, episodes=1, eval_points=3)
    assert learner.iterations_per_task == 3
    evaluator.maybe_record(0, policy_for=learner.policy_for)
    learner.learn_task(0, evaluator)
    inner = learner.learner
    assert list(inner.seen) == [True, False, False]
    assert np.all(inner.thetas[1:] == 0) and np.any(inner.thetas[0] != 0)  # unseen tasks keep theta = 0
    learner.learn_task(1, evaluator)
    assert list(inner.seen) == [True, True, False]
    assert [e["step"] for e in evaluator.history] == [0, 100, 200, 300, 400, 500, 600]
    learner.close()


def test_pg_ella_visit_is_its_update_for_one_task() -> None:
    """One iteration of PG-ELLA on a single task equals one visit of that task (the same random draws)."""
    tasks = [SEQ.tasks[0]]
    a = PGELLA(SEQ.env_id, tasks, n_trajectories=3, horizon=40, latent_dim=1, seed=5)
    a.learn(1)
    b = PGELLA(SEQ.env_id, tasks, n_trajectories=3, horizon=40, latent_dim=1, seed=5)
    traj = b.sampler.sample(b.policy, b.thetas, b.rng)
    b.rng.permutation(1)  # the update's (trivial) task order draw
    b.visit(0, traj.of_task(0))
    assert np.array_equal(a.thetas, b.thetas) and np.array_equal(a.basis, b.basis)
    for learner in (a, b):
        learner.close()


def test_go_mtl_fit_over_all_tasks_is_its_update() -> None:
    tasks = list(SEQ.tasks)
    a = GOMTL(SEQ.env_id, tasks, n_trajectories=3, horizon=40, latent_dim=1, seed=2)
    a.learn(1)
    b = GOMTL(SEQ.env_id, tasks, n_trajectories=3, horizon=40, latent_dim=1, seed=2)
    traj = b.sampler.sample(b.policy, b.thetas, b.rng)
    b.fit([0, 1, 2], [b.natural_gradient_point(traj.of_task(j), b.thetas[j]) for j in range(3)])
    assert np.array_equal(a.thetas, b.thetas) and np.array_equal(a.basis, b.basis)
    for learner in (a, b):
        learner.close()


def test_bad_method_and_budget() -> None:
    with pytest.raises(ValueError, match=r"^method"):
        SequentialLifelong("ePG", SEQ)
    with pytest.raises(ValueError, match=r"^budget"):
        SequentialLifelong("PG-ELLA", SEQ.with_budget(10), n_trajectories=2, horizon=50)


def test_continual_baselines_quick_run(tmp_path: Path) -> None:
    from mtenvs.cli import main

    out = tmp_path / "run"
    assert main(["run", "continual-baselines", "--size", "quick", "--out", str(out), "--quiet",
                 "--set", "budget=1000", "--set", "methods=PPO,PG-ELLA"]) == 0
    document = json.loads((out / "results.json").read_text())
    summary = document["summary"]
    for method in ("PPO", "PG-ELLA"):
        for metric in ("average_performance", "scratch_performance", "forgetting", "forward_transfer"):
            estimate = summary[f"{method}/{metric}"]
            assert estimate["n"] == 1 and estimate["low"] == estimate["high"] == estimate["mean"]  # one seed: a point
    assert (out / "continual-baselines.png").exists() and (out / "continual-baselines-matrix.png").exists()
