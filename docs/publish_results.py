"""Copy finished experiment runs into the docs: ``docs/results/<experiment>/results.json`` and its PNG plots.

    mtenvs run cartpole-generalization --size full
    python docs/publish_results.py runs/cartpole-generalization-full-seed0

The reproduction page of the experiment then shows the plots, the summary and the paper's claims beside our
numbers, with the size and package versions recorded in ``results.json``. Unfinished runs are refused.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def publish(run_dir: Path) -> Path:
    """Copy one finished run into ``docs/results/<experiment>/`` (replacing an older one) and return that folder."""
    document = json.loads((run_dir / "results.json").read_text())
    if document.get("status") != "complete":
        raise ValueError(f"{run_dir}: status is {document.get('status')!r}; only finished runs can be published")
    target = RESULTS / document["experiment"]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(run_dir / "results.json", target / "results.json")
    for png in run_dir.glob("*.png"):
        shutil.copy2(png, target / png.name)
    return target


def main(paths: list[str]) -> int:
    """Publish every run directory in ``paths``; returns a process exit code."""
    if not paths:
        print(__doc__)
        return 2
    for path in paths:
        print(f"{path} -> {publish(Path(path))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
