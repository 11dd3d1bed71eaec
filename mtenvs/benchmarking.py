"""Benchmark suites: score any algorithm on shared task sets, with rliable-style aggregates.

A suite is a named, versioned list of entries (family id, training task set, evaluation task sets, training
budget, evaluation episodes) run over several seeds. Each task's score is normalized::

    score = (return - random) / (anchor - random)

where ``random`` is a uniformly random policy's return on the same episodes and ``anchor`` is the family's exact
optimum when it has one, else the return of the family's documented reference policy (``entry.reference``, e.g.
cart-pole's per-task LQR controller). So 0 is random, 1 is optimal (or as good as the reference). The scorecard
reports per-task scores and, per evaluation set and overall, the interquartile mean (IQM) with a 95% percentile
interval from the stratified bootstrap (seeds resampled within each task, the default of rliable's
``get_interval_estimates``), the mean and the median, as Agarwal et al. (2021) recommend. With one seed the
interval is a point: the tasks are fixed and there is no second run to resample.

The agent protocol (``--agent module:attribute``):

* an SB3 algorithm class (``stable_baselines3:PPO``) is used as is:
  ``cls(policy, env, seed=seed, device="cpu", verbose=0)`` with ``"MlpPolicy"`` (``"MultiInputPolicy"`` for dict
  observations), then ``.learn(budget)``;
* anything else is called as ``factory(env=env, seed=seed)`` and must return an object with
  ``learn(total_timesteps)`` and SB3's ``predict(observation, deterministic=True)``.

``env`` is an SB3 ``VecEnv`` from `mtenvs.sb3.make_vec_env` on the entry's training task set.
Runs are resumable units of the experiment runner (one unit per entry and seed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from mtenvs.continual.suites import format_continual_scorecard
from mtenvs.core.registry import family_of
from mtenvs.evaluation import RandomPolicy, evaluate, rollout_returns
from mtenvs.progress import ProgressOptions
from mtenvs.scoring import anchor_returns, build_agent, load_agent, score_tasks
from mtenvs.suites import Suite, SuiteEntry, get_suite, register_suite, suites

__all__ = ["Suite", "SuiteEntry", "get_suite", "iqm", "main", "register_suite", "run_suite", "score_tasks",
           "stratified_bootstrap_interval", "suites"]


# --------------------------------------------------------------------------------------------- scoring
def iqm(scores: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% of the scores (SciPy's 25%-trimmed mean)."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(scores, dtype=float), 0.25))


def stratified_bootstrap_interval(runs_by_task: Sequence[Sequence[float]], *, seed: int = 0, resamples: int = 50_000,
                                  confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the IQM from the stratified bootstrap over runs within each task.

    Each resample draws, for every task independently, as many runs as the task has, with replacement, from that
    task's own runs, and takes the IQM of all drawn scores. This is rliable's default interval
    (``get_interval_estimates`` with ``StratifiedBootstrap``, ``task_bootstrap=False``, ``method="percentile"``)
    generalized to tasks with different numbers of runs; rliable itself is not called because its resampling draws
    from NumPy's global random state and it needs the ``arch`` package at run time.

    Args:
        runs_by_task: one sequence of run scores (one per seed) per task.
        seed: seed of the resampling generator.
        resamples: number of bootstrap resamples (rliable's default is 50 000).
        confidence: coverage of the interval.

    Returns:
        The ``(low, high)`` percentiles; a point ``(iqm, iqm)`` when every task has a single run.

    Raises:
        ValueError: if ``runs_by_task`` is empty, a task has no run, or ``resamples`` or ``confidence`` is invalid.
    """
    tasks = [np.asarray(runs, dtype=float).ravel() for runs in runs_by_task]
    if not tasks or any(len(runs) == 0 for runs in tasks):
        raise ValueError("runs_by_task: every task needs at least one run score")
    if resamples < 1:
        raise ValueError(f"resamples: must be at least 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must lie in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    statistics = np.empty(resamples)
    block = max(1, 2_000_000 // sum(len(runs) for runs in tasks))  # bounds memory at ~16 MB per block
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        drawn = [runs[rng.integers(0, len(runs), size=(size, len(runs)))] for runs in tasks]
        statistics[start:start + size] = _trim(np.concatenate(drawn, axis=1), axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(statistics, [tail, 100 - tail])
    return float(low), float(high)


def _trim(x: np.ndarray, axis: int) -> np.ndarray:
    from scipy.stats import trim_mean

    return trim_mean(x, 0.25, axis=axis)


# --------------------------------------------------------------------------------------------- running
def _experiment(suite: Suite) -> Any:
    """The suite as an experiment of the runner: units are (entry, seed) pairs."""
    if hasattr(suite, "experiment"):  # a continual suite (mtenvs.continual.suites) builds its own
        return suite.experiment()
    from dataclasses import make_dataclass

    from mtenvs.runner import Count, Experiment, NonNegativeInt, Positive, Unit

    config = make_dataclass(f"{suite.name.replace('-', '_')}_config", [
        ("agent", str, field(default="stable_baselines3:PPO")),
        ("seeds", Count, field(default=suite.seeds)),
        ("budget_scale", Positive, field(default=1.0)),
        ("eval_tasks", NonNegativeInt, field(default=0)),  # 0: each entry's own
        ("episodes", NonNegativeInt, field(default=0)),    # 0: each entry's own
    ], frozen=True)

    def units(cfg: Any) -> list[Any]:
        return [Unit({"entry": i, "seed": s}) for i in range(len(suite.entries)) for s in range(cfg.seeds)]

    def compute(cfg: Any, unit: Any, ctx: Any) -> dict[str, Any]:
        entry = suite.entries[unit.params["entry"]]
        return run_entry(entry, load_agent(cfg.agent), ctx.seed % 2**31, cfg,  # SB3 and NumPy take 32-bit seeds
                         progress=ctx.progress)

    return Experiment(name=f"benchmark-{suite.id}", title=f"Benchmark suite {suite.id}", config=config,
                      sizes={"quick": dict(suite.quick), "full": {}}, units=units, compute=compute,
                      aggregate=lambda cfg, records: scorecard(suite, records), description=suite.description,
                      plot=lambda cfg, records, summary: plot_scorecard(suite, summary))


def run_entry(entry: SuiteEntry, factory: Any, seed: int, cfg: Any,
              progress: bool | ProgressOptions = False) -> dict[str, Any]:
    """Train one agent on ``entry`` and score it on every evaluation set.

    ``progress`` (a `UnitContext.progress`) draws an SB3 agent's step progress through
    `mtenvs.sb3.ProgressCallback`; other agents train without a bar.
    """
    from stable_baselines3.common.base_class import BaseAlgorithm

    from mtenvs.sb3 import ProgressCallback, make_vec_env

    env = make_vec_env(entry.env_id, entry.n_envs, tasks=entry.train, seed=seed, env_kwargs=entry.env_kwargs)
    agent = build_agent(factory, env, seed)
    budget = max(int(entry.budget * cfg.budget_scale), 1)
    if isinstance(agent, BaseAlgorithm) and progress:
        agent.learn(budget, callback=ProgressCallback(progress))
    else:
        agent.learn(budget)
    family = family_of(entry.env_id)
    episodes = cfg.episodes or entry.episodes
    limit = cfg.eval_tasks or entry.eval_tasks
    metrics: dict[str, Any] = {"env_id": entry.env_id, "budget": budget, "sets": {}}
    for name in entry.evaluate:
        tasks = list(family.task_set(name))[:limit]
        result = evaluate(agent, entry.env_id, tasks, episodes, seed=seed, env_kwargs=entry.env_kwargs)
        returns = np.array([r.mean_return for r in result.per_task])
        repeated = [t for t in tasks for _ in range(episodes)]
        action_space = gym.make(entry.env_id, **entry.env_kwargs).action_space
        random, _ = rollout_returns(RandomPolicy(action_space, seed), entry.env_id, repeated, seed=seed,
                                    env_kwargs=entry.env_kwargs)
        random = random.reshape(len(tasks), episodes).mean(axis=1)
        anchor = anchor_returns(entry, tasks, episodes, seed)
        metrics["sets"][name] = {
            "task_ids": [t.id for t in tasks], "returns": returns.tolist(), "random": random.tolist(),
            "anchor": anchor.tolist(), "scores": score_tasks(returns, random, anchor),
        }
    env.close()
    return metrics


def scorecard(suite: Suite, records: Sequence[Any]) -> dict[str, Any]:
    """Per-set and overall IQM (with its stratified-bootstrap interval), mean and median of the normalized scores.

    The runs of a task are its scores over the suite's seeds; the overall set stratifies by (set, task).
    """
    by_set: dict[str, list[float]] = {}
    per_task: dict[str, dict[str, list[float]]] = {}
    undefined = 0
    for record in records:
        for name, data in record.metrics["sets"].items():
            key = f"{record.metrics['env_id']}:{name}"
            for task_id, score in zip(data["task_ids"], data["scores"], strict=True):
                if score is None:
                    undefined += 1
                    continue
                by_set.setdefault(key, []).append(score)
                per_task.setdefault(key, {}).setdefault(task_id, []).append(score)
    summary: dict[str, Any] = {"suite": suite.id, "undefined_scores": undefined, "sets": {}}
    everything = [s for scores in by_set.values() for s in scores]
    for key, scores in [*by_set.items(), ("overall", everything)]:
        if not scores:
            continue
        strata = ([runs for tasks in per_task.values() for runs in tasks.values()] if key == "overall"
                  else list(per_task[key].values()))
        interval = stratified_bootstrap_interval(strata)
        summary["sets"][key] = {"iqm": iqm(scores), "iqm_low": interval[0] if interval else None,
                                "iqm_high": interval[1] if interval else None, "mean": float(np.mean(scores)),
                                "median": float(np.median(scores)), "n": len(scores)}
    summary["per_task"] = {key: {t: float(np.mean(v)) for t, v in tasks.items()} for key, tasks in per_task.items()}
    return summary


def plot_scorecard(suite: Suite, summary: Mapping[str, Any]) -> Any:
    """A bar chart of the IQM per evaluation set with its stratified-bootstrap interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = summary["sets"]
    names = list(sets)
    values = [sets[n]["iqm"] for n in names]
    low = [v - (sets[n]["iqm_low"] if sets[n]["iqm_low"] is not None else v) for n, v in zip(names, values, strict=True)]
    high = [(sets[n]["iqm_high"] if sets[n]["iqm_high"] is not None else v) - v for n, v in zip(names, values, strict=True)]
    figure, axis = plt.subplots(figsize=(7, 1.6 + 0.5 * len(names)))
    axis.barh(names, values, xerr=[low, high], color="tab:blue", capsize=4)
    axis.invert_yaxis()  # the sets top to bottom in the scorecard's order, overall last
    axis.axvline(0, color="grey", lw=0.8)
    axis.axvline(1, color="grey", lw=0.8, ls="--")
    axis.set_xlabel("normalized score (0 = random, 1 = optimum or reference)\n"
                    "IQM with 95% stratified-bootstrap CI over seeds", fontsize=9)
    axis.set_title(suite.id, fontsize=10)
    figure.tight_layout()
    return figure


def run_suite(suite: str | Suite, agent: str, *, size: str = "quick", seed: int = 0, out: str | Path | None = None,
              overrides: Mapping[str, Any] | None = None, force: bool = False, progress: bool = False) -> dict[str, Any]:
    """Train and score ``agent`` on every entry and seed of ``suite``; returns the ``results.json`` document."""
    from mtenvs.runner import plan_run
    from mtenvs.runner.run import execute

    suite = get_suite(suite) if isinstance(suite, str) else suite
    load_agent(agent)  # fail before anything is written
    experiment = _experiment(suite)
    plan = plan_run(experiment, size, seed=seed, overrides={**dict(overrides or {}), "agent": agent},
                    out=out or default_out(suite, agent, size, seed))
    return execute(plan, force=force, progress=progress)


def default_out(suite: Suite, agent: str, size: str, seed: int) -> Path:
    """Where ``run_suite`` writes when given no ``out``: ``runs/benchmark-<suite>-<agent>-<size>-seed<seed>``."""
    safe_agent = agent.replace(":", "-").replace(".", "-")
    return Path("runs") / f"benchmark-{suite.id}-{safe_agent}-{size}-seed{seed}"


def format_scorecard(summary: Mapping[str, Any]) -> str:
    """The scorecard as a text table."""
    if summary.get("continual"):
        return format_continual_scorecard(summary)
    lines = [f"{'set':<40}{'IQM':>8}{'95% CI':>20}{'mean':>8}{'median':>8}{'n':>6}"]
    for name, s in summary["sets"].items():
        ci = "-" if s["iqm_low"] is None else f"[{s['iqm_low']:.3f}, {s['iqm_high']:.3f}]"
        lines.append(f"{name:<40}{s['iqm']:>8.3f}{ci:>20}{s['mean']:>8.3f}{s['median']:>8.3f}{s['n']:>6}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``mtenvs benchmark SUITE --agent module:attribute [--size quick|full] [--seed N] [--out DIR] [--set k=v]``."""
    parser = argparse.ArgumentParser(prog="mtenvs benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", help=f"suite name ({', '.join(suites())})")
    parser.add_argument("--agent", required=True, help="module:attribute, e.g. stable_baselines3:PPO")
    parser.add_argument("--size", default="quick", choices=["quick", "full"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output directory (default runs/benchmark-<suite>-<agent>-...)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override seeds, budget_scale, eval_tasks or episodes")
    parser.add_argument("--force", action="store_true", help="recompute a finished run")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        suite = get_suite(args.suite)
        from mtenvs.runner.config import parse_assignments

        overrides = parse_assignments(_experiment(suite).config, args.set) if args.set else {}
        document = run_suite(suite, args.agent, size=args.size, seed=args.seed, out=args.out, overrides=overrides,
                             force=args.force, progress=not args.quiet)
    except ValueError as error:
        print(f"mtenvs benchmark: error: {error}", file=sys.stderr)
        return 2
    print(format_scorecard(document["summary"]))
    out = Path(args.out) if args.out else default_out(suite, args.agent, args.size, args.seed)
    print(f"scorecard: {out / f'benchmark-{suite.id}.png'} and {out / 'results.json'}")
    return 0

