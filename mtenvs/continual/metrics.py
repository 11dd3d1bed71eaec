"""Continual-learning metrics of a performance matrix, with confidence intervals over seeds.

Notation: ``T`` tasks trained in order; ``R[i, j]`` is the (normalized) performance on task ``j`` after training on
task ``i`` (row ``i`` is measured at step ``(i + 1) * budget``). The definitions are those of Continual World
(Wołczyk et al., "Continual World: A Robotic Benchmark For Continual Reinforcement Learning", NeurIPS 2021, §3.2)
and, for the matrix-only ones, of Lopez-Paz & Ranzato ("Gradient Episodic Memory for Continual Learning", NeurIPS
2017, §4):

* average performance at the end: ``A = (1/T) sum_j R[T-1, j]`` (Lopez-Paz & Ranzato's ACC, Continual World's
  average performance at the end of training);
* forgetting of task ``i < T-1``: ``F_i = R[i, i] - R[T-1, i]`` (Continual World's ``F_i``), averaged over the
  ``T - 1`` tasks that have a later task; this is minus Lopez-Paz & Ranzato's backward transfer (BWT). The last
  task cannot be forgotten and is left out of the average;
* forward transfer of task ``i``: ``FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b)`` (Continual World's definition), where
  ``AUC_i`` is the area under task ``i``'s normalized performance curve while it is trained (mean over the budget,
  trapezoidal rule over the evaluation points) and ``AUC_i^b`` the same for a reference learner trained from
  scratch on task ``i`` alone with the same budget. With scores normalized so that 1 is the task's optimum,
  ``1 - AUC_i^b`` is the room the reference left, and ``FT_i`` the fraction of it the continual learner closed
  (negative when it did worse). Undefined (NaN) when ``1 - AUC_i^b < 1e-3``;
* zero-shot forward transfer (Lopez-Paz & Ranzato's FWT): ``(1/(T-1)) sum_{i>=1} R[i-1, i] - b_i`` with ``b_i`` the
  performance on task ``i`` before any training.

Intervals follow rliable (Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
NeurIPS 2021): a per-seed × per-task score matrix, the mean over tasks of the mean over seeds, and a 95% percentile
interval from the stratified bootstrap (runs resampled with replacement within each task, as
``rliable.library.get_interval_estimates`` does by default; computed here with NumPy). One seed gives a point
interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.integrate import trapezoid

__all__ = [
    "area_under_curve",
    "average_performance",
    "backward_transfer",
    "forgetting",
    "forward_transfer",
    "interval_estimate",
    "per_task_forgetting",
    "per_task_forward_transfer",
    "zero_shot_transfer",
]


def _matrix(performance: Any) -> np.ndarray:
    matrix = np.asarray(performance, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"performance must be a square T x T matrix, got shape {matrix.shape}")
    return matrix


def average_performance(performance: Any) -> float:
    """``(1/T) sum_j R[T-1, j]``: the mean performance over all tasks after the last one was trained."""
    return float(np.mean(_matrix(performance)[-1]))


def per_task_forgetting(performance: Any) -> np.ndarray:
    """``R[i, i] - R[T-1, i]`` for ``i = 0 .. T-2`` (empty for one task)."""
    matrix = _matrix(performance)
    diagonal = np.diag(matrix)[:-1]
    return diagonal - matrix[-1, :-1]


def forgetting(performance: Any) -> float:
    """Mean forgetting over the tasks that have a later task (``0.0`` for a single task)."""
    values = per_task_forgetting(performance)
    return float(values.mean()) if len(values) else 0.0


def backward_transfer(performance: Any) -> float:
    """Lopez-Paz & Ranzato's BWT, ``(1/(T-1)) sum_{i<T-1} R[T-1, i] - R[i, i]`` (minus `forgetting`)."""
    return -forgetting(performance)


def zero_shot_transfer(performance: Any, before: Sequence[float]) -> float:
    """Lopez-Paz & Ranzato's FWT: ``(1/(T-1)) sum_{i>=1} R[i-1, i] - b_i`` (``0.0`` for a single task).

    Args:
        performance: the ``T x T`` matrix.
        before: ``b_i``, the performance on each task before any training (length ``T``).
    """
    matrix = _matrix(performance)
    b = np.asarray(before, dtype=float)
    if b.shape != (matrix.shape[0],):
        raise ValueError(f"before must have one value per task ({matrix.shape[0]}), got shape {b.shape}")
    if matrix.shape[0] == 1:
        return 0.0
    return float(np.mean([matrix[i - 1, i] - b[i] for i in range(1, matrix.shape[0])]))


def area_under_curve(steps: Sequence[float], scores: Sequence[float]) -> float:
    """The mean of a performance curve over its span of steps (trapezoidal rule); one point gives that point."""
    x = np.asarray(steps, dtype=float)
    y = np.asarray(scores, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"steps and scores must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    if len(x) == 1 or x[-1] == x[0]:
        return float(y.mean())
    if np.any(np.diff(x) < 0):
        raise ValueError("steps must be non-decreasing")
    return float(trapezoid(y, x) / (x[-1] - x[0]))


def per_task_forward_transfer(auc: Sequence[float], reference_auc: Sequence[float]) -> np.ndarray:
    """Continual World's ``FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b)``; NaN where ``1 - AUC_i^b < 1e-3``."""
    a = np.asarray(auc, dtype=float)
    b = np.asarray(reference_auc, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"auc and reference_auc must be 1-D of one length, got shapes {a.shape} and {b.shape}")
    room = 1.0 - b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(room >= 1e-3, (a - b) / room, np.nan)


def forward_transfer(auc: Sequence[float], reference_auc: Sequence[float]) -> float:
    """Mean of `per_task_forward_transfer` over the tasks where it is defined (NaN if none is)."""
    values = per_task_forward_transfer(auc, reference_auc)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def interval_estimate(scores: Any, *, reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean over tasks of per-task means over seeds, with rliable's stratified-bootstrap 95% interval.

    Args:
        scores: a ``seeds x tasks`` matrix (NaN entries, e.g. undefined forward transfer, are left out: a task's
            runs are resampled among its defined entries).
        reps: bootstrap resamples.
        seed: seeds the bootstrap.

    Returns:
        ``{"mean", "low", "high", "seeds", "tasks"}`` (``None`` for every number if no entry is defined).
    """
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"scores must be a seeds x tasks matrix, got shape {matrix.shape}")
    result: dict[str, Any] = {"mean": None, "low": None, "high": None, "seeds": int(matrix.shape[0]),
                              "tasks": int(matrix.shape[1])}
    matrix = matrix[:, ~np.all(np.isnan(matrix), axis=0)]
    if matrix.size == 0:
        return result
    mean = float(np.mean(np.nanmean(matrix, axis=0)))
    result["mean"] = mean
    if matrix.shape[0] == 1:
        result["low"] = result["high"] = mean
        return result
    rng = np.random.default_rng(seed)
    task_means = np.empty((reps, matrix.shape[1]))
    for j in range(matrix.shape[1]):
        column = matrix[:, j][~np.isnan(matrix[:, j])]
        task_means[:, j] = column[rng.integers(0, len(column), size=(reps, len(column)))].mean(axis=1)
    low, high = np.percentile(task_means.mean(axis=1), [2.5, 97.5])
    result["low"], result["high"] = float(low), float(high)
    return result


def summarize(per_seed: Mapping[str, Sequence[Sequence[float]]], *, reps: int = 2000) -> dict[str, dict[str, Any]]:
    """`interval_estimate` of each metric's ``seeds x tasks`` matrix."""
    return {name: interval_estimate(values, reps=reps) for name, values in per_seed.items()}
