"""Paper 003, Table 1: mean safe flight of DCPG's common policy and of each single-agent policy, four drone envs.

Four agents, one per floor plan of ``mtenvs/DroneNav-v0`` (the stand-in for PEDRA's indoor long / cloud / frogeyes /
pyramid, Env0-Env3), learn with REINFORCE, A2C or PPO. By default they see the grey-level camera image
(``observation="camera"``), in which the four environments differ in light and colours as PEDRA's RGB images do;
``observation="depth"`` gives them the depth image instead. DCPG agents average their parameters with their ring
neighbours (lazy Metropolis weights) after every local step; the single-agent baselines SA-0..SA-3 are the same run
with no communication (``W = I``). Afterwards the DCPG network average and every SA policy fly ``eval_episodes``
sampled-action episodes in each environment; the table reports the mean safe flight distance (metres flown before a
crash, or before the episode cap). The paper's claim is qualitative: each SA-i flies well mainly in its own
environment, while DCPG's one policy flies well in all of them, so DCPG's sum over the environments is several
times every SA's (2.56x, 3.15x and 2.76x the best SA for REINFORCE, A2C and PPO). Absolute distances depend on the
simulator and are not comparable with PEDRA's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from annotated_types import MinLen

from agents.common.communication import Backend
from mtenvs.core.seeding import stable_seed
from mtenvs.runner import (
    Claim,
    Count,
    Discount,
    Experiment,
    NonNegative,
    Positive,
    Unit,
    UnitContext,
    UnitRecord,
    mean_ci,
    register,
)

ENV_ID = "mtenvs/DroneNav-v0"
ENVS = ("env0", "env1", "env2", "env3")
METHODS = ("dcpg", "single")

#: Paper 003, Table 1: mean safe flight per environment (mean over test flights) of SA-0..SA-3 and DCPG.
PAPER_TABLE: dict[str, dict[str, list[float]]] = {
    "reinforce": {"SA-0": [15.9, 4.5, 4.1, 3.6], "SA-1": [3.0, 55.4, 9.7, 8.1], "SA-2": [1.5, 0.8, 21.1, 2.0],
                  "SA-3": [2.3, 0.8, 8.6, 40.1], "DCPG": [25.2, 67.9, 40.5, 61.8]},
    "a2c": {"SA-0": [21.8, 7.0, 15.1, 14.9], "SA-1": [1.3, 54.1, 2.8, 6.4], "SA-2": [1.8, 3.9, 105.2, 9.9],
            "SA-3": [1.1, 1.4, 15.8, 78.6], "DCPG": [25.2, 50.1, 165.8, 159.6]},
    "ppo": {"SA-0": [28.3, 11.2, 8.7, 13.5], "SA-1": [1.1, 75.3, 1.6, 1.6], "SA-2": [2.5, 3.0, 63.2, 15.6],
            "SA-3": [1.9, 1.2, 14.3, 139.0], "DCPG": [26.3, 66.7, 144.0, 195.2]},
}


def paper_ratio(algo: str) -> float:
    """DCPG's summed MSF over the best SA's sum in the paper's Table 1 (row entries summed: two printed A2C sums do not
    match their rows)."""
    sums = {name: sum(row) for name, row in PAPER_TABLE[algo].items()}
    return sums["DCPG"] / max(v for k, v in sums.items() if k != "DCPG")


@dataclass(frozen=True)
class Config:
    """Training budget (one round = one local rollout of ``n_envs * n_steps`` steps per agent, then mixing)."""

    seeds: Count = 3
    algos: Annotated[tuple[str, ...], MinLen(1)] = ("reinforce", "a2c", "ppo")
    rounds: Count = 1000
    n_envs: Count = 8
    n_steps: Count = 64
    learning_rate: Positive = 3e-4
    regularization: NonNegative = 0.03
    mix: Literal["policy", "all"] = "policy"
    observation: Literal["camera", "depth"] = "camera"
    gamma: Discount = 0.99
    max_episode_steps: Count = 1000
    eval_episodes: Count = 10
    backend: Backend = "local"  # where agents run and how they exchange messages (`mtenvs run ... --backend ray`)


def units(cfg: Config) -> list[Unit]:
    """One training run per seed, algorithm and method (DCPG on a ring, or the four isolated SA agents)."""
    for algo in cfg.algos:
        if algo not in PAPER_TABLE:
            raise ValueError(f"algos: {algo!r} is not one of {sorted(PAPER_TABLE)}")
    return [Unit({"seed": s, "algo": a, "method": m}) for s in range(cfg.seeds) for a in cfg.algos for m in METHODS]


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Train the four agents, then measure every evaluated policy's safe flight in all four environments."""
    import torch

    from agents.dcpg.deep import DeepDCPG
    from mtenvs.navigation.metrics import safe_flight_distances

    torch.set_num_threads(1)
    # DCPG and the SA agents of one seed share the seed (same initial network, same environment streams, same test
    # flights): "trained identically, the only difference being whether the agents communicate" (App. C.1).
    seed = stable_seed("003-dcpg-drone", ctx.run_seed, unit.params["seed"], unit.params["algo"]) % 2**31
    env_kwargs = {"max_episode_steps": cfg.max_episode_steps, "observation": cfg.observation}
    dcpg = DeepDCPG(ENV_ID, "paper", graph="ring",
                    weights="lazy-metropolis" if unit.params["method"] == "dcpg" else "identity",
                    algo=str(unit.params["algo"]), n_envs=cfg.n_envs, n_steps=cfg.n_steps,
                    learning_rate=cfg.learning_rate, gamma=cfg.gamma, regularization=cfg.regularization, mix=cfg.mix,
                    env_kwargs=env_kwargs, seed=seed, backend=cfg.backend)
    with dcpg:
        dcpg.learn(cfg.rounds, progress_bar=ctx.progress)
        policies = {"DCPG": dcpg.policy()} if unit.params["method"] == "dcpg" else {
            f"SA-{i}": dcpg.policy(i) for i in range(dcpg.num_agents)}
    table: dict[str, Any] = {}
    for name, policy in policies.items():
        distances = safe_flight_distances(policy, "paper", cfg.eval_episodes, seed=seed,
                                          env_kwargs=env_kwargs, max_steps=cfg.max_episode_steps)
        table[name] = {"mean": distances.mean(axis=1).tolist(), "std": distances.std(axis=1).tolist(),
                       "sum": float(distances.mean(axis=1).sum())}
    history = dcpg.history
    return {
        "table": table,
        "train_safe_flight": [r["safe_flight"] for r in history],
        "consensus_error": [r["consensus_error"] for r in history],
        "final_consensus_error": history[-1]["consensus_error"] if history else 0.0,
        "comm_bytes": history[-1]["comm_bytes"] if history else 0,
        "steps_per_agent": history[-1]["timesteps"] if history else 0,
        "sigma_2": dcpg.second_eigenvalue,
    }


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Per algorithm: the table (mean over seeds of each policy's per-env MSF), sums, and DCPG's sum over the best SA's."""
    summary: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    for algo in cfg.algos:
        rows: dict[str, list[list[float]]] = {}
        for record in records:
            if record.params["algo"] == algo:
                for name, entry in record.metrics["table"].items():
                    rows.setdefault(name, []).append(entry["mean"])
        if "DCPG" not in rows or not any(k.startswith("SA-") for k in rows):
            continue
        table = {name: np.mean(values, axis=0).tolist() for name, values in sorted(rows.items())}
        sums = {name: float(np.sum(row)) for name, row in table.items()}
        best_sa = max(v for k, v in sums.items() if k != "DCPG")
        per_seed_ratio = []
        for seed in range(cfg.seeds):
            at = [r for r in records if r.params["algo"] == algo and r.params["seed"] == seed]
            seed_sums = {name: e["sum"] for r in at for name, e in r.metrics["table"].items()}
            if "DCPG" in seed_sums and len(seed_sums) > 1:
                per_seed_ratio.append(seed_sums["DCPG"] / max(max(v for k, v in seed_sums.items() if k != "DCPG"), 1e-9))
        tables[algo] = {"ours": table, "ours_sums": sums, "paper": PAPER_TABLE[algo],
                        "paper_sums": {k: round(sum(v), 1) for k, v in PAPER_TABLE[algo].items()}}
        summary[f"{algo}_dcpg_sum"] = sums["DCPG"]
        summary[f"{algo}_best_sa_sum"] = best_sa
        summary[f"{algo}_ratio"] = mean_ci(per_seed_ratio).to_json()
        summary[f"{algo}_dcpg_beats_every_sa"] = bool(sums["DCPG"] > best_sa)
        summary[f"{algo}_dcpg_consensus_error"] = mean_ci(
            [r.metrics["final_consensus_error"] for r in records if r.params["algo"] == algo and r.params["method"] == "dcpg"]
        ).to_json()
    summary["tables"] = tables
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Per algorithm, grouped bars: each policy's MSF in each environment (the paper's Table 1 as a figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    algos = [a for a in cfg.algos if a in summary["tables"]]
    figure, axes = plt.subplots(1, max(len(algos), 1), figsize=(4.5 * max(len(algos), 1), 3.8), squeeze=False)
    for axis, algo in zip(axes[0], algos, strict=False):
        table = summary["tables"][algo]["ours"]
        names = sorted(table, key=lambda n: (n == "DCPG", n))
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            axis.bar(np.arange(4) + k * width, table[name], width, label=f"{name} (sum {sum(table[name]):.0f} m)")
        axis.set_xticks(np.arange(4) + 0.4 - width / 2, [f"Env{i}" for i in range(4)])
        axis.set_ylabel("mean safe flight [m]")
        ratio = summary["tables"][algo]["ours_sums"]["DCPG"] / max(summary[f"{algo}_best_sa_sum"], 1e-9)
        axis.set_title(f"{algo}: DCPG / best SA = {ratio:.2f} (paper {paper_ratio(algo):.2f})", fontsize=9)
        axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


register(Experiment(
    name="003-dcpg-drone",
    title="Mean safe flight of DCPG vs single-agent policies in four drone environments (paper 003, Table 1)",
    paper="003",
    config=Config,
    sizes={"quick": {"seeds": 1, "rounds": 4, "n_envs": 4, "n_steps": 16, "learning_rate": 1e-3,
                     "max_episode_steps": 100, "eval_episodes": 3},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[Claim(f"{algo}_ratio", round(paper_ratio(algo), 2), "at_least", source="Table 1 (DCPG sum / best SA sum)")
            for algo in ("reinforce", "a2c", "ppo")],
    plot=plot,
))
