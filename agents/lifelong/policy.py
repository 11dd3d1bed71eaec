"""Linear Gaussian policies and batched trajectory collection on the native vector environments.

The Gaussian policy of the closed forms of App. B, with our features and covariance (the paper gives neither):
``pi_theta(u | x) = N(u; Phi(x) theta, sigma^2 I_m)`` with linear state features ``Phi(x) = I_m (x) x^T``, so
``theta`` is the row-major flattening of a gain matrix ``K`` (``m x n_x``) and the mean action is ``K x``. The
covariance is fixed (not learned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class LinearGaussianPolicy:
    """``u ~ N(K x, sigma^2 I)`` with ``theta = K.ravel()`` (``d = m n_x`` parameters)."""

    state_dim: int
    action_dim: int
    sigma: float = 0.5

    def __post_init__(self) -> None:
        for name in ("state_dim", "action_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LinearGaussianPolicy: {name} must be a positive integer, got {value!r}")
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"LinearGaussianPolicy: sigma must be a positive number, got {self.sigma!r}")

    @property
    def dim(self) -> int:
        """Number of policy parameters ``d = m n_x``."""
        return self.state_dim * self.action_dim

    def gain(self, theta: np.ndarray) -> np.ndarray:
        """The gain matrix ``K`` (``m x n_x``) of ``theta``."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},), got {theta.shape}")
        return theta.reshape(self.action_dim, self.state_dim)

    def mean(self, thetas: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Mean actions ``Phi(x_n) theta_n`` for a batch: ``thetas`` (``N x d``), ``states`` (``N x n_x``)."""
        gains = np.asarray(thetas, dtype=float).reshape(-1, self.action_dim, self.state_dim)
        return np.einsum("nms,ns->nm", gains, states)

    def score(self, thetas: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``grad_theta log pi(u | x) = Phi(x)^T Sigma^{-1} (u - Phi(x) theta) = (u - K x) (x) x / sigma^2`` per row."""
        residual = actions - self.mean(thetas, states)
        return np.einsum("nm,ns->nms", residual, states).reshape(len(states), -1) / self.sigma**2


@dataclass(frozen=True)
class Trajectories:
    """Fixed-horizon rollouts: ``states`` (``M x N x n_x``), ``actions`` sampled (unclipped, ``M x N x m``),
    ``rewards`` (``M x N``) and the task index of each trajectory (``N``)."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    task_index: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        """The trajectory score (the average reward of Sec. 2): the mean of the ``M`` per-step rewards, per trajectory."""
        return self.rewards.mean(axis=0)

    def select(self, columns: Any) -> Trajectories:
        """The trajectories ``columns`` (an index array or mask)."""
        return Trajectories(self.states[:, columns], self.actions[:, columns], self.rewards[:, columns],
                            self.task_index[columns])

    def of_task(self, j: int) -> Trajectories:
        """The trajectories of task index ``j``."""
        return self.select(np.flatnonzero(self.task_index == j))


def _policy_shape(env: gym.vector.VectorEnv) -> tuple[int, int]:
    """``(n_x, m)``: the flattened sizes of a vector env's single observation and action spaces."""
    return int(np.prod(env.single_observation_space.shape)), int(np.prod(env.single_action_space.shape))


def policy_shape(env_id: str, task: Any, env_kwargs: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """``(n_x, m)`` of ``env_id``'s linear policies, read from a one-env vector env of ``task`` (closed at once)."""
    env = gym.make_vec(env_id, num_envs=1, tasks=[task], **dict(env_kwargs or {}))
    try:
        return _policy_shape(env)
    finally:
        env.close()


class BatchSampler:
    """Collects ``n`` trajectories of ``horizon`` steps for every task in one native vector env.

    Sub-env ``j * n + r`` runs task ``j``; every call resets all sub-envs with a fresh seed from ``rng`` and steps
    them ``horizon`` times. Actions sent to the env are clipped to its action space; the gradient estimators use
    the sampled (unclipped) actions, whose likelihood the policy defines.
    """

    def __init__(self, env_id: str, tasks: Sequence[Any], n: int, horizon: int,
                 env_kwargs: Mapping[str, Any] | None = None) -> None:
        if n < 1 or horizon < 1:
            raise ValueError(f"BatchSampler: n and horizon must be >= 1, got n={n}, horizon={horizon}")
        self.tasks = list(tasks)
        self.n, self.horizon = int(n), int(horizon)
        repeated = [t for t in self.tasks for _ in range(self.n)]
        kwargs = dict(env_kwargs or {})
        kwargs.setdefault("max_episode_steps", self.horizon)
        self.env = gym.make_vec(env_id, num_envs=len(repeated), tasks=repeated, **kwargs)
        act_space = self.env.single_action_space
        self.policy_shape = _policy_shape(self.env)
        self._low = np.broadcast_to(act_space.low, act_space.shape).reshape(-1)
        self._high = np.broadcast_to(act_space.high, act_space.shape).reshape(-1)

    def sample(self, policy: LinearGaussianPolicy, thetas: np.ndarray, rng: np.random.Generator,
               explore: bool = True) -> Trajectories:
        """Roll out ``thetas[j]`` (``num_tasks x d``) on task ``j``; all tasks in one batch. ``explore=False`` takes
        the mean actions (the greedy policy), so only the start states are random."""
        thetas = np.asarray(thetas, dtype=float)
        if thetas.shape != (len(self.tasks), policy.dim):
            raise ValueError(f"thetas must have shape ({len(self.tasks)}, {policy.dim}), got {thetas.shape}")
        per_env = np.repeat(thetas, self.n, axis=0)
        total = per_env.shape[0]
        states = np.empty((self.horizon, total, policy.state_dim))
        actions = np.empty((self.horizon, total, policy.action_dim))
        rewards = np.empty((self.horizon, total))
        obs, _ = self.env.reset(seed=int(rng.integers(2**31)))
        for m in range(self.horizon):
            x = np.asarray(obs, dtype=float).reshape(total, -1)
            u = policy.mean(per_env, x)
            if explore:
                u = u + policy.sigma * rng.standard_normal((total, policy.action_dim))
            states[m], actions[m] = x, u
            obs, r, *_ = self.env.step(np.clip(u, self._low, self._high).astype(np.float32))
            rewards[m] = r
        return Trajectories(states, actions, rewards, np.repeat(np.arange(len(self.tasks)), self.n))

    def close(self) -> None:
        """Close the vector env."""
        self.env.close()
