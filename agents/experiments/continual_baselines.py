"""Continual baselines on a cart-pole task sequence: SB3 PPO and SAC fine-tuned through the sequence or reset at
every switch, and paper 002's PG-ELLA and GO-MTL receiving the tasks one at a time.

The sequence is the first ``tasks`` tasks of ``cartpole-spread`` (farthest-point spread over paper 002's training
region, so consecutive tasks differ most), ``budget`` environment steps per task. For every method and seed:

* the continual learner trains through the whole sequence (SB3: one ``learn`` over ``mtenvs.continual``'s schedule
  wrapper; PG-ELLA and GO-MTL: ``agents.lifelong.continual.SequentialLifelong``, which samples only the current
  task), evaluated on every task at ``eval_points`` points per task;
* the reset learner is the same method trained from scratch on each task alone with the same budget; it is the
  reference of forward transfer, and its final performance is the "reset at every switch" baseline.

Performance is normalized per task: 1 is the task's LQR controller (cart-pole has no exact optimum; the LQR
controller is the family's documented reference policy), 0 a uniformly random policy, on the same seeded episodes.
The metrics (average performance at the end, forgetting, forward transfer) and their stratified-bootstrap intervals
are defined in ``mtenvs.continual.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.runner import Experiment, Unit, UnitContext, UnitRecord, register

SB3_METHODS = ("PPO", "SAC")
LIFELONG_METHODS = ("PG-ELLA", "GO-MTL")


@dataclass(frozen=True)
class Config:
    """The sequence, the budget, the evaluation and the lifelong learners' hyperparameters."""

    seeds: int = 2
    methods: tuple[str, ...] = ("PPO", "SAC", "PG-ELLA", "GO-MTL")
    sequence: str = "cartpole-spread"
    tasks: int = 3
    budget: int = 8_000
    episodes: int = 5
    eval_points: int = 4
    trajectories: int = 10
    horizon: int = 100
    sigma: float = 0.5
    step_size: float = 0.05
    latent_dim: int = 3


def _sequence(cfg: Config) -> Any:
    from dataclasses import replace

    from mtenvs.continual import sequence

    seq = sequence(cfg.sequence)
    return replace(seq, tasks=seq.tasks[:cfg.tasks], budget=cfg.budget)


