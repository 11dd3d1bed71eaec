"""The permutation-invariant network and SB3 policy, the Dirichlet on the simplex, and LSPI (paper 004)."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from scipy import stats

import mtenvs  # noqa: F401  (registers the environments)
from agents.perminv import (
    AllocationLSPI,
    DirichletDistribution,
    EntityEncoder,
    PermutationInvariantNet,
    PermutationInvariantPolicy,
    allocation_features,
    simplex_action_set,
)
from mtenvs.entities.allocation import allocation_reward, entropy_weights, optimal_allocation

ENCODERS = [
    {"kind": "mlp", "hidden": 6},
    {"kind": "rnn", "hidden": 5, "window": 3, "step_features": 2},
    {"kind": "gru", "hidden": 5, "window": 3, "step_features": 2},
    {"kind": "gru", "hidden": 4, "window": 2, "step_features": 3, "layout": "feature_major"},
]


def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every parameter (including the zero-initialised score head) random values, as after training."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))


def policy_for(m: int, n_features: int, encoder: dict) -> PermutationInvariantPolicy:
    observation_space = spaces.Box(-np.inf, np.inf, (m, n_features), np.float32)
    action_space = spaces.Box(0.0, 1.0, (m,), np.float32)
    return PermutationInvariantPolicy(observation_space, action_space, lambda _: 1e-3, features_extractor_kwargs=encoder)


@pytest.mark.parametrize("encoder", ENCODERS, ids=lambda e: f"{e['kind']}-{e.get('layout', 'step_major')}")
def test_network_is_permutation_equivariant_on_any_number_of_entities(encoder: dict) -> None:
    net = PermutationInvariantNet(7, **encoder)
    randomize(net)
    rng = np.random.default_rng(1)
    for m in (3, 8):
        rows = torch.as_tensor(rng.normal(size=(4, m, 7)), dtype=torch.float32)
        perm = torch.as_tensor(rng.permutation(m))
        weights = net(rows)
        assert torch.allclose(net(rows[:, perm]), weights[:, perm], atol=1e-6)
        assert torch.allclose(weights.sum(-1), torch.ones(4), atol=1e-6)
        assert not torch.allclose(weights, torch.full_like(weights, 1.0 / m))  # the check is not vacuous


def test_recurrent_layouts_read_the_same_window() -> None:
    step = EntityEncoder(7, kind="gru", hidden=4, window=3, step_features=2, layout="step_major")
    feature = EntityEncoder(7, kind="gru", hidden=4, window=3, step_features=2, layout="feature_major")
    feature.load_state_dict(step.state_dict())
    rows = torch.randn(2, 5, 7)
    window = rows[..., :6].reshape(2, 5, 3, 2)  # (time, feature) in step-major order
    transposed = torch.cat([window.transpose(-1, -2).reshape(2, 5, 6), rows[..., 6:]], dim=-1)
    assert torch.allclose(step(rows), feature(transposed), atol=1e-6)
    # the static column (e.g. the previous weight) is appended unchanged after the recurrent state
    assert torch.equal(step(rows)[..., -1], rows[..., -1])


def test_untrained_network_and_policy_allocate_uniformly() -> None:
    rows = torch.randn(3, 6, 7)
    assert torch.equal(PermutationInvariantNet(7, kind="gru", window=3, step_features=2)(rows), torch.full((3, 6), 1 / 6))
    policy = policy_for(6, 7, {"kind": "gru", "window": 3, "step_features": 2})
    actions, _ = policy.predict(rows.numpy(), deterministic=True)
    np.testing.assert_array_equal(actions, np.full((3, 6), 1 / 6, dtype=np.float32))


@pytest.mark.parametrize("encoder", ENCODERS[:3], ids=lambda e: e["kind"])
def test_policy_action_is_equivariant_and_value_and_density_invariant(encoder: dict) -> None:
    m = 5
    policy = policy_for(m, 7, encoder)
    randomize(policy, seed=3)
    rng = np.random.default_rng(2)
    obs = torch.as_tensor(rng.normal(size=(4, m, 7)), dtype=torch.float32)
    perm = torch.as_tensor(rng.permutation(m))
    actions = torch.as_tensor(rng.dirichlet(np.ones(m), size=4), dtype=torch.float32)
    with torch.no_grad():
        mean = policy.get_distribution(obs).mode()
        assert torch.allclose(policy.get_distribution(obs[:, perm]).mode(), mean[:, perm], atol=1e-6)
        values, log_prob, entropy = policy.evaluate_actions(obs, actions)
        values_p, log_prob_p, entropy_p = policy.evaluate_actions(obs[:, perm], actions[:, perm])
    assert torch.allclose(values, values_p, atol=1e-5)
    assert torch.allclose(log_prob, log_prob_p, atol=1e-4)
    assert torch.allclose(entropy, entropy_p, atol=1e-4)
    assert not torch.allclose(mean, torch.full_like(mean, 1 / m))


def test_dirichlet_matches_scipy_and_has_the_softmax_mean() -> None:
    scores = torch.tensor([[0.5, -1.0, 0.0, 2.0]])
    log_kappa = torch.tensor(np.log(3.0), dtype=torch.float32)
    dist = DirichletDistribution(4).proba_distribution(scores, log_kappa)
    concentration = 4 * 3.0 * torch.softmax(scores, -1)[0].numpy()
    x = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    assert float(dist.log_prob(torch.as_tensor(x)[None])) == pytest.approx(stats.dirichlet.logpdf(x, concentration), rel=1e-4)
    assert float(dist.entropy()) == pytest.approx(stats.dirichlet.entropy(concentration), rel=1e-4)
    torch.manual_seed(0)
    samples = torch.stack([dist.sample()[0] for _ in range(4000)])
    assert torch.allclose(samples.sum(-1), torch.ones(4000), atol=1e-5)
    assert torch.allclose(samples.mean(0), torch.softmax(scores, -1)[0], atol=0.01)
    assert torch.equal(dist.mode(), torch.softmax(scores, -1))


def test_policy_rejects_spaces_without_an_entity_axis() -> None:
    with pytest.raises(ValueError, match="n_entities, n_features"):
        PermutationInvariantPolicy(spaces.Box(0, 1, (6,)), spaces.Box(0, 1, (6,)), lambda _: 1e-3)
    with pytest.raises(ValueError, match="action space"):
        PermutationInvariantPolicy(spaces.Box(0, 1, (6, 2)), spaces.Box(0, 1, (5,)), lambda _: 1e-3)
    with pytest.raises(ValueError, match="kind"):
        EntityEncoder(4, kind="lstm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        EntityEncoder(4, kind="gru", window=3, step_features=2)


def test_ppo_trains_the_policy_on_the_allocation_env_and_round_trips() -> None:
    from stable_baselines3 import PPO

    from mtenvs.sb3 import make_vec_env

    venv = make_vec_env("mtenvs/EntityAllocation-v0", 2, task={"mismatch": 0.0}, seed=0)
    model = PPO(PermutationInvariantPolicy, venv, n_steps=64, batch_size=64, n_epochs=2, seed=0, device="cpu",
                policy_kwargs={"features_extractor_kwargs": {"kind": "mlp", "hidden": 8}})
    model.learn(128)
    obs = np.random.default_rng(0).uniform(size=(3, 10, 1)).astype(np.float32)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = PPO.load(buffer, device="cpu")
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    assert not np.allclose(model.predict(obs, deterministic=True)[0], 0.1)  # it moved away from uniform


# ------------------------------------------------------------------------------------------------- LSPI
def test_lspi_recovers_the_reward_coefficients_from_noise_free_samples() -> None:
    m, rng = 4, np.random.default_rng(0)
    betas = entropy_weights(0.3, 0.1, m)
    x, a = rng.uniform(size=(400, m)), rng.dirichlet(np.ones(m), size=400)
    lspi = AllocationLSPI(m, ridge=1e-10).fit(x, a, allocation_reward(x, a, betas))
    # the reward is φ^T θ* with θ* = (1, ..., 1, β_1, ..., β_m, 0, ..., 0)
    np.testing.assert_allclose(lspi.theta, np.concatenate([np.ones(m), betas, np.zeros(m)]), atol=1e-6)
    states = rng.uniform(size=(50, m))
    np.testing.assert_allclose(lspi.greedy(states), optimal_allocation(states, betas), atol=1e-6)


def test_lspi_greedy_without_concavity_beats_every_action_of_the_finite_set() -> None:
    m, rng = 3, np.random.default_rng(1)
    lspi = AllocationLSPI(m, action_set=simplex_action_set(m, size=200, seed=2))
    lspi.theta = rng.normal(size=3 * m)
    lspi.theta[m] = -0.5  # a negative entropy coefficient: not concave, the finite set is searched
    states = rng.uniform(size=(20, m))
    chosen = lspi.greedy(states)
    np.testing.assert_allclose(chosen.sum(axis=1), 1.0)
    for state, action in zip(states, chosen, strict=True):
        q = [lspi.q_values(state[None], candidate[None])[0] for candidate in lspi.action_set]  # brute force
        q_chosen = lspi.q_values(state[None], action[None])[0]
        assert q_chosen >= max(q) - 1e-12
        in_set = np.any(np.all(lspi.action_set == action, axis=1))
        assert in_set or q_chosen > max(q)


def test_lspi_with_discount_reaches_the_lstdq_fixed_point() -> None:
    m, rng = 3, np.random.default_rng(2)
    x, a, x_next = rng.uniform(size=(300, m)), rng.dirichlet(np.ones(m), size=300), rng.uniform(size=(300, m))
    r = allocation_reward(x, a, entropy_weights(0.2, 0.2, m))
    lspi = AllocationLSPI(m, gamma=0.5, ridge=1e-6, max_iterations=50).fit(x, a, r, x_next)
    phi, phi_next = allocation_features(x, a), allocation_features(x_next, lspi.greedy(x_next))
    # θ solves Φ^T (Φ θ − γ Φ' θ − r) + λ θ = 0 for the policy greedy with respect to θ itself
    residual = phi.T @ (phi @ lspi.theta - 0.5 * phi_next @ lspi.theta - r) + 1e-6 * lspi.theta
    assert np.max(np.abs(residual)) < 1e-6
    assert 1 < lspi.iterations < 50


def test_lspi_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="gamma"):
        AllocationLSPI(3, gamma=1.0)
    with pytest.raises(ValueError, match="fit"):
        AllocationLSPI(3).greedy(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="next_states"):
        AllocationLSPI(3, gamma=0.5).fit(np.zeros((2, 3)), np.full((2, 3), 1 / 3), np.zeros(2))


def test_allocation_env_runs_with_the_policy_network() -> None:
    env = gym.make("mtenvs/EntityAllocation-v0")
    obs, _ = env.reset(seed=0)
    net = PermutationInvariantNet(1, kind="mlp", hidden=4)
    weights = net(torch.as_tensor(obs)[None])[0].detach().numpy()
    _, _, _, _, info = env.step(weights)
    np.testing.assert_allclose(info["weights"], np.full(10, 0.1), atol=1e-7)
