"""Paper 002, Fig. 1 (a)-(f) and Fig. 2 (c): PG, PG-ELLA, GO-MTL and ePG-ELLA on the five control domains.

Every method learns all tasks of a domain (paper: 50 tasks, 200 iterations, 50 trajectories of 150 steps per task
and iteration); each iteration records the average reward of the greedy policies (mean actions, fresh start
states), so the exploration noise's own cost does not blur the comparison. ePG-ELLA runs on a chain-plus-random-
edges processor graph (paper: 10 nodes, 20 extra edges, 5 tasks per node) and logs the consensus error of
Algorithm 2 after every ADMM iteration (Fig. 1f), its communication, and the critical-path time of its ADMM steps
(what a node-per-processor run would take). Run time per method is Fig. 2c.

The paper gives no numbers (its figures are missing from the text); its claims are qualitative: ePG-ELLA has the
highest average reward on all five domains, reaches consensus, and takes less time. They are checked on differences
between methods matched by seed index (every method learns the same fixed tasks; the runs are independent, so the
interval of the differences is that of two independent samples): per domain, ePG-ELLA's final reward minus that of
the other method with the highest mean (``epg_minus_best_other/<domain>`` >= 0), and ePG-ELLA's measured run time
over all domains minus that of the faster of PG-ELLA and GO-MTL (``epg_minus_fastest_seconds`` <= 0).
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
    per_step_optimum,
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
    """Budget and hyperparameters (our defaults where the paper is silent)."""

    seeds: Count = 5
    domains: Annotated[tuple[str, ...], MinLen(1)] = ("SimpleMass", "DoubleMass", "CartPole", "DoubleInvertedPendulum",
                                                      "Helicopter")
    methods: Annotated[tuple[str, ...], MinLen(1)] = METHODS
    tasks: Count = 50
    iterations: Count = 200
    nodes: Count = 10


def units(cfg: Config) -> list[Unit]:
    """One learning run per (domain, method, seed)."""
    return [Unit({"domain": d, "method": m, "seed": s}) for d in cfg.domains for m in cfg.methods for s in range(cfg.seeds)]


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Learn every task of the domain with one method; return its curves and costs."""
    domain, method = str(unit.params["domain"]), str(unit.params["method"])
    tasks = domain_tasks(domain, cfg.tasks)
    with single_blas_thread():
        tic = time.perf_counter()
        learner = make_learner(method, domain, tasks, cfg, ctx.seed, backend=cfg.backend)
        try:
            learner.learn(cfg.iterations, progress_bar=ctx.progress)
        finally:
            learner.close()
        seconds = time.perf_counter() - tic
    history = learner.history
    metrics: dict[str, Any] = {
        "eval_reward": [r["eval_reward"] for r in history],
        "reward": [r["mean_reward"] for r in history],
        "seconds": seconds,
        "update_seconds": float(sum(r["update_seconds"] for r in history)),
        "final_reward": float(np.mean([r["eval_reward"] for r in history[-cfg.final_window:]])),
        "optimum_per_step": per_step_optimum(domain, tasks, cfg.horizon),
    }
    if method == "ePG-ELLA":
        metrics["alg2_consensus_first"] = history[0]["alg2_consensus_errors"]
        metrics["alg2_consensus_last"] = history[-1]["alg2_consensus_errors"]
        metrics["alg1_consensus_error"] = [r["alg1_consensus_error"] for r in history]
        metrics["critical_path_seconds"] = float(sum(r["critical_path_seconds"] for r in history))
        metrics["comm_bytes"] = history[-1]["comm_bytes"]
        metrics["comm_rounds"] = history[-1]["comm_rounds"]
    return metrics


