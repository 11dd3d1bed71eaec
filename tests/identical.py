"""Bitwise equality of nested results, for tests that require two runs to agree exactly."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def assert_identical(a: Any, b: Any, path: str = "value") -> None:
    """Recursive bitwise equality: same types, same array dtypes/shapes/bits, same keys in the same order."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{path}: arrays differ"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_identical(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{path}[{index}]")
    elif dataclasses.is_dataclass(a):
        assert_identical(dataclasses.asdict(a), dataclasses.asdict(b), path)
    elif isinstance(a, float | np.floating):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
