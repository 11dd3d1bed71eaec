"""Cart-pole task family: balance a pole on a cart whose masses, pole length, gravity, force and friction vary.

Reads top to bottom: parameters, configuration, dynamics, reward, the single environment, the batched
vector environment, rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from mtenvs.control.control_config import check_state
from mtenvs.core.env import MAX_ACTION, TaskEnv, box_action, discrete_action
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.core.vector import TaskVectorEnv, batch_box_actions, batch_discrete_actions, check_num_envs

# ------------------------------------------------------------------------------------------------ parameters
# Training regions are the task distribution of Table 1 of "Scalable Lifelong Reinforcement Learning"
# (cart mass and pole mass in [0, 1] kg with a 0.05 kg floor, as the zero lower bound is singular; pole
# length in [0.2, 0.8] m). Gravity, force limit and friction are held at Gymnasium's values in training and
# vary only out of distribution.
PARAMETERS = ParameterSpace([
    Continuous("cart_mass", 1.0, bounds=(0.05, 5.0), train=(0.05, 1.0), units="kg", description="mass of the cart"),
    Continuous("pole_mass", 0.1, bounds=(0.01, 2.0), train=(0.05, 1.0), units="kg", description="mass of the pole"),
    Continuous("pole_length", 0.5, bounds=(0.05, 2.0), train=(0.2, 0.8), units="m",
               description="distance from the pivot to the pole's centre of mass (half its length, as in Gymnasium)"),
    Continuous("gravity", 9.8, bounds=(1.0, 25.0), units="m/s^2", description="gravitational acceleration"),
    Continuous("force_limit", 10.0, bounds=(1.0, 50.0), units="N",
               description="force applied by the action +1 (actions in [-1, 1] scale it)"),
    Continuous("cart_friction", 0.0, bounds=(0.0, 2.0), units="N s/m", description="viscous friction on the cart"),
])

FAMILY = TaskFamily(
    "CartPole",
    PARAMETERS,
    description="Classic cart-pole with varying physical parameters; the nominal task is Gymnasium's CartPole-v1.",
)

# Gymnasium's failure thresholds, and observation bounds at twice those values.
X_THRESHOLD = 2.4
THETA_THRESHOLD = 12 * 2 * math.pi / 360
OBS_HIGH_TERMINATING = np.array([2 * X_THRESHOLD, np.inf, 2 * THETA_THRESHOLD, np.inf], dtype=np.float32)

# ------------------------------------------------------------------------------------------------ configuration
Reward = Literal["balance", "norm", "quadratic"]
Integrator = Literal["euler", "semi-implicit-euler", "rk4"]
BALANCE_START = (0.05, 0.05, 0.05, 0.05)
#: The start box of paper 002's cost-based setting (``reward="norm"`` or ``"quadratic"``).
QUADRATIC_START = (0.5, 0.1, 0.2, 0.1)


@dataclass(frozen=True)
class CartPoleConfig:
    """Settings shared by every task of an environment (unlike task parameters, fixed at construction)."""

    reward: Reward = "balance"
    integrator: Integrator = "euler"
    dt: float = 0.02
    substeps: int = 1
    discrete_actions: bool = False
    terminate_on_fall: bool = True
    initial_state_bounds: tuple[float, float, float, float] = BALANCE_START

    @classmethod
    def build(
        cls,
        reward: str = "balance",
        integrator: str = "euler",
        dt: float = 0.02,
        substeps: int = 1,
        discrete_actions: bool = False,
        terminate_on_fall: bool | None = None,
        initial_state_bounds: Any = None,
    ) -> CartPoleConfig:
        """Validate constructor arguments; defaults depend on the reward (see `CartPoleEnv`)."""
        if reward not in ("balance", "norm", "quadratic"):
            raise ValueError(f"CartPole: reward must be 'balance', 'norm' or 'quadratic', got {reward!r}")
        if integrator not in ("euler", "semi-implicit-euler", "rk4"):
            raise ValueError(f"CartPole: integrator must be 'euler', 'semi-implicit-euler' or 'rk4', got {integrator!r}")
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"CartPole: dt must be a positive number of seconds, got {dt!r}")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"CartPole: substeps must be a positive integer, got {substeps!r}")
        if terminate_on_fall is None:
            terminate_on_fall = reward == "balance"
        if initial_state_bounds is None:
            initial_state_bounds = BALANCE_START if reward == "balance" else QUADRATIC_START
        try:
            bounds = tuple(float(b) for b in np.broadcast_to(np.asarray(initial_state_bounds, dtype=float), (4,)))
        except (TypeError, ValueError):
            bounds = ()
        if len(bounds) != 4 or not all(math.isfinite(b) and b >= 0 for b in bounds):
            raise ValueError(
                f"CartPole: initial_state_bounds must be 4 finite non-negative numbers, got {initial_state_bounds!r}")
        return cls(reward, integrator, float(dt), substeps, bool(discrete_actions), bool(terminate_on_fall), bounds)  # type: ignore[arg-type]

    def observation_space(self) -> spaces.Box:
        """Gymnasium's bounds when episodes end on a fall; unbounded otherwise."""
        high = OBS_HIGH_TERMINATING if self.terminate_on_fall else np.full(4, np.inf, dtype=np.float32)
        return spaces.Box(-high, high, dtype=np.float32)

    def action_space(self) -> spaces.Space:
        """``Discrete(2)`` (push left/right at the force limit) or ``Box(-1, 1, (1,))`` (fraction of it)."""
        if self.discrete_actions:
            return spaces.Discrete(2)
        return spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)


