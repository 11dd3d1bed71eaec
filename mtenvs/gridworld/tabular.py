"""Finite discounted MDPs with a known model: exact policy values, discounted visitation, and DP.

`TabularMDP` holds ``P[s, a, s']``, the expected reward ``R[s, a]`` (a reward ``r[s, a, s']`` is averaged over
``P``), the start distribution ``rho``, the discount ``gamma`` and the terminal states (absorbing, zero reward). It
gives the closed forms of "A Decentralized Policy Gradient Approach to Multi-Task Reinforcement Learning" (Zeng et
al., UAI 2021; App. A, Eqs. 17-20, with the paper's column-stochastic ``P_pi`` (entry ``(j, k) = P(j | k)``)
written row-stochastic here, and the ``(1 - gamma)`` factor that Eq. 18 omits but its displayed matrices carry):

* ``V^pi = (I - gamma P_pi)^{-1} r_pi`` and ``Q^pi(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V^pi(s')``;
* the discounted visitation ``d_rho^pi = (1 - gamma) (I - gamma P_pi^T)^{-1} rho``;
* value iteration (infinite horizon) and backward induction (finite horizon) for the optimal values.

These are facts of the environment; a method's objective built on them (DCPG's entropy-regularized objective and its
policy gradient, Eqs. 6-8) belongs to the method.

Everything is dense NumPy/SciPy: the models of this package have at most a few hundred states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg


def _probability_rows(array: np.ndarray, name: str, axis: int = -1, atol: float = 1e-9) -> None:
    if not np.all(np.isfinite(array)) or array.min() < -atol:
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    sums = array.sum(axis=axis)
    if np.abs(sums - 1.0).max() > atol:
        raise ValueError(f"{name} must sum to 1 over its last axis; got sums in [{sums.min():.6g}, {sums.max():.6g}]")


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP with a known model.

    Args:
        transitions: ``P[s, a, s']``, shape ``(S, A, S)``, rows summing to 1.
        rewards: expected reward ``R[s, a]`` of shape ``(S, A)``, or ``r[s, a, s']`` of shape ``(S, A, S)`` (then
            ``R[s, a] = sum_s' P[s, a, s'] r[s, a, s']``).
        start: the start distribution ``rho`` over states, shape ``(S,)``.
        gamma: discount factor in ``(0, 1]``; ``1`` is allowed only for finite-horizon computations.
        terminal: boolean mask of terminal states (they must be absorbing with zero reward); default none.
        goal: boolean mask of the terminal states that count as success (for `reach_probability`).
    """

    transitions: np.ndarray
    rewards: np.ndarray
    start: np.ndarray
    gamma: float
    terminal: np.ndarray | None = None
    goal: np.ndarray | None = None

    def __post_init__(self) -> None:
        p = np.array(self.transitions, dtype=np.float64)
        if p.ndim != 3 or p.shape[0] != p.shape[2] or p.shape[1] < 1:
            raise ValueError(f"transitions must have shape (S, A, S), got {p.shape}")
        _probability_rows(p, "transitions P[s, a, :]")
        n_states, n_actions = p.shape[:2]
        r = np.array(self.rewards, dtype=np.float64)
        if r.shape == p.shape:
            r = (p * r).sum(axis=2)
        if r.shape != (n_states, n_actions) or not np.all(np.isfinite(r)):
            raise ValueError(f"rewards must be finite with shape (S, A) = {(n_states, n_actions)} or (S, A, S)")
        rho = np.array(self.start, dtype=np.float64)
        if rho.shape != (n_states,):
            raise ValueError(f"start must have shape ({n_states},), got {rho.shape}")
        _probability_rows(rho, "start")
        if not (isinstance(self.gamma, (int, float, np.floating)) and 0.0 < float(self.gamma) <= 1.0):
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")
        terminal = np.zeros(n_states, dtype=bool) if self.terminal is None else np.array(self.terminal, dtype=bool)
        goal = np.zeros(n_states, dtype=bool) if self.goal is None else np.array(self.goal, dtype=bool)
        if terminal.shape != (n_states,) or goal.shape != (n_states,):
            raise ValueError(f"terminal and goal must be boolean masks of shape ({n_states},)")
        ends = np.flatnonzero(terminal)
        if ends.size and (not np.allclose(p[ends, :, ends], 1.0) or np.any(r[ends] != 0.0)):
            raise ValueError("terminal states must be absorbing (P[s, a, s] = 1) with zero reward")
        for name, value in (("transitions", p), ("rewards", r), ("start", rho), ("terminal", terminal), ("goal", goal)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "gamma", float(self.gamma))

    # ------------------------------------------------------------------------------------------------ sizes
    @property
    def num_states(self) -> int:
        """``|S|``."""
        return int(self.transitions.shape[0])

    @property
    def num_actions(self) -> int:
        """``|A|``."""
        return int(self.transitions.shape[1])

    def with_start(self, start: Any) -> TabularMDP:
        """The same MDP with another start distribution (e.g. a training distribution ``mu``)."""
        return TabularMDP(self.transitions, self.rewards, start, self.gamma, self.terminal, self.goal)

    def with_gamma(self, gamma: float) -> TabularMDP:
        """The same MDP with another discount factor."""
        return TabularMDP(self.transitions, self.rewards, self.start, gamma, self.terminal, self.goal)

    # ------------------------------------------------------------------------------------- policy evaluation
    def _check_policy(self, policy: Any) -> np.ndarray:
        pi = np.asarray(policy, dtype=np.float64)
        if pi.shape != (self.num_states, self.num_actions):
            raise ValueError(f"policy must have shape (S, A) = {(self.num_states, self.num_actions)}, got {pi.shape}")
        _probability_rows(pi, "policy pi[s, :]")
        return pi

    def _require_discount(self) -> None:
        if self.gamma >= 1.0:
            raise ValueError("an infinite-horizon quantity needs gamma < 1; pass a horizon or use with_gamma()")

    def state_transitions(self, policy: Any) -> np.ndarray:
        """``P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a)`` (row-stochastic; the paper's Eq. 17 matrix transposed)."""
        pi = self._check_policy(policy)
        return np.einsum("sa,sat->st", pi, self.transitions)

    def _factor(self, pi: np.ndarray) -> tuple[Any, np.ndarray]:
        """The LU factors of ``I - gamma P_pi`` and ``r_pi``: one factorization serves ``V^pi`` and ``d^pi``."""
        self._require_discount()
        p_pi = np.einsum("sa,sat->st", pi, self.transitions)
        lu = scipy.linalg.lu_factor(np.eye(self.num_states) - self.gamma * p_pi, check_finite=False)
        return lu, (pi * self.rewards).sum(axis=1)

    def values(self, policy: Any, horizon: int | None = None) -> np.ndarray:
        """``V^pi(s)`` for every state: the linear solve ``(I - gamma P_pi) V = r_pi`` (Eq. 18), or, with a
        ``horizon``, the expected discounted reward of the first ``horizon`` steps (truncated episodes)."""
        pi = self._check_policy(policy)
        if horizon is not None:
            p_pi = np.einsum("sa,sat->st", pi, self.transitions)
            r_pi = (pi * self.rewards).sum(axis=1)
            v = np.zeros(self.num_states)
            for _ in range(_check_horizon(horizon)):
                v = r_pi + self.gamma * p_pi @ v
            return v
        lu, r_pi = self._factor(pi)
        return scipy.linalg.lu_solve(lu, r_pi, check_finite=False)

    def value(self, policy: Any, start: Any = None, horizon: int | None = None) -> float:
        """``V^pi(rho) = sum_s rho(s) V^pi(s)`` (``start`` overrides ``rho``)."""
        rho = self.start if start is None else np.asarray(start, dtype=np.float64)
        return float(rho @ self.values(policy, horizon))

    def q_values(self, policy: Any) -> np.ndarray:
        """``Q^pi(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V^pi(s')`` (Eq. 20)."""
        return self.rewards + self.gamma * self.transitions @ self.values(policy)

    def advantages(self, policy: Any) -> np.ndarray:
        """``A^pi(s, a) = Q^pi(s, a) - V^pi(s)`` (Eq. 2)."""
        v = self.values(policy)
        return self.rewards + self.gamma * self.transitions @ v - v[:, None]

    def visitation(self, policy: Any, start: Any = None) -> np.ndarray:
        """The discounted state visitation ``d_rho^pi = (1 - gamma) (I - gamma P_pi^T)^{-1} rho`` (sums to 1)."""
        rho = self.start if start is None else np.asarray(start, dtype=np.float64)
        lu, _ = self._factor(self._check_policy(policy))
        return (1.0 - self.gamma) * scipy.linalg.lu_solve(lu, rho, trans=1, check_finite=False)

    def values_and_visitation(self, policy: Any, start: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``(V^pi, d_rho^pi)`` from one factorization of ``I - gamma P_pi`` (what an exact policy gradient needs)."""
        rho = self.start if start is None else np.asarray(start, dtype=np.float64)
        lu, r_pi = self._factor(self._check_policy(policy))
        v = scipy.linalg.lu_solve(lu, r_pi, check_finite=False)                                   # Eq. 18
        d = (1.0 - self.gamma) * scipy.linalg.lu_solve(lu, rho, trans=1, check_finite=False)      # d_rho^pi
        return v, d

    # ---------------------------------------------------------------------------------------- optimality
    def optimal_values(self, horizon: int | None = None, tol: float = 1e-12, max_iterations: int = 100_000) -> np.ndarray:
        """``V*(s)``: value iteration to ``tol`` (infinite horizon, ``gamma < 1``) or ``horizon`` steps of backward
        induction (finite horizon, any ``gamma``)."""
        v = np.zeros(self.num_states)
        if horizon is not None:
            for _ in range(_check_horizon(horizon)):
                v = (self.rewards + self.gamma * self.transitions @ v).max(axis=1)
            return v
        self._require_discount()
        for _ in range(max_iterations):
            new = (self.rewards + self.gamma * self.transitions @ v).max(axis=1)
            if np.max(np.abs(new - v)) <= tol * (1.0 - self.gamma):
                return new
            v = new
        raise RuntimeError(f"value iteration did not reach tol={tol} in {max_iterations} iterations")

    def optimal_value(self, horizon: int | None = None) -> float:
        """``V*(rho)``."""
        return float(self.start @ self.optimal_values(horizon))

    def greedy_policy(self, values: Any) -> np.ndarray:
        """The deterministic policy greedy with respect to ``values`` (ties to the lowest action), as one-hot rows."""
        q = self.rewards + self.gamma * self.transitions @ np.asarray(values, dtype=np.float64)
        return np.eye(self.num_actions)[q.argmax(axis=1)]

    # ------------------------------------------------------------------------------------------- outcomes
    def reach_probability(self, policy: Any, horizon: int, targets: Any = None) -> float:
        """Probability that an episode from ``rho`` is in ``targets`` (default: the goal states) after ``horizon``
        steps; for absorbing targets this is the probability of reaching them within ``horizon`` steps."""
        mask = self.goal if targets is None else np.asarray(targets, dtype=bool)
        p_pi = self.state_transitions(policy)
        distribution = self.start.copy()
        for _ in range(_check_horizon(horizon)):
            distribution = distribution @ p_pi
        return float(distribution[mask].sum())

    def sample_episode(self, policy: Any, rng: np.random.Generator, max_steps: int,
                       start_state: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, actions and rewards of one episode sampled from the model, until a terminal state or ``max_steps``."""
        pi = self._check_policy(policy)
        state = int(rng.choice(self.num_states, p=self.start)) if start_state is None else int(start_state)
        states, actions, rewards = [], [], []
        for _ in range(_check_horizon(max_steps)):
            if self.terminal[state]:
                break
            action = int(rng.choice(self.num_actions, p=pi[state]))
            states.append(state)
            actions.append(action)
            rewards.append(self.rewards[state, action])
            state = int(rng.choice(self.num_states, p=self.transitions[state, action]))
        return np.array(states, dtype=np.int64), np.array(actions, dtype=np.int64), np.array(rewards)


def _check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return int(horizon)
