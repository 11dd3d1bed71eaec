"""The shipped experiments through the command line at quick size, and resume of a real training run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image

from mtenvs.cli import main as cli
from mtenvs.runner import get, plan_run, schema
from mtenvs.runner.run import execute

SMALL = ["blocks=2", "steps_per_block=2048", "n_envs=4", "eval_tasks=3", "eval_episodes=1"]


def test_cartpole_generalization_runs_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert cli(["run", "cartpole-generalization", "--size", "quick", "--out", str(out), "--quiet"]) == 0
    document = json.loads((out / "results.json").read_text())
    jsonschema.validate(document, schema())
    assert document["status"] == "complete" and len(document["units"]) == 3
    summary = document["summary"]
    for split in ("train", "test", "ood"):
        assert summary[f"{split}_score"]["mean"] is not None
    # after 24k steps PPO balances the training tasks far better than random (score 0)
    assert summary["train_score"]["mean"] > 0.3
    with Image.open(out / "cartpole-generalization.png") as image:
        assert image.format == "PNG"
    printed = capsys.readouterr().out
    assert "train_score" in printed and str(out / "results.json") in printed


def test_interrupted_training_resumes_to_identical_results(tmp_path: Path) -> None:
    experiment = get("cartpole-generalization")
    calls = {"n": 0}

    def crash_on_second_block(cfg: Any, unit: Any, ctx: Any) -> Any:
        calls["n"] += 1
        if unit.params["block"] == 1:
            raise KeyboardInterrupt("simulated kill")
        return experiment.compute(cfg, unit, ctx)

    crashing = dataclasses.replace(experiment, compute=crash_on_second_block)
    with pytest.raises(KeyboardInterrupt):
        execute(plan_run(crashing, "quick", overrides=SMALL, out=tmp_path / "resumed"))
    partial = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert partial["status"] == "running" and len(partial["units"]) == 1

    resumed = execute(plan_run(experiment, "quick", overrides=SMALL, out=tmp_path / "resumed"))
    straight = execute(plan_run(experiment, "quick", overrides=SMALL, out=tmp_path / "straight"))
    assert calls["n"] == 2
    assert resumed["units"][0] == partial["units"][0]  # the finished block was kept, not recomputed
    assert [u["metrics"] for u in resumed["units"]] == [u["metrics"] for u in straight["units"]]
    assert resumed["summary"] == straight["summary"]
