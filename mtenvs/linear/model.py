"""Finite-horizon linear MDPs with a known feature map, solved exactly by dynamic programming.

A linear MDP (Jin et al. 2020; Definition 1 of papers 000 and 001) has a feature map φ(s, a) ∈ R^d such that for
every step h there are d measures μ_h and a vector θ_h with

    P_h(s' | s, a) = ⟨φ(s, a), μ_h(s')⟩,        r_h(s, a) = ⟨φ(s, a), θ_h⟩ ∈ [0, 1].

`LinearMDP` stores the finite tables (φ, P, r) and, when known, the factors (μ, θ). Every episode starts in
the fixed state ``start_state`` and lasts ``horizon`` steps. Values are computed by backward induction
(Bellman optimality, Eq. 1 of paper 000):

    Q*_h(s, a) = r_h(s, a) + Σ_{s'} P_h(s' | s, a) V*_{h+1}(s'),     V*_h(s) = max_a Q*_h(s, a),     V*_{H+1} = 0.

Steps are indexed from 0 in arrays: ``q[h]`` is the paper's Q_{h+1}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: Absolute tolerance of the consistency checks (rows summing to 1, P = φ·μ, r = φ·θ).
ATOL = 1e-9


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"LinearMDP: {message}")


@dataclass(frozen=True, eq=False)
class LinearMDP:
    """A finite-horizon, episodic linear MDP with a fixed start state.

    Args:
        features: φ, shape ``(S, A, d)``, known to agents.
        transitions: P_h(s'|s,a), shape ``(H, S, A, S)``; every row a probability distribution.
        rewards: r_h(s,a) in [0, 1], shape ``(H, S, A)``.
        start_state: the state every episode starts in.
        mu: optional μ_h, shape ``(H, d, S)``; when given, ``transitions == φ·μ`` is checked.
        theta: optional θ_h, shape ``(H, d)``; when given, ``rewards == φ·θ`` is checked.

    Raises:
        ValueError: for inconsistent shapes, rows that are not distributions, rewards outside [0, 1], a start
            state out of range, or factors that do not reproduce the tables.

    Arrays are made read-only; derived quantities (``optimal_q`` ...) are computed once and cached.
    """

    features: np.ndarray
    transitions: np.ndarray
    rewards: np.ndarray
    start_state: int
    mu: np.ndarray | None = field(default=None, repr=False)
    theta: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("features", "transitions", "rewards", "mu", "theta"):
            value = getattr(self, name)
            if value is None:
                continue
            array = np.array(value, dtype=np.float64)
            _check(bool(np.all(np.isfinite(array))), f"{name} must be finite")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        phi, p, r = self.features, self.transitions, self.rewards
        _check(phi.ndim == 3, f"features must have shape (S, A, d), got {phi.shape}")
        n_states, n_actions, _ = phi.shape
        _check(p.ndim == 4 and p.shape[1:] == (n_states, n_actions, n_states),
               f"transitions must have shape (H, {n_states}, {n_actions}, {n_states}), got {p.shape}")
        _check(p.shape[0] >= 1, "horizon must be at least 1")
        _check(r.shape == p.shape[:3], f"rewards must have shape {p.shape[:3]}, got {r.shape}")
        _check(bool(np.all(p >= -ATOL)) and np.allclose(p.sum(axis=-1), 1.0, atol=1e-7),
               "every transition row P_h(.|s,a) must be a probability distribution")
        _check(bool(np.all((r >= -ATOL) & (r <= 1.0 + ATOL))), "rewards must lie in [0, 1]")
        start = self.start_state
        _check(isinstance(start, (int, np.integer)) and not isinstance(start, bool) and 0 <= int(start) < n_states,
               f"start_state must be an integer in [0, {n_states - 1}], got {start!r}")
        object.__setattr__(self, "start_state", int(start))
        if self.mu is not None:
            _check(self.mu.shape == (self.horizon, self.dim, n_states),
                   f"mu must have shape {(self.horizon, self.dim, n_states)}, got {self.mu.shape}")
            _check(np.allclose(np.einsum("sad,hdt->hsat", phi, self.mu), p, atol=1e-7), "transitions != φ·μ")
        if self.theta is not None:
            _check(self.theta.shape == (self.horizon, self.dim),
                   f"theta must have shape {(self.horizon, self.dim)}, got {self.theta.shape}")
            _check(np.allclose(np.einsum("sad,hd->hsa", phi, self.theta), r, atol=1e-7), "rewards != φ·θ")

    # ----------------------------------------------------------------------------------------------- sizes
    @property
    def horizon(self) -> int:
        """H, the number of steps per episode."""
        return int(self.transitions.shape[0])

    @property
    def n_states(self) -> int:
        """|S|."""
        return int(self.features.shape[0])

    @property
    def n_actions(self) -> int:
        """|A|."""
        return int(self.features.shape[1])

    @property
    def dim(self) -> int:
        """d, the feature dimension."""
        return int(self.features.shape[2])

    # -------------------------------------------------------------------------------------------- optimum
    @cached_property
    def transition_cdf(self) -> np.ndarray:
        """Cumulative sums of P_h(·|s, a) over next states, shape ``(H, S, A, S)``, read-only: computed once per model
        and shared by every environment that samples from it."""
        cdf = np.cumsum(self.transitions, axis=-1)
        cdf.setflags(write=False)
        return cdf

    @cached_property
    def _optimal(self) -> tuple[np.ndarray, np.ndarray]:
        h_steps = self.horizon
        q = np.zeros((h_steps, self.n_states, self.n_actions))
        v = np.zeros((h_steps + 1, self.n_states))
        for h in range(h_steps - 1, -1, -1):
            q[h] = self.rewards[h] + self.transitions[h] @ v[h + 1]    # Q*_h = r_h + P_h V*_{h+1} (Eq. 1)
            v[h] = q[h].max(axis=1)                                    # V*_h = max_a Q*_h
        q.setflags(write=False)
        v.setflags(write=False)
        return q, v

    def optimal_q(self) -> np.ndarray:
        """Q*_h(s, a) for h = 0..H-1, shape ``(H, S, A)`` (read-only)."""
        return self._optimal[0]

    def optimal_v(self) -> np.ndarray:
        """V*_h(s) for h = 0..H, shape ``(H + 1, S)``, with ``V*_H = 0`` (read-only)."""
        return self._optimal[1]

    def optimal_value(self) -> float:
        """V*_1(start_state), the optimal expected return of an episode."""
        return float(self._optimal[1][0, self.start_state])

    def greedy_policy(self, q: np.ndarray) -> np.ndarray:
        """The deterministic policy argmax_a q[h, s, a] (lowest index on ties), shape ``(H, S)``."""
        q = np.asarray(q, dtype=np.float64)
        expected = (self.horizon, self.n_states, self.n_actions)
        if q.shape != expected:
            raise ValueError(f"q must have shape {expected}, got {q.shape}")
        return np.argmax(q, axis=-1)

    def optimal_policy(self) -> np.ndarray:
        """A deterministic optimal policy, shape ``(H, S)``."""
        return self.greedy_policy(self.optimal_q())

    # ------------------------------------------------------------------------------------ policy values
    def policy_probabilities(self, policy: np.ndarray) -> np.ndarray:
        """A policy as action probabilities, shape ``(H, S, A)``.

        Args:
            policy: ``(H, S)`` integer actions, or ``(H, S, A)`` probabilities (rows summing to 1).

        Raises:
            ValueError: for another shape, an action out of range, or rows that are not distributions.
        """
        array = np.asarray(policy)
        h_steps, n_states, n_actions = self.horizon, self.n_states, self.n_actions
        if array.shape == (h_steps, n_states):
            if not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"a deterministic policy must hold integer actions, got dtype {array.dtype}")
            if np.any((array < 0) | (array >= n_actions)):
                raise ValueError(f"policy actions must lie in [0, {n_actions - 1}]")
            return np.eye(n_actions)[array]
        if array.shape == (h_steps, n_states, n_actions):
            probs = array.astype(np.float64)
            if not (np.all(np.isfinite(probs)) and np.all(probs >= -ATOL) and np.allclose(probs.sum(-1), 1.0)):
                raise ValueError("policy probabilities must be finite, non-negative and sum to 1 over actions")
            return probs
        raise ValueError(f"policy must have shape {(h_steps, n_states)} (actions) or "
                         f"{(h_steps, n_states, n_actions)} (probabilities), got {array.shape}")

    def policy_q(self, policy: np.ndarray) -> np.ndarray:
        """Q^π_h(s, a), shape ``(H, S, A)``, by backward policy evaluation."""
        return self._evaluate(policy)[0]

    def policy_v(self, policy: np.ndarray) -> np.ndarray:
        """V^π_h(s), shape ``(H + 1, S)``, with ``V^π_H = 0``."""
        return self._evaluate(policy)[1]

    def policy_value(self, policy: np.ndarray) -> float:
        """V^π_1(start_state), the expected return of ``policy`` (see `policy_probabilities`)."""
        return float(self._evaluate(policy)[1][0, self.start_state])

    def _evaluate(self, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = self.policy_probabilities(policy)
        q = np.zeros((self.horizon, self.n_states, self.n_actions))
        v = np.zeros((self.horizon + 1, self.n_states))
        for h in range(self.horizon - 1, -1, -1):
            q[h] = self.rewards[h] + self.transitions[h] @ v[h + 1]    # Q^π_h = r_h + P_h V^π_{h+1}
            v[h] = np.einsum("sa,sa->s", probs[h], q[h])               # V^π_h(s) = Σ_a π_h(a|s) Q^π_h(s, a)
        return q, v

    # -------------------------------------------------------------------------------------------- helpers
    def state_features(self, state: int) -> np.ndarray:
        """φ(state, a) for every action, shape ``(A, d)`` (a new float64 array)."""
        return np.array(self.features[int(state)])

    def with_rewards(self, rewards: np.ndarray, theta: np.ndarray | None = None) -> LinearMDP:
        """The same dynamics and features with other rewards (e.g. a scalarization of vector rewards)."""
        return LinearMDP(self.features, self.transitions, rewards, self.start_state, mu=self.mu, theta=theta)
