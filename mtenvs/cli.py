"""The ``mtenvs`` command line: families, experiments, runs and benchmarks.

``mtenvs families`` / ``mtenvs info CartPole`` describe the environments; ``mtenvs experiments`` lists the papers'
reproductions and ``mtenvs run NAME --size quick`` runs one (resumable: run the same command again after an
interruption); ``mtenvs bench`` runs the throughput scripts of the source tree's ``benchmarks/`` directory.
Exit codes: 0 success, 1 failure, 2 bad usage (unknown name, a ``--set`` value of the wrong type or out of its range,
a directory holding another run or a corrupt file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import inspect
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mtenvs
from mtenvs.plugins import PluginWarning

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A problem with what the user asked for; reported without a traceback, exit code 2."""


def _error(message: str) -> None:
    print(f"mtenvs: error: {message}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------- families
def cmd_families(args: argparse.Namespace) -> int:
    """List the task families and their environment ids."""
    from mtenvs.runner.report import format_table

    rows = [[name, ", ".join(mtenvs.env_ids(name)), "yes" if mtenvs.family(name).has_optimum else "no"]
            for name in mtenvs.families()]
    print(format_table(["family", "environment ids", "exact optimum"], rows))
    return EXIT_OK


def _range_text(values: Sequence[Any] | None, units: str = "") -> str:
    if values is None:
        return "fixed (default)"
    suffix = f" {units}" if units else ""
    return f"[{values[0]:g}, {values[1]:g}]{suffix}"


def cmd_info(args: argparse.Namespace) -> int:
    """Describe one family: parameters, task sets, ids and whether an exact optimum exists."""
    from mtenvs.runner.report import format_table

    try:
        description = mtenvs.family(args.family).describe()
    except ValueError as error:  # unknown family, with the closest names
        raise UsageError(str(error)) from None
    description["env_ids"] = mtenvs.env_ids(args.family)
    if args.json:
        print(json.dumps(description, indent=2))
        return EXIT_OK
    rows = []
    for p in description["parameters"]:
        if p["kind"] == "categorical":
            bounds, train = "{" + ", ".join(map(str, p["choices"])) + "}", "{" + ", ".join(map(str, p["train"])) + "}"
        else:
            bounds, train = _range_text(p["bounds"]), _range_text(p["train"])
        rows.append([p["name"], p["kind"], p["default"], bounds, train, p["units"], p["description"]])
    print(f"{description['name']}: {description['description']}\n")
    print(format_table(["parameter", "kind", "default", "bounds", "train", "units", "description"], rows))
    print("\ntask sets:      " + ", ".join(f"{name} ({size})" for name, size in description["task_sets"].items()))
    print("environment ids: " + ", ".join(description["env_ids"]))
    print("exact optimum:   " + ("yes" if description["exact_optimum"] else "no"))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ experiments
def cmd_experiments(args: argparse.Namespace) -> int:
    """List the experiments, or describe one (its config fields, sizes and claims)."""
    from mtenvs.runner import experiments, get
    from mtenvs.runner.config import field_ranges, field_text
    from mtenvs.runner.report import format_table

    if args.name is None:
        rows = [[e.name, e.paper or "-", ", ".join(e.sizes), e.title] for e in experiments().values()]
        print(format_table(["experiment", "paper", "sizes", "title"], rows) if rows else
              "no experiments registered: installed packages declare theirs as mtenvs.experiments entry points "
              "(a source checkout whose pyproject.toml changed needs pip install -e . again)")
        return EXIT_OK
    try:
        exp = get(args.name)
    except ValueError as error:  # unknown experiment, with the closest names
        raise UsageError(str(error)) from None
    print(f"{exp.name}: {exp.title}" + (f" (paper {exp.paper})" if exp.paper else ""))
    if exp.description:
        print(f"\n{exp.description}")
    defaults = exp.config()
    rows = [[name, field_text(tp), repr(getattr(defaults, name)),
             *(repr(size[name]) if name in size else "" for size in exp.sizes.values())]
            for name, tp in field_ranges(exp.config).items()]
    print("\n" + format_table(["key", "type", "default", *exp.sizes], rows))
    if exp.claims:
        print("\n" + format_table(["claim metric", "paper", "compare", "source"],
                                  [[c.metric, c.paper, c.compare + (" (exact)" if c.exact else ""),
                                    c.source + (f"; not checked: {c.reason}" if c.reason else "")] for c in exp.claims]))
    print(f"\nrun: mtenvs run {exp.name} --size quick [--seed N] [--set key=value ...]")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) an experiment; everything is validated before the output directory is created."""
    from mtenvs.runner import MissingExtra, RunDirectoryError, execute, existing_results, plan_run
    from mtenvs.runner.report import summary_table
    from mtenvs.runner.results import require_tensorboard, tensorboard_writer

    # Unknown names, sizes and keys, unparsable values, a bad seed, a directory holding another run, a missing
    # extra: all found here, before anything is written.
    try:
        plan = plan_run(args.experiment, args.size, seed=args.seed, overrides=args.set or [], out=args.out,
                        backend=args.backend)
        if args.address is not None and getattr(plan.config, "backend", None) != "ray":
            raise ValueError(f"--address {args.address} joins a Ray cluster: it needs --backend ray")
        previous = None if args.force else existing_results(plan)
        if args.tensorboard is not None:
            require_tensorboard()
    except (ValueError, MissingExtra) as error:
        raise UsageError(str(error)) from None

    import matplotlib

    matplotlib.use("Agg")  # a batch run draws files only
    if previous is not None and not args.quiet:
        if previous["status"] == "complete":
            print(f"{plan.results_path} is already complete; not recomputed (use --force to run it again)")
        else:
            print(f"resuming {plan.experiment.name}: {len(previous['units'])} of {len(plan.units)} units already done")
    writer = tensorboard_writer(Path(args.tensorboard) / plan.out.name) if args.tensorboard is not None else None
    try:
        document = execute(plan, force=args.force, progress=not args.quiet, writer=writer, address=args.address)
    except RunDirectoryError as error:  # e.g. a corrupt checkpoint found when the chain reaches it
        raise UsageError(str(error)) from None
    except KeyboardInterrupt:
        if plan.results_path.exists():
            _error(f"interrupted; finished units are saved in {plan.results_path}. Run the same command to resume.")
        else:
            _error("interrupted before the first unit finished; nothing was saved.")
        return EXIT_INTERRUPTED
    finally:
        if writer is not None:
            writer.close()
    print(f"{plan.experiment.name} ({plan.size}, seed {plan.seed}): {plan.experiment.title}")
    print(summary_table(document))
    print(f"\nresults: {plan.results_path}")
    for name in document["plots"]:
        print(f"plot:    {plan.out / name}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------- benchmarks
def benchmarks_dir() -> Path:
    """The source tree's ``benchmarks/`` directory (beside the ``mtenvs`` package; absent from wheel installs)."""
    return Path(mtenvs.__file__).resolve().parent.parent / "benchmarks"