def units(cfg: Config) -> list[Unit]:
    """Per method and seed: the continual run, then one reset (from-scratch) run per task."""
    for method in cfg.methods:
        if method not in SB3_METHODS + LIFELONG_METHODS:
            raise ValueError(f"methods: unknown method {method!r}; choose from {SB3_METHODS + LIFELONG_METHODS}")
    result = []
    for method in cfg.methods:
        for s in range(cfg.seeds):
            result.append(Unit({"method": method, "seed": s, "run": "continual", "task": -1}))
            result.extend(Unit({"method": method, "seed": s, "run": "scratch", "task": i}) for i in range(cfg.tasks))
    return result


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Train one learner and return its evaluations (``SequenceEvaluator.results()``)."""
    import torch

    from mtenvs.continual import SequenceEvaluator, TaskSequence
    from mtenvs.continual.suites import train_continual, train_scratch

    torch.set_num_threads(1)
    seq = _sequence(cfg)
    method, run, task = unit.params["method"], unit.params["run"], int(unit.params["task"])
    seed = ctx.seed % 2**31
    if method in SB3_METHODS:
        import stable_baselines3

        factory = getattr(stable_baselines3, method)
        if run == "continual":
            evaluator = train_continual(seq, factory, seed, episodes=cfg.episodes, eval_points=cfg.eval_points)
        else:
            evaluator = train_scratch(seq, task, factory, seed, episodes=cfg.episodes, eval_points=cfg.eval_points)
        return {**evaluator.results(), "budget": seq.budget}

    from agents.lifelong.continual import SequentialLifelong

    if run == "continual":
        target, evaluator = seq, SequenceEvaluator(seq, episodes=cfg.episodes, eval_points=cfg.eval_points)
    else:  # the same episodes as the continual run's evaluation of this task (see train_scratch)
        target = TaskSequence(seq.env_id, [seq.tasks[task]], seq.budget, env_kwargs=seq.env_kwargs)
        evaluator = SequenceEvaluator(target, episodes=cfg.episodes, eval_points=cfg.eval_points,
                                      seed=task * cfg.episodes)
    learner = SequentialLifelong(method, target, seed=seed, n_trajectories=cfg.trajectories, horizon=cfg.horizon,
                                 sigma=cfg.sigma, step_size=cfg.step_size, latent_dim=cfg.latent_dim)
    try:
        learner.learn(evaluator)
    finally:
        learner.close()
    return {**evaluator.results(), "budget": seq.budget}


def scorecards(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Each method's continual scorecard (``mtenvs.continual.suites.score_runs``: metrics with intervals, per-seed
    values, the mean performance matrix)."""
    from mtenvs.continual.suites import score_runs

    return {method: score_runs([r for r in records if r.params["method"] == method], sequence_name=cfg.sequence)
            for method in cfg.methods if any(r.params["method"] == method for r in records)}


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Per method and metric (``"PPO/forgetting"``), the mean and stratified-bootstrap interval over seeds."""
    summary: dict[str, Any] = {}
    for method, card in scorecards(cfg, records).items():
        for metric, m in card.get("metrics", {}).items():
            summary[f"{method}/{metric}"] = {"mean": m["mean"], "low": m["low"], "high": m["high"], "n": m["seeds"],
                                             "confidence": 0.95, "method": "stratified bootstrap over seeds"}
    return summary


LABELS = {"average_performance": "average performance (fine-tuned)", "scratch_performance":
          "average performance (reset at every switch)", "forgetting": "forgetting", "forward_transfer":
          "forward transfer"}


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Two figures: the metrics per method with their intervals, and each method's mean performance matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cards = scorecards(cfg, records)
    methods = [m for m in cfg.methods if m in cards and cards[m].get("metrics")]
    bars, axes = plt.subplots(1, len(LABELS), figsize=(3.2 * len(LABELS), 3.4), sharey=True)
    colours = dict(zip(cfg.methods, ("tab:blue", "tab:orange", "tab:green", "tab:purple"), strict=False))
    for axis, (metric, label) in zip(np.atleast_1d(axes), LABELS.items(), strict=True):
        for k, method in enumerate(methods):
            m = cards[method]["metrics"][metric]
            if m["mean"] is None:
                continue
            axis.barh(k, m["mean"], xerr=[[m["mean"] - m["low"]], [m["high"] - m["mean"]]], color=colours[method],
                      capsize=4)
        axis.axvline(0, color="grey", lw=0.8)
        axis.set_title(label, fontsize=9)
        axis.set_yticks(range(len(methods)), methods)
    np.atleast_1d(axes)[0].invert_yaxis()
    seeds = max((cards[m]["seeds"] for m in methods), default=0)
    bars.suptitle(f"{cfg.sequence}, first {cfg.tasks} tasks, {cfg.budget} steps per task: mean and 95% "
                  f"stratified-bootstrap CI over {seeds} seeds (1 = LQR, 0 = random)", fontsize=9)
    bars.tight_layout()
    heat, axes = plt.subplots(1, max(len(methods), 1), figsize=(3.2 * max(len(methods), 1), 3.6))
    for axis, method in zip(np.atleast_1d(axes), methods, strict=False):
        matrix = np.asarray(cards[method]["matrix"], dtype=float)
        axis.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
        for (i, j), value in np.ndenumerate(matrix):
            axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                      color="white" if value < 0.6 else "black")
        axis.set_title(method, fontsize=10)
        axis.set_xlabel("evaluated on task j")
        axis.set_ylabel("after training on task i")
        axis.set_xticks(range(matrix.shape[1]))
        axis.set_yticks(range(matrix.shape[0]))
    heat.suptitle("performance matrix R[i, j] of the fine-tuned learner (mean over seeds)", fontsize=9)
    heat.tight_layout(rect=(0, 0.02, 1, 1))
    return {"continual-baselines": bars, "continual-baselines-matrix": heat}


register(Experiment(
    name="continual-baselines",
    title="Continual baselines on a cart-pole sequence: PPO and SAC fine-tuned or reset, PG-ELLA and GO-MTL",
    config=Config,
    sizes={"quick": {"seeds": 1, "methods": ("PPO", "PG-ELLA"), "tasks": 2, "budget": 2_000, "episodes": 2,
                     "eval_points": 2},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    plot=plot,
))
