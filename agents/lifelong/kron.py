"""Column-major ``vec``/``mat`` and the Kronecker identities behind the closed-form basis update of PG-ELLA.

With ``theta_j = L s_j`` and ``Gamma_j = s_j^T (x) I_d`` (printed once as ``s_j (x) I``, a dimension slip),
``vec(L s_j) = Gamma_j vec(L)`` and

* ``Gamma_j^T H_j Gamma_j = (s_j s_j^T) (x) H_j``,
* ``Gamma_j^T H_j alpha_j = s_j (x) (H_j alpha_j) = vec(H_j alpha_j s_j^T)``,

so the ridge problem ``min_L (1/T) sum_j ||alpha_j - L s_j||^2_{H_j} + mu2 ||L||_F^2`` is solved by
``vec(L) = (A / T + mu2 I)^{-1} b / T`` with ``A = sum_j (s_j s_j^T) (x) H_j`` and ``b = sum_j s_j (x) (H_j alpha_j)``.
``vec`` stacks columns (NumPy ``order="F"``); a row-major reshape would silently break these identities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg


def vec(matrix: np.ndarray) -> np.ndarray:
    """Stack the columns of a ``d x p`` matrix into a vector of length ``d p``."""
    return np.asarray(matrix, dtype=float).reshape(-1, order="F")


def mat(vector: np.ndarray, d: int, p: int) -> np.ndarray:
    """The inverse of `vec`: a length-``d p`` vector back to a ``d x p`` matrix."""
    vector = np.asarray(vector, dtype=float)
    if vector.shape != (d * p,):
        raise ValueError(f"mat: vector must have shape ({d * p},) for d={d}, p={p}; got {vector.shape}")
    return vector.reshape(d, p, order="F")


def gamma(s: np.ndarray, d: int) -> np.ndarray:
    """``Gamma = s^T (x) I_d`` (``d x d p``), so that ``Gamma vec(L) = L s``."""
    return np.kron(np.asarray(s, dtype=float).reshape(1, -1), np.eye(d))


def basis_normal_equations(
    coefficients: Sequence[np.ndarray], hessians: Sequence[np.ndarray], alphas: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``A = sum_j (s_j s_j^T) (x) H_j`` and ``b = sum_j s_j (x) (H_j alpha_j)`` over the given tasks."""
    if not (len(coefficients) == len(hessians) == len(alphas)) or not coefficients:
        raise ValueError("basis_normal_equations needs one (s, H, alpha) per task and at least one task")
    d, p = np.shape(hessians[0])[0], np.size(coefficients[0])
    a = np.zeros((d * p, d * p))
    b = np.zeros(d * p)
    for s, h, alpha in zip(coefficients, hessians, alphas, strict=True):
        s = np.asarray(s, dtype=float)
        a += np.kron(np.outer(s, s), h)
        b += np.kron(s, h @ alpha)
    return a, b


def ridge_basis(a: np.ndarray, b: np.ndarray, num_tasks: int, mu2: float, d: int, p: int) -> np.ndarray:
    """PG-ELLA's closed-form L step: ``L = mat((A / T + mu2 I)^{-1} b / T)`` (a Cholesky solve)."""
    if num_tasks < 1:
        raise ValueError(f"ridge_basis: num_tasks must be >= 1, got {num_tasks}")
    system = a / num_tasks + mu2 * np.eye(d * p)
    return mat(scipy.linalg.solve(system, b / num_tasks, assume_a="pos"), d, p)