# ------------------------------------------------------------------------------------------------ dynamics
# Written once for Python floats (single env) and NumPy arrays (vector env): the trigonometric functions are
# passed in, everything else is arithmetic.
def accelerations(force: Any, x_dot: Any, theta_dot: Any, sin: Any, cos: Any, p: Any) -> tuple[Any, Any]:
    """Cart and pole accelerations (Barto et al. 1983, Florian 2007 without pole friction).

    ``p`` has ``total_mass``, ``polemass_length``, ``pole_mass``, ``pole_length``, ``gravity`` and
    ``cart_friction`` (floats or arrays). The operation order is Gymnasium's, so the nominal task matches
    ``CartPole-v1`` bit for bit.
    """
    if not p.frictionless:
        force = force - p.cart_friction * x_dot
    temp = (force + p.polemass_length * (theta_dot * theta_dot) * sin) / p.total_mass
    theta_acc = (p.gravity * sin - cos * temp) / (
        p.pole_length * (4.0 / 3.0 - p.pole_mass * (cos * cos) / p.total_mass)
    )
    x_acc = temp - p.polemass_length * theta_acc * cos / p.total_mass
    return x_acc, theta_acc


def integrate(state: tuple[Any, Any, Any, Any], force: Any, p: Any, config: CartPoleConfig,
              sin: Any, cos: Any) -> tuple[Any, Any, Any, Any]:
    """Advance ``(x, x_dot, theta, theta_dot)`` by ``config.dt`` with the configured integrator."""
    x, x_dot, theta, theta_dot = state
    h = config.dt / config.substeps
    for _ in range(config.substeps):
        if config.integrator == "rk4":
            def f(xd: Any, th: Any, thd: Any) -> tuple[Any, Any]:
                return accelerations(force, xd, thd, sin(th), cos(th), p)
            a1, b1 = f(x_dot, theta, theta_dot)
            a2, b2 = f(x_dot + 0.5 * h * a1, theta + 0.5 * h * theta_dot, theta_dot + 0.5 * h * b1)
            v2, w2 = x_dot + 0.5 * h * a1, theta_dot + 0.5 * h * b1
            a3, b3 = f(x_dot + 0.5 * h * a2, theta + 0.5 * h * w2, theta_dot + 0.5 * h * b2)
            v3, w3 = x_dot + 0.5 * h * a2, theta_dot + 0.5 * h * b2
            a4, b4 = f(x_dot + h * a3, theta + h * w3, theta_dot + h * b3)
            v4, w4 = x_dot + h * a3, theta_dot + h * b3
            x = x + h / 6.0 * (x_dot + 2 * v2 + 2 * v3 + v4)
            theta = theta + h / 6.0 * (theta_dot + 2 * w2 + 2 * w3 + w4)
            x_dot = x_dot + h / 6.0 * (a1 + 2 * a2 + 2 * a3 + a4)
            theta_dot = theta_dot + h / 6.0 * (b1 + 2 * b2 + 2 * b3 + b4)
            continue
        x_acc, theta_acc = accelerations(force, x_dot, theta_dot, sin(theta), cos(theta), p)
        if config.integrator == "euler":
            x = x + h * x_dot
            x_dot = x_dot + h * x_acc
            theta = theta + h * theta_dot
            theta_dot = theta_dot + h * theta_acc
        else:
            x_dot = x_dot + h * x_acc
            x = x + h * x_dot
            theta_dot = theta_dot + h * theta_acc
            theta = theta + h * theta_dot
    return x, x_dot, theta, theta_dot


