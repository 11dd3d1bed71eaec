"""Drone navigation: a forward-flying drone avoids walls in four indoor floor plans, seeing only a depth image.

A lightweight stand-in for the PEDRA (Unreal Engine + AirSim) environments of paper 003 (Zeng et al., "A
Decentralized Policy Gradient Approach to Multi-Task Reinforcement Learning", Sec. 5.2 and App. C.1). It keeps what
the experiment needs: four indoor environments with different floor plans (the tasks), a drone that always flies
forward and chooses one of 25 yaw/pitch actions, an egocentric depth image rendered by ray casting, PEDRA's
depth-window reward, and the mean safe flight distance as the metric.

Reads top to bottom: parameters, configuration, dynamics, the single environment, the batched vector environment,
rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import MAX_ACTION, TaskEnv, discrete_action, numeric_array
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Categorical, Continuous, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.core.vector import TaskVectorEnv, batch_discrete_actions, check_num_envs
from mtenvs.navigation.floorplans import PLAN_NAMES, PLANS, padded_walls
from mtenvs.navigation.raycast import horizontal_ranges, shade, surfaces, wall_clearance, window_value

# ------------------------------------------------------------------------------------------------ parameters
#: Radius of the drone [m]. A step shorter than twice the radius cannot pass through a wall unnoticed.
RADIUS = 0.25

PARAMETERS = ParameterSpace([
    Continuous("speed", 0.4, bounds=(0.1, 0.48), train=(0.3, 0.45), units="m/step",
               description="distance flown forward per step (PEDRA moves 0.4 m per action)"),
    Continuous("turn_rate", 1.0, bounds=(0.25, 2.0), train=(0.75, 1.25),
               description="multiplier of the yaw angles of the actions"),
    Categorical("plan", "long", choices=PLAN_NAMES, train=PLAN_NAMES,
                description="floor plan: the stand-ins of PEDRA's indoor long / cloud / frogeyes / pyramid"),
])


def _paper_tasks(family: TaskFamily) -> list[Task]:
    return [Task(family.name, {**family.parameters.defaults(), "plan": name}, name=f"env{k}")
            for k, name in enumerate(PLAN_NAMES)]


FAMILY = TaskFamily(
    "DroneNav",
    PARAMETERS,
    description="A forward-flying drone avoids obstacles from a ray-cast depth image in four indoor floor plans "
                "(paper 003's drone experiment).",
    task_sets={"paper": _paper_tasks},
)

# ------------------------------------------------------------------------------------------------ configuration
#: PEDRA's camera field of view [deg]; the actions turn by up to 1/1.5 of it (``fov / 1.5 / 5`` per action step).
FOV_HORIZONTAL, FOV_VERTICAL = 80.0, 45.0
YAW_STEP = math.radians(FOV_HORIZONTAL / 1.5 / 5)      # 10.67 deg: yaw in {-2, -1, 0, 1, 2} steps
PITCH_STEP = math.radians(FOV_VERTICAL / 1.5 / 5)      # 6 deg: pitch in {-2, -1, 0, 1, 2} steps
START_JITTER = (0.25, 0.25, 0.25, math.radians(15.0))  # half-widths of x, y, z, yaw around a start pose (z: half the ceiling)
STATE_SIZE = 5                                          # x, y, z, yaw, distance flown


@dataclass(frozen=True)
class DroneConfig:
    """Settings shared by every task of an environment (fixed at construction)."""

    image_shape: tuple[int, int] = (16, 16)
    max_depth: float = 10.0
    crash_threshold: float = 0.07
    window_scale: float = 3.0
    observation: Literal["depth", "camera"] = "depth"

    @classmethod
    def build(cls, image_shape: Any = (16, 16), max_depth: float = 10.0, crash_threshold: float = 0.07,
              window_scale: float = 3.0, observation: str = "depth") -> DroneConfig:
        """Validate constructor arguments."""
        if observation not in ("depth", "camera"):
            raise ValueError(f"DroneNav: observation must be 'depth' or 'camera', got {observation!r}")
        try:
            height, width = (int(v) for v in image_shape)
            ok = all(float(v) == int(v) for v in image_shape)
        except (TypeError, ValueError):
            ok = False
        if not ok or not (2 <= height <= 128 and 2 <= width <= 128):
            raise ValueError(f"DroneNav: image_shape must be (height, width), each an integer in [2, 128], got {image_shape!r}")
        for name, value, low, high in (("max_depth", max_depth, 1.0, 100.0), ("crash_threshold", crash_threshold, 0.0, 1.0),
                                       ("window_scale", window_scale, 0.1, 100.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"DroneNav: {name} must be a number in [{low:g}, {high:g}], got {value!r}")
        return cls((height, width), float(max_depth), float(crash_threshold), float(window_scale), observation)  # type: ignore[arg-type]

    def observation_space(self) -> spaces.Box:
        """The image, channel first: ``Box(0, 255, (1, H, W), uint8)`` (depth: 255 = ``max_depth`` or farther)."""
        return spaces.Box(0, 255, (1, *self.image_shape), dtype=np.uint8)

    def column_offsets(self) -> np.ndarray:
        """Horizontal angle of each image column relative to the heading [rad]; column 0 is the leftmost."""
        width = self.image_shape[1]
        return np.radians(FOV_HORIZONTAL * (0.5 - (np.arange(width) + 0.5) / width))

    def row_elevations(self) -> np.ndarray:
        """Elevation of each image row [rad]; row 0 is the top."""
        height = self.image_shape[0]
        return np.radians(FOV_VERTICAL * (0.5 - (np.arange(height) + 0.5) / height))


# ------------------------------------------------------------------------------------------------ dynamics
def decode_actions(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PEDRA's action grid: ``(yaw steps, pitch steps)`` in {-2..2}, from ``yaw = a % 5`` and ``pitch = a // 5``."""
    return actions % 5 - 2, actions // 5 - 2


