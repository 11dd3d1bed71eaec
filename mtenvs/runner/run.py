"""Running an experiment: resumable, unit by unit, with ``results.json`` rewritten atomically after every unit.

A run directory holds ``results.json``, the PNG figures and, while a chained run is unfinished, ``checkpoints/``
(the pickled state each chain continues from). Starting a run in a directory that holds an unfinished run of the
same experiment, seed and config continues it; a finished run is returned as it is unless ``force=True``.

Order of writes for one unit (why a crash at any point loses nothing and never mixes states):
the unit's state checkpoint is written first, then ``results.json`` with the unit's record, then the checkpoint of
the chain's previous unit is deleted. A crash before ``results.json`` is replaced reruns the unit from the previous
checkpoint, which still exists. A chained unit always reads its state back from the checkpoint, interrupted or
not, so both kinds of run see exactly the same state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import pickle
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mtenvs.core.seeding import stable_seed
from mtenvs.files import atomic_write_bytes
from mtenvs.progress import Progress, ProgressOptions
from mtenvs.runner import registry
from mtenvs.runner.config import ConfigError, config_to_json, differences, field_types, parse_assignments
from mtenvs.runner.registry import Experiment
from mtenvs.runner.report import claim_results, save_figures
from mtenvs.runner.results import (
    FORMAT,
    RESULTS_FILE,
    MissingExtra,
    RunDirectoryError,
    ScalarWriter,
    jsonable,
    now,
    package_versions,
    read_results,
    scalar_leaves,
    write_json,
)
from mtenvs.runner.units import Unit, UnitContext, UnitRecord, UnitResult

CHECKPOINTS = "checkpoints"


def default_out(experiment: str, size: str, seed: int) -> Path:
    """The default run directory, ``runs/<experiment>-<size>-seed<N>`` (relative to the working directory)."""
    return Path("runs") / f"{experiment}-{size}-seed{seed}"


def unit_seed(run_seed: int, unit: Unit) -> int:
    """The seed of one unit: a function of the run seed and the unit's key only, so it survives a resume."""
    return stable_seed("unit", run_seed, unit.key)


@dataclass(frozen=True)
class RunPlan:
    """A validated run, before anything is written: experiment, size, seed, config, units and directory."""

    experiment: Experiment[Any]
    size: str
    seed: int
    config: Any
    overrides: Mapping[str, Any]
    out: Path
    units: tuple[Unit, ...]

    @property
    def results_path(self) -> Path:
        """Where ``results.json`` goes."""
        return self.out / RESULTS_FILE


def plan_run(
    experiment: Experiment[Any] | str,
    size: str = "quick",
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    out: str | Path | None = None,
    backend: str | None = None,
) -> RunPlan:
    """Check everything about a run without touching the disk.

    Args:
        experiment: an `Experiment` or a registered name.
        size: one of the experiment's sizes.
        seed: the run seed (default: the experiment's).
        overrides: config overrides, typed (``{"episodes": 5}``) or as ``["episodes=5"]`` strings.
        out: the run directory (default `default_out`).
        backend: the communication backend of a multi-agent experiment (``"local"`` or ``"ray"``): sets its config
            field ``backend``; experiments without one reject it.

    Raises:
        ValueError: unknown experiment, size or config key, a value of the wrong type or out of its declared range
            (`ConfigError`), a bad seed, a backend for an experiment that has none, or units that are empty or repeat
            a key.
        MissingExtra: the config asks for the Ray backend and Ray is not installed.
    """
    exp = registry.get(experiment) if isinstance(experiment, str) else experiment
    if isinstance(overrides, Sequence) and not isinstance(overrides, str):
        overrides = parse_assignments(exp.config, overrides)
    if backend is not None:
        overrides = {**(overrides or {}), "backend": backend_override(exp, backend)}
    config = exp.make_config(size, overrides)
    if getattr(config, "backend", None) == "ray" and importlib.util.find_spec("ray") is None:
        raise MissingExtra(f'experiment {exp.name!r} with backend "ray" needs Ray: pip install "mtenvs[ray]"')
    seed = exp.seed if seed is None else seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    units = tuple(exp.units(config))
    if not all(isinstance(u, Unit) for u in units):
        raise ValueError(f"experiment {exp.name!r}: units(config) must return a list of Unit objects")
    if not units:
        raise ConfigError(f"experiment {exp.name!r} has no units of work with this config (a count set to 0?); "
                          f"config: {config_to_json(config)}")
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"experiment {exp.name!r}: unit keys repeat: {', '.join(repeated[:5])}")
    out_path = Path(out) if out is not None else default_out(exp.name, size, int(seed))
    return RunPlan(exp, size, int(seed), config, jsonable(dict(overrides or {})), out_path, units)


