"""DroneNav: ray casting and depth against closed forms, the depth-window reward against its formula, dynamics."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.navigation.drone import PITCH_STEP, RADIUS, YAW_STEP, DroneConfig, decode_actions, fly
from mtenvs.navigation.floorplans import PLAN_NAMES, PLANS, box
from mtenvs.navigation.metrics import safe_flight_distances
from mtenvs.navigation.raycast import depth_image, horizontal_ranges, wall_clearance, window_value

ROOM = np.array(box(0, 0, 10, 10), dtype=np.float64)[None]   # a 10 x 10 m room


def test_ray_to_a_wall_ahead_and_at_angles() -> None:
    # From (3, 5) the wall x = 10 is 7 m ahead; a ray at angle a meets it after 7 / cos(a) while |7 tan a| < 5.
    angles = np.radians([0.0, 10.0, -20.0, 35.0])
    ranges = horizontal_ranges(np.array([[3.0, 5.0]]), angles[None], ROOM)
    np.testing.assert_allclose(ranges[0], 7.0 / np.cos(angles), rtol=1e-12)
    # Steeper rays hit the side walls y = 0 or y = 10 instead, at 5 / |sin a|.
    steep = np.radians([60.0, -75.0, 90.0])
    np.testing.assert_allclose(horizontal_ranges(np.array([[3.0, 5.0]]), steep[None], ROOM)[0], 5.0 / np.abs(np.sin(steep)))


def test_ray_to_a_diagonal_wall() -> None:
    # The wall x + y = 4 seen from the origin side: along direction a the ray meets it at 4 / (cos a + sin a).
    walls = np.array([[[4.0, 0.0, 0.0, 4.0]]])
    angles = np.radians([0.0, 30.0, 45.0, 80.0])
    ranges = horizontal_ranges(np.array([[0.0, 0.0]]), angles[None], walls)
    np.testing.assert_allclose(ranges[0], 4.0 / (np.cos(angles) + np.sin(angles)), rtol=1e-12)
    # A parallel ray and a ray pointing away never hit it.
    assert np.isinf(horizontal_ranges(np.array([[0.0, 0.0]]), np.radians([[135.0, 225.0]]), walls)).all()


def test_depth_image_walls_floor_and_ceiling() -> None:
    config = DroneConfig(image_shape=(9, 5))
    elevations = config.row_elevations()
    ranges = np.array([[7.0, 6.0, 5.0, 6.0, 7.0]])
    z, ceiling = 1.2, 2.4
    depth = depth_image(ranges, np.array([z]), elevations, ceiling)[0]
    for r, phi in enumerate(elevations):
        if phi > 0:
            plane = (ceiling - z) / math.sin(phi)
        elif phi < 0:
            plane = z / math.sin(-phi)
        else:
            plane = math.inf
        np.testing.assert_allclose(depth[r], np.minimum(ranges[0] / math.cos(phi), plane), rtol=1e-12)
    assert elevations[4] == pytest.approx(0.0) and depth[4, 2] == pytest.approx(5.0)  # the level centre pixel


def test_wall_clearance_is_the_distance_to_the_nearest_wall() -> None:
    points = np.array([[3.0, 5.0], [9.5, 9.0]])
    np.testing.assert_allclose(wall_clearance(points, np.repeat(ROOM, 2, axis=0)), [3.0, 0.5])
    corner = np.array([[[0.0, 0.0, 1.0, 0.0]]])   # beyond a segment's end the distance is to the end point
    assert wall_clearance(np.array([[4.0, 4.0]]), corner)[0] == pytest.approx(5.0)


def test_window_value_follows_pedras_dynamic_window() -> None:
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.6, 1.0, size=(1, 20, 20))
    max_depth, scale = 10.0, 3.0
    n = max(depth.mean() * max_depth / scale, 1.0)
    rows, cols = int(20 / n), int(20 / n)
    top, left = math.floor(0.9 * 20 * (n - 1) / (2 * n)), math.floor(20 * (n - 1) / (2 * n))
    window = np.sort(depth[0, top:top + rows, left:left + cols].ravel())
    expected = window[: max(int(0.05 * window.size), 1)].mean()
    assert window_value(depth, scale, max_depth)[0] == pytest.approx(expected)
    # An obstacle outside the window does not count; inside it, it sets the value.
    outside = depth.copy()
    outside[0, 0, 0] = 0.01
    assert window_value(outside, scale, max_depth)[0] == pytest.approx(window_value(depth, scale, max_depth)[0], abs=1e-3)
    inside = depth.copy()
    inside[0, top + rows // 2, left + cols // 2] = 0.01
    smallest = max(int(0.05 * window.size), 1)
    assert window_value(inside, scale, max_depth)[0] == pytest.approx(
        np.sort(inside[0, top:top + rows, left:left + cols].ravel())[:smallest].mean())
    # A close view (mean depth below window_scale) uses the whole image.
    near = np.full((1, 8, 8), 0.2)
    near[0, 7, 0] = 0.1
    assert window_value(near, scale, max_depth)[0] == pytest.approx(0.1 * 1 / 3 + 0.2 * 2 / 3)


def test_actions_decode_to_pedras_grid() -> None:
    yaw, pitch = decode_actions(np.arange(25))
    assert (yaw[12], pitch[12]) == (0, 0)
    assert set(yaw.tolist()) == set(pitch.tolist()) == {-2, -1, 0, 1, 2}
    state = np.array([[1.0, 2.0, 1.5, 0.3, 4.0]])
    for action in (0, 12, 19, 24):
        new = fly(state, np.array([action]), np.array([0.4]), np.array([1.5]))[0]
        heading = 0.3 + 1.5 * YAW_STEP * yaw[action]
        np.testing.assert_allclose(new, [1.0 + 0.4 * math.cos(heading), 2.0 + 0.4 * math.sin(heading),
                                         1.5 + 0.4 * math.sin(PITCH_STEP * pitch[action]), heading, 4.4])


def test_reward_is_the_window_value_of_the_depth_image() -> None:
    env = gym.make("mtenvs/DroneNav-v0", task={"plan": "pyramid"}).unwrapped
    env.reset(seed=0, options={"state": [10.0, 2.0, 1.5, 0.0, 0.0]})   # the pyramid hall is 4.5 m high
    obs, reward, terminated, _, info = env.step(12)
    # Rebuild the image from the closed forms of the ray cast and apply the window formula.
    config = env.config
    x, y = 10.4, 2.0
    ranges = horizontal_ranges(np.array([[x, y]]), config.column_offsets()[None], PLANS["pyramid"].walls[None])
    depth = np.minimum(depth_image(ranges, np.array([1.5]), config.row_elevations(), 4.5), 10.0) / 10.0
    assert not terminated and reward == pytest.approx(window_value(depth, 3.0, 10.0)[0])
    np.testing.assert_array_equal(obs[0], np.rint(depth[0] * 255).astype(np.uint8))
    assert info["distance"] == pytest.approx(0.4)


def test_flying_into_a_wall_crashes_with_minus_one_and_reports_the_distance() -> None:
    env = gym.make("mtenvs/DroneNav-v0", task={"plan": "frogeyes", "speed": 0.3})
    env.reset(seed=0, options={"state": [1.0, 10.0, 1.5, 0.0, 0.0]})  # heading east, the doorway wall at x = 12
    steps, terminated, reward, info = 0, False, 0.0, {}
    while not terminated:
        _, reward, terminated, truncated, info = env.step(12)
        steps += 1
        assert not truncated
    assert reward == -1.0 and info["distance"] == pytest.approx(0.3 * steps)
    # It crashes before touching the wall, no later than when it comes within the drone's radius.
    assert 1.0 + 0.3 * steps <= 12.0 - RADIUS + 0.3
    assert steps > 20


def test_start_poses_are_safe_in_every_plan() -> None:
    for plan in PLAN_NAMES:
        env = gym.make("mtenvs/DroneNav-v0", task={"plan": plan})
        for seed in range(12):
            env.reset(seed=seed)
            _, reward, terminated, _, _ = env.step(12)
            assert not terminated and reward > 0, (plan, seed)


def test_paper_task_set_and_render() -> None:
    tasks = mtenvs.family("DroneNav").task_set("paper")
    assert [t["plan"] for t in tasks] == list(PLAN_NAMES) and [t.name for t in tasks] == ["env0", "env1", "env2", "env3"]
    env = gym.make("mtenvs/DroneNav-v0", task=tasks[1], render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and max(frame.shape[:2]) == 400


def test_safe_flight_distances_of_a_straight_flyer() -> None:
    # Flying straight from the long corridor's first start pose (north along x = 1.5) ends at the first cabinet
    # or wall ahead; the metric is the number of steps times the speed, episode by episode.
    def straight(observations: np.ndarray) -> np.ndarray:
        return np.full(len(observations), 12)

    distances = safe_flight_distances(straight, "paper", episodes=3, seed=1)
    assert distances.shape == (4, 3) and (distances > 0).all()
    assert np.allclose(distances / 0.4, np.round(distances / 0.4))


@pytest.mark.parametrize(("argument", "value"), [("image_shape", (1, 16)), ("max_depth", -1.0), ("crash_threshold", 2.0),
                                               ("observation", "rgb")])
def test_bad_settings_raise(argument: str, value: object) -> None:
    with pytest.raises(ValueError, match=argument):
        gym.make("mtenvs/DroneNav-v0", **{argument: value})


def test_climbing_hits_the_low_ceiling_of_frogeyes() -> None:
    env = gym.make("mtenvs/DroneNav-v0", task={"plan": "frogeyes"})
    env.reset(seed=0, options={"state": [3.0, 10.0, 1.2, 0.0, 0.0]})
    climb = 0.4 * math.sin(2 * PITCH_STEP)             # action 22: pitch +12 degrees, no turn
    bound = math.ceil((PLANS["frogeyes"].ceiling - RADIUS - 1.2) / climb)
    steps, terminated, reward = 0, False, 0.0
    while not terminated and steps < bound:
        _, reward, terminated, _, _ = env.step(22)
        steps += 1
    assert terminated and reward == -1.0 and steps >= bound - 3


def test_the_four_paper_environments_as_a_pettingzoo_env() -> None:
    from pettingzoo.test import parallel_api_test

    par = mtenvs.multiagent.parallel_env("mtenvs/DroneNav-v0", tasks="paper", num_agents=4)
    parallel_api_test(par, num_cycles=30)
    _, infos = par.reset(seed=0)
    assert [infos[agent]["task"]["plan"] for agent in par.possible_agents] == list(PLAN_NAMES)


def test_camera_image_is_the_lit_scene_pixel_by_pixel() -> None:
    env = gym.make("mtenvs/DroneNav-v0", task={"plan": "frogeyes"}, observation="camera", image_shape=(6, 7)).unwrapped
    x, y, z, yaw = 3.0, 10.0, 0.9, 0.2
    obs, _ = env.reset(seed=0, options={"state": [x, y, z, yaw, 0.0]})
    plan = PLANS["frogeyes"]
    bearings, elevations = env.config.column_offsets(), env.config.row_elevations()
    ranges = horizontal_ranges(np.array([[x, y]]), (yaw + bearings)[None], plan.walls[None])[0]
    for r, phi in enumerate(elevations):
        for c in range(7):
            wall = ranges[c] / math.cos(phi)
            plane = (plan.ceiling - z) / math.sin(phi) if phi > 0 else z / math.sin(-phi)
            surface = 0 if wall <= plane else (2 if phi > 0 else 1)
            expected = 255 * plan.albedo[surface] * math.exp(-min(wall, plane) / plan.light_range)
            assert abs(int(obs[0, r, c]) - expected) <= 0.5 + 1e-9, (r, c)


def test_camera_vector_env_matches_single_envs() -> None:
    vec = gym.make_vec("mtenvs/DroneNav-v0", num_envs=4, tasks="paper", observation="camera",
                       autoreset_mode="Disabled").unwrapped
    obs, _ = vec.reset(seed=3)
    singles = []
    for i in range(4):
        single = gym.make("mtenvs/DroneNav-v0", observation="camera").unwrapped
        first, _ = single.reset(options={"task": vec.tasks[i], "state": vec.states[i]})
        np.testing.assert_array_equal(first, obs[i])
        singles.append(single)
    rng = np.random.default_rng(0)
    alive = np.ones(4, dtype=bool)
    for _ in range(15):
        actions = rng.integers(10, 15, size=4)
        obs, rewards, terminated, _, _ = vec.step(actions)
        for i in np.flatnonzero(alive):
            s_obs, s_reward, s_terminated, _, _ = singles[i].step(int(actions[i]))
            np.testing.assert_array_equal(s_obs, obs[i])
            assert s_reward == pytest.approx(float(rewards[i]), rel=1e-6) and s_terminated == terminated[i]
        alive &= ~terminated
        if not alive.any():
            break
        if terminated.any():
            obs, _ = vec.reset(options={"reset_mask": terminated})
            alive |= terminated
            for i in np.flatnonzero(terminated):
                singles[i].reset(options={"task": vec.tasks[i], "state": vec.states[i]})
