"""MkDocs hooks: generate a page per registered task family and per experiment, and the site navigation.

Pages are generated from the code at build time (nothing is copied by hand): a family page reads the declared
parameter space, the named task sets, the registered ids and the environment's docstring; a reproduction page reads
the experiment's registration (title, description, sizes, the paper's claims) and, when present, the committed
results of a ``full`` run in ``docs/results/<experiment>/`` (``results.json`` and PNG plots, copied there from a run
directory by ``python docs/publish_results.py runs/<run>``).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
FAMILY_IMAGES = DOCS / "assets" / "families"
RESULTS = DOCS / "results"

HAND_WRITTEN_NAV: list[Any] = [
    {"Home": "index.md"},
    {"Getting started": "getting-started.md"},
    {"Continual learning": "continual.md"},
    {"Tutorials": [
        "tutorials/train-across-tasks.md",
        "tutorials/benchmark-your-algorithm.md",
        "tutorials/score-your-continual-learner.md",
        "tutorials/multi-agent.md",
        "tutorials/new-family.md",
        "tutorials/ray.md",
    ]},
]


# ---------------------------------------------------------------------------------------------------- helpers
def _cli_value(value: Any) -> str:
    """A config value as ``mtenvs run --set KEY=VALUE`` parses it (sequences as ``1,2,3``)."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _cell(value: Any) -> str:
    """A Markdown table cell (pipes escaped, numbers compact)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def demote_headings(text: str, levels: int = 1) -> str:
    """Push every Markdown heading of ``text`` down ``levels`` levels and turn Sphinx roles into code (outside
    fenced code)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced:
            if re.match(r"^#{1,5} ", line):
                line = "#" * levels + line
            line = re.sub(r":(?:class|func|meth|attr|mod|data):`~?([^`]+)`", r"`\1`", line)
        out.append(line)
    return "\n".join(out)


def _ranges(parameter: Mapping[str, Any]) -> tuple[Any, Any]:
    """The train/test range and the out-of-distribution range of a described parameter."""
    if parameter["kind"] == "categorical":
        train = parameter.get("train") or [parameter["default"]]
        ood = [v for v in parameter["choices"] if v not in train]
        return list(train), ood or "—"
    train = parameter.get("train")
    if train is None:
        return f"fixed at {_cell(parameter['default'])}", "—"
    low, high = parameter["bounds"]
    pieces = []
    if low < train[0]:
        pieces.append(f"[{_cell(low)}, {_cell(train[0])})")
    if train[1] < high:
        pieces.append(f"({_cell(train[1])}, {_cell(high)}]")
    return f"[{_cell(train[0])}, {_cell(train[1])}]", " ∪ ".join(pieces) or "—"


