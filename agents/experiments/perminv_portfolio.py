"""Paper 004, Figs. 3-4: multi-task permutation-invariant portfolios vs single-task training vs Equal CRP.

Real data: daily closes of 20 S&P 500 stocks (1990-2022) shipped with ``skfolio`` (``mtenvs/Portfolio-v0`` with
``source="sp500"``). The family splits them into 12 training stocks and 8 held-out stocks (MSFT PEP PFE PG RRC UNH
WMT XOM) and into a training period (to 2017) and a held-out period (2018-01-02 to 2022-12-28, 1,257 days).

Per seed, ``train_tasks`` portfolios of 5 training stocks are drawn; the methods are trained on their training
period with the direct policy gradient (`agents.perminv.direct_pg.PortfolioPG`, the paper's RNN network):

* ``pmtl``: one network for all tasks, prioritized task sampling (α = 0.5, β = 1, γ_s = 0.2);
* ``mtl``: the same with uniform task sampling (α = 0);
* ``stl``: one network per task, each with the same number of updates per task as the multi-task runs.

Every policy then trades, deterministically and through the environment, (a) the training portfolios in the held-out
period (Fig. 4's setting: known assets, unseen years) and (b) ``heldout_tasks`` portfolios of 5 held-out stocks in the
held-out period (Fig. 3's transfer setting; a single-task network is scored on every held-out portfolio). Reported:
final wealth (start 1), annualised return and Sharpe ratio (√252 · mean / std of daily log returns), and their gains
over Equal CRP on the same portfolios.

Differences from the paper: 20 stocks instead of 68 technology/communication stocks (12 + 8 instead of 50 + 18),
portfolios of 5 instead of 10, closes only (the high and low features repeat the close), 1990-2017 training and
2018-2022 testing instead of 2009-2018 and 2019, and a fixed training budget evaluated once at the end (the paper plots
per-epoch curves). The environment's cash asset is given weight 0, as the paper has no cash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from annotated_types import MinLen

from mtenvs.progress import ProgressOptions
from mtenvs.runner import Claim, Count, Experiment, Positive, Unit, UnitContext, UnitRecord, mean_ci, register

ENV_ID = "mtenvs/Portfolio-v0"
METRICS = ("wealth", "annual_return", "sharpe")
SETTINGS = ("period", "heldout")


@dataclass(frozen=True)
class Config:
    """Budget and data settings (the paper's: 10 experiments, 30 tasks, 300 updates per task and epoch)."""

    seeds: Count = 10
    methods: Annotated[tuple[str, ...], MinLen(1)] = ("pmtl", "mtl", "stl")
    source: Literal["sp500", "synthetic"] = "sp500"
    train_tasks: Count = 30
    heldout_tasks: Count = 10
    updates_per_task: Count = 3000
    batch_size: Count = 50
    learning_rate: Positive = 3e-4
    window: Count = 50
    hidden: Count = 25
    encoder: Literal["rnn", "gru", "mlp"] = "rnn"
    alpha: float = 0.5


def units(cfg: Config) -> list[Unit]:
    """One unit per (seed, method); the seed fixes the portfolios, so methods are compared on the same tasks."""
    for method in cfg.methods:
        if method not in ("pmtl", "mtl", "stl"):
            raise ValueError(f"methods must be among 'pmtl', 'mtl', 'stl', got {method!r}")
    return [Unit({"seed": s, "method": m}) for s in range(cfg.seeds) for m in cfg.methods]


def portfolios(cfg: Config, run_seed: int, seed: int) -> tuple[list[Any], list[Any]]:
    """The seed's training portfolios (training period) and held-out portfolios (held-out assets and period)."""
    import mtenvs

    family = mtenvs.family("Portfolio")
    rng = np.random.default_rng([run_seed, seed])
    train = [family.task(selection=int(s)) for s in rng.choice(999_999, cfg.train_tasks, replace=False)]
    heldout = [family.task(selection=int(s), pool="heldout", period="test")
               for s in rng.choice(999_999, cfg.heldout_tasks, replace=False)]
    return train, heldout


def train(cfg: Config, env: Any, tasks: Sequence[Any], alpha: float, seed: int,
          progress: bool | ProgressOptions = False) -> Any:
    """A network trained by Algorithm 1 on ``tasks`` for ``updates_per_task`` updates per task."""
    import torch

    from agents.perminv import PrioritizedTasks
    from agents.perminv.direct_pg import PortfolioPG, portfolio_net

    torch.manual_seed(seed)
    net = portfolio_net(cfg.window, kind=cfg.encoder, hidden=cfg.hidden)
    trainer = PortfolioPG(env, tasks, net=net, sampler=PrioritizedTasks(tasks, alpha=alpha), batch_size=cfg.batch_size,
                          learning_rate=cfg.learning_rate, seed=seed)
    return trainer.learn(cfg.updates_per_task * len(tasks), progress_bar=progress).net


def scores(cfg: Config, nets: Sequence[Any], tasks: Sequence[Any], pairs: str) -> dict[str, float]:
    """Mean metrics and gains over Equal CRP; ``pairs="own"``: net i on task i, ``"all"``: every net on every task."""
    import mtenvs
    from agents.perminv.direct_pg import PortfolioPolicy, evaluate_portfolio

    kwargs = {"source": cfg.source, "window": cfg.window}
    crp = mtenvs.family("Portfolio").reference_policies["equal_crp"]
    baseline = [evaluate_portfolio(crp([t]), ENV_ID, t, **kwargs) for t in tasks]
    rows: list[dict[str, float]] = []
    for i, task in enumerate(tasks):
        chosen = [nets[i]] if pairs == "own" else nets
        for net in chosen:
            ours = evaluate_portfolio(PortfolioPolicy(net), ENV_ID, task, **kwargs)
            rows.append({**{k: ours[k] for k in METRICS}, **{f"{k}_gain": ours[k] - baseline[i][k] for k in METRICS},
                         **{f"crp_{k}": baseline[i][k] for k in METRICS}})
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Train one method on the seed's portfolios and score it on the held-out period and the held-out assets."""
    import gymnasium as gym
    import torch

    torch.set_num_threads(1)
    train_tasks, heldout = portfolios(cfg, ctx.run_seed, int(unit.params["seed"]))
    env = gym.make(ENV_ID, source=cfg.source, window=cfg.window)
    seed = ctx.seed % 2**31
    method = unit.params["method"]
    if method == "stl":
        nets = [train(cfg, env, [task], 0.0, seed + i, ctx.progress) for i, task in enumerate(train_tasks)]
        period = scores(cfg, nets, [t.replace(period="test") for t in train_tasks], "own")
    else:
        nets = [train(cfg, env, train_tasks, cfg.alpha if method == "pmtl" else 0.0, seed, ctx.progress)]
        period = scores(cfg, nets * len(train_tasks), [t.replace(period="test") for t in train_tasks], "own")
    held = scores(cfg, nets, heldout, "all")
    env.close()
    return {**{f"period_{k}": v for k, v in period.items()}, **{f"heldout_{k}": v for k, v in held.items()}}


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Per method and setting: mean over seeds (95% t-interval) of each metric and its gain over Equal CRP."""
    summary: dict[str, Any] = {}
    for method in cfg.methods:
        chosen = [r for r in records if r.params["method"] == method]
        for key in chosen[0].metrics if chosen else ():
            if key.startswith(("period_crp", "heldout_crp")):
                continue
            summary[f"{method}_{key}"] = mean_ci([r.metrics[key] for r in chosen]).to_json()
    for setting in SETTINGS:  # Equal CRP on the same portfolios (identical across methods)
        first = [r for r in records if r.params["method"] == cfg.methods[0]]
        for k in METRICS:
            summary[f"ecrp_{setting}_{k}"] = mean_ci([r.metrics[f"{setting}_crp_{k}"] for r in first]).to_json()
    multi = next((m for m in ("pmtl", "mtl") if m in cfg.methods), None)
    if multi and "stl" in cfg.methods:
        by_seed = {m: {r.params["seed"]: r.metrics for r in records if r.params["method"] == m} for m in (multi, "stl")}
        seeds = sorted(set(by_seed[multi]) & set(by_seed["stl"]))
        for setting in SETTINGS:
            diffs = [by_seed[multi][s][f"{setting}_annual_return"] - by_seed["stl"][s][f"{setting}_annual_return"] for s in seeds]
            summary[f"{multi}_minus_stl_{setting}_annual_return"] = mean_ci(diffs).to_json()
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Gain in annualised return and Sharpe over Equal CRP per method, held-out period and held-out assets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.8 / max(len(cfg.methods), 1)
    for axis, metric in zip(axes, ("annual_return_gain", "sharpe_gain"), strict=True):
        for j, method in enumerate(cfg.methods):
            means, errors = [], []
            for setting in SETTINGS:
                estimate = summary.get(f"{method}_{setting}_{metric}", {})
                mean = estimate.get("mean") or 0.0
                means.append(mean)
                errors.append(0.0 if estimate.get("low") is None else mean - estimate["low"])
            axis.bar(np.arange(len(SETTINGS)) + j * width, means, width, yerr=errors, capsize=3, label=method)
        axis.axhline(0.0, color="grey", lw=0.8)
        axis.set_xticks(np.arange(len(SETTINGS)) + width * (len(cfg.methods) - 1) / 2,
                        ["training stocks,\nheld-out years", "held-out stocks,\nheld-out years"])
        axis.set_ylabel(f"{metric.replace('_', ' ')} over Equal CRP")
        axis.legend()
    figure.suptitle(f"Portfolios on {cfg.source} (paper 004, Figs. 3-4); bars: mean over seeds, 95% interval", fontsize=10)
    figure.tight_layout()
    return figure


register(Experiment(
    name="004-portfolio",
    title="Multi-task permutation-invariant portfolios vs single-task vs Equal CRP on S&P 500 closes (paper 004, Figs. 3-4)",
    paper="004",
    config=Config,
    sizes={"quick": {"seeds": 1, "methods": ("pmtl", "stl"), "train_tasks": 3, "heldout_tasks": 2,
                     "updates_per_task": 60, "learning_rate": 1e-3},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[
        Claim("pmtl_heldout_annual_return_gain", 0.0, "at_least", source="Fig. 3 (gain over Equal CRP on unseen stocks)"),
        Claim("pmtl_minus_stl_period_annual_return", 0.0, "at_least", source="Fig. 4 (P-MTL better than STL)"),
        Claim("pmtl_period_annual_return_gain", 0.0, "at_least",
              source="Fig. 5 (MTL learns allocations that deviate profitably from Equal CRP)"),
        Claim("stl_period_annual_return_gain", "STL collapses to Equal CRP", "text", source="Fig. 5",
              reason="the paper gives no threshold for 'collapses'; ours is STL's gain in annual return over Equal CRP"),
    ],
    plot=plot,
))
