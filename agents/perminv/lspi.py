"""Least-squares policy iteration (Lagoudakis & Parr 2003) for the synthetic allocation task of paper 004 (Sec. 6.1).

The value is linear in features of the state-action pair (our choice: paper 004, Sec. 6.1, gives none):

    φ(x, a) = [x_1 a_1, ..., x_m a_m,  −a_1 log a_1, ..., −a_m log a_m,  a_1, ..., a_m]        (d = 3m)

The true reward ``Σ x_i a_i − β_i a_i log a_i`` is linear in these, so with enough real samples the per-entity
``β_i`` are learnable; the constant feature is left out because ``Σ a_i = 1`` makes it collinear with the last block.

LSTD-Q for a policy π, from samples ``(x_n, a_n, r_n, x'_n)`` (ridge ``λ`` keeps the solve defined for few samples)::

    A = Σ_n φ(x_n, a_n) [φ(x_n, a_n) − γ φ(x'_n, π(x'_n))]^T + λ I,   b = Σ_n φ(x_n, a_n) r_n,   θ = A^{-1} b

and LSPI alternates it with the greedy step ``π(x) = argmax_a φ(x, a)^T θ`` until θ stops changing. With i.i.d.
states (the synthetic task) ``γ = 0`` and one LSTD-Q solve is the whole algorithm.

Greedy step: ``φ(x, a)^T θ = Σ_i (x_i θ^x_i + θ^a_i) a_i − θ^h_i a_i log a_i`` has the form of the task's own reward
with "states" ``x_i θ^x_i + θ^a_i`` and "entropy weights" ``θ^h_i``. When every ``θ^h_i > 0`` it is strictly concave and
its exact maximiser on the simplex is the family's closed form (`mtenvs.entities.allocation.optimal_allocation`);
otherwise the maximum is taken over a finite action set (the theory's finite ``A``, `simplex_action_set`)
plus a clipped closed-form candidate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import xlogy

from agents.common.method import Method
from mtenvs.entities.allocation import optimal_allocation

#: Dirichlet concentrations of the finite action set (sparse to dense allocations).
ACTION_SET_CONCENTRATIONS = (0.1, 0.3, 1.0, 3.0)
#: Entropy coefficient floor of the closed-form candidate in non-concave greedy steps.
MIN_ENTROPY_COEF = 1e-3


def allocation_features(states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """``φ(x, a)`` of paired rows: states and actions of shape ``(n, m)`` → features ``(n, 3m)``."""
    x = np.asarray(states, dtype=np.float64)
    a = np.asarray(actions, dtype=np.float64)
    if x.shape != a.shape or x.ndim != 2:
        raise ValueError(f"allocation_features: states and actions must both have shape (n, m), got {x.shape} and {a.shape}")
    return np.concatenate([x * a, -xlogy(a, a), a], axis=1)


def simplex_action_set(n_entities: int, size: int = 2000, seed: int = 0) -> np.ndarray:
    """A finite action set on the simplex: the uniform point, the vertices, and Dirichlet draws (our choice; Sec. 6.1 names
    none)."""
    if size < n_entities + 1:
        raise ValueError(f"simplex_action_set: size must be at least n_entities + 1 = {n_entities + 1}, got {size}")
    rng = np.random.default_rng(seed)
    fixed = np.vstack([np.full((1, n_entities), 1.0 / n_entities), np.eye(n_entities)])
    draws = size - len(fixed)
    per = np.array_split(np.arange(draws), len(ACTION_SET_CONCENTRATIONS))
    random = [rng.dirichlet(np.full(n_entities, c), size=len(p)) for c, p in zip(ACTION_SET_CONCENTRATIONS, per, strict=True)]
    return np.vstack([fixed, *random])


class AllocationLSPI(Method):
    """LSPI with the allocation features (module docstring).

    The method contract (`agents.common.method.Method`) with the unit "iteration" (one LSTD-Q solve and greedy
    step); the batch of samples is the method's data: `fit(states, actions, rewards, next_states)` sets it and runs
    policy iteration to convergence, or pass `samples=(states, actions, rewards[, next_states])` and call
    `learn(total)`. Learning stops early once θ has converged (or after one solve when `gamma = 0`).

    Args:
        n_entities: ``m``.
        gamma: discount (0 for the i.i.d.-state synthetic task).
        ridge: ``λ`` added to the diagonal of ``A``.
        action_set: the finite action set for non-concave greedy steps (default `simplex_action_set`).
        max_iterations: policy-iteration steps (only used when ``gamma > 0``).
        tol: stop when ``max |θ_k − θ_{k−1}| < tol``.
        samples: the batch ``(states, actions, rewards)`` or ``(states, actions, rewards, next_states)`` to learn from.
    """

    unit: ClassVar[str] = "iteration"

    def __init__(self, n_entities: int, gamma: float = 0.0, ridge: float = 1e-3, action_set: np.ndarray | None = None,
                 max_iterations: int = 20, tol: float = 1e-8, samples: tuple[Any, ...] | None = None) -> None:
        if isinstance(n_entities, bool) or not isinstance(n_entities, int) or n_entities < 2:
            raise ValueError(f"AllocationLSPI: n_entities must be an integer >= 2, got {n_entities!r}")
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"AllocationLSPI: gamma must be in [0, 1), got {gamma!r}")
        if not ridge >= 0.0:
            raise ValueError(f"AllocationLSPI: ridge must be >= 0, got {ridge!r}")
        self.n_entities = n_entities
        self.gamma = float(gamma)
        self.ridge = float(ridge)
        self.action_set = simplex_action_set(n_entities) if action_set is None else np.asarray(action_set, dtype=np.float64)
        if self.action_set.ndim != 2 or self.action_set.shape[1] != n_entities:
            raise ValueError(f"AllocationLSPI: action_set must have shape (K, {n_entities}), got {self.action_set.shape}")
        self.max_iterations = max_iterations
        self.tol = tol
        #: The weights θ (``None`` before `fit`).
        self.theta: np.ndarray | None = None
        self.iterations = 0
        self.converged = False
        self._batch: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None
        if samples is not None:
            self.set_samples(*samples)

    # ------------------------------------------------------------------------------------------- value
    def _blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.theta is None:
            raise ValueError("AllocationLSPI: call fit() first")
        m = self.n_entities
        return self.theta[:m], self.theta[m:2 * m], self.theta[2 * m:]

    def q_values(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``φ(x_n, a_n)^T θ`` for paired rows."""
        return allocation_features(states, actions) @ np.concatenate(self._blocks())

    def greedy(self, states: np.ndarray) -> np.ndarray:
        """``argmax_a φ(x, a)^T θ`` for each row of ``states``: exact when concave, else the best of the finite set.

        In the non-concave case the finite set is joined, per state, by the closed-form maximiser with the entropy
        coefficients clipped to ``MIN_ENTROPY_COEF`` (a good candidate when only a few coefficients are ≤ 0).
        """
        x = np.asarray(states, dtype=np.float64)
        theta_x, theta_h, theta_a = self._blocks()
        effective = x * theta_x + theta_a
        if np.all(theta_h > 0):
            return optimal_allocation(effective, theta_h)
        actions = self.action_set
        q = effective @ actions.T + (-xlogy(actions, actions) @ theta_h)[None, :]  # (n, K)
        best = actions[np.argmax(q, axis=1)]
        candidate = optimal_allocation(effective, np.maximum(theta_h, MIN_ENTROPY_COEF))
        q_candidate = (effective * candidate).sum(axis=1) - xlogy(candidate, candidate) @ theta_h
        return np.where((q_candidate > q.max(axis=1))[:, None], candidate, best)

    # --------------------------------------------------------------------------------------------- fit
    def lstdq(self, features: np.ndarray, next_features: np.ndarray | None, rewards: np.ndarray) -> np.ndarray:
        """One LSTD-Q solve: ``θ = (Φ^T (Φ − γ Φ') + λ I)^{-1} Φ^T r``."""
        target = features if next_features is None or self.gamma == 0.0 else features - self.gamma * next_features
        a = features.T @ target + self.ridge * np.eye(features.shape[1])
        return np.linalg.solve(a, features.T @ rewards)

    def set_samples(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                    next_states: np.ndarray | None = None) -> None:
        """Learn from this batch (``next_states`` needed only when ``gamma > 0``); policy iteration starts over."""
        states = np.asarray(states, dtype=np.float64)
        rewards = np.asarray(rewards, dtype=np.float64)
        if rewards.shape != (len(states),):
            raise ValueError(f"AllocationLSPI: rewards must have shape ({len(states)},), got {rewards.shape}")
        features = allocation_features(states, actions)
        if self.gamma > 0.0 and next_states is None:
            raise ValueError("AllocationLSPI: next_states are required when gamma > 0")
        following = None if self.gamma == 0.0 else np.asarray(next_states, dtype=np.float64)
        self._batch = (features, following, rewards)
        # π_0 is greedy w.r.t. V_{-1} = 0 (any fixed action)
        self.theta = None if self.gamma == 0.0 else np.zeros(features.shape[1])
        self.iterations, self.converged = 0, False

    def _learn_unit(self) -> dict[str, float]:
        """One policy-iteration step: LSTD-Q for the greedy policy of the current θ."""
        if self._batch is None:
            raise ValueError("AllocationLSPI: samples is not set: pass samples= or call fit()")
        features, next_states, rewards = self._batch
        if next_states is None:
            self.theta, self.iterations, self.converged = self.lstdq(features, None, rewards), 1, True
            return {"iteration": 1}
        next_features = allocation_features(next_states, self.greedy(next_states))
        theta = self.lstdq(features, next_features, rewards)
        change = float(np.max(np.abs(theta - self.theta)))
        self.theta, self.iterations = theta, self.iterations + 1
        self.converged = change < self.tol
        return {"iteration": self.iterations, "change": change}

    def _done(self) -> bool:
        return self.converged or (self._batch is not None and self.iterations >= self.max_iterations)

    def fit(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_states: np.ndarray | None = None,
            ) -> AllocationLSPI:
        """Run LSPI on a batch of samples (``next_states`` needed only when ``gamma > 0``) until θ converges."""
        self.set_samples(states, actions, rewards, next_states)
        return self.learn(max(int(self.max_iterations), 1))
