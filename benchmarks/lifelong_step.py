"""ePG-ELLA against PG-ELLA at a small budget: final greedy reward per seed and the operating point's KL.

Variants (``--variants``), each learning the same fixed tasks of one domain with the same seeds:

* ``pgella``: PG-ELLA (one KL-sized eNAC step per task visit, online basis);
* ``kl``: ePG-ELLA with ``step="kl"`` (Algorithm 1's direction, a step of mean KL ``step_size``), the default;
* ``rwr``: ePG-ELLA with ``step="rwr"`` (Algorithm 1's reward-weighted point itself);
* diagnostics of the remaining gap (ePG-ELLA with one change each):
  ``enac``: the operating point steps along PG-ELLA's eNAC natural gradient instead of Algorithm 1's direction;
  ``sfirst``: every task's ``s_j`` is re-fit on its new operating point before Algorithm 2 (PG-ELLA's order: s, then
  L) instead of Algorithm 2 running on last iteration's ``s_j``;
  ``beta<x>``: the reward-weighted weights at inverse temperature ``x`` (default 1), still with the KL step;
  ``rounds<k>``: ``basis_rounds=k``, up to ``k`` rounds of (Algorithm 2, LASSO) per iteration instead of one.

Each run prints one JSON line; the summary gives, per variant, the mean final reward (greedy reward averaged over
the last 5 iterations) with its 95% Student-t interval, and the difference to PG-ELLA paired by seed.

Run: ``python benchmarks/lifelong_step.py --domain Helicopter --seeds 5 --iterations 100 --tasks 10``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from unittest import mock

import numpy as np

from agents.experiments._lifelong_common import domain_tasks, make_learner, single_blas_thread
from agents.experiments.lifelong_rewards import Config
from agents.lifelong import enac_gradient
from agents.lifelong.epg_ella import EPGELLA
from agents.lifelong.estimators import advantages, trajectory_weights
from agents.lifelong.workers import ProcessorNode
from mtenvs.runner import mean_ci


@contextlib.contextmanager
def diagnostic(variant: str) -> Iterator[None]:
    """Patch ePG-ELLA's node for the diagnostic ``variant`` (no change for the others)."""
    stepped, operating_points = ProcessorNode._stepped, EPGELLA._operating_points
    if variant == "enac":
        def enac_step(self: ProcessorNode, j: int, target: np.ndarray, traj: Any) -> np.ndarray:
            return stepped(self, j, self.thetas[j] + enac_gradient(self.policy, self.thetas[j], traj), traj)
        with mock.patch.object(ProcessorNode, "_stepped", enac_step):
            yield
    elif variant == "sfirst":
        def points_then_codes(self: EPGELLA, tasks: Any) -> Any:
            found = operating_points(self, tasks)
            self.pool.map(ProcessorNode.lasso, self._by_owner([j for j in tasks if self.seen[j]]))
            return found
        with mock.patch.object(EPGELLA, "_operating_points", points_then_codes):
            yield
    elif variant.startswith("beta"):
        beta = float(variant[4:])
        with mock.patch.object(ProcessorNode, "_weights",
                               lambda self, traj: trajectory_weights(advantages(traj), self.weighting, beta)):
            yield
    else:
        yield


def run(domain: str, variant: str, seed: int, cfg: Config) -> dict[str, Any]:
    """One learning run; its final greedy reward, curve and per-iteration operating-point KL."""
    method = "PG-ELLA" if variant == "pgella" else "ePG-ELLA"
    cfg = replace(cfg, epg_step="rwr" if variant == "rwr" else "kl")
    tic = time.perf_counter()
    with single_blas_thread(), diagnostic(variant):
        learner = make_learner(method, domain, domain_tasks(domain, cfg.tasks), cfg, seed)
        if variant.startswith("rounds"):
            learner.basis_rounds = int(variant[6:])
        try:
            learner.learn(cfg.iterations)
        finally:
            learner.close()
    curve = [r["eval_reward"] for r in learner.history]
    return {"domain": domain, "variant": variant, "seed": seed, "final": float(np.mean(curve[-5:])), "curve": curve,
            "kl": [r.get("operating_point_kl") for r in learner.history], "seconds": time.perf_counter() - tic}


def summarise(rows: list[dict[str, Any]]) -> None:
    """Per variant: final reward with its 95% interval, the step's KL, and the seed-paired difference to PG-ELLA."""
    base = {r["seed"]: r["final"] for r in rows if r["variant"] == "pgella"}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = {r["seed"]: r for r in rows if r["variant"] == variant}
        final = mean_ci([r["final"] for r in mine.values()])
        kls = [k for r in mine.values() for k in r["kl"] if k is not None]
        line = f"{variant:10s} final {final.mean:11.4g} [{final.low:11.4g}, {final.high:11.4g}]"
        if kls:
            line += f"  KL {np.mean(kls):.2e} ({np.min(kls):.1e}-{np.max(kls):.1e})"
        common = sorted(set(base) & set(mine))
        if variant != "pgella" and len(common) >= 2:
            diff = mean_ci([mine[s]["final"] - base[s] for s in common])
            line += f"  minus PG-ELLA {diff.mean:11.4g} [{diff.low:11.4g}, {diff.high:11.4g}]"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", default="Helicopter")
    parser.add_argument("--variants", default="pgella,kl,rwr")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--trajectories", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=1)
    args = parser.parse_args()
    cfg = replace(Config(), tasks=args.tasks, iterations=args.iterations, trajectories=args.trajectories,
                  nodes=args.nodes, extra_edges=min(3, args.nodes * (args.nodes - 1) // 2 - args.nodes + 1))
    rows = []
    for seed in range(args.seeds):
        for variant in args.variants.split(","):
            rows.append(run(args.domain, variant, seed, cfg))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "curve"}), flush=True)
    summarise(rows)


if __name__ == "__main__":
    main()
