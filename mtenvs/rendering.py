"""Drawing helpers shared by the families' ``render_mode="rgb_array"`` frames (Pillow, plus Matplotlib's colour maps).

A family draws its frame at the end of its own module with these pieces: a `Canvas` (a Pillow image with
text in a scalable font), arrows that saturate for large values, mechanical parts (cart, link, spring, damper,
wall) and small charts (bars, lines, colour scales). Frames are plain functions of the state and the task, so
they are deterministic; `require_reset` gives the error Gymnasium's ``OrderEnforcing`` wrapper raises when
a frame is requested before the first reset.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]  # left, top, right, bottom (pixels)

BLACK: Colour = (0, 0, 0)
GREY: Colour = (150, 150, 150)
LIGHT_GREY: Colour = (225, 225, 225)
WHITE: Colour = (255, 255, 255)
RED: Colour = (210, 50, 40)
BLUE: Colour = (40, 90, 200)
#: CartPole's pole and joint colours (Gymnasium's), reused by every jointed body.
POLE: Colour = (202, 152, 101)
JOINT: Colour = (129, 132, 203)


def require_reset(ready: bool, owner: str) -> None:
    """Raise Gymnasium's ``ResetNeeded`` unless ``ready``: there is no state to draw before the first reset."""
    if not ready:
        raise ResetNeeded(f"{owner}: call reset() before render()")


# ------------------------------------------------------------------------------------------------ colours
@functools.lru_cache(maxsize=16)
def _colormap(name: str) -> Any:
    from matplotlib import colormaps

    return colormaps[name]


def colours(values: Any, low: float, high: float, name: str = "viridis") -> list[Colour]:
    """RGB colours of ``values`` on the Matplotlib colour map ``name`` over ``[low, high]`` (clipped)."""
    span = high - low if high > low else 1.0
    scaled = np.clip((np.asarray(values, dtype=np.float64) - low) / span, 0.0, 1.0)
    rgba = _colormap(name)(np.atleast_1d(scaled), bytes=True)
    return [tuple(int(c) for c in row[:3]) for row in rgba]  # type: ignore[misc]


def palette(count: int) -> list[Colour]:
    """``count`` distinct categorical colours (Matplotlib's ``tab10``, then ``tab20``)."""
    cmap = _colormap("tab10" if count <= 10 else "tab20")
    return [tuple(int(c) for c in cmap(i % cmap.N, bytes=True)[:3]) for i in range(count)]  # type: ignore[misc]


def squash(value: float, scale: float) -> float:
    """``tanh(value / scale)``: maps any magnitude into (-1, 1), linear for small values (arrow lengths)."""
    return 0.0 if math.isnan(value) else math.tanh(value / scale)


