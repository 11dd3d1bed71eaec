"""GridWorld layouts: where the goal and the obstacles are, as data.

The named layouts reconstruct Fig. 2 (a)-(e) of Zeng et al. (UAI 2021); the figure's images are not in the paper's
text, so these layouts are our reconstruction, checked to have the stated conflict structure:

* panel (a), no conflict: four environments whose goals lie on one path from the top-left corner;
* panel (b), resolvable conflict: as (a), but an obstacle of environment 2 is the goal of environment 3;
* panel (c), unresolvable conflict: the goal of environment 2 is an obstacle of environment 3 and vice versa;
* panels (d)/(e), start-corner sensitivity: six environments, started from the top-left (d) or top-right (e) corner.

Coordinates are ``(row, col)`` with row 0 at the top; a cell's index is ``10 * row + col``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.sparse import csgraph

SIZE = 10
NUM_CELLS = SIZE * SIZE
#: Moves of the actions 0 (up), 1 (down), 2 (left), 3 (right), as (row, col) offsets.
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))
ACTION_NAMES = ("up", "down", "left", "right")
CORNERS = {"top-left": (0, 0), "top-right": (0, SIZE - 1), "bottom-left": (SIZE - 1, 0),
           "bottom-right": (SIZE - 1, SIZE - 1)}
#: Tag of the random-layout stream, so layout seeds never share a stream with other uses of the same integer.
_LAYOUT_STREAM = 0x6E1D


Cell = tuple[int, int]


def cell_index(cell: Cell) -> int:
    """``10 * row + col``."""
    return SIZE * cell[0] + cell[1]


def index_cell(index: int) -> Cell:
    """``(row, col)`` of a cell index."""
    return divmod(int(index), SIZE)


@dataclass(frozen=True)
class Layout:
    """One environment's terminal cells: a goal (+1 on entering) and obstacles (-1 on entering)."""

    goal: Cell
    obstacles: tuple[Cell, ...]

    def __post_init__(self) -> None:
        cells = [self.goal, *self.obstacles]
        if any(not (0 <= r < SIZE and 0 <= c < SIZE) for r, c in cells):
            raise ValueError(f"layout cells must lie in the {SIZE}x{SIZE} grid, got {cells}")
        if len(set(cells)) != len(cells):
            raise ValueError(f"layout cells must be distinct, got {cells}")

    @property
    def terminal_mask(self) -> np.ndarray:
        """Boolean mask over cell indices: goal and obstacles."""
        mask = np.zeros(NUM_CELLS, dtype=bool)
        mask[[cell_index(c) for c in (self.goal, *self.obstacles)]] = True
        return mask


def _layout(goal: Cell, *obstacles: Cell) -> Layout:
    return Layout(goal, tuple(obstacles))


#: The reconstructed environments of Fig. 2, by panel letter and environment number.
NAMED_LAYOUTS: dict[str, Layout] = {
    "a1": _layout((0, 4), (1, 1), (2, 6)),
    "a2": _layout((0, 9), (3, 3), (2, 8)),
    "a3": _layout((5, 9), (4, 6), (7, 2)),
    "a4": _layout((9, 9), (8, 5), (6, 7)),
    "b1": _layout((0, 4), (1, 1), (2, 6)),
    "b2": _layout((0, 9), (3, 3), (5, 9)),  # (5, 9) is environment 3's goal
    "b3": _layout((5, 9), (4, 6), (7, 2)),
    "b4": _layout((9, 9), (8, 5), (6, 7)),
    "c1": _layout((0, 4), (1, 1), (2, 6)),
    "c2": _layout((5, 9), (9, 9)),  # goal X, obstacle Y
    "c3": _layout((9, 9), (5, 9)),  # goal Y, obstacle X
    "c4": _layout((0, 9), (3, 3), (2, 8)),
    "d1": _layout((1, 5), (2, 6)),
    "d2": _layout((9, 8), (1, 1)),
    "d3": _layout((7, 3), (5, 2), (8, 2)),  # (8, 2) is environment 4's goal
    "d4": _layout((8, 2), (5, 3)),
    "d5": _layout((3, 1), (3, 4)),
    "d6": _layout((5, 1), (2, 0)),
}

#: Fig. 2 panels: the named layouts of their environments and their common start corner.
PANELS: dict[str, tuple[tuple[str, ...], str]] = {
    "a": (("a1", "a2", "a3", "a4"), "top-left"),
    "b": (("b1", "b2", "b3", "b4"), "top-left"),
    "c": (("c1", "c2", "c3", "c4"), "top-left"),
    "d": (("d1", "d2", "d3", "d4", "d5", "d6"), "top-left"),
    "e": (("d1", "d2", "d3", "d4", "d5", "d6"), "top-right"),
}


def shortest_distances(layout: Layout, source: Cell) -> np.ndarray:
    """Fewest moves from ``source`` to every cell without entering a terminal cell on the way (``inf`` if none),
    by breadth-first search (SciPy's unweighted shortest paths)."""
    terminal = layout.terminal_mask
    rows, cols = [], []
    for index in np.flatnonzero(~terminal):
        r, c = index_cell(index)
        for dr, dc in MOVES:
            if 0 <= r + dr < SIZE and 0 <= c + dc < SIZE:
                rows.append(index)
                cols.append(cell_index((r + dr, c + dc)))
    graph = scipy.sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(NUM_CELLS, NUM_CELLS))
    return csgraph.shortest_path(graph, directed=True, unweighted=True, indices=cell_index(source))


def random_layout(seed: int, num_obstacles: int, keep_free: Iterable[Cell] = CORNERS.values()) -> Layout:
    """A seeded random layout: a goal and ``num_obstacles`` obstacles on distinct cells outside ``keep_free``
    (the four corners, the possible start cells), redrawn until the goal is reachable from every kept-free cell."""
    free = list(keep_free)
    candidates = [i for i in range(NUM_CELLS) if index_cell(i) not in free]
    rng = np.random.default_rng([_LAYOUT_STREAM, int(seed)])
    while True:
        cells = [index_cell(i) for i in rng.choice(candidates, size=1 + num_obstacles, replace=False)]
        layout = Layout(cells[0], tuple(sorted(cells[1:])))
        if all(np.isfinite(shortest_distances(layout, start)[cell_index(layout.goal)]) for start in free):
            return layout
