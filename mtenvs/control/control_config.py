"""Settings shared by the paper-002 control families: time step, reward, cost weights, action scaling, start box.

Unlike task parameters these are fixed when an environment is built (``gym.make(id, dt=0.02)``). The defaults
are the setting of "Scalable Lifelong Reinforcement Learning" (paper 002), completed by our choices where it is silent:
Δt = 0.05 s, goal state 0, the quadratic cost ``x' Q x + u' R u`` with ``Q = I`` and ``R = I`` (in physical
units), and a uniform start box around the goal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import numeric_array

Reward = Literal["quadratic", "norm"]
REWARDS = ("quadratic", "norm")


def _vector(value: Any, size: int, name: str, owner: str, positive: bool = False) -> tuple[float, ...]:
    """``value`` (a number or ``size`` numbers) as a tuple of ``size`` finite non-negative (or positive) floats."""
    try:
        array = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,))
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a number or {size} numbers, got {value!r}") from None
    ok = np.isfinite(array).all() and (array > 0).all() if positive else np.isfinite(array).all() and (array >= 0).all()
    if not ok:
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{owner}: {name} must be finite and {kind}, got {value!r}")
    return tuple(float(v) for v in array)


@dataclass(frozen=True)
class ControlConfig:
    """Validated environment settings (build them with `build`).

    Attributes:
        dt: seconds per environment step.
        reward: ``"quadratic"``: ``-(x' Q x + u' R u)``; ``"norm"``: the paper's literal ``-||x||_2 - ||u||_2``.
            Both are evaluated at the state in which the input is applied (the paper's ``R(x_m, u_m)``).
        state_cost: the diagonal of ``Q``.
        input_cost: the diagonal of ``R`` (on the physical input, e.g. newtons).
        action_scale: physical input per unit of action, per input channel (actions live in ``[-1, 1]``).
        clip_actions: clip actions to ``[-1, 1]`` before scaling (otherwise any finite action is applied).
        initial_state_bounds: half-widths of the uniform start box around the goal state 0.
    """

    dt: float
    reward: Reward
    state_cost: tuple[float, ...]
    input_cost: tuple[float, ...]
    action_scale: tuple[float, ...]
    clip_actions: bool
    initial_state_bounds: tuple[float, ...]

    @classmethod
    def build(cls, owner: str, state_dim: int, input_dim: int, *, dt: Any = 0.05, reward: Any = "quadratic",
              state_cost: Any = 1.0, input_cost: Any = 1.0, action_scale: Any = 1.0, clip_actions: Any = True,
              initial_state_bounds: Any = 1.0) -> ControlConfig:
        """Validate the settings of an environment with ``state_dim`` states and ``input_dim`` inputs.

        Raises:
            ValueError: naming the setting and the allowed values.
        """
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"{owner}: dt must be a positive number of seconds, got {dt!r}")
        if reward not in REWARDS:
            raise ValueError(f"{owner}: reward must be one of {list(REWARDS)}, got {reward!r}")
        if not isinstance(clip_actions, (bool, np.bool_)):
            raise ValueError(f"{owner}: clip_actions must be True or False, got {clip_actions!r}")
        return cls(float(dt), reward, _vector(state_cost, state_dim, "state_cost", owner),
                   _vector(input_cost, input_dim, "input_cost", owner, positive=True),
                   _vector(action_scale, input_dim, "action_scale", owner, positive=True), bool(clip_actions),
                   _vector(initial_state_bounds, state_dim, "initial_state_bounds", owner))

    @property
    def state_dim(self) -> int:
        """Number of state variables."""
        return len(self.state_cost)

    @property
    def input_dim(self) -> int:
        """Number of inputs (the action dimension)."""
        return len(self.input_cost)

    def observation_space(self) -> spaces.Box:
        """The unbounded state box (float32)."""
        return spaces.Box(-np.inf, np.inf, shape=(self.state_dim,), dtype=np.float32)

    def action_space(self) -> spaces.Box:
        """``Box(-1, 1, (m,))``: each action is a fraction of ``action_scale``."""
        return spaces.Box(-1.0, 1.0, shape=(self.input_dim,), dtype=np.float32)

    def cost_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Q, R)`` of the quadratic cost in environment units: state, and *action* (``R`` includes the scale)."""
        scale = np.asarray(self.action_scale)
        return np.diag(self.state_cost), np.diag(np.asarray(self.input_cost) * scale**2)

    def inputs(self, actions: np.ndarray) -> np.ndarray:
        """Physical inputs of validated actions (last axis = input channel): clipped if configured, then scaled."""
        if self.clip_actions:
            actions = np.minimum(np.maximum(actions, -1.0), 1.0)
        return actions * np.asarray(self.action_scale)

    def rewards(self, states: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Rewards of a batch: ``states (N, n)`` and physical ``inputs (N, m)`` → ``(N,)`` float64.

        Written as explicit sums over the few columns, so a batch of one gives bit for bit the same value as
        the same row inside a larger batch (single and vector environments agree exactly).
        """
        if self.reward == "quadratic":
            total = _weighted_square_sum(states, self.state_cost) + _weighted_square_sum(inputs, self.input_cost)
            return -total
        ones_x, ones_u = (1.0,) * self.state_dim, (1.0,) * self.input_dim
        return -np.sqrt(_weighted_square_sum(states, ones_x)) - np.sqrt(_weighted_square_sum(inputs, ones_u))

    def diverged(self, states: np.ndarray) -> np.ndarray:
        """Which rows of ``states (N, n)`` left the float range: a NaN or infinite coordinate, or a state whose
        reward (at zero input) would be infinite. Shape ``(N,)`` bool."""
        with np.errstate(over="ignore", invalid="ignore"):
            cost = self.rewards(states, np.zeros((states.shape[0], self.input_dim)))
            return ~(np.isfinite(states).all(axis=1) & np.isfinite(cost))

    def sample_states(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` start states, uniform in the box, shape ``(count, n)``."""
        bounds = np.asarray(self.initial_state_bounds)
        return rng.uniform(low=-bounds, high=bounds, size=(count, self.state_dim))


def _weighted_square_sum(values: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    total = weights[0] * values[:, 0] * values[:, 0]
    for j in range(1, len(weights)):
        total = total + weights[j] * values[:, j] * values[:, j]
    return total


#: Largest float32; observations are clipped to it so that a diverging (unstable) system never observes inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def observe(states: np.ndarray) -> np.ndarray:
    """float32 observations of float64 states, saturated at the largest finite float32."""
    return np.clip(states, -FLOAT32_MAX, FLOAT32_MAX).astype(np.float32)


#: The largest magnitude of a start state coordinate given with ``reset(options={"state": s})``: 1e4 (metres,
#: radians, or their rates) is far beyond any physical use of these systems, and from larger states the rewards and
#: the integrators leave the float range within a few steps.
MAX_START_STATE = 1e4


def check_state(state: Any, shape: tuple[int, ...], owner: str) -> np.ndarray:
    """A ``reset(options={"state": ...})`` value as a float64 array of ``shape``, or a ``ValueError``.

    Refused: strings, complex numbers and other non-real values, the wrong shape, NaN or inf, and coordinates
    beyond ``MAX_START_STATE`` in magnitude.
    """
    return numeric_array(state, shape, owner, "reset option 'state'", MAX_START_STATE).copy()
