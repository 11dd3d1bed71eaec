"""GO-MTL (Kumar & Daume III, ICML 2012) in the policy-search setting of paper 002 (a baseline of Sec. 6).

The batch version of the same factorised objective (Eq. 2): every iteration takes PG-ELLA's operating points
``alpha_j`` (one eNAC step) and Hessians ``H_j`` for all tasks, then alternates, over all tasks at once,
``s_j <- LASSO(alpha_j, H_j, L)`` and the closed-form ridge ``L = mat(((1/T) sum (s s^T) (x) H + mu2 I)^{-1}
(1/T) sum s (x) (H alpha))`` until ``L`` stops changing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.lifelong.kron import basis_normal_equations, ridge_basis
from agents.lifelong.lasso import reinitialize_zero_columns, weighted_lasso
from agents.lifelong.pg_ella import PGELLA
from agents.lifelong.policy import Trajectories


class GOMTL(PGELLA):
    """Batch alternating minimisation of Eq. 2; ``alternations`` caps the (s, L) rounds per iteration, which stop
    early when ``||L_new - L||_F <= tol ||L||_F``. Other arguments as `PGELLA`."""

    name = "GO-MTL"

    def __init__(self, env_id: str, tasks: Any, *, alternations: int = 20, tol: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(env_id, tasks, **kwargs)
        if isinstance(alternations, bool) or not isinstance(alternations, int) or alternations < 1:
            raise ValueError(f"GOMTL: alternations must be an integer >= 1, got {alternations!r}")
        self.alternations, self.tol = alternations, float(tol)
        self.basis = self.rng.standard_normal(self.basis.shape)

    def _update(self, traj: Trajectories) -> dict[str, Any]:
        points = [self.natural_gradient_point(traj.of_task(j), self.thetas[j]) for j in range(self.num_tasks)]
        return {"alternations": self.fit(list(range(self.num_tasks)), points)}

    def fit(self, tasks: list[int], points: list[tuple[np.ndarray, np.ndarray]]) -> int:
        """Alternate (s, L) over ``tasks`` with their operating points and Hessians ``points``; set their policies.

        Returns the number of alternations run.
        """
        d, p = self.policy.dim, self.latent_dim
        alphas = [a for a, _ in points]
        hessians = [h for _, h in points]
        rounds = 0
        for rounds in range(1, self.alternations + 1):  # noqa: B007 (the count is reported)
            self.basis = reinitialize_zero_columns(self.basis, self.rng)
            for k, j in enumerate(tasks):
                self.coefficients[j] = weighted_lasso(alphas[k], hessians[k], self.basis, self.mu1)
            a, b = basis_normal_equations([self.coefficients[j] for j in tasks], hessians, alphas)
            new = ridge_basis(a, b, len(tasks), self.mu2, d, p)
            change = np.linalg.norm(new - self.basis)
            self.basis = new
            if change <= self.tol * max(float(np.linalg.norm(new)), 1e-12):
                break
        self.thetas[tasks] = self.coefficients[tasks] @ self.basis.T
        return rounds
