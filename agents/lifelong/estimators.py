"""What one batch of trajectories tells a linear Gaussian policy: gradients, weights, operating points, Hessians.

* `enac_gradient`: episodic Natural Actor-Critic (Peters & Schaal 2008, the paper's base learner): the
  least-squares fit ``[psi_n^T, 1] [w; J] ~ R_n`` with ``psi_n = sum_m grad log pi(u_m | x_m)``; ``w`` is the
  natural gradient ``F^{-1} grad J``.
* `reinforce_gradient`: episodic REINFORCE with the mean-return baseline, ``grad J``.
* `trajectory_weights`: non-negative weights from the (negative) trajectory scores, by
  default from their `advantages` over a start-state baseline.
* `weighted_statistics`: ``G = sum_tau w(tau) (1/M) sum_m Phi^T Sigma^{-1} Phi`` and
  ``g = sum_tau w(tau) (1/M) sum_m Phi^T Sigma^{-1} u`` (Algorithm 1's statistics, normalised over all of a task's
  trajectories), whose ratio ``G^{-1} g`` is the reward-weighted-regression operating point and whose ``G`` is the
  Hessian ``H_j`` of Eq. 2.
* `fisher_matrix`, `step_kl` and `kl_sized_step`: the per-step Fisher matrix ``F`` of the visited states, the mean
  KL divergence ``(1/2) delta^T F delta`` between two linear Gaussian policies of the same covariance (exact for
  this policy class), and the step along a direction whose mean KL is a given ``epsilon``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from agents.lifelong.policy import LinearGaussianPolicy, Trajectories

Weighting = Literal["exp", "shift"]


def _trajectory_scores(policy: LinearGaussianPolicy, theta: np.ndarray, traj: Trajectories) -> np.ndarray:
    """``psi_n = sum_m grad_theta log pi(u_m | x_m)`` for every trajectory (``N x d``)."""
    horizon, n, _ = traj.states.shape
    thetas = np.broadcast_to(theta, (horizon * n, policy.dim))
    scores = policy.score(thetas, traj.states.reshape(horizon * n, -1), traj.actions.reshape(horizon * n, -1))
    return scores.reshape(horizon, n, -1).sum(axis=0)


def initial_state_features(traj: Trajectories) -> np.ndarray:
    """``[1, x_0, upper triangle of x_0 x_0^T]`` per trajectory: a quadratic value baseline in the start state
    (exact for the expected return of a linear policy on a linear system with quadratic cost)."""
    x0 = traj.states[0]
    rows, cols = np.triu_indices(x0.shape[1])
    return np.hstack([np.ones((x0.shape[0], 1)), x0, x0[:, rows] * x0[:, cols]])


def advantages(traj: Trajectories, baseline: bool = True) -> np.ndarray:
    """Trajectory scores minus their least-squares fit on `initial_state_features` (``baseline=True``), or
    minus their mean. Random start states, not actions, dominate the spread of raw scores on these tasks."""
    scores = traj.scores
    if not baseline or traj.states.shape[1] <= initial_state_features(traj).shape[1]:
        return scores - scores.mean()
    features = initial_state_features(traj)
    fit, *_ = np.linalg.lstsq(features, scores, rcond=None)
    return scores - features @ fit


def enac_gradient(policy: LinearGaussianPolicy, theta: np.ndarray, traj: Trajectories, baseline: bool = True) -> np.ndarray:
    """The eNAC natural gradient ``w`` of the average reward at ``theta`` from trajectories sampled with ``theta``.

    Solves ``[psi_n^T, phi(x_0^n)^T] [w; v] ~ R_n`` in the least-squares sense (pseudo-inverse, as in Peters & Schaal's eNAC);
    ``phi = 1`` is the paper's constant ``J``, and ``baseline=True`` adds the quadratic start-state features of
    `initial_state_features` (Peters & Schaal's start-state baseline; it leaves ``w`` unbiased because
    ``E[psi | x_0] = 0``) when there are more trajectories than features.
    """
    psi = _trajectory_scores(policy, theta, traj)
    features = initial_state_features(traj)
    if not baseline or psi.shape[0] <= psi.shape[1] + features.shape[1]:
        features = features[:, :1]
    solution, *_ = np.linalg.lstsq(np.hstack([psi, features]), traj.scores, rcond=None)
    return solution[: psi.shape[1]]


def reinforce_gradient(policy: LinearGaussianPolicy, theta: np.ndarray, traj: Trajectories) -> np.ndarray:
    """Episodic REINFORCE: ``(1/N) sum_n psi_n (R_n - mean R)``, an unbiased estimate of ``grad J``."""
    psi = _trajectory_scores(policy, theta, traj)
    returns = traj.scores
    return psi.T @ (returns - returns.mean()) / len(returns)


def trajectory_weights(scores: np.ndarray, mode: Weighting = "exp", beta: float = 1.0) -> np.ndarray:
    """Non-negative trajectory weights summing to 1 from scores or advantages ``R``.

    ``"exp"``: ``exp(beta (R - max R) / (std R + 1e-8))``; ``"shift"``: ``R - min R + 1e-8``. The paper's raw (negative)
    scores would make ``G`` and ``H`` negative definite, so they are not offered.
    """
    scores = np.asarray(scores, dtype=float)
    if mode == "exp":
        weights = np.exp(beta * (scores - scores.max()) / (scores.std() + 1e-8))
    elif mode == "shift":
        weights = scores - scores.min() + 1e-8
    else:
        raise ValueError(f"trajectory_weights: mode must be 'exp' or 'shift', got {mode!r}")
    return weights / weights.sum()


def weighted_statistics(policy: LinearGaussianPolicy, traj: Trajectories, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(G, g)`` of the reward-weighted log-likelihood over ``traj`` with per-trajectory ``weights``."""
    horizon = traj.states.shape[0]
    w = np.asarray(weights, dtype=float) / horizon
    second = np.einsum("n,mns,mnt->st", w, traj.states, traj.states)
    cross = np.einsum("n,mna,mns->as", w, traj.actions, traj.states).reshape(-1)
    g_matrix = np.kron(np.eye(policy.action_dim), second) / policy.sigma**2
    return g_matrix, cross / policy.sigma**2


def fisher_matrix(policy: LinearGaussianPolicy, traj: Trajectories) -> np.ndarray:
    """``F = (1/N) sum_n (1/M) sum_m Phi(x_m)^T Sigma^{-1} Phi(x_m)`` over the visited states of ``traj``."""
    fisher, _ = weighted_statistics(policy, traj, np.full(traj.states.shape[1], 1.0 / traj.states.shape[1]))
    return fisher


def step_kl(policy: LinearGaussianPolicy, traj: Trajectories, delta: np.ndarray) -> float:
    """Mean over the visited states of ``KL(pi_theta || pi_{theta + delta}) = (1/2) delta^T F delta``."""
    delta = np.asarray(delta, dtype=float)
    return 0.5 * float(delta @ fisher_matrix(policy, traj) @ delta)


def kl_sized_step(policy: LinearGaussianPolicy, theta: np.ndarray, direction: np.ndarray, traj: Trajectories,
                  epsilon: float) -> np.ndarray:
    """``theta + sqrt(2 epsilon / (d^T F d)) d``: the step along ``direction`` whose mean KL over the visited states
    of ``traj`` is ``epsilon`` (``theta`` itself when ``d^T F d = 0``)."""
    curvature = float(direction @ fisher_matrix(policy, traj) @ direction)
    if curvature <= 0.0:
        return np.array(theta, dtype=float)
    return theta + np.sqrt(2.0 * epsilon / curvature) * direction
