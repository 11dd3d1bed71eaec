"""What the LSVI reproductions share: the episode counts at which their curves are recorded."""

from __future__ import annotations

import numpy as np


def geometric_checkpoints(total: int, count: int, first: int = 10) -> list[int]:
    """About ``count`` distinct episode counts spaced geometrically from ``first`` to ``total`` (both included)."""
    return np.unique(np.geomspace(min(first, total), total, count).round().astype(int)).tolist()
