"""Paper 004, Fig. 1: sample efficiency of permutation augmentation vs more real samples, across task mismatch ε.

The synthetic allocation task (``mtenvs/EntityAllocation-v0``: 10 entities, reward ``Σ x_i a_i − β_i a_i log a_i``
plus N(0, 0.1²) noise, ``β_i = 0.1 + ε (i − 1)/9``). For each ε and seed one stream of real samples is drawn from the
environment (states from the env, actions ~ Dirichlet(1), i.e. "i.i.d. from the state-action space"). LSPI
(`agents.perminv.AllocationLSPI`, γ = 0 since states are i.i.d.) is fitted on

* **real**: the first N real samples, N = 20 … 2000;
* **permuted**: the first 20 real samples plus random permutations of them (the same σ applied to x and a, the reward
  kept) up to N samples; for ε > 0 these come from a "nearby" MDP at Bellman distance ∝ ε (Theorem 1).

The metric is the regret of the greedy policy: the exact optimal reward (closed form) minus the noise-free reward of
the greedy allocation, averaged over fresh states, so it is >= 0 and its intervals are clipped at 0. The paper shows
figures only (no numbers); its claims are that performance improves with N, that permuted samples gain over 20 real
ones, and that the real-vs-permuted gap at N = 2000 grows with ε. Each is checked on a per-replicate difference:
``real_gain`` (regret at the smallest N minus at the largest, per (seed, ε) run), ``permutation_gain_eps0`` (the same
for the permuted samples at the smallest ε) and ``gap_growth`` (the gap at the largest ε minus at the smallest, paired
by seed), each with its 95% interval and judged >= 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from annotated_types import MinLen

from mtenvs.runner import Claim, Count, Experiment, NonNegative, Positive, Unit, UnitContext, UnitRecord, mean_ci, register

ENV_ID = "mtenvs/EntityAllocation-v0"


@dataclass(frozen=True)
class Config:
    """The sweep over mismatch and sample size of Sec. 6.1 (the grids and constants are ours where it is silent)."""

    seeds: Count = 20
    mismatches: Annotated[tuple[NonNegative, ...], MinLen(1)] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    sample_sizes: Annotated[tuple[Count, ...], MinLen(1)] = (20, 50, 100, 200, 500, 1000, 2000)
    base_samples: Count = 20
    n_entities: Count = 10
    beta0: Positive = 0.1
    noise_std: NonNegative = 0.1
    ridge: NonNegative = 1e-3
    eval_states: Count = 10_000


def units(cfg: Config) -> list[Unit]:
    """One unit per (seed, ε): it fits every sample size for both methods on one stream of samples."""
    return [Unit({"seed": s, "mismatch": float(e)}) for s in range(cfg.seeds) for e in cfg.mismatches]


def real_samples(cfg: Config, mismatch: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` samples ``(x, a, r)`` from the environment: one episode of ``n`` steps with Dirichlet(1) actions."""
    import gymnasium as gym

    env = gym.make(ENV_ID, task={"mismatch": mismatch, "beta0": cfg.beta0}, n_entities=cfg.n_entities, horizon=n,
                   noise_std=cfg.noise_std)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    states, actions, rewards = [], [], []
    for _ in range(n):
        action = rng.dirichlet(np.ones(cfg.n_entities))
        next_obs, reward, _, _, info = env.step(action.astype(np.float32))
        states.append(obs[:, 0].astype(np.float64))
        actions.append(info["weights"])
        rewards.append(reward)
        obs = next_obs
    env.close()
    return np.array(states), np.array(actions), np.array(rewards)


