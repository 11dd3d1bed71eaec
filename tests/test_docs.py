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
SLOW_PAGES = {"ray", "train-across-tasks", "benchmark-your-algorithm", "methods/experience-sharing.md",
              "methods/perminv.md"}  # 3.5 s or more each: marked slow


def _params(names: list[str]) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_PAGES else n for n in names]


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


def _all_pages() -> dict[str, str]:
    pages = {str(p.relative_to(DOCS)): p.read_text() for p in DOCS.rglob("*.md")}
    return pages | _hooks().generated_pages()


def _fenced_lines(text: str) -> list[tuple[str, str]]:
    """``(language, line)`` for every line inside a fenced code block."""
    lines, language = [], None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            language = (line.strip()[3:].split() or [""])[0] if language is None else None
        elif language is not None:
            lines.append((language, line))
    return lines


def test_code_lines_fit_in_100_characters() -> None:
    long = [(page, line) for page, text in _all_pages().items() for language, line in _fenced_lines(text)
            if language != "text" and len(line) > 100]  # printed output (text blocks) may be wider
    assert not long, long[:5]


def test_pages_cite_only_what_a_reader_has() -> None:
    """No page refers to material outside the repository; the papers are cited in full on papers.md."""
    pattern = re.compile(r"notes-\d|\(notes\b|notes §|Appendix Z|§3\.3b|\bissue \d", flags=re.IGNORECASE)
    hits = [(page, m.group(0)) for page, text in _all_pages().items() for m in pattern.finditer(text)]
    assert not hits, hits[:5]
    papers = (DOCS / "papers.md").read_text()
    for experiment in experiments().values():
        if experiment.paper:
            assert f'id="paper-{experiment.paper}"' in papers, experiment.paper


#: How a citation of private implementation material looks ("notes-003 §1.4", "(notes)", "notes Sec. 8.2", "the
#: notes' default", a bare question number "Q16" or item "item 17", a notes-only subsection "§3.3b").
PRIVATE_CITATION = re.compile(
    r"notes-\d|\(notes\b|\bnotes'|\bnotes[ ]*(?:§|Sec\.|Appendix|[GDQ]\d|\)|of paper)|Appendix Z|§\d+(?:\.\d+)?[a-z]\b"
    r"|[(,;] ?Q\d{1,2}\b|\bQ\d{1,2}\)|\bitems? \d+(?:[-, ]+\d+)*\)", flags=re.IGNORECASE)


def test_code_cites_only_the_papers() -> None:
    """No Python file (docstrings render on the API reference and reproduction pages) cites material a reader lacks."""
    roots = [ROOT / name for name in ("mtenvs", "agents", "benchmarks", "docs", "tests")]
    hits = [(str(path.relative_to(ROOT)), number, m.group(0))
            for root in roots if root.exists() for path in sorted(root.rglob("*.py")) if path != Path(__file__).resolve()
            for number, line in enumerate(path.read_text().splitlines(), 1) for m in PRIVATE_CITATION.finditer(line)]
    assert not hits, hits[:10]
    for cited in ("notes-003 §1.4", "(notes)", "notes Sec. 8.2", "the notes' default", "(Q16)", "Lemma 5, Q2)",
                  "(item 17)", "(notes-000 §6 items 14-17)", "§3.3b", "notes G11"):
        assert PRIVATE_CITATION.search(cited), cited                 # the pattern can fail
    for fine in ("paper 003, App. A", "§2.2", "Eq. 14", "notes = [f'...']", "Q_h(x, a)", "H_j (Q matrix)"):
        assert not PRIVATE_CITATION.search(fine), fine


def test_home_page_gallery_shows_every_family() -> None:
    hooks = _hooks()
    gallery = hooks.gallery()
    for name in mtenvs.families():
        if name == "ToyChain":
            continue
        assert f"](families/{name}.md)" in gallery
        if _renders(name):
            gif = DOCS / "assets" / "gallery" / f"{name}.gif"
            assert gif.exists(), f"no episode GIF of {name}: run python docs/render_images.py {name}"
            assert gif.stat().st_size <= 300_000, f"{gif.name} is {gif.stat().st_size // 1000} KB"
    assert "<!-- gallery -->" in (DOCS / "index.md").read_text()


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


def test_every_tutorial_is_in_the_navigation() -> None:
    listed = {page for entry in _hooks().HAND_WRITTEN_NAV for value in entry.values()
              for page in (value if isinstance(value, list) else [value])}
    missing = [f"tutorials/{t.name}" for t in TUTORIALS if f"tutorials/{t.name}" not in listed]
    assert not missing, missing


def test_headings_are_demoted_outside_code() -> None:
    text = "## Reward\n```python\n# a comment\n```\nsee :class:`mtenvs.Task`"
    assert _hooks().demote_headings(text) == "### Reward\n```python\n# a comment\n```\nsee `mtenvs.Task`"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mkdocs") is None, reason="mkdocs is in the dev extra")
def test_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(["mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)})  # this checkout
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "families" / "CartPole" / "index.html").exists()
    raw = [str(page.relative_to(tmp_path)) for page in (tmp_path / "site").rglob("*.html") if RAW_ROLE.search(page.read_text())]
    assert not raw, raw[:5]  # mkdocstrings renders Markdown docstrings; a Sphinx role would show as raw text


RAW_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|obj|exc|const|ref):`")


def test_docstrings_have_no_sphinx_roles() -> None:
    """Docstrings are Markdown (Google style, plain backticks), which the API reference renders as written."""
    sources = [*ROOT.joinpath("mtenvs").rglob("*.py"), *ROOT.joinpath("agents").rglob("*.py")]
    hits = [f"{path.relative_to(ROOT)}:{number}" for path in sources
            for number, line in enumerate(path.read_text().splitlines(), 1) if RAW_ROLE.search(line)]
    assert not hits, hits[:10]


def _tutorial_outputs():
    spec = importlib.util.spec_from_file_location("tutorial_outputs", DOCS / "tutorial_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", _params([t.stem for t in TUTORIALS]))
def test_tutorial_runs(name: str, tmp_path: Path) -> None:
    """Each tutorial's Python blocks, concatenated, run as a script in a fresh process (they register things), and
    each block that prints is followed on the page by what it prints (numbers aside; `docs/tutorial_outputs.py`
    regenerates them)."""
    outputs = _tutorial_outputs()
    text = (DOCS / "tutorials" / f"{name}.md").read_text()
    assert outputs.code_blocks(text), f"{name}.md has no python blocks"
    result, printed = outputs.run(text, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for index, (shown, actual) in enumerate(zip(outputs.committed_outputs(text), printed, strict=True)):
        if actual.strip():
            assert shown is not None, f"{name}.md block {index + 1} prints but shows no output block"
            assert outputs.masked(shown) == outputs.masked(actual), (index, shown, actual)


PAGES_WITH_CODE = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")
                         if p.parent.name != "tutorials" and "```python" in p.read_text())


@pytest.mark.parametrize("page", _params(PAGES_WITH_CODE))
def test_page_code_runs(page: str, tmp_path: Path) -> None:
    """The Python blocks of every other hand-written page (methods, home, getting started) run as written."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