def backend_override(exp: Experiment[Any], backend: str) -> str:
    """``backend`` if ``exp`` declares a ``backend`` config field (its multi-agent methods take a communicator),
    else a ``ConfigError`` naming the experiment and those that have one."""
    if "backend" not in field_types(exp.config):
        takers = [name for name, e in registry.experiments().items() if "backend" in field_types(e.config)]
        raise ConfigError(f"experiment {exp.name!r} has no communication backend (no multi-agent method); "
                          f"a backend applies to: {', '.join(takers) or 'none registered'}")
    return backend


def backend_session(config: Any, address: str | None = None) -> contextlib.AbstractContextManager[Any]:
    """One Ray session for all units of a run whose config asks for ``backend="ray"`` (started on this machine, or
    joined at ``address``); nothing for other runs. ``ValueError`` if an ``address`` is given for another backend."""
    if getattr(config, "backend", None) != "ray":
        if address is not None:
            raise ValueError(f"address {address!r} needs the 'ray' backend; this run's backend is "
                             f"{getattr(config, 'backend', 'not configurable')!r}")
        return contextlib.nullcontext()
    from mtenvs.runner.session import ray_session

    return ray_session(address)


def existing_results(plan: RunPlan) -> dict[str, Any] | None:
    """The results already in the plan's directory, if any, after checking they belong to this very run.

    Raises:
        RunDirectoryError: the file is unreadable or not a results file, or holds a run of another
            experiment, seed, config or unit list, or unit records this run would not write (a foreign or repeated
            unit): resuming it would mix two runs. The message names the file and suggests ``--force``.
    """
    if plan.out.exists() and not plan.out.is_dir():
        raise RunDirectoryError(f"{plan.out} is a file, not a run directory; choose another --out")
    if not plan.results_path.exists():
        return None
    stored = read_results(plan.results_path)
    problems = []
    if stored["experiment"] != plan.experiment.name:
        problems.append(f"experiment: {stored['experiment']!r} -> {plan.experiment.name!r}")
    if stored["seed"] != plan.seed:
        problems.append(f"seed: {stored['seed']} -> {plan.seed}")
    problems += differences(stored["config"], config_to_json(plan.config))
    if not problems and stored["planned_units"] != [u.key for u in plan.units]:
        problems.append("the experiment's list of units has changed")
    if not problems:
        problems += _foreign_records(plan, stored["units"])
    if problems:
        raise RunDirectoryError(f"{plan.results_path} holds a different run ({'; '.join(problems)}); "
                                "choose another --out, or --force to discard it")
    return stored


