"""Coop-LSVI: communication rounds against T for several thresholds S (paper 001, Lemmas 1 and 3).

Two synchronization rules, two bounds:

* Algorithm 1 (parallel MDPs) synchronizes when (t − k_t) · log det-ratio > S; Lemma 1 bounds the episodes with
  communication by n ≤ 2H sqrt(d (T/S) log(MT)) + 4H, which grows like sqrt(T/S).
* Algorithm 2 (multi-agent MDP) synchronizes when the determinant ratio exceeds a constant S > 1; Lemma 3 bounds
  n ≤ d H log_S(1 + MT/d) + H, logarithmic in T (Remark 9's recommended constant S: O(log MT) rounds).

We record the cumulative number of synchronizations along one run per (seed, algorithm, S), compare it with the
bounds at every checkpoint, and fit n(T) = a + b log T and n(T) = c T^p to show which growth law the measurements
follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from annotated_types import MinLen

from agents.common.communication import Backend, make_communicator
from agents.experiments._lsvi_common import geometric_checkpoints
from mtenvs.runner import Claim, Count, Experiment, NonNegative, Positive, Unit, UnitContext, UnitRecord, mean_ci, register


@dataclass(frozen=True)
class Config:
    """Thresholds, budget and instance sizes."""

    seeds: Count = 3
    episodes: Count = 3000
    thresholds_alg1: Annotated[tuple[Positive, ...], MinLen(1)] = (1.0, 10.0, 100.0)
    thresholds_alg2: Annotated[tuple[Positive, ...], MinLen(1)] = (2.0, 10.0, 100.0)
    n_agents: Count = 4
    beta: NonNegative = 4.0
    beta_mmdp: NonNegative = 3.0
    n_states: Count = 6
    n_actions: Count = 3
    dim: Count = 4
    horizon: Count = 4
    checkpoints: Count = 12
    backend: Backend = "local"  # how nodes exchange messages (`mtenvs run ... --backend ray`); same results either way


def units(cfg: Config) -> list[Unit]:
    """One run per (seed, algorithm, S)."""
    return ([Unit({"seed": s, "algorithm": 1, "threshold": S}) for s in range(cfg.seeds) for S in cfg.thresholds_alg1]
            + [Unit({"seed": s, "algorithm": 2, "threshold": S}) for s in range(cfg.seeds) for S in cfg.thresholds_alg2])


def checkpoints(cfg: Config) -> list[int]:
    """Geometric episode counts ending at T."""
    return geometric_checkpoints(cfg.episodes, cfg.checkpoints)


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Cumulative synchronizations at the checkpoints, and the lemma's bound at each."""
    import mtenvs
    from agents.lsvi.coop import CoopLSVI
    from agents.lsvi.mmdp import MultiAgentCoopLSVI
    from agents.lsvi.theory import coop_rounds_bound, mmdp_rounds_bound
    from mtenvs.linear.multiagent import FAMILY as MMDP

    threshold, seed = float(unit.params["threshold"]), int(unit.params["seed"])
    at = checkpoints(cfg)
    if unit.params["algorithm"] == 1:
        family = mtenvs.family("LinearMDP")
        task = family.model(family.task(n_states=cfg.n_states, n_actions=cfg.n_actions, dim=cfg.dim,
                                        horizon=cfg.horizon, instance=seed))
        algo: Any = CoopLSVI([task] * cfg.n_agents, threshold=threshold, beta=cfg.beta, seed=ctx.seed,
                             backend=cfg.backend)
        bound = [coop_rounds_bound(task.dim, task.horizon, cfg.n_agents, t, threshold) for t in at]
        closing: Any = algo
    else:
        model = MMDP.model(MMDP.task(instance=seed))
        closing = make_communicator(cfg.backend)
        algo = MultiAgentCoopLSVI(model, threshold=threshold, beta=cfg.beta_mmdp, comm=closing, seed=ctx.seed)
        bound = [mmdp_rounds_bound(model.dim, model.horizon, model.n_agents, t, threshold) for t in at]
    with closing:
        algo.learn(cfg.episodes, progress_bar=ctx.progress)
    syncs = algo.history.sync_episodes
    return {"T": at, "rounds": [int(syncs[t - 1]) for t in at], "bound": bound,
            "within_bound": bool(all(int(syncs[t - 1]) <= b for t, b in zip(at, bound, strict=True))),
            "comm_bytes": algo.comm.stats.bytes}


