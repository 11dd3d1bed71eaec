"""The runner under bad input: out-of-range ``--set`` values, failed starts, corrupt or foreign run directories,
non-finite metrics and file modes. Each case is one of the reproducers of the hardening work, run through the CLI:
a one-line error (exit code 2) naming the field or the file, never a traceback, never silent acceptance."""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest
from annotated_types import Interval, Len, MinLen, Predicate

from mtenvs import cli
from mtenvs.runner import (
    ConfigError,
    Count,
    Experiment,
    Fraction,
    Positive,
    RunDirectoryError,
    Unit,
    UnitContext,
    UnitResult,
    read_results,
    register,
    run_experiment,
    unregister,
)
from mtenvs.runner.config import check_overrides, field_ranges, field_text, parse_assignments

CRASH: dict[str, Any] = {"at": None}


@dataclass(frozen=True)
class Config:
    seeds: Count = 2
    blocks: Count = 3
    scale: Positive = 1.0
    weights: Annotated[tuple[Fraction, ...], MinLen(1)] = (0.5,)
    pair: Annotated[tuple[int, int], Interval(ge=-3, le=3)] = (0, 1)
    note: str = ""
    metric: float = 1.0  # what the first block reports (NaN/inf cannot come from --set: finite floats only)


def units(cfg: Config) -> list[Unit]:
    return [Unit({"seed": s, "block": b}, chain=f"seed={s}") for s in range(cfg.seeds) for b in range(cfg.blocks)]


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> UnitResult:
    if CRASH["at"] == ctx.index:
        raise RuntimeError(f"crash in unit {ctx.index}")
    total = (ctx.state or 0.0) + cfg.scale * float(ctx.rng.normal())
    value = cfg.metric if ctx.index == 0 else total
    return UnitResult({"total": value, "curve": np.array([total, np.nan, np.inf])}, state=total)


TOY = Experiment(name="test-hostile", title="Chained toy", config=Config, sizes={"quick": {}, "full": {"seeds": 4}},
                 units=units, compute=compute)


@pytest.fixture(autouse=True)
def _toy():
    register(TOY)
    CRASH["at"] = None
    yield
    unregister(TOY.name)
    CRASH["at"] = None


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, stderr: str, *needles: str) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtenvs: error: "), stderr  # no traceback
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def complete_run(capsys, out: Path) -> dict[str, Any]:
    assert run_cli(capsys, "run", TOY.name, "--out", str(out), "--quiet")[0] == 0
    return read_results(out / "results.json")


# ---------------------------------------------------------------------------------------- --set type and range
@pytest.mark.parametrize(("experiment", "assignment", "needle"), [
    ("cartpole-generalization", "seeds=0", "'seeds' must be int >= 1, got 0"),
    ("cartpole-generalization", "eval_episodes=-5", "'eval_episodes' must be int >= 1, got -5"),
    ("cartpole-generalization", "learning_rate=-1", "'learning_rate' must be float > 0, got -1.0"),
    ("001-coop-regret", "episodes=-5", "'episodes' must be int >= 1, got -5"),
    ("001-coop-regret", "n_agents=0", "'n_agents' must be int >= 1, got 0"),
    ("000-distmt-scaling", "agents=1,0,4", "'agents' must be tuple[int, ...] length >= 1 and items >= 1"),
    ("000-distmt-scaling", "delta=1", "'delta' must be float > 0 and < 1, got 1.0"),
    ("test-hostile", "weights=0.5,1.5", "'weights' must be tuple[float, ...] length >= 1 and items >= 0 and items <= 1"),
    ("test-hostile", "weights=", "'weights' must be tuple[float, ...] length >= 1"),
    ("test-hostile", "pair=0,4", "'pair' must be tuple[int, int] items >= -3 and items <= 3, got (0, 4)"),
])
def test_out_of_range_set_values_are_refused_before_the_directory_is_touched(
        tmp_path: Path, capsys, experiment: str, assignment: str, needle: str) -> None:
    out = tmp_path / "run"
    code, _, stderr = run_cli(capsys, "run", experiment, "--size", "quick", "--set", assignment, "--out", str(out))
    assert_one_line_error(code, stderr, f"--set {assignment}:", needle)
    assert not out.exists()


def test_ranges_are_declared_once_and_checked_for_every_source_of_values() -> None:
    assert field_text(field_ranges(Config)["weights"]) == "tuple[float, ...] length >= 1 and items >= 0 and items <= 1"
    assert check_overrides(Config, {"seeds": 1, "weights": [0.0, 1.0], "pair": (-3, 3)}) == {
        "seeds": 1, "weights": (0.0, 1.0), "pair": (-3, 3)}
    for bad in ({"seeds": 0}, {"scale": 0.0}, {"weights": ()}, {"weights": (0.2, -0.1)}, {"pair": (-4, 0)}):
        with pytest.raises(ConfigError, match=f"config key '{next(iter(bad))}' must be"):
            check_overrides(Config, bad)
    with pytest.raises(ConfigError, match="'blocks' must be int >= 1, got 0"):
        TOY.make_config("quick", {"blocks": 0})  # typed overrides (the Python API) too
    assert parse_assignments(Config, ["seeds=1e1"]) == {"seeds": 10}