def fly(states: np.ndarray, actions: np.ndarray, speed: np.ndarray, turn_rate: np.ndarray) -> np.ndarray:
    """One step of every drone: turn by the yaw angle, then fly ``speed`` metres forward, climbing at the pitch angle.

    As in PEDRA, ``x += r cos(yaw)``, ``y += r sin(yaw)``, ``z += r sin(pitch)``; the flown distance grows by ``r``.
    """
    yaw_steps, pitch_steps = decode_actions(actions)
    x, y, z, yaw, distance = states.T
    yaw = yaw + turn_rate * YAW_STEP * yaw_steps
    yaw = (yaw + math.pi) % (2 * math.pi) - math.pi
    return np.stack([x + speed * np.cos(yaw), y + speed * np.sin(yaw), z + speed * np.sin(PITCH_STEP * pitch_steps),
                     yaw, distance + speed], axis=1)


@dataclass
class Scene:
    """The environments of ``N`` drones: walls ``(N, S, 4)``, ceiling heights ``(N,)``, wall/floor/ceiling albedo
    ``(N, 3)`` and lighting ranges ``(N,)``."""

    walls: np.ndarray
    ceilings: np.ndarray
    albedo: np.ndarray
    light_range: np.ndarray

    @classmethod
    def of(cls, plans: list[str] | tuple[str, ...]) -> Scene:
        """The scene of the named plans (walls padded to a common length)."""
        return cls(padded_walls(plans), np.array([PLANS[p].ceiling for p in plans]),
                   np.array([PLANS[p].albedo for p in plans]), np.array([PLANS[p].light_range for p in plans]))

    def take(self, rows: np.ndarray) -> Scene:
        """The scene of a subset (or a re-indexing) of the drones."""
        return Scene(self.walls[rows], self.ceilings[rows], self.albedo[rows], self.light_range[rows])


@dataclass
class Sensing:
    """What the drones perceive at their current poses: horizontal ranges, the observed image in [0, 1], the depth
    window value and whether they crashed."""

    ranges: np.ndarray
    image: np.ndarray
    window: np.ndarray
    crashed: np.ndarray


def sense(states: np.ndarray, scene: Scene, config: DroneConfig, columns: np.ndarray, rows: np.ndarray) -> Sensing:
    """Ray-cast the images and decide crashes: touching a wall, the floor or the ceiling, or a centre depth window
    below ``crash_threshold`` (PEDRA's rule). The reward always reads the depth image; the agent sees the depth
    image or, with ``observation="camera"``, the grey-level camera image of the lit scene."""
    ranges = horizontal_ranges(states[:, :2], states[:, 3:4] + columns[None, :], scene.walls)
    distance, kinds = surfaces(ranges, states[:, 2], rows, scene.ceilings)
    depth = np.minimum(distance, config.max_depth) / config.max_depth
    window = window_value(depth, config.window_scale, config.max_depth)
    z = states[:, 2]
    crashed = (wall_clearance(states[:, :2], scene.walls) < RADIUS) | (z < RADIUS) | (z > scene.ceilings - RADIUS)
    image = depth if config.observation == "depth" else shade(distance, kinds, scene.albedo, scene.light_range)
    return Sensing(ranges, image, window, crashed | (window < config.crash_threshold))


