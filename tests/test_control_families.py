"""Paper-002 control families against independent references.

Discretization against SciPy's ``cont2discrete`` and the matrix exponential, environment steps against
``x' = A_d x + B_d u``, the finite-horizon LQR against SciPy's Riccati solver and against Monte-Carlo rollouts,
random linear policies against the LQR optimum, energy and momentum conservation of the double inverted
pendulum, linearizations against central finite differences, and Table 1's ranges.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from scipy.linalg import expm, solve_discrete_are
from scipy.signal import cont2discrete

import mtenvs
from mtenvs.control import double_pendulum as dip
from mtenvs.control.helicopter import NOMINAL_A, NOMINAL_B, literal_tasks
from mtenvs.control.linear_system import finite_horizon_lqr, zero_order_hold
from mtenvs.control.paper002 import DOMAINS, PAPER_002, make_paper002_vec, paper002_setting
from mtenvs.evaluation import rollout_returns

LINEAR = ["SimpleMass", "DoubleMass", "Helicopter"]


def some_tasks(name: str) -> list[mtenvs.Task]:
    fam = mtenvs.family(name)
    return [fam.default_task(), fam.task_set("train")[0], fam.task_set("train")[1], fam.task_set("ood")[0]]


# ------------------------------------------------------------------------------------------ discretization
@pytest.mark.parametrize("name", LINEAR)
def test_zero_order_hold_matches_scipy(name: str) -> None:
    fam = mtenvs.family(name)
    for task in some_tasks(name):
        a, b = fam.continuous_system(task)
        a_d, b_d = zero_order_hold(a, b, 0.05)
        ref_a, ref_b, *_ = cont2discrete((a, b, np.eye(len(a)), np.zeros_like(b)), 0.05, method="zoh")
        np.testing.assert_allclose(a_d, ref_a, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b_d, ref_b, rtol=1e-10, atol=1e-12)
        # Closed forms for invertible A: A_d = e^{A dt}, B_d = A^{-1} (A_d - I) B.
        np.testing.assert_allclose(a_d, expm(a * 0.05), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b_d, np.linalg.solve(a, (a_d - np.eye(len(a))) @ b), rtol=1e-7, atol=1e-10)


def test_simple_mass_free_response_is_the_damped_oscillator() -> None:
    fam = mtenvs.family("SimpleMass")
    task = fam.task(mass=4.0, spring=5.0, damping=0.08)
    env = gym.make("mtenvs/SimpleMass-v0", task=task)
    env.reset(seed=0, options={"state": [1.0, 0.0]})
    for _ in range(40):  # 2 s without force
        env.step(np.zeros(1, dtype=np.float32))
    zeta_w = 0.08 / (2 * 4.0)
    w_d = math.sqrt(5.0 / 4.0 - zeta_w**2)
    t = 2.0
    x = math.exp(-zeta_w * t) * (math.cos(w_d * t) + zeta_w / w_d * math.sin(w_d * t))
    assert env.unwrapped.state[0] == pytest.approx(x, rel=1e-9)


@pytest.mark.parametrize("name", LINEAR)
def test_env_steps_are_the_discrete_system(name: str) -> None:
    fam = mtenvs.family(name)
    task = fam.task_set("train")[3]
    a_d, b_d = fam.discrete_system(task)
    env = gym.make(f"mtenvs/{name}-v0", task=task)
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    x = env.unwrapped.state
    for _ in range(30):
        action = rng.uniform(-1, 1, size=env.action_space.shape).astype(np.float32)
        _, reward, *_ = env.step(action)
        q, r = fam.config().cost_matrices()
        u = action.astype(np.float64)
        assert reward == pytest.approx(-(x @ q @ x + u @ r @ u), rel=1e-12)
        x = a_d @ x + b_d @ u
        np.testing.assert_allclose(env.unwrapped.state, x, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------------- LQR
@pytest.mark.parametrize("name", LINEAR)
def test_long_horizon_lqr_is_the_discrete_riccati_solution(name: str) -> None:
    fam = mtenvs.family(name)
    task = fam.task_set("train")[0]
    a_d, b_d = fam.discrete_system(task)
    q, r = fam.config().cost_matrices()
    solution = finite_horizon_lqr(a_d, b_d, q, r, 3000)
    p = solve_discrete_are(a_d, b_d, q, r)
    gain = np.linalg.solve(r + b_d.T @ p @ b_d, b_d.T @ p @ a_d)
    np.testing.assert_allclose(solution.cost_to_go[0], p, rtol=1e-7)
    np.testing.assert_allclose(solution.gains[0], gain, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", LINEAR)
def test_lqr_rollout_returns_equal_the_cost_to_go(name: str) -> None:
    fam = mtenvs.family(name)
    task = fam.task_set("train")[2]
    solution = fam.lqr(task, 150)
    env = gym.make(f"mtenvs/{name}-v0", task=task)
    for seed in range(3):
        env.reset(seed=seed)
        x0 = env.unwrapped.state
        total, truncated, t = 0.0, False, 0
        while not truncated:
            _, reward, _, truncated, _ = env.step(-solution.gains[t] @ env.unwrapped.state)
            total += reward
            t += 1
        assert t == 150
        assert total == pytest.approx(-x0 @ solution.cost_to_go[0] @ x0, rel=1e-9)


@pytest.mark.parametrize("name", LINEAR)
def test_optimal_value_matches_monte_carlo_rollouts_of_the_lqr_policy(name: str) -> None:
    fam = mtenvs.family(name)
    tasks = list(fam.task_set("test")[:2])
    repeats = 300
    batch = [t for t in tasks for _ in range(repeats)]
    returns, lengths = rollout_returns(fam.reference_policies["lqr"](batch), f"mtenvs/{name}-v0", batch, seed=3)
    assert np.all(lengths == 150)
    for k, task in enumerate(tasks):
        block = returns[k * repeats:(k + 1) * repeats]
        stderr = block.std(ddof=1) / math.sqrt(repeats)
        assert abs(block.mean() - fam.optimal_value(task)) < 4 * stderr, (block.mean(), fam.optimal_value(task), stderr)


def linear_policy_cost(a_d: np.ndarray, b_d: np.ndarray, q: np.ndarray, r: np.ndarray, gains: np.ndarray,
                       covariance: np.ndarray) -> float:
    """Exact expected cost of u_t = -K_t x_t over len(gains) steps from x_0 ~ (0, covariance)."""
    sigma, total = covariance, 0.0
    for gain in gains:
        total += np.trace((q + gain.T @ r @ gain) @ sigma)
        closed = a_d - b_d @ gain
        sigma = closed @ sigma @ closed.T
    return float(total)


@pytest.mark.parametrize("name", LINEAR)
def test_no_random_linear_policy_beats_the_lqr_optimum(name: str) -> None:
    fam = mtenvs.family(name)
    task = fam.task_set("train")[5]
    config = fam.config()
    a_d, b_d = fam.discrete_system(task)
    q, r = config.cost_matrices()
    covariance = np.diag(np.asarray(config.initial_state_bounds) ** 2 / 3)
    optimum = -fam.optimal_value(task)
    lqr = fam.lqr(task, 150)
    assert linear_policy_cost(a_d, b_d, q, r, lqr.gains, covariance) == pytest.approx(optimum, rel=1e-10)
    rng = np.random.default_rng(0)
    m, n = b_d.shape[1], b_d.shape[0]
    size = np.linalg.norm(lqr.gains[0]) / math.sqrt(m * n)  # perturb relative to the size of the LQR gain
    for scale in (0.001, 0.01, 0.1, 1.0):
        for _ in range(30):
            stationary = np.repeat(lqr.gains[0][None] + scale * size * rng.normal(size=(1, m, n)), 150, axis=0)
            varying = lqr.gains + scale * size * rng.normal(size=lqr.gains.shape)
            for gains in (stationary, varying):
                assert linear_policy_cost(a_d, b_d, q, r, gains, covariance) >= optimum * (1 - 1e-12)


def test_evaluate_reports_zero_regret_for_the_lqr_reference() -> None:
    tasks = list(mtenvs.family("DoubleMass").task_set("test")[:3])
    policy = mtenvs.family("DoubleMass").reference_policies["lqr"]([t for t in tasks for _ in range(40)])
    result = mtenvs.evaluate(policy, "mtenvs/DoubleMass-v0", tasks, episodes=40, seed=0)
    for task_result in result.per_task:
        assert abs(task_result.regret) < 4 * task_result.stderr
        assert task_result.normalized_score == pytest.approx(1.0, abs=0.05)


def test_optimal_value_is_refused_where_it_would_not_be_exact() -> None:
    fam = mtenvs.family("SimpleMass")
    task = fam.default_task()
    with pytest.raises(mtenvs.NoExactOptimum, match="norm"):
        fam.optimal_value(task, reward="norm")
    with pytest.raises(mtenvs.NoExactOptimum, match="clipping"):
        fam.optimal_value(task, action_scale=0.1)  # the LQR force would exceed the box
    # Without clipping the optimum prices the physical force, so it does not depend on the action scale.
    assert fam.optimal_value(task, action_scale=0.1, clip_actions=False) == pytest.approx(fam.optimal_value(task), rel=1e-9)
    with pytest.raises(mtenvs.NoExactOptimum, match="horizon"):
        fam.optimal_value(task, max_episode_steps=None)


# ------------------------------------------------------------------------------------ double inverted pendulum
def test_double_pendulum_conserves_energy_and_momentum_without_force() -> None:
    tasks = [dip.FAMILY.default_task(), *dip.FAMILY.task_set("train")[:3]]
    env = gym.make_vec("mtenvs/DoubleInvertedPendulum-v0", num_envs=4, tasks=tasks, dt=0.01, substeps=10)
    start = np.array([[0.1, 0.3, 0.4, -0.5, -0.3, 0.8]] * 4)
    env.reset(seed=0, options={"state": start})
    physics = dip.Physics(*(np.array([t[name] for t in tasks]) for name in dip.PARAMETERS))

    def momentum(state: np.ndarray) -> np.ndarray:
        a, b, c, *_ = dip.mass_matrix(state[:, 2], state[:, 4], physics)
        return a * state[:, 1] + b * state[:, 3] + c * state[:, 5]

    e0, p0 = dip.energy(start, physics), momentum(start)
    scale = dip.GRAVITY * (physics.mass_1 + physics.mass_2) * physics.length_1 + dip.GRAVITY * physics.mass_2 * physics.length_2
    for _ in range(140):  # 1.4 s of free motion (inside one episode), large swings
        env.step(np.zeros((4, 1), dtype=np.float32))
    states = env.unwrapped.states
    assert np.abs(states[:, 2:5:2] - start[:, 2:5:2]).max() > 0.5  # the poles really moved
    assert np.all(np.abs(dip.energy(states, physics) - e0) < 1e-6 * scale)
    np.testing.assert_allclose(momentum(states), p0, atol=1e-9)


def _mass(state: np.ndarray, p: dip.Physics) -> np.ndarray:
    a, b, c, d, e, f = (float(v[0]) for v in dip.mass_matrix(state[:, 2], state[:, 4], p))
    return np.array([[a, b, c], [b, d, e], [c, e, f]])


def _lagrangian(state: np.ndarray, p: dip.Physics) -> float:
    """T - V, with T = energy - V and V the potential energy of the two point masses."""
    potential = dip.GRAVITY * ((p.mass_1 + p.mass_2) * p.length_1 * np.cos(state[:, 2])
                               + p.mass_2 * p.length_2 * np.cos(state[:, 4]))
    return float((dip.energy(state, p) - 2 * potential)[0])


def test_double_pendulum_accelerations_solve_the_lagrange_equations() -> None:
    # d/dt dL/dq' - dL/dq = (u, 0, 0) with dL/dq' = M(q) q', so M q'' + (dM/dt) q' - dL/dq = (u, 0, 0);
    # dL/dq and dM/dt by central differences.
    rng = np.random.default_rng(1)
    p = dip.Physics.of(dip.FAMILY.task_set("train")[4])
    h = 1e-6
    for _ in range(5):
        state, force = rng.normal(size=(1, 6)), rng.normal(size=1)
        acc = dip.accelerations(state, force, p)[0]
        q_dot = state[0, 1::2]
        grad = np.zeros(3)
        ahead, behind = state.copy(), state.copy()
        for k in range(3):
            up, down = state.copy(), state.copy()
            up[0, 2 * k] += h
            down[0, 2 * k] -= h
            grad[k] = (_lagrangian(up, p) - _lagrangian(down, p)) / (2 * h)
            ahead[0, 2 * k] += h * q_dot[k]
            behind[0, 2 * k] -= h * q_dot[k]
        mass_rate = (_mass(ahead, p) - _mass(behind, p)) / (2 * h)
        residual = _mass(state, p) @ acc + mass_rate @ q_dot - grad
        np.testing.assert_allclose(residual, [force[0], 0.0, 0.0], atol=1e-6)


def test_double_pendulum_linearization_matches_central_differences() -> None:
    task = dip.FAMILY.task_set("train")[7]
    p = dip.Physics.of(task)
    h = 1e-6
    zero = np.zeros((1, 6))
    numeric_a = np.column_stack([
        (dip.derivative(zero + h * e, np.zeros(1), p) - dip.derivative(zero - h * e, np.zeros(1), p))[0] / (2 * h)
        for e in np.eye(6)])
    numeric_b = (dip.derivative(zero, np.array([h]), p) - dip.derivative(zero, np.array([-h]), p))[0] / (2 * h)
    a, b = dip.linearization(task)
    np.testing.assert_allclose(a, numeric_a, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b[:, 0], numeric_b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["CartPole", "DoubleInvertedPendulum"])
def test_paper_linear_model_matches_the_env_step_near_upright(name: str) -> None:
    setting = PAPER_002[name]
    task = setting.tasks("train")[0]
    a_d, b_d = setting.linear_model(task)
    env = setting.make(task)
    n = setting.state_dim
    h = 1e-5

    def step(x: np.ndarray, u: float) -> np.ndarray:
        env.reset(options={"state": x})
        env.step(np.array([u], dtype=np.float32))
        return env.unwrapped.state

    numeric_a = np.column_stack([(step(h * e, 0.0) - step(-h * e, 0.0)) / (2 * h) for e in np.eye(n)])
    du = 2.0**-16  # exact in float32
    numeric_b = (step(np.zeros(n), du) - step(np.zeros(n), -du)) / (2 * du)
    # RK4 sub-steps against the exact exponential: agreement to ~1e-6 of each matrix's largest entry.
    np.testing.assert_allclose(numeric_a, a_d, rtol=1e-5, atol=1e-6 * np.abs(a_d).max())
    np.testing.assert_allclose(numeric_b, b_d[:, 0], rtol=1e-5, atol=1e-6 * np.abs(b_d).max())


def test_double_pendulum_lqr_reference_balances_every_training_task() -> None:
    tasks = list(dip.FAMILY.task_set("train"))
    returns, _ = rollout_returns(dip.FAMILY.reference_policies["lqr"](tasks), "mtenvs/DoubleInvertedPendulum-v0", tasks, seed=0)
    zero, _ = rollout_returns(lambda obs: np.zeros((len(obs), 1), dtype=np.float32), "mtenvs/DoubleInvertedPendulum-v0",
                              tasks, seed=0)
    assert np.all(returns > zero)
    venv = make_paper002_vec("DIP", tasks, seed=0)
    obs, _ = venv.reset()
    policy = dip.FAMILY.reference_policies["lqr"](tasks)
    for _ in range(150):
        obs, *_ = venv.step(policy(obs))
    assert np.abs(obs[:, 2:5:2]).max() < 0.05  # both poles upright at the end


# -------------------------------------------------------------------------------------------- helicopter
def test_helicopter_training_tasks_are_unstable_and_controllable() -> None:
    fam = mtenvs.family("Helicopter")
    a, b = fam.continuous_system(fam.default_task())
    np.testing.assert_array_equal(a, NOMINAL_A)
    np.testing.assert_array_equal(b, NOMINAL_B)
    for task in fam.task_set("train"):
        a, b = fam.continuous_system(task)
        assert 0.2 < np.linalg.eigvals(a).real.max() < 1.0
        controllability = np.hstack([np.linalg.matrix_power(a, k) @ b for k in range(4)])
        assert np.linalg.matrix_rank(controllability) == 4
        np.testing.assert_array_equal(a[3], [0.0, 0.0, 1.0, 0.0])  # the kinematic row theta' = q


# --------------------------------------------------------------------------------------------- Table 1
TABLE_1 = {
    "SimpleMass": {"mass": (3.0, 5.0), "spring": (1.0, 7.0)},
    "DoubleMass": {"mass_1": (1.0, 7.0), "mass_2": (1.0, 10.0), "spring_1": (1.0, 5.0), "spring_2": (1.0, 7.0),
                   "damping_1": (0.01, 0.1), "damping_2": (0.01, 0.1)},
    "CartPole": {"pole_length": (0.2, 0.8)},
    "DoubleInvertedPendulum": {"cart_mass": (1.5, 3.5), "mass_1": (0.055, 0.1), "mass_2": (0.055, 0.1),
                               "length_1": (0.4, 0.8), "length_2": (0.5, 0.9)},
}


@pytest.mark.parametrize("name", list(TABLE_1))
def test_training_regions_are_table_1(name: str) -> None:
    fam = mtenvs.family(name)
    for parameter, region in TABLE_1[name].items():
        assert fam.parameters[parameter].train == region
    train = fam.task_set("train")
    for parameter, (low, high) in TABLE_1[name].items():
        values = np.array([t[parameter] for t in train])
        assert values.min() >= low and values.max() <= high
        assert values.max() - values.min() > 0.6 * (high - low)  # the draws spread over the range


def test_helicopter_entries_stay_in_table_1_ranges() -> None:
    fam = mtenvs.family("Helicopter")
    for name, p in fam.parameters.items():
        assert p.bounds == ((-32.0, 3.0) if name.startswith("A") else (-9.0, 1.0))
    literal = fam.task_set("literal")
    assert literal == literal and len(literal) == 50
    values = np.array([[t[f"A{i}{j}"] for i in range(1, 5) for j in range(1, 5)] for t in literal])
    assert values.min() >= -32 and values.max() <= 3 and values.std() > 8  # i.i.d. over the whole range
    assert literal_tasks(3, seed=0) == literal_tasks(3, seed=0)
    for t in fam.task_set("train"):
        for name, nominal in [("A14", -32.0), ("A12", 0.005), ("B22", -8.6)]:
            assert min(0.75 * nominal, 1.25 * nominal) - 1e-12 <= t[name] <= max(0.75 * nominal, 1.25 * nominal)


# ----------------------------------------------------------------------------------------- paper setting
def test_paper_setting_covers_the_five_domains() -> None:
    assert DOMAINS == ("SimpleMass", "DoubleMass", "CartPole", "DoubleInvertedPendulum", "Helicopter")
    dims = {"SM": (2, 1), "DM": (4, 1), "CP": (4, 1), "DIP": (6, 1), "HC": (4, 2)}
    for abbreviation, (n, m) in dims.items():
        setting = paper002_setting(abbreviation)
        tasks = list(setting.tasks("train")[:4])
        venv = make_paper002_vec(abbreviation, tasks, seed=0)
        obs, _ = venv.reset()
        assert obs.shape == (4, n) and venv.single_action_space.shape == (m,)
        assert (setting.state_dim, setting.action_dim) == (n, m)
        a_d, b_d = setting.linear_model(tasks[0])
        assert a_d.shape == (n, n) and b_d.shape == (n, m)
        steps = 0
        while True:
            obs, rewards, terminated, truncated, _ = venv.step(np.zeros((4, m), dtype=np.float32))
            steps += 1
            assert not terminated.any() and np.all(rewards <= 0)
            if truncated.any():
                break
        assert steps == 150 and truncated.all()
    with pytest.raises(ValueError, match="did you mean"):
        paper002_setting("Helicoptr")


def test_paper_setting_reward_is_the_quadratic_cost_in_every_domain() -> None:
    for name in DOMAINS:
        setting = PAPER_002[name]
        task = setting.tasks("train")[1]
        q, r = setting.cost_matrices(task)
        env = setting.make(task)
        env.reset(seed=0)
        x = env.unwrapped.state
        action = np.full(setting.action_dim, 0.3, dtype=np.float32)
        _, reward, *_ = env.step(action)
        u = action.astype(np.float64)
        assert reward == pytest.approx(-(x @ q @ x + u @ r @ u), rel=1e-9), name


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"dt": 0.0}, "dt"), ({"reward": "sparse"}, "reward"), ({"action_scale": -1.0}, "action_scale"),
    ({"state_cost": [1.0, 2.0, 3.0]}, "state_cost"), ({"input_cost": 0.0}, "input_cost"),
    ({"clip_actions": "yes"}, "clip_actions"), ({"initial_state_bounds": np.nan}, "initial_state_bounds"),
    ({"gravity": 1.0}, "unknown setting"),
])
@pytest.mark.parametrize("env_id", ["mtenvs/SimpleMass-v0", "mtenvs/DoubleInvertedPendulum-v0"])
def test_bad_settings_raise_clear_errors(env_id: str, kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        gym.make(env_id, **kwargs)
    with pytest.raises(ValueError, match=fragment):
        gym.make_vec(env_id, num_envs=2, **kwargs)


def test_bad_start_state_raises_and_names_the_option() -> None:
    env = gym.make("mtenvs/Helicopter-v0")
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": [0.0, 1.0]})
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": [0.0, 1.0, np.nan, 0.0]})