def _records(records: Sequence[UnitRecord], domain: str, method: str) -> list[UnitRecord]:
    return [r for r in records if r.params["domain"] == domain and r.params["method"] == method]


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Final greedy reward and run time per domain and method; which method is best where; consensus reached."""
    summary: dict[str, Any] = {}
    best_counts = dict.fromkeys(cfg.methods, 0)
    for domain in cfg.domains:
        means = {}
        for method in cfg.methods:
            mine = _records(records, domain, method)
            if not mine:
                continue
            key = f"{ABBREVIATIONS.get(domain, domain)}/{method}"
            estimate = mean_ci([r.metrics["final_reward"] for r in mine])
            summary[f"final_reward/{key}"] = estimate.to_json()
            summary[f"seconds/{key}"] = mean_ci([r.metrics["seconds"] for r in mine]).to_json()
            means[method] = estimate.mean
        if means:
            best_counts[max(means, key=means.get)] += 1
        optimum = next((r.metrics["optimum_per_step"] for r in records if r.params["domain"] == domain
                        and r.metrics.get("optimum_per_step") is not None), None)
        if optimum is not None:
            summary[f"lqr_optimum_per_step/{ABBREVIATIONS.get(domain, domain)}"] = optimum
    for method, count in best_counts.items():
        summary[f"domains_best/{method}"] = count
    summary |= _epg_differences(cfg, records, summary)
    epg = [r for r in records if r.params["method"] == "ePG-ELLA"]
    if epg:
        summary["alg2_final_consensus_error_max"] = float(max(r.metrics["alg2_consensus_last"][-1] for r in epg))
        summary["alg1_final_consensus_error_max"] = float(max(max(r.metrics["alg1_consensus_error"]) for r in epg))
        summary["epg_critical_path_fraction"] = mean_ci([r.metrics["critical_path_seconds"] / r.metrics["seconds"]
                                                         for r in epg], bounds=(0.0, 1.0)).to_json()
    for method in cfg.methods:
        mine = [r.metrics["seconds"] for r in records if r.params["method"] == method]
        if mine:
            summary[f"total_seconds/{method}"] = float(np.sum(mine))
    return summary


def _by_seed(records: Sequence[UnitRecord], domain: str | None, method: str, metric: str) -> dict[int, float]:
    """A metric per seed for one method (summed over domains when ``domain`` is ``None``)."""
    values: dict[int, float] = {}
    for r in records:
        if r.params["method"] == method and (domain is None or r.params["domain"] == domain):
            values[r.params["seed"]] = values.get(r.params["seed"], 0.0) + float(r.metrics[metric])
    return values


def _paired(first: dict[int, float], second: dict[int, float]) -> dict[str, Any] | None:
    """The mean and interval of ``first - second`` over the seeds both have, or ``None`` without a common seed."""
    seeds = sorted(set(first) & set(second))
    return mean_ci([first[s] - second[s] for s in seeds]).to_json() if seeds else None


def _epg_differences(cfg: Config, records: Sequence[UnitRecord], summary: dict[str, Any]) -> dict[str, Any]:
    """ePG-ELLA against the best other method per domain (final reward), and against the faster of PG-ELLA and
    GO-MTL over all domains (seconds), as differences paired by seed."""
    out: dict[str, Any] = {}
    if "ePG-ELLA" not in cfg.methods:
        return out
    for domain in cfg.domains:
        name = ABBREVIATIONS.get(domain, domain)
        others = {m: summary[f"final_reward/{name}/{m}"]["mean"] for m in cfg.methods
                  if m != "ePG-ELLA" and f"final_reward/{name}/{m}" in summary}
        if others and f"final_reward/{name}/ePG-ELLA" in summary:
            best = max(others, key=lambda m: -np.inf if others[m] is None else others[m])
            difference = _paired(_by_seed(records, domain, "ePG-ELLA", "final_reward"),
                                 _by_seed(records, domain, best, "final_reward"))
            if difference is not None:
                out[f"epg_minus_best_other/{name}"] = difference
                out[f"best_other/{name}"] = best
    rivals = [m for m in ("PG-ELLA", "GO-MTL") if m in cfg.methods]
    if rivals:
        totals = {m: _by_seed(records, None, m, "seconds") for m in rivals}
        fastest = min(rivals, key=lambda m: sum(totals[m].values()) / max(len(totals[m]), 1))
        difference = _paired(_by_seed(records, None, "ePG-ELLA", "seconds"), totals[fastest])
        if difference is not None:
            out["epg_minus_fastest_seconds"] = difference
            out["fastest_other"] = fastest
    return out


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Fig. 1: greedy cost (-reward, log scale) vs iteration per domain (mean and range over seeds); Algorithm 2's
    consensus error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.experiments._plotting import integer_ticks, mean_band

    seeds = len({r.params["seed"] for r in records})
    figure, axes = plt.subplots(2, 3, figsize=(13, 7.6))
    for axis, domain in zip(axes.flat, cfg.domains, strict=False):
        for method in cfg.methods:
            mine = _records(records, domain, method)
            if mine:
                costs = [-np.asarray(r.metrics["eval_reward"], dtype=float) for r in mine]
                mean_band(axis, np.arange(1, len(costs[0]) + 1), costs, label=method)
        optimum = summary.get(f"lqr_optimum_per_step/{ABBREVIATIONS.get(domain, domain)}")
        if optimum is not None:
            axis.axhline(-optimum, color="grey", ls="--", lw=0.8, label="LQR optimum")
        axis.set_yscale("log")
        axis.set_title(f"{domain} ({ABBREVIATIONS.get(domain, domain)})", fontsize=10)
        axis.set_xlabel("iteration")
        axis.set_ylabel("average cost per step (log)")
        integer_ticks(axis)
    axes.flat[0].legend(fontsize=7)
    consensus = axes.flat[5]
    for r in records:
        if r.params["method"] == "ePG-ELLA" and r.params["seed"] == 0:
            consensus.semilogy(np.maximum(r.metrics["alg2_consensus_first"], 1e-16), label=str(r.params["domain"]))
    consensus.set_xlabel("ADMM iteration (first outer iteration)")
    consensus.set_ylabel("consensus error ||A vec(L)||")
    consensus.set_title("ePG-ELLA agreement error, seed 0 (Fig. 1f)", fontsize=10)
    integer_ticks(consensus)
    consensus.legend(fontsize=7)
    band = f"mean over {seeds} seeds, shaded: lowest to highest seed" if seeds > 1 else "one seed"
    figure.suptitle(f"Greedy policy's cost = −reward on the tasks learned so far ({band})", fontsize=10)
    figure.tight_layout()
    return figure


register(Experiment(
    name="002-lifelong-rewards",
    title="PG, PG-ELLA, GO-MTL and ePG-ELLA on five control domains: reward, consensus, run time (Fig. 1, 2c)",
    paper="002",
    config=Config,
    sizes={"quick": {"seeds": 1, "tasks": 4, "iterations": 4, "trajectories": 12, "horizon": 150, "nodes": 4,
                     "extra_edges": 2, "admm_iterations": 60, "final_window": 2},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[
        *(Claim(f"epg_minus_best_other/{name}", 0.0, "at_least",
                source=f"Fig. 1{panel}: ePG-ELLA has the best reward on {domain} (ePG-ELLA minus the best other)")
          for panel, (domain, name) in zip("abcde", ABBREVIATIONS.items(), strict=True)),
        Claim("alg2_final_consensus_error_max", 1e-6, "at_most", exact=True,
              source="Fig. 1f: consensual solutions (worst node and seed)"),
        Claim("epg_minus_fastest_seconds", 0.0, "at_most",
              source="Fig. 2c: less time than PG-ELLA and GO-MTL (ePG-ELLA minus the faster, measured seconds)"),
    ],
    plot=plot,
))
