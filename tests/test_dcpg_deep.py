"""Deep DCPG: consensus through the Communicator, Eq. (9), W = I independence, determinism, the regularizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from agents.common.graphs import metropolis_weights, ring
from agents.dcpg.deep import DeepDCPG
from agents.dcpg.policies import negative_relative_entropy

ENV = "mtenvs/DroneNav-v0"
SMALL = {"n_envs": 1, "n_steps": 8, "learning_rate": 1e-3, "env_kwargs": {"image_shape": (8, 8), "max_episode_steps": 30}}
TASKS = [{"plan": "long"}, {"plan": "cloud"}, {"plan": "frogeyes"}, {"plan": "pyramid"}]


def make(n: int = 2, **kwargs: object) -> DeepDCPG:
    return DeepDCPG(ENV, TASKS[:n], **{**SMALL, "algo": "a2c", **kwargs})  # type: ignore[arg-type]


def scramble(dcpg: DeepDCPG, seed: int = 0) -> dict[int, torch.Tensor]:
    """Give every agent different parameters; returns them."""
    generator = torch.Generator().manual_seed(seed)
    vectors = {}
    for i in range(dcpg.num_agents):
        vectors[i] = dcpg.parameter_vector(i) + 0.1 * torch.randn(dcpg.parameter_vector(i).shape, generator=generator)
        dcpg.set_parameter_vector(i, vectors[i])
    return vectors


def test_uniform_weights_on_a_complete_graph_make_all_parameters_equal() -> None:
    dcpg = make(3, graph="complete", weights="uniform")
    vectors = scramble(dcpg)
    assert dcpg.consensus_error() > 0.01
    dcpg.consensus()
    mean = torch.stack(list(vectors.values())).mean(dim=0)
    for i in range(3):
        torch.testing.assert_close(dcpg.parameter_vector(i), mean, rtol=0, atol=1e-6)
    assert dcpg.consensus_error() < 1e-5
    size = mean.numel() * mean.element_size()
    stats = dcpg.communicator.stats
    assert stats.rounds == 1 and stats.messages == 6 and stats.bytes == 6 * size   # 3 edges, both directions


@pytest.mark.parametrize("mix", ["policy", "all"])
def test_critic_heads_are_mixed_only_with_mix_all(mix: str) -> None:
    dcpg = make(2, graph="complete", weights="uniform", mix=mix)
    critics = [agent.policy.value_net.weight for agent in dcpg.agents]
    actors = [agent.policy.action_net.weight for agent in dcpg.agents]
    with torch.no_grad():
        critics[0].add_(1.0)
        actors[0].add_(1.0)
    own = [c.detach().clone() for c in critics]
    actor_before = actors[1].detach().clone()
    dcpg.consensus()
    if mix == "all":
        torch.testing.assert_close(critics[0], critics[1])
        torch.testing.assert_close(critics[0], (own[0] + own[1]) / 2)
    else:
        assert torch.equal(critics[0], own[0]) and torch.equal(critics[1], own[1])
    torch.testing.assert_close(actors[0], actors[1])    # the actor is always part of theta
    torch.testing.assert_close(actors[1], actor_before + 0.5)


def test_identity_weights_leave_agents_independent_and_silent() -> None:
    dcpg = make(2, weights="identity")
    vectors = scramble(dcpg)
    dcpg.consensus()
    for i in range(2):
        assert torch.equal(dcpg.parameter_vector(i), vectors[i])
    # Training agent 0 among others gives exactly what training it alone gives.
    together = make(2, weights="identity", seed=3).learn(2)
    alone = DeepDCPG(ENV, TASKS[:1], **{**SMALL, "algo": "a2c", "weights": "identity", "seed": 3}).learn(2)  # type: ignore[arg-type]
    assert torch.equal(together.parameter_vector(0), alone.parameter_vector(0))
    assert together.communicator.stats.rounds == 0 and together.communicator.stats.bytes == 0


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_one_round_is_eq_9(algo: str) -> None:
    # theta_i^{k+1} = sum_j W_ij theta_j^k + (local step of agent i from theta_i^k); the local step is the same as
    # the isolated agent's, whose parameters after the round are theta_i^k + that step.
    dcpg, isolated = make(3, algo=algo, graph="ring", seed=5), make(3, algo=algo, weights="identity", seed=5)
    start = scramble(dcpg)
    scramble(isolated)
    dcpg.step()
    isolated.step()
    w = dcpg.weights
    for i in range(3):
        expected = sum(float(w[i, j]) * start[j] for j in range(3)) + (isolated.parameter_vector(i) - start[i])
        torch.testing.assert_close(dcpg.parameter_vector(i), expected, rtol=0, atol=1e-6)
    assert not torch.equal(isolated.parameter_vector(0), start[0])   # the local step did move the parameters


def test_mixing_contracts_disagreement_by_sigma_2() -> None:
    dcpg = make(4, graph="ring")   # lazy Metropolis on a 4-ring: sigma_2 = 0.5
    assert dcpg.second_eigenvalue == pytest.approx(0.5)
    np.testing.assert_allclose(dcpg.weights, metropolis_weights(ring(4), lazy=True))

    def disagreement() -> float:
        stacked = torch.stack(list(dcpg.parameter_vectors().values()))
        return float(torch.linalg.norm(stacked - stacked.mean(dim=0)))

    scramble(dcpg)
    before = disagreement()
    dcpg.consensus()
    assert disagreement() <= 0.5 * before + 1e-6


def test_same_seed_same_run() -> None:
    first, second = make(2, seed=11).learn(2), make(2, seed=11).learn(2)
    for i in range(2):
        assert torch.equal(first.parameter_vector(i), second.parameter_vector(i))
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in first.history]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in second.history]
    assert first.history[-1]["consensus_error"] > 0 and first.history[-1]["comm_rounds"] == 2
    other = make(2, seed=12).learn(2)
    assert not torch.equal(first.parameter_vector(0), other.parameter_vector(0))


def test_relative_entropy_regularizer_matches_scipy() -> None:
    logits = torch.tensor([[0.3, -1.2, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    log_probs = torch.log_softmax(logits, dim=-1)
    uniform = np.full(4, 0.25)
    expected = [-entropy(uniform, p) for p in log_probs.exp().numpy()]   # -KL(U || pi)
    np.testing.assert_allclose(negative_relative_entropy(log_probs).numpy(), expected, rtol=1e-6, atol=1e-7)
    # The policy reports it in place of SB3's entropy, so ent_coef * RE enters the loss.
    dcpg = make(1)
    policy = dcpg.agents[0].policy
    obs = torch.rand(5, 1, 8, 8)
    _, _, bonus = policy.evaluate_actions(obs, torch.zeros(5, dtype=torch.long))
    log_pi = policy.get_distribution(obs).distribution.logits
    torch.testing.assert_close(bonus, log_pi.mean(dim=-1) + np.log(25))
    assert (bonus <= 1e-6).all()


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="algo"):
        make(2, algo="sarsa")
    with pytest.raises(ValueError, match="graph"):
        make(2, graph="torus")
    with pytest.raises(ValueError, match="uniform_weights needs a complete graph"):
        make(4, graph="ring", weights="uniform")
    with pytest.raises(ValueError, match="not an edge"):
        make(4, graph="ring", weights=np.full((4, 4), 0.25))
    with pytest.raises(ValueError, match="regularizer"):
        make(2, regularizer="kl")


def test_reinforce_uses_plain_discounted_returns_and_round_trips() -> None:
    import io

    import gymnasium as gym

    from agents.dcpg.reinforce import Reinforce

    model = Reinforce("MlpPolicy", gym.make("CartPole-v1"), n_steps=60, gamma=0.9, seed=0, device="cpu")
    model.learn(60)
    buffer = model.rollout_buffer
    rewards, starts = buffer.rewards[:, 0], buffer.episode_starts[:, 0]
    expected, following = np.zeros(60), 0.0            # no baseline and no bootstrap: V = 0
    for t in reversed(range(60)):
        following = rewards[t] + (0.9 * following if t + 1 < 60 and not starts[t + 1] else 0.0)
        expected[t] = following
    assert starts[1:].any()                             # the rollout crosses an episode boundary
    np.testing.assert_allclose(buffer.returns[:, 0], expected, rtol=1e-5)
    saved = io.BytesIO()
    model.save(saved)
    saved.seek(0)
    loaded = Reinforce.load(saved, device="cpu")
    obs = np.zeros((3, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_drone_table_experiment_end_to_end(tmp_path: object) -> None:
    from mtenvs.runner import get, plan_run
    from mtenvs.runner.run import execute

    overrides = ["algos=reinforce", "rounds=1", "n_envs=1", "n_steps=8", "eval_episodes=1", "max_episode_steps=20"]
    document = execute(plan_run(get("003-dcpg-drone"), "quick", overrides=overrides, out=tmp_path / "run"))  # type: ignore[operator]
    summary = document["summary"]
    table = summary["tables"]["reinforce"]
    assert sorted(table["ours"]) == ["DCPG", "SA-0", "SA-1", "SA-2", "SA-3"]
    assert all(len(row) == 4 and all(0 < v <= 20 * 0.4 for v in row) for row in table["ours"].values())
    assert table["paper_sums"]["DCPG"] == 195.4 and table["paper"]["SA-1"][1] == 55.4
    best = max(v for k, v in table["ours_sums"].items() if k != "DCPG")
    assert summary["reinforce_ratio"]["mean"] == pytest.approx(table["ours_sums"]["DCPG"] / best)
    dcpg_unit = next(u for u in document["units"] if u["params"]["method"] == "dcpg")
    assert dcpg_unit["metrics"]["comm_bytes"] > 0 and dcpg_unit["metrics"]["sigma_2"] == pytest.approx(0.5)
