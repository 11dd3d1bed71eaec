"""Double-inverted-pendulum task family: balance two stacked poles on a cart.

Reads top to bottom: parameters, settings, dynamics (Lagrangian equations of motion, RK4), reward (shared
with the other paper-002 families), the single environment, the batched vector environment, references
(linearization), rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import solve_discrete_are

from mtenvs.control.control_config import ControlConfig, check_state, observe
from mtenvs.control.linear_system import zero_order_hold
from mtenvs.core.env import TaskEnv, box_action
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.core.vector import TaskVectorEnv, batch_box_actions, check_num_envs
from mtenvs.rendering import require_reset

# ------------------------------------------------------------------------------------------------ parameters
# Training regions: Table 1 of "Scalable Lifelong Reinforcement Learning"; defaults at their centres. The poles
# are massless with point masses at their tips.
PARAMETERS = ParameterSpace([
    Continuous("cart_mass", 2.5, bounds=(0.5, 10.0), train=(1.5, 3.5), units="kg", description="cart mass m0"),
    Continuous("mass_1", 0.075, bounds=(0.01, 1.0), train=(0.055, 0.1), units="kg",
               description="point mass m1 at the tip of the lower pole"),
    Continuous("mass_2", 0.075, bounds=(0.01, 1.0), train=(0.055, 0.1), units="kg",
               description="point mass m2 at the tip of the upper pole"),
    Continuous("length_1", 0.6, bounds=(0.1, 2.0), train=(0.4, 0.8), units="m", description="lower pole length l1"),
    Continuous("length_2", 0.7, bounds=(0.1, 2.0), train=(0.5, 0.9), units="m", description="upper pole length l2"),
])

FAMILY = TaskFamily(
    "DoubleInvertedPendulum",
    PARAMETERS,
    description="Two stacked inverted pendulums on a cart, balanced upright by a force on the cart (paper 002's DIP).",
)

GRAVITY = 9.81
STATE_NAMES = ("x", "x_dot", "theta_1", "theta_1_dot", "theta_2", "theta_2_dot")

# ------------------------------------------------------------------------------------------------ settings
#: The family's defaults of the shared control settings: a 100 N force per unit action (the LQR force of the
#: linearization from any start state stays inside it) and our start box (the paper gives none).
DEFAULT_SETTINGS: dict[str, Any] = {"action_scale": 100.0, "initial_state_bounds": (0.2, 0.05, 0.05, 0.05, 0.05, 0.05)}


def make_config(**settings: Any) -> tuple[ControlConfig, int]:
    """The validated `ControlConfig` and the RK4 sub-steps per environment step (default 5: 0.01 s)."""
    substeps = settings.pop("substeps", 5)
    if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
        raise ValueError(f"DoubleInvertedPendulum: substeps must be a positive integer, got {substeps!r}")
    for ignored in ("max_episode_steps", "render_mode", "autoreset_mode", "num_envs"):
        settings.pop(ignored, None)
    unknown = set(settings) - set(ControlConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"DoubleInvertedPendulum: unknown setting(s) {sorted(unknown)}; "
                         f"allowed: {sorted([*ControlConfig.__dataclass_fields__, 'substeps'])}")
    config = ControlConfig.build("DoubleInvertedPendulum", 6, 1, **{**DEFAULT_SETTINGS, **settings})
    return config, int(substeps)


# ------------------------------------------------------------------------------------------------ dynamics
@dataclass
class Physics:
    """Parameters as arrays of shape ``(N,)`` (one entry per sub-env; ``N = 1`` for the single env)."""

    cart_mass: np.ndarray
    mass_1: np.ndarray
    mass_2: np.ndarray
    length_1: np.ndarray
    length_2: np.ndarray

    @classmethod
    def of(cls, task: Task) -> Physics:
        """The physics of one task, as arrays of shape ``(1,)``."""
        return cls(*(np.array([task[name]], dtype=np.float64) for name in PARAMETERS))


def mass_matrix(theta_1: np.ndarray, theta_2: np.ndarray, p: Physics) -> tuple[np.ndarray, ...]:
    """The six distinct entries ``(M00, M01, M02, M11, M12, M22)`` of the symmetric mass matrix ``M(q)``.

    Coordinates ``q = (x, theta_1, theta_2)``, angles absolute from the upward vertical; point masses at
    ``(x + l1 sin theta_1, l1 cos theta_1)`` and ``(x + l1 sin theta_1 + l2 sin theta_2, l1 cos theta_1 + l2 cos theta_2)``.
    """
    m12 = p.mass_1 + p.mass_2
    return (p.cart_mass + m12, m12 * p.length_1 * np.cos(theta_1), p.mass_2 * p.length_2 * np.cos(theta_2),
            m12 * p.length_1**2, p.mass_2 * p.length_1 * p.length_2 * np.cos(theta_1 - theta_2),
            p.mass_2 * p.length_2**2)


def accelerations(state: np.ndarray, force: np.ndarray, p: Physics) -> np.ndarray:
    """``q'' = M(q)^{-1} (e_0 u - c(q, q') - g(q))`` for states ``(N, 6)`` and forces ``(N,)``; returns ``(N, 3)``.

    ``c = (-(m1+m2) l1 sin(th1) th1'^2 - m2 l2 sin(th2) th2'^2, m2 l1 l2 sin(th1-th2) th2'^2,
    -m2 l1 l2 sin(th1-th2) th1'^2)`` and ``g = (0, -(m1+m2) g l1 sin(th1), -m2 g l2 sin(th2))``.
    The 3×3 system is solved by Cramer's rule on whole arrays (by hand rather than ``np.linalg.solve``: it is
    elementwise, so one sub-env gives bit for bit the same numbers alone as inside a batch).
    """
    theta_1, w1, theta_2, w2 = state[:, 2], state[:, 3], state[:, 4], state[:, 5]
    m12 = p.mass_1 + p.mass_2
    s1, s2, s12 = np.sin(theta_1), np.sin(theta_2), np.sin(theta_1 - theta_2)
    r0 = force + m12 * p.length_1 * s1 * w1 * w1 + p.mass_2 * p.length_2 * s2 * w2 * w2
    r1 = -p.mass_2 * p.length_1 * p.length_2 * s12 * w2 * w2 + m12 * GRAVITY * p.length_1 * s1
    r2 = p.mass_2 * p.length_1 * p.length_2 * s12 * w1 * w1 + p.mass_2 * GRAVITY * p.length_2 * s2
    a, b, c, d, e, f = mass_matrix(theta_1, theta_2, p)  # [[a, b, c], [b, d, e], [c, e, f]]
    cof_00, cof_01, cof_02 = d * f - e * e, c * e - b * f, b * e - c * d
    cof_11, cof_12, cof_22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * cof_00 + b * cof_01 + c * cof_02
    return np.stack([(cof_00 * r0 + cof_01 * r1 + cof_02 * r2) / det,
                     (cof_01 * r0 + cof_11 * r1 + cof_12 * r2) / det,
                     (cof_02 * r0 + cof_12 * r1 + cof_22 * r2) / det], axis=1)


def derivative(state: np.ndarray, force: np.ndarray, p: Physics) -> np.ndarray:
    """Time derivative of states ``(N, 6)`` ordered ``(x, x', theta_1, theta_1', theta_2, theta_2')``."""
    acc = accelerations(state, force, p)
    return np.stack([state[:, 1], acc[:, 0], state[:, 3], acc[:, 1], state[:, 5], acc[:, 2]], axis=1)


def rk4_step(state: np.ndarray, force: np.ndarray, p: Physics, dt: float, substeps: int) -> np.ndarray:
    """Advance by ``dt`` seconds with ``substeps`` classical Runge-Kutta steps, the force held constant."""
    h = dt / substeps
    for _ in range(substeps):
        k1 = derivative(state, force, p)
        k2 = derivative(state + 0.5 * h * k1, force, p)
        k3 = derivative(state + 0.5 * h * k2, force, p)
        k4 = derivative(state + h * k3, force, p)
        state = state + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return state


def energy(state: np.ndarray, p: Physics) -> np.ndarray:
    """Total mechanical energy ``1/2 q'^T M(q) q' + (m1+m2) g l1 cos(theta_1) + m2 g l2 cos(theta_2)``, shape ``(N,)``."""
    v, w1, w2 = state[:, 1], state[:, 3], state[:, 5]
    a, b, c, d, e, f = mass_matrix(state[:, 2], state[:, 4], p)
    kinetic = 0.5 * (a * v * v + d * w1 * w1 + f * w2 * w2) + b * v * w1 + c * v * w2 + e * w1 * w2
    potential = GRAVITY * ((p.mass_1 + p.mass_2) * p.length_1 * np.cos(state[:, 2])
                           + p.mass_2 * p.length_2 * np.cos(state[:, 4]))
    return kinetic + potential


# ------------------------------------------------------------------------------------------------ single env
class DoubleInvertedPendulumEnv(TaskEnv[np.ndarray, np.ndarray]):
    """Two poles stacked on a cart; push the cart to keep both upright at the origin.

    ## Description
    A cart of mass ``m0`` carries a massless pole of length ``l1`` with a point mass ``m1`` at its tip, on which a
    second massless pole of length ``l2`` with point mass ``m2`` is hinged (Table 1 of paper 002 gives the task
    ranges). The Lagrangian equations of motion are integrated with RK4 (``substeps`` per step). With no force
    the energy is conserved to the integrator's accuracy. ``linearization(task)`` gives the upright linear model.

    ## Observation Space
    ``Box(-inf, inf, (6,))`` float32: cart position [m] and velocity, lower pole angle [rad, 0 = upright, absolute]
    and angular velocity, upper pole angle [rad, absolute] and angular velocity.

    ## Action Space
    ``Box(-1, 1, (1,))``: the force on the cart as a fraction of ``action_scale`` (100 N); clipped unless
    ``clip_actions=False``.

    ## Reward
    ``reward="quadratic"`` (default): ``-(x' Q x + u' R u)`` (``Q = R = I`` by default, ``u`` in newtons) at the
    state in which the force is applied; ``reward="norm"``: paper 002's literal ``-||x|| - ||u||``.

    ## Starting State
    Uniform: ``x`` in ±0.2 m, every angle and velocity in ±0.05 (``initial_state_bounds``);
    ``reset(options={"state": s})`` starts from ``s``.

    ## Episode End
    No termination for falling poles (angles are not wrapped); truncation after 150 steps (7.5 s) for
    ``mtenvs/DoubleInvertedPendulum-v0``. Some tasks inside the bounds are so unstable (e.g. a light, short lower
    pole under a heavy, long upper one: ``mass_1=0.01, length_1=0.1, mass_2=1, length_2=2``) that an uncontrolled
    state leaves the float range within a few steps. Such an episode *diverges*: at the step whose new state would
    be NaN or infinite, or would make the reward infinite, it terminates with ``info["termination_reason"] ==
    "diverged"``, and the state stays at the last finite one (so the last observation and every reward are finite).
    Episodes that stay finite are unchanged.

    ## Rendering
    ``render_mode="rgb_array"``: the cart and both poles to scale (lengths ``l1``, ``l2``; discs growing with
    ``m1``, ``m2``), the last force as a red arrow.

    ## Arguments
    ``task``/``tasks``, ``dt`` (0.05 s), ``substeps`` (5), ``reward``, ``state_cost``, ``input_cost``,
    ``action_scale``, ``clip_actions``, ``initial_state_bounds`` (see
    `mtenvs.control.control_config.ControlConfig`), ``render_mode`` (``"rgb_array"`` or ``None``).

    ## Version History
    * v0: initial release.
    * v0: ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    * v0: a diverging episode terminates (``termination_reason="diverged"``) at the step that would have produced NaN
      or infinite values, instead of continuing with NaN; finite episodes are unchanged.
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, render_mode: str | None = None,
                 **settings: Any) -> None:
        self.config, self.substeps = make_config(**settings)
        self.observation_space = self.config.observation_space()
        self.action_space = self.config.action_space()
        self._state: np.ndarray | None = None
        self._force = 0.0  # the force of the last step, in newtons (drawn by render)
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self._physics = Physics.of(task)

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            self._state = check_state(options["state"], (6,), self.family.name)[None].copy()
        else:
            self._state = self.config.sample_states(self.np_random, 1)
        self._force = 0.0
        return self._observation()

    def _observation(self) -> np.ndarray:
        return observe(self._state[0])

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the force for ``dt`` seconds; the reward prices the state it was applied in."""
        if self._state is None:
            self._require_reset()
        inputs = self.config.inputs(box_action(action, (1,), self.family.name)[None])
        reward = float(self.config.rewards(self._state, inputs)[0])
        with np.errstate(over="ignore", invalid="ignore"):
            state = rk4_step(self._state, inputs[:, 0], self._physics, self.config.dt, self.substeps)
        diverged = bool(self.config.diverged(state)[0])
        if not diverged:
            self._state = state  # a diverged step stops at the last finite state
        self._force = float(inputs[0, 0])
        info = self._info()
        if diverged:
            info["termination_reason"] = "diverged"
        return self._observation(), reward, diverged, False, info

    @property
    def state(self) -> np.ndarray | None:
        """The true state (float64), or ``None`` before reset."""
        return None if self._state is None else self._state[0].copy()

    def render(self) -> np.ndarray | None:
        """A 600×400 RGB frame in ``"rgb_array"`` mode (see `draw_double_pendulum`); ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._state is not None, self.family.name)
        return draw_double_pendulum(self.task, self._state[0], self._force, self.config.action_scale[0])


# ------------------------------------------------------------------------------------------------ vector env
class DoubleInvertedPendulumVectorEnv(TaskVectorEnv):
    """``num_envs`` double inverted pendulums, each on its own task, stepped in one NumPy computation.

    Same dynamics and rewards as `DoubleInvertedPendulumEnv`; arguments are its settings plus
    ``num_envs``, ``max_episode_steps`` and ``autoreset_mode`` (see `mtenvs.core.vector`).
    """

    family = FAMILY
    metadata = {"render_modes": [], "autoreset_mode": TaskVectorEnv.metadata["autoreset_mode"]}

    def __init__(self, num_envs: int = 1, *, task: TaskSpec = None, tasks: TaskSpec = None,
                 max_episode_steps: int | None = None, autoreset_mode: Any = "NextStep", render_mode: str | None = None,
                 **settings: Any) -> None:
        self.config, self.substeps = make_config(**settings)
        self.single_observation_space = self.config.observation_space()
        self.single_action_space = self.config.action_space()
        self._state = np.zeros((check_num_envs(num_envs, FAMILY.name), 6))
        self._physics: Physics | None = None
        super().__init__(num_envs, task=task, tasks=tasks, max_episode_steps=max_episode_steps,
                         autoreset_mode=autoreset_mode, render_mode=render_mode)
        self._batch_spaces()

    def _apply_tasks(self, idx: np.ndarray) -> None:
        if self._physics is None:  # bound once to the parameter arrays, which are updated in place
            self._physics = Physics(*(self.params[name] for name in PARAMETERS))

    def _reset_states(self, idx: np.ndarray, states: np.ndarray | None) -> None:
        if states is not None:
            self._state[idx] = check_state(states, (len(idx), 6), self.family.name)
        else:
            self._state[idx] = self.config.sample_states(self.np_random, len(idx))

    def _check_actions(self, actions: Any) -> np.ndarray:
        return self.config.inputs(batch_box_actions(actions, self.num_envs, (1,), self.family.name))

    def _step_states(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # float64, like the single env's rewards: the costs of unstable tasks can exceed the float32 range.
        rewards = self.config.rewards(self._state, inputs)
        with np.errstate(over="ignore", invalid="ignore"):
            states = rk4_step(self._state, inputs[:, 0], self._physics, self.config.dt, self.substeps)
        diverged = self.config.diverged(states)
        if diverged.any():  # diverged sub-envs stop at their last finite state and terminate
            states[diverged] = self._state[diverged]
        self._state = states
        return rewards, diverged

    def _observe(self) -> np.ndarray:
        return observe(self._state)

    @property
    def states(self) -> np.ndarray:
        """True states, shape ``(num_envs, 6)``, float64."""
        return self._state.copy()


# ------------------------------------------------------------------------------------------------ references
def linearization(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-time ``(A, B)`` about the upright rest state, for the force ``u`` in newtons.

    At rest upright ``c = 0`` and ``g(q) ≈ -G q`` with ``G = diag(0, (m1+m2) g l1, m2 g l2)``, so
    ``q'' = M(0)^{-1} (e_0 u + G q)``.
    """
    task = FAMILY.validate(task)
    p = Physics.of(task)
    a0, b0, c0, d0, e0, f0 = (float(v[0]) for v in mass_matrix(np.zeros(1), np.zeros(1), p))
    mass = np.array([[a0, b0, c0], [b0, d0, e0], [c0, e0, f0]])
    stiffness = np.diag([0.0, (task["mass_1"] + task["mass_2"]) * GRAVITY * task["length_1"],
                         task["mass_2"] * GRAVITY * task["length_2"]])
    q_to_acc = np.linalg.solve(mass, stiffness)
    u_to_acc = np.linalg.solve(mass, np.array([1.0, 0.0, 0.0]))
    a = np.zeros((6, 6))
    b = np.zeros((6, 1))
    for k in range(3):  # rows: position k is state 2k, its velocity state 2k+1
        a[2 * k, 2 * k + 1] = 1.0
        a[2 * k + 1, 0::2] = q_to_acc[k]
        b[2 * k + 1, 0] = u_to_acc[k]
    return a, b


def lqr_policy(tasks: Any, **settings: Any) -> Any:
    """The reference policy: each task's infinite-horizon discrete LQR gain on its linearization (SciPy's Riccati
    solver), in environment actions. Returns a callable on a batch of observations (row ``i`` ↔ ``tasks[i]``)."""
    config, _ = make_config(**settings)
    q, r = config.cost_matrices()
    gains = []
    for task in tasks:
        a, b = linearization(task)
        a_d, b_d = zero_order_hold(a, b * np.asarray(config.action_scale), config.dt)
        p = solve_discrete_are(a_d, b_d, q, r)
        gains.append(np.linalg.solve(r + b_d.T @ p @ b_d, b_d.T @ p @ a_d)[0])
    gain_matrix = np.stack(gains)

    def act(observations: np.ndarray) -> np.ndarray:
        return -(gain_matrix * np.asarray(observations, dtype=np.float64)).sum(axis=1, keepdims=True).astype(np.float32)

    return act


FAMILY.reference_policies["lqr"] = lqr_policy


# ------------------------------------------------------------------------------------------------ rendering
def draw_double_pendulum(task: Task, state: np.ndarray, force: float, action_scale: float) -> np.ndarray:
    """The cart with its two poles (600×400 RGB), drawn to scale: pole lengths from ``l1`` and ``l2``, the point
    masses' discs growing with ``m1`` and ``m2``, the cart's width with ``m0``; the last force as a red arrow.

    The view follows the cart once it leaves ±2 m; the ticks on the ground mark every half metre. The scale is
    110 pixels per metre, reduced only for poles longer than 2.8 m together (out-of-distribution tasks).
    """
    from mtenvs.rendering import GREY, RED, Canvas, disc, draw_cart, draw_link, squash

    canvas = Canvas(600, 400)
    ground, scale = 330.0, min(110.0, 310.0 / (task["length_1"] + task["length_2"]))  # ground line; pixels per metre
    x = float(state[0]) if np.isfinite(state[0]) else 0.0
    view = x - float(np.clip(x, -2.0, 2.0))  # metres the view has moved to keep the cart inside it

    def pixel_x(metres: float) -> float:
        return 300.0 + (metres - view) * scale

    canvas.draw.line([(0, ground + 15), (600, ground + 15)], fill=(0, 0, 0))
    for tick in np.arange(np.ceil((view - 3.0) * 2) / 2, view + 3.0, 0.5):
        canvas.draw.line([(pixel_x(tick), ground + 15), (pixel_x(tick), ground + 22)], fill=GREY)
    cart = (pixel_x(x), ground)
    pivot = draw_cart(canvas, cart, width=40.0 + 12.0 * task["cart_mass"] ** 0.5, height=30.0)
    tip_1 = draw_link(canvas, pivot, float(state[2]), task["length_1"] * scale, half_width=4.0)
    tip_2 = draw_link(canvas, tip_1, float(state[4]), task["length_2"] * scale, half_width=4.0)
    disc(canvas, tip_1, 4.0 + 14.0 * task["mass_1"] ** (1 / 3), (60, 60, 160))
    disc(canvas, tip_2, 4.0 + 14.0 * task["mass_2"] ** (1 / 3), (60, 60, 160))
    canvas.arrow((cart[0], ground + 40), (cart[0] + 120.0 * squash(force, action_scale), ground + 40), fill=RED)
    canvas.text((10, 10), f"l1 = {task['length_1']:.2f} m   l2 = {task['length_2']:.2f} m   "
                          f"m0 = {task['cart_mass']:.2f} kg   m1 = {task['mass_1']:.3f} kg   m2 = {task['mass_2']:.3f} kg")
    canvas.text((10, 375), f"x = {x:+.2f} m   theta1 = {state[2]:+.2f} rad   theta2 = {state[4]:+.2f} rad   "
                           f"force = {force:+.1f} N", fill=(60, 60, 60))
    return canvas.frame()
