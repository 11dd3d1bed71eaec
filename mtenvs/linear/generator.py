"""Seeded latent-simplex construction of finite linear MDPs.

The MDPs are linear in the sense of Definition 1 of papers 000 and 001; neither paper gives an instance, so the
construction is ours.

Features lie on the probability simplex, φ(s, a) ∈ Δ^{d-1} (so ‖φ‖₂ ≤ 1), every μ_{h,j} is a distribution over the
states and θ_h ∈ [0, 1]^d. Then P_h(·|s, a) = Σ_j φ_j(s, a) μ_{h,j}(·) is a distribution and r_h = ⟨φ, θ_h⟩ ∈ [0, 1]:
the MDP is linear in φ by construction, with step-dependent dynamics and rewards.
"""

from __future__ import annotations

import numpy as np

from mtenvs.core.seeding import stable_seed
from mtenvs.linear.model import LinearMDP


def rng_for(*parts: object) -> np.random.Generator:
    """A generator seeded from ``parts`` (stable across processes), one independent stream per purpose."""
    return np.random.default_rng(stable_seed("linear-mdp", *parts))


def simplex_features(rng: np.random.Generator, n_states: int, n_actions: int, dim: int,
                     concentration: float = 0.5) -> np.ndarray:
    """φ(s, a) ~ Dirichlet(concentration · 1_d) for every (s, a), shape ``(S, A, d)``."""
    return rng.dirichlet(np.full(dim, concentration), size=(n_states, n_actions))


def simplex_measures(rng: np.random.Generator, horizon: int, dim: int, n_states: int) -> np.ndarray:
    """μ_{h,j} ~ Dirichlet(1_S) for every step h and latent coordinate j, shape ``(H, d, S)``."""
    return rng.dirichlet(np.ones(n_states), size=(horizon, dim))


def linear_mdp(features: np.ndarray, mu: np.ndarray, theta: np.ndarray, start_state: int = 0) -> LinearMDP:
    """The linear MDP with P_h = φ·μ_h and r_h = φ·θ_h (the factors are kept and checked)."""
    transitions = np.einsum("sad,hdt->hsat", features, mu)
    rewards = np.clip(np.einsum("sad,hd->hsa", features, theta), 0.0, 1.0)  # clip only removes rounding error
    return LinearMDP(features, transitions, rewards, start_state, mu=mu, theta=theta)
