"""Linear control families: the family (exact discrete-time model, LQR optimum, LQR reference) and its envs.

A linear family declares its parameters and a function ``task -> (A, B)`` giving the continuous-time model
``x' = A x + B u``; `LinearFamily` discretizes it exactly (zero-order hold) and solves the
finite-horizon LQR problem of the quadratic reward, and `LinearSystemEnv` / `LinearSystemVectorEnv`
step ``x_{t+1} = A_d x_t + B_d u_t``. The family modules (`.simple_mass`, `.double_mass`,
`.helicopter`) subclass the two environments only to name their family and document it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from mtenvs.control.control_config import ControlConfig, check_state, observe
from mtenvs.control.linear_system import (
    LQRSolution,
    closed_loop_peak_inputs,
    expected_quadratic,
    finite_horizon_lqr,
    uniform_box_moments,
    zero_order_hold,
)
from mtenvs.core.env import TaskEnv, box_action
from mtenvs.core.family import NoExactOptimum, TaskFamily
from mtenvs.core.parameters import ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.core.vector import TaskVectorEnv, batch_box_actions, check_num_envs
from mtenvs.rendering import require_reset

ContinuousModel = Callable[[Task], tuple[np.ndarray, np.ndarray]]

#: Environment keyword arguments that do not change the dynamics or the reward.
_IGNORED_ENV_KWARGS = frozenset({"render_mode", "max_episode_steps", "autoreset_mode", "num_envs"})


def step_linear(a_d: np.ndarray, b_d: np.ndarray, states: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``x' = A_d x + B_d u`` row by row for ``a_d (N, n, n)``, ``b_d (N, n, m)``, ``states (N, n)``, ``inputs (N, m)``.

    Written as explicit column sums rather than a matrix product so that a batch of one gives bit for bit the
    same result as the same row inside a larger batch (BLAS kernels may reorder the sums by batch size).
    """
    result = a_d[:, :, 0] * states[:, None, 0]
    for j in range(1, states.shape[1]):
        result = result + a_d[:, :, j] * states[:, None, j]
    for j in range(inputs.shape[1]):
        result = result + b_d[:, :, j] * inputs[:, None, j]
    return result