@dataclass
class _Physics:
    """Task parameters plus the derived quantities the dynamics use (floats or per-sub-env arrays)."""

    cart_mass: Any
    pole_mass: Any
    pole_length: Any
    gravity: Any
    force_limit: Any
    cart_friction: Any
    total_mass: Any = 0.0
    polemass_length: Any = 0.0
    frictionless: bool = True

    def __post_init__(self) -> None:
        self.derive()

    def derive(self) -> None:
        """Recompute the derived quantities after a parameter change."""
        self.total_mass = self.pole_mass + self.cart_mass
        self.polemass_length = self.pole_mass * self.pole_length
        # Skipping the friction term when it is zero everywhere gives bit-identical results (0 * x_dot = 0).
        self.frictionless = not np.any(self.cart_friction)


def energy(state: Any, p: Any) -> Any:
    """Mechanical energy of the frictionless system (conserved when no force acts); the pole is a uniform rod."""
    _x, x_dot, theta, theta_dot = state
    kinetic = (0.5 * p.total_mass * x_dot**2 + p.pole_mass * p.pole_length * x_dot * theta_dot * np.cos(theta)
               + (2.0 / 3.0) * p.pole_mass * p.pole_length**2 * theta_dot**2)
    return kinetic + p.pole_mass * p.gravity * p.pole_length * np.cos(theta)


# ------------------------------------------------------------------------------------------------ reward
def cost_reward(reward: Reward, state: Any, force: Any, sqrt: Any) -> Any:
    """The cost-based rewards of paper 002 at the state in which ``force`` (newtons) is applied.

    ``"norm"``: the paper's ``-||s||_2 - |u|``; ``"quadratic"``: ``-(s' s + u^2)`` (``Q = I``, ``R = 1``). ``state`` is
    ``(x, x_dot, theta, theta_dot)`` of floats or arrays.
    """
    x, x_dot, theta, theta_dot = state
    squares = x * x + x_dot * x_dot + theta * theta + theta_dot * theta_dot
    if reward == "quadratic":
        return -(squares + force * force)
    return -sqrt(squares) - abs(force)


