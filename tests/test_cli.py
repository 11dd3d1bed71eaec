"""The ``mtenvs`` command line, driven through ``main(argv)`` and, for the kill test, a real subprocess."""

from __future__ import annotations

import importlib.machinery
import json
import os
import signal
import subprocess
import sys
import time
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure
from PIL import Image

import mtenvs
from mtenvs import cli
from mtenvs.runner import Claim, Experiment, Unit, UnitContext, read_results, register, schema, unregister

CALLS: Counter[str] = Counter()
HANG_AT = "MTENVS_TEST_HANG_AT"  # the subprocess blocks in the unit of this index, so the test can kill it there


@dataclass(frozen=True)
class DummyConfig:
    seeds: int = 2
    tasks: tuple[str, ...] = ("left", "right")
    episodes: int = 5
    noise: float = 0.1
    label: str = "dummy"
    fast: bool = True


def dummy_units(cfg: DummyConfig) -> list[Unit]:
    return [Unit({"seed": s, "task": t}) for s in range(cfg.seeds) for t in cfg.tasks]


def dummy_compute(cfg: DummyConfig, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    if os.environ.get(HANG_AT) == str(ctx.index):
        time.sleep(120)
    CALLS[unit.key] += 1
    target = 1.0 if unit.params["task"] == "left" else 2.0
    returns = target + cfg.noise * ctx.rng.standard_normal(cfg.episodes)
    return {"return": float(returns.mean()), "per_task": {unit.params["task"]: returns.tolist()}}


def dummy_plot(cfg: DummyConfig, records, summary) -> Figure:
    figure = Figure(figsize=(3, 2))
    figure.subplots().bar(range(len(records)), [r.metrics["return"] for r in records])
    return figure


DUMMY = Experiment(
    name="test-cli-dummy", title="A dummy experiment", paper=None, config=DummyConfig,
    sizes={"quick": {"episodes": 3}, "full": {"seeds": 10, "episodes": 1000}},
    units=dummy_units, compute=dummy_compute, plot=dummy_plot,
    claims=[Claim("return", 1.5, "close", tolerance=0.2, source="Table 1")],
)


@pytest.fixture(autouse=True)
def _dummy():
    register(DUMMY)
    CALLS.clear()
    yield
    unregister(DUMMY.name)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stable_part(document: dict[str, Any]) -> tuple[Any, ...]:
    units = [{k: v for k, v in u.items() if k != "seconds"} for u in document["units"]]
    return units, document["summary"], document["claims"], document["config"]


# ------------------------------------------------------------------------------------------------------ run
def test_run_writes_results_a_png_and_says_where(tmp_path: Path, capsys) -> None:
    import jsonschema  # a dev dependency

    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "run", DUMMY.name, "--out", str(out), "--quiet")
    assert code == 0
    document = read_results(out / "results.json")
    jsonschema.validate(document, schema())
    assert document["status"] == "complete" and document["size"] == "quick" and document["config"]["episodes"] == 3
    assert len(document["units"]) == 4 == sum(CALLS.values())
    assert f"results: {out / 'results.json'}" in stdout and f"plot:    {out / 'test-cli-dummy.png'}" in stdout
    assert "≈ 1.5 (Table 1)" in stdout
    with Image.open(out / "test-cli-dummy.png") as image:
        assert image.format == "PNG"


