"""The federated-aggregation family: FedAvg equivalence, client models, splits and client permutations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from mtenvs.federated.data import digits_split, dirichlet_partition, label_skew_partition
from mtenvs.federated.env import client_split
from mtenvs.federated.model import accuracy, local_training

ENV_ID = "mtenvs/FedAggregation-v0"
TASK = {"alpha": 0.3, "split_seed": 7}


def client_data(task: dict, n_clients: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each client's unpadded (inputs, labels), recomputed from the partition functions."""
    data = digits_split()
    parts = dirichlet_partition(data.pool_y, n_clients, task["alpha"], np.random.default_rng(task["split_seed"]))
    return [(data.pool_x[p], data.pool_y[p]) for p in parts]


def gradient_descent(w: np.ndarray, x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> np.ndarray:
    """Plain full-batch gradient descent on one client's mean cross-entropy (no padding, no batching)."""
    onehot = np.eye(10)[y]
    for _ in range(steps):
        w = w - lr * x.T @ (softmax(x @ w, axis=1) - onehot) / len(y)
    return w


def test_uniform_weights_are_fedavg() -> None:
    env = gym.make(ENV_ID, task=TASK, rounds=4)
    env.reset(seed=0)
    clients = client_data(TASK)
    data = digits_split()
    global_model = np.zeros((65, 10))
    for _ in range(4):
        local = [gradient_descent(global_model, x, y, steps=5, lr=0.3) for x, y in clients]
        global_model = np.mean(local, axis=0)
        _, reward, terminated, _, _ = env.step(np.full(10, 0.5))
        np.testing.assert_allclose(env.unwrapped.global_model, global_model, atol=1e-12)
        assert reward == np.mean(np.argmax(data.eval_x @ global_model, axis=1) == data.eval_y)
    assert terminated


def test_size_weighted_reference_is_mcmahan_fedavg() -> None:
    from mtenvs.federated.env import FAMILY

    env = gym.make(ENV_ID, task=TASK, rounds=2)
    obs, _ = env.reset(seed=0)
    sizes = np.array([len(y) for _, y in client_data(TASK)])
    np.testing.assert_array_equal(env.unwrapped.client_sizes, sizes)
    local = env.unwrapped.local_models
    _, _, _, _, info = env.step(FAMILY.reference_policies["fedavg_by_size"]([TASK])(obs[None])[0])
    np.testing.assert_allclose(info["weights"], sizes / sizes.sum(), rtol=1e-6)
    np.testing.assert_allclose(env.unwrapped.global_model, np.tensordot(sizes / sizes.sum(), local, axes=1), rtol=1e-5)


def test_one_hot_weights_select_one_client_model() -> None:
    env = gym.make(ENV_ID, task=TASK)
    env.reset(seed=0)
    local = env.unwrapped.local_models.copy()
    action = np.zeros(10)
    action[3] = 1.0
    _, reward, _, _, info = env.step(action)
    np.testing.assert_array_equal(env.unwrapped.global_model, local[3])
    assert reward == info["client_accuracies"][3]


def test_a_client_model_fits_its_own_data() -> None:
    x, y = client_data(TASK)[0]
    w = local_training(np.zeros((1, 65, 10)), x[None], np.eye(10)[y][None], np.ones((1, len(y))), steps=300,
                       learning_rate=1.0)[0]
    assert accuracy(w, x, y) >= 0.97
    data = digits_split()  # and on all the data, softmax regression is as good as scikit-learn's
    central = local_training(np.zeros((1, 65, 10)), data.pool_x[None], np.eye(10)[data.pool_y][None],
                             np.ones((1, len(data.pool_y))), steps=300, learning_rate=1.0)[0]
    reference = LogisticRegression(max_iter=2000).fit(data.pool_x[:, :-1], data.pool_y).score(data.test_x[:, :-1], data.test_y)
    assert accuracy(central, data.test_x, data.test_y) >= min(0.9, reference - 0.03)


def test_federated_learning_improves_over_rounds() -> None:
    env = gym.make(ENV_ID, task=TASK)
    env.reset(seed=0)
    rewards = [env.step(np.ones(10))[1] for _ in range(50)]
    assert rewards[-1] > 0.85 and rewards[-1] > rewards[0]


def test_dirichlet_partition_properties() -> None:
    labels = digits_split().pool_y

    def label_entropy(alpha: float) -> float:
        parts = dirichlet_partition(labels, 10, alpha, np.random.default_rng(0))
        joined = np.concatenate(parts)
        assert len(joined) == len(labels) and len(np.unique(joined)) == len(labels)  # disjoint, complete
        assert min(len(p) for p in parts) >= 10
        freqs = [np.bincount(labels[p], minlength=10) / len(p) for p in parts]
        return float(np.mean([-(f[f > 0] * np.log(f[f > 0])).sum() for f in freqs]))

    assert label_entropy(0.1) < label_entropy(1.0) < label_entropy(100.0) < np.log(10)
    skew = label_skew_partition(labels, 10, np.random.default_rng(0))
    assert all(labels[p].max() <= 5 for p in skew[:8]) and all(labels[p].min() >= 6 for p in skew[8:])


def test_permuting_clients_permutes_models_and_keeps_the_aggregate() -> None:
    xs, ys, mask = client_split(0.3, 7, 10, "dirichlet")
    perm = np.random.default_rng(0).permutation(10)
    start = np.zeros((10, 65, 10))
    models = local_training(start, xs, ys, mask, 5, 0.3)
    models_p = local_training(start, xs[perm], ys[perm], mask[perm], 5, 0.3)
    np.testing.assert_allclose(models_p, models[perm], atol=1e-14)
    weights = np.random.default_rng(1).dirichlet(np.ones(10))
    np.testing.assert_allclose(np.tensordot(weights[perm], models_p, axes=1), np.tensordot(weights, models, axes=1),
                               atol=1e-14)


def test_observation_rows_are_client_features() -> None:
    env = gym.make(ENV_ID, task=TASK, history=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (10, 5)
    np.testing.assert_allclose(obs[:, -1], env.unwrapped.client_sizes / env.unwrapped.client_sizes.sum(), rtol=1e-6)
    assert np.all(obs[:, -2] == np.float32(0.1))
    first = obs[:, 0].copy()
    obs, *_ = env.step(np.arange(10.0))
    np.testing.assert_allclose(obs[:, -2], np.arange(10.0) / 45, rtol=1e-6)
    np.testing.assert_allclose(obs[:, 1], first, rtol=1e-6)  # the history shifted by one round ...
    data = digits_split()  # ... and ends with the accuracies of the new local models
    np.testing.assert_allclose(obs[:, 2], accuracy(env.unwrapped.local_models, data.eval_x, data.eval_y), rtol=1e-6)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="partition"):
        gym.make(ENV_ID, partition="iid")
    with pytest.raises(ValueError, match="n_clients"):
        gym.make(ENV_ID, n_clients=1)
    with pytest.raises(ValueError, match="learning_rate"):
        gym.make(ENV_ID, learning_rate=0.0)
    with pytest.raises(ValueError, match="alpha"):
        gym.make(ENV_ID, task={"alpha": 0.0})
