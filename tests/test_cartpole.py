"""The cart-pole family against independent references: Gymnasium's CartPole-v1, energy, linearization."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.control.cartpole import CartPoleEnv, _Physics, energy

FAMILY = mtenvs.family("CartPole")


def heuristic(obs: np.ndarray) -> int:
    return 1 if obs[2] + 0.3 * obs[3] > 0 else 0


@pytest.mark.parametrize("discrete", [True, False])
def test_reproduces_gymnasium_cartpole_v1_exactly(discrete: bool) -> None:
    reference = gym.make("CartPole-v1")
    ours = gym.make("mtenvs/CartPole-v0", discrete_actions=discrete)
    rng = np.random.default_rng(0)
    steps = 0
    for episode in range(12):
        ref_obs, _ = reference.reset(seed=episode)
        our_obs, _ = ours.reset(seed=episode)
        np.testing.assert_array_equal(ref_obs, our_obs)
        while True:
            action = heuristic(ref_obs) if episode % 2 else int(rng.integers(2))
            ref = reference.step(action)
            our = ours.step(action if discrete else np.array([2.0 * action - 1.0], dtype=np.float32))
            steps += 1
            np.testing.assert_array_equal(ref[0], our[0])
            assert ref[1:4] == our[1:4]
            ref_obs = ref[0]
            if ref[2] or ref[3]:
                break
    assert steps > 1500  # the heuristic episodes reach the 500-step time limit


def test_native_vector_env_reproduces_gymnasium_vector_env_at_nominal_task() -> None:
    reference = gym.make_vec("CartPole-v1", num_envs=8)
    ours = gym.make_vec("mtenvs/CartPole-v0", num_envs=8, discrete_actions=True)
    np.testing.assert_array_equal(reference.reset(seed=3)[0], ours.reset(seed=3)[0])
    rng = np.random.default_rng(1)
    for _ in range(300):
        actions = rng.integers(2, size=8)
        ref, our = reference.step(actions), ours.step(actions)
        for a, b in zip(ref[:4], our[:4], strict=True):
            np.testing.assert_array_equal(a, b)


def rk4_env(**task: float) -> gym.Env:
    return gym.make("mtenvs/CartPole-v0", task=task, integrator="rk4", dt=0.01, substeps=4,
                    terminate_on_fall=False, max_episode_steps=10_000)


@pytest.mark.parametrize("task", [{}, {"pole_mass": 0.9, "pole_length": 0.3}, {"cart_mass": 0.05, "gravity": 20.0}])
def test_energy_is_conserved_without_force_or_friction(task: dict) -> None:
    env = rk4_env(**task)
    env.reset(seed=0, options={"state": [0.0, 0.3, 0.4, -0.5]})
    physics = _Physics(*(env.unwrapped.task[k] for k in ("cart_mass", "pole_mass", "pole_length", "gravity",
                                                           "force_limit", "cart_friction")))
    start = energy(env.unwrapped.state, physics)
    scale = physics.pole_mass * physics.gravity * physics.pole_length
    for _ in range(300):  # 3 s, through large swings
        env.step(np.zeros(1, dtype=np.float32))
    assert abs(energy(env.unwrapped.state, physics) - start) / scale < 1e-4


def test_friction_dissipates_energy() -> None:
    env = rk4_env(cart_friction=0.5)
    env.reset(seed=0, options={"state": [0.0, 1.0, 0.1, 0.0]})
    physics = _Physics(1.0, 0.1, 0.5, 9.8, 10.0, 0.5)
    energies = []
    for _ in range(100):
        env.step(np.zeros(1, dtype=np.float32))
        energies.append(energy(env.unwrapped.state, physics))
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(energies))


@pytest.mark.parametrize("task", [{}, {"pole_length": 0.8, "pole_mass": 0.5}, {"gravity": 3.0, "cart_mass": 2.0}])
def test_small_angle_fall_matches_the_linearization(task: dict) -> None:
    # Linearized about upright with no force: theta'' = lambda^2 theta, lambda^2 = g / (l (4/3 - m_p / (m_c + m_p))),
    # so theta(t) = theta0 cosh(lambda t) from rest.
    t = FAMILY.task(task)
    lam = math.sqrt(t["gravity"] / (t["pole_length"] * (4 / 3 - t["pole_mass"] / (t["cart_mass"] + t["pole_mass"]))))
    env = rk4_env(**task)
    theta0 = 1e-6
    env.reset(seed=0, options={"state": [0.0, 0.0, theta0, 0.0]})
    for _ in range(50):  # 0.5 s
        env.step(np.zeros(1, dtype=np.float32))
    assert env.unwrapped.state[2] == pytest.approx(theta0 * math.cosh(lam * 0.5), rel=1e-6)


@pytest.mark.parametrize("reward", ["norm", "quadratic"])
def test_cost_rewards_are_the_papers_cost(reward: str) -> None:
    env = gym.make("mtenvs/CartPole-v0", reward=reward, max_episode_steps=150)
    assert env.spec.max_episode_steps == 150
    start = np.array([0.1, 0.0, 0.05, 0.0])
    env.reset(seed=0, options={"state": start})
    _, reward_value, terminated, _, _ = env.step(np.array([0.5], dtype=np.float32))
    # The paper's R(x_m, u_m): the state in which the force (0.5 × 10 N) is applied.
    expected = -np.linalg.norm(start) - 5.0 if reward == "norm" else -(start @ start) - 5.0**2
    assert reward_value == pytest.approx(expected)
    assert terminated is False  # no termination with the cost-based rewards


def test_force_limit_scales_continuous_actions_and_clips() -> None:
    strong = gym.make("mtenvs/CartPole-v0", task={"force_limit": 20.0})
    weak = gym.make("mtenvs/CartPole-v0", task={"force_limit": 10.0})
    strong.reset(seed=0)
    weak.reset(seed=0)
    a = strong.step(np.array([0.5], dtype=np.float32))[0]
    b = weak.step(np.array([1.0], dtype=np.float32))[0]
    np.testing.assert_array_equal(a, b)  # 0.5 × 20 N == 1.0 × 10 N
    weak.reset(seed=0)
    c = weak.step(np.array([7.0], dtype=np.float32))[0]  # clipped to 1.0
    np.testing.assert_array_equal(b, c)


def test_rendering_shows_the_task() -> None:
    short = gym.make("mtenvs/CartPole-v0", task={"pole_length": 0.2}, render_mode="rgb_array")
    long = gym.make("mtenvs/CartPole-v0", task={"pole_length": 0.8}, render_mode="rgb_array")
    short.reset(seed=0)
    long.reset(seed=0)
    a, b = short.render(), long.render()
    assert a.shape == b.shape == (400, 600, 3) and a.dtype == np.uint8
    pole_colour = np.all(a == (202, 152, 101), axis=-1).sum(), np.all(b == (202, 152, 101), axis=-1).sum()
    assert 3.0 < pole_colour[1] / pole_colour[0] < 5.0  # the drawn pole is four times longer


def test_bad_settings_raise() -> None:
    for kwargs, fragment in [({"reward": "sparse"}, "reward"), ({"integrator": "leapfrog"}, "integrator"),
                             ({"dt": -1.0}, "dt"), ({"substeps": 0}, "substeps"),
                             ({"initial_state_bounds": [1, 2]}, "initial_state_bounds")]:
        with pytest.raises(ValueError, match=fragment):
            gym.make("mtenvs/CartPole-v0", **kwargs)
    # (gym.make turns render_mode="human" into its HumanRendering wrapper, so check the constructor itself)
    with pytest.raises(ValueError, match="render_mode"):
        CartPoleEnv(render_mode="human")


@pytest.mark.parametrize("task", [{}, {"pole_mass": 0.9, "pole_length": 0.3, "cart_friction": 0.7},
                                  {"cart_mass": 0.05, "gravity": 20.0}])
def test_linearization_matches_finite_differences_of_the_dynamics(task: dict) -> None:
    from mtenvs.control.cartpole import accelerations, linearization

    t = FAMILY.task(task)
    physics = _Physics(*(t[k] for k in ("cart_mass", "pole_mass", "pole_length", "gravity", "force_limit",
                                         "cart_friction")))

    def derivative(state: np.ndarray, force: float) -> np.ndarray:
        x_acc, theta_acc = accelerations(force, state[1], state[3], math.sin(state[2]), math.cos(state[2]), physics)
        return np.array([state[1], x_acc, state[3], theta_acc])

    h = 1e-6
    numeric_a = np.column_stack([(derivative(h * e, 0.0) - derivative(-h * e, 0.0)) / (2 * h) for e in np.eye(4)])
    numeric_b = ((derivative(np.zeros(4), h) - derivative(np.zeros(4), -h)) / (2 * h))[:, None]
    a, b = linearization(t)
    np.testing.assert_allclose(a, numeric_a, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b, numeric_b, rtol=1e-6, atol=1e-8)


def test_lqr_reference_stabilizes_every_training_task() -> None:
    from mtenvs.control.cartpole import linearization, lqr_gain, lqr_policy
    from mtenvs.evaluation import rollout_returns

    tasks = list(FAMILY.task_set("train"))
    for t in tasks:
        a, b = linearization(t)
        assert np.linalg.eigvals(a - b @ lqr_gain(t)).real.max() < 0  # closed loop is stable
    returns, _ = rollout_returns(lqr_policy(tasks), "mtenvs/CartPole-v0", tasks, seed=0)
    assert np.all(returns == 500.0)
