"""EWC-DQN: the penalty against its closed form, SB3 equivalence at λ = 0, and the Fisher against brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import DQN
from torch.nn import functional as F

from agents.sharing.ewc import EWCDQN

KW = {"learning_starts": 64, "buffer_size": 2_000, "batch_size": 16, "train_freq": 4, "target_update_interval": 100,
      "policy_kwargs": {"net_arch": [16]}, "device": "cpu"}


def _model(ewc_lambda: float = 100.0, seed: int = 0, steps: int = 300) -> EWCDQN:
    model = EWCDQN("MlpPolicy", gym.make("CartPole-v1"), ewc_lambda=ewc_lambda, seed=seed, **KW)
    model.learn(steps)
    return model


def _params(model: DQN) -> list[th.Tensor]:
    return [p.detach().clone() for p in model.q_net.parameters()]


def test_penalty_is_zero_at_the_anchor_and_before_consolidation() -> None:
    model = _model()
    assert model.ewc_penalty().item() == 0.0  # no Fisher yet
    model.consolidate(64)
    assert all(float(f.min()) >= 0 for f in model.fisher)  # type: ignore[union-attr]
    assert model.ewc_penalty().item() == 0.0


def test_penalty_equals_the_closed_form_and_its_gradient() -> None:
    model = _model(ewc_lambda=7.5)
    rng = np.random.default_rng(0)
    anchor = _params(model)
    fisher = [th.as_tensor(rng.uniform(0, 2, size=p.shape), dtype=th.float32) for p in anchor]
    model.set_fisher(fisher, anchor)
    deltas = [rng.normal(size=tuple(p.shape)) * 0.1 for p in anchor]
    with th.no_grad():
        for p, d in zip(model.q_net.parameters(), deltas, strict=True):
            p.add_(th.as_tensor(d, dtype=th.float32))
    moved = [p.detach().double().numpy() - a.double().numpy() for p, a in zip(model.q_net.parameters(), anchor, strict=True)]
    expected = 0.5 * 7.5 * sum(float((f.double().numpy() * m**2).sum()) for f, m in zip(fisher, moved, strict=True))
    model.q_net.zero_grad()
    penalty = model.ewc_penalty()
    assert penalty.item() == pytest.approx(expected, rel=1e-5)
    penalty.backward()
    for p, f, m in zip(model.q_net.parameters(), fisher, moved, strict=True):  # ∂/∂w = λ F (w - w*)
        np.testing.assert_allclose(p.grad.double().numpy(), 7.5 * f.double().numpy() * m, rtol=1e-4, atol=1e-7)


def test_penalty_grows_with_the_fisher_weighted_distance() -> None:
    model = _model()
    anchor = _params(model)
    fisher = [th.rand(p.shape, generator=th.Generator().manual_seed(1)) for p in anchor]
    model.set_fisher(fisher, anchor)
    direction = [th.randn(p.shape, generator=th.Generator().manual_seed(2)) for p in anchor]
    values = []
    for scale in (0.0, 0.05, 0.1, 0.2, 0.4):
        with th.no_grad():
            for p, a, d in zip(model.q_net.parameters(), anchor, direction, strict=True):
                p.copy_(a + scale * d)
        values.append(model.ewc_penalty().item())
    assert values[0] == 0.0 and all(b > a for a, b in itertools.pairwise(values))
    np.testing.assert_allclose(np.array(values[1:]) / values[1], [1, 4, 16, 64], rtol=1e-4)  # quadratic
    doubled = [2 * f for f in fisher]  # a larger Fisher weighs the same displacement more
    model.set_fisher(doubled, anchor)
    assert model.ewc_penalty().item() == pytest.approx(2 * values[-1], rel=1e-5)


def test_lambda_zero_trains_exactly_like_sb3_dqn() -> None:
    ours = _model(ewc_lambda=0.0, seed=3, steps=400)
    plain = DQN("MlpPolicy", gym.make("CartPole-v1"), seed=3, **KW)
    plain.learn(400)
    assert ours._n_updates == plain._n_updates > 0
    for a, b in zip(ours.q_net.parameters(), plain.q_net.parameters(), strict=True):
        assert th.equal(a, b)


def test_penalty_changes_training_once_a_fisher_is_set() -> None:
    base, pulled = _model(seed=4), _model(seed=4)
    anchor = [th.zeros_like(p) for p in pulled.q_net.parameters()]
    pulled.set_fisher([th.ones_like(p) for p in anchor], anchor)
    before = sum(float((p.detach() ** 2).sum()) for p in pulled.q_net.parameters())
    for model in (base, pulled):
        model.offline_train(50)
    after = sum(float((p.detach() ** 2).sum()) for p in pulled.q_net.parameters())
    assert after < before  # pulled towards the zero anchor
    assert any(not th.equal(a, b) for a, b in zip(base.q_net.parameters(), pulled.q_net.parameters(), strict=True))


def test_fisher_matches_brute_force_per_sample_gradients() -> None:
    model = _model()
    np.random.seed(0)  # SB3's replay sampling draws from NumPy's global generator
    fisher = model.fisher_diagonal(40)
    np.random.seed(0)
    data = model.replay_buffer.sample(40)
    with th.no_grad():
        next_q = model.q_net_target(data.next_observations).max(dim=1).values.reshape(-1, 1)
        targets = data.rewards + (1 - data.dones) * model.gamma * next_q
    sums = [th.zeros_like(p, dtype=th.float64) for p in model.q_net.parameters()]
    for i in range(40):
        model.q_net.zero_grad()
        q = model.q_net(data.observations[i : i + 1])[0, int(data.actions[i, 0])]
        F.smooth_l1_loss(q, targets[i, 0]).backward()
        for s, p in zip(sums, model.q_net.parameters(), strict=True):
            s += p.grad.double() ** 2
    for f, s in zip(fisher, sums, strict=True):
        np.testing.assert_allclose(f.double().numpy(), (s / 40).numpy(), rtol=1e-4, atol=1e-10)


def test_consolidation_accumulates_fisher_and_moves_the_anchor() -> None:
    model = _model()
    np.random.seed(1)
    first = model.fisher_diagonal(32)
    np.random.seed(2)
    second = model.fisher_diagonal(32)
    np.random.seed(1)
    model.consolidate(32)
    np.random.seed(2)
    model.consolidate(32)
    for total, a, b in zip(model.fisher, first, second, strict=True):  # type: ignore[arg-type]
        np.testing.assert_allclose(total.numpy(), (a + b).numpy(), rtol=1e-6)
    for w_star, p in zip(model.anchor, model.q_net.parameters(), strict=True):  # type: ignore[arg-type]
        assert th.equal(w_star, p.detach())


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="ewc_lambda"):
        EWCDQN("MlpPolicy", gym.make("CartPole-v1"), ewc_lambda=-1.0, **KW)
    model = EWCDQN("MlpPolicy", gym.make("CartPole-v1"), **KW)
    with pytest.raises(ValueError, match="replay buffer is empty"):
        model.consolidate(10)
    with pytest.raises(ValueError, match="fisher shapes"):
        model.set_fisher([th.zeros(3)], [th.zeros(3)])


def test_save_and_load_keep_lambda_fisher_and_anchor(tmp_path: Path) -> None:
    model = _model(ewc_lambda=3.0)
    model.consolidate(16)
    model.save(tmp_path / "ewc.zip")
    loaded = EWCDQN.load(tmp_path / "ewc.zip", device="cpu")
    assert loaded.ewc_lambda == 3.0
    for a, b in zip(model.fisher + model.anchor, loaded.fisher + loaded.anchor, strict=True):  # type: ignore[operator]
        assert th.equal(a, b)
