"""Multi-task 10x10 GridWorld: reach the goal, avoid the obstacles; tasks differ in layout and start distribution.

The environment of Sec. 5.1 / Fig. 2 of "A Decentralized Policy Gradient Approach to Multi-Task Reinforcement
Learning" (Zeng et al., UAI 2021). Reads top to bottom: parameters and named task sets, the model (transition
tables, the `TabularMDP`), the single environment, the batched vector
environment, rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import TaskEnv, discrete_action
from mtenvs.core.parameters import Categorical, Integer, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.task import Task
from mtenvs.core.vector import TaskVectorEnv, batch_discrete_actions, check_num_envs
from mtenvs.gridworld.family import ModelFamily
from mtenvs.gridworld.layouts import (
    CORNERS,
    MOVES,
    NAMED_LAYOUTS,
    NUM_CELLS,
    PANELS,
    SIZE,
    Layout,
    cell_index,
    index_cell,
    random_layout,
)
from mtenvs.gridworld.tabular import TabularMDP

# ------------------------------------------------------------------------------------------------ parameters
#: Training tasks are random layouts started from a corner; named layouts (Fig. 2), more obstacles and a uniform
#: start are out of distribution.
PARAMETERS = ParameterSpace([
    Integer("seed", 0, bounds=(0, 999_999), train=(0, 999_999),
            description="seed of the random layout (used only when layout='random')"),
    Integer("num_obstacles", 2, bounds=(1, 12), train=(1, 4),
            description="number of obstacles of the random layout (used only when layout='random')"),
    Categorical("layout", "a1", choices=("random", *NAMED_LAYOUTS), train=("random",),
                description="a Fig. 2 environment ('a1'..'d6', see mtenvs.gridworld.layouts) or 'random'"),
    Categorical("start", "top-left", choices=(*CORNERS, "uniform"), train=tuple(CORNERS),
                description="start cell (a corner) or 'uniform' over the non-terminal cells"),
])

#: Discount factor (0.99, the paper's value for the drone, App. C.1; it gives none for the GridWorld) and the
#: training episode length (our choice).
GAMMA = 0.99
MAX_EPISODE_STEPS = 200


def panel_tasks(panel: str) -> list[dict[str, Any]]:
    """The environments of one Fig. 2 panel (``"a"``..``"e"``) as task parameter dicts."""
    names, start = PANELS[panel]
    return [{"layout": name, "start": start} for name in names]


def layout_of(task: Task) -> Layout:
    """The goal and obstacles of a task (named, or drawn from its seed)."""
    if task["layout"] == "random":
        return random_layout(task["seed"], task["num_obstacles"])
    return NAMED_LAYOUTS[task["layout"]]


# ------------------------------------------------------------------------------------------------ model
@dataclass(frozen=True)
class GridTables:
    """A task's dynamics as lookup tables: ``next_cell[s, a]``, ``reward[s, a]``, ``terminal[s]``, ``start[s]``."""

    layout: Layout
    next_cell: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray
    start: np.ndarray


@lru_cache(maxsize=4096)
def grid_tables(task: Task) -> GridTables:
    """Deterministic moves (off-grid moves stay put); entering the goal pays +1 and entering an obstacle -1, and
    both end the episode; terminal cells are absorbing with reward 0."""
    layout = layout_of(task)
    terminal = layout.terminal_mask
    bonus = np.zeros(NUM_CELLS)
    bonus[[cell_index(c) for c in layout.obstacles]] = -1.0
    bonus[cell_index(layout.goal)] = 1.0
    next_cell = np.tile(np.arange(NUM_CELLS)[:, None], (1, len(MOVES)))
    for s in np.flatnonzero(~terminal):
        r, c = index_cell(s)
        for a, (dr, dc) in enumerate(MOVES):
            if 0 <= r + dr < SIZE and 0 <= c + dc < SIZE:
                next_cell[s, a] = cell_index((r + dr, c + dc))
    reward = np.where(terminal[:, None], 0.0, bonus[next_cell])
    if task["start"] == "uniform":
        start = (~terminal).astype(np.float64) / (~terminal).sum()
    else:
        start = np.zeros(NUM_CELLS)
        start[cell_index(CORNERS[task["start"]])] = 1.0
    for array in (next_cell, reward, terminal, start):
        array.setflags(write=False)
    return GridTables(layout, next_cell, reward, terminal, start)


