"""The four LSVI reproductions run end to end at a tiny size and write schema-valid results with their claims."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from mtenvs.runner import get, plan_run, schema
from mtenvs.runner.run import execute

TINY = {
    "000-distmt-scaling": ["seeds=1", "agents=1,2", "num_tasks=2", "episodes_phase1=30", "episodes_phase2=40"],
    "001-coop-regret": ["seeds=1", "n_agents=2", "episodes=30", "checkpoints=4"],
    "001-coop-rounds": ["episodes=30", "thresholds_alg1=10", "thresholds_alg2=10", "checkpoints=4"],
    "001-pareto-regret": ["seeds=1", "episodes=20", "thresholds=2", "n_weights=10", "checkpoints=3"],
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_experiment_runs_and_reports_its_claims(name: str, tmp_path: Path) -> None:
    experiment = get(name)
    document = execute(plan_run(experiment, "quick", overrides=TINY[name], out=tmp_path / name))
    jsonschema.validate(document, schema())
    assert document["status"] == "complete"
    for claim in experiment.claims:
        assert claim.metric in document["summary"]
    assert (tmp_path / name / f"{name}.png").exists()
