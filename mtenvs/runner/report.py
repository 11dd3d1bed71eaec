"""What a run shows: the summary table (our number beside the paper's claim) and the PNG figures."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mtenvs.files import atomic_write_bytes
from mtenvs.runner.registry import Claim
from mtenvs.runner.stats import is_estimate

_STEM = re.compile(r"^[\w.-]+$")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with left-aligned columns sized to their widest cell."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_value(value: Any) -> str:
    """A summary value for the table: numbers to 4 significant digits, estimates as ``mean [low, high] (n=..)``."""
    if is_estimate(value):
        if value["mean"] is None:
            return f"n/a (n={value['n']})"
        interval = "" if value["low"] is None else f" [{value['low']:.4g}, {value['high']:.4g}]"
        return f"{value['mean']:.4g}{interval} (n={value['n']})"
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "n/a"
    if isinstance(value, (Mapping, list)):
        text = json.dumps(value, separators=(",", ":"))
        return text if len(text) <= 40 else text[:37] + "..."
    return str(value)


#: Config keys that change how a run is executed but not what it computes: overriding them keeps it comparable.
EXECUTION_KEYS = frozenset({"backend"})


def comparability(size: str, overrides: Mapping[str, Any] | None = None) -> str:
    """Why a run's verdicts are not comparable to the paper (``""`` when they are): a size other than ``full``, or
    ``full`` with overrides of what it computes (a scaled-down budget)."""
    if size != "full":
        return f"size {size!r}: not comparable to the paper"
    scaled = sorted(key for key in (overrides or {}) if key not in EXECUTION_KEYS)
    if scaled:
        return f"scaled ({', '.join(f'{key}={(overrides or {})[key]}' for key in scaled)}): not comparable to the paper"
    return ""


def claim_results(claims: Sequence[Claim], summary: Mapping[str, Any], *, size: str = "full",
                  overrides: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each claim with our value, its verdict and the verdict's reason (see `mtenvs.runner.registry`), and whether
    the run is comparable to the paper (``comparable``; a quick or scaled run is not, `comparability`)."""
    caveat = comparability(size, overrides)
    rows = []
    for c in claims:
        ours = summary.get(c.metric)
        verdict, reason = c.judge(ours)
        rows.append({"metric": c.metric, "paper": c.paper, "compare": c.compare, "tolerance": c.tolerance,
                     "atol": c.atol, "source": c.source, "exact": c.exact, "ours": ours,
                     "holds": {"agrees": True, "differs": False}.get(verdict), "verdict": verdict, "reason": reason,
                     "comparable": not caveat})
    return rows


def verdict_text(claim: Mapping[str, Any]) -> str:
    """A claim's verdict as shown in summaries: ``agrees`` / ``DIFFERS`` / ``inconclusive`` / ``not checked``, with
    ``(not comparable)`` for a quick or scaled run. Results written before verdicts existed are read from
    ``holds``."""
    verdict = claim.get("verdict") or {True: "agrees", False: "differs", None: "inconclusive"}[claim.get("holds")]
    if claim["compare"] == "text" and "verdict" not in claim:
        verdict = "not checked"
    text = "DIFFERS" if verdict == "differs" else verdict
    return text if claim.get("comparable", True) else f"{text} (not comparable)"


_RELATION = {"close": "≈", "at_least": "≥", "at_most": "≤", "text": ""}


def _claim_text(claim: Mapping[str, Any]) -> str:
    paper = claim["paper"] if claim["compare"] == "text" else f"{_RELATION[claim['compare']]} {claim['paper']:g}"
    return f"{paper} ({claim['source']})" if claim["source"] else str(paper)


def summary_table(document: Mapping[str, Any]) -> str:
    """The run's summary metrics, with the paper's claims and their verdicts beside the metrics they are about."""
    summary = document.get("summary") or {}
    claims = document.get("claims", [])
    rows = []
    for metric in [*summary, *dict.fromkeys(c["metric"] for c in claims if c["metric"] not in summary)]:
        ours = format_value(summary[metric]) if metric in summary else "missing"
        about = [c for c in claims if c["metric"] == metric]
        rows += [[metric, ours, _claim_text(c), verdict_text(c)] for c in about] or [[metric, ours, "", ""]]
    if not rows:
        return "(no summary metrics)"
    if not claims:
        return format_table(["metric", "ours"], [row[:2] for row in rows])
    table = format_table(["metric", "ours", "paper", "verdict"], rows)
    notes = [f"{c['metric']}: {c['reason']}" for c in claims if c.get("verdict") in ("inconclusive", "not checked")
             and c.get("reason")]
    caveat = comparability(document.get("size", "full"), document.get("overrides"))
    if caveat:
        notes.insert(0, f"This run's verdicts are not comparable to the paper ({caveat.split(':')[0]}).")
    return "\n".join([table, *notes])


def save_figures(figures: Any, out: Path, stem: str) -> list[Path]:
    """Save a matplotlib ``Figure`` (as ``<stem>.png``) or a mapping ``{stem: Figure}`` as PNG files in ``out``.

    PNG output is rendered by Agg whatever the interactive backend. Files are written atomically; figures created
    through ``pyplot`` are closed afterwards.
    """
    if figures is None:
        return []
    named = dict(figures) if isinstance(figures, Mapping) else {stem: figures}
    paths = []
    for name, figure in named.items():
        if not isinstance(name, str) or not _STEM.match(name):
            raise ValueError(f"figure name {name!r} must be a plain file stem (letters, digits, '_', '-', '.')")
        if not hasattr(figure, "savefig"):
            raise ValueError(f"figure {name!r} is a {type(figure).__name__}, not a matplotlib Figure")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=120)
        path = Path(out) / f"{name}.png"
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(figure)
    return paths
