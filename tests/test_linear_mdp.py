"""Linear MDP families: exact DP against loops and Monte Carlo, the linear structure, c_Sep and ξ bounds, the MMDP."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test
from pettingzoo.test.seed_test import parallel_seed_test

import mtenvs
from mtenvs.core.task import Task
from mtenvs.linear.contextual import FAMILY as CONTEXTUAL
from mtenvs.linear.model import LinearMDP
from mtenvs.linear.multiagent import FAMILY as MULTIAGENT
from mtenvs.linear.multiagent import parallel_env
from mtenvs.linear.parallel import HOMOGENEOUS, LARGE, SMALL, heterogeneity_rank

LINEAR_IDS = [env_id for env_id in mtenvs.env_ids() if "Linear" in env_id]


def sample_models() -> list[tuple[str, LinearMDP]]:
    """One model of every family, plus a larger contextual task and a scalarized MMDP."""
    return [
        ("contextual", CONTEXTUAL.model(CONTEXTUAL.task(task_index=3))),
        ("contextual-large", CONTEXTUAL.model({"num_tasks": 8, "c_sep": 0.3, "n_states": 7, "horizon": 4})),
        ("homogeneous", HOMOGENEOUS.model({"instance": 5})),
        ("small", SMALL.model({"agent": 2})),
        ("large", LARGE.model({"agent": 1, "chi": 2})),
        ("mmdp", MULTIAGENT.model({}).scalarized([0.3, 0.7])),
    ]


MODELS = sample_models()


def loop_values(model: LinearMDP, probs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Q and V by plain nested loops over h, s, a, s' (max over actions, or the expectation under ``probs``)."""
    horizon, n_states, n_actions = model.horizon, model.n_states, model.n_actions
    v = [[0.0] * n_states for _ in range(horizon + 1)]
    q = [[[0.0] * n_actions for _ in range(n_states)] for _ in range(horizon)]
    for h in reversed(range(horizon)):
        for s in range(n_states):
            for a in range(n_actions):
                total = float(model.rewards[h, s, a])
                for s_next in range(n_states):
                    total += float(model.transitions[h, s, a, s_next]) * v[h + 1][s_next]
                q[h][s][a] = total
            if probs is None:
                v[h][s] = max(q[h][s])
            else:
                v[h][s] = sum(float(probs[h, s, a]) * q[h][s][a] for a in range(n_actions))
    return np.array(q), np.array(v)


# ------------------------------------------------------------------------------------------ exact DP
@pytest.mark.parametrize(("label", "model"), MODELS, ids=[label for label, _ in MODELS])
def test_dp_matches_loop_value_iteration(label: str, model: LinearMDP) -> None:
    q, v = loop_values(model)
    np.testing.assert_allclose(model.optimal_q(), q, atol=1e-12)
    np.testing.assert_allclose(model.optimal_v(), v, atol=1e-12)
    assert model.optimal_value() == pytest.approx(v[0, model.start_state], abs=1e-12)
    probs = np.random.default_rng(0).dirichlet(np.ones(model.n_actions), size=(model.horizon, model.n_states))
    q_pi, v_pi = loop_values(model, probs)
    np.testing.assert_allclose(model.policy_q(probs), q_pi, atol=1e-12)
    assert model.policy_value(probs) == pytest.approx(v_pi[0, model.start_state], abs=1e-12)
    assert model.policy_value(probs) <= model.optimal_value() + 1e-12
    assert model.policy_value(model.greedy_policy(model.optimal_q())) == pytest.approx(model.optimal_value(), abs=1e-12)


def test_dp_matches_brute_force_over_deterministic_policies() -> None:
    """On a 2-state, 2-action, 2-step model, V* is the best of all 2^4 deterministic policies."""
    model = HOMOGENEOUS.model({"n_states": 2, "n_actions": 2, "horizon": 2, "dim": 3, "instance": 7})
    values = [model.policy_value(np.array(actions).reshape(2, 2)) for actions in itertools.product(range(2), repeat=4)]
    assert model.optimal_value() == pytest.approx(max(values), abs=1e-12)


