"""The loop every lifelong policy-search learner shares: observe every task once per iteration, then update.

One iteration (our reading; the paper does not define it) = ``n_trajectories`` new trajectories of ``horizon`` steps
on every task, sampled in one batch with each task's current policy ``theta_j``, followed by the learner's update. The
reward recorded for an iteration is the mean trajectory score of those on-policy rollouts (the paper's "average
reward"); with ``evaluate=True`` the greedy policies (mean actions) are also rolled out from fresh start states
(``eval_reward``), which removes the exploration noise's own cost from the comparison.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from agents.common.method import Method
from agents.lifelong.estimators import (
    Weighting,
    advantages,
    enac_gradient,
    kl_sized_step,
    trajectory_weights,
    weighted_statistics,
)
from agents.lifelong.policy import BatchSampler, LinearGaussianPolicy, Trajectories, policy_shape


def _check_positive(owner: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")


class PolicySearchLearner(Method):
    """Linear Gaussian policies ``theta_j`` for a list of tasks of one family, learned from batched rollouts.

    The method contract (`agents.common.method.Method`): `learn(total)` runs `total` iterations; each iteration's
    record (also appended to `history`) is the `info` of the `UnitRecord` the callback receives.

    Args:
        env_id: a registered id whose vector env takes ``tasks=[...]`` (one task per sub-env).
        tasks: the tasks (``Task`` objects or dicts).
        n_trajectories: trajectories per task per iteration (paper: 50).
        horizon: steps per trajectory (paper: 150).
        sigma: exploration standard deviation of the policy (the paper gives none).
        step_size: the per-step KL divergence ``epsilon`` between consecutive policies that fixes the length of a
            policy-gradient step, ``delta = sqrt(2 epsilon / (d^T F d)) d`` with ``F`` the per-step Fisher matrix
            (the paper leaves the step open; a KL-normalised step is independent of the units of states and
            actions, so one value serves every domain).
        weighting: trajectory weights for the reward-weighted statistics (``"exp"`` or ``"shift"``, see `trajectory_weights`).
        weight_beta: inverse temperature of the ``"exp"`` weights (in units of the advantages' standard deviation).
        hessian_ridge: ``epsilon`` added to every ``H_j`` (keeps it positive definite with the non-negative weights).
        env_kwargs: extra arguments of ``gym.make_vec`` (e.g. ``reward="quadratic"`` for cart-pole).
        evaluate: also record the greedy policies' reward every iteration (one more batch of rollouts).
        seed: seeds the rollouts and every random choice of the learner.
    """

    name = "base"
    unit: ClassVar[str] = "iteration"
    _resources: ClassVar[tuple[str, ...]] = ("sampler",)
    #: Whether `learn` samples every task here in one batch (else the learner's nodes do).
    samples_in_driver = True

    def __init__(self, env_id: str, tasks: Sequence[Any], *, n_trajectories: int = 50, horizon: int = 150,
                 sigma: float = 0.5, step_size: float = 0.05, weighting: Weighting = "exp",
                 weight_beta: float = 1.0, hessian_ridge: float = 1e-6, env_kwargs: Mapping[str, Any] | None = None,
                 evaluate: bool = False, seed: int = 0) -> None:
        owner = type(self).__name__
        if not tasks:
            raise ValueError(f"{owner}: tasks must list at least one task")
        _check_positive(owner, sigma=sigma, step_size=step_size, weight_beta=weight_beta)
        if weighting not in ("exp", "shift"):
            raise ValueError(f"{owner}: weighting must be 'exp' or 'shift', got {weighting!r}")
        if n_trajectories < 1 or horizon < 1:
            raise ValueError(f"{owner}: n_trajectories and horizon must be >= 1, got {n_trajectories}, {horizon}")
        self.env_id, self.tasks = env_id, list(tasks)
        self.n_trajectories, self.horizon = int(n_trajectories), int(horizon)
        self.env_kwargs = dict(env_kwargs or {})
        #: Rollouts of every task in one batch (``None`` for learners whose nodes sample their own tasks).
        self.sampler: BatchSampler | None = None
        if self.samples_in_driver:
            self.sampler = BatchSampler(env_id, tasks, n_trajectories, horizon, env_kwargs)
            shape = self.sampler.policy_shape
        else:
            shape = policy_shape(env_id, self.tasks[0], {"max_episode_steps": self.horizon, **self.env_kwargs})
        self.policy = LinearGaussianPolicy(*shape, sigma=float(sigma))
        self.num_tasks = len(self.tasks)
        self.step_size = float(step_size)
        self.weighting: Weighting = weighting
        self.hessian_ridge = float(hessian_ridge)
        self.weight_beta = float(weight_beta)
        self.rng = np.random.default_rng(seed)
        self.evaluate = bool(evaluate)
        self._eval_rng = np.random.default_rng([seed, 1])
        self.thetas = np.zeros((self.num_tasks, self.policy.dim))
        self.history: list[dict[str, Any]] = []

    # --- what subclasses implement ----------------------------------------------------------------------------

    @abstractmethod
    def _update(self, traj: Trajectories) -> dict[str, Any]:
        """Update ``self.thetas`` from one iteration's trajectories; return extra metrics to record."""

    # --- shared pieces ------------------------------------------------------------------------------------------

    def natural_gradient_point(self, traj: Trajectories, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PG-ELLA's operating point and Hessian: ``alpha`` = one KL-sized eNAC step from ``theta``, and
        ``H = G + epsilon I`` from the reward-weighted statistics of the same trajectories."""
        w = enac_gradient(self.policy, theta, traj)
        return self.gradient_step(theta, w, traj), self.hessian(traj)

    def gradient_step(self, theta: np.ndarray, direction: np.ndarray, traj: Trajectories) -> np.ndarray:
        """``theta + sqrt(2 epsilon / (d^T F d)) d``: a step along ``direction`` whose per-step KL is ``epsilon``,
        with ``F`` the Fisher matrix ``(1/M) sum_m Phi^T Sigma^{-1} Phi`` averaged over ``traj``."""
        return kl_sized_step(self.policy, theta, direction, traj, self.step_size)

    def weights(self, traj: Trajectories) -> np.ndarray:
        """Non-negative trajectory weights from advantages over the start-state baseline (see `trajectory_weights`)."""
        return trajectory_weights(advantages(traj), self.weighting, self.weight_beta)

    def hessian(self, traj: Trajectories) -> np.ndarray:
        """``H_j = sum_tau w(tau) (1/M) sum_m Phi^T Sigma^{-1} Phi + epsilon I`` (Eq. 2's weighting matrix)."""
        g_matrix, _ = weighted_statistics(self.policy, traj, self.weights(traj))
        return g_matrix + self.hessian_ridge * np.eye(self.policy.dim)

    # --- one iteration -------------------------------------------------------------------------------------------

    def _learn_unit(self) -> dict[str, Any]:
        """One iteration: sample every task once, update; the record is appended to `history`."""
        tic = time.perf_counter()
        traj = self.sampler.sample(self.policy, self.thetas, self.rng)
        sampled = time.perf_counter()
        extra = self._update(traj)
        done = time.perf_counter()
        task_rewards = [float(traj.of_task(j).scores.mean()) for j in range(self.num_tasks)]
        record = {"iteration": len(self.history) + 1, "mean_reward": float(np.mean(task_rewards)),
                  "task_rewards": task_rewards, "sample_seconds": sampled - tic, "update_seconds": done - sampled,
                  **extra}
        if self.evaluate:
            greedy = self.sampler.sample(self.policy, self.thetas, self._eval_rng, explore=False)
            record["eval_task_rewards"] = [float(greedy.of_task(j).scores.mean()) for j in range(self.num_tasks)]
            record["eval_reward"] = float(np.mean(record["eval_task_rewards"]))
        self.history.append(record)
        return record

    def close(self) -> None:
        """Release the vector environment."""
        if self.sampler is not None:
            self.sampler.close()
