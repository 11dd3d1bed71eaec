"""Experiments and suites of other installed packages, found through the ``mtenvs.experiments`` / ``mtenvs.suites``
entry points and run from the command line; broken entry points are named and skipped; the layering holds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

import mtenvs
import mtenvs.suites
from mtenvs import benchmarking, cli, plugins
from mtenvs.runner import read_results, unregister

ROOT = Path(mtenvs.__file__).resolve().parent.parent

OUTSIDE_MODULE = '''
from dataclasses import dataclass

from mtenvs.benchmarking import Suite, SuiteEntry
from mtenvs.runner import Experiment, Unit, register


@dataclass(frozen=True)
class Config:
    seeds: int = 3
    scale: float = 2.0


def units(cfg):
    return [Unit({"seed": s}) for s in range(cfg.seeds)]


def compute(cfg, unit, ctx):
    return {"value": cfg.scale * unit.params["seed"]}


register(Experiment(name="outside-toy", title="An experiment of another package", config=Config,
                    sizes={"quick": {"seeds": 2}, "full": {}}, units=units, compute=compute))

SUITE = Suite("outside-suite", 1, "A suite of another package.", (SuiteEntry("mtenvs/GridWorld-v0", budget=10),))
'''


def write_distribution(site: Path, name: str, entry_points: dict[str, dict[str, str]],
                       modules: dict[str, str] | None = None) -> None:
    """What ``pip install`` leaves in site-packages: the modules and a ``*.dist-info`` with ``entry_points.txt``."""
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    sections = [f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items())
                for group, points in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(sections))


@pytest.fixture
def outside_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed third-party package with one experiment and one suite, and one with broken entry points."""
    site = tmp_path / "site"
    site.mkdir()
    write_distribution(site, "outside_pkg", {
        plugins.EXPERIMENTS_GROUP: {"outside-toy": "outside_pkg_experiments"},
        plugins.SUITES_GROUP: {"outside-suite": "outside_pkg_experiments:SUITE"},
    }, {"outside_pkg_experiments": OUTSIDE_MODULE})
    write_distribution(site, "broken_pkg", {
        plugins.EXPERIMENTS_GROUP: {"broken-one": "broken_pkg_missing_module", "not-a-module": "json:dumps"},
        plugins.SUITES_GROUP: {"broken-suite": "broken_pkg_missing_module:SUITE"},
    })
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(mtenvs.suites, "_SUITES", dict(mtenvs.suites._SUITES))
    yield site
    unregister("outside-toy")
    sys.modules.pop("outside_pkg_experiments", None)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_outside_experiment_is_listed_and_runs_from_the_cli(outside_package: Path, tmp_path: Path, capsys) -> None:
    code, stdout, stderr = run_cli(capsys, "experiments")
    assert code == 0
    assert any(line.startswith("outside-toy ") for line in stdout.splitlines())
    assert any(line.startswith("cartpole-generalization ") for line in stdout.splitlines())  # the others still load
    warnings = [line for line in stderr.splitlines() if line.startswith("mtenvs: warning:")]
    assert len(warnings) == 2 and len(stderr.splitlines()) == 2  # one line each, no traceback
    assert "broken-one = broken_pkg_missing_module (from broken_pkg 1.0)" in stderr and "ModuleNotFoundError" in stderr
    assert "not-a-module = json:dumps" in stderr and "must be a module that registers experiments" in stderr

    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "run", "outside-toy", "--size", "quick", "--out", str(out), "--quiet")
    assert code == 0 and "results:" in stdout
    document = read_results(out / "results.json")
    assert document["status"] == "complete" and document["config"] == {"seeds": 2, "scale": 2.0}
    assert [u["metrics"]["value"] for u in document["units"]] == [0.0, 2.0]


def test_running_one_experiment_imports_only_its_own_entry_point(outside_package: Path) -> None:
    script = ("import sys; from mtenvs.cli import main; code = main(['experiments', 'outside-toy']); "
              "loaded = [m for m in sys.modules if m.startswith('agents.experiments.')]; "
              "sys.exit(code or (3 if loaded else 0))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False,
                            env={**os.environ, "PYTHONPATH": f"{outside_package}{os.pathsep}{ROOT}"})
    assert result.returncode == 0, result.stderr
    assert "outside-toy: An experiment of another package" in result.stdout
    assert result.stderr == ""  # the broken entry points were never touched


def test_an_outside_suite_is_registered_and_a_broken_one_named(outside_package: Path) -> None:
    with pytest.warns(plugins.PluginWarning, match=r"broken-suite = broken_pkg_missing_module:SUITE \(from broken_pkg"):
        found = benchmarking.suites()
    assert "outside-suite-v1" in found and "cartpole-generalization-v0" in found
    assert benchmarking.get_suite("outside-suite").entries[0].env_id == "mtenvs/GridWorld-v0"


def test_every_shipped_experiment_module_is_declared_as_an_entry_point() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][plugins.EXPERIMENTS_GROUP]
    modules = {f"agents.experiments.{p.stem}" for p in (ROOT / "agents" / "experiments").glob("[!_]*.py")}
    assert set(declared.values()) == modules
    from mtenvs.runner import get

    for name in declared:
        assert get(name).name == name  # an entry point's name is its experiment's name (what makes get() lazy)