# ---------------------------------------------------------------------------------------------------- families
def family_page(name: str) -> str:
    """The Markdown page of a registered task family."""
    import gymnasium as gym

    import mtenvs
    from mtenvs.core.registry import env_ids

    family = mtenvs.family(name)
    info = family.describe()
    lines = [f"# {name}", "", family.description, ""]
    if (FAMILY_IMAGES / f"{name}.png").exists():
        lines += [f"![Tasks of {name}, side by side](../assets/families/{name}.png)", "",
                  "*A few tasks of the family rendered side by side (`python docs/render_images.py`).*", ""]

    lines += ["## Environments", ""]
    rows = []
    for env_id in env_ids(name):
        spec = gym.spec(env_id)
        rows.append([f"`{env_id}`", spec.max_episode_steps, "native" if spec.vector_entry_point else "sync",
                     f"`{spec.entry_point}`"])
    lines += [markdown_table(["id", "max episode steps", "vector env", "entry point"], rows), ""]
    lines += ["```python", "import gymnasium as gym, mtenvs", "",
              f'env = gym.make("{env_ids(name)[0]}", tasks="train")          # a new training task at every reset',
              f'venv = gym.make_vec("{env_ids(name)[0]}", num_envs=8, tasks=mtenvs.family("{name}").sample(8, seed=0))',
              "```", ""]

    lines += ["## Parameters", "",
              "Tasks differ in these parameters. *train* is the region training tasks (and the `test` set) are drawn "
              "from; *ood* is the rest of the bounds, where the `ood` set lives.", ""]
    rows = []
    for p in info["parameters"]:
        train, ood = _ranges(p)
        bounds = f"[{_cell(p['bounds'][0])}, {_cell(p['bounds'][1])}]" if "bounds" in p else p["choices"]
        rows.append([f"`{p['name']}`", p.get("units") or "", bounds, p["default"], train, ood, p.get("description", "")])
    lines += [markdown_table(["name", "units", "bounds / values", "default", "train & test", "ood", "meaning"], rows), ""]

    lines += ["## Task sets", "", "Fixed for every user (drawn from a seed derived from the family name):", ""]
    lines += [markdown_table(["name", "tasks"], [[f"`{k}`", v] for k, v in info["task_sets"].items()]), ""]

    lines += ["## References", ""]
    lines.append("- Exact optimum: " + ("yes — `family.optimal_value(task)`, so `mtenvs.evaluate` reports regret."
                                        if info["exact_optimum"] else "no."))
    policies = sorted(getattr(family, "reference_policies", {}) or {})
    lines.append("- Reference policies: " + (", ".join(f"`{p}`" for p in policies) if policies else "none."))
    lines.append("")

    env_class = gym.spec(env_ids(name)[0]).entry_point
    if isinstance(env_class, str):
        module, _, attr = env_class.partition(":")
        env_class = getattr(__import__(module, fromlist=[attr]), attr)
    own = inspect.cleandoc(env_class.__doc__ or "")
    sections = next((inspect.cleandoc(c.__doc__) for c in env_class.__mro__ if "## Description" in (c.__doc__ or "")), "")
    doc = own if own == sections or not sections else f"{own}\n\n{sections}"  # a subclass may document only its task
    if doc:
        lines += [f"## The environment (`{env_class.__name__}`)", "", demote_headings(doc, 1), ""]
    return "\n".join(lines)


def families_index() -> str:
    """The overview page listing every family."""
    import mtenvs

    rows = []
    for name in mtenvs.families():
        family = mtenvs.family(name)
        rows.append([f"[{name}]({name}.md)", family.description, "yes" if family.has_optimum else "—"])
    return "\n".join(["# Task families", "",
                      "Every registered family; each page is generated from the family's declared parameters, task "
                      "sets and environment docstring.", "",
                      markdown_table(["family", "what varies", "exact optimum"], rows), ""])


# ---------------------------------------------------------------------------------------------------- experiments
def _claims_table(claims: list[Mapping[str, Any]], summary: Mapping[str, Any] | None) -> str:
    from agents.runner.report import format_value

    rows = []
    for c in claims:
        ours = "—" if summary is None or c["metric"] not in summary else format_value(summary[c["metric"]])
        relation = {"close": "≈ ", "at_least": "≥ ", "at_most": "≤ ", "text": ""}[c["compare"]]
        holds = c.get("holds")
        verdict = "" if holds is None else ("agrees" if holds else "differs")
        rows.append([f"`{c['metric']}`", f"{relation}{c['paper']}", c["source"], ours, verdict])
    return markdown_table(["metric", "paper", "where", "ours", "check"], rows)