def test_bad_defaults_sizes_and_constraints_are_refused_at_registration() -> None:
    @dataclass(frozen=True)
    class BadDefault:
        seeds: Count = 0

    @dataclass(frozen=True)
    class Unsupported:
        seeds: Annotated[int, Predicate(lambda x: x > 0)] = 1

    @dataclass(frozen=True)
    class Sized:
        names: Annotated[tuple[str, ...], Len(1, 2)] = ("a",)

    def make(config: type) -> Experiment[Any]:
        return Experiment(name="test-bad", title="", config=config, sizes={"quick": {}, "full": {}}, units=units,
                          compute=compute)

    with pytest.raises(ValueError, match="bad default: config key 'seeds' must be int >= 1, got 0"):
        make(BadDefault)
    with pytest.raises(ValueError, match="config field 'seeds': unsupported constraint"):
        make(Unsupported)
    assert field_text(field_ranges(make(Sized).config)["names"]) == "tuple[str, ...] length >= 1 and length <= 2"
    with pytest.raises(ValueError, match="bad size overrides: config key 'seeds' must be int >= 1"):
        Experiment(name="test-bad", title="", config=Config, sizes={"quick": {"seeds": 0}, "full": {}}, units=units,
                   compute=compute)


def test_the_experiment_description_shows_each_range(capsys) -> None:
    code, stdout, _ = run_cli(capsys, "experiments", TOY.name)
    row = next(line for line in stdout.splitlines() if line.startswith("seeds "))
    assert code == 0 and "int >= 1" in row
    assert "float > 0" in next(line for line in stdout.splitlines() if line.startswith("scale "))


# ------------------------------------------------------------------------------------------------ failed starts
def test_a_failed_start_leaves_nothing_that_blocks_the_next_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    CRASH["at"] = 0
    with pytest.raises(RuntimeError, match="crash in unit 0"):
        run_experiment(TOY.name, out=out, overrides={"scale": 5.0})
    assert not out.exists()  # the run created the directory and nothing in it is worth keeping
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="crash in unit 0"):
        run_experiment(TOY.name, out=out, overrides={"scale": 5.0})
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]  # a directory it did not create is kept
    CRASH["at"] = None
    document = complete_run(capsys, out)  # another config, same directory: nothing refuses it
    assert document["status"] == "complete" and document["config"]["scale"] == 1.0


def test_a_failure_after_finished_units_keeps_them_for_the_resume(tmp_path: Path, capsys) -> None:
    CRASH["at"] = 2
    with pytest.raises(RuntimeError):
        run_experiment(TOY.name, out=tmp_path)
    assert len(read_results(tmp_path / "results.json")["units"]) == 2
    CRASH["at"] = None
    code, stdout, _ = run_cli(capsys, "run", TOY.name, "--out", str(tmp_path))
    assert code == 0 and "2 of 6 units already done" in stdout


# ---------------------------------------------------------------------------------- corrupt or foreign directories
def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _running(document: dict[str, Any], keep: int = 2) -> None:
    document["status"], document["finished"], document["summary"] = "running", None, None
    document["units"] = document["units"][:keep]


def _duplicate(document: dict[str, Any]) -> None:
    _running(document)
    document["units"].append(document["units"][0])


def _foreign(document: dict[str, Any]) -> None:
    _running(document)
    stranger = dict(document["units"][1], key="seed=9,block=0", params={"seed": 9, "block": 0})
    document["units"].append(stranger)


def _moved(document: dict[str, Any]) -> None:
    _running(document)
    document["units"][1]["seed"] += 1  # a record this run would not have written (another run seed)


def _missing_config(document: dict[str, Any]) -> None:
    del document["config"]


@pytest.mark.parametrize(("corrupt", "needles"), [
    (lambda p: p.write_bytes(os.urandom(64) + b"\xff\xfe"), ["not UTF-8 text"]),
    (lambda p: p.write_text("{\"format\": 1, "), ["invalid JSON"]),
    (lambda p: p.write_text("[1, 2]"), ["not a results document of format 1"]),
    (lambda p: _edit(p, _missing_config), ["'config' is a required property"]),
    (lambda p: _edit(p, lambda d: d["units"][0].pop("seed")), ["'seed' is a required property at units/0"]),
    (lambda p: _edit(p, _duplicate), ["holds a different run", "unit 'seed=0,block=0' is recorded twice"]),
    (lambda p: _edit(p, _foreign), ["holds a different run", "a record of unit 'seed=9,block=0'"]),
    (lambda p: _edit(p, _moved), ["holds a different run", "another index or seed"]),
], ids=["binary", "truncated", "not-a-document", "missing-config", "bad-unit-record", "duplicate-unit",
        "foreign-unit", "foreign-seed"])
