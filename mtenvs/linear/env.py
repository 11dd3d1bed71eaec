"""``LinearMDPEnv``: one episode of a finite linear MDP, with the features of every action in ``info``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import TaskEnv, discrete_action
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.linear.family import LinearFamily, sizes
from mtenvs.linear.model import LinearMDP


class LinearMDPEnv(TaskEnv[np.ndarray, int]):
    """## Description
    A finite-horizon linear MDP (Jin et al. 2020): P_h(s'|s, a) = ⟨φ(s, a), μ_h(s')⟩ and r_h(s, a) = ⟨φ(s, a), θ_h⟩,
    with a feature map φ known to the agent and μ_h, θ_h hidden in the task. The task is never part of the
    observation; the family's ``model(task)`` gives the exact tables and values.

    ## Observation Space
    ``MultiDiscrete([n_states, horizon + 1])`` (int64): ``[s, h]``, the state and the number of steps taken so far
    (h = 0 at reset, h = H after the last step). The step count is observed because the dynamics are step-dependent.

    ## Action Space
    ``Discrete(n_actions)``.

    ## Features
    ``info["features"]`` is φ(s, a) for every action a of the observed state s, shape ``(n_actions, dim)``
    (float64), on every reset and step (after a step: of the next state). The whole map is
    ``family.feature_map(task)``, shape ``(n_states, n_actions, dim)``.

    ## Reward
    r_h(s, a) ∈ [0, 1], deterministic.

    ## Starting State
    The task's fixed start state s_0 = 0 at h = 0. ``reset(options={"state": s})`` starts in state ``s`` at h = 0,
    and ``options={"state": [s, h]}`` at step h (for replaying a recorded observation).

    ## Episode End
    The episode terminates after ``horizon`` steps (V_{H+1} = 0 is part of the model, so ``terminated=True``).
    Steps after the end leave the state unchanged, give reward 0 and ``terminated=True``.

    ## Arguments
    ``task=`` / ``tasks=`` as for every mtenvs environment. The sizes (``n_states``, ``n_actions``, ``dim``,
    ``horizon``) fix the spaces: every task an environment runs must have the sizes of the task it was built with.

    ## Version History
    * v0: initial version.
    """

    family: ClassVar[LinearFamily]
    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, render_mode: str | None = None) -> None:
        self._sizes: tuple[int, int, int, int] | None = None
        self._state: int | None = None
        self._step_index = 0
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    # ------------------------------------------------------------------------------------------------ tasks
    def _set_task(self, task: Task) -> None:
        task_sizes = sizes(task)
        if self._sizes is None:
            n_states, n_actions, _, horizon = task_sizes
            self._sizes = task_sizes
            self.observation_space = spaces.MultiDiscrete([n_states, horizon + 1])
            self.action_space = spaces.Discrete(n_actions)
        elif task_sizes != self._sizes:
            names = "(n_states, n_actions, dim, horizon)"
            raise ValueError(f"{self.family.name}: this environment runs tasks of sizes {names} = {self._sizes}, "
                             f"got {task_sizes}; build a new environment for other sizes")
        super()._set_task(task)

    def _apply_task(self, task: Task) -> None:
        self.model: LinearMDP = self.family.model(task)
        self._cdf = np.cumsum(self.model.transitions, axis=-1)

    # ------------------------------------------------------------------------------------------ reset / step
    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        state = options.get("state")
        if state is None:
            self._state, self._step_index = self.model.start_state, 0
        else:
            self._state, self._step_index = self._parse_state(state)
        return self._observation()

    def _parse_state(self, state: Any) -> tuple[int, int]:
        array = np.asarray(state)
        n_states, horizon = self.model.n_states, self.model.horizon
        if array.dtype.kind not in "iu" or array.shape not in ((), (2,)):
            raise ValueError(f"{self.family.name} reset option 'state' must be an integer state or [state, step], "
                             f"got {state!r}")
        s, h = (int(array), 0) if array.shape == () else (int(array[0]), int(array[1]))
        if not (0 <= s < n_states and 0 <= h < horizon):
            raise ValueError(f"{self.family.name} reset option 'state': state must be in [0, {n_states - 1}] and step "
                             f"in [0, {horizon - 1}], got state {s}, step {h}")
        return s, h

    def _observation(self) -> np.ndarray:
        return np.array([self._state, self._step_index], dtype=np.int64)

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        if self._state is not None:
            info["features"] = self.model.state_features(self._state)
        return info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Act in the current state: reward r_h(s, a), next state s' ~ P_h(·|s, a)."""
        if self._state is None:
            self._require_reset()
        a = discrete_action(action, self.model.n_actions, self.family.name)
        if self._step_index >= self.model.horizon:  # past the end: absorbing, zero reward (V_{H+1} = 0)
            return self._observation(), 0.0, True, False, self._info()
        h, s = self._step_index, self._state
        reward = float(self.model.rewards[h, s, a])
        # Inverse-CDF draw: one uniform number per step, so the stream is the same for any state space size.
        next_state = int(np.searchsorted(self._cdf[h, s, a], self.np_random.random(), side="right"))
        self._state = min(next_state, self.model.n_states - 1)
        self._step_index = h + 1
        terminated = self._step_index == self.model.horizon
        return self._observation(), reward, terminated, False, self._info()

    @property
    def state(self) -> np.ndarray | None:
        """``[s, h]``, the current state and step (``None`` before the first reset)."""
        return None if self._state is None else self._observation()