def reward_of(sensing: Sensing) -> np.ndarray:
    """PEDRA's depth-window reward: the centre window value, or ``-1`` on a crash."""
    return np.where(sensing.crashed, -1.0, sensing.window)


def to_pixels(image: np.ndarray) -> np.ndarray:
    """Images ``(N, H, W)`` in [0, 1] as uint8 images ``(N, 1, H, W)``."""
    return np.rint(image * 255.0).astype(np.uint8)[:, None]


def start_states(plans: list[str], rng: np.random.Generator) -> np.ndarray:
    """Initial states: a start pose of each plan drawn uniformly, at half the ceiling height, jittered uniformly in
    position, height and yaw."""
    picks = rng.integers(0, 1 << 30, size=len(plans))
    jitter = rng.uniform(-1.0, 1.0, size=(len(plans), 4)) * np.asarray(START_JITTER)
    states = np.zeros((len(plans), STATE_SIZE))
    for k, plan in enumerate(plans):
        x, y, yaw = PLANS[plan].starts[picks[k] % len(PLANS[plan].starts)]
        states[k, :4] = (x, y, PLANS[plan].ceiling / 2, math.radians(yaw))
    states[:, :4] += jitter
    return states


def check_states(states: Any, count: int) -> np.ndarray:
    """Validate ``reset(options={"state": ...})``: ``(count, 5)`` finite values ``(x, y, z, yaw, distance)``."""
    array = np.asarray(states, dtype=np.float64)
    if array.shape != (count, STATE_SIZE) or not np.isfinite(array).all():
        raise ValueError(f"DroneNav: reset option 'state' must be finite (x, y, z, yaw, distance) values of shape "
                         f"({count}, {STATE_SIZE}) (one row per drone), got shape {array.shape}")
    return array.copy()