def test_corrupt_or_foreign_results_get_one_line_naming_the_file(tmp_path: Path, capsys, corrupt: Any,
                                                                 needles: list[str]) -> None:
    complete_run(capsys, tmp_path)
    results = tmp_path / "results.json"
    corrupt(results)
    before = results.read_bytes()
    code, _, stderr = run_cli(capsys, "run", TOY.name, "--out", str(tmp_path))
    assert_one_line_error(code, stderr, str(results), "--force", *needles)
    assert results.read_bytes() == before  # refused: nothing touched
    with pytest.raises(RunDirectoryError):
        read_results(results) if "different run" not in needles[0] else run_experiment(TOY.name, out=tmp_path)
    assert run_cli(capsys, "run", TOY.name, "--out", str(tmp_path), "--force", "--quiet")[0] == 0
    assert read_results(results)["status"] == "complete"


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "taken"
    out.write_text("not a directory")
    code, _, stderr = run_cli(capsys, "run", TOY.name, "--out", str(out))
    assert_one_line_error(code, stderr, str(out), "is a file")
    assert out.read_text() == "not a directory"


@pytest.mark.parametrize("damage", ["garbage", "empty", "missing"])
def test_a_corrupt_or_missing_checkpoint_is_named(tmp_path: Path, capsys, damage: str) -> None:
    CRASH["at"] = 1  # unit 0 of chain seed=0 finished and left its checkpoint for unit 1
    with pytest.raises(RuntimeError):
        run_experiment(TOY.name, out=tmp_path)
    checkpoint = tmp_path / "checkpoints" / "unit-000000.pkl"
    assert checkpoint.exists()
    if damage == "missing":
        checkpoint.unlink()
    else:
        checkpoint.write_bytes(b"" if damage == "empty" else b"\x80\x05not a pickle at all")
    CRASH["at"] = None
    code, _, stderr = run_cli(capsys, "run", TOY.name, "--out", str(tmp_path), "--quiet")
    assert_one_line_error(code, stderr, str(checkpoint), "--force", "seed=0,block=0")
    assert run_cli(capsys, "run", TOY.name, "--out", str(tmp_path), "--force", "--quiet")[0] == 0


# ------------------------------------------------------------------------------------ non-finite metrics, modes
def test_non_finite_metrics_are_written_as_null(tmp_path: Path, capsys) -> None:
    code, _, _ = run_cli(capsys, "run", TOY.name, "--out", str(tmp_path), "--set", "metric=123.5", "--quiet")
    document = json.loads((tmp_path / "results.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert code == 0 and all(u["metrics"]["curve"][1:] == [None, None] for u in document["units"])
    # A results file edited or written by another tool with NaN in it: read as null, rewritten as strict JSON.
    results = tmp_path / "results.json"
    _edit(results, lambda d: _running(d, keep=3))  # the chain seed=0 finished; seed=1 starts afresh
    results.write_text(results.read_text().replace('"total": 123.5', '"total": NaN'))
    assert "NaN" in results.read_text()
    code, stdout, _ = run_cli(capsys, "run", TOY.name, "--out", str(tmp_path), "--set", "metric=123.5")
    document = json.loads(results.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert code == 0 and "3 of 6 units already done" in stdout
    assert document["units"][0]["metrics"]["total"] is None and document["status"] == "complete"
    assert math.isfinite(document["units"][1]["metrics"]["total"])


def test_written_files_are_readable_by_others(tmp_path: Path, capsys) -> None:
    CRASH["at"] = 1
    with pytest.raises(RuntimeError):
        run_experiment(TOY.name, out=tmp_path)
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    files = [tmp_path / "results.json", tmp_path / "checkpoints" / "unit-000000.pkl"]
    assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [expected] * 2
    if umask == 0o022:
        assert expected == 0o644


@pytest.mark.parametrize(("assignment", "needle"), [("seeds=0", "'seeds' must be int >= 1, got 0"),
                                                    ("budget_scale=0", "'budget_scale' must be float > 0"),
                                                    ("eval_tasks=-1", "'eval_tasks' must be int >= 0")])
def test_benchmark_set_values_are_range_checked(tmp_path: Path, capsys, assignment: str, needle: str) -> None:
    out = tmp_path / "bench"
    code, _, stderr = run_cli(capsys, "benchmark", "cartpole-generalization", "--agent", "stable_baselines3:PPO",
                              "--set", assignment, "--out", str(out))
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and needle in stderr and not out.exists()