def gridworld_model(task: Task, gamma: float = GAMMA) -> TabularMDP:
    """The task's `TabularMDP`: ``P[s, a, s']`` one-hot at ``next_cell[s, a]``, ``R[s, a]`` the entry reward."""
    tables = grid_tables(task)
    transitions = np.zeros((NUM_CELLS, len(MOVES), NUM_CELLS))
    np.put_along_axis(transitions, tables.next_cell[:, :, None], 1.0, axis=2)
    goal = np.zeros(NUM_CELLS, dtype=bool)
    goal[cell_index(tables.layout.goal)] = True
    return TabularMDP(transitions, tables.reward, tables.start, gamma, tables.terminal, goal)


FAMILY = ModelFamily(
    "GridWorld",
    PARAMETERS,
    model_builder=gridworld_model,
    horizon=MAX_EPISODE_STEPS,
    gamma=GAMMA,
    description="10x10 grid, four moves, a +1 goal and -1 obstacles (both terminal); tasks differ in layout and start.",
    task_sets={panel: (lambda fam, p=panel: panel_tasks(p)) for panel in PANELS},
)


def greedy_path(tasks: Task | Sequence[Task], policy: Any, max_steps: int = 100) -> list[int]:
    """Cells visited following ``argmax_a policy[s, a]`` from the first task's (most likely) start cell, until every
    task's episode has ended (each ends on entering one of its own terminal cells), a cell repeats (the path loops),
    or ``max_steps`` moves; with several tasks of a panel this is the common path of Fig. 2."""
    all_tables = [grid_tables(t) for t in ([tasks] if isinstance(tasks, Task) else tasks)]
    cell = int(np.argmax(all_tables[0].start))
    path = [cell]
    actions = np.asarray(policy).argmax(axis=1)
    running = [not t.terminal[cell] for t in all_tables]
    for _ in range(max_steps):
        if not any(running):
            break
        r, c = index_cell(cell)
        dr, dc = MOVES[actions[cell]]
        cell = cell_index((r + dr, c + dc)) if 0 <= r + dr < SIZE and 0 <= c + dc < SIZE else cell
        repeated = cell in path
        path.append(cell)
        running = [alive and not t.terminal[cell] for alive, t in zip(running, all_tables, strict=True)]
        if repeated:
            break
    return path


# ------------------------------------------------------------------------------------------------ single env
def _start_cell(value: Any, terminal: np.ndarray, owner: str) -> int:
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "iu":
        raise ValueError(f"{owner}: reset option 'state' must be a cell index in [0, {NUM_CELLS - 1}], got {value!r}")
    cell = int(array.reshape(()))
    if not 0 <= cell < NUM_CELLS or terminal[cell]:
        raise ValueError(f"{owner}: reset option 'state' must be a non-terminal cell index in [0, {NUM_CELLS - 1}], "
                         f"got {cell}")
    return cell


