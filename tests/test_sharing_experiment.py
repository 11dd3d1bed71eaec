"""The Atari sharing experiments run end to end at toy size and report what the paper compares."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from mtenvs.runner import get, plan_run, schema
from mtenvs.runner.run import execute

TINY = ["games=Breakout,Pong", "num_games=2", "steps_per_task=100", "simnet_steps=100", "offline_steps=5",
        "buffer_size=300", "buffer_cap=200", "learning_starts=40", "target_update_interval=40", "fisher_samples=10",
        "max_episode_steps=50", "reward_window=1"]


@pytest.mark.slow
def test_atari_sharing_reports_reward_thresholds_and_the_confusion_matrix(tmp_path: Path) -> None:
    document = execute(plan_run(get("000-atari-sharing"), "quick", overrides=TINY, out=tmp_path / "run"))
    jsonschema.validate(document, schema())
    assert document["status"] == "complete" and len(document["units"]) == 3  # similarity, N = 1, N = 2
    summary = document["summary"]
    per_n = summary["per_agents"]
    assert set(per_n) == {"1", "2"}
    assert set(per_n["1"]["frames_to_threshold"]) == {"20%", "40%", "60%", "80%", "99%"}
    if per_n["1"]["tasks_normalized"]:
        assert per_n["1"]["normalized_ar"]["mean"] == pytest.approx(1.0)  # the isolated agent is 1 by definition
    assert per_n["1"]["comm_bytes_per_agent"] == 0 and per_n["2"]["comm_bytes_per_agent"] > 0
    for metric in ("parameters", "input_profile"):
        confusion = summary[f"confusion_{metric}"]
        assert confusion["games"] == ["Breakout", "Pong"]
        assert sum(map(sum, confusion["counts"])) == 2  # one held-out SimNet per game
    assert (tmp_path / "run" / "000-atari-sharing.png").exists()


def test_atari_sharing_rejects_a_run_without_the_isolated_agent() -> None:
    experiment = get("000-atari-sharing")
    with pytest.raises(ValueError, match="isolated"):
        experiment.units(experiment.make_config("quick", {"agents": (2, 3)}))


def test_atari_borrow_compares_borrowers_with_isolated_agents(tmp_path: Path) -> None:
    overrides = ["game=Breakout", "steps=120", "offline_steps=5", "max_episode_steps=40", "learning_starts=40",
                 "target_update_interval=40", "fisher_samples=10", "buffer_size=200", "reward_window=1"]
    document = execute(plan_run(get("000-atari-borrow"), "quick", overrides=overrides, out=tmp_path / "borrow"))
    jsonschema.validate(document, schema())
    metrics = document["units"][0]["metrics"]
    assert set(metrics["frames"]) == {"lender", "isolated", "buffer", "buffer+weights"}
    assert all(0 < f <= 120 for f in metrics["frames"].values())
    assert metrics["comm_bytes"] > 120 * 2 * 128  # the borrowed buffer went through the communicator, twice
    frames, summary = metrics["frames"], document["summary"]
    if summary["seeds_lender_learned"]:  # one seed: the ratio of the borrower's frames to the faster isolated agent
        ratio = frames["buffer+weights"] / max(min(frames["lender"], frames["isolated"]), 1)
        assert summary["frame_ratio_per_seed_buffer+weights"]["mean"] == pytest.approx(ratio)
    else:
        assert summary["frame_ratio_per_seed_buffer+weights"]["n"] == 0
    assert {c["verdict"] for c in document["claims"]} == {"inconclusive"}  # one seed: no interval to judge
