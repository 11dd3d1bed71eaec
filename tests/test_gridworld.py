"""GridWorld family and the tabular model: exact gradients against finite differences, exact values against
Monte-Carlo rollouts of the environment, optima against shortest paths and a brute-force value iteration, the
reconstructed Fig. 2 layouts, rendering, and the PettingZoo version."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import mtenvs
from agents.dcpg.objective import objective, policy_gradient, softmax_policy
from mtenvs.gridworld.gridworld import FAMILY, GridWorldEnv, greedy_path, grid_tables, gridworld_model
from mtenvs.gridworld.layouts import CORNERS, NAMED_LAYOUTS, cell_index, random_layout, shortest_distances
from mtenvs.gridworld.tabular import TabularMDP
from mtenvs.multiagent import parallel_env

PANEL_A = list(FAMILY.task_set("a"))


def random_mdp(seed: int, states: int = 7, actions: int = 3, gamma: float = 0.9) -> TabularMDP:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(states), size=(states, actions))
    p[-1] = 0.0
    p[-1, :, -1] = 1.0  # one absorbing terminal state
    r = rng.normal(size=(states, actions, states))
    r[-1] = 0.0
    terminal = np.zeros(states, dtype=bool)
    terminal[-1] = True
    return TabularMDP(p, r, rng.dirichlet(np.ones(states)), gamma, terminal)


def finite_difference(f, theta: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    gradient = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        up, down = theta.copy(), theta.copy()
        up[index] += eps
        down[index] -= eps
        gradient[index] = (f(up) - f(down)) / (2 * eps)
    return gradient


# ----------------------------------------------------------------------------------------- exact model
@pytest.mark.parametrize("lam", [0.0, 0.05])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_policy_gradient_matches_finite_differences_on_random_mdps(seed: int, lam: float) -> None:
    model = random_mdp(seed)
    theta = np.random.default_rng(seed + 10).normal(size=(model.num_states, model.num_actions))
    mu = np.random.default_rng(seed + 20).dirichlet(np.ones(model.num_states))
    exact = policy_gradient(model, theta, lam, start=mu)
    numeric = finite_difference(lambda th: objective(model, th, lam, start=mu), theta)
    np.testing.assert_allclose(exact, numeric, atol=1e-8, rtol=1e-6)


def test_exact_policy_gradient_matches_finite_differences_on_a_gridworld() -> None:
    model = gridworld_model(FAMILY.task(layout="b2", start="uniform"), gamma=0.95)
    theta = np.random.default_rng(3).normal(size=(100, 4))
    exact = policy_gradient(model, theta, lam=0.01)
    cells = [0, 1, 10, 44, 58, 99]  # a sample of rows (all 400 entries would take 800 solves)
    for s in cells:
        for a in range(4):
            up, down = theta.copy(), theta.copy()
            up[s, a] += 1e-6
            down[s, a] -= 1e-6
            numeric = (objective(model, up, 0.01) - objective(model, down, 0.01)) / 2e-6
            assert exact[s, a] == pytest.approx(numeric, abs=1e-8, rel=1e-6)


def test_visitation_is_a_distribution_and_values_solve_bellman() -> None:
    model = random_mdp(4)
    pi = softmax_policy(np.random.default_rng(5).normal(size=(7, 3)))
    d = model.visitation(pi)
    assert d.min() >= 0 and d.sum() == pytest.approx(1.0)
    v = model.values(pi)
    np.testing.assert_allclose(v, (pi * model.q_values(pi)).sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(model.values(pi, horizon=2000), v, atol=1e-10)


def test_exact_values_lie_in_the_confidence_interval_of_env_rollouts() -> None:
    task = FAMILY.task(layout="a3", start="uniform")
    gamma = 0.95  # gamma^200 < 4e-5: truncation at 200 steps is negligible against the interval
    theta = np.random.default_rng(7).normal(size=(100, 4))
    theta[:, 1] += 1.0  # lean downwards, so that episodes end
    pi = softmax_policy(theta)
    n = 4000
    venv = gym.make_vec("mtenvs/GridWorld-v0", num_envs=n, task=task)  # NextStep: finished episodes are masked out
    cells, _ = venv.reset(seed=0)
    rng = np.random.default_rng(8)
    returns, alive, discount = np.zeros(n), np.ones(n, dtype=bool), 1.0
    cdf = pi.cumsum(axis=1)
    for _ in range(200):
        actions = np.minimum((cdf[cells] <= rng.random(n)[:, None]).sum(axis=1), 3)
        cells, rewards, terminated, truncated, _ = venv.step(actions)
        returns += alive * discount * rewards
        alive &= ~(terminated | truncated)
        discount *= gamma
        if not alive.any():
            break
    exact = gridworld_model(task, gamma).value(pi)
    half_width = 4 * returns.std(ddof=1) / np.sqrt(n)
    assert abs(returns.mean() - exact) < half_width


# ----------------------------------------------------------------------------------------------- optima
def brute_force_value_iteration(task: mtenvs.Task, gamma: float, sweeps: int = 3000) -> np.ndarray:
    """Value iteration written cell by cell from the rules of the game (independent of the model tensors)."""
    layout = NAMED_LAYOUTS[task["layout"]] if task["layout"] != "random" else random_layout(task["seed"], task["num_obstacles"])
    goal, obstacles = layout.goal, set(layout.obstacles)
    v = np.zeros((10, 10))
    for _ in range(sweeps):
        new = np.zeros((10, 10))
        for r in range(10):
            for c in range(10):
                if (r, c) == goal or (r, c) in obstacles:
                    continue
                best = -np.inf
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    nr, nc = (r + dr, c + dc) if 0 <= r + dr < 10 and 0 <= c + dc < 10 else (r, c)
                    reward = 1.0 if (nr, nc) == goal else -1.0 if (nr, nc) in obstacles else 0.0
                    best = max(best, reward + gamma * v[nr, nc])
                new[r, c] = best
        if np.abs(new - v).max() < 1e-13:
            break
        v = new
    return new.ravel()


@pytest.mark.parametrize("task", [FAMILY.task(layout="c3"), FAMILY.task(layout="d1", start="top-right"),
                                  FAMILY.task(layout="random", seed=5, num_obstacles=8, start="bottom-left")])
def test_optimal_value_matches_value_iteration_and_shortest_paths(task: mtenvs.Task) -> None:
    gamma = 0.9
    reference = brute_force_value_iteration(task, gamma)
    np.testing.assert_allclose(gridworld_model(task, gamma).optimal_values(), reference, atol=1e-10)
    tables = grid_tables(task)
    start = int(np.argmax(tables.start))
    distance = shortest_distances(tables.layout, divmod(start, 10))[cell_index(tables.layout.goal)]
    assert FAMILY.optimal_value(task, gamma=gamma) == pytest.approx(gamma ** (distance - 1), abs=1e-10)
    assert FAMILY.optimal_value(task) == 1.0                            # undiscounted, within the 200-step limit
    assert FAMILY.optimal_value(task, max_episode_steps=int(distance) - 1) == 0.0


def test_evaluate_reports_zero_regret_for_the_optimal_reference_policy() -> None:
    tasks = [FAMILY.task(layout=name) for name in ("a1", "a2", "c2")] + list(FAMILY.task_set("test")[:3])
    repeated = [t for t in tasks for _ in range(2)]  # evaluate lays out sub-envs task by task, episode by episode
    result = mtenvs.evaluate(FAMILY.reference_policies["optimal"](repeated), "mtenvs/GridWorld-v0", tasks, episodes=2)
    for r in result.per_task:
        assert r.mean_return == 1.0 and r.regret == pytest.approx(0.0) and r.optimal_value == 1.0


# --------------------------------------------------------------------------------------------- layouts
def row_then_column_policy() -> np.ndarray:
    """Right along row 0, then down column 9 (the common path of panels (a)/(b))."""
    actions = np.full(100, 1)
    actions[:9] = 3
    return np.eye(4)[actions]


@pytest.mark.parametrize("panel", ["a", "b"])
def test_panels_a_and_b_are_solved_by_one_path_at_every_single_task_optimum(panel: str) -> None:
    gamma = 0.99
    tasks = list(FAMILY.task_set(panel))
    pi = row_then_column_policy()
    values = [gridworld_model(t, gamma).value(pi) for t in tasks]
    np.testing.assert_allclose(values, [gamma ** (t - 1) for t in (4, 9, 14, 18)], atol=1e-12)
    assert sum(values) == pytest.approx(3.6135, abs=1e-4)
    assert values == pytest.approx([FAMILY.optimal_value(t, gamma=gamma) for t in tasks])
    assert greedy_path(tasks[0], pi)[-1] == cell_index((0, 4))  # task 1 ends at its goal
    path = greedy_path(tasks, pi)  # the common path runs on until the last task ends
    assert path == list(range(10)) + [10 * r + 9 for r in range(1, 10)]


def test_panel_b_conflict_and_panel_c_swap_structure() -> None:
    b = {t["layout"]: NAMED_LAYOUTS[t["layout"]] for t in FAMILY.task_set("b")}
    assert b["b3"].goal in b["b2"].obstacles
    c2, c3 = NAMED_LAYOUTS["c2"], NAMED_LAYOUTS["c3"]
    assert c2.goal in c3.obstacles and c3.goal in c2.obstacles
    tasks = list(FAMILY.task_set("c"))
    models = [gridworld_model(t) for t in tasks]
    rng = np.random.default_rng(0)
    for _ in range(5):  # V_2 + V_3 = 0 for every policy
        pi = softmax_policy(rng.normal(scale=2.0, size=(100, 4)))
        assert models[1].value(pi) + models[2].value(pi) == pytest.approx(0.0, abs=1e-12)


def test_panels_d_and_e_share_layouts_and_differ_in_start() -> None:
    d, e = FAMILY.task_set("d"), FAMILY.task_set("e")
    assert len(d) == len(e) == 6
    assert [t["layout"] for t in d] == [t["layout"] for t in e]
    assert {t["start"] for t in d} == {"top-left"} and {t["start"] for t in e} == {"top-right"}


def test_random_layouts_are_seeded_and_solvable() -> None:
    assert random_layout(3, 5) == random_layout(3, 5)
    assert len({random_layout(s, 4) for s in range(20)}) == 20
    for seed in range(10):
        layout = random_layout(seed, 12)
        assert len(layout.obstacles) == 12 and not set(CORNERS.values()) & {layout.goal, *layout.obstacles}
        for corner in CORNERS.values():
            assert np.isfinite(shortest_distances(layout, corner)[cell_index(layout.goal)])


# --------------------------------------------------------------------------------------------- the env
def test_moves_walls_and_terminal_cells() -> None:
    env = gym.make("mtenvs/GridWorld-v0", task=PANEL_A[0])
    assert env.reset(seed=0)[0] == 0
    assert env.step(0)[:3] == (0, 0.0, False)  # off the grid: stay
    assert env.step(1)[:3] == (10, 0.0, False)
    assert env.step(3)[:3] == (11, -1.0, True)  # obstacle (1, 1)
    env.reset(options={"state": 3})
    assert env.step(3)[:3] == (4, 1.0, True)  # goal (0, 4)
    for bad in (4, 11, 100, -1, 2.5):
        with pytest.raises(ValueError, match="state"):
            env.reset(options={"state": bad})


def test_uniform_start_covers_the_non_terminal_cells() -> None:
    env = gym.make("mtenvs/GridWorld-v0", task=FAMILY.task(layout="a1", start="uniform"))
    starts = {env.reset(seed=s)[0] for s in range(600)}
    assert starts == set(np.flatnonzero(~grid_tables(env.unwrapped.task).terminal))


def test_model_access_from_the_env() -> None:
    env = gym.make("mtenvs/GridWorld-v0", task=PANEL_A[1])
    model = env.unwrapped.model(0.95)
    assert model.gamma == 0.95 and model.transitions.shape == (100, 4, 100)
    assert model.goal[9] and model.terminal[[9, 33, 28]].all()


def test_rendering() -> None:
    env = GridWorldEnv(PANEL_A[0], render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.splitlines()[0] == "A...G....." and text.splitlines()[1] == ".X........"
    frame = GridWorldEnv(PANEL_A[0], render_mode="rgb_array")
    frame.reset(seed=0)
    image = frame.render()
    assert image.shape == (320, 320, 3) and image.dtype == np.uint8
    assert tuple(image[16, 4 * 32 + 16]) == (240, 200, 40) and tuple(image[32 + 16, 32 + 16]) == (200, 40, 40)
    with pytest.raises(ValueError, match="render_mode"):
        GridWorldEnv(render_mode="human")


def test_bad_model_and_settings_raise() -> None:
    with pytest.raises(ValueError, match="transitions"):
        TabularMDP(np.ones((3, 2, 3)), np.zeros((3, 2)), np.ones(3) / 3, 0.9)
    with pytest.raises(ValueError, match="gamma"):
        TabularMDP(np.ones((3, 2, 3)) / 3, np.zeros((3, 2)), np.ones(3) / 3, 1.5)
    with pytest.raises(ValueError, match="gamma < 1"):
        gridworld_model(PANEL_A[0], 1.0).values(np.full((100, 4), 0.25))
    with pytest.raises(ValueError, match="unknown environment setting"):
        FAMILY.optimal_value(PANEL_A[0], slip=0.1)
    with pytest.raises(ValueError, match="layout"):
        FAMILY.task(layout="z9")


# ------------------------------------------------------------------------------------------ PettingZoo
def test_multi_agent_gridworld_passes_the_pettingzoo_tests() -> None:
    parallel_api_test(parallel_env("mtenvs/GridWorld-v0", tasks=PANEL_A), num_cycles=60)
    parallel_seed_test(lambda: parallel_env("mtenvs/GridWorld-v0", tasks=PANEL_A))
    par = parallel_env("mtenvs/GridWorld-v0", tasks=list(FAMILY.task_set("c")), render_mode="rgb_array")
    observations, infos = par.reset(seed=0)
    assert observations == {f"agent_{i}": 0 for i in range(4)}
    assert [infos[f"agent_{i}"]["task"]["layout"] for i in range(4)] == ["c1", "c2", "c3", "c4"]
    assert par.render().shape == (320, 4 * 320, 3)
