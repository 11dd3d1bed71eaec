"""Least-squares value iteration (LSVI) with an elliptical bonus on a known feature table.

One backward pass (paper 000 Algorithms 2–3; paper 001 Eqs. 1–6), for h = H, ..., 1 with V_{H+1} ≡ 0:

    Λ_h = λI + Σ_τ φ_τ φ_τᵀ                                   ridge Gram matrix over the step-h samples
    w_h = Λ_h⁻¹ Σ_τ φ_τ [ c·r_τ + V_{h+1}(s'_τ) ]             ridge regression (c = 0 in reward-free exploration)
    u_h(s, a) = min{ β ‖φ(s, a)‖_{Λ_h⁻¹}, u_max }              elliptical bonus
    Q_h(s, a) = min{ ⟨w_h, φ(s, a)⟩ + κ u_h(s, a), Q_max,h }   optimistic, clipped Q (κ = 1 + 1/H in exploration)
    V_h(s) = max_a Q_h(s, a),  π_h(s) = argmax_a Q_h(s, a)   (lowest action index on ties)

The state space is finite, so Q_h is evaluated on the whole feature table ``(S, A, d)`` at once (one einsum over
states and actions), and the regression targets of all past samples are a gather ``V_{h+1}[s']`` followed by one
matrix–vector product. Λ_h⁻¹ comes from `RidgeStatistics`, updated incrementally.

States are integer rows of the feature table; a method whose features also depend on who generated a sample (paper
001 Algorithm 3, ``[φ(x, a); κ(n)]``) flattens (n, x) into one row index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agents.lsvi.ridge import RidgeStatistics, elliptical_norm

__all__ = ["EnvSampler", "EpisodeSampler", "LinearQ", "Optimism", "TransitionBuffer", "lsvi_backward", "make_sampler",
           "run_episode"]

Clip = Literal["horizon", "remaining"]


@dataclass(frozen=True)
class Optimism:
    """How a linear estimate becomes an optimistic Q-function.

    Args:
        beta: the bonus scale β ≥ 0.
        bonus_cap: ``u = min(β‖φ‖, bonus_cap)`` (paper 000 caps at H); ``None`` for no cap (paper 001).
        bonus_scale: κ in ``⟨w, φ⟩ + κ u`` (paper 000's exploration adds ``u + u/H``, i.e. κ = 1 + 1/H).
        clip: ``"horizon"`` clips Q at H (paper 000), ``"remaining"`` at H − h + 1 (paper 001, Eq. 1).
    """

    beta: float
    bonus_cap: float | None = None
    bonus_scale: float = 1.0
    clip: Clip = "remaining"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta!r}")
        if self.bonus_cap is not None and not self.bonus_cap >= 0:
            raise ValueError(f"bonus_cap must be >= 0 or None, got {self.bonus_cap!r}")
        if not (np.isfinite(self.bonus_scale) and self.bonus_scale >= 0):
            raise ValueError(f"bonus_scale must be a finite number >= 0, got {self.bonus_scale!r}")
        if self.clip not in ("horizon", "remaining"):
            raise ValueError(f"clip must be 'horizon' or 'remaining', got {self.clip!r}")

    def value_cap(self, h: int, horizon: int) -> float:
        """Q_max at 0-based step ``h``: H, or the H − h steps that remain (the paper's H − h + 1 for 1-based h)."""
        return float(horizon if self.clip == "horizon" else horizon - h)

    def q_values(self, features: np.ndarray, weights: np.ndarray, inverse: np.ndarray, h: int, horizon: int) -> np.ndarray:
        """``min{⟨w, φ⟩ + κ min{β‖φ‖_{Λ⁻¹}, u_max}, Q_max}`` for every feature vector (shape ``(..., d)``)."""
        bonus = self.beta * elliptical_norm(features, inverse)
        if self.bonus_cap is not None:
            bonus = np.minimum(bonus, self.bonus_cap)
        return np.minimum(features @ weights + self.bonus_scale * bonus, self.value_cap(h, horizon))


@dataclass(frozen=True)
class LinearQ:
    """An optimistic linear Q-function on a finite feature table, and its greedy policy.

    Attributes:
        weights: w_h, shape ``(H, d)``.
        inverses: Λ_h⁻¹, shape ``(H, d, d)``.
        optimism: how the bonus and clipping are applied.
        q: Q_h(s, a) on the feature table, shape ``(H, S, A)``.
    """

    weights: np.ndarray
    inverses: np.ndarray
    optimism: Optimism
    q: np.ndarray

    @classmethod
    def from_parameters(cls, features: np.ndarray, weights: np.ndarray, inverses: np.ndarray,
                        optimism: Optimism) -> LinearQ:
        """The Q-function of given (w_h, Λ_h⁻¹), e.g. statistics received from another agent (paper 000 Alg. 1, l. 9)."""
        horizon = weights.shape[0]
        q = np.stack([optimism.q_values(features, weights[h], inverses[h], h, horizon) for h in range(horizon)])
        return cls(weights, inverses, optimism, q)

    @property
    def values(self) -> np.ndarray:
        """V_h(s) = max_a Q_h(s, a), shape ``(H, S)``."""
        return self.q.max(axis=-1)

    def policy(self) -> np.ndarray:
        """The greedy deterministic policy argmax_a Q_h(s, a), shape ``(H, S)`` (lowest index on ties)."""
        return np.argmax(self.q, axis=-1)

    def value(self, state: int) -> float:
        """V_1(state), the optimistic value estimate at the start of an episode."""
        return float(self.q[0, state].max())


class TransitionBuffer:
    """The step-h samples (s, a, r, s') of one dataset, in growing arrays (amortized O(1) append)."""

    def __init__(self, capacity: int = 64) -> None:
        capacity = max(1, int(capacity))
        self.states = np.zeros(capacity, dtype=np.int64)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity)
        self.next_states = np.zeros(capacity, dtype=np.int64)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _grow(self, needed: int) -> None:
        capacity = self.states.size
        if needed <= capacity:
            return
        new = max(needed, 2 * capacity)
        for name in ("states", "actions", "rewards", "next_states"):
            old = getattr(self, name)
            grown = np.zeros(new, dtype=old.dtype)
            grown[: self.size] = old[: self.size]
            setattr(self, name, grown)

    def add(self, states: np.ndarray | int, actions: np.ndarray | int, rewards: np.ndarray | float,
            next_states: np.ndarray | int) -> None:
        """Append one sample or arrays of samples."""
        s, a, r, s2 = (np.atleast_1d(np.asarray(x)) for x in (states, actions, rewards, next_states))
        n = s.size
        self._grow(self.size + n)
        sl = slice(self.size, self.size + n)
        self.states[sl], self.actions[sl], self.rewards[sl], self.next_states[sl] = s, a, r, s2
        self.size += n

    def extend(self, other: TransitionBuffer) -> None:
        """Append every sample of ``other``."""
        view = other.view()
        self.add(*view)

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(states, actions, rewards, next_states) of the stored samples (views, not copies)."""
        n = self.size
        return self.states[:n], self.actions[:n], self.rewards[:n], self.next_states[:n]

    def copy(self) -> TransitionBuffer:
        """An independent copy."""
        other = TransitionBuffer(max(self.size, 1))
        other.extend(self)
        return other


def lsvi_backward(features: np.ndarray, buffers: Sequence[TransitionBuffer], stats: Sequence[RidgeStatistics],
                  optimism: Optimism, *, reward_weight: float = 1.0) -> LinearQ:
    """One LSVI backward pass over H steps (module docstring); ``stats[h]`` must hold the Gram sum of ``buffers[h]``.

    Args:
        features: φ, shape ``(S, A, d)``.
        buffers: the step-h datasets, one per step (length H).
        stats: the matching ridge statistics (Λ_h⁻¹), one per step.
        optimism: bonus scale β, caps and clipping.
        reward_weight: c in the targets ``c·r + V_{h+1}(s')`` (0 for reward-free exploration, paper 000 Alg. 2).
    """
    horizon = len(buffers)
    if len(stats) != horizon:
        raise ValueError(f"need one RidgeStatistics per step: {len(stats)} for {horizon} buffers")
    n_states, n_actions, dim = features.shape
    weights = np.zeros((horizon, dim))
    inverses = np.zeros((horizon, dim, dim))
    q = np.zeros((horizon, n_states, n_actions))
    v_next = np.zeros(n_states)                                                # V_{H+1} ≡ 0
    for h in range(horizon - 1, -1, -1):
        states, actions, rewards, next_states = buffers[h].view()
        phi = features[states, actions]                                        # φ_τ for every past sample, (n, d)
        targets = reward_weight * rewards + v_next[next_states]                # y_τ = c·r_τ + V_{h+1}(s'_τ)
        weights[h] = stats[h].solve(phi.T @ targets)                           # w_h = Λ_h⁻¹ Σ φ_τ y_τ
        inverses[h] = stats[h].inverse
        q[h] = optimism.q_values(features, weights[h], inverses[h], h, horizon)
        v_next = q[h].max(axis=1)                                              # V_h = max_a Q_h
    return LinearQ(weights, inverses, optimism, q)


class EpisodeSampler:
    """Draws episodes of a `LinearMDP`: the agent sees only rewards and next states.

    The next state is drawn by inverting the cumulative transition row with one uniform number (as the
    ``mtenvs/Linear*`` environments do), so a trajectory costs H uniforms of ``rng`` and no environment overhead.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.start_state = int(model.start_state)
        self.horizon = int(model.horizon)
        self._cdf = np.cumsum(model.transitions, axis=-1)
        self._cdf[..., -1] = 1.0                            # guard against rounding below 1
        self._rewards = np.asarray(model.rewards)

    def begin(self, rng: np.random.Generator) -> int:
        """Start an episode; returns the initial state (the fixed start state)."""
        del rng
        return self.start_state

    def step(self, h: int, state: int, action: int, rng: np.random.Generator) -> tuple[float, int]:
        """The reward r_h(s, a) and a next state s' ~ P_h(·|s, a)."""
        next_state = int(np.searchsorted(self._cdf[h, state, action], rng.random(), side="right"))
        return float(self._rewards[h, state, action]), next_state


class EnvSampler:
    """Episodes of a Gymnasium environment of the linear families (e.g. ``gym.make("mtenvs/LinearMDP-v0", task=...)``).

    The environment must run one fixed task; its observation is ``[s, h]``. Each episode resets it with a seed drawn
    from the agent's generator, so runs stay reproducible.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.model = env.unwrapped.model
        self.start_state = int(self.model.start_state)
        self.horizon = int(self.model.horizon)

    def begin(self, rng: np.random.Generator) -> int:
        """Reset the environment; returns the observed initial state."""
        observation, _ = self.env.reset(seed=int(rng.integers(2**31)))
        return int(observation[0])

    def step(self, h: int, state: int, action: int, rng: np.random.Generator) -> tuple[float, int]:
        """Step the environment with ``action``; returns its reward and the observed next state."""
        del h, state, rng                                   # the environment keeps its own state and generator
        observation, reward, _, _, _ = self.env.step(int(action))
        return float(reward), int(observation[0])


def make_sampler(task: Any) -> tuple[Any, EpisodeSampler | EnvSampler]:
    """``(model, sampler)`` for a `LinearMDP` or a Gymnasium env of a linear family.

    The model gives the known feature map φ to the agent and the exact values to the evaluation; episodes come from
    the sampler.
    """
    if hasattr(task, "unwrapped") and hasattr(task.unwrapped, "model"):
        return task.unwrapped.model, EnvSampler(task)
    if all(hasattr(task, name) for name in ("features", "transitions", "rewards", "start_state")):
        return task, EpisodeSampler(task)
    raise ValueError(f"a task must be a LinearMDP or a Gymnasium env of a linear family (env.unwrapped.model), "
                     f"got {type(task).__name__}")


def run_episode(sampler: EpisodeSampler | EnvSampler, policy: np.ndarray, rng: np.random.Generator,
                start_state: int | None = None) -> list[tuple[int, int, float, int]]:
    """One episode of the deterministic policy ``policy[h, s]``: the list of (s_h, a_h, r_h, s_{h+1})."""
    state = sampler.begin(rng) if start_state is None else int(start_state)
    trajectory = []
    for h in range(sampler.horizon):
        action = int(policy[h, state])
        reward, next_state = sampler.step(h, state, action, rng)
        trajectory.append((state, action, reward, next_state))
        state = next_state
    return trajectory