# ------------------------------------------------------------------------------------------------ single env
class CartPoleEnv(TaskEnv[np.ndarray, Any]):
    """A pole hinged on a cart; push the cart to keep the pole upright. One task = one set of physical parameters.

    ## Description
    The cart-pole of Barto, Sutton and Anderson (1983) as in Gymnasium's ``CartPole-v1``, with six task
    parameters: cart mass, pole mass, pole length (the paper-002 Table 1 parameters), gravity, force limit and
    cart friction. At the nominal task with ``discrete_actions=True`` (or continuous actions of ±1) it
    reproduces ``CartPole-v1`` transitions exactly.

    ## Observation Space
    ``Box(4,)`` float32: cart position [m], cart velocity [m/s], pole angle [rad, 0 = upright], pole angular
    velocity [rad/s]. Position and angle are bounded by ±4.8 m and ±0.419 rad (twice the failure thresholds,
    as in Gymnasium) when episodes end on a fall, and unbounded otherwise. The task is hidden; use
    `mtenvs.wrappers.TaskObservation` to show it.

    ## Action Space
    ``Box(-1, 1, (1,))``: the force as a fraction of ``force_limit`` (values outside are clipped).
    With ``discrete_actions=True``: ``Discrete(2)``, 0 pushes left and 1 pushes right with ``force_limit``.

    ## Reward
    ``reward="balance"`` (default): +1 for every step, including the one on which the pole falls.
    ``reward="norm"``: the cost of "Scalable Lifelong Reinforcement Learning" (paper 002) as printed,
    ``-||s - s_goal||_2 - |u|`` with ``s_goal = 0`` and ``u`` the force in newtons; ``reward="quadratic"``: its
    quadratic form ``-(s' s + u^2)``. Both price the state in which the force is applied (the paper's
    ``R(x_m, u_m)``). ``mtenvs.control.paper002.PAPER_002["CartPole"]`` holds the paper's whole setting.

    ## Starting State
    Each state variable uniform in ``[-b, b]``; ``b = 0.05`` for every variable with the balance reward (as in
    Gymnasium) and ``b = (0.5, 0.1, 0.2, 0.1)`` with the cost-based rewards. ``reset(options={"state": s})``
    starts from ``s``.

    ## Episode End
    Termination when ``|x| > 2.4`` or ``|theta| > 12°`` if ``terminate_on_fall`` (default: with the balance
    reward only). Truncation at 500 steps for ``mtenvs/CartPole-v0``.

    ## Arguments
    * ``task`` / ``tasks``: the task or the task set (see `mtenvs.core.env.TaskEnv`).
    * ``reward``: ``"balance"``, ``"norm"`` or ``"quadratic"``.
    * ``integrator``: ``"euler"`` (Gymnasium's), ``"semi-implicit-euler"`` or ``"rk4"``; ``dt`` (0.02 s) and
      ``substeps`` (1) per environment step.
    * ``discrete_actions``: use ``Discrete(2)`` actions.
    * ``terminate_on_fall``: end episodes on a fall (default: ``reward == "balance"``).
    * ``initial_state_bounds``: the half-widths ``b`` of the starting box.
    * ``render_mode``: ``"rgb_array"`` or ``None``.

    ## Version History
    * v0: initial release (the cost-based rewards price the pre-step state; ``"norm"`` was first called
      ``"quadratic"``).
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        task: TaskSpec = None,
        *,
        tasks: TaskSpec = None,
        reward: str = "balance",
        integrator: str = "euler",
        dt: float = 0.02,
        substeps: int = 1,
        discrete_actions: bool = False,
        terminate_on_fall: bool | None = None,
        initial_state_bounds: Any = None,
        render_mode: str | None = None,
    ) -> None:
        self.config = CartPoleConfig.build(reward, integrator, dt, substeps, discrete_actions, terminate_on_fall,
                                           initial_state_bounds)
        self.observation_space = self.config.observation_space()
        self.action_space = self.config.action_space()
        self._obs_high = tuple(float(h) for h in self.observation_space.high)
        self._start_bounds = np.asarray(self.config.initial_state_bounds)
        self._state: tuple[float, float, float, float] | None = None
        self._steps_beyond_terminated: int | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        params = task.params
        self._physics = _Physics(params["cart_mass"], params["pole_mass"], params["pole_length"], params["gravity"],
                                 params["force_limit"], params["cart_friction"])

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            state = check_state(options["state"], (4,), "CartPole")
        else:
            state = self.np_random.uniform(low=-self._start_bounds, high=self._start_bounds, size=(4,))
        self._state = tuple(float(v) for v in state)  # type: ignore[assignment]
        self._steps_beyond_terminated = None
        return self._observation()

    def _observation(self) -> np.ndarray:
        x, x_dot, theta, theta_dot = self._state  # type: ignore[misc]
        x_high, _, theta_high, _ = self._obs_high
        # Keep observations inside the declared space (only reachable when stepping past a termination).
        if not -x_high <= x <= x_high:
            x = max(-x_high, min(x, x_high))
        if not -theta_high <= theta <= theta_high:
            theta = max(-theta_high, min(theta, theta_high))
        return np.array((x, x_dot, theta, theta_dot), dtype=np.float32)

    def _force(self, action: Any) -> float:
        limit = self._physics.force_limit
        if self.config.discrete_actions:
            return limit if discrete_action(action, 2, "CartPole") == 1 else -limit
        if type(action) is np.ndarray and action.shape == (1,) and action.dtype.kind == "f":
            value = float(action[0])
            if not abs(value) <= MAX_ACTION:  # NaN, inf or huge
                value = float(box_action(action, (1,), "CartPole")[0])  # raises the ValueError
        else:
            value = float(box_action(action, (1,), "CartPole")[0])
        if value > 1.0:
            value = 1.0
        elif value < -1.0:
            value = -1.0
        return value * limit

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the force, integrate ``dt`` seconds, and report reward and termination."""
        if self._state is None:
            self._require_reset()
        force = self._force(action)
        config = self.config
        reward = 1.0 if config.reward == "balance" else float(cost_reward(config.reward, self._state, force, math.sqrt))
        state = integrate(self._state, force, self._physics, self.config, math.sin, math.cos)  # type: ignore[arg-type]
        self._state = state
        x, _, theta, _ = state
        terminated = config.terminate_on_fall and (
            x < -X_THRESHOLD or x > X_THRESHOLD or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD)
        if terminated or self._steps_beyond_terminated is not None:
            if self._steps_beyond_terminated is None:
                self._steps_beyond_terminated = 0
            else:
                self._steps_beyond_terminated += 1
                reward = 0.0
        return self._observation(), reward, bool(terminated), False, self._info()

    @property
    def state(self) -> np.ndarray | None:
        """The true state ``(x, x_dot, theta, theta_dot)`` as float64, or ``None`` before reset."""
        return None if self._state is None else np.array(self._state)

    def render(self) -> np.ndarray | None:
        """An RGB frame (600×400) in ``"rgb_array"`` mode; ``None`` otherwise."""
        if self.render_mode != "rgb_array":
            return None
        return draw_cartpole(self._state or (0.0, 0.0, 0.0, 0.0), self._physics.pole_length)


