"""Paper 002, Fig. 2 (a), (b) and (d): jump-start, asymptotic performance, and learning new tasks from a basis.

Each lifelong method (PG-ELLA, GO-MTL, ePG-ELLA) first learns a basis ``L`` on ``train_tasks`` tasks of a domain
(paper: 49 helicopter tasks). A new, unseen task (from the family's ``test`` set) then starts from the basis: its
trajectories under the initial policy ``theta = 0`` give the method's own operating point (one eNAC step for
PG-ELLA and GO-MTL, the reward-weighted operating point of Algorithm 1 for ePG-ELLA, moved to by a step of the
same KL as the eNAC step unless ``epg_step="rwr"``) and Hessian, the LASSO gives
``s_new`` and the task starts from ``theta = L s_new``, then keeps learning with eNAC (a warm-start
protocol). PG learns the same new tasks from ``theta = 0``.

* jump-start (Fig. 2a): greedy reward of the starting policy minus that of ``theta = 0``;
* asymptotic performance (Fig. 2b): greedy reward averaged over the last ``final_window`` iterations;
* Fig. 2d: greedy reward vs iteration on the new helicopter tasks (averaged over tasks and seeds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from annotated_types import MinLen

from agents.experiments._lifelong_common import (
    ABBREVIATIONS,
    METHODS,
    LearnerSettings,
    domain_tasks,
    make_learner,
    single_blas_thread,
)
from mtenvs.runner import (
    Claim,
    Count,
    Experiment,
    Unit,
    UnitContext,
    UnitRecord,
    mean_ci,
    register,
)


@dataclass(frozen=True)
class Config(LearnerSettings):
    """Budget and hyperparameters (as `agents.experiments.lifelong_rewards`)."""

    seeds: Count = 5
    domains: Annotated[tuple[str, ...], MinLen(1)] = ("Helicopter",)
    methods: Annotated[tuple[str, ...], MinLen(1)] = METHODS
    train_tasks: Count = 49
    new_tasks: Count = 10
    train_iterations: Count = 200
    new_iterations: Count = 50
    nodes: Count = 7


def units(cfg: Config) -> list[Unit]:
    """One run per (domain, method, seed): train a basis (lifelong methods), then learn the new tasks."""
    return [Unit({"domain": d, "method": m, "seed": s}) for d in cfg.domains for m in cfg.methods for s in range(cfg.seeds)]


def starting_policies(learner: Any, method: str, new: Any, rng: np.random.Generator) -> np.ndarray:
    """``theta = L s_new`` for every new task, from trajectories of the initial policy ``theta = 0``."""
    import scipy.linalg

    from agents.lifelong import weighted_lasso, weighted_statistics

    traj = new.sampler.sample(new.policy, np.zeros_like(new.thetas), rng)
    thetas = np.zeros_like(new.thetas)
    for j in range(new.num_tasks):
        mine = traj.of_task(j)
        if method == "ePG-ELLA":  # Algorithm 1's fixed point, computed by the task's owner
            g_matrix, g_vector = weighted_statistics(new.policy, mine, new.weights(mine))
            hessian = g_matrix + new.hessian_ridge * np.eye(new.policy.dim)
            alpha = scipy.linalg.solve(hessian, g_vector, assume_a="pos")
            if learner.step == "kl":  # the same KL-sized step from theta = 0 as the learner's iterations
                alpha = new.gradient_step(np.zeros(new.policy.dim), alpha, mine)
        else:
            alpha, hessian = new.natural_gradient_point(mine, np.zeros(new.policy.dim))
        thetas[j] = learner.basis @ weighted_lasso(alpha, hessian, learner.basis, learner.mu1)
    return thetas


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Train the basis (unless PG), start the new tasks from it, and learn them with eNAC."""
    domain, method = str(unit.params["domain"]), str(unit.params["method"])
    rng = np.random.default_rng(ctx.seed)
    with single_blas_thread():
        new = make_learner("PG", domain, domain_tasks(domain, cfg.new_tasks, split="test"), cfg, ctx.seed + 1)
        train_seconds = 0.0
        start = np.zeros_like(new.thetas)
        if method != "PG":
            tic = time.perf_counter()
            learner = make_learner(method, domain, domain_tasks(domain, cfg.train_tasks), cfg, ctx.seed,
                                   backend=cfg.backend)
            try:
                learner.learn(cfg.train_iterations, progress_bar=ctx.progress)
            finally:
                learner.close()
            train_seconds = time.perf_counter() - tic
            start = starting_policies(learner, method, new, rng)
        # Both starting policies are scored from the same start states, so PG's jump-start is exactly 0.
        zero = new.sampler.sample(new.policy, np.zeros_like(new.thetas), np.random.default_rng([ctx.seed, 2]),
                                  explore=False).scores.mean()
        initial = new.sampler.sample(new.policy, start, np.random.default_rng([ctx.seed, 2]), explore=False).scores.mean()
        new.thetas = start.copy()
        new.learn(cfg.new_iterations, progress_bar=ctx.progress)
        new.close()
    curve = [float(initial)] + [r["eval_reward"] for r in new.history]
    return {"curve": curve, "jump_start": float(initial - zero), "zero_policy_reward": float(zero),
            "asymptotic": float(np.mean(curve[-cfg.final_window:])), "train_seconds": train_seconds}


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Jump-start and asymptotic reward per domain and method (mean and 95% interval over seeds)."""
    summary: dict[str, Any] = {}
    for domain in cfg.domains:
        abbreviation = ABBREVIATIONS.get(domain, domain)
        best: dict[str, dict[str, float]] = {"jump_start": {}, "asymptotic": {}}
        for method in cfg.methods:
            mine = [r for r in records if r.params["domain"] == domain and r.params["method"] == method]
            if not mine:
                continue
            for metric in ("jump_start", "asymptotic", "train_seconds"):
                estimate = mean_ci([r.metrics[metric] for r in mine])
                summary[f"{metric}/{abbreviation}/{method}"] = estimate.to_json()
                if metric in best:
                    best[metric][method] = estimate.mean
        for metric, means in best.items():
            lifelong = {m: v for m, v in means.items() if m != "PG"}
            if lifelong:
                summary[f"best_{metric}/{abbreviation}"] = max(lifelong, key=lifelong.get)
            rivals = {m: v for m, v in lifelong.items() if m != "ePG-ELLA"}
            if rivals and "ePG-ELLA" in lifelong:
                rival = max(rivals, key=rivals.get)
                mine = _per_seed(records, domain, "ePG-ELLA", metric)
                theirs = _per_seed(records, domain, rival, metric)
                seeds = sorted(set(mine) & set(theirs))
                summary[f"epg_minus_best_other_{metric}/{abbreviation}"] = mean_ci(
                    [mine[s] - theirs[s] for s in seeds]).to_json()
    return summary


def _per_seed(records: Sequence[UnitRecord], domain: str, method: str, metric: str) -> dict[int, float]:
    """One method's metric per seed on one domain."""
    return {r.params["seed"]: float(r.metrics[metric]) for r in records
            if r.params["domain"] == domain and r.params["method"] == method}


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Fig. 2d: greedy cost (-reward, log scale) on the new tasks vs iteration (0 = the starting policy), mean and
    range over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.experiments._plotting import integer_ticks, mean_band

    seeds = len({r.params["seed"] for r in records})
    figure, axes = plt.subplots(1, len(cfg.domains), figsize=(6 * len(cfg.domains), 4.4), squeeze=False)
    for axis, domain in zip(axes[0], cfg.domains, strict=True):
        for method in cfg.methods:
            mine = [r for r in records if r.params["domain"] == domain and r.params["method"] == method]
            if mine:
                costs = [-np.asarray(r.metrics["curve"], dtype=float) for r in mine]
                mean_band(axis, np.arange(len(costs[0])), costs, label=method)
        axis.set_yscale("log")
        axis.set_xlabel("iteration on the new tasks (0: the starting policy)")
        axis.set_ylabel("average cost per step = −reward (log)")
        axis.set_title(f"New {domain} tasks from a learned basis (Fig. 2d)", fontsize=10)
        integer_ticks(axis)
        axis.legend(fontsize=7)
    if seeds > 1:
        figure.text(0.99, 0.01, f"mean over {seeds} seeds; shaded: lowest to highest seed", ha="right", fontsize=7)
    figure.tight_layout()
    return figure


register(Experiment(
    name="002-lifelong-transfer",
    title="Jump-start, asymptotic reward and new helicopter tasks from a learned basis (Fig. 2a, 2b, 2d)",
    paper="002",
    config=Config,
    sizes={"quick": {"seeds": 1, "train_tasks": 4, "new_tasks": 2, "train_iterations": 3, "new_iterations": 3,
                     "trajectories": 12, "nodes": 4, "extra_edges": 2, "admm_iterations": 60, "final_window": 2},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[
        Claim("epg_minus_best_other_jump_start/HC", 0.0, "at_least",
              source="Fig. 2a: ePG-ELLA has the best jump-start (minus the best other lifelong learner, paired by seed)"),
        Claim("epg_minus_best_other_asymptotic/HC", 0.0, "at_least",
              source="Fig. 2b: ePG-ELLA has the best asymptotic reward (minus the best other lifelong learner)"),
    ],
    plot=plot,
))
