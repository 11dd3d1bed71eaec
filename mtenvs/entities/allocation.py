"""Entropy-regularized allocation over entities: the synthetic task of paper 004 (Sec. 6.1).

Reads top to bottom: parameters, the reward and its exact optimum, the family (with ``optimal_value``), the
single environment, the batched vector environment, reference policies, rendering.

Each step the agent sees one scalar state ``x_i ~ U[0, 1]`` per entity and splits a unit budget among the
entities; the reward is ``sum_i x_i a_i - beta_i a_i log a_i`` plus Gaussian noise. The per-entity entropy
weights ``beta_i = beta0 + mismatch * (i - 1) / (m - 1)`` differ by at most ``mismatch`` (the paper's
``epsilon``), so the task is exactly permutation invariant only when ``mismatch = 0``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from scipy.special import logsumexp, softmax, xlogy
from scipy.stats import qmc

from mtenvs.core.env import MAX_ACTION, TaskEnv, box_action, numeric_array
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.simplex import normalize_allocation
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.rendering import require_reset

# ------------------------------------------------------------------------------------------------ parameters
# The paper sweeps epsilon over [0, 0.8] (Fig. 1); beta0 = 0.1 is our default (the paper gives none).
PARAMETERS = ParameterSpace([
    Continuous("mismatch", 0.0, bounds=(0.0, 2.0), train=(0.0, 0.8),
               description="range max_i beta_i - min_i beta_i of the entropy weights (the paper's epsilon)"),
    Continuous("beta0", 0.1, bounds=(0.01, 1.0), description="entropy weight of the first entity"),
])

DEFAULT_ENTITIES = 10
DEFAULT_NOISE = 0.1
#: Sobol points used to integrate the optimal reward over the uniform state distribution.
QMC_POINTS = 2**16


def entropy_weights(mismatch: Any, beta0: Any, n_entities: int) -> np.ndarray:
    """``beta_i = beta0 + mismatch * i / (m - 1)`` for ``i = 0..m-1``; broadcasts over leading axes of the inputs."""
    ramp = np.linspace(0.0, 1.0, n_entities) if n_entities > 1 else np.zeros(1)
    return np.asarray(beta0, dtype=np.float64)[..., None] + np.asarray(mismatch, dtype=np.float64)[..., None] * ramp


# ------------------------------------------------------------------------------------------------ reward
def allocation_reward(x: np.ndarray, weights: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Noise-free reward ``sum_i x_i a_i - beta_i a_i log a_i`` (with ``0 log 0 = 0``), over the last axis."""
    return (x * weights - betas * xlogy(weights, weights)).sum(axis=-1)


def optimal_allocation(x: np.ndarray, betas: np.ndarray, iterations: int = 60) -> np.ndarray:
    """The exact maximizer of `allocation_reward` on the simplex, for a batch of states (last axis = entities).

    Stationarity of the Lagrangian gives ``a_i = exp((x_i - lam) / beta_i - 1)`` with ``lam`` such that the
    weights sum to one. With equal weights ``beta`` this is ``softmax(x / beta)``. Otherwise ``lam`` solves
    ``g(lam) = logsumexp_i((x_i - lam) / beta_i - 1) = 0``; ``g`` is convex and decreasing, so Newton's method
    started left of the root (where one term alone is 1) converges monotonically. It is written by hand because
    it runs on a whole batch of states at once (SciPy's scalar root finders would loop in Python).
    """
    x = np.asarray(x, dtype=np.float64)
    betas = np.broadcast_to(np.asarray(betas, dtype=np.float64), x.shape)
    if np.all(betas == betas[..., :1]):
        return softmax(x / betas[..., :1], axis=-1)
    lam = np.max(x - betas, axis=-1, keepdims=True)  # g(lam) >= 0 here
    for _ in range(iterations):
        z = (x - lam) / betas - 1.0
        g = logsumexp(z, axis=-1, keepdims=True)
        slope = -(softmax(z, axis=-1) / betas).sum(axis=-1, keepdims=True)
        step = g / slope
        lam = lam - step
        if np.all(np.abs(step) < 1e-13):
            break
    return np.exp((x - lam) / betas - 1.0)