@pytest.mark.parametrize("env_id", LINEAR_IDS)
def test_monte_carlo_returns_match_exact_values(env_id: str) -> None:
    fam = mtenvs.family_of(env_id)
    task = fam.task_set("train")[0]
    model = fam.model(task)
    policies = {"optimal": model.optimal_policy(), "constant": np.zeros((model.horizon, model.n_states), dtype=np.int64)}
    env = gym.make(env_id, task=task)
    for name, policy in policies.items():
        returns = []
        obs, info = env.reset(seed=1)
        for _ in range(1500):
            total, done = 0.0, False
            while not done:
                state, step = int(obs[0]), int(obs[1])
                np.testing.assert_array_equal(info["features"], model.features[state])  # φ(s, ·) of the observed state
                obs, reward, done, _, info = env.step(int(policy[step, state]))
                total += reward
            returns.append(total)
            obs, info = env.reset()
        mean, error = np.mean(returns), np.std(returns) / np.sqrt(len(returns))
        assert abs(mean - model.policy_value(policy)) < 4 * error + 1e-9, (name, mean, model.policy_value(policy))
    assert fam.optimal_value(task) == pytest.approx(model.optimal_value())


def test_optimal_value_under_a_shorter_time_limit() -> None:
    task = CONTEXTUAL.task(task_index=1)
    model = CONTEXTUAL.model(task)
    short = LinearMDP(model.features, model.transitions[:3], model.rewards[:3], model.start_state)
    assert CONTEXTUAL.optimal_value(task, max_episode_steps=3) == pytest.approx(loop_values(short)[1][0, 0], abs=1e-12)
    assert CONTEXTUAL.optimal_value(task, max_episode_steps=50) == pytest.approx(model.optimal_value())


# ------------------------------------------------------------------------------------ linear structure
@pytest.mark.parametrize(("label", "model"), MODELS, ids=[label for label, _ in MODELS])
def test_transitions_and_rewards_are_linear_in_the_features(label: str, model: LinearMDP) -> None:
    assert model.mu is not None and model.theta is not None
    np.testing.assert_allclose(model.transitions.sum(axis=-1), 1.0, atol=1e-12)
    assert model.transitions.min() >= 0 and model.rewards.min() >= 0 and model.rewards.max() <= 1
    for h, s, a in itertools.product(range(model.horizon), range(model.n_states), range(model.n_actions)):
        phi = model.features[s, a]
        np.testing.assert_allclose(model.transitions[h, s, a], phi @ model.mu[h], atol=1e-12)
        assert model.rewards[h, s, a] == pytest.approx(phi @ model.theta[h], abs=1e-12)
    assert np.linalg.norm(model.features, axis=-1).max() <= 1 + 1e-12


def test_models_are_deterministic_functions_of_json_tasks() -> None:
    task = SMALL.task(agent=3, instance=12)
    model = SMALL.model(task)
    copy = type(SMALL)(SMALL.name, SMALL.parameters)  # a fresh family: nothing cached
    rebuilt = copy.model(Task.from_json(task.to_json()))
    assert rebuilt is not model
    for name in ("features", "transitions", "rewards", "mu", "theta"):
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(model, name))
    assert SMALL.model(task) is model  # cached


def test_inconsistent_models_and_policies_are_rejected() -> None:
    model = HOMOGENEOUS.model({})
    bad = np.array(model.transitions)
    bad[0, 0, 0] *= 0.5
    with pytest.raises(ValueError, match="probability distribution"):
        LinearMDP(model.features, bad, model.rewards, 0)
    with pytest.raises(ValueError, match="φ·μ"):
        LinearMDP(model.features, model.transitions[:, :, :, ::-1], model.rewards, 0, mu=model.mu)
    with pytest.raises(ValueError, match="start_state"):
        LinearMDP(model.features, model.transitions, model.rewards, model.n_states)
    with pytest.raises(ValueError, match="policy"):
        model.policy_value(np.zeros((model.horizon, 3), dtype=int))
    with pytest.raises(ValueError, match="actions"):
        model.policy_value(np.full((model.horizon, model.n_states), model.n_actions))