def growth_fits(times: Sequence[int], rounds: Sequence[int]) -> dict[str, float]:
    """R² of n = a + b log T, and the exponent p and R² of log n = log c + p log T (later half, n > 0)."""
    from scipy import stats

    t, n = np.asarray(times, dtype=float), np.asarray(rounds, dtype=float)
    log_fit = stats.linregress(np.log(t), n)
    keep = (n > 0) & (t >= np.median(t))
    power = stats.linregress(np.log(t[keep]), np.log(n[keep])) if keep.sum() >= 2 else None
    return {"log_slope": float(log_fit.slope), "log_r2": float(log_fit.rvalue**2),
            "power_exponent": float(power.slope) if power is not None else float("nan"),
            "power_r2": float(power.rvalue**2) if power is not None else float("nan")}


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Per (algorithm, S): final rounds, bound, growth fits; overall fraction of runs within their bound."""
    summary: dict[str, Any] = {"within_bound": float(np.mean([r.metrics["within_bound"] for r in records]))}
    for algorithm, thresholds in ((1, cfg.thresholds_alg1), (2, cfg.thresholds_alg2)):
        fits_all = []
        for threshold in thresholds:
            rs = [r.metrics for r in records
                  if r.params["algorithm"] == algorithm and float(r.params["threshold"]) == threshold]
            if not rs:
                continue
            fits = [growth_fits(r["T"], r["rounds"]) for r in rs]
            fits_all += fits
            key = f"alg{algorithm}_S{threshold:g}"
            summary[f"{key}_rounds"] = mean_ci([r["rounds"][-1] for r in rs]).to_json()
            summary[f"{key}_bound"] = rs[0]["bound"][-1]
            summary[f"{key}_log_r2"] = mean_ci([f["log_r2"] for f in fits], bounds=(0.0, 1.0)).to_json()
            summary[f"{key}_power_exponent"] = mean_ci([f["power_exponent"] for f in fits]).to_json()
        if fits_all:
            summary[f"alg{algorithm}_log_r2"] = mean_ci([f["log_r2"] for f in fits_all], bounds=(0.0, 1.0)).to_json()
            summary[f"alg{algorithm}_power_exponent"] = mean_ci([f["power_exponent"] for f in fits_all]).to_json()
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Top: rounds against log T per algorithm and S (mean, 95% interval over seeds). Bottom: the same rounds as a
    fraction of the lemma's bound, which holds where the curve stays below 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.experiments._plotting import mean_band

    figure, axes = plt.subplots(2, 2, figsize=(10.5, 7), sharex=True)
    for column, algorithm, thresholds, lemma in ((0, 1, cfg.thresholds_alg1, "Lemma 1"),
                                                 (1, 2, cfg.thresholds_alg2, "Lemma 3")):
        top, bottom = axes[0, column], axes[1, column]
        for threshold, colour in zip(thresholds, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False):
            rs = [r.metrics for r in records
                  if r.params["algorithm"] == algorithm and float(r.params["threshold"]) == threshold]
            if not rs:
                continue
            times = rs[0]["T"]
            rounds = np.array([r["rounds"] for r in rs], dtype=float)
            bound = np.asarray(rs[0]["bound"], dtype=float)
            mean_band(top, times, rounds, spread="ci", marker="o", color=colour, label=f"S = {threshold:g}")
            mean_band(bottom, times, rounds / bound, spread="ci", marker="o", color=colour, label=f"S = {threshold:g}")
        bottom.axhline(1.0, color="black", ls="--", lw=1, label=f"{lemma} bound")
        top.set_ylabel("episodes with communication")
        top.set_title(f"Algorithm {algorithm}: communication rounds", fontsize=10)
        bottom.set_ylabel(f"rounds / {lemma} bound")
        bottom.set_yscale("log")
        bottom.set_ylim(top=1.5)
        bottom.set_title(f"Algorithm {algorithm}: share of the {lemma} bound used", fontsize=10)
        bottom.set_xlabel("episodes T (log scale)")
        bottom.set_xscale("log")                           # a log T law is a straight line on these axes
        top.legend(fontsize=8)
        bottom.legend(fontsize=8)
    seeds = len({r.params["seed"] for r in records})
    if seeds > 1:
        figure.suptitle(f"Mean over {seeds} seeds; shaded: 95% interval", fontsize=9)
    figure.tight_layout()
    return figure


register(Experiment(
    name="001-coop-rounds",
    title="Coop-LSVI communication rounds against T for several thresholds S (paper 001, Lemmas 1 and 3)",
    paper="001",
    config=Config,
    sizes={"quick": {"seeds": 1, "episodes": 300, "thresholds_alg1": (1.0, 100.0), "thresholds_alg2": (2.0, 10.0),
                     "checkpoints": 8},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[Claim("within_bound", 1.0, "at_least", exact=True, source="Lemmas 1 and 3 (the fraction of runs within)"),
            Claim("alg2_log_r2", 0.9, "at_least", source="Lemma 3 / Remark 9: O(log MT) rounds for constant S"),
            Claim("alg1_power_exponent", 0.5, "at_most",
                  source="Lemma 1: ≤ 2H sqrt(d (T/S) log MT) + 4H rounds, i.e. growing at most like T^0.5")],
    plot=plot,
))
