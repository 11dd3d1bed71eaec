"""Actions that are allocations: weights on the probability simplex, shared by the families that allocate a budget
(entities, portfolio assets, federated clients)."""

from __future__ import annotations

import numpy as np

__all__ = ["normalize_allocation"]


def normalize_allocation(action: np.ndarray) -> np.ndarray:
    """Weights ``a / sum(a)`` along the last axis, negative entries clipped to 0; all-zero rows become uniform."""
    clipped = np.clip(action, 0.0, None)
    total = clipped.sum(axis=-1, keepdims=True)
    uniform = np.full_like(clipped, 1.0 / clipped.shape[-1])
    return np.where(total > 0, clipped / np.where(total > 0, total, 1.0), uniform)
