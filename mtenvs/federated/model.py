"""The client model of the federated family: multinomial logistic (softmax) regression in NumPy.

All clients are trained at once: their data are padded to a common length and masked, so one local step of
every client is two batched matrix products. The parameters of client ``i`` are ``W[i]`` of shape
``(features + 1, classes)`` (the inputs carry a constant 1 for the bias). Local training is full-batch gradient
descent on the mean cross-entropy, which keeps a round deterministic given the data.
"""

from __future__ import annotations

import numpy as np


def pad_clients(x: np.ndarray, y: np.ndarray, parts: list[np.ndarray], n_classes: int) -> tuple[np.ndarray, ...]:
    """``(X, Y, mask)``: client inputs ``(N, n_max, d)``, one-hot labels ``(N, n_max, classes)`` and a 0/1 mask."""
    n_max = max(len(p) for p in parts)
    xs = np.zeros((len(parts), n_max, x.shape[1]))
    ys = np.zeros((len(parts), n_max, n_classes))
    mask = np.zeros((len(parts), n_max))
    for i, p in enumerate(parts):
        xs[i, :len(p)] = x[p]
        ys[i, np.arange(len(p)), y[p]] = 1.0
        mask[i, :len(p)] = 1.0
    return xs, ys, mask


def local_training(weights: np.ndarray, xs: np.ndarray, ys: np.ndarray, mask: np.ndarray, steps: int,
                   learning_rate: float) -> np.ndarray:
    """``steps`` gradient steps of every client from its own start ``weights`` (shape ``(N, d, classes)``)."""
    counts = mask.sum(axis=1)[:, None, None]
    xs_t = np.ascontiguousarray(xs.transpose(0, 2, 1))
    w = weights.copy()
    for _ in range(steps):
        # The softmax is written out (in place) because scipy.special.softmax's input checks cost more than the
        # arithmetic at this size, and a round runs many of them.
        logits = xs @ w
        logits -= logits.max(axis=-1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=-1, keepdims=True)
        logits -= ys
        logits *= mask[..., None]
        w -= (learning_rate / counts) * (xs_t @ logits)
    return w


def accuracy(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Accuracy of one model ``(d, classes)`` or of a stack of models ``(N, d, classes)`` on ``(x, y)``."""
    predictions = np.argmax(x @ weights, axis=-1)
    return (predictions == y).mean(axis=-1)