def test_env_rejects_tasks_of_other_sizes_and_keeps_its_task() -> None:
    env = gym.make("mtenvs/LinearMDP-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="n_states"):
        env.reset(options={"task": {"n_states": 12}})
    _, info = env.reset()
    assert info["task"] == HOMOGENEOUS.default_task()


# --------------------------------------------------------------------------------------- paper 000: c_Sep
@pytest.mark.parametrize("overrides", [{}, {"num_tasks": 10, "c_sep": 0.4}, {"num_tasks": 3, "c_sep": 1.5, "instance": 9}])
def test_contextual_tasks_are_separated_by_c_sep(overrides: dict) -> None:
    first = CONTEXTUAL.task(overrides)
    tasks = CONTEXTUAL.tasks_of(first)
    values = [loop_values(CONTEXTUAL.model(task))[1][0, 0] for task in tasks]
    gaps = [abs(a - b) for a, b in itertools.combinations(values, 2)]
    assert len(tasks) == first["num_tasks"] and min(gaps) > first["c_sep"]
    features = [CONTEXTUAL.feature_map(task) for task in tasks]
    assert all(np.array_equal(features[0], f) for f in features)  # one known φ (Assumption 1)


def test_contextual_task_set_and_invalid_tasks() -> None:
    named = CONTEXTUAL.task_set("contextual")
    assert [t["task_index"] for t in named] == list(range(CONTEXTUAL.default_task()["num_tasks"]))
    with pytest.raises(ValueError, match="task_index"):
        CONTEXTUAL.task(task_index=7)
    with pytest.raises(ValueError, match="c_sep"):
        CONTEXTUAL.task(num_tasks=10, c_sep=0.6)
    obs, _ = gym.make("mtenvs/LinearContextual-v0", tasks="contextual").reset(seed=0)
    assert obs.tolist() == [0, 0]  # the observation is the state and step only, never the task index


# ------------------------------------------------------------------------------------ paper 001: ξ and κ
@pytest.mark.parametrize("xi", [0.0, 0.02, 0.2])
def test_small_heterogeneity_gaps_are_at_most_xi(xi: float) -> None:
    models = [SMALL.model({"xi": xi, "agent": m, "instance": 4}) for m in range(6)]
    tv, gap = 0.0, 0.0
    for first, second in itertools.combinations(models, 2):
        for h, s, a in itertools.product(range(first.horizon), range(first.n_states), range(first.n_actions)):
            tv = max(tv, 0.5 * sum(abs(p - q) for p, q in zip(first.transitions[h, s, a], second.transitions[h, s, a],
                                                              strict=True)))
            gap = max(gap, abs(first.rewards[h, s, a] - second.rewards[h, s, a]))
    assert tv <= xi + 1e-12 and gap <= xi + 1e-12
    if xi > 0:
        assert tv > xi / 4 and gap > xi / 4  # the agents do differ, on the scale of ξ
    else:
        assert tv == 0 and gap == 0


def test_large_heterogeneity_contexts() -> None:
    agents = [LARGE.task(agent=m, chi=2, context_dim=4) for m in range(8)]
    models = [LARGE.model(task) for task in agents]
    d, rho = agents[0]["dim"], agents[0]["rho"]
    contexts = np.array([LARGE.kappa(task) for task in agents])
    assert heterogeneity_rank(contexts) == 2 and np.allclose(contexts.sum(axis=1), 1.0)
    for task, model in zip(agents, models, strict=True):
        assert model.dim == d + 4
        np.testing.assert_allclose(model.features[..., d:], np.broadcast_to(rho * LARGE.kappa(task), (10, 4, 4)))
        np.testing.assert_allclose(model.features[..., :d], models[0].features[..., :d])
        np.testing.assert_allclose(model.features.sum(axis=-1), 1.0)  # φ̃ on the simplex
    assert len({round(m.optimal_value(), 9) for m in models}) == len(models)  # contexts change the MDP
    with pytest.raises(ValueError, match="chi"):
        LARGE.task(chi=5, context_dim=3)


def test_info_features_of_the_large_heterogeneity_env() -> None:
    task = LARGE.task(agent=5)
    env = gym.make("mtenvs/LinearLargeHeterogeneity-v0", task=task)
    _, info = env.reset(seed=0)
    assert info["features"].shape == (4, 8)
    np.testing.assert_allclose(info["features"][:, 5:], np.tile(LARGE.context(task), (4, 1)))


# ---------------------------------------------------------------------------------------------- the MMDP
def single_reward_optimum(model, agent: int) -> float:
    """Agent ``agent``'s optimal value on its own reward, by loops over joint states and actions."""
    v = np.zeros(model.n_states)
    for h in reversed(range(model.horizon)):
        v = np.array([max(model.rewards[h, x, a, agent] + model.transitions[h, x, a] @ v for a in range(model.n_actions))
                      for x in range(model.n_states)])
    return float(v[model.start_state])


@pytest.mark.parametrize("overrides", [{}, {"n_agents": 3, "local_states": 2, "instance": 3}])
def test_pareto_values_of_unit_weights_are_single_agent_optima(overrides: dict) -> None:
    model = MULTIAGENT.model(overrides)
    n = model.n_agents
    for m in range(n):
        assert model.pareto_value(np.eye(n)[m]) == pytest.approx(single_reward_optimum(model, m), abs=1e-12)
    rng = np.random.default_rng(0)
    policies = [model.scalarized(np.eye(n)[m]).optimal_policy() for m in range(n)]
    for v in rng.dirichlet(np.ones(n), size=5):
        best = model.pareto_value(v)
        assert all(v @ model.agent_values(p) <= best + 1e-12 for p in policies)         # V*_v dominates
        assert best <= sum(v[m] * model.pareto_value(np.eye(n)[m]) for m in range(n)) + 1e-12   # convexity in v
    with pytest.raises(ValueError, match="weights"):
        model.pareto_value([0.7, 0.7][:n] + [0.0] * (n - 2))


def test_multiagent_env_passes_pettingzoo_tests() -> None:
    parallel_api_test(parallel_env(), num_cycles=50)
    parallel_seed_test(lambda: parallel_env({"n_agents": 3, "local_states": 2}))


def test_multiagent_env_rewards_and_features_match_the_model() -> None:
    env = parallel_env({"n_agents": 2, "instance": 1})
    model = env.model
    observations, infos = env.reset(seed=3)
    rng = np.random.default_rng(0)
    while env.agents:
        joint_state = model.joint_state(observations["agent_0"][:2])
        step = int(observations["agent_0"][2])
        assert infos["agent_1"]["joint_state"] == joint_state
        np.testing.assert_array_equal(infos["agent_1"]["features"], model.feature_matrix[joint_state])
        actions = {agent: int(rng.integers(model.local_actions)) for agent in env.agents}
        joint = model.joint_action([actions["agent_0"], actions["agent_1"]])
        observations, rewards, terminations, _, infos = env.step(actions)
        assert [rewards["agent_0"], rewards["agent_1"]] == pytest.approx(model.rewards[step, joint_state, joint])
        assert infos["agent_0"]["joint_action"].tolist() == [actions["agent_0"], actions["agent_1"]]
    assert all(terminations.values()) and step == model.horizon - 1
    with pytest.raises(ValueError, match="joint states"):
        MULTIAGENT.task(n_agents=6, local_states=4)


def test_multiagent_monte_carlo_scalarized_return_matches_the_pareto_value() -> None:
    env = parallel_env({"n_agents": 2, "instance": 2})
    model, v = env.model, np.array([0.25, 0.75])
    policy = model.scalarized(v).optimal_policy()                 # joint actions, shape (H, joint states)
    returns = []
    observations, _ = env.reset(seed=0)
    for _ in range(1500):
        total = 0.0
        while env.agents:
            joint_state, step = model.joint_state(observations["agent_0"][:2]), int(observations["agent_0"][2])
            local = model.local_action(policy[step, joint_state])
            observations, rewards, _, _, _ = env.step({"agent_0": int(local[0]), "agent_1": int(local[1])})
            total += v @ [rewards["agent_0"], rewards["agent_1"]]
        returns.append(total)
        observations, _ = env.reset()
    error = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - model.pareto_value(v)) < 4 * error