# ------------------------------------------------------------------------------------------------ single env
class DroneNavEnv(TaskEnv[np.ndarray, int]):
    """Fly a drone forward through an indoor floor plan without crashing, seeing only a depth image.

    ## Description
    A stand-in for the four PEDRA indoor environments of paper 003. The drone flies forward ``speed`` metres per
    step and each action turns it (yaw) and climbs or descends (pitch). Walls are vertical, from the floor to a flat
    ceiling. The four floor plans (task parameter ``plan``) are ``long`` (a looping corridor with cabinets, 3 m
    high), ``cloud`` (a 6 m high hall with a lattice of pillars), ``frogeyes`` (two low rooms, 2.4 m, with a round
    pillar each, joined by a doorway) and ``pyramid`` (a 4.5 m high hall around a diamond, with wedged corners).
    ``info["distance"]`` is the horizontal distance flown in the episode; at the crash it is the safe flight
    distance, the paper's metric.

    ## Observation Space
    ``Box(0, 255, (1, H, W), uint8)`` (default 16 x 16), the image of a level, forward-looking camera with PEDRA's
    80 x 45 degree field of view, one ray per pixel at equal angular spacing (column 0 left, row 0 top).
    ``observation="depth"`` (default): the range along the ray to the first surface, ``255 * min(range, max_depth)
    / max_depth``. ``observation="camera"``: a grey-level picture of the lit scene, ``255 * albedo * exp(-range /
    light_range)``, with each plan's own wall, floor and ceiling albedo and lighting range; like PEDRA's RGB
    camera, it shows the environments in different light and colours, while the reward still reads the depth.

    ## Action Space
    ``Discrete(25)``: ``a % 5`` chooses the yaw change ``turn_rate * (a % 5 - 2) * 10.67`` degrees and ``a // 5`` the
    pitch ``(a // 5 - 2) * 6`` degrees (PEDRA's grid, ``fov / 1.5 / 5`` per step). Action 12 flies straight.

    ## Reward
    PEDRA's dynamic depth window (paper 003, App. C.1): with the normalized depth image ``D`` and ``n = max(mean(D)
    * max_depth / window_scale, 1)``, the centre window of size ``(H / n, W / n)`` at ``(0.9 H (n - 1) / 2n,
    W (n - 1) / 2n)``; its value ``C`` is the mean of its smallest 5 % of pixels. The reward is ``C`` in [0, 1],
    or ``-1`` on a crash.

    ## Starting State
    One of the plan's four start poses, drawn uniformly, jittered by up to 0.25 m in x, y and height (around
    half the ceiling height) and 15 degrees in yaw. ``reset(options={"state": (x, y, z, yaw, distance)})`` starts
    from a given state.

    ## Episode End
    Termination on a crash: the drone comes within 0.25 m of a wall, the floor or the ceiling, or the centre
    window value drops below ``crash_threshold`` (PEDRA's rule). Truncation after 500 steps for
    ``mtenvs/DroneNav-v0``.

    ## Arguments
    * ``task`` / ``tasks``: the task or the task set (see `mtenvs.core.env.TaskEnv`); the task set
      ``"paper"`` holds the four plans at the default speed and turn rate (Env0 to Env3).
    * ``image_shape``: ``(height, width)`` of the depth image (default ``(16, 16)``).
    * ``max_depth``: range [m] mapped to 255 (default 10).
    * ``crash_threshold``: centre window value below which the drone counts as crashed (default 0.07, PEDRA's).
    * ``window_scale``: the mean depth [m] per unit of the window divisor ``n`` (default 3, PEDRA's).
    * ``observation``: ``"depth"`` (default) or ``"camera"`` (see Observation Space).
    * ``render_mode``: ``"rgb_array"`` (a top-down map) or ``None``.

    ## Version History
    * v0: initial release.
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: TaskSpec = None,
        *,
        tasks: TaskSpec = None,
        image_shape: Any = (16, 16),
        max_depth: float = 10.0,
        crash_threshold: float = 0.07,
        window_scale: float = 3.0,
        observation: str = "depth",
        render_mode: str | None = None,
    ) -> None:
        self.config = DroneConfig.build(image_shape, max_depth, crash_threshold, window_scale, observation)
        self.observation_space = self.config.observation_space()
        self.action_space = spaces.Discrete(25)
        self._bearings, self._elevations = self.config.column_offsets(), self.config.row_elevations()
        self._state: np.ndarray | None = None
        self._sensing: Sensing | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self._scene = Scene.of([task["plan"]])
        self._speed = np.array([task["speed"]])
        self._turn_rate = np.array([task["turn_rate"]])

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            state = numeric_array(options["state"], (STATE_SIZE,), "DroneNav", "reset option 'state'", MAX_ACTION)[None]
        else:
            state = start_states([self._task["plan"]], self.np_random)
        self._state = state
        self._sensing = sense(state, self._scene, self.config, self._bearings, self._elevations)
        return self._observation()

    def _observation(self) -> np.ndarray:
        return to_pixels(self._sensing.image)[0]  # type: ignore[union-attr]

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        if self._state is not None:
            info["distance"] = float(self._state[0, 4])
        return info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Turn, climb and fly forward; then sense, and end the episode on a crash."""
        if self._state is None:
            self._require_reset()
        chosen = np.array([discrete_action(action, 25, "DroneNav")])
        self._state = fly(self._state, chosen, self._speed, self._turn_rate)
        self._sensing = sense(self._state, self._scene, self.config, self._bearings, self._elevations)
        reward = float(reward_of(self._sensing)[0])
        return self._observation(), reward, bool(self._sensing.crashed[0]), False, self._info()

    @property
    def state(self) -> np.ndarray | None:
        """``(x, y, z, yaw, distance)`` as float64, or ``None`` before reset."""
        return None if self._state is None else self._state[0].copy()

    def render(self) -> np.ndarray | None:
        """A top-down RGB map of the plan with the drone and its field of view in ``"rgb_array"`` mode."""
        if self.render_mode != "rgb_array":
            return None
        state = self._state[0] if self._state is not None else None
        ranges = self._sensing.ranges[0] if self._sensing is not None else None
        return draw_map(self._task["plan"], state, ranges, self._bearings)