# ------------------------------------------------------------------------------------------------ vector env
class CartPoleVectorEnv(TaskVectorEnv):
    """``num_envs`` cart-poles, each on its own task, stepped in one NumPy computation.

    Same dynamics, rewards and episode ends as `CartPoleEnv`; arguments are those of
    `CartPoleEnv` plus ``num_envs``, ``max_episode_steps`` and ``autoreset_mode``
    (see `mtenvs.core.vector`).
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
        reward: str = "balance",
        integrator: str = "euler",
        dt: float = 0.02,
        substeps: int = 1,
        discrete_actions: bool = False,
        terminate_on_fall: bool | None = None,
        initial_state_bounds: Any = None,
        render_mode: str | None = None,
    ) -> None:
        self.config = CartPoleConfig.build(reward, integrator, dt, substeps, discrete_actions, terminate_on_fall,
                                           initial_state_bounds)
        self.single_observation_space = self.config.observation_space()
        self.single_action_space = self.config.action_space()
        bounds = np.asarray(self.config.initial_state_bounds)
        # One scalar half-width when all are equal: NumPy's uniform is 4x faster with scalar bounds.
        self._start_bounds = float(bounds[0]) if np.all(bounds == bounds[0]) else bounds[:, None]
        self._may_leave_space = False
        self._state = np.zeros((4, check_num_envs(num_envs, "CartPole")))
        self._physics: _Physics | None = None
        self._obs_high = self.single_observation_space.high
        super().__init__(num_envs, task=task, tasks=tasks, max_episode_steps=max_episode_steps,
                         autoreset_mode=autoreset_mode, render_mode=render_mode)
        self._batch_spaces()

    def _apply_tasks(self, idx: np.ndarray) -> None:
        if self._physics is None:  # bound once to the parameter arrays, which are updated in place
            p = self.params
            self._physics = _Physics(p["cart_mass"], p["pole_mass"], p["pole_length"], p["gravity"], p["force_limit"],
                                     p["cart_friction"])
        else:
            self._physics.derive()

    def _reset_states(self, idx: np.ndarray, states: np.ndarray | None) -> None:
        if states is not None:
            states = check_state(states, (len(idx), 4), "CartPole")
            self._state[:, idx] = states.T
            self._may_leave_space = True
        else:
            self._state[:, idx] = self.np_random.uniform(low=-self._start_bounds, high=self._start_bounds,
                                                          size=(4, len(idx)))

    def _check_actions(self, actions: Any) -> np.ndarray:
        limit = self._physics.force_limit
        if self.config.discrete_actions:
            chosen = batch_discrete_actions(actions, self.num_envs, 2, "CartPole")
            return np.where(chosen == 1, limit, -limit)
        # Fast path: the extremes are inside [-MAX_ACTION, MAX_ACTION] exactly when no entry is NaN, inf or huge
        # (a NaN makes both comparisons false); anything else gets the entry-wise check and its error message.
        if not (isinstance(actions, np.ndarray) and actions.shape == (self.num_envs, 1) and actions.dtype.kind == "f"
                and float(actions.min()) >= -MAX_ACTION and float(actions.max()) <= MAX_ACTION):
            actions = batch_box_actions(actions, self.num_envs, (1,), "CartPole")
        return np.minimum(np.maximum(actions.reshape(self.num_envs), -1.0), 1.0) * limit

    def _step_states(self, force: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = self._state
        if self.config.reward == "balance":
            rewards = np.ones(self.num_envs, dtype=np.float32)
        else:
            rewards = cost_reward(self.config.reward, tuple(state), force, np.sqrt).astype(np.float32)
        x, x_dot, theta, theta_dot = integrate(tuple(state), force, self._physics, self.config, np.sin, np.cos)
        state[0], state[1], state[2], state[3] = x, x_dot, theta, theta_dot
        if self.config.terminate_on_fall:
            abs_x, abs_theta = np.abs(x), np.abs(theta)
            terminated = (abs_x > X_THRESHOLD) | (abs_theta > THETA_THRESHOLD)
            # Observations can leave the space only past a failure threshold, so check only then.
            self._may_leave_space = bool(terminated.any()) and bool(
                abs_x.max() > self._obs_high[0] or abs_theta.max() > self._obs_high[2])
        else:
            terminated = np.zeros(self.num_envs, dtype=np.bool_)
        return rewards, terminated

    def _observe(self) -> np.ndarray:
        obs = self._state.T.astype(np.float32)
        if self.config.terminate_on_fall and self._may_leave_space:
            np.clip(obs, -self._obs_high, self._obs_high, out=obs)
        return obs

    @property
    def states(self) -> np.ndarray:
        """True states, shape ``(num_envs, 4)``, float64."""
        return self._state.T.copy()


# ------------------------------------------------------------------------------------------------ references
def linearization(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-time ``(A, B)`` of the dynamics linearized about the upright rest state, for force ``u`` in newtons.

    With ``M = m_c + m_p``, ``L = l (4/3 - m_p / M)`` and friction ``d``: ``theta'' = (g theta - F / M) / L`` and
    ``x'' = F / M - m_p l theta'' / M`` where ``F = u - d x'``.
    """
    mc, mp, length, g, d = (task[k] for k in ("cart_mass", "pole_mass", "pole_length", "gravity", "cart_friction"))
    total = mc + mp
    effective = length * (4.0 / 3.0 - mp / total)
    force_to_theta = -1.0 / (total * effective)            # d theta'' / dF
    force_to_x = 1.0 / total - mp * length * force_to_theta / total
    theta_to_theta = g / effective
    theta_to_x = -mp * length * theta_to_theta / total
    a = np.array([[0.0, 1.0, 0.0, 0.0],
                  [0.0, -d * force_to_x, theta_to_x, 0.0],
                  [0.0, 0.0, 0.0, 1.0],
                  [0.0, -d * force_to_theta, theta_to_theta, 0.0]])
    b = np.array([[0.0], [force_to_x], [0.0], [force_to_theta]])
    return a, b


