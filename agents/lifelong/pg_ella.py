"""PG-ELLA (Bou Ammar, Eaton, Ruvolo & Taylor, ICML 2014), the online lifelong baseline of paper 002 (its ref. [9]).

Per task visit, in random task order within an iteration::

    if seen before:  A -= (s_t s_t^T) (x) H_t;  b -= s_t (x) (H_t alpha_t)        # remove the old contribution
    alpha_t, H_t <- one KL-sized eNAC step from theta_t; reward-weighted Hessian   # operating point
    L <- reinitializeAllZeroColumns(L)
    s_t <- argmin_s mu1 ||s||_1 + ||alpha_t - L s||^2_{H_t}                          # LASSO
    A += (s_t s_t^T) (x) H_t;  b += s_t (x) (H_t alpha_t)
    L <- mat(((1/T) A + mu2 I)^{-1} (1/T) b)                                       # closed form, O((dp)^3)
    theta_t' <- L s_t' for every task seen

Trajectories of all tasks are sampled at the start of the iteration (one batch), so a task visited later in the
sweep is observed with the policy it had at the start of the sweep.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.lifelong.base import PolicySearchLearner
from agents.lifelong.kron import ridge_basis
from agents.lifelong.lasso import reinitialize_zero_columns, weighted_lasso
from agents.lifelong.policy import Trajectories


class PGELLA(PolicySearchLearner):
    """Online PG-ELLA with latent dimension ``latent_dim`` (p), LASSO weight ``mu1`` and ridge weight ``mu2``.

    Other arguments as `PolicySearchLearner`. ``basis`` is ``L`` (``d x p``); ``coefficients`` the ``s_t``.
    """

    name = "PG-ELLA"

    def __init__(self, env_id: str, tasks: Any, *, latent_dim: int = 2, mu1: float = np.exp(-5),
                 mu2: float = np.exp(-5), **kwargs: Any) -> None:
        super().__init__(env_id, tasks, **kwargs)
        d = self.policy.dim
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or not 1 <= latent_dim <= d:
            raise ValueError(f"{type(self).__name__}: latent_dim must be an integer in 1..{d} (d), got {latent_dim!r}")
        if mu1 < 0 or mu2 < 0:
            raise ValueError(f"{type(self).__name__}: mu1 and mu2 must be >= 0, got mu1={mu1}, mu2={mu2}")
        self.latent_dim, self.mu1, self.mu2 = latent_dim, float(mu1), float(mu2)
        self.basis = np.zeros((d, latent_dim))
        self.coefficients = np.zeros((self.num_tasks, latent_dim))
        self.seen = np.zeros(self.num_tasks, dtype=bool)
        self._a = np.zeros((d * latent_dim, d * latent_dim))
        self._b = np.zeros(d * latent_dim)
        self._stored: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # alpha_t, H_t of the task's last visit

    def _contribution(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        alpha, h = self._stored[j]
        s = self.coefficients[j]
        return np.kron(np.outer(s, s), h), np.kron(s, h @ alpha)

    def _update(self, traj: Trajectories) -> dict[str, Any]:
        for j in self.rng.permutation(self.num_tasks):
            self.visit(int(j), traj.of_task(j))
        return {}

    def visit(self, j: int, traj: Trajectories) -> None:
        """One online visit of task ``j`` with its trajectories ``traj`` (the steps in the module docstring)."""
        d, p = self.policy.dim, self.latent_dim
        if self.seen[j]:
            a_old, b_old = self._contribution(j)
            self._a -= a_old
            self._b -= b_old
        alpha, h = self.natural_gradient_point(traj, self.thetas[j])
        self.basis = reinitialize_zero_columns(self.basis, self.rng)
        self.coefficients[j] = weighted_lasso(alpha, h, self.basis, self.mu1)
        self._stored[j] = (alpha, h)
        self.seen[j] = True
        a_new, b_new = self._contribution(j)
        self._a += a_new
        self._b += b_new
        self.basis = ridge_basis(self._a, self._b, int(self.seen.sum()), self.mu2, d, p)
        self.thetas[self.seen] = self.coefficients[self.seen] @ self.basis.T
