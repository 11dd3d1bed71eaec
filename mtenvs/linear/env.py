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
from mtenvs.rendering import require_reset


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

    ## Rendering
    ``render_mode="rgb_array"``: the states as nodes coloured by their expected reward at the current step, the
    current state ringed, arrows to the likeliest next states, and the expected reward of every step and state
    (see `draw_linear_mdp`).

    ## Arguments
    ``task=`` / ``tasks=`` as for every mtenvs environment. The sizes (``n_states``, ``n_actions``, ``dim``,
    ``horizon``) fix the spaces: every task an environment runs must have the sizes of the task it was built with.
    ``render_mode``: ``"rgb_array"`` or ``None``.

    ## Version History
    * v0: initial version.
    * v0: ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    """

    family: ClassVar[LinearFamily]
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}

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
        self._cdf = self.model.transition_cdf  # shared by every env on this model

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

    def render(self) -> np.ndarray | None:
        """A 600×380 RGB frame in ``"rgb_array"`` mode (see `draw_linear_mdp`); ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._state is not None, self.family.name)
        return draw_linear_mdp(self.model, self._state, self._step_index, self._task.id)


# ------------------------------------------------------------------------------------------------ rendering
def draw_linear_mdp(model: LinearMDP, state: int, step: int, title: str) -> np.ndarray:
    """A linear MDP at state ``state`` after ``step`` steps (600×380 RGB).

    Top: the states as nodes (up to ten a row) coloured by their expected reward at the current step,
    ``mean_a r_h(s, a) = mean_a ⟨φ(s, a), θ_h⟩`` (uniformly random action), the current state ringed in red, and
    arrows to the likeliest next states ``mean_a P_h(s'|s, a)`` (width growing with the probability).
    Bottom: the same expected reward for every step (rows) and state (columns), the current step and state
    outlined. Tasks differ through θ and μ, so through the colours and the arrows.
    """
    from mtenvs.rendering import RED, Canvas, colour_scale, colours, disc

    canvas = Canvas(600, 380)
    n, horizon = model.n_states, model.horizon
    expected = model.rewards.mean(axis=2)  # (H, S)
    h = min(step, horizon - 1)
    cols = min(n, 10)
    rows = -(-n // cols)
    spacing = 560.0 / cols
    radius = min(18.0, spacing * 0.35, 90.0 / rows * 0.35)
    row_height = min(60.0, 130.0 / rows)

    def centre(s: int) -> tuple[float, float]:
        return 20.0 + spacing * (s % cols + 0.5), 110.0 + row_height * (s // cols)

    canvas.text((10, 8), f"{title}   step h = {step} / {horizon}" + ("   (episode over)" if step >= horizon else ""))
    if step < horizon:
        probabilities = model.transitions[h, state].mean(axis=0)
        start = centre(state)
        for target in np.argsort(-probabilities, kind="stable")[:4]:
            p = float(probabilities[target])
            if p < 0.02:
                continue
            end = centre(int(target))
            width = 1 + round(6 * p)
            if target == state:
                canvas.draw.ellipse([start[0] - 10, start[1] - radius - 22, start[0] + 10, start[1] - radius + 2],
                                    outline=(90, 120, 200), width=width)
                continue
            lift = min(18.0 + 0.25 * abs(end[0] - start[0]), 55.0)  # an arc above the nodes, higher for farther states
            t = np.linspace(0.0, 1.0, 24)
            xs = (1 - t) ** 2 * start[0] + 2 * t * (1 - t) * (start[0] + end[0]) / 2 + t**2 * end[0]
            ys = (1 - t) ** 2 * (start[1] - radius) + 2 * t * (1 - t) * (min(start[1], end[1]) - radius - lift) \
                + t**2 * (end[1] - radius)
            points = list(zip(xs.tolist(), ys.tolist(), strict=True))
            canvas.draw.line(points[:-2], fill=(90, 120, 200), width=width)
            canvas.arrow(points[-4], points[-1], fill=(90, 120, 200), width=width, head=8.0)
    fills = colours(expected[h], 0.0, 1.0)
    for s in range(n):
        disc(canvas, centre(s), radius, fills[s], outline=(60, 60, 60))
        if radius >= 9:
            canvas.text(centre(s), str(s), size=11, fill=(255, 255, 255) if np.mean(fills[s]) < 140 else (0, 0, 0),
                        anchor="mm")
    disc(canvas, centre(state), radius + 4, fills[state], outline=RED, width=4)
    top = 110.0 + row_height * (rows - 1) + 45
    box = (20.0, top + 18, 580.0, 330.0)
    canvas.text((20, top + 14), "expected reward mean_a r_h(s, a): steps h (rows) x states s (columns)", size=12,
                anchor="ld")
    cell_w, cell_h = (box[2] - box[0]) / n, (box[3] - box[1]) / horizon
    for row in range(horizon):
        for s, fill in enumerate(colours(expected[row], 0.0, 1.0)):
            canvas.draw.rectangle([box[0] + s * cell_w, box[1] + row * cell_h, box[0] + (s + 1) * cell_w,
                                   box[1] + (row + 1) * cell_h], fill=fill)
    if step < horizon:
        canvas.draw.rectangle([box[0] + state * cell_w, box[1] + h * cell_h, box[0] + (state + 1) * cell_w,
                               box[1] + (h + 1) * cell_h], outline=RED, width=3)
    colour_scale(canvas, (200.0, 340.0, 400.0, 350.0), 0.0, 1.0)
    return canvas.frame()
