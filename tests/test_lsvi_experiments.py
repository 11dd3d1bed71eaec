"""The LSVI reproductions run end to end at a tiny size and write schema-valid results with their claims."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from mtenvs.runner import get, plan_run, schema
from mtenvs.runner.run import execute

TINY = {
    "000-distmt-scaling": ["seeds=1", "agents=1,2", "num_tasks=2", "episodes_phase1=30", "episodes_phase2=40"],
    "001-coop-heterogeneity": ["seeds=1", "n_agents=2", "episodes=30", "checkpoints=4"],
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


def test_distmt_oracle_stopped_numbers_come_from_the_same_trajectory(tmp_path: Path) -> None:
    """Stopping at coverage does not change the rounds before it: the episodes an Algorithm 1 run records at its first
    covering round are exactly those of the oracle-stopped run with the same seed, and Algorithm 1 runs T rounds."""
    from agents.lsvi.theory import distmt_rounds

    args = ["seeds=1", "agents=1,2", "num_tasks=2", "episodes_phase1=30", "episodes_phase2=40"]
    runs = {protocol: execute(plan_run(get("000-distmt-scaling"), "quick", overrides=[*args, f"protocol={protocol}"],
                                       out=tmp_path / protocol))
            for protocol in ("algorithm1", "oracle-stop")}
    full = {u["params"]["agents"]: u["metrics"] for u in runs["algorithm1"]["units"]}
    stopped = {u["params"]["agents"]: u["metrics"] for u in runs["oracle-stop"]["units"]}
    for n in (1, 2):
        assert full[n]["rounds"] == distmt_rounds(2, n, 0.1)
        assert stopped[n]["covered"] and stopped[n]["rounds"] == stopped[n]["covered_round"] + 1
        assert full[n]["covered_episodes_mean"] == stopped[n]["episodes_mean"]
        assert full[n]["episodes_mean"] >= stopped[n]["episodes_mean"]
    assert runs["oracle-stop"]["summary"]["slope_oracle_stop"]["mean"] == runs["oracle-stop"]["summary"]["slope"]["mean"]


def test_heterogeneity_summarizes_each_setting_from_its_own_units(tmp_path: Path) -> None:
    """Per setting, the summary is `001-coop-regret`'s over that setting's units only: the mean final regret of each
    method is the mean of its units' in that setting, and the large setting runs Algorithm 3 (agent features)."""
    import numpy as np

    from agents.experiments.lsvi_coop_heterogeneity import Config, setting_config

    assert setting_config(Config(), "large").setting == "large" and setting_config(Config(xi=0.2), "small").xi == 0.2
    document = execute(plan_run(get("001-coop-heterogeneity"), "quick",
                                overrides=["seeds=2", "n_agents=2", "episodes=30", "checkpoints=4"], out=tmp_path / "h"))
    for setting in ("small", "large"):
        for method in ("independent", "coop", "always"):
            finals = [u["metrics"]["final_regret"] for u in document["units"]
                      if u["params"]["setting"] == setting and u["params"]["method"] == method]
            assert len(finals) == 2
            assert document["summary"][f"{setting}_{method}_regret"]["mean"] == pytest.approx(np.mean(finals))
    assert document["summary"]["small_always_sync_episodes"]["mean"] == 30  # S = 0: a synchronization every episode