def _load_main(path: Path) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location(f"mtenvs_benchmark_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "main", None)):
        raise UsageError(f"{path} has no main() function")
    return module.main


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark script of ``benchmarks/`` (or all of them) through its ``main()``."""
    directory = benchmarks_dir()
    if not directory.is_dir():
        _error(f"no benchmarks directory at {directory}: the benchmark scripts ship with the source tree only "
               "(clone the repository and install it with pip install -e .)")
        return EXIT_FAILURE
    scripts = {p.stem: p for p in sorted(directory.glob("*.py")) if not p.name.startswith("_")}
    if args.name is not None and args.name not in scripts:
        from mtenvs.core.names import unknown_name

        raise UsageError(unknown_name("benchmark", args.name, list(scripts)))
    if args.name is None and args.args:
        raise UsageError("benchmark options need a benchmark name: mtenvs bench NAME [options]")
    for name in [args.name] if args.name is not None else list(scripts):
        print(f"== {name}")
        main_fn = _load_main(scripts[name])
        takes_argv = bool(inspect.signature(main_fn).parameters)
        if args.args and not takes_argv:
            raise UsageError(f"benchmark {name!r} takes no options")
        program, sys.argv[0] = sys.argv[0], f"mtenvs bench {name}"  # the script's argparse names itself from argv[0]
        try:
            code = main_fn(list(args.args)) if takes_argv else main_fn()
        except SystemExit as exit_:  # the script's own argparse (--help, bad options)
            code = exit_.code
        finally:
            sys.argv[0] = program
        if code:
            return code if isinstance(code, int) else EXIT_FAILURE
    return EXIT_OK


# ------------------------------------------------------------------ benchmark suites (in mtenvs/benchmarking.py)
def cmd_benchmark(argv: list[str]) -> int:
    """Score an agent on a benchmark suite: ``mtenvs benchmark SUITE --agent MODULE:FACTORY [options]``.

    Everything after ``benchmark`` goes unparsed to ``mtenvs.benchmarking.main(argv)``, which owns the options
    (``--help`` included) and returns an exit code (``None`` counts as 0).
    """
    if importlib.util.find_spec("mtenvs.benchmarking") is None:
        _error("benchmark suites are not available in this version of mtenvs (no mtenvs.benchmarking module)")
        return EXIT_FAILURE
    benchmarking = importlib.import_module("mtenvs.benchmarking")
    try:
        code = benchmarking.main(argv)
    except SystemExit as exit_:  # its argparse: --help, usage errors
        code = exit_.code
    return code if isinstance(code, int) else EXIT_FAILURE if code else EXIT_OK


# ---------------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="mtenvs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"mtenvs {mtenvs.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("families", help="list the task families", description=cmd_families.__doc__)
    p.set_defaults(handler=cmd_families)

    p = sub.add_parser("info", help="describe a task family", description=cmd_info.__doc__)
    p.add_argument("family", help="a family name, e.g. CartPole")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("experiments", help="list the experiments, or describe one", description=cmd_experiments.__doc__)
    p.add_argument("name", nargs="?", help="an experiment to describe")
    p.set_defaults(handler=cmd_experiments)

    p = sub.add_parser("run", help="run or resume an experiment", description=cmd_run.__doc__,
                       epilog="Run the same command again after an interruption to continue where it stopped.")
    p.add_argument("experiment", help="experiment name (see `mtenvs experiments`)")
    p.add_argument("--size", default="quick", help="quick (under a minute) or full (the paper's budget); default quick")
    p.add_argument("--seed", type=int, default=None, help="run seed (default: the experiment's)")
    p.add_argument("--out", default=None, help="run directory (default runs/<experiment>-<size>-seed<N>)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field, parsed by its type (repeatable; sequences as 1,2,3)")
    p.add_argument("--force", action="store_true", help="discard results already in the run directory and start over")
    p.add_argument("--quiet", action="store_true", help="no progress bar or status messages")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help='also stream metrics to TensorBoard under DIR (needs pip install "mtenvs[tensorboard]")')
    p.add_argument("--backend", choices=["local", "ray"], default=None,
                   help="how a multi-agent experiment's nodes exchange messages: in-process (local, the default) or "
                        'through Ray\'s object store (ray, needs pip install "mtenvs[ray]"); same results either way')
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --backend ray: join this Ray cluster (auto, or ray://host:port) instead of starting a "
                        "local one")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("bench", help="run the throughput scripts of benchmarks/", description=cmd_bench.__doc__)
    p.add_argument("name", nargs="?", help="script name without .py (default: all)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="options passed to the script's main()")
    p.set_defaults(handler=cmd_bench)

    # Listed for `mtenvs --help` only: main() hands `mtenvs benchmark ...` to cmd_benchmark before parsing.
    sub.add_parser("benchmark", help="score an agent on a benchmark suite: benchmark SUITE --agent MODULE:FACTORY",
                   add_help=False)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None, *, default: Callable[..., None] = warnings.showwarning) -> None:
    """Print a `PluginWarning` (a broken entry point of an installed package) as one line; others as usual."""
    if issubclass(category, PluginWarning):
        print(f"mtenvs: warning: {message}", file=sys.stderr if file is None else file)
    else:
        default(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtenvs`` console script; returns the exit code."""
    with warnings.catch_warnings():
        warnings.showwarning = functools.partial(_show_warning, default=warnings.showwarning)
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    if argv[:1] == ["benchmark"]:
        return cmd_benchmark(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argparse's own usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE if exit_.code else EXIT_OK
    try:
        return args.handler(args)
    except UsageError as error:
        _error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED

if __name__ == "__main__":
    sys.exit(main())