class GridWorldEnv(TaskEnv[int, int]):
    """Walk a 10x10 grid to the goal cell without entering an obstacle. One task = one layout and start distribution.

    ## Description
    The multi-task GridWorld of Zeng et al. (UAI 2021, Sec. 5.1): every task is the same 10x10 grid with the same
    moves; tasks differ in where the goal (+1) and the obstacles (-1) are and in the start distribution. The
    layouts of the paper's Fig. 2 (a)-(e) are the task sets ``"a"``..``"e"`` (reconstructed, see
    `mtenvs.gridworld.layouts`); ``layout="random"`` draws a layout from ``seed``. The known model is
    available: ``env.unwrapped.model(gamma)`` (a `TabularMDP` with exact values,
    the exact entropy-regularized policy gradient and value iteration) and ``FAMILY.optimal_value(task)``.

    ## Observation Space
    ``Discrete(100)``: the agent's cell ``10 * row + col``, row 0 at the top. The task is hidden.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 down, 2 left, 3 right. A move off the grid leaves the agent in place.

    ## Reward
    +1 for entering the goal, -1 for entering an obstacle, 0 otherwise.

    ## Starting State
    The task's start corner (``start="top-left"`` etc.), or uniform over the non-terminal cells
    (``start="uniform"``). ``reset(options={"state": cell})`` starts from a given non-terminal cell.

    ## Episode End
    Termination on entering the goal or an obstacle. Truncation after 200 steps for ``mtenvs/GridWorld-v0``.

    ## Arguments
    * ``task`` / ``tasks``: the task or the task set (see `mtenvs.core.env.TaskEnv`); parameters ``layout``,
      ``start``, and for random layouts ``seed`` and ``num_obstacles``.
    * ``render_mode``: ``"ansi"`` (text grid: ``A`` agent, ``G`` goal, ``X`` obstacle) or ``"rgb_array"``.

    ## Version History
    * v0: initial release.
    """

    family = FAMILY
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, task: TaskSpec = None, *, tasks: TaskSpec = None, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Discrete(NUM_CELLS)
        self.action_space = spaces.Discrete(len(MOVES))
        self._cell: int | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self._tables = grid_tables(task)

    def _reset_state(self, options: dict[str, Any]) -> int:
        if options.get("state") is not None:
            self._cell = _start_cell(options["state"], self._tables.terminal, "GridWorld")
        else:
            self._cell = int(self.np_random.choice(NUM_CELLS, p=self._tables.start))
        return self._observation()

    def _observation(self) -> int:
        return int(self._cell)  # type: ignore[arg-type]

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Move one cell (or stay at the edge); report the entry reward and whether a terminal cell was entered."""
        if self._cell is None:
            self._require_reset()
        a = discrete_action(action, len(MOVES), "GridWorld")
        tables = self._tables
        reward = float(tables.reward[self._cell, a])
        self._cell = int(tables.next_cell[self._cell, a])
        return self._cell, reward, bool(tables.terminal[self._cell]), False, self._info()

    @property
    def state(self) -> int | None:
        """The agent's cell, or ``None`` before reset."""
        return self._cell

    def model(self, gamma: float = GAMMA) -> TabularMDP:
        """The current task's known model with discount ``gamma``."""
        return gridworld_model(self.task, gamma)

    def render(self) -> str | np.ndarray | None:
        """The grid as text (``"ansi"``) or as a 320x320 RGB frame (``"rgb_array"``); ``None`` otherwise."""
        if self.render_mode == "ansi":
            return render_text(self._tables.layout, self._cell)
        if self.render_mode == "rgb_array":
            return render_rgb(self._tables.layout, self._cell)
        return None