def permutation_augment(x: np.ndarray, a: np.ndarray, r: np.ndarray, n: int, rng: np.random.Generator,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples plus ``n − len(x)`` copies of random samples with one random permutation applied to x and a."""
    extra = n - len(x)
    if extra <= 0:
        return x[:n], a[:n], r[:n]
    source = rng.integers(len(x), size=extra)
    perms = np.argsort(rng.random((extra, x.shape[1])), axis=1)  # one uniform permutation per copy
    rows = np.arange(extra)[:, None]
    return (np.vstack([x, x[source][rows, perms]]), np.vstack([a, a[source][rows, perms]]),
            np.concatenate([r, r[source]]))


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Regret of LSPI on real and on permutation-augmented samples, for every sample size."""
    from agents.perminv import AllocationLSPI
    from mtenvs.entities.allocation import allocation_reward, entropy_weights, optimal_reward

    mismatch = float(unit.params["mismatch"])
    betas = entropy_weights(mismatch, cfg.beta0, cfg.n_entities)
    x, a, r = real_samples(cfg, mismatch, max(cfg.sample_sizes), ctx.seed % 2**31)
    test_states = ctx.rng.uniform(size=(cfg.eval_states, cfg.n_entities))
    optimum = float(optimal_reward(test_states, betas).mean())
    base = cfg.base_samples
    metrics: dict[str, Any] = {"optimum": optimum}
    for n in cfg.sample_sizes:
        datasets = {"real": (x[:n], a[:n], r[:n]),
                    "permuted": permutation_augment(x[:base], a[:base], r[:base], n, ctx.rng)}
        for method, (xs, acts, rs) in datasets.items():
            lspi = AllocationLSPI(cfg.n_entities, ridge=cfg.ridge).fit(xs, acts, rs)
            value = float(allocation_reward(test_states, lspi.greedy(test_states), betas).mean())
            metrics[f"{method}_regret_n{n}"] = optimum - value
    return metrics


#: Range of a regret: the exact optimum minus what the greedy allocation gets.
REGRET_RANGE = (0.0, None)


def _chosen(records: Sequence[UnitRecord], mismatch: float | None = None) -> list[UnitRecord]:
    return [r for r in records if mismatch is None or abs(r.params["mismatch"] - mismatch) < 1e-12]


def _mean(records: Sequence[UnitRecord], key: str, mismatch: float | None = None) -> dict[str, Any]:
    return mean_ci([r.metrics[key] for r in _chosen(records, mismatch)], bounds=REGRET_RANGE).to_json()


def _gain(records: Sequence[UnitRecord], method: str, n_min: int, n_max: int, mismatch: float | None = None) -> Any:
    """Regret at ``n_min`` minus regret at ``n_max`` per run: how much ``method`` gains from more samples."""
    return mean_ci([r.metrics[f"{method}_regret_n{n_min}"] - r.metrics[f"{method}_regret_n{n_max}"]
                    for r in _chosen(records, mismatch)]).to_json()


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Regret per method, N and ε; the real-vs-permuted gap at the largest N per ε, and its growth with ε."""
    summary: dict[str, Any] = {}
    n_max, n_min = max(cfg.sample_sizes), min(cfg.sample_sizes)
    for e in cfg.mismatches:
        for n in cfg.sample_sizes:
            for method in ("real", "permuted"):
                summary[f"{method}_regret_eps{e:g}_n{n}"] = _mean(records, f"{method}_regret_n{n}", e)
        gaps = [r.metrics[f"permuted_regret_n{n_max}"] - r.metrics[f"real_regret_n{n_max}"]
                for r in records if abs(r.params["mismatch"] - e) < 1e-12]
        summary[f"gap_eps{e:g}_n{n_max}"] = mean_ci(gaps).to_json()
    low, high = min(cfg.mismatches), max(cfg.mismatches)
    gap = {e: {r.params["seed"]: r.metrics[f"permuted_regret_n{n_max}"] - r.metrics[f"real_regret_n{n_max}"]
               for r in _chosen(records, e)} for e in (low, high)}
    seeds = sorted(set(gap[low]) & set(gap[high]))
    summary["gap_growth"] = mean_ci([gap[high][s] - gap[low][s] for s in seeds]).to_json()
    summary["permutation_gain_eps0"] = _gain(records, "permuted", n_min, n_max, low)
    summary["real_gain"] = _gain(records, "real", n_min, n_max)
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Fig. 1's three panels: regret vs N at the smallest and the largest ε, and the N_max gap vs ε; error bars are
    95% intervals over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.experiments._plotting import estimate_bars

    figure, axes = plt.subplots(1, 3, figsize=(12.5, 3.8))
    sizes = list(cfg.sample_sizes)
    for axis, e in zip(axes[:2], (min(cfg.mismatches), max(cfg.mismatches)), strict=True):
        for method, colour in (("real", "tab:blue"), ("permuted", "tab:orange")):
            estimates = [summary[f"{method}_regret_eps{e:g}_n{n}"] for n in sizes]
            label = "N real samples" if method == "real" else f"{cfg.base_samples} real + permutations to N"
            estimate_bars(axis, sizes, estimates, positive=True, marker="o", color=colour, label=label)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("N (training samples)")
        axis.set_ylabel("regret vs exact optimum")
        axis.set_title(f"task mismatch ε = {e:g}", fontsize=10)
        axis.legend(fontsize=8)
    n_max = max(sizes)
    estimate_bars(axes[2], cfg.mismatches, [summary[f"gap_eps{e:g}_n{n_max}"] for e in cfg.mismatches],
                  marker="o", color="tab:red")
    axes[2].axhline(0.0, color="grey", lw=0.8)
    axes[2].set_xlabel("ε (entropy-weight range)")
    axes[2].set_ylabel(f"regret(permuted) − regret(real), N = {n_max}")
    axes[2].set_title("cost of the nearby MDP", fontsize=10)
    seeds = len({r.params["seed"] for r in records})
    figure.suptitle(f"LSPI on the synthetic allocation task (paper 004, Fig. 1); mean over {seeds} seeds, "
                    "bars: 95% interval", fontsize=10)
    figure.tight_layout()
    return figure


register(Experiment(
    name="004-synthetic",
    title="Permutation augmentation vs more real samples across task mismatch (paper 004, Fig. 1)",
    paper="004",
    config=Config,
    sizes={"quick": {"seeds": 3, "mismatches": (0.0, 0.4, 0.8), "sample_sizes": (20, 200, 2000), "eval_states": 2000},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[
        Claim("real_gain", 0.0, "at_least", source="Fig. 1: performance improves with N (the 1/√N term)"),
        Claim("permutation_gain_eps0", 0.0, "at_least",
              source="Fig. 1: permuted samples gain over 20 real ones (the 1/√(NT) term)"),
        Claim("gap_growth", 0.0, "at_least", source="Fig. 1: the real-vs-permuted gap at N=2000 grows with ε (the ε term)"),
    ],
    plot=plot,
))
