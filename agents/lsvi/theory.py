"""The theory's formulas of papers 000 (DistMT-LSVI, Theorem 1) and 001 (Coop-LSVI, Lemmas 1 and 3, Theorems 1–4).

The absolute constants (c_β, c_K, ...) are never given numerically by the papers; they are arguments defaulting to 1.
Logarithms are natural and episode/round counts are rounded up (the papers leave both open).
"""

from __future__ import annotations

import math

__all__ = [
    "coop_beta",
    "coop_rounds_bound",
    "distmt_beta",
    "distmt_episodes",
    "distmt_per_agent_bound",
    "distmt_rounds",
    "heterogeneity_coefficient",
    "homogeneous_regret_bound",
    "mmdp_rounds_bound",
]


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


# --------------------------------------------------------------------------------------------- paper 000
def distmt_rounds(n_tasks: int, n_agents: int, delta: float) -> int:
    """T = 6 M ln(M/δ) / N rounds (Alg. 1), rounded up and at least 1: every task is drawn w.p. ≥ 1 − δ (Lemma 4)."""
    _positive(n_tasks=n_tasks, n_agents=n_agents, delta=delta)
    return max(1, math.ceil(6 * n_tasks * math.log(n_tasks / delta) / n_agents))


def distmt_beta(dim: int, horizon: int, n_tasks: int, delta: float, accuracy: float, constant: float = 1.0) -> float:
    """β = c_β H d sqrt(log(d H M δ⁻¹ a⁻¹)): β_1 with a = c_Sep, β_2 with a = ε (Alg. 1)."""
    _positive(dim=dim, horizon=horizon, n_tasks=n_tasks, delta=delta, accuracy=accuracy, constant=constant)
    return constant * horizon * dim * math.sqrt(math.log(dim * horizon * n_tasks / (delta * accuracy)))


def distmt_episodes(dim: int, horizon: int, n_tasks: int, delta: float, accuracy: float, constant: float = 1.0,
                    log_accuracy: float | None = None) -> int:
    """K = c_K d³ H⁶ log(d H M δ⁻¹ a⁻¹) / a²: K_1 with a = c_Sep, K_2 with a = ε (Alg. 1, Theorem 1).

    ``log_accuracy`` is the accuracy inside the log (default ``accuracy``); Theorem 1 writes c_Sep there for K_2 as
    well, Lemma 5 writes ε.
    """
    inner = accuracy if log_accuracy is None else log_accuracy
    _positive(dim=dim, horizon=horizon, n_tasks=n_tasks, delta=delta, accuracy=accuracy, constant=constant,
              log_accuracy=inner)
    return math.ceil(constant * dim**3 * horizon**6 * math.log(dim * horizon * n_tasks / (delta * inner)) / accuracy**2)


def distmt_per_agent_bound(rounds: int, episodes_phase1: int, episodes_phase2: int) -> int:
    """Theorem 1: each agent runs at most T (K_1 + K_2) episodes."""
    return int(rounds) * (int(episodes_phase1) + int(episodes_phase2))


# --------------------------------------------------------------------------------------------- paper 001
def coop_beta(dim: int, horizon: int, n_agents: int, episodes: int, delta: float = 0.01, constant: float = 1.0,
              xi: float = 0.0, context_dim: int = 0) -> float:
    """β = c_β (d+k) H (sqrt(log(2 (d+k) M H T / δ)) + ξ sqrt((d+k) M T)) (paper 001, proofs of Lemmas 5, 12, 16).

    ``xi`` > 0 is the small-heterogeneity bound (Theorem 2); ``context_dim`` = k for Algorithm 3 (Theorem 3).
    """
    _positive(dim=dim, horizon=horizon, n_agents=n_agents, episodes=episodes, delta=delta, constant=constant)
    if xi < 0 or context_dim < 0:
        raise ValueError(f"xi and context_dim must be >= 0, got xi={xi!r}, context_dim={context_dim!r}")
    width = dim + context_dim
    log_term = math.sqrt(math.log(2 * width * n_agents * horizon * episodes / delta))
    return constant * width * horizon * (log_term + xi * math.sqrt(width * n_agents * episodes))


def coop_rounds_bound(dim: int, horizon: int, n_agents: int, episodes: int, threshold: float) -> float:
    """Lemma 1 (Algorithm 1): episodes with communication n ≤ 2H sqrt(d (T/S) log(MT)) + 4H."""
    _positive(dim=dim, horizon=horizon, n_agents=n_agents, episodes=episodes, threshold=threshold)
    return 2 * horizon * math.sqrt(dim * episodes / threshold * math.log(n_agents * episodes)) + 4 * horizon


def mmdp_rounds_bound(dim: int, horizon: int, n_agents: int, episodes: int, threshold: float) -> float:
    """Lemma 3 (Algorithm 2): n ≤ d H log_S(1 + MT/d) + H for S > 1, and n = T for S ≤ 1."""
    _positive(dim=dim, horizon=horizon, n_agents=n_agents, episodes=episodes, threshold=threshold)
    if threshold <= 1:
        return float(episodes)
    return dim * horizon * math.log(1 + n_agents * episodes / dim) / math.log(threshold) + horizon


def homogeneous_regret_bound(dim: int, horizon: int, n_agents: int, episodes: int, threshold: float,
                             delta: float = 0.01, constant: float = 1.0) -> float:
    """Eq. 64 (Theorem 1 of paper 001): the explicit group-regret bound of Algorithm 1 on homogeneous agents."""
    _positive(dim=dim, horizon=horizon, n_agents=n_agents, episodes=episodes, delta=delta, constant=constant)
    d, h, m, t = dim, horizon, n_agents, episodes
    azuma = math.sqrt(2 * h**3 * m * t * math.log(2 / delta))
    width = 2 * math.log(d * m * t) * m * math.sqrt(threshold) + 2 * math.sqrt(2 * d * m * t * math.log(m * t))
    return azuma + 2 * constant * d * h**2 * math.sqrt(2 * math.log(d * m * t * h / delta)) * width


def heterogeneity_coefficient(contexts: object) -> int:
    """χ = rank of the Gram matrix [κ(m)ᵀκ(m')] of the agent contexts (Definition 3 as Lemma 14 uses it; the
    definition's ν_h(m) is a slip for κ(m))."""
    import numpy as np

    kappa = np.asarray(contexts, dtype=np.float64)
    if kappa.ndim != 2:
        raise ValueError(f"contexts must have shape (M, k), got {kappa.shape}")
    return int(np.linalg.matrix_rank(kappa @ kappa.T))
