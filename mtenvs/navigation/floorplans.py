"""The four indoor floor plans of the drone-navigation family, as wall segments plus start poses.

Paper 003 flies drones in four PEDRA environments (Unreal Engine): *indoor long*, *indoor cloud*, *indoor
frogeyes* and *indoor pyramid*. Their geometry is not published, so each plan here is a stand-in that keeps the
character its name suggests: a long looping corridor with furniture, an open hall with a cloud of pillars, two rooms
with a round pillar each ("frog eyes") joined by a doorway, and a hall around a diamond with wedged corners.

Every wall is a 2-D segment ``(x0, y0, x1, y1)`` in metres; walls span the whole height from the floor (``z = 0``)
to the plan's ceiling, whose height differs between plans (a low-ceilinged suite of rooms, a tall hall), as the
hallway structure of the PEDRA environments does. Each plan is closed by its outer walls, so every horizontal ray
hits a wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Names of the plans, in the paper's order (Env0 to Env3).
PLAN_NAMES = ("long", "cloud", "frogeyes", "pyramid")


@dataclass(frozen=True)
class FloorPlan:
    """Walls (``(S, 4)`` float64 segments), the start poses ``(x, y, yaw_degrees)``, the ceiling height [m] and the
    look of the place for the grey-level camera: albedo of wall, floor and ceiling, and the range of the lighting [m]."""

    name: str
    walls: np.ndarray
    starts: tuple[tuple[float, float, float], ...]
    ceiling: float
    albedo: tuple[float, float, float]
    light_range: float

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the walls."""
        xs = self.walls[:, [0, 2]]
        ys = self.walls[:, [1, 3]]
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def box(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float, float, float]]:
    """The four sides of the axis-aligned rectangle ``[x0, x1] x [y0, y1]``."""
    return polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def polygon(points: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """The sides of the closed polygon through ``points``."""
    return [(*points[k], *points[(k + 1) % len(points)]) for k in range(len(points))]


def regular_polygon(cx: float, cy: float, radius: float, sides: int = 8) -> list[tuple[float, float, float, float]]:
    """A regular polygon (a round pillar when ``sides`` is large enough) centred at ``(cx, cy)``."""
    return polygon([(cx + radius * math.cos(2 * math.pi * k / sides), cy + radius * math.sin(2 * math.pi * k / sides))
                    for k in range(sides)])


def _long() -> FloorPlan:
    # A 3 m wide, 3 m high corridor looping around a 24 x 4 m block, with cabinets against the walls.
    walls = box(0, 0, 30, 10) + box(3, 3, 27, 7)
    walls += box(8, 0, 9, 1) + box(15, 9, 16, 10) + box(21, 0, 22, 1.2) + box(0, 4, 0.8, 5.5) + box(29, 6, 30, 7.5)
    starts = ((1.5, 1.5, 90.0), (12.0, 1.5, 0.0), (28.5, 5.0, -90.0), (18.0, 8.5, 180.0))
    return FloorPlan("long", np.array(walls, dtype=np.float64), starts, ceiling=3.0, albedo=(0.9, 0.5, 0.7),
                     light_range=6.0)


def _cloud() -> FloorPlan:
    # A 20 x 20 m hall, 6 m high, with a staggered lattice of 1 x 1 m pillars.
    walls = box(0, 0, 20, 20)
    for row, y in enumerate((4.5, 8.5, 12.5, 16.5)):
        for x in ((4.0, 8.0, 12.0, 16.0) if row % 2 == 0 else (6.0, 10.0, 14.0)):
            walls += box(x - 0.5, y - 0.5, x + 0.5, y + 0.5)
    starts = ((2.0, 2.0, 45.0), (18.0, 2.0, 135.0), (18.0, 18.5, -135.0), (2.0, 18.5, -45.0))
    return FloorPlan("cloud", np.array(walls, dtype=np.float64), starts, ceiling=6.0, albedo=(0.35, 0.8, 0.3),
                     light_range=15.0)


def _frogeyes() -> FloorPlan:
    # Two low (2.4 m) 12 x 12 m rooms joined by a 3 m doorway in a 2 m thick wall; a round pillar in the middle of each.
    walls = box(0, 0, 26, 12) + box(12, 0, 14, 4.5) + box(12, 7.5, 14, 12)
    walls += regular_polygon(6, 6, 2.5) + regular_polygon(20, 6, 2.5)
    starts = ((6.0, 1.5, 0.0), (20.0, 10.5, 180.0), (1.5, 6.0, 90.0), (24.5, 6.0, -90.0))
    return FloorPlan("frogeyes", np.array(walls, dtype=np.float64), starts, ceiling=2.4, albedo=(0.6, 0.25, 0.95),
                     light_range=3.0)


def _pyramid() -> FloorPlan:
    # A 20 x 20 m hall, 4.5 m high, around a diamond (a pyramid seen from above) with triangular wedges in the corners.
    walls = box(0, 0, 20, 20) + polygon([(10, 6), (14, 10), (10, 14), (6, 10)])
    walls += polygon([(0, 0), (4, 0), (0, 4)]) + polygon([(20, 0), (20, 4), (16, 0)])
    walls += polygon([(20, 20), (16, 20), (20, 16)]) + polygon([(0, 20), (0, 16), (4, 20)])
    starts = ((10.0, 2.0, 0.0), (10.0, 18.0, 180.0), (2.0, 10.0, -90.0), (18.0, 10.0, 90.0))
    return FloorPlan("pyramid", np.array(walls, dtype=np.float64), starts, ceiling=4.5, albedo=(1.0, 0.6, 0.15),
                     light_range=25.0)


PLANS: dict[str, FloorPlan] = {plan.name: plan for plan in (_long(), _cloud(), _frogeyes(), _pyramid())}


def padded_walls(names: tuple[str, ...] | list[str]) -> np.ndarray:
    """The walls of the named plans stacked to ``(len(names), S_max, 4)``.

    Shorter plans are padded with zero-length segments far away, which no ray hits and no drone comes near.
    """
    size = max(len(PLANS[name].walls) for name in names)
    stacked = np.full((len(names), size, 4), 1e6, dtype=np.float64)
    for k, name in enumerate(names):
        walls = PLANS[name].walls
        stacked[k, : len(walls)] = walls
    return stacked
