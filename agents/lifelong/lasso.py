"""The task-coefficient step of PG-ELLA: ``s = argmin_s ||alpha - L s||^2_H + mu1 ||s||_1`` (Eq. 2, a LASSO)."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize


def weighted_lasso(alpha: np.ndarray, hessian: np.ndarray, basis: np.ndarray, mu1: float) -> np.ndarray:
    """Minimise ``(alpha - L s)^T H (alpha - L s) + mu1 ||s||_1`` over ``s``.

    In Gram form the objective is ``s^T Q s - 2 c^T s + mu1 ||s||_1`` with ``Q = L^T H L`` and ``c = L^T H alpha``.
    Splitting ``s = z+ - z-`` with ``z = (z+, z-) >= 0`` gives the bound-constrained quadratic
    ``z^T Qbar z - 2 cbar^T z`` with ``Qbar = [[Q, -Q], [-Q, Q]]`` and ``cbar = (c - mu1/2, -c - mu1/2)``. With a
    ridge ``delta = 1e-12 tr(Q)`` (so that ``Qbar + delta I = R^T R`` by Cholesky) this is the bounded least-squares
    problem ``min ||R z - R^{-T} cbar||^2``, solved exactly by SciPy's active-set BVLS (``lsq_linear``). ``Q`` is
    often ill-conditioned here, where coordinate descent and L-BFGS-B need thousands of steps.
    """
    if not (np.isfinite(mu1) and mu1 >= 0):
        raise ValueError(f"weighted_lasso: mu1 must be a finite number >= 0, got {mu1!r}")
    q = basis.T @ hessian @ basis
    q = 0.5 * (q + q.T)
    c = basis.T @ hessian @ alpha
    p = q.shape[0]
    delta = 1e-12 * max(float(np.trace(q)), 1e-300)
    q_bar = np.block([[q, -q], [-q, q]]) + delta * np.eye(2 * p)
    c_bar = np.concatenate([c - 0.5 * mu1, -c - 0.5 * mu1])
    r = scipy.linalg.cholesky(q_bar, lower=False)
    y = scipy.linalg.solve_triangular(r, c_bar, trans="T", lower=False)
    z = scipy.optimize.lsq_linear(r, y, bounds=(0.0, np.inf), method="bvls", tol=1e-14).x
    return z[:p] - z[p:]


def reinitialize_zero_columns(basis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """PG-ELLA's ``reinitializeAllZeroColumns``: all-zero columns of ``L`` get unit-scale N(0, 1) entries.

    Unit scale matters: ``L s`` is invariant to ``L -> c L, s -> s / c`` but the l1 penalty is not,
    so a small-scale column would be shrunk straight back to zero by the LASSO.
    """
    basis = np.array(basis, dtype=float)
    zero = np.flatnonzero(~basis.any(axis=0))
    if zero.size:
        basis[:, zero] = rng.standard_normal((basis.shape[0], zero.size))
    return basis
