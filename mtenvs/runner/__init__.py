"""The experiment runner: every paper figure or table is one registered, resumable experiment.

Write one module (the shipped ones are in ``agents/experiments/``) and declare it under the ``mtenvs.experiments``
entry points of its package's ``pyproject.toml`` (``000-toy = "my_package.toy"``, see `mtenvs.plugins`)::

    from dataclasses import dataclass

    from mtenvs.runner import Claim, Count, Experiment, Unit, UnitContext, mean_over_seeds, register


    @dataclass(frozen=True)
    class Config:                          # every field typed and defaulted; `mtenvs run ... --set episodes=50`
        seeds: Count = 5                   # Count: an int >= 1 (`--set seeds=0` is refused before anything runs)
        episodes: Count = 200
        tasks: tuple[str, ...] = ("train-0", "train-1", "train-2")


    def units(cfg: Config) -> list[Unit]:  # the ordered units of work; each is saved as soon as it finishes
        return [Unit({"seed": s, "task": t}) for s in range(cfg.seeds) for t in cfg.tasks]


    def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict:
        returns = ctx.rng.normal(1.0, 0.1, size=cfg.episodes)  # ctx.rng / ctx.seed: this unit's own stream
        return {"return": float(returns.mean())}               # JSON metrics (nested per task/agent is fine)


    register(Experiment(
        name="000-toy", title="A toy reproduction (Fig. 1)", paper="000", config=Config,
        sizes={"quick": {"seeds": 2, "episodes": 20}, "full": {"seeds": 10, "episodes": 5000}},
        units=units, compute=compute, aggregate=mean_over_seeds,   # mean and t-interval over seeds
        claims=[Claim("return", 1.0, "close", tolerance=0.05, source="Fig. 1")],
    ))

Then (once the package is installed) ``mtenvs run 000-toy --size quick`` writes ``runs/000-toy-quick-seed0/results.json``.
Training split into blocks: give the units of one training run a chain, ``Unit({"seed": s, "block": b},
chain=f"seed={s}")``, read the previous block's state from ``ctx.state`` (``None`` for the first block) and return
``UnitResult(metrics, state=...)``; the state is pickled after each block, so a resumed run continues it.
A ``plot(config, records, summary)`` function returning a ``matplotlib.figure.Figure`` gives the headline PNG.
"""

from mtenvs.runner.config import ConfigError, Count, Discount, Fraction, NonNegative, NonNegativeInt, Positive
from mtenvs.runner.registry import VERDICTS, Claim, Experiment, discover, experiments, get, register, unregister
from mtenvs.runner.rejudge import rejudge
from mtenvs.runner.results import MissingExtra, RunDirectoryError, jsonable, read_results, schema
from mtenvs.runner.run import RunPlan, default_out, execute, existing_results, plan_run, run_experiment, unit_seed
from mtenvs.runner.stats import Estimate, mean_ci, mean_over_seeds
from mtenvs.runner.units import Unit, UnitContext, UnitRecord, UnitResult

__all__ = [
    "VERDICTS",
    "Claim",
    "ConfigError",
    "Count",
    "Discount",
    "Estimate",
    "Experiment",
    "Fraction",
    "MissingExtra",
    "NonNegative",
    "NonNegativeInt",
    "Positive",
    "RunDirectoryError",
    "RunPlan",
    "Unit",
    "UnitContext",
    "UnitRecord",
    "UnitResult",
    "default_out",
    "discover",
    "execute",
    "existing_results",
    "experiments",
    "get",
    "jsonable",
    "mean_ci",
    "mean_over_seeds",
    "plan_run",
    "read_results",
    "register",
    "rejudge",
    "run_experiment",
    "schema",
    "unit_seed",
    "unregister",
]