# ------------------------------------------------------------------------------------------------ vector env
class DroneNavVectorEnv(TaskVectorEnv):
    """``num_envs`` drones, each in its own task, sensed by one batched ray cast.

    Same dynamics, rewards and episode ends as `DroneNavEnv`; arguments are those of `DroneNavEnv`
    plus ``num_envs``, ``max_episode_steps`` and ``autoreset_mode`` (see `mtenvs.core.vector`).
    ``infos["distance"]`` holds every drone's flown distance.
    """

    family = FAMILY
    metadata = {"render_modes": [], "autoreset_mode": TaskVectorEnv.metadata["autoreset_mode"]}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        task: TaskSpec = None,
        tasks: TaskSpec = None,
        max_episode_steps: int | None = None,
        autoreset_mode: Any = "NextStep",
        image_shape: Any = (16, 16),
        max_depth: float = 10.0,
        crash_threshold: float = 0.07,
        window_scale: float = 3.0,
        observation: str = "depth",
        render_mode: str | None = None,
    ) -> None:
        self.config = DroneConfig.build(image_shape, max_depth, crash_threshold, window_scale, observation)
        self.single_observation_space = self.config.observation_space()
        self.single_action_space = spaces.Discrete(25)
        self._bearings, self._elevations = self.config.column_offsets(), self.config.row_elevations()
        n = check_num_envs(num_envs, "DroneNav")
        self._all_plans = Scene.of(PLAN_NAMES)
        self._scene = self._all_plans.take(np.zeros(n, dtype=np.int64))
        self._state = np.zeros((n, STATE_SIZE))
        self._image = np.ones((n, *self.config.image_shape))
        super().__init__(n, task=task, tasks=tasks, max_episode_steps=max_episode_steps,
                         autoreset_mode=autoreset_mode, render_mode=render_mode)
        self._batch_spaces()

    def _apply_tasks(self, idx: np.ndarray) -> None:
        plans = np.array([PLAN_NAMES.index(p) for p in self.params["plan"][idx]], dtype=np.int64)
        chosen = self._all_plans.take(plans)
        self._scene.walls[idx], self._scene.ceilings[idx] = chosen.walls, chosen.ceilings
        self._scene.albedo[idx], self._scene.light_range[idx] = chosen.albedo, chosen.light_range

    def _reset_states(self, idx: np.ndarray, states: np.ndarray | None) -> None:
        if states is not None:
            self._state[idx] = check_states(states, len(idx))
        else:
            self._state[idx] = start_states(list(self.params["plan"][idx]), self.np_random)
        self._image[idx] = sense(self._state[idx], self._scene.take(idx), self.config, self._bearings,
                                 self._elevations).image

    def _check_actions(self, actions: Any) -> np.ndarray:
        return batch_discrete_actions(actions, self.num_envs, 25, "DroneNav")

    def _step_states(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._state = fly(self._state, actions, self.params["speed"], self.params["turn_rate"])
        sensing = sense(self._state, self._scene, self.config, self._bearings, self._elevations)
        self._image = sensing.image
        return reward_of(sensing).astype(np.float32), sensing.crashed

    def _observe(self) -> np.ndarray:
        return to_pixels(self._image)

    def _infos(self) -> dict[str, Any]:
        infos = dict(super()._infos())
        infos["distance"] = self._state[:, 4].copy()
        infos["_distance"] = self._all_true
        return infos

    @property
    def states(self) -> np.ndarray:
        """``(num_envs, 5)`` states ``(x, y, z, yaw, distance)``, float64."""
        return self._state.copy()


# ------------------------------------------------------------------------------------------------ rendering
def draw_map(plan: str, state: np.ndarray | None, ranges: np.ndarray | None, columns: np.ndarray,
             size: int = 400) -> np.ndarray:
    """Draw the floor plan from above with Pillow: walls, the drone, its heading and its rays to the walls.

    Returns a ``(height, width, 3)`` uint8 frame whose longer side is ``size`` pixels.
    """
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = PLANS[plan].extent
    margin = 10
    scale = (size - 2 * margin) / max(x1 - x0, y1 - y0)
    width, height = int((x1 - x0) * scale) + 2 * margin, int((y1 - y0) * scale) + 2 * margin

    def pixel(x: float, y: float) -> tuple[float, float]:
        return margin + (x - x0) * scale, height - margin - (y - y0) * scale  # y up on screen

    image = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    for ax, ay, bx, by in PLANS[plan].walls:
        draw.line([pixel(ax, ay), pixel(bx, by)], fill=(40, 40, 40), width=3)
    if state is not None:
        x, y, _, yaw, _ = state
        if ranges is not None:
            for offset, reach in zip(columns, np.minimum(ranges, 50.0), strict=True):
                end = (x + reach * math.cos(yaw + offset), y + reach * math.sin(yaw + offset))
                draw.line([pixel(x, y), pixel(*end)], fill=(120, 170, 230), width=1)
        r = RADIUS * scale
        cx, cy = pixel(x, y)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(210, 50, 40))
        draw.line([pixel(x, y), pixel(x + 0.8 * math.cos(yaw), y + 0.8 * math.sin(yaw))], fill=(210, 50, 40), width=2)
    return np.asarray(image, dtype=np.uint8).copy()