# ------------------------------------------------------------------------------------------------ vector env
class GridWorldVectorEnv(TaskVectorEnv):
    """``num_envs`` GridWorlds, each on its own task, stepped with one table lookup.

    Same dynamics, rewards and episode ends as `GridWorldEnv`; arguments are those of `GridWorldEnv`
    plus ``num_envs``, ``max_episode_steps`` and ``autoreset_mode`` (see `mtenvs.core.vector`).
    """

    family = FAMILY
    metadata = {"render_modes": [], "autoreset_mode": TaskVectorEnv.metadata["autoreset_mode"]}

    def __init__(self, num_envs: int = 1, *, task: TaskSpec = None, tasks: TaskSpec = None,
                 max_episode_steps: int | None = None, autoreset_mode: Any = "NextStep",
                 render_mode: str | None = None) -> None:
        n = check_num_envs(num_envs, "GridWorld")
        self.single_observation_space = spaces.Discrete(NUM_CELLS)
        self.single_action_space = spaces.Discrete(len(MOVES))
        self._next = np.zeros((n, NUM_CELLS, len(MOVES)), dtype=np.int64)
        self._reward = np.zeros((n, NUM_CELLS, len(MOVES)), dtype=np.float32)
        self._terminal = np.zeros((n, NUM_CELLS), dtype=bool)
        self._start_cdf = np.zeros((n, NUM_CELLS))
        self._cells = np.zeros(n, dtype=np.int64)
        self._sub_envs = np.arange(n)
        super().__init__(n, task=task, tasks=tasks, max_episode_steps=max_episode_steps,
                         autoreset_mode=autoreset_mode, render_mode=render_mode)
        self._batch_spaces()

    def _apply_tasks(self, idx: np.ndarray) -> None:
        tasks = self.tasks
        for i in idx:
            tables = grid_tables(tasks[i])
            self._next[i], self._reward[i], self._terminal[i] = tables.next_cell, tables.reward, tables.terminal
            self._start_cdf[i] = np.cumsum(tables.start)

    def _reset_states(self, idx: np.ndarray, states: np.ndarray | None) -> None:
        if states is not None:
            cells = np.asarray(states).reshape(len(idx))
            self._cells[idx] = [_start_cell(s, self._terminal[i], "GridWorld") for s, i in zip(cells, idx, strict=True)]
            return
        # Inverse-CDF sampling of every reset sub-env's start distribution in one call.
        u = self.np_random.random(len(idx))
        self._cells[idx] = np.minimum((self._start_cdf[idx] <= u[:, None]).sum(axis=1), NUM_CELLS - 1)

    def _check_actions(self, actions: Any) -> np.ndarray:
        return batch_discrete_actions(actions, self.num_envs, len(MOVES), "GridWorld")

    def _step_states(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rewards = self._reward[self._sub_envs, self._cells, actions].copy()
        self._cells = self._next[self._sub_envs, self._cells, actions]
        return rewards, self._terminal[self._sub_envs, self._cells].copy()

    def _observe(self) -> np.ndarray:
        return self._cells.copy()

    @property
    def states(self) -> np.ndarray:
        """Every sub-env's cell, shape ``(num_envs,)``."""
        return self._cells.copy()


# ------------------------------------------------------------------------------------------------ rendering
def render_text(layout: Layout, cell: int | None) -> str:
    """One line per grid row: ``A`` the agent, ``G`` the goal, ``X`` an obstacle, ``.`` an empty cell."""
    chars = [["."] * SIZE for _ in range(SIZE)]
    for r, c in layout.obstacles:
        chars[r][c] = "X"
    chars[layout.goal[0]][layout.goal[1]] = "G"
    if cell is not None:
        r, c = index_cell(cell)
        chars[r][c] = "A"
    return "\n".join("".join(row) for row in chars) + "\n"


def render_rgb(layout: Layout, cell: int | None, pixels: int = 32) -> np.ndarray:
    """The grid drawn with Pillow: yellow goal, red obstacles, blue agent; ``(10 * pixels, 10 * pixels, 3)`` uint8."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (SIZE * pixels, SIZE * pixels), (255, 255, 255))
    draw = ImageDraw.Draw(image)

    def box(r: int, c: int) -> list[int]:
        return [c * pixels, r * pixels, (c + 1) * pixels - 1, (r + 1) * pixels - 1]

    draw.rectangle(box(*layout.goal), fill=(240, 200, 40))
    for r, c in layout.obstacles:
        draw.rectangle(box(r, c), fill=(200, 40, 40))
    for k in range(SIZE + 1):
        draw.line([(0, k * pixels), (SIZE * pixels, k * pixels)], fill=(180, 180, 180))
        draw.line([(k * pixels, 0), (k * pixels, SIZE * pixels)], fill=(180, 180, 180))
    if cell is not None:
        r, c = index_cell(cell)
        margin = pixels // 5
        draw.ellipse([c * pixels + margin, r * pixels + margin, (c + 1) * pixels - margin, (r + 1) * pixels - margin],
                     fill=(40, 80, 220))
    return np.asarray(image, dtype=np.uint8).copy()
