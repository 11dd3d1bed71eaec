"""The two-task 5-state chains of Zeng et al. (UAI 2021, §2.2, Fig. 1, App. A): why multi-task RL is hard.

States ``S1..S5`` in a row (indices 0..4), actions 0 = L and 1 = R, start in ``S3``. ``S1`` and ``S5`` are
absorbing; entering one pays once: task 1 pays +1 for ``S1`` and -1 for ``S5``, task 2 the reverse.

* ``variant="reversed"`` (Challenge 1): moves are deterministic; task 2 swaps the effect of L and R in ``S2`` and
  ``S4``. The best common policy plays L with probability 1/2 in ``S3`` and is worth ``2 gamma / (2 - gamma^2)`` at
  ``S3``, more than any deterministic policy (``gamma``): no deterministic policy is optimal.
* ``variant="stochastic"`` (Challenge 2): from ``S2`` and ``S4`` the next state does not depend on the action (in
  task 1, ``S2`` enters ``S1`` with probability ``1 - p`` and ``S4`` enters ``S5`` with probability ``p``; in task 2
  the other way round); the uniform policy is a stationary point of the summed value that is not a global optimum
  (it is the global minimum).

Reads top to bottom: parameters and named task sets, the model, the environment, its rendering.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import TaskEnv, discrete_action
from mtenvs.core.parameters import Categorical, Continuous, Integer, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.gridworld.family import ModelFamily
from mtenvs.gridworld.tabular import TabularMDP
from mtenvs.rendering import BLACK, BLUE, GREY, LIGHT_GREY, RED, WHITE, Canvas, disc, require_reset

NUM_STATES, NUM_ACTIONS = 5, 2
LEFT, RIGHT = 0, 1
START = 2  # S3
MAX_EPISODE_STEPS = 100

# ------------------------------------------------------------------------------------------------ parameters
PARAMETERS = ParameterSpace([
    Continuous("p", 0.8, bounds=(0.5, 1.0), train=(0.6, 0.9),
               description="probability that S2/S4 lead outward in task 1 (inward in task 2); stochastic variant only"),
    Integer("task", 1, bounds=(1, 2), train=(1, 2), description="task 1 rewards S1, task 2 rewards S5"),
    Categorical("variant", "reversed", choices=("reversed", "stochastic"), train=("reversed", "stochastic"),
                description="'reversed' (Challenge 1) or 'stochastic' (Challenge 2)"),
])


def _challenge(variant: str, **extra: Any) -> Any:
    return lambda fam: [{"variant": variant, "task": k, **extra} for k in (1, 2)]


# ------------------------------------------------------------------------------------------------ model
@lru_cache(maxsize=1024)
def chain_dynamics(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """``P[s, a, s']`` and the entry bonus ``b[s']`` of a task (rewards are ``r(s, a, s') = b[s']`` outside S1/S5)."""
    p = np.zeros((NUM_STATES, NUM_ACTIONS, NUM_STATES))
    p[0, :, 0] = p[4, :, 4] = 1.0
    p[2, LEFT, 1] = p[2, RIGHT, 3] = 1.0
    if task["variant"] == "reversed":
        swap = task["task"] == 2
        for s in (1, 3):
            p[s, RIGHT if swap else LEFT, s - 1] = 1.0
            p[s, LEFT if swap else RIGHT, s + 1] = 1.0
    else:
        x = task["p"] if task["task"] == 1 else 1.0 - task["p"]
        p[1, :, 0], p[1, :, 2] = 1.0 - x, x  # task 1: S2 -> S1 w.p. 1 - p, -> S3 w.p. p (App. A)
        p[3, :, 4], p[3, :, 2] = x, 1.0 - x  # task 1: S4 -> S5 w.p. p, -> S3 w.p. 1 - p
    bonus = np.array([1.0, 0.0, 0.0, 0.0, -1.0]) * (1.0 if task["task"] == 1 else -1.0)
    p.setflags(write=False)
    bonus.setflags(write=False)
    return p, bonus


def chain_model(task: Task, gamma: float = 0.9) -> TabularMDP:
    """The task's `TabularMDP` with start ``S3``; ``R[s, a] = sum_s' P(s'|s, a) b[s']`` (zero in S1/S5)."""
    p, bonus = chain_dynamics(task)
    terminal = np.array([True, False, False, False, True])
    rewards = np.where(terminal[:, None], 0.0, p @ bonus)
    goal = bonus > 0
    return TabularMDP(p, rewards, np.eye(NUM_STATES)[START], gamma, terminal, goal)


FAMILY = ModelFamily(
    "ConflictChain",
    PARAMETERS,
    model_builder=chain_model,
    horizon=MAX_EPISODE_STEPS,
    gamma=0.9,
    description="The two-task 5-state chains of Zeng et al. (2021): no optimal deterministic policy; a bad stationary point.",
    task_sets={"challenge1": _challenge("reversed"), "challenge2": _challenge("stochastic", p=0.8)},
)


# ------------------------------------------------------------------------------------------------ environment
class ConflictChainEnv(TaskEnv[int, int]):
    """A 5-state chain: from ``S3`` reach the rewarding end (``S1`` in task 1, ``S5`` in task 2), not the other.

    ## Description
    The illustrative examples of Zeng et al. (UAI 2021, §2.2 and App. A). ``variant="reversed"``: deterministic moves,
    with L and R swapped in ``S2`` and ``S4`` in task 2 (Challenge 1: every deterministic common policy is
    sub-optimal). ``variant="stochastic"``: ``S2``/``S4`` move at random whatever the action (Challenge 2: the
    uniform policy is a non-optimal stationary point). Named task sets ``"challenge1"`` and ``"challenge2"`` hold
    the paper's two task pairs. ``env.unwrapped.model(gamma)`` gives the known model.

    ## Observation Space
    ``Discrete(5)``: the state index (0 = ``S1`` .. 4 = ``S5``).

    ## Action Space
    ``Discrete(2)``: 0 = L, 1 = R.

    ## Reward
    On entering ``S1``: +1 in task 1, -1 in task 2. On entering ``S5``: -1 in task 1, +1 in task 2. Else 0.

    ## Starting State
    ``S3`` (index 2); ``reset(options={"state": s})`` starts from another non-terminal state.

    ## Episode End
    Termination on entering ``S1`` or ``S5``. Truncation after 100 steps for ``mtenvs/ConflictChain-v0``.

    ## Arguments
    * ``task`` / ``tasks``: parameters ``variant``, ``task`` (1 or 2) and ``p`` (stochastic variant).
    * ``render_mode``: ``"ansi"`` (text), ``"rgb_array"`` (the chain with both actions' transition probabilities,
      the paying ends coloured by the task and the agent's state ringed) or ``None``.

    ## Version History
    * v0: initial release; ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    """

    family = FAMILY
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Discrete(NUM_STATES)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self._state: int | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self._transitions, self._bonus = chain_dynamics(task)

    def _reset_state(self, options: dict[str, Any]) -> int:
        state = options.get("state")
        if state is None:
            self._state = START
        else:
            array = np.asarray(state)
            if array.size != 1 or array.dtype.kind not in "iu" or int(array.reshape(())) not in (1, 2, 3):
                raise ValueError(f"ConflictChain: reset option 'state' must be a non-terminal state 1, 2 or 3, got {state!r}")
            self._state = int(array.reshape(()))
        return self._observation()

    def _observation(self) -> int:
        return int(self._state)  # type: ignore[arg-type]

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Move (S1 and S5 are absorbing); pay the entry reward once."""
        if self._state is None:
            self._require_reset()
        a = discrete_action(action, NUM_ACTIONS, "ConflictChain")
        current = self._state
        row = self._transitions[current, a]
        nxt = int(row.argmax()) if row.max() == 1.0 else int(self.np_random.choice(NUM_STATES, p=row))
        absorbed = current in (0, NUM_STATES - 1)
        reward = 0.0 if absorbed else float(self._bonus[nxt])
        self._state = nxt
        return nxt, reward, nxt in (0, NUM_STATES - 1), False, self._info()

    @property
    def state(self) -> int | None:
        """The current state index, or ``None`` before reset."""
        return self._state

    def model(self, gamma: float = 0.9) -> TabularMDP:
        """The current task's known model with discount ``gamma``."""
        return chain_model(self.task, gamma)

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: the chain as ``[+] . A . [-]`` from the current task's point of view; ``"rgb_array"``: a
        640×220 frame (see `draw_chain`).

        Raises:
            gymnasium.error.ResetNeeded: ``"rgb_array"`` before the first reset.
        """
        if self.render_mode == "rgb_array":
            require_reset(self._state is not None, "ConflictChain")
            return draw_chain(self._transitions, self._bonus, int(self._state), self.task)
        if self.render_mode != "ansi":
            return None
        cells = ["+" if b > 0 else "-" if b < 0 else "." for b in self._bonus]
        if self._state is not None:
            cells[self._state] = "A"
        return " ".join(cells) + "\n"


# ------------------------------------------------------------------------------------------------ rendering
def draw_chain(transitions: np.ndarray, bonus: np.ndarray, state: int, task: Task) -> np.ndarray:
    """The five states in a row: ``S1``/``S5`` green when entering pays +1 and red when it costs 1, the agent's state
    ringed; from ``S2``..``S4`` an arc per action and next state, L above the row and R below, as thick as its
    probability (labelled when it is not 1)."""
    canvas = Canvas(640, 220)
    title = f"{task['variant']} chain, task {task['task']}" + (f", p = {task['p']:g}" if task["variant"] == "stochastic" else "")
    canvas.text((10, 8), title, size=14)
    canvas.text((630, 8), "L above, R below", size=12, fill=GREY, anchor="ra")
    xs, y, radius = [80 + 120 * i for i in range(NUM_STATES)], 115.0, 24.0
    action_colours = {LEFT: BLUE, RIGHT: (220, 120, 20)}
    for s in range(1, NUM_STATES - 1):
        for a, side in ((LEFT, -1), (RIGHT, 1)):
            for target in np.flatnonzero(transitions[s, a] > 0):
                probability = float(transitions[s, a, target])
                start, end = (xs[s], y + side * radius), (xs[target], y + side * radius)
                bend = side * (28 + 6 * abs(int(target) - s))
                middle = ((start[0] + end[0]) / 2, y + side * radius + bend)
                width = max(1, round(5 * probability))
                canvas.draw.line([start, middle], fill=action_colours[a], width=width)
                canvas.arrow(middle, end, fill=action_colours[a], width=width)
                if probability < 1.0:
                    canvas.text((middle[0], middle[1] + side * 4), f"{probability:.2g}", size=11,
                                fill=action_colours[a], anchor="mt" if side > 0 else "mb")
    for s, x in enumerate(xs):
        fill = (70, 170, 80) if bonus[s] > 0 else RED if bonus[s] < 0 else LIGHT_GREY
        disc(canvas, (x, y), radius, fill, outline=BLACK if s == state else GREY, width=5 if s == state else 1)
        label = f"S{s + 1}" + (f" {bonus[s]:+.0f}" if bonus[s] else "")
        canvas.text((x, y), label, size=12, fill=BLACK if bonus[s] == 0 else WHITE, anchor="mm")
    return canvas.frame()


ConflictChainVectorEnv = vector_env_for(ConflictChainEnv, "ConflictChainVectorEnv")