def experiment_page(name: str) -> str:
    """The Markdown page of a registered experiment (a reproduction)."""
    from dataclasses import asdict

    from agents.runner import get
    from agents.runner.report import format_value

    experiment = get(name)
    lines = [f"# {experiment.title}", ""]
    if experiment.paper:
        lines += [f"Paper {experiment.paper}. Experiment `{name}`.", ""]
    if experiment.description:
        lines += [experiment.description, ""]
    lines += ["## Run it", "", "```bash", f"mtenvs run {name} --size quick   # under a minute",
              f"mtenvs run {name} --size full    # the paper's budget", "```", ""]
    results_file = RESULTS / name / "results.json"
    document = json.loads(results_file.read_text()) if results_file.exists() else None
    claims = [asdict(c) | {"holds": None} for c in experiment.claims]
    if document is not None:
        claims = document.get("claims", claims)
        size = document.get("size", "?")
        overrides = document.get("overrides") or {}
        scaled = (" scaled down to fit this project's machine (2 CPU cores): "
                  + ", ".join(f"`{key}={_cell(value)}`" for key, value in overrides.items())) if overrides else ""
        lines += ["## Results", "", f"Committed run: size `{size}`{scaled}, mtenvs "
                  f"{document.get('versions', {}).get('mtenvs', '?')}. Regenerate it with:", "",
                  "```bash", f"mtenvs run {name} --size {size}"
                  + "".join(f" --set {key}={_cli_value(value)}" for key, value in overrides.items()), "```", ""]
        for png in sorted((RESULTS / name).glob("*.png")):
            lines += [f"![{png.stem}](../results/{name}/{png.name})", ""]
        summary = document.get("summary") or {}
        lines += [markdown_table(["metric", "ours"], [[f"`{k}`", format_value(v)] for k, v in summary.items()]), ""]
    if claims:
        lines += ["## The paper's claims beside ours", "",
                  _claims_table(claims, document.get("summary") if document else None), ""]
    if document is None:
        lines += ["!!! note", "    No committed run yet: the numbers appear here once a `full` run is committed to "
                  f"`docs/results/{name}/`.", ""]
    quick, full = experiment.make_config("quick"), experiment.make_config("full")
    rows = [[f"`{field}`", _cell(getattr(quick, field)), _cell(getattr(full, field))] for field in asdict(quick)]
    lines += ["## Configuration", "", markdown_table(["field", "quick", "full"], rows), ""]
    return "\n".join(lines)


def experiments_index() -> str:
    """The overview page listing every experiment."""
    from agents.runner import experiments

    rows = [[f"[{name}]({name}.md)", e.paper or "—", e.title] for name, e in sorted(experiments().items())]
    return "\n".join(["# Reproductions", "", "Each paper figure or table the project reproduces, with the paper's "
                      "claims beside our measured numbers.", "", markdown_table(["experiment", "paper", "title"], rows), ""])


# ---------------------------------------------------------------------------------------------------- mkdocs events
def generated_pages() -> dict[str, str]:
    """Every generated page: its path under ``docs/`` and its Markdown."""
    import mtenvs
    from agents.runner import experiments

    pages = {"families/index.md": families_index(), "reproductions/index.md": experiments_index()}
    pages |= {f"families/{name}.md": family_page(name) for name in mtenvs.families()}
    pages |= {f"reproductions/{name}.md": experiment_page(name) for name in sorted(experiments())}
    return pages


def _method_pages() -> list[str]:
    return sorted(f"methods/{p.name}" for p in (DOCS / "methods").glob("*.md") if p.name != "index.md")


def _reference_pages() -> list[str]:
    return sorted(f"reference/{p.name}" for p in (DOCS / "reference").glob("*.md") if p.name != "index.md")


def on_config(config: Any) -> Any:
    """Build the navigation: hand-written pages, then the generated family and reproduction pages."""
    import mtenvs
    from agents.runner import experiments

    config["nav"] = [
        *HAND_WRITTEN_NAV,
        {"Families": ["families/index.md", *(f"families/{n}.md" for n in mtenvs.families())]},
        {"Methods": ["methods/index.md", *_method_pages()]},
        {"Reproductions": ["reproductions/index.md", *(f"reproductions/{n}.md" for n in sorted(experiments()))]},
        {"API reference": _reference_pages()},
    ]
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site."""
    from mkdocs.structure.files import File

    for path, content in generated_pages().items():
        files.append(File.generated(config, path, content=content))
    return files
