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

PAPER_TITLES = {  # full citations on papers.md
    "000": "Scaling Distributed Multi-task Reinforcement Learning with Experience Sharing",
    "001": "Provably Efficient Cooperative Multi-Agent Reinforcement Learning with Function Approximation",
    "002": "Scalable Lifelong Reinforcement Learning",
    "003": "A Decentralized Policy Gradient Approach to Multi-Task Reinforcement Learning",
    "004": "Efficient Reinforcement Learning in Resource Allocation Problems through Permutation Invariant Multi-Task "
           "Learning",
}

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
        "tutorials/new-method.md",
        "tutorials/your-own-experiment.md",
        "tutorials/ray.md",
    ]},
    {"Papers": "papers.md"},
    {"Contributing": "contributing.md"},
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
        lines += [f"![Four tasks of {name}](../assets/families/{name}.png)", "",
                  "*Four tasks of the family, each labelled with the parameters in which they differ "
                  "(`python docs/render_images.py`).*", ""]

    lines += ["## Environments", ""]
    rows = []
    for env_id in env_ids(name):
        spec = gym.spec(env_id)
        rows.append([f"`{env_id}`", spec.max_episode_steps, "native" if spec.vector_entry_point else "sync",
                     f"`{spec.entry_point}`"])
    lines += [markdown_table(["id", "max episode steps", "vector env", "entry point"], rows), ""]
    lines += ["```python", "import gymnasium as gym, mtenvs", "",
              "# a new training task at every reset",
              f'env = gym.make("{env_ids(name)[0]}", tasks="train")',
              "# eight sampled tasks, one per sub-environment",
              f'tasks = mtenvs.family("{name}").sample(8, seed=0)',
              f'venv = gym.make_vec("{env_ids(name)[0]}", num_envs=8, tasks=tasks)',
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
_RELATION = {"close": "≈ ", "at_least": "≥ ", "at_most": "≤ ", "text": ""}


def _paper_number(claim: Mapping[str, Any]) -> str:
    """The paper's number with its relation (``≥ 0``, ``≈ 0.88 ± 25%``) or its words."""
    text = f"{_RELATION[claim['compare']]}{_cell(claim['paper'])}"
    if claim["compare"] == "close":
        relative = claim.get("tolerance", 0) * abs(claim["paper"])
        tolerance = max(relative, claim.get("atol", 0))
        if tolerance:
            text += f" ± {100 * claim['tolerance']:.3g}%" if tolerance == relative else f" ± {tolerance:.3g}"
    return text


def claim_rows(document: Mapping[str, Any] | None, experiment: Any) -> list[dict[str, Any]]:
    """The claims of an experiment as its pages show them: from the committed ``results.json`` when there is one
    (our value, verdict and its reason as judged there), else the registered claims with no verdict."""
    from dataclasses import asdict

    from mtenvs.runner.report import format_value, verdict_text

    if document is None:
        return [{"metric": c.metric, "paper": _paper_number(asdict(c)), "source": c.source, "ours": "—",
                 "verdict": "no committed run", "reason": c.reason} for c in experiment.claims]
    rows = []
    for c in document.get("claims", []):
        rows.append({"metric": c["metric"], "paper": _paper_number(c), "source": c["source"],
                     "ours": format_value(c["ours"]) if c["metric"] in (document.get("summary") or {}) else "missing",
                     "verdict": verdict_text(c), "reason": c.get("reason", "")})
    return rows


def _claims_table(rows: list[dict[str, Any]]) -> str:
    return markdown_table(["metric", "paper", "where", "ours", "verdict", "why"],
                          [[f"`{r['metric']}`", r["paper"], r["source"], r["ours"], f"**{r['verdict']}**", r["reason"]]
                           for r in rows])


def _wrap_command(command: str, options: list[str], width: int = 100) -> str:
    """``command`` followed by ``options``, continued on indented lines (``\\``) to stay within ``width``."""
    lines = [command]
    for option in options:
        if len(lines[-1]) + 1 + len(option) + 2 > width:
            lines[-1] += " \\"
            lines.append("    " + option)
        else:
            lines[-1] += " " + option
    return "\n".join(lines)


def experiment_page(name: str) -> str:
    """The Markdown page of a registered experiment (a reproduction)."""
    from dataclasses import asdict

    from mtenvs.runner import get
    from mtenvs.runner.report import format_value

    experiment = get(name)
    lines = [f"# {experiment.title}", ""]
    if experiment.paper:
        lines += [f"Paper {experiment.paper}: *{PAPER_TITLES.get(experiment.paper, '?')}* "
                  f"([citation](../papers.md#paper-{experiment.paper})). Experiment `{name}`.", ""]
    if experiment.description:
        lines += [demote_headings(experiment.description, 1), ""]
    lines += ["## Run it", "", "```bash", f"mtenvs run {name} --size quick   # under a minute",
              f"mtenvs run {name} --size full    # the paper's budget", "```", ""]
    results_file = RESULTS / name / "results.json"
    document = json.loads(results_file.read_text()) if results_file.exists() else None
    claims = list(experiment.claims)
    if document is not None:
        claims = document.get("claims", claims)
        size = document.get("size", "?")
        overrides = document.get("overrides") or {}
        scaled = (" scaled down to fit this project's machine (2 CPU cores): "
                  + ", ".join(f"`{key}={_cell(value)}`" for key, value in overrides.items())) if overrides else ""
        lines += ["## Results", "", f"Committed run: size `{size}`{scaled}, mtenvs "
                  f"{document.get('versions', {}).get('mtenvs', '?')}. Regenerate it with:", "",
                  "```bash", _wrap_command(f"mtenvs run {name} --size {size}", [
                      f"--set {key}={_cli_value(value)}" for key, value in overrides.items()]), "```", ""]
        for png in sorted((RESULTS / name).glob("*.png")):
            lines += [f"![{png.stem}](../results/{name}/{png.name})", ""]
        summary = document.get("summary") or {}
        lines += [markdown_table(["metric", "ours"], [[f"`{k}`", format_value(v)] for k, v in summary.items()]), ""]
    if claims:
        from mtenvs.runner.report import comparability

        lines += ["## The paper's claims beside ours", "",
                  "Each verdict comes from the 95% interval of our number, not from its mean alone; the rule is on "
                  "the [claims page](claims.md#how-a-claim-is-judged).", ""]
        caveat = comparability(document["size"], document.get("overrides")) if document else ""
        if caveat:
            lines += ["!!! warning", f"    This run is {caveat.split(':')[0]}: its verdicts are not comparable to "
                      "the paper's numbers.", ""]
        lines += [_claims_table(claim_rows(document, experiment)), ""]
    if document is None:
        lines += ["!!! note", "    No committed run yet: the numbers appear here once a `full` run is committed to "
                  f"`docs/results/{name}/`.", ""]
    quick, full = experiment.make_config("quick"), experiment.make_config("full")
    rows = [[f"`{field}`", _cell(getattr(quick, field)), _cell(getattr(full, field))] for field in asdict(quick)]
    lines += ["## Configuration", "", markdown_table(["field", "quick", "full"], rows), ""]
    return "\n".join(lines)


def experiments_index() -> str:
    """The overview page listing every experiment."""
    from mtenvs.runner import experiments

    rows = [[f"[{name}]({name}.md)", f"[{e.paper}](../papers.md#paper-{e.paper})" if e.paper else "—", e.title]
            for name, e in sorted(experiments().items())]
    return "\n".join(["# Reproductions", "", "Each paper figure or table the project reproduces, with the paper's "
                      "claims beside our measured numbers. Every claim's verdict, across the five papers, is on the "
                      "[claims page](claims.md).", "", markdown_table(["experiment", "paper", "title"], rows), ""])


def verdict_rule() -> str:
    """The verdict rule, as the runner's registry documents it (one text, shown on the claims page)."""
    import inspect

    from mtenvs.runner import registry

    doc = inspect.getdoc(registry) or ""
    start = doc.index("How a claim is judged")
    return doc[start:].split("\n", 1)[1].strip()


def claims_index() -> str:
    """Every paper's claims in one table: the paper's number, ours with its interval and the verdict, read from the
    committed results (so the table cannot drift from them)."""
    from mtenvs.runner import experiments

    rows, counts = [], {}
    for name, experiment in sorted(experiments().items(), key=lambda item: (item[1].paper or "~", item[0])):
        if not experiment.claims:
            continue
        results = RESULTS / name / "results.json"
        document = json.loads(results.read_text()) if results.exists() else None
        for row in claim_rows(document, experiment):
            verdict = row["verdict"]
            counts[verdict.split(" (")[0]] = counts.get(verdict.split(" (")[0], 0) + 1
            rows.append([experiment.paper or "—", f"[{name}]({name}.md)", f"`{row['metric']}` — {row['source']}",
                         row["paper"], row["ours"], f"**{verdict}**", row["reason"]])
    tally = ", ".join(f"{count} {verdict}" for verdict, count in sorted(counts.items()))
    rule = verdict_rule().replace("``", "`")
    return "\n".join([
        "# Claims and verdicts", "",
        "Every claim of the five papers that the project reproduces, with the paper's number, ours (mean, 95% interval "
        "and number of seeds) and the verdict, read from the committed runs in `docs/results/`. A run made at a "
        "smaller size than the paper's is marked *not comparable*. Re-judge the committed runs after changing an "
        "experiment's claims or aggregate with `python docs/publish_results.py --rejudge`.", "",
        f"In all: {tally}.", "",
        markdown_table(["paper", "experiment", "claim", "paper's number", "ours", "verdict", "why"], rows), "",
        "## How a claim is judged", "", rule, ""])


# ---------------------------------------------------------------------------------------------------- mkdocs events
def generated_pages() -> dict[str, str]:
    """Every generated page: its path under ``docs/`` and its Markdown."""
    import mtenvs
    from mtenvs.runner import experiments

    pages = {"families/index.md": families_index(), "reproductions/index.md": experiments_index(),
             "reproductions/claims.md": claims_index()}
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
    from mtenvs.runner import experiments

    config["nav"] = [
        *HAND_WRITTEN_NAV,
        {"Families": ["families/index.md", *(f"families/{n}.md" for n in mtenvs.families())]},
        {"Methods": ["methods/index.md", *_method_pages()]},
        {"Reproductions": ["reproductions/index.md", "reproductions/claims.md",
                           *(f"reproductions/{n}.md" for n in sorted(experiments()))]},
        {"API reference": _reference_pages()},
    ]
    return config


def _first_sentence(text: str) -> str:
    sentence = text.split(". ")[0].split("; ")[0].strip().rstrip(".")
    return sentence + "."


def gallery() -> str:
    """The home page's gallery: every family's episode GIF, name and one-line description, linking its page."""
    import mtenvs

    cards = []
    for name in mtenvs.families():
        if name == "ToyChain":   # the test-only family registered by the test suite
            continue
        gif = DOCS / "assets" / "gallery" / f"{name}.gif"
        picture = f"[![{name}: an episode](assets/gallery/{name}.gif)](families/{name}.md)\n\n    " if gif.exists() else ""
        description = _first_sentence(mtenvs.family(name).description).replace("|", "/")
        cards.append(f"-   {picture}**[{name}](families/{name}.md)**: {description}")
    return '<div class="grid cards" markdown>\n\n' + "\n\n".join(cards) + "\n\n</div>\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the home page's ``<!-- gallery -->`` marker with the family gallery."""
    if page.file.src_uri == "index.md":
        return markdown.replace("<!-- gallery -->", gallery())
    return markdown


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site."""
    from mkdocs.structure.files import File

    for path, content in generated_pages().items():
        files.append(File.generated(config, path, content=content))
    return files
