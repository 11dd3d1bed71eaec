"""The documentation site: it builds strictly, every family and experiment has a page, the tutorials run."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mtenvs
from mtenvs.runner import experiments

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _renders(family: str) -> bool:
    import gymnasium as gym

    from mtenvs.core.registry import env_ids

    entry_point = gym.spec(env_ids(family)[0]).entry_point
    module, _, attribute = entry_point.partition(":")
    env_class = getattr(importlib.import_module(module), attribute)
    return "rgb_array" in env_class.metadata.get("render_modes", [])


def test_every_family_and_experiment_has_a_generated_page() -> None:
    pages = _hooks().generated_pages()
    for name in mtenvs.families():
        if name == "ToyChain":   # the test-only family registered by conftest
            continue
        page = pages[f"families/{name}.md"]
        for parameter in mtenvs.family(name).parameters:
            assert f"`{parameter}`" in page, f"family page {name} misses parameter {parameter}"
        if _renders(name):
            assert (DOCS / "assets" / "families" / f"{name}.png").exists(), (
                f"no picture of {name}: run python docs/render_images.py {name}")
    for name, experiment in experiments().items():
        page = pages[f"reproductions/{name}.md"]
        assert experiment.title in page and f"mtenvs run {name}" in page
        for claim in experiment.claims:
            assert f"`{claim.metric}`" in page


def test_every_page_and_the_claims_index_agree_with_the_committed_results() -> None:
    from mtenvs.runner.registry import VERDICTS
    from mtenvs.runner.rejudge import rejudge
    from mtenvs.runner.report import format_value, verdict_text
    from mtenvs.runner.results import read_results

    hooks = _hooks()
    index = hooks.claims_index().splitlines()
    committed = sorted((DOCS / "results").glob("*/results.json"))
    assert committed
    for path in committed:
        document = read_results(path)
        name = document["experiment"]
        # judged by the current claims and aggregate: nothing on the pages is left from an older rule
        assert rejudge(document) == document, f"stale verdicts: python docs/publish_results.py --rejudge {name}"
        page = hooks.experiment_page(name).split("## The paper's claims beside ours")[-1].splitlines()
        for claim in document["claims"]:
            assert claim["verdict"] in VERDICTS and (claim["verdict"] != "not checked" or claim["reason"])
            shown = [f"| {format_value(claim['ours'])} | **{verdict_text(claim)}** | {claim['reason']} |"]
            row = next(line for line in page if line.startswith(f"| `{claim['metric']}` |"))
            assert row.endswith(shown[0]), (name, row, shown)
            rows = [line for line in index if f"[{name}]({name}.md)" in line and f"`{claim['metric']}` —" in line]
            assert len(rows) == 1 and rows[0].endswith(shown[0]), (name, claim["metric"])
            assert ("not comparable" in row) is (not claim["comparable"])
    for name, experiment in experiments().items():  # claims without a committed run are listed as such
        if not (DOCS / "results" / name / "results.json").exists():
            for claim in experiment.claims:
                assert any(f"[{name}]" in line and f"`{claim.metric}` —" in line and "no committed run" in line
                           for line in index)


def test_parameter_ranges_on_family_pages() -> None:
    page = _hooks().family_page("CartPole")
    row = next(line for line in page.splitlines() if line.startswith("| `pole_length`"))
    assert "[0.2, 0.8]" in row and "[0.05, 0.2) ∪ (0.8, 2]" in row     # train range and the ood remainder
    assert "| `gravity` |" in page and "fixed at 9.8" in page


def test_headings_are_demoted_outside_code() -> None:
    text = "## Reward\n```python\n# a comment\n```\nsee :class:`mtenvs.Task`"
    assert _hooks().demote_headings(text) == "### Reward\n```python\n# a comment\n```\nsee `mtenvs.Task`"


@pytest.mark.skipif(shutil.which("mkdocs") is None, reason="mkdocs is in the dev extra")
def test_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(["mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "families" / "CartPole" / "index.html").exists()


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[t.stem for t in TUTORIALS])
def test_tutorial_runs(tutorial: Path, tmp_path: Path) -> None:
    """Each tutorial's Python blocks, concatenated, run as a script in a fresh process (they register things)."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", tutorial.read_text(), flags=re.DOTALL))
    assert code, f"{tutorial.name} has no python blocks"
    script = tmp_path / "tutorial.py"
    script.write_text("import torch\ntorch.set_num_threads(1)\n" + code)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]


PAGES_WITH_CODE = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")
                         if p.parent.name != "tutorials" and "```python" in p.read_text())


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_page_code_runs(page: str, tmp_path: Path) -> None:
    """The Python blocks of every other hand-written page (methods, home, getting started) run as written."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
