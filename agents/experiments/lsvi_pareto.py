"""Coop-LSVI on a linear multi-agent MDP: Bayes regret of the Pareto-front recovery against T (paper 001, §4).

Algorithm 2 draws a scalarization v_t ~ Dirichlet(1_N) every episode and plays the optimistic greedy joint policy
for vᵀr; the policies learned so far, Π̂_T, approximate the (convex part of the) Pareto front. The Bayes regret
(Eq. 12) R_B(T) = E_v[V*_v(x_1) − max_{π∈Π̂_T} vᵀV^π(x_1)] should fall towards 0: Theorem 4 with Proposition 3 gives
R_B(T) ≤ R_C(T)/T + o(1) = Õ(sqrt(S/T)) plus a Wasserstein term. We evaluate R_B exactly per policy
(vector values by DP, V*_v by DP on the scalarized MDP) and by Monte Carlo over v, on the ``LinearMultiAgent``
family, for several synchronization thresholds S (S ≤ 1: every episode).
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
    """MMDP sizes, thresholds, budget and the Monte-Carlo sample of weights."""

    seeds: Count = 5
    episodes: Count = 2000
    thresholds: Annotated[tuple[Positive, ...], MinLen(1)] = (1.0, 2.0, 10.0)
    beta: NonNegative = 3.0
    n_agents: Count = 2
    local_states: Count = 3
    local_actions: Count = 2
    n_weights: Count = 500
    checkpoints: Count = 12
    backend: Backend = "local"  # how nodes exchange messages (`mtenvs run ... --backend ray`); same results either way


def units(cfg: Config) -> list[Unit]:
    """One run per (seed, S); the seed also selects the MMDP instance."""
    return [Unit({"seed": s, "threshold": S}) for s in range(cfg.seeds) for S in cfg.thresholds]


def checkpoints(cfg: Config) -> list[int]:
    """Geometric episode counts ending at T."""
    return geometric_checkpoints(cfg.episodes, cfg.checkpoints)


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Bayes regret and average scalarized regret at the checkpoints; synchronizations."""
    from agents.lsvi.mmdp import MultiAgentCoopLSVI, bayes_regret
    from mtenvs.linear.multiagent import FAMILY

    model = FAMILY.model(FAMILY.task(n_agents=cfg.n_agents, local_states=cfg.local_states,
                                     local_actions=cfg.local_actions, instance=int(unit.params["seed"])))
    weights = np.random.default_rng(ctx.seed + 1).dirichlet(np.ones(model.n_agents), size=cfg.n_weights)
    optimal = np.array([model.pareto_value(v) for v in weights])
    comm = make_communicator(cfg.backend)
    algo = MultiAgentCoopLSVI(model, threshold=float(unit.params["threshold"]), beta=cfg.beta, comm=comm, seed=ctx.seed)
    at, bayes, average = checkpoints(cfg), [], []
    with comm:
        for t in at:
            if t > algo.episode:
                algo.learn(t - algo.episode, progress_bar=ctx.progress)
            bayes.append(bayes_regret(model, np.array(algo.history.values), weights, optimal))
            average.append(float(np.mean(algo.history.regret)))
    syncs = algo.history.sync_episodes
    return {"T": at, "bayes_regret": bayes, "average_regret": average, "sync_episodes": [int(syncs[t - 1]) for t in at],
            "final_bayes_regret": bayes[-1], "final_sync_episodes": int(syncs[-1])}


def slope(times: Sequence[int], values: Sequence[float]) -> float:
    """Slope of log value against log T over the second half of the checkpoints."""
    from scipy import stats

    half = len(times) // 2
    return float(stats.linregress(np.log(times[half:]), np.log(np.maximum(values[half:], 1e-9))).slope)


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Per S: final Bayes regret, its log-log slope, synchronizations; overall decrease from first to last."""
    summary: dict[str, Any] = {}
    for threshold in cfg.thresholds:
        rs = [r.metrics for r in records if float(r.params["threshold"]) == threshold]
        if not rs:
            continue
        key = f"S{threshold:g}"
        summary[f"{key}_bayes_regret"] = mean_ci([r["final_bayes_regret"] for r in rs], bounds=(0.0, None)).to_json()
        summary[f"{key}_bayes_slope"] = mean_ci([slope(r["T"], r["bayes_regret"]) for r in rs]).to_json()
        summary[f"{key}_sync_episodes"] = mean_ci([r["final_sync_episodes"] for r in rs]).to_json()
    summary["bayes_slope"] = mean_ci([slope(r.metrics["T"], r.metrics["bayes_regret"]) for r in records]).to_json()
    summary["bayes_regret_decrease"] = mean_ci([r.metrics["bayes_regret"][-1] / max(r.metrics["bayes_regret"][0], 1e-12)
                                                for r in records], bounds=(0.0, None)).to_json()
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Bayes regret against T for each S (mean and range over seeds), log-log, with a T^{-1/2} reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.experiments._plotting import mean_band

    figure, axis = plt.subplots(figsize=(6.5, 4))
    for threshold in cfg.thresholds:
        rs = [r.metrics for r in records if float(r.params["threshold"]) == threshold]
        if not rs:
            continue
        syncs = np.mean([r["final_sync_episodes"] for r in rs])
        mean_band(axis, rs[0]["T"], [r["bayes_regret"] for r in rs], marker="o",
                  label=f"S = {threshold:g} ({syncs:.0f} syncs)")
    times = np.asarray(records[0].metrics["T"], dtype=float)
    start = np.mean([r.metrics["bayes_regret"][0] for r in records])
    axis.plot(times, start * np.sqrt(times[0] / times), ls="--", color="grey", label="∝ T^(-1/2)")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("episodes T")
    axis.set_ylabel("Bayes regret R_B(T)")
    seeds = len({r.params["seed"] for r in records})
    spread = f"\nmean over {seeds} seeds, shaded: lowest to highest seed" if seeds > 1 else ""
    axis.set_title(f"Pareto-front recovery, {cfg.n_agents}-agent linear MMDP (Algorithm 2){spread}", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


register(Experiment(
    name="001-pareto-regret",
    title="Coop-LSVI on a linear multi-agent MDP: Bayes regret of the Pareto front against T (paper 001, Theorem 4)",
    paper="001",
    config=Config,
    sizes={"quick": {"seeds": 2, "episodes": 300, "thresholds": (1.0, 10.0), "n_weights": 200, "checkpoints": 6},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[Claim("bayes_slope", -0.5, "at_most",
                  source="Theorem 4 + Proposition 3: R_B ≤ R_C/T + o(1) = Õ(sqrt(S/T))"),
            Claim("bayes_regret_decrease", 1.0, "at_most", source="R_B(T) → 0")],
    plot=plot,
))
