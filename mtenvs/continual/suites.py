"""Continual benchmark suites: ``mtenvs benchmark continual-<name> --agent module:attribute``.

A continual suite is a named task sequence, the number of seeds, the evaluation settings and a quick size. For each
seed the agent is trained twice over:

* **continual**: one agent trained through the whole sequence (``budget`` steps per task, the schedule of
  `mtenvs.continual.ContinualEnv`), evaluated on every task at ``eval_points`` points per task;
* **scratch**: for each task, a fresh agent trained on that task alone with the same budget (the "reset at every
  switch" learner), evaluated on its task at the same points. It is the reference of forward transfer.

The scorecard reports, with 95% stratified-bootstrap intervals over seeds (see `mtenvs.continual.metrics`),
the average performance at the end, forgetting and forward transfer of the continual agent, the average
performance of the scratch agents, and the mean performance matrix. All performances are normalized per task:
1 is the exact optimum (or the family's reference policy), 0 a uniformly random policy.

The agent protocol is the one of `mtenvs.benchmarking`: an SB3 algorithm class is built with its defaults and
trained with one ``learn(total, callback=...)`` over the sequence; anything else is built by
``factory(env=env, seed=seed)`` and its ``learn(steps)`` is called once per evaluation interval
(``budget / eval_points`` steps), after which it is evaluated through its ``predict``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mtenvs.continual.callbacks import ContinualEvalCallback, SequenceEvaluator
from mtenvs.continual.metrics import (
    area_under_curve,
    per_task_forgetting,
    per_task_forward_transfer,
    summarize,
)
from mtenvs.continual.sequence import TaskSequence, sequence
from mtenvs.continual.wrappers import make_continual_sb3_env

__all__ = ["ContinualSuite", "continual_scorecard", "format_continual_scorecard", "plot_continual_scorecard",
           "score_runs", "train_continual", "train_scratch"]


@dataclass(frozen=True)
class ContinualSuite:
    """A named, versioned continual benchmark over one task sequence.

    Args:
        name: the suite name (``mtenvs benchmark NAME``).
        version: bumped whenever the sequence or the protocol changes.
        description: one paragraph.
        sequence_name: a named sequence (see `mtenvs.continual.sequences`).
        seeds: seeds at full size.
        episodes: evaluation episodes per task.
        eval_points: evaluations per task's budget.
        n_envs: parallel training environments (must divide the budget).
        budget: per-task budget at full size (default: the sequence's).
        quick: the quick size's overrides (config fields: ``seeds``, ``budget_scale``, ``episodes``,
            ``eval_points``, ``tasks``).
    """

    name: str
    version: int
    description: str
    sequence_name: str
    seeds: int = 3
    episodes: int = 5
    eval_points: int = 4
    n_envs: int = 1
    budget: int | None = None
    quick: Mapping[str, Any] = field(default_factory=lambda: {"seeds": 1, "budget_scale": 0.25, "episodes": 3,
                                                               "tasks": 3})

    @property
    def id(self) -> str:
        """``name-vN``."""
        return f"{self.name}-v{self.version}"

    def sequence(self, budget_scale: float = 1.0, tasks: int = 0, eval_points: int | None = None) -> TaskSequence:
        """The suite's sequence: its first ``tasks`` tasks (0: all) at ``budget_scale`` times the full budget,
        rounded to a multiple of ``n_envs * eval_points``."""
        seq = sequence(self.sequence_name)
        if tasks:
            seq = replace(seq, tasks=seq.tasks[:tasks])
        unit = self.n_envs * (eval_points or self.eval_points)
        full = self.budget if self.budget is not None else seq.budget
        return seq.with_budget(max(unit, round(full * budget_scale / unit) * unit))

    def experiment(self) -> Any:
        """The suite as an experiment of the runner: one unit per seed and learner (continual, or scratch on task i)."""
        from dataclasses import make_dataclass

        from mtenvs.runner import Experiment, Unit

        config = make_dataclass(f"{self.name.replace('-', '_')}_config", [
            ("agent", str, field(default="stable_baselines3:PPO")),
            ("seeds", int, field(default=self.seeds)),
            ("budget_scale", float, field(default=1.0)),
            ("episodes", int, field(default=self.episodes)),
            ("eval_points", int, field(default=self.eval_points)),
            ("tasks", int, field(default=0)),
        ], frozen=True)
        suite = self

        def units(cfg: Any) -> list[Any]:
            n = len(suite.sequence(cfg.budget_scale, cfg.tasks, cfg.eval_points))
            return [Unit({"seed": s, "run": "continual", "task": -1}) for s in range(cfg.seeds)] + [
                Unit({"seed": s, "run": "scratch", "task": i}) for s in range(cfg.seeds) for i in range(n)]

        def compute(cfg: Any, unit: Any, ctx: Any) -> dict[str, Any]:
            import torch

            from mtenvs.scoring import load_agent

            torch.set_num_threads(1)  # small networks: one thread is fastest, and the machine's cores stay free
            seq = suite.sequence(cfg.budget_scale, cfg.tasks, cfg.eval_points)
            seed = ctx.seed % 2**31  # SB3 and NumPy take 32-bit seeds
            factory = load_agent(cfg.agent)
            if unit.params["run"] == "continual":
                evaluator = train_continual(seq, factory, seed, episodes=cfg.episodes, eval_points=cfg.eval_points,
                                            n_envs=suite.n_envs)
            else:
                evaluator = train_scratch(seq, unit.params["task"], factory, seed, episodes=cfg.episodes,
                                          eval_points=cfg.eval_points, n_envs=suite.n_envs)
            return {**evaluator.results(), "budget": seq.budget}

        return Experiment(name=f"benchmark-{self.id}", title=f"Continual benchmark suite {self.id}", config=config,
                          sizes={"quick": dict(self.quick), "full": {}}, units=units, compute=compute,
                          aggregate=lambda cfg, records: continual_scorecard(self, records),
                          description=self.description,
                          plot=lambda cfg, records, summary: plot_continual_scorecard(summary))


# ------------------------------------------------------------------------------------------------- training
def _build(factory: Any, env: Any, seed: int) -> Any:
    from mtenvs.scoring import build_agent

    return build_agent(factory, env, seed)


def _is_sb3(agent: Any) -> bool:
    from stable_baselines3.common.base_class import BaseAlgorithm

    return isinstance(agent, BaseAlgorithm)


def _train(seq: TaskSequence, factory: Any, seed: int, evaluator: SequenceEvaluator, n_envs: int) -> None:
    env = make_continual_sb3_env(seq, n_envs, seed=seed)
    agent = _build(factory, env, seed)
    try:
        if _is_sb3(agent):
            agent.learn(seq.total_steps, callback=ContinualEvalCallback(evaluator))
            evaluator.maybe_record(seq.total_steps, agent)
        else:
            evaluator.maybe_record(0, agent)
            interval = seq.budget // evaluator.eval_points
            for point in evaluator.points[1:]:
                agent.learn(interval)
                evaluator.maybe_record(point, agent)
    finally:
        env.close()


def train_continual(seq: TaskSequence, factory: Any, seed: int, *, episodes: int = 5, eval_points: int = 4,
                    n_envs: int = 1) -> SequenceEvaluator:
    """Train one agent through ``seq`` and evaluate it on every task at every evaluation point."""
    evaluator = SequenceEvaluator(seq, episodes=episodes, eval_points=eval_points)
    _train(seq, factory, seed, evaluator, n_envs)
    return evaluator


def train_scratch(seq: TaskSequence, task: int, factory: Any, seed: int, *, episodes: int = 5,
                  eval_points: int = 4, n_envs: int = 1) -> SequenceEvaluator:
    """Train a fresh agent on task ``task`` of ``seq`` alone (same budget) and evaluate it on that task.

    The evaluator's steps are those of the single-task run (0 to ``budget``); its episodes are the very episodes
    on which `train_continual` evaluates task ``task`` (a vector env seeds sub-env ``k`` with ``seed + k``, and
    task ``task``'s episodes are sub-envs ``task * episodes ..`` of the batched evaluation).
    """
    single = TaskSequence(seq.env_id, [seq.tasks[task]], seq.budget, announce=seq.announce,
                          name=f"{seq.name}[{task}]", env_kwargs=seq.env_kwargs)
    evaluator = SequenceEvaluator(single, episodes=episodes, eval_points=eval_points, seed=task * episodes)
    _train(single, factory, seed, evaluator, n_envs)
    return evaluator


# ------------------------------------------------------------------------------------------------ scorecard
def _curve(history: Sequence[Mapping[str, Any]], start: int, stop: int, column: int) -> float:
    points = [(e["step"], e["scores"][column]) for e in history if start <= e["step"] <= stop]
    points = [(s, v) for s, v in points if v is not None]
    if not points:
        return float("nan")
    return area_under_curve([s for s, _ in points], [v for _, v in points])


def _nan(values: Sequence[Any]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def seed_metrics(continual: Mapping[str, Any], scratch: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Per-task metrics of one seed: final performance, forgetting, forward transfer, scratch performance."""
    matrix = np.array([_nan(row) for row in continual["matrix"]])
    budget = continual["budget"]
    n = matrix.shape[0]
    auc = [_curve(continual["history"], i * budget, (i + 1) * budget, i) for i in range(n)]
    reference = [_curve(s["history"], 0, budget, 0) for s in scratch]
    return {
        "average_performance": matrix[-1].tolist(),
        "forgetting": per_task_forgetting(matrix).tolist(),
        "forward_transfer": per_task_forward_transfer(auc, reference).tolist(),
        "scratch_performance": [float(s["matrix"][0][0]) if s["matrix"][0][0] is not None else float("nan")
                                for s in scratch],
        "matrix": matrix.tolist(),
        "auc": auc,
        "scratch_auc": reference,
    }


def continual_scorecard(suite: ContinualSuite, records: Sequence[Any]) -> dict[str, Any]:
    """The suite's scorecard from the runner's unit records (seeds missing a unit are left out)."""
    return {"suite": suite.id, **score_runs(records, sequence_name=suite.sequence_name)}


def score_runs(records: Sequence[Any], *, sequence_name: str = "") -> dict[str, Any]:
    """Metrics with intervals from unit records whose ``params`` have ``seed``, ``run`` (``"continual"`` or
    ``"scratch"``) and ``task`` (the scratch run's task), and whose ``metrics`` are ``SequenceEvaluator.results()``
    plus ``budget``."""
    by_seed: dict[int, dict[str, Any]] = {}
    for record in records:
        params = record.params
        slot = by_seed.setdefault(params["seed"], {"scratch": {}})
        if params["run"] == "continual":
            slot["continual"] = record.metrics
        else:
            slot["scratch"][params["task"]] = record.metrics
    per_seed = []
    for seed in sorted(by_seed):
        slot = by_seed[seed]
        continual = slot.get("continual")
        if continual is None or "matrix" not in continual or len(slot["scratch"]) < len(continual["matrix"]):
            continue
        per_seed.append(seed_metrics(continual, [slot["scratch"][i] for i in range(len(continual["matrix"]))]))
    summary: dict[str, Any] = {"continual": True, "sequence": sequence_name, "seeds": len(per_seed), "metrics": {}}
    if not per_seed:
        return summary
    names = ["average_performance", "forgetting", "forward_transfer", "scratch_performance"]
    summary["metrics"] = summarize({name: [s[name] for s in per_seed] for name in names})
    with warnings.catch_warnings():  # a task whose score is undefined in every seed stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        summary["matrix"] = np.nanmean([s["matrix"] for s in per_seed], axis=0).tolist()
    summary["per_seed"] = per_seed
    summary["budget"] = records[0].metrics["budget"]
    return summary


def format_continual_scorecard(summary: Mapping[str, Any]) -> str:
    """The scorecard as a text table (metric, mean, 95% interval) and the mean performance matrix."""
    lines = [f"{'metric':<24}{'mean':>8}{'95% CI':>20}{'seeds':>7}"]
    for name, m in summary.get("metrics", {}).items():
        if m["mean"] is None:
            lines.append(f"{name:<24}{'-':>8}{'-':>20}{m['seeds']:>7}")
            continue
        ci = f"[{m['low']:.3f}, {m['high']:.3f}]"
        lines.append(f"{name:<24}{m['mean']:>8.3f}{ci:>20}{m['seeds']:>7}")
    if "matrix" in summary:
        lines.append("performance matrix (row i: after training on task i; column j: task j)")
        lines.extend("  " + " ".join("     -" if v is None or v != v else f"{v:6.2f}" for v in row)
                     for row in summary["matrix"])
    return "\n".join(lines)


def plot_continual_scorecard(summary: Mapping[str, Any], title: str | None = None) -> Any:
    """The performance-matrix heatmap beside bars of the metrics with their intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 1.2]})
    if "matrix" in summary:
        matrix = np.asarray(summary["matrix"], dtype=float)
        image = left.imshow(matrix, vmin=min(0.0, np.nanmin(matrix)), vmax=max(1.0, np.nanmax(matrix)),
                            cmap="viridis")
        for (i, j), value in np.ndenumerate(matrix):
            left.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black",
                      fontsize=8)
        left.set_xlabel("evaluated on task j")
        left.set_ylabel("after training on task i")
        left.set_xticks(range(matrix.shape[1]))
        left.set_yticks(range(matrix.shape[0]))
        figure.colorbar(image, ax=left, fraction=0.046, label="normalized performance")
    left.set_title("performance matrix R[i, j] (mean over seeds)", fontsize=9)
    metrics = summary.get("metrics", {})
    names = [n for n, m in metrics.items() if m["mean"] is not None]
    values = [metrics[n]["mean"] for n in names]
    errors = [[v - metrics[n]["low"] for n, v in zip(names, values, strict=True)],
              [metrics[n]["high"] - v for n, v in zip(names, values, strict=True)]]
    right.barh(names, values, xerr=errors, color=["tab:blue", "tab:red", "tab:green", "tab:grey"][:len(names)],
               capsize=4)
    right.axvline(0, color="grey", lw=0.8)
    right.invert_yaxis()
    right.set_xlabel(f"mean with 95% stratified-bootstrap CI over {summary.get('seeds', 0)} seed(s)")
    figure.suptitle(title or f"{summary.get('suite', '')}: 1 = optimum or reference, 0 = random", fontsize=10)
    figure.tight_layout()
    return figure


def register_builtin() -> list[ContinualSuite]:
    """Register the built-in continual suites with ``mtenvs benchmark`` (done when this module is imported, which
    `mtenvs.benchmarking` does)."""
    from mtenvs.suites import register_suite

    return [register_suite(s) for s in BUILTIN]  # type: ignore[arg-type]


BUILTIN = (
    ContinualSuite(
        "continual-cartpole", 0,
        "Five cart-pole tasks spread over paper 002's training region (farthest-point order, so consecutive tasks "
        "differ most); scored against each task's LQR controller (1) and a random policy (0).",
        "cartpole-spread", budget=20_000,
        quick={"seeds": 1, "budget_scale": 0.2, "episodes": 2, "eval_points": 2, "tasks": 3}),
    ContinualSuite(
        "continual-simplemass", 0,
        "Five simple-mass systems spread over paper 002's training ranges, scored against each task's exact "
        "finite-horizon LQR optimum (1) and a random policy (0).",
        "simplemass-spread", budget=20_000,
        quick={"seeds": 1, "budget_scale": 0.2, "episodes": 2, "eval_points": 2, "tasks": 3}),
    ContinualSuite(
        "continual-gridworld", 0,
        "Paper 003's four conflicting GridWorld layouts (Fig. 2c) in order, scored against each layout's exact "
        "optimum by value iteration (1) and a random policy (0).",
        "gridworld-conflict", budget=20_000,
        quick={"seeds": 1, "budget_scale": 0.2, "episodes": 5, "eval_points": 2, "tasks": 3}),
)


register_builtin()
