"""Copy finished experiment runs into the docs: ``docs/results/<experiment>/results.json`` and its PNG plots.

    mtenvs run cartpole-generalization --size full
    python docs/publish_results.py runs/cartpole-generalization-full-seed0

The reproduction page of the experiment then shows the plots, the summary and the paper's claims beside our
numbers, with the size and package versions recorded in ``results.json``. Unfinished runs are refused.

After a change to an experiment's plotting code, redraw the committed plots from the committed records, without
rerunning anything::

    python docs/publish_results.py --replot 002-lifelong-rewards 004-synthetic
    python docs/publish_results.py --replot all

After a change to an experiment's claims or aggregate, or to the verdict rule::

    python docs/publish_results.py --rejudge              # every committed run
    python docs/publish_results.py --rejudge 004-synthetic

re-judges committed runs without rerunning them: each summary and verdict is recomputed from the units the run
recorded, with the experiment's current aggregate and claims (`mtenvs.runner.rejudge`).
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


def replot(name: str) -> list[Path]:
    """Redraw ``docs/results/<name>/*.png`` from its ``results.json`` with the experiment's current plot function."""
    if str(RESULTS.parents[1]) not in sys.path:  # this checkout's code, not another installed copy
        sys.path.insert(0, str(RESULTS.parents[1]))
    from mtenvs.runner import get
    from mtenvs.runner.report import save_figures
    from mtenvs.runner.units import UnitRecord

    target = RESULTS / name
    document = json.loads((target / "results.json").read_text())
    experiment = get(document["experiment"])
    if experiment.plot is None:
        return []
    config = experiment.make_config(document["size"], document.get("overrides") or {})
    records = [UnitRecord.from_json(u) for u in sorted(document["units"], key=lambda u: u["index"])]
    figures = experiment.plot(config, records, document["summary"])
    for png in target.glob("*.png"):
        png.unlink()
    return save_figures(figures, target, experiment.name)


def rejudge(names: list[str]) -> list[Path]:
    """Re-judge the committed runs of ``names`` (every committed run when empty) in place; the files rewritten."""
    from mtenvs.runner.rejudge import rejudge_file

    files = [RESULTS / name / "results.json" for name in names] or sorted(RESULTS.glob("*/results.json"))
    for path in files:
        if not path.exists():
            raise ValueError(f"experiment: no committed run at {path}")
        rejudge_file(path)
    return files


def main(paths: list[str]) -> int:
    """Publish every run directory in ``paths`` (or, after ``--replot``, redraw the named experiments' plots; after
    ``--rejudge``, re-judge committed runs); returns a process exit code."""
    if not paths:
        print(__doc__)
        return 2
    if paths[0] == "--replot":
        names = sorted(p.name for p in RESULTS.iterdir() if p.is_dir()) if paths[1:] == ["all"] else paths[1:]
        for name in names:
            print(f"{name}: " + ", ".join(str(path) for path in replot(name)))
        return 0
    if paths[0] == "--rejudge":
        for path in rejudge(paths[1:]):
            print(f"re-judged {path}")
        return 0
    for path in paths:
        print(f"{path} -> {publish(Path(path))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
