"""Vectorized geometry of the drone family: ray casting, depth images, collisions and the depth-window reward.

Every function takes a leading batch axis ``N`` (one entry per drone), so the single environment and the batched
vector environment run the same code. Walls are vertical: 2-D segments ``(x0, y0, x1, y1)`` from floor to
ceiling. NumPy's broadcasting over (drones x rays x walls) replaces a per-ray loop; no ray-casting library is
needed for a few dozen segments.
"""

from __future__ import annotations

import numpy as np


def cross(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """The 2-D cross product ``a_x b_y - a_y b_x`` (element-wise)."""
    return ax * by - ay * bx


def horizontal_ranges(origins: np.ndarray, angles: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Distance along each horizontal ray to the first wall it hits (``inf`` if none).

    Args:
        origins: ``(N, 2)`` ray origins ``(x, y)``.
        angles: ``(N, R)`` ray directions [rad], counter-clockwise from the x axis.
        walls: ``(N, S, 4)`` wall segments per drone.

    Returns:
        ``(N, R)`` distances. A ray ``p + t d`` meets a segment ``a + u e`` where
        ``t = cross(a - p, e) / cross(d, e)`` and ``u = cross(a - p, d) / cross(d, e)``, with ``t > 0`` and
        ``0 <= u <= 1``; parallel segments (``cross(d, e) = 0``) are never hit.
    """
    dx, dy = np.cos(angles)[:, :, None], np.sin(angles)[:, :, None]              # (N, R, 1)
    ax, ay = walls[:, None, :, 0], walls[:, None, :, 1]                           # (N, 1, S)
    ex, ey = walls[:, None, :, 2] - ax, walls[:, None, :, 3] - ay
    px, py = ax - origins[:, None, None, 0], ay - origins[:, None, None, 1]         # a - p
    denominator = cross(dx, dy, ex, ey)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = cross(px, py, ex, ey) / denominator
        u = cross(px, py, dx, dy) / denominator
    hit = (denominator != 0) & (t > 0) & (u >= 0) & (u <= 1)
    return np.where(hit, t, np.inf).min(axis=2)


#: Surface codes of `surfaces`.
WALL, FLOOR, CEILING = 0, 1, 2


def depth_image(ranges: np.ndarray, z: np.ndarray, elevations: np.ndarray, ceiling: float | np.ndarray) -> np.ndarray:
    """Range [m] along each pixel's 3-D ray to the first surface: a wall, the floor or the ceiling.

    The first output of `surfaces`.

    Args:
        ranges: ``(N, W)`` horizontal distance to the wall in each image column.
        z: ``(N,)`` camera heights above the floor.
        elevations: ``(H,)`` elevation of each image row [rad], positive upwards (row 0 at the top).
        ceiling: ceiling height [m], one for all or ``(N,)``.

    Returns:
        ``(N, H, W)``: a wall at horizontal distance ``r`` is ``r / cos(phi)`` away along a ray of elevation
        ``phi``; the floor ``z / sin(-phi)`` (``phi < 0``) and the ceiling ``(ceiling - z) / sin(phi)`` (``phi > 0``).
    """
    return surfaces(ranges, z, elevations, ceiling)[0]


def surfaces(ranges: np.ndarray, z: np.ndarray, elevations: np.ndarray,
             ceiling: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`depth_image` and, per pixel, which surface the ray meets first (``WALL``, ``FLOOR`` or ``CEILING``)."""
    cos_phi, sin_phi = np.cos(elevations), np.sin(elevations)
    wall = ranges[:, None, :] / cos_phi[None, :, None]
    with np.errstate(divide="ignore"):
        up = np.where(sin_phi > 0, (ceiling - z)[:, None] / sin_phi, np.inf)
        down = np.where(sin_phi < 0, z[:, None] / -sin_phi, np.inf)
    planes = np.minimum(up, down)[:, :, None]                                        # (N, H, 1)
    plane_kind = np.where(sin_phi > 0, CEILING, FLOOR)[None, :, None]
    return np.minimum(wall, planes), np.where(wall <= planes, WALL, plane_kind)


def shade(ranges: np.ndarray, kinds: np.ndarray, albedo: np.ndarray, light_range: np.ndarray) -> np.ndarray:
    """A grey-level camera image in [0, 1]: ``albedo[surface] * exp(-range / light_range)`` per pixel.

    Args:
        ranges: the first output of `surfaces`, ``(N, H, W)``.
        kinds: the second output of `surfaces`, ``(N, H, W)``.
        albedo: ``(N, 3)`` brightness of wall, floor and ceiling in each drone's environment.
        light_range: ``(N,)`` distance [m] over which the lighting falls to ``1/e``.
    """
    brightness = np.take_along_axis(albedo[:, None, :], kinds.reshape(len(kinds), 1, -1), axis=2).reshape(kinds.shape)
    return brightness * np.exp(-ranges / light_range[:, None, None])


def wall_clearance(points: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """``(N,)`` distance from each point ``(N, 2)`` to its nearest wall segment of ``walls`` ``(N, S, 4)``."""
    ax, ay = walls[:, :, 0], walls[:, :, 1]
    ex, ey = walls[:, :, 2] - ax, walls[:, :, 3] - ay
    qx, qy = points[:, 0:1] - ax, points[:, 1:2] - ay
    length2 = ex * ex + ey * ey
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.clip((qx * ex + qy * ey) / length2, 0.0, 1.0)
    s = np.where(length2 > 0, s, 0.0)
    return np.sqrt((qx - s * ex) ** 2 + (qy - s * ey) ** 2).min(axis=1)


def window_value(depth: np.ndarray, window_scale: float, max_depth: float, fraction: float = 0.05) -> np.ndarray:
    """The centre value of PEDRA's dynamic depth window ("NavREn-RL", Anwar & Raychowdhury 2018).

    For each normalized depth image (``depth`` ``(N, H, W)`` in [0, 1], ``1 = max_depth``): ``n = max(mean depth
    [m] / window_scale, 1)``; the centre window has size ``(H / n) x (W / n)`` and top-left corner
    ``(floor(0.9 H (n - 1) / (2 n)), floor(W (n - 1) / (2 n)))``, so it shrinks towards the image centre the
    more open the view is. Its value is the mean of its smallest ``fraction`` of pixels (at least one).

    Returns:
        ``(N,)`` window values in [0, 1].
    """
    count, height, width = depth.shape
    n = np.maximum(depth.reshape(count, -1).mean(axis=1) * max_depth / window_scale, 1.0)
    values = np.empty(count)
    for k in range(count):  # window sizes differ per image; N is small, so a loop costs little here
        rows, cols = max(int(height / n[k]), 1), max(int(width / n[k]), 1)
        top = int(np.floor(0.9 * height * (n[k] - 1) / (2 * n[k])))
        left = int(np.floor(width * (n[k] - 1) / (2 * n[k])))
        window = depth[k, top:top + rows, left:left + cols].ravel()
        smallest = max(int(fraction * window.size), 1)
        values[k] = np.partition(window, smallest - 1)[:smallest].mean()
    return values
