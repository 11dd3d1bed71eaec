"""Judge a finished run again without rerunning it: its summary and claims recomputed from the units it recorded.

A committed ``results.json`` keeps every unit's metrics, so a change to an experiment's aggregate (a new paired
difference, a declared metric range) or to its claims (a new check, the verdict rule) can be applied to an old run
by calling the experiment's current ``aggregate`` on the recorded units and judging its current claims. Nothing is
recomputed from the environments; units, config, versions and figures stay as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mtenvs.runner.config import build_config
from mtenvs.runner.registry import get
from mtenvs.runner.report import claim_results
from mtenvs.runner.results import jsonable, read_results, write_json
from mtenvs.runner.units import UnitRecord


def rejudge(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` (a complete run) with ``summary`` and ``claims`` recomputed from its units.

    The config is rebuilt from the recorded one (fields the experiment no longer has are dropped, new ones take
    their defaults).

    Raises:
        ValueError: the run is unfinished, or its experiment is not registered.
    """
    if document.get("status") != "complete":
        raise ValueError(f"status: only complete runs can be judged again, got {document.get('status')!r}")
    experiment = get(document["experiment"])
    names = {f.name for f in dataclasses.fields(experiment.config) if f.init}
    config = build_config(experiment.config, {k: v for k, v in document["config"].items() if k in names})
    records = [UnitRecord.from_json(u) for u in sorted(document["units"], key=lambda u: u["index"])]
    summary = jsonable(experiment.aggregate(config, records), "summary")
    claims = claim_results(experiment.claims, summary, size=document["size"], overrides=document.get("overrides"))
    return {**document, "summary": summary, "claims": jsonable(claims, "claims")}


def rejudge_file(path: str | Path) -> dict[str, Any]:
    """Re-judge the ``results.json`` at ``path`` in place (see `rejudge`) and return the new document."""
    document = rejudge(read_results(Path(path)))
    write_json(Path(path), document)
    return document