def lqr_gain(task: Task, state_cost: Any = (1.0, 1.0, 10.0, 1.0), force_cost: float = 0.01) -> np.ndarray:
    """The infinite-horizon LQR gain ``K`` (force ``u = -K s``) of the linearized task, from SciPy's Riccati solver."""
    from scipy.linalg import solve_continuous_are

    a, b = linearization(task)
    q = np.diag(np.asarray(state_cost, dtype=float))
    r = np.array([[force_cost]])
    p = solve_continuous_are(a, b, q, r)
    return np.linalg.solve(r, b.T @ p)


def lqr_policy(tasks: Any, **lqr_kwargs: Any) -> Any:
    """The reference policy of the family: each task's LQR controller, clipped to the force limit.

    Returns a callable on a batch of observations whose row ``i`` belongs to ``tasks[i]`` (the order in which
    `mtenvs.evaluation.rollout_returns` lays out sub-envs). Works with continuous actions.
    """
    tasks = list(tasks)
    gains = np.stack([lqr_gain(t, **lqr_kwargs)[0] for t in tasks])
    limits = np.array([t["force_limit"] for t in tasks])

    def act(observations: np.ndarray) -> np.ndarray:
        force = -(gains * np.asarray(observations, dtype=np.float64)).sum(axis=1)
        return np.clip(force / limits, -1.0, 1.0).astype(np.float32)[:, None]

    return act


FAMILY.reference_policies["lqr"] = lqr_policy


# ------------------------------------------------------------------------------------------------ rendering
def draw_cartpole(state: tuple[float, float, float, float], pole_length: float,
                  width: int = 600, height: int = 400) -> np.ndarray:
    """Draw the cart and pole with Pillow; returns a ``(height, width, 3)`` uint8 frame.

    The pole is drawn at its true length (``2 * pole_length``), so tasks differ visibly.
    """
    from mtenvs.rendering import Canvas, draw_cart, draw_link

    scale = width / (4 * X_THRESHOLD)  # pixels per metre; the track spans ±4.8 m
    canvas = Canvas(width, height)
    ground = height - 100
    canvas.draw.line([(0, ground), (width, ground)], fill=(0, 0, 0), width=1)
    pivot = draw_cart(canvas, (state[0] * scale + width / 2, ground))
    draw_link(canvas, pivot, state[2], 2 * pole_length * scale)
    return canvas.frame()
