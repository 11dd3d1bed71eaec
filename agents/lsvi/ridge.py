"""Ridge regression statistics with incremental inverse and log-determinant: the linear algebra of every LSVI method.

For features φ_1..φ_n ∈ R^d the regularized Gram matrix is

    Λ = λ I + Σ_τ φ_τ φ_τᵀ                                          (paper 000 Algorithm 3; paper 001 Eq. 4)

and LSVI needs Λ⁻¹ (the ridge solution w = Λ⁻¹ Σ φ_τ y_τ and the elliptical bonus ‖φ‖_{Λ⁻¹}) and log det Λ (paper
001's synchronization tests). `RidgeStatistics` keeps Λ⁻¹ and log det Λ current under rank-k updates with the
Woodbury identity (Sherman–Morrison for k = 1) and the matrix determinant lemma, so adding k < d samples costs
O(k d² + k³) instead of the O(d³) of a fresh factorization (for k ≥ d the update refactorizes). SciPy has no
rank-k update of an inverse or of a Cholesky factor, so the update is written here; `RidgeStatistics.refresh`
recomputes both from Λ with a Cholesky factorization (``scipy.linalg.cho_factor``) and is what the direct path and
the tests compare against.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["RidgeStatistics", "elliptical_norm"]


def elliptical_norm(features: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """‖φ‖_{Λ⁻¹} = sqrt(φᵀ Λ⁻¹ φ) for every feature vector in ``features`` (shape ``(..., d)``), vectorized."""
    quad = np.einsum("...i,ij,...j->...", features, inverse, features, optimize=True)
    return np.sqrt(np.maximum(quad, 0.0))


class RidgeStatistics:
    """Λ = λI + Σφφᵀ, Λ⁻¹ and log det Λ, updated incrementally.

    Args:
        dim: the feature dimension d.
        lam: the ridge parameter λ > 0 (papers 000 and 001 use λ = 1).
        incremental: update Λ⁻¹ and log det Λ by Woodbury / the determinant lemma (default); ``False`` refactorizes
            Λ after every update (the direct solve, kept for checking and benchmarking).

    Attributes:
        gram: Σφφᵀ without the λI term, shape ``(d, d)``.
        inverse: Λ⁻¹, shape ``(d, d)``.
        logdet: log det Λ.
        count: number of feature vectors added.
    """

    def __init__(self, dim: int, lam: float = 1.0, *, incremental: bool = True) -> None:
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f"lam (the ridge parameter λ) must be a finite number > 0, got {lam!r}")
        self.dim = int(dim)
        self.lam = float(lam)
        self.incremental = bool(incremental)
        self.gram = np.zeros((self.dim, self.dim))
        self.inverse = np.eye(self.dim) / self.lam
        self.logdet = self.dim * float(np.log(self.lam))
        self.count = 0

    def copy(self) -> RidgeStatistics:
        """An independent copy."""
        other = RidgeStatistics(self.dim, self.lam, incremental=self.incremental)
        other.gram, other.inverse = self.gram.copy(), self.inverse.copy()
        other.logdet, other.count = self.logdet, self.count
        return other

    @property
    def matrix(self) -> np.ndarray:
        """Λ = λI + Σφφᵀ."""
        return self.gram + self.lam * np.eye(self.dim)

    def _check(self, features: np.ndarray) -> np.ndarray:
        phi = np.asarray(features, dtype=np.float64)
        if phi.ndim == 1:
            phi = phi[None, :]
        if phi.ndim != 2 or phi.shape[1] != self.dim:
            raise ValueError(f"features must have shape (d,) or (k, d) with d = {self.dim}, got {np.shape(features)}")
        if not np.all(np.isfinite(phi)):
            raise ValueError("features must be finite")
        return phi

    def update(self, features: np.ndarray) -> float:
        """Add the rows of ``features`` (shape ``(d,)`` or ``(k, d)``); returns the increase of log det Λ."""
        phi = self._check(features)
        if phi.shape[0] == 0:
            return 0.0
        before = self.logdet
        self.count += phi.shape[0]
        if phi.shape[0] == 1:
            row = phi[0]
            self.gram += np.outer(row, row)
            if not self.incremental:
                self.refresh()
                return self.logdet - before
            # Sherman–Morrison: (Λ + φφᵀ)⁻¹ = Λ⁻¹ − Λ⁻¹φφᵀΛ⁻¹ / (1 + φᵀΛ⁻¹φ); det lemma: log det += log(1 + φᵀΛ⁻¹φ).
            # With u = Λ⁻¹φ / sqrt(1 + φᵀΛ⁻¹φ) the correction uuᵀ is exactly symmetric in floating point.
            a_inv_phi = self.inverse @ row
            denom = 1.0 + float(row @ a_inv_phi)
            scaled = a_inv_phi / np.sqrt(denom)
            self.inverse -= np.outer(scaled, scaled)
            self.logdet += float(np.log(denom))
            return self.logdet - before
        self.gram += phi.T @ phi
        if not self.incremental or phi.shape[0] >= self.dim:
            self.refresh()                                                 # k ≥ d: one O(d³) factorization is cheaper
            return self.logdet - before
        # Woodbury: (Λ + ΦᵀΦ)⁻¹ = Λ⁻¹ − Λ⁻¹Φᵀ (I_k + ΦΛ⁻¹Φᵀ)⁻¹ ΦΛ⁻¹; log det += log det(I_k + ΦΛ⁻¹Φᵀ)
        a_inv_phi = self.inverse @ phi.T                                   # Λ⁻¹Φᵀ, (d, k)
        capacitance = np.eye(phi.shape[0]) + phi @ a_inv_phi
        factor = linalg.cho_factor(capacitance, lower=True)
        self.inverse -= a_inv_phi @ linalg.cho_solve(factor, a_inv_phi.T)
        self.inverse = 0.5 * (self.inverse + self.inverse.T)               # keep it exactly symmetric
        self.logdet += 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
        return self.logdet - before

    def merge(self, other: RidgeStatistics) -> None:
        """Add another statistics' Gram sum (a refactorization: a merge is a rank-d update)."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge statistics of dimension {other.dim} into dimension {self.dim}")
        self.gram += other.gram
        self.count += other.count
        self.refresh()

    def refresh(self) -> None:
        """Recompute Λ⁻¹ and log det Λ from Λ by a Cholesky factorization."""
        factor = linalg.cho_factor(self.matrix, lower=True)
        self.inverse = linalg.cho_solve(factor, np.eye(self.dim))
        self.logdet = 2.0 * float(np.sum(np.log(np.diag(factor[0]))))

    def solve(self, vector: np.ndarray) -> np.ndarray:
        """Λ⁻¹ b, the ridge solution for the response sum b = Σ φ_τ y_τ."""
        return self.inverse @ np.asarray(vector, dtype=np.float64)

    def bonus(self, features: np.ndarray) -> np.ndarray:
        """‖φ‖_{Λ⁻¹} for every feature vector in ``features`` (shape ``(..., d)``)."""
        return elliptical_norm(features, self.inverse)