# ------------------------------------------------------------------------------------------------ canvas
@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in scalable font at ``size`` pixels."""
    return ImageFont.load_default(size)


class Canvas:
    """A white RGB Pillow image with its ``ImageDraw``; `frame` returns the uint8 ``(height, width, 3)`` array."""

    def __init__(self, width: int, height: int, background: Colour = WHITE) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), background)
        self.draw = ImageDraw.Draw(self.image)

    def text(self, xy: Point, string: str, size: int = 13, fill: Colour = BLACK, anchor: str = "la") -> None:
        """Write ``string`` at ``xy`` (Pillow anchor, default left-ascender)."""
        self.draw.text(xy, string, fill=fill, font=font(size), anchor=anchor)

    def arrow(self, start: Point, end: Point, fill: Colour = RED, width: int = 3, head: float = 9.0) -> None:
        """A straight arrow from ``start`` to ``end``; nothing when shorter than a pixel."""
        dx, dy = end[0] - start[0], end[1] - start[1]
        length = math.hypot(dx, dy)
        if length < 1.0:
            return
        ux, uy = dx / length, dy / length
        head = min(head, length)
        base = (end[0] - ux * head, end[1] - uy * head)
        self.draw.line([start, base], fill=fill, width=width)
        side = head * 0.55
        self.draw.polygon([end, (base[0] - uy * side, base[1] + ux * side), (base[0] + uy * side, base[1] - ux * side)],
                          fill=fill)

    def frame(self) -> np.ndarray:
        """The image as a fresh uint8 array of shape ``(height, width, 3)``."""
        return np.asarray(self.image, dtype=np.uint8).copy()


# ------------------------------------------------------------------------------------------------ mechanics
def draw_cart(canvas: Canvas, centre: Point, width: float = 50.0, height: float = 30.0, fill: Colour = BLACK) -> Point:
    """A cart (filled rectangle) centred on ``centre``; returns the pivot a pole is hinged on (a quarter up)."""
    x, y = centre
    canvas.draw.rectangle([x - width / 2, y - height / 2, x + width / 2, y + height / 2], fill=fill)
    return x, y - height / 4


def draw_link(canvas: Canvas, pivot: Point, angle: float, length: float, half_width: float = 5.0,
              fill: Colour = POLE) -> Point:
    """A pole of ``length`` pixels from ``pivot`` at ``angle`` radians from the upward vertical (clockwise on screen).

    Returns the tip. The joint at the pivot is drawn as a disc.
    """
    direction = (math.sin(angle), -math.cos(angle))
    normal = (-direction[1] * half_width, direction[0] * half_width)
    tip = (pivot[0] + direction[0] * length, pivot[1] + direction[1] * length)
    canvas.draw.polygon([(pivot[0] + normal[0], pivot[1] + normal[1]), (tip[0] + normal[0], tip[1] + normal[1]),
                         (tip[0] - normal[0], tip[1] - normal[1]), (pivot[0] - normal[0], pivot[1] - normal[1])], fill=fill)
    disc(canvas, pivot, half_width, JOINT)
    return tip


def disc(canvas: Canvas, centre: Point, radius: float, fill: Colour, outline: Colour | None = None, width: int = 1) -> None:
    """A filled circle."""
    x, y = centre
    canvas.draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill, outline=outline, width=width)


def draw_spring(canvas: Canvas, start: Point, end: Point, coils: int = 8, amplitude: float = 8.0,
                fill: Colour = BLACK, width: int = 2) -> None:
    """A horizontal zig-zag spring from ``start`` to ``end`` (straight leads of 8 px at both ends)."""
    (x0, y), (x1, _) = start, end
    lead = min(8.0, abs(x1 - x0) / 4)
    sign = 1.0 if x1 >= x0 else -1.0
    a, b = x0 + sign * lead, x1 - sign * lead
    points = [(x0, y), (a, y)]
    for k in range(1, 2 * coils):
        points.append((a + (b - a) * k / (2 * coils), y + (amplitude if k % 2 else -amplitude)))
    points += [(b, y), (x1, y)]
    canvas.draw.line(points, fill=fill, width=width, joint="curve")


def draw_damper(canvas: Canvas, start: Point, end: Point, gap: float = 7.0, fill: Colour = (90, 90, 90),
                width: int = 2) -> None:
    """A horizontal dashpot from ``start`` to ``end``: a cylinder open towards ``end`` and a piston inside it."""
    (x0, y), (x1, _) = start, end
    middle = (x0 + x1) / 2
    cylinder = middle + (x1 - x0) * 0.1
    canvas.draw.line([(x0, y), (middle - (x1 - x0) * 0.15, y)], fill=fill, width=width)
    left = middle - (x1 - x0) * 0.15
    canvas.draw.line([(left, y - gap), (left, y + gap)], fill=fill, width=width)
    canvas.draw.line([(left, y - gap), (cylinder + (x1 - x0) * 0.1, y - gap)], fill=fill, width=width)
    canvas.draw.line([(left, y + gap), (cylinder + (x1 - x0) * 0.1, y + gap)], fill=fill, width=width)
    canvas.draw.line([(cylinder, y - gap + 3), (cylinder, y + gap - 3)], fill=fill, width=width + 1)
    canvas.draw.line([(cylinder, y), (x1, y)], fill=fill, width=width)


def draw_wall(canvas: Canvas, x: float, top: float, bottom: float, fill: Colour = (90, 90, 90)) -> None:
    """A vertical wall at ``x`` hatched on its left side."""
    canvas.draw.line([(x, top), (x, bottom)], fill=fill, width=3)
    for y in np.arange(top, bottom, 10.0):
        canvas.draw.line([(x, y + 8), (x - 8, y + 16)], fill=fill, width=1)


def draw_mass_chain(canvas: Canvas, centres: Sequence[float], masses: Sequence[float], springs: Sequence[float],
                    dampings: Sequence[float], spring_range: tuple[float, float], floor: float,
                    wall: float = 30.0) -> list[Box]:
    """Blocks on a floor chained to a wall at ``wall`` by springs and dampers in parallel; returns the blocks' boxes.

    Block ``i`` is centred at ``centres[i]`` (pixels) with a side growing as the cube root of ``masses[i]`` (kg);
    link ``i`` joins block ``i`` to the block before it (or the wall). A spring's colour and number of coils grow
    with its constant within ``spring_range``; a damper's line width with its constant.
    """
    draw_wall(canvas, wall, floor - 70, floor)
    canvas.draw.line([(wall, floor), (canvas.width, floor)], fill=GREY, width=2)
    spring_y, damper_y = floor - 44, floor - 16
    low, high = spring_range
    boxes: list[Box] = []
    left_end = wall
    for centre, mass, spring, damping in zip(centres, masses, springs, dampings, strict=True):
        side = 28.0 * max(mass, 1e-3) ** (1 / 3)
        box = (centre - side / 2, floor - side, centre + side / 2, floor)
        connector = box[0] - 6
        fraction = (spring - low) / (high - low) if high > low else 0.5
        draw_spring(canvas, (left_end, spring_y), (connector, spring_y), coils=4 + round(10 * min(max(fraction, 0), 1)),
                    fill=colours([spring], low, high, "plasma")[0], width=2)
        draw_damper(canvas, (left_end, damper_y), (connector, damper_y), width=1 + round(4 * min(damping, 1.0)))
        middle = floor - side / 2
        canvas.draw.line([(connector, spring_y - 6), (connector, max(damper_y + 6, middle))], fill=(90, 90, 90), width=3)
        canvas.draw.line([(connector, middle), (box[0], middle)], fill=(90, 90, 90), width=3)
        canvas.draw.rectangle(box, fill=(70, 110, 170), outline=BLACK)
        boxes.append(box)
        left_end = box[2]
    return boxes


# ------------------------------------------------------------------------------------------------ charts
def bars(canvas: Canvas, box: Box, values: Sequence[float], limits: tuple[float, float], fills: Sequence[Colour],
         labels: Sequence[str] | None = None, title: str | None = None, label_size: int = 11) -> None:
    """A bar chart inside ``box`` with the value axis ``limits`` (bars start at 0, or at ``limits[0]`` if positive).

    Values outside the limits are clipped and marked with a black cap. ``labels`` go under the bars, ``title`` above.
    """
    left, top, right, bottom = box
    if title:
        canvas.text((left, top - 3), title, size=12, anchor="ld")
    low, high = limits
    span = high - low if high > low else 1.0

    def y_of(v: float) -> float:
        return bottom - (min(max(v, low), high) - low) / span * (bottom - top)

    base = y_of(0.0 if low <= 0.0 <= high else low)
    canvas.draw.rectangle([left, top, right, bottom], outline=LIGHT_GREY)
    canvas.draw.line([(left, base), (right, base)], fill=GREY)
    slot = (right - left) / max(len(values), 1)
    for i, value in enumerate(values):
        x0, x1 = left + slot * (i + 0.15), left + slot * (i + 0.85)
        y = y_of(value) if math.isfinite(value) else y_of(high if value > 0 else low)
        canvas.draw.rectangle([x0, min(y, base), x1, max(y, base)], fill=fills[i % len(fills)])
        if not low <= value <= high:
            canvas.draw.line([(x0, y), (x1, y)], fill=BLACK, width=3)
        if labels is not None:
            canvas.text(((x0 + x1) / 2, bottom + 3), labels[i], size=label_size, anchor="ma")


def lines(canvas: Canvas, box: Box, series: Sequence[np.ndarray], limits: tuple[float, float],
          fills: Sequence[Colour], title: str | None = None, width: int = 2) -> None:
    """Line plots of ``series`` (each over equally spaced x from the left to the right edge of ``box``)."""
    left, top, right, bottom = box
    if title:
        canvas.text((left, top - 3), title, size=12, anchor="ld")
    canvas.draw.rectangle([left, top, right, bottom], outline=LIGHT_GREY)
    low, high = limits
    span = high - low if high > low else 1.0
    for values, fill in zip(series, fills, strict=False):
        values = np.clip(np.asarray(values, dtype=np.float64), low, high)
        xs = np.linspace(left, right, len(values)) if len(values) > 1 else np.array([left])
        ys = bottom - (values - low) / span * (bottom - top)
        canvas.draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=fill, width=width)


def colour_scale(canvas: Canvas, box: Box, low: float, high: float, name: str = "viridis", label: str = "") -> None:
    """A horizontal colour bar for the colour map ``name`` over ``[low, high]``, with its end values and a label."""
    left, top, right, bottom = box
    steps = max(int(right - left), 2)
    for i, fill in enumerate(colours(np.linspace(low, high, steps), low, high, name)):
        canvas.draw.line([(left + i, top), (left + i, bottom)], fill=fill)
    canvas.text((left, bottom + 2), f"{low:.2g}", size=11)
    canvas.text((right, bottom + 2), f"{high:.2g}", size=11, anchor="ra")
    if label:
        canvas.text(((left + right) / 2, bottom + 2), label, size=11, anchor="ma")
