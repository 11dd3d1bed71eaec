"""Data of the federated family: scikit-learn's handwritten digits and their non-IID splits among clients.

``load_digits`` ships inside the scikit-learn wheel (1,797 images of 8×8 pixels, 10 classes; no download).
It is split once, stratified and with a fixed seed, into a client pool (1,197 images), an evaluation set (300,
the reward) and a test set (300). Tasks differ only in how the client pool is divided among clients.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

EVAL_SIZE = 300
TEST_SIZE = 300
N_CLASSES = 10


@dataclass(frozen=True, eq=False)
class DigitsSplit:
    """Features scaled to [0, 1] with a constant 1 appended (the bias input), and integer labels."""

    pool_x: np.ndarray
    pool_y: np.ndarray
    eval_x: np.ndarray
    eval_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


@functools.lru_cache(maxsize=1)
def digits_split() -> DigitsSplit:
    """The fixed pool / evaluation / test split of the digits data."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = np.hstack([digits.data / 16.0, np.ones((len(digits.data), 1))])
    y = digits.target.astype(np.int64)
    pool_x, rest_x, pool_y, rest_y = train_test_split(x, y, test_size=EVAL_SIZE + TEST_SIZE, stratify=y, random_state=0)
    eval_x, test_x, eval_y, test_y = train_test_split(rest_x, rest_y, test_size=TEST_SIZE, stratify=rest_y, random_state=0)
    return DigitsSplit(pool_x, pool_y, eval_x, eval_y, test_x, test_y)


def dirichlet_partition(labels: np.ndarray, n_clients: int, alpha: float, rng: np.random.Generator,
                        min_size: int = 10) -> list[np.ndarray]:
    """Split sample indices among clients with label proportions drawn from ``Dirichlet(alpha)`` (Hsu et al. 2019).

    For every class, the shares of its samples given to the clients are ``p ~ Dir(alpha * 1)``; small ``alpha``
    gives each client few classes, large ``alpha`` approaches an IID split. A client left with fewer than
    ``min_size`` samples receives random samples taken from the largest client, so every client can train.
    """
    parts: list[list[int]] = [[] for _ in range(n_clients)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        shares = rng.dirichlet(np.full(n_clients, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
        for client, chunk in enumerate(np.split(members, cuts)):
            parts[client].extend(chunk.tolist())
    for client in range(n_clients):
        while len(parts[client]) < min_size:
            donor = int(np.argmax([len(p) for p in parts]))
            taken = parts[donor].pop(int(rng.integers(len(parts[donor]))))
            parts[client].append(taken)
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def label_skew_partition(labels: np.ndarray, n_clients: int, rng: np.random.Generator,
                         minority_fraction: float = 0.2) -> list[np.ndarray]:
    """The paper's skewed split: 80% of the clients hold digits 0-5, the last 20% digits 6-9 (equal shares within each)."""
    minority = max(1, round(minority_fraction * n_clients))
    majority = n_clients - minority
    low = rng.permutation(np.flatnonzero(labels <= 5))
    high = rng.permutation(np.flatnonzero(labels >= 6))
    return [np.sort(c) for c in (*np.array_split(low, majority), *np.array_split(high, minority))]