def optimal_reward(x: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """``max_a`` of the noise-free reward in state(s) ``x`` (equal weights: ``beta * logsumexp(x / beta)``)."""
    return allocation_reward(x, optimal_allocation(x, betas), betas)


@functools.lru_cache(maxsize=256)
def expected_optimal_reward(mismatch: float, beta0: float, n_entities: int) -> float:
    """``E_x[max_a R(x, a)]`` for ``x ~ U[0, 1]^m``, by scrambled-Sobol integration with 2^16 points.

    The integrand is smooth, so the error is far below the reward noise (about 1e-5; the tests check it against
    an exact one-dimensional integral for equal weights).
    """
    points = qmc.Sobol(d=n_entities, scramble=True, seed=0).random(QMC_POINTS)
    return float(optimal_reward(points, entropy_weights(mismatch, beta0, n_entities)).mean())


# ------------------------------------------------------------------------------------------------ family
class EntityAllocationFamily(TaskFamily):
    """Tasks differ in the entropy weights; the optimum is the closed-form allocation of every state."""

    def optimal_value(self, task: Task | Any, *, n_entities: int = DEFAULT_ENTITIES, horizon: int = 1,
                      max_episode_steps: int | None = None, **env_kwargs: Any) -> float:
        """Expected optimal return of an episode: its length (``horizon``, or a shorter time limit) times the
        expected optimal reward of one state."""
        task = self.validate(task)
        steps = horizon if max_episode_steps is None else min(horizon, max_episode_steps)
        return steps * expected_optimal_reward(task["mismatch"], task["beta0"], int(n_entities))


FAMILY = EntityAllocationFamily(
    "EntityAllocation",
    PARAMETERS,
    description="Split a unit budget among entities with states x_i; reward sum x_i a_i - beta_i a_i log a_i "
                "(paper 004's synthetic task). Tasks differ in how far the entropy weights are from equal.",
)


def _check_config(n_entities: Any, horizon: Any, noise_std: Any) -> tuple[int, int, float]:
    if isinstance(n_entities, bool) or not isinstance(n_entities, (int, np.integer)) or n_entities < 2:
        raise ValueError(f"EntityAllocation: n_entities must be an integer >= 2, got {n_entities!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"EntityAllocation: horizon must be a positive integer, got {horizon!r}")
    if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or not 0 <= noise_std < np.inf:
        raise ValueError(f"EntityAllocation: noise_std must be a finite number >= 0, got {noise_std!r}")
    return int(n_entities), int(horizon), float(noise_std)


def _check_state(state: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = numeric_array(state, shape, "EntityAllocation", "reset option 'state'", MAX_ACTION)
    if np.any(array < 0) or np.any(array > 1):
        raise ValueError(f"EntityAllocation: reset option 'state' must lie in [0, 1], got {array.tolist()}")
    return array


# ------------------------------------------------------------------------------------------------ single env
class EntityAllocationEnv(TaskEnv[np.ndarray, np.ndarray]):
    """Allocate a unit budget among entities with random states; entropy-regularized linear reward.

    ## Description
    The synthetic resource-allocation task of "Efficient Reinforcement Learning in Resource Allocation Problems
    Through Permutation Invariant Multi-Task Learning" (paper 004, Sec. 6.1). States are drawn i.i.d. every step,
    so the problem is a contextual bandit; the optimal allocation of a state is known in closed form
    (`optimal_allocation`), and ``FAMILY.optimal_value`` gives the optimal expected return.

    ## Observation Space
    ``Box(0, 1, (n_entities, 1))`` float32: row ``i`` is entity ``i``'s state ``x_i``. The weights ``beta_i``
    are hidden.

    ## Action Space
    ``Box(0, 1, (n_entities,))``: normalized inside the environment to weights ``a / sum(a)`` (all zero → uniform).
    ``info["weights"]`` holds the executed weights.

    ## Reward
    ``sum_i x_i a_i - beta_i a_i log a_i + N(0, noise_std^2)`` with ``beta_i = beta0 + mismatch * i / (m - 1)``.
    ``info["expected_reward"]`` is the noise-free part.

    ## Starting State
    ``x ~ U[0, 1]^m``; ``reset(options={"state": x})`` sets the first state.

    ## Episode End
    Termination after ``horizon`` steps (default 1: one state, one allocation). Every step draws a fresh state.

    ## Arguments
    * ``task`` / ``tasks``: parameters ``mismatch`` (epsilon, default 0) and ``beta0`` (default 0.1).
    * ``n_entities``: number of entities ``m`` (default 10).
    * ``horizon``: steps per episode (default 1).
    * ``noise_std``: standard deviation of the reward noise (default 0.1).
    * ``render_mode``: ``"rgb_array"`` (bars of the states, the entropy weights and the allocations) or ``None``.

    ## Version History
    * v0: initial release.
    * v0: ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, n_entities: int = DEFAULT_ENTITIES,
                 horizon: int = 1, noise_std: float = DEFAULT_NOISE, render_mode: str | None = None) -> None:
        self.n_entities, self.horizon, self.noise_std = _check_config(n_entities, horizon, noise_std)
        self.observation_space = spaces.Box(0.0, 1.0, (self.n_entities, 1), dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, (self.n_entities,), dtype=np.float32)
        self._x: np.ndarray | None = None
        self._t = 0
        self._last: tuple[np.ndarray, float] | None = None  # weights and noise-free reward of the last step (render)
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self.betas = entropy_weights(task["mismatch"], task["beta0"], self.n_entities)

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            self._x = _check_state(options["state"], (self.n_entities,))
        else:
            self._x = self.np_random.uniform(size=self.n_entities)
        self._t = 0
        self._last = None
        return self._observation()

    def _observation(self) -> np.ndarray:
        return self._x.astype(np.float32)[:, None]  # type: ignore[union-attr]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Allocate, collect the reward of the current state, and draw the next state."""
        if self._x is None:
            self._require_reset()
        weights = normalize_allocation(box_action(action, (self.n_entities,), "EntityAllocation"))
        expected = float(allocation_reward(self._x, weights, self.betas))
        reward = expected + (self.noise_std * float(self.np_random.normal()) if self.noise_std > 0 else 0.0)
        self._t += 1
        self._x = self.np_random.uniform(size=self.n_entities)
        info = {**self._info(), "weights": weights, "expected_reward": expected}
        self._last = (weights, expected)
        return self._observation(), reward, self._t >= self.horizon, False, info

    @property
    def state(self) -> np.ndarray | None:
        """The current entity states ``x`` (float64), or ``None`` before reset."""
        return None if self._x is None else self._x.copy()

    def render(self) -> np.ndarray | None:
        """A 600×400 RGB frame in ``"rgb_array"`` mode (see `draw_allocation`); ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._x is not None, self.family.name)
        return draw_allocation(self.task, self._x, self.betas, self._last, self._t, self.horizon)


# ------------------------------------------------------------------------------------------------ vector env
# States are redrawn every step, so a native batched env could not replay single envs step for step; the
# Sync fallback runs single envs.
EntityAllocationVectorEnv = vector_env_for(EntityAllocationEnv, "EntityAllocationVectorEnv")


# ------------------------------------------------------------------------------------------------ references
def optimal_policy(tasks: Any, **env_kwargs: Any) -> Any:
    """The exact optimal allocation of each task's current state (row ``i`` of the batch acts on ``tasks[i]``)."""
    tasks = list(tasks)

    def act(observations: np.ndarray) -> np.ndarray:
        x = np.asarray(observations, dtype=np.float64)[..., 0]
        betas = np.stack([entropy_weights(t["mismatch"], t["beta0"], x.shape[-1]) for t in tasks])
        return optimal_allocation(x, betas).astype(np.float32)

    return act


def uniform_policy(tasks: Any, **env_kwargs: Any) -> Any:
    """Equal shares for every entity."""

    def act(observations: np.ndarray) -> np.ndarray:
        return np.ones(np.asarray(observations).shape[:-1], dtype=np.float32)

    return act


FAMILY.reference_policies["optimal"] = optimal_policy
FAMILY.reference_policies["uniform"] = uniform_policy


# ------------------------------------------------------------------------------------------------ rendering
def draw_allocation(task: Task, x: np.ndarray, betas: np.ndarray, last: tuple[np.ndarray, float] | None, step: int,
                    horizon: int) -> np.ndarray:
    """Bars per entity (600×400 RGB): the current states ``x_i``, the task's entropy weights ``beta_i`` (hidden from
    the agent; a black cap marks one above 1), and the allocation: the optimal one of the current state beside the
    weights executed at the last step (on the state before it)."""
    from mtenvs.rendering import GREY, Canvas, bars

    canvas = Canvas(600, 400)
    m = len(x)
    labels = [str(i) for i in range(m)] if m <= 20 else None
    canvas.text((10, 8), f"mismatch = {task['mismatch']:.2f}   beta0 = {task['beta0']:.2f}   step {step} / {horizon}"
                + ("" if last is None else f"   last reward (noise-free) = {last[1]:.3f}"))
    bars(canvas, (40.0, 50.0, 290.0, 170.0), list(x), (0.0, 1.0), [(70, 110, 170)], labels, "state x_i")
    bars(canvas, (330.0, 50.0, 580.0, 170.0), list(betas), (0.0, 1.0), [(200, 120, 50)], labels,
         "entropy weight beta_i (the task)")
    optimal = optimal_allocation(x, betas)
    executed = last[0] if last is not None else np.zeros(m)
    top = max(0.5, float(optimal.max()), float(executed.max()))
    paired = np.ravel(np.column_stack([optimal, executed]))
    bars(canvas, (40.0, 230.0, 580.0, 360.0), list(paired), (0.0, top), [(60, 150, 80), (150, 150, 150)],
         None, "allocation: optimal for the current state (green), executed at the last step (grey)")
    if labels is not None:
        for i, label in enumerate(labels):
            canvas.text((40.0 + 540.0 * (i + 0.5) / m, 363.0), label, size=11, anchor="ma")
    canvas.text((10, 385), "entities 0..m-1; the optimum is a_i = exp((x_i - lambda) / beta_i - 1)", size=11, fill=GREY)
    return canvas.frame()