def _foreign_records(plan: RunPlan, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """What is wrong with stored unit records for this plan: a key it has no unit for, a repeated key, or a record
    whose position or seed is not the one this run gives that unit."""
    position = {unit.key: index for index, unit in enumerate(plan.units)}
    problems, seen = [], set()
    for record in records:
        key = record["key"]
        if key not in position:
            problems.append(f"a record of unit {key!r}, which this run does not have")
        elif key in seen:
            problems.append(f"unit {key!r} is recorded twice")
        elif record["index"] != position[key] or record["seed"] != unit_seed(plan.seed, plan.units[position[key]]):
            problems.append(f"the record of unit {key!r} has another index or seed than this run gives it")
        seen.add(key)
    return problems[:3]


def _new_document(plan: RunPlan) -> dict[str, Any]:
    exp = plan.experiment
    return {
        "format": FORMAT,
        "experiment": exp.name,
        "title": exp.title,
        "paper": exp.paper,
        "size": plan.size,
        "seed": plan.seed,
        "config": config_to_json(plan.config),
        "overrides": dict(plan.overrides),
        "versions": package_versions(),
        "started": now(),
        "finished": None,
        "status": "running",
        "resumed": [],
        "planned_units": [u.key for u in plan.units],
        "units": [],
        "summary": None,
        "claims": [],
        "plots": [],
    }


def _discard(plan: RunPlan) -> None:
    """Remove what an earlier run wrote in the directory (its results, figures and checkpoints), nothing else."""
    if plan.results_path.exists():
        try:
            old_plots = read_results(plan.results_path).get("plots", [])
        except ValueError:
            old_plots = []
        for name in old_plots:
            (plan.out / name).unlink(missing_ok=True)
        plan.results_path.unlink()
    shutil.rmtree(plan.out / CHECKPOINTS, ignore_errors=True)


def _chain_links(units: Sequence[Unit]) -> tuple[list[int | None], list[bool]]:
    """For each unit: the index of the previous unit of its chain, and whether a later unit continues it."""
    previous: list[int | None] = [None] * len(units)
    continued = [False] * len(units)
    last: dict[str, int] = {}
    for index, unit in enumerate(units):
        if unit.chain is not None:
            if unit.chain in last:
                previous[index] = last[unit.chain]
                continued[last[unit.chain]] = True
            last[unit.chain] = index
    return previous, continued


def _checkpoint(plan: RunPlan, index: int) -> Path:
    return plan.out / CHECKPOINTS / f"unit-{index:06d}.pkl"


def _load_state(plan: RunPlan, index: int | None) -> Any:
    if index is None:
        return None
    path = _checkpoint(plan, index)
    if not path.exists():
        raise RunDirectoryError(f"the checkpoint of unit {plan.units[index].key!r} is missing ({path}); "
                                "the run cannot continue its chain: rerun with --force")
    try:
        return pickle.loads(path.read_bytes())
    except Exception as error:  # a truncated or foreign file: pickle raises many kinds of errors
        reason = " ".join(f"{type(error).__name__}: {error}".split())[:160]
        raise RunDirectoryError(f"{path} is not a readable checkpoint of unit {plan.units[index].key!r} ({reason}); "
                                "the run cannot continue its chain: rerun with --force") from None


def _save_state(plan: RunPlan, index: int, state: Any) -> None:
    try:
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise ValueError(f"unit {plan.units[index].key!r}: its state cannot be pickled ({error})") from error
    (plan.out / CHECKPOINTS).mkdir(exist_ok=True)
    atomic_write_bytes(_checkpoint(plan, index), data)


#: How a unit's own bar is drawn under the run's: on the next line, cleared when the unit ends, shown only for a
#: unit that runs longer than 2 s, and as plain lines at most every 10 s.
INNER_PROGRESS = ProgressOptions(leave=False, position=1, indent="  ", interval=10.0, delay=2.0)


def _compute(plan: RunPlan, index: int, state: Any,
             progress: bool | ProgressOptions = False) -> tuple[UnitRecord, Any]:
    """Run one unit and return its record (metrics in JSON form) and the state it passes on."""
    unit = plan.units[index]
    seed = unit_seed(plan.seed, unit)
    context = UnitContext(index=index, seed=seed, rng=np.random.default_rng(seed), state=state, run_seed=plan.seed,
                          progress=progress)
    start = time.perf_counter()
    output = plan.experiment.compute(plan.config, unit, context)
    seconds = time.perf_counter() - start
    result = output if isinstance(output, UnitResult) else UnitResult(output)
    if not isinstance(result.metrics, Mapping):
        raise ValueError(f"unit {unit.key!r}: compute must return a UnitResult or a mapping of metrics, "
                         f"got {type(output).__name__}")
    if unit.chain is None and result.state is not None:
        raise ValueError(f"unit {unit.key!r} returned a state but belongs to no chain; give its units a chain")
    metrics = jsonable(result.metrics, f"unit {unit.key!r} metrics")
    record = UnitRecord(index, unit.key, dict(unit.params), unit.chain, seed, metrics, round(seconds, 4))
    return record, result.state


def _stream(writer: ScalarWriter, record: UnitRecord, step: int) -> None:
    """Send a unit's numeric metrics to the writer: ``<chain>/<metric>`` by position in the chain, else
    ``<metric>`` by unit index."""
    prefix = f"{record.chain}/" if record.chain is not None else ""
    for tag, value in scalar_leaves(record.metrics):
        writer.add_scalar(prefix + tag, value, step)


def execute(plan: RunPlan, *, force: bool = False, progress: bool = False, writer: ScalarWriter | None = None,
            address: str | None = None) -> dict[str, Any]:
    """Run (or continue) the plan and return the final ``results.json`` document.

    Args:
        plan: from `plan_run`.
        force: discard results already in the directory and start over.
        progress: show progress (`mtenvs.progress.Progress`): a bar over units (units done out of all, the key
            of the unit being computed, elapsed and remaining time) and, nested under it, the bar a unit draws
            through `UnitContext.progress`; plain lines where standard error is no terminal with a width.
        writer: where to stream metrics (a TensorBoard ``SummaryWriter``); the caller closes it.
        address: with ``backend="ray"``, the Ray cluster to join (``"auto"``, ``"ray://host:port"``); default: a
            local cluster started for the run (see `backend_session`).

    A new run that fails before its first unit finishes (an error in the experiment's code, an interruption)
    removes the results file it started, so the next run in the directory starts afresh.

    Raises:
        RunDirectoryError: the directory holds a different run or a corrupt file (see `existing_results`), or
            a checkpoint a chain continues from is missing or unreadable.
        ValueError: a unit returned something that is not JSON metrics, or an ``address`` for a run that does not
            use Ray.
    """
    session = backend_session(plan.config, address)
    document = None if force else existing_results(plan)
    if document is not None and document["status"] == "complete":
        return document
    created_directory = not plan.out.exists()
    plan.out.mkdir(parents=True, exist_ok=True)
    if force:
        _discard(plan)
    fresh = document is None
    if document is None:
        document = _new_document(plan)
    else:
        document["resumed"].append({"time": now(), "versions": package_versions()})
    write_json(plan.results_path, document)

    done = {u["key"] for u in document["units"]}
    previous, continued = _chain_links(plan.units)
    chain_steps: dict[str, int] = {}
    bar = Progress(len(plan.units), initial=len(done), desc=plan.experiment.name, unit="unit", enabled=progress,
                   position=0, interval=2.0)
    inner: bool | ProgressOptions = INNER_PROGRESS if progress else False
    try:
        with session:  # one Ray session for every unit of a run on the Ray backend
            for index, unit in enumerate(plan.units):
                step = index
                if unit.chain is not None:
                    step = chain_steps[unit.chain] = chain_steps.get(unit.chain, -1) + 1
                if unit.key in done:
                    continue
                bar.set_postfix(unit.key)
                record, state = _compute(plan, index, _load_state(plan, previous[index]), inner)
                if continued[index]:
                    _save_state(plan, index, state)
                document["units"].append(record.to_json())
                write_json(plan.results_path, document)
                if previous[index] is not None:
                    _checkpoint(plan, previous[index]).unlink(missing_ok=True)
                if writer is not None:
                    _stream(writer, record, step)
                bar.update(1, postfix="")  # no unit running until the next one starts
    except BaseException:
        if fresh and not document["units"]:  # a start that failed leaves nothing that would block the next run
            _undo_start(plan, created_directory)
        raise
    finally:
        bar.close()
    return _finish(plan, document, writer)


def _undo_start(plan: RunPlan, created_directory: bool) -> None:
    """Remove what a new run wrote before its first unit finished (its results file and checkpoints, and the
    directory if the run created it and it is empty now)."""
    plan.results_path.unlink(missing_ok=True)
    shutil.rmtree(plan.out / CHECKPOINTS, ignore_errors=True)
    if created_directory:
        with contextlib.suppress(OSError):  # not empty: something else was written there meanwhile
            plan.out.rmdir()


def _finish(plan: RunPlan, document: dict[str, Any], writer: ScalarWriter | None) -> dict[str, Any]:
    """Aggregate, compare with the paper, draw the figures, and mark the run complete."""
    exp = plan.experiment
    records = [UnitRecord.from_json(u) for u in sorted(document["units"], key=lambda u: u["index"])]
    summary = jsonable(exp.aggregate(plan.config, records), "summary")
    if not isinstance(summary, dict):
        raise ValueError(f"experiment {exp.name!r}: aggregate must return a mapping of metric names to values")
    document["summary"] = summary
    document["claims"] = jsonable(claim_results(exp.claims, summary, size=plan.size, overrides=plan.overrides), "claims")
    if exp.plot is not None:
        figures = exp.plot(plan.config, records, summary)
        document["plots"] = [path.name for path in save_figures(figures, plan.out, exp.name)]
    document["status"] = "complete"
    document["finished"] = now()
    write_json(plan.results_path, document)
    shutil.rmtree(plan.out / CHECKPOINTS, ignore_errors=True)
    if writer is not None:
        for tag, value in scalar_leaves(summary):
            writer.add_scalar(f"summary/{tag}", value, len(plan.units))
    return document


def run_experiment(
    experiment: Experiment[Any] | str,
    size: str = "quick",
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: bool = False,
    writer: ScalarWriter | None = None,
    backend: str | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Plan and execute a run in one call (see `plan_run` and `execute`)."""
    plan = plan_run(experiment, size, seed=seed, overrides=overrides, out=out, backend=backend)
    return execute(plan, force=force, progress=progress, writer=writer, address=address)
