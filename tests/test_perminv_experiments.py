"""The paper-004 reproductions run end to end through the runner at a tiny size (results schema, summary, plot)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from mtenvs.runner import plan_run, schema
from mtenvs.runner.run import execute

TINY = {
    "004-synthetic": {"seeds": 2, "mismatches": (0.0, 0.8), "sample_sizes": (20, 400), "eval_states": 500},
    "004-portfolio": {"seeds": 1, "methods": ("pmtl", "stl"), "source": "synthetic", "train_tasks": 2, "heldout_tasks": 1,
                      "updates_per_task": 3, "window": 5, "batch_size": 10},
    "004-federated": {"seeds": 1, "episodes": 1, "rounds": 4, "n_steps": 4, "batch_size": 16, "n_epochs": 1,
                      "eval_tasks": 1},
}


@pytest.mark.parametrize("name", list(TINY))
def test_reproduction_runs_and_reports(name: str, tmp_path: Path) -> None:
    document = execute(plan_run(name, "quick", overrides=TINY[name], out=tmp_path / name))
    jsonschema.validate(json.loads((tmp_path / name / "results.json").read_text()), schema())
    assert document["status"] == "complete"
    summary = document["summary"]
    for claim in document["claims"]:
        assert claim["metric"] in summary, claim["metric"]
    assert list(tmp_path.glob(f"{name}/*.png"))


def test_synthetic_reproduction_shows_the_epsilon_gap(tmp_path: Path) -> None:
    document = execute(plan_run("004-synthetic", "quick", overrides=TINY["004-synthetic"], out=tmp_path))
    summary = document["summary"]
    # with 400 real samples LSPI beats its 20-sample fit, and at ε = 0.8 the permuted samples cannot match real ones
    assert summary["real_gain"]["low"] > 0
    # the gain's mean is the difference of the regret means, over every (seed, ε) run
    runs = [u["metrics"] for u in document["units"]]
    assert summary["real_gain"]["mean"] == pytest.approx(np.mean([r["real_regret_n20"] for r in runs])
                                                         - np.mean([r["real_regret_n400"] for r in runs]))
    for key, value in summary.items():  # regrets are >= 0 and so are their intervals
        if "_regret_" in key:
            assert value["low"] >= 0 and value["method"] == "student-t, clipped to [0, inf)"
    assert summary["gap_eps0.8_n400"]["mean"] > summary["gap_eps0_n400"]["mean"]
