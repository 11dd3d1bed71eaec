"""Linear time-invariant systems: exact discretization, batched stepping and finite-horizon LQR.

Shared by the linear control families (simple mass, double mass, helicopter) and used for the linearizations
of the nonlinear ones. Everything here is plain NumPy/SciPy on ``(n, n)`` / ``(n, m)`` matrices, or on stacks
of them with a leading batch axis.

Conventions: the state ``x`` has ``n`` entries and the input ``u`` has ``m``. The quadratic cost of one step is
``x' Q x + u' R u`` evaluated at the state in which the input is applied; a horizon of ``N`` steps costs
``sum_{t=0}^{N-1} (x_t' Q x_t + u_t' R u_t)`` with no terminal term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm


# ------------------------------------------------------------------------------------------------ discretization
def zero_order_hold(a: np.ndarray, b: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact discretization of ``x' = A x + B u`` with the input held constant over each step of ``dt`` seconds.

    Returns ``(A_d, B_d)`` with ``A_d = e^{A dt}`` and ``B_d = int_0^dt e^{A s} ds B``, both read off one matrix
    exponential of the block matrix ``[[A, B], [0, 0]] dt`` (Van Loan's method), which also covers singular ``A``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n, m = b.shape
    block = np.zeros((n + m, n + m))
    block[:n, :n] = a
    block[:n, n:] = b
    exponential = expm(block * dt)
    return exponential[:n, :n], exponential[:n, n:]


def step_batch(a_d: np.ndarray, b_d: np.ndarray, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``x_{t+1} = A_d x_t + B_d u_t`` for a batch: ``a_d (N, n, n)``, ``b_d (N, n, m)``, ``x (N, n)``, ``u (N, m)``."""
    return np.einsum("bij,bj->bi", a_d, x) + np.einsum("bij,bj->bi", b_d, u)


# ------------------------------------------------------------------------------------------------ LQR
@dataclass(frozen=True)
class LQRSolution:
    """The finite-horizon LQR solution.

    Attributes:
        gains: ``(N, m, n)``; the optimal input at step ``t`` is ``u_t = -gains[t] @ x_t``.
        cost_to_go: ``(N + 1, n, n)``; ``x' cost_to_go[t] x`` is the optimal cost of steps ``t..N-1`` from ``x``.
    """

    gains: np.ndarray
    cost_to_go: np.ndarray

    @property
    def horizon(self) -> int:
        """Number of steps ``N``."""
        return len(self.gains)


def finite_horizon_lqr(a_d: np.ndarray, b_d: np.ndarray, q: np.ndarray, r: np.ndarray, horizon: int,
                       terminal: np.ndarray | None = None) -> LQRSolution:
    """Backward Riccati recursion for ``min sum_{t<N} (x_t' Q x_t + u_t' R u_t) + x_N' P_N x_N``, ``P_N`` = ``terminal`` (0).

    ``P_t = Q + A' P_{t+1} A - A' P_{t+1} B (R + B' P_{t+1} B)^{-1} B' P_{t+1} A`` and
    ``K_t = (R + B' P_{t+1} B)^{-1} B' P_{t+1} A``; ``R`` must be positive definite.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    n, m = b_d.shape
    p = np.zeros((n, n)) if terminal is None else np.asarray(terminal, dtype=np.float64)
    cost_to_go = np.empty((horizon + 1, n, n))
    gains = np.empty((horizon, m, n))
    cost_to_go[horizon] = p
    for t in range(horizon - 1, -1, -1):
        pb = p @ b_d
        gain = np.linalg.solve(r + b_d.T @ pb, pb.T @ a_d)
        p = q + a_d.T @ p @ a_d - (a_d.T @ pb) @ gain
        p = 0.5 * (p + p.T)  # keep the recursion exactly symmetric against rounding
        gains[t] = gain
        cost_to_go[t] = p
    return LQRSolution(gains, cost_to_go)


def expected_quadratic(p: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> float:
    """``E[x' P x] = tr(P Sigma) + mu' P mu`` for ``x`` with mean ``mu`` and covariance ``Sigma``."""
    mean = np.asarray(mean, dtype=np.float64)
    return float(np.trace(p @ covariance) + mean @ p @ mean)


def uniform_box_moments(half_widths: np.ndarray, center: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the uniform distribution on ``center ± half_widths`` (variance ``b^2 / 3`` per axis)."""
    half_widths = np.asarray(half_widths, dtype=np.float64)
    mean = np.zeros_like(half_widths) if center is None else np.asarray(center, dtype=np.float64)
    return mean, np.diag(half_widths**2 / 3.0)


def closed_loop_peak_inputs(a_d: np.ndarray, b_d: np.ndarray, solution: LQRSolution, half_widths: np.ndarray) -> np.ndarray:
    """The largest ``|u_t|`` (per input channel) of the LQR policy over all starts in the box ``± half_widths``.

    Along the closed loop ``u_t = -K_t Phi_t x_0`` with ``Phi_t`` the closed-loop transition matrix, so each entry
    is linear in ``x_0`` and its maximum over the box is ``|K_t Phi_t| @ half_widths`` (attained at a corner).
    """
    n = a_d.shape[0]
    transition = np.eye(n)
    peak = np.zeros(b_d.shape[1])
    for gain in solution.gains:
        inputs = gain @ transition
        peak = np.maximum(peak, np.abs(inputs) @ half_widths)
        transition = (a_d - b_d @ gain) @ transition
    return peak