class LinearFamily(TaskFamily):
    """A task family whose tasks are linear systems ``x' = A(task) x + B(task) u`` with a quadratic cost.

    Args:
        name: as for `TaskFamily`.
        parameters: as for `TaskFamily`.
        continuous_model: ``task -> (A, B)``, the continuous-time model in physical units.
        state_names: labels of the state variables.
        input_names: labels of the inputs.
        config_defaults: the family's defaults of `ControlConfig` settings (e.g. ``action_scale``).
        description: as for `TaskFamily`.
        task_sets: as for `TaskFamily`.
    """

    def __init__(self, name: str, parameters: ParameterSpace, *, continuous_model: ContinuousModel,
                 state_names: Sequence[str], input_names: Sequence[str], config_defaults: Mapping[str, Any],
                 description: str = "", task_sets: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, parameters, description=description, task_sets=task_sets)
        self._continuous_model = continuous_model
        self.state_names = tuple(state_names)
        self.input_names = tuple(input_names)
        self.config_defaults = dict(config_defaults)
        self._discrete_cache: dict[tuple[Task, float], tuple[np.ndarray, np.ndarray]] = {}

    # ----------------------------------------------------------------------------------------- settings
    @property
    def state_dim(self) -> int:
        """Number of state variables ``n``."""
        return len(self.state_names)

    @property
    def input_dim(self) -> int:
        """Number of inputs ``m`` (the action dimension)."""
        return len(self.input_names)

    def config(self, **env_kwargs: Any) -> ControlConfig:
        """The validated `ControlConfig` of an environment built with ``env_kwargs``."""
        settings = {**self.config_defaults, **{k: v for k, v in env_kwargs.items() if k not in _IGNORED_ENV_KWARGS}}
        unknown = set(settings) - set(ControlConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{self.name}: unknown setting(s) {sorted(unknown)}; "
                             f"allowed: {sorted(ControlConfig.__dataclass_fields__)}")
        return ControlConfig.build(self.name, self.state_dim, self.input_dim, **settings)

    # ------------------------------------------------------------------------------------------- models
    def continuous_system(self, task: Task | Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Continuous-time ``(A, B)`` of ``task``, with ``B`` acting on the physical input."""
        a, b = self._continuous_model(self.validate(task))
        return np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)

    def physical_discrete_system(self, task: Task, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Zero-order-hold ``(A_d, B_d)`` for the physical input (cached per task and step; read-only arrays)."""
        key = (task, dt)
        if key not in self._discrete_cache:
            if len(self._discrete_cache) > 4096:
                self._discrete_cache.clear()
            a_d, b_d = zero_order_hold(*self.continuous_system(task), dt)
            a_d.setflags(write=False)
            b_d.setflags(write=False)
            self._discrete_cache[key] = (a_d, b_d)
        return self._discrete_cache[key]

    def discrete_system(self, task: Task | Mapping[str, Any], **env_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Exact discrete-time ``(A_d, B_d)`` with ``x_{t+1} = A_d x_t + B_d a_t`` for the environment *action* ``a_t``.

        ``env_kwargs`` are the environment settings (``dt``, ``action_scale``, ...); ``B_d`` includes the action
        scale, so it describes the environment exactly as an agent sees it (while actions stay unclipped).
        """
        config = self.config(**env_kwargs)
        a_d, b_d = self.physical_discrete_system(self.validate(task), config.dt)
        return a_d.copy(), b_d * np.asarray(config.action_scale)

    def lqr(self, task: Task | Mapping[str, Any], horizon: int = 150, **env_kwargs: Any) -> LQRSolution:
        """The finite-horizon LQR solution of the quadratic reward, in environment units (state, action)."""
        config = self.config(**env_kwargs)
        a_d, b_d = self.discrete_system(task, **env_kwargs)
        q, r = config.cost_matrices()
        return finite_horizon_lqr(a_d, b_d, q, r, horizon)

    def optimal_value(self, task: Task | Mapping[str, Any], max_episode_steps: int | None = 150, **env_kwargs: Any) -> float:
        """The exact optimal expected return ``-E[x_0' P_0 x_0] = -(tr(P_0 Sigma_0) + mu_0' P_0 mu_0)`` of an episode.

        The expectation is over the uniform start box; ``P_0`` comes from the finite-horizon Riccati recursion over
        ``max_episode_steps`` steps. No policy (linear or not, time-varying or not) gets a higher expected return.

        Raises:
            NoExactOptimum: without a time limit, with the ``"norm"`` reward (no closed form), or when actions are
                clipped and the LQR input would exceed ``[-1, 1]`` from some start state (then the clipped problem
                has a different optimum).
        """
        if max_episode_steps is None:
            raise NoExactOptimum(f"{self.name}: the LQR optimum needs a finite horizon (max_episode_steps)")
        config = self.config(**env_kwargs)
        if config.reward != "quadratic":
            raise NoExactOptimum(f"{self.name}: no exact optimum for reward={config.reward!r} (only 'quadratic')")
        task = self.validate(task)
        a_d, b_d = self.discrete_system(task, **env_kwargs)
        q, r = config.cost_matrices()
        solution = finite_horizon_lqr(a_d, b_d, q, r, int(max_episode_steps))
        bounds = np.asarray(config.initial_state_bounds)
        if config.clip_actions and closed_loop_peak_inputs(a_d, b_d, solution, bounds).max() > 1.0:
            raise NoExactOptimum(f"{self.name}: the LQR input of task {task.id} leaves [-1, 1], so clipping binds")
        return -expected_quadratic(solution.cost_to_go[0], *uniform_box_moments(bounds))


class LQRPolicy:
    """The finite-horizon LQR controller of each task: row ``i`` of a batch acts on ``tasks[i]``.

    It is time-varying, so it counts its calls: call it once per environment step, starting at the first step of
    synchronized episodes (as `mtenvs.evaluation.rollout_returns` does); after ``horizon`` calls it starts
    over. `reset` rewinds it by hand.
    """

    def __init__(self, family: LinearFamily, tasks: Sequence[Task], horizon: int = 150, **env_kwargs: Any) -> None:
        solutions = [family.lqr(t, horizon, **env_kwargs) for t in tasks]
        self.gains = np.stack([s.gains for s in solutions], axis=1)  # (horizon, num_tasks, m, n)
        self.horizon = horizon
        self.step = 0

    def reset(self) -> None:
        """Start again at the first step of an episode."""
        self.step = 0

    def __call__(self, observations: Any) -> np.ndarray:
        """Actions ``-K_t x`` for a batch of observations ``(num_tasks, n)``, clipped to the action box [-1, 1].

        Clipping changes nothing where the optimum is exact (the input stays inside the box); on tasks where it binds
        it keeps the actions finite even when a diverging state has saturated the observation.
        """
        gain = self.gains[self.step]
        self.step = (self.step + 1) % self.horizon
        states = np.asarray(observations, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            actions = -np.einsum("bij,bj->bi", gain, states)
        return np.clip(np.nan_to_num(actions, nan=0.0), -1.0, 1.0).astype(np.float32)


def lqr_reference(family: LinearFamily) -> Callable[..., LQRPolicy]:
    """The ``"lqr"`` entry of ``family.reference_policies``: ``(tasks, horizon=150, **env_kwargs) -> LQRPolicy``."""

    def make(tasks: Sequence[Task], horizon: int = 150, **env_kwargs: Any) -> LQRPolicy:
        return LQRPolicy(family, [family.validate(t) for t in tasks], horizon, **env_kwargs)

    make.__doc__ = f"The finite-horizon LQR policy of each {family.name} task (see `LQRPolicy`)."
    return make


# ------------------------------------------------------------------------------------------------ single env
class LinearSystemEnv(TaskEnv[np.ndarray, np.ndarray]):
    """Base of the linear family environments: ``x_{t+1} = A_d x_t + B_d u_t``, reward from ``(x_t, u_t)``.

    An unstable task run long enough (beyond the registered time limits) leaves the float range; at the step whose
    new state would be infinite or NaN, or would make the reward infinite, the episode terminates with
    ``info["termination_reason"] == "diverged"`` and the state stays at the last finite one. Episodes that stay
    finite are unchanged.

    Subclasses set ``family`` (a `LinearFamily`) and document themselves. Keyword arguments are the
    `ControlConfig` settings. A subclass that renders lists ``"rgb_array"``
    in its ``metadata`` and implements `draw`.
    """

    family: ClassVar[LinearFamily]
    metadata = {"render_modes": []}

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, render_mode: str | None = None,
                 **settings: Any) -> None:
        self.config = self.family.config(**settings)
        self.observation_space = self.config.observation_space()
        self.action_space = self.config.action_space()
        self._state: np.ndarray | None = None
        self._input = np.zeros(self.config.input_dim)  # the physical input of the last step (drawn by render)
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        a_d, b_d = self.family.physical_discrete_system(task, self.config.dt)
        self._a_d, self._b_d = a_d[None], b_d[None]

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            self._state = check_state(options["state"], (self.config.state_dim,), self.family.name)[None].copy()
        else:
            self._state = self.config.sample_states(self.np_random, 1)
        self._input = np.zeros(self.config.input_dim)
        return self._observation()

    def _observation(self) -> np.ndarray:
        return observe(self._state[0])

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the scaled (and clipped) input for ``dt`` seconds; the reward prices the state it was applied in."""
        if self._state is None:
            self._require_reset()
        inputs = self.config.inputs(box_action(action, (self.config.input_dim,), self.family.name)[None])
        reward = float(self.config.rewards(self._state, inputs)[0])
        with np.errstate(over="ignore", invalid="ignore"):
            state = step_linear(self._a_d, self._b_d, self._state, inputs)
        diverged = bool(self.config.diverged(state)[0])
        if not diverged:
            self._state = state  # a diverged step stops at the last finite state
        self._input = inputs[0].copy()
        info = self._info()
        if diverged:
            info["termination_reason"] = "diverged"
        return self._observation(), reward, diverged, False, info

    @property
    def state(self) -> np.ndarray | None:
        """The true state (float64), or ``None`` before reset."""
        return None if self._state is None else self._state[0].copy()

    def render(self) -> np.ndarray | None:
        """An RGB frame of the current state and task in ``"rgb_array"`` mode (see `draw`); ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._state is not None, self.family.name)
        return self.draw(self._state[0], self._input)

    def draw(self, state: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """The frame of ``state`` after the physical ``inputs`` of the last step (zeros after a reset)."""
        raise NotImplementedError(f"{self.family.name} has no rgb_array rendering")


# ------------------------------------------------------------------------------------------------ vector env
class LinearSystemVectorEnv(TaskVectorEnv):
    """``num_envs`` linear systems, each with its own task's ``(A_d, B_d)``, stepped in one NumPy computation.

    Same dynamics and rewards as `LinearSystemEnv`; arguments are its settings plus ``num_envs``,
    ``max_episode_steps`` and ``autoreset_mode`` (see `mtenvs.core.vector`).
    """

    family: ClassVar[LinearFamily]
    metadata = {"render_modes": [], "autoreset_mode": TaskVectorEnv.metadata["autoreset_mode"]}

    def __init__(self, num_envs: int = 1, *, task: TaskSpec = None, tasks: TaskSpec = None,
                 max_episode_steps: int | None = None, autoreset_mode: Any = "NextStep", render_mode: str | None = None,
                 **settings: Any) -> None:
        self.config = self.family.config(**settings)
        n = check_num_envs(num_envs, self.family.name)
        self.single_observation_space = self.config.observation_space()
        self.single_action_space = self.config.action_space()
        dims = self.config.state_dim, self.config.input_dim
        self._state = np.zeros((n, dims[0]))
        self._a_d = np.zeros((n, dims[0], dims[0]))
        self._b_d = np.zeros((n, dims[0], dims[1]))
        super().__init__(num_envs, task=task, tasks=tasks, max_episode_steps=max_episode_steps,
                         autoreset_mode=autoreset_mode, render_mode=render_mode)
        self._batch_spaces()

    def _apply_tasks(self, idx: np.ndarray) -> None:
        tasks = self.tasks
        for i in idx:
            self._a_d[i], self._b_d[i] = self.family.physical_discrete_system(tasks[i], self.config.dt)

    def _reset_states(self, idx: np.ndarray, states: np.ndarray | None) -> None:
        if states is not None:
            self._state[idx] = check_state(states, (len(idx), self.config.state_dim), self.family.name)
        else:
            self._state[idx] = self.config.sample_states(self.np_random, len(idx))

    def _check_actions(self, actions: Any) -> np.ndarray:
        checked = batch_box_actions(actions, self.num_envs, (self.config.input_dim,), self.family.name)
        return self.config.inputs(checked)

    def _step_states(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # float64, like the single env's rewards: the costs of unstable tasks can exceed the float32 range.
        rewards = self.config.rewards(self._state, inputs)
        with np.errstate(over="ignore", invalid="ignore"):
            states = step_linear(self._a_d, self._b_d, self._state, inputs)
        diverged = self.config.diverged(states)
        if diverged.any():  # diverged sub-envs stop at their last finite state and terminate
            states[diverged] = self._state[diverged]
        self._state = states
        return rewards, diverged

    def _observe(self) -> np.ndarray:
        return observe(self._state)

    @property
    def states(self) -> np.ndarray:
        """True states, shape ``(num_envs, n)``, float64."""
        return self._state.copy()