def test_default_directory_and_overrides(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = run_cli(capsys, "run", DUMMY.name, "--seed", "3", "--set", "tasks=up,down,left", "--set", "noise=0",
                         "--set", "fast=false", "--quiet")
    assert code == 0
    document = read_results(tmp_path / "runs" / "test-cli-dummy-quick-seed3" / "results.json")
    assert document["seed"] == 3 and document["overrides"] == {"tasks": ["up", "down", "left"], "noise": 0.0, "fast": False}
    assert [u["params"]["task"] for u in document["units"]] == ["up", "down", "left"] * 2
    # With no noise every return is its task's target exactly: the overrides reached the computation.
    assert {u["params"]["task"]: u["metrics"]["return"] for u in document["units"]} == {"up": 2.0, "down": 2.0, "left": 1.0}


@pytest.mark.parametrize(("assignment", "expected"), [
    ("episodes=many", ["'episodes' expects int"]),
    ("noise=0.1.2", ["'noise' expects float"]),
    ("fast=perhaps", ["'fast' expects bool"]),
    ("tasks=", []),  # an empty task list parses, but gives no units
    ("epsiodes=3", ["unknown config key 'epsiodes'", "did you mean 'episodes'"]),
    ("episodes", ["key=value"]),
])
def test_bad_set_values_exit_2_and_write_nothing(tmp_path: Path, capsys, assignment: str, expected: list[str]) -> None:
    code, stdout, stderr = run_cli(capsys, "run", DUMMY.name, "--out", str(tmp_path / "out"), "--set", assignment)
    assert code == 2 and stdout == ""
    for text in expected:
        assert text in stderr
    if expected:
        assert "episodes (int), noise (float), label (str), fast (bool)" in stderr
    assert list(tmp_path.iterdir()) == [] and not CALLS


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "test-cli-dumy"], "did you mean 'test-cli-dummy'"),
    (["run", "test-cli-dummy", "--size", "medium"], "sizes: quick, full"),
    (["run", "test-cli-dummy", "--seed", "-1"], "seed must be an int >= 0"),
    (["experiments", "test-cli-dumy"], "did you mean 'test-cli-dummy'"),
    (["info", "CartPol"], "did you mean 'CartPole'"),
    (["bench", "cartpole_throughput_x"], "did you mean 'cartpole_throughput'"),
    (["run", "test-cli-dummy", "--bogus"], "unrecognized arguments: --bogus"),
    (["launch"], "invalid choice: 'launch'"),
])
def test_unknown_names_and_bad_arguments_exit_2(tmp_path: Path, capsys, monkeypatch, argv: list[str], expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli(capsys, *argv)
    assert code == 2 and expected in stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_tensorboard_is_a_clear_error_before_any_file(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    code, _, stderr = run_cli(capsys, "run", DUMMY.name, "--out", str(tmp_path / "out"), "--tensorboard", str(tmp_path / "tb"))
    assert code == 2 and 'pip install "mtenvs[tensorboard]"' in stderr
    assert list(tmp_path.iterdir()) == []


def test_completed_runs_are_kept_and_other_configs_refused(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "out")
    assert run_cli(capsys, "run", DUMMY.name, "--out", out)[0] == 0
    before = (tmp_path / "out" / "results.json").read_bytes()
    CALLS.clear()
    code, stdout, _ = run_cli(capsys, "run", DUMMY.name, "--out", out)
    assert code == 0 and "already complete" in stdout and not CALLS
    code, _, stderr = run_cli(capsys, "run", DUMMY.name, "--out", out, "--set", "episodes=4")
    assert code == 2 and "episodes: 3 -> 4" in stderr and "--force" in stderr
    assert (tmp_path / "out" / "results.json").read_bytes() == before
    code, _, _ = run_cli(capsys, "run", DUMMY.name, "--out", out, "--set", "episodes=4", "--force", "--quiet")
    assert code == 0 and sum(CALLS.values()) == 4
    assert read_results(tmp_path / "out" / "results.json")["config"]["episodes"] == 4


def test_a_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path: Path, capsys) -> None:
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    assert run_cli(capsys, "run", DUMMY.name, "--out", str(reference_dir), "--quiet")[0] == 0
    CALLS.clear()

    script = ("import sys; sys.path.insert(0, sys.argv[1]); import test_cli; from mtenvs.runner import register; "
              "from mtenvs.cli import main; register(test_cli.DUMMY); sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, HANG_AT: "2"}
    process = subprocess.Popen([sys.executable, "-c", script, str(Path(__file__).parent), "run", DUMMY.name,
                                "--out", str(killed_dir), "--quiet"], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            results = killed_dir / "results.json"
            if results.exists() and len(read_results(results)["units"]) == 2:
                break
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the subprocess did not finish two units in time")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    partial = read_results(killed_dir / "results.json")
    assert partial["status"] == "running" and [u["key"] for u in partial["units"]] == partial["planned_units"][:2]
    code, stdout, _ = run_cli(capsys, "run", DUMMY.name, "--out", str(killed_dir))
    assert code == 0 and "2 of 4 units already done" in stdout
    assert sorted(CALLS) == partial["planned_units"][2:] and set(CALLS.values()) == {1}  # finished units not rerun
    assert stable_part(read_results(killed_dir / "results.json")) == stable_part(read_results(reference_dir / "results.json"))


# ----------------------------------------------------------------------------------------- listing & describing
def test_families_and_info(capsys) -> None:
    code, stdout, _ = run_cli(capsys, "families")
    assert code == 0 and all(name in stdout for name in mtenvs.families())
    code, stdout, _ = run_cli(capsys, "info", "CartPole", "--json")
    assert code == 0
    assert json.loads(stdout) == {**mtenvs.family("CartPole").describe(), "env_ids": mtenvs.env_ids("CartPole")}
    code, stdout, _ = run_cli(capsys, "info", "CartPole")
    lines = stdout.splitlines()
    for parameter in mtenvs.family("CartPole").describe()["parameters"]:
        row = next(line for line in lines if line.startswith(parameter["name"] + " "))
        assert f"[{parameter['bounds'][0]:g}, {parameter['bounds'][1]:g}]" in row and parameter["units"] in row
    assert "train (50)" in stdout and "mtenvs/CartPole-v0" in stdout and "exact optimum:   no" in stdout



def test_environment_commands_never_load_the_methods_package() -> None:
    """The environment half of the CLI runs on ``mtenvs`` alone: ``agents`` stays out of ``sys.modules``."""
    script = ("import sys; from mtenvs.cli import main; "
              "codes = [main(argv) for argv in (['families'], ['info', 'CartPole'], ['benchmark', '--help'])]; "
              "sys.exit(3 if any(m == 'agents' or m.startswith('agents.') for m in sys.modules) else max(codes))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(mtenvs.__file__).resolve().parent.parent, check=False)
    assert result.returncode == 0, result.stderr
    assert "exact optimum" in result.stdout and "usage: mtenvs benchmark" in result.stdout

def test_experiments_lists_and_describes(capsys) -> None:
    code, stdout, _ = run_cli(capsys, "experiments")
    assert code == 0 and any(line.startswith("test-cli-dummy ") and "A dummy experiment" in line for line in stdout.splitlines())
    code, stdout, _ = run_cli(capsys, "experiments", DUMMY.name)
    row = next(line for line in stdout.splitlines() if line.startswith("episodes "))
    assert row.split() == ["episodes", "int", "5", "3", "1000"]
    assert "tuple[str, ...]" in stdout and "Table 1" in stdout


@pytest.mark.parametrize("argv", [[], ["families"], ["info"], ["experiments"], ["run"], ["bench"]])
def test_help_everywhere(capsys, argv: list[str]) -> None:
    code, stdout, _ = run_cli(capsys, *argv, "--help")
    assert code == 0 and stdout.startswith("usage: mtenvs")


# ------------------------------------------------------------------------------------------------ benchmarks
def test_bench_runs_a_script_through_its_main(capsys) -> None:
    code, stdout, _ = run_cli(capsys, "bench", "cartpole_throughput", "--rounds", "1", "--seconds", "0.01",
                              "--num-envs", "4")
    assert code == 0 and stdout.startswith("== cartpole_throughput") and stdout.count("ratio") == 2


def test_bench_help_names_the_program_mtenvs_bench_name(capsys) -> None:
    program = sys.argv[0]
    code, stdout, _ = run_cli(capsys, "bench", "cartpole_throughput", "--help")
    assert code == 0 and "usage: mtenvs bench cartpole_throughput [-h]" in stdout
    assert sys.argv[0] == program  # restored for whatever runs next


def test_bench_without_the_source_tree_says_so(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(cli, "benchmarks_dir", lambda: tmp_path / "benchmarks")
    code, _, stderr = run_cli(capsys, "bench")
    assert code == 1 and "source tree" in stderr


def test_benchmark_delegates_to_mtenvs_benchmarking(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mtenvs.benchmarking", None)  # as if absent
    code, _, stderr = run_cli(capsys, "benchmark", "suite-v0", "--agent", "pkg.mod:make")
    assert code == 1 and "not available" in stderr

    received: list[list[str]] = []
    fake = types.ModuleType("mtenvs.benchmarking")
    fake.__spec__ = importlib.machinery.ModuleSpec("mtenvs.benchmarking", None)
    fake.main = lambda argv: received.append(argv) or 3
    monkeypatch.setitem(sys.modules, "mtenvs.benchmarking", fake)
    argv = ["--agent", "pkg.mod:make", "suite-v0", "--set", "episodes=2", "--help"]
    assert run_cli(capsys, "benchmark", *argv)[0] == 3 and received == [argv]  # handed over untouched, in order
    assert "benchmark" in run_cli(capsys, "--help")[1]


def test_tensorboard_receives_every_unit_metric(tmp_path: Path, capsys) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, board = tmp_path / "out", tmp_path / "tb"
    code, _, _ = run_cli(capsys, "run", DUMMY.name, "--out", str(out), "--tensorboard", str(board), "--quiet")
    assert code == 0
    logs = [p.parent for p in board.rglob("events.out.tfevents.*")]
    assert len(logs) == 1
    events = EventAccumulator(str(logs[0]))
    events.Reload()
    written = {(tag, e.value) for tag in events.Tags()["scalars"] for e in events.Scalars(tag)}
    stored = read_results(out / "results.json")
    expected = {float(u["metrics"]["return"]) for u in stored["units"]}
    values = [v for _, v in written]
    for value in expected:  # TensorBoard stores float32
        assert any(abs(v - value) <= 1e-6 * abs(value) for v in values), value
