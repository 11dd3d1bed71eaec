"""Seed derivation: one user seed gives independent, reproducible streams for tasks and for dynamics."""

from __future__ import annotations

import hashlib

import numpy as np

#: Tag mixed into the seed of the task stream, so that task draws never share a stream with the dynamics.
TASK_STREAM = 0x7A5C


def stable_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` that is the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def task_generator(seed: int | None) -> np.random.Generator:
    """The generator an environment draws its tasks from after ``reset(seed=seed)``.

    It is derived from ``seed`` but independent of the generator behind ``env.np_random``, so changing how
    many random numbers the policy or the dynamics consume never changes which tasks come.
    ``None`` gives a generator seeded from fresh entropy.
    """
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([TASK_STREAM, int(seed)])


def child_seeds(seed: int | None, n: int) -> list[int | None]:
    """``n`` independent integer seeds derived from ``seed`` (all ``None`` when ``seed`` is ``None``)."""
    if seed is None:
        return [None] * n
    states = np.random.SeedSequence(int(seed)).generate_state(n, dtype=np.uint64)
    return [int(s >> np.uint64(1)) for s in states]
