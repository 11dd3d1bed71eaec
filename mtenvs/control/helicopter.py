"""Helicopter task family: stabilize a linearized CH-47 tandem-rotor helicopter in forward flight at 40 knots.

Reads top to bottom: nominal model, parameters (the entries of ``A`` and ``B``), task sets, dynamics, the
environments (reward and stepping are those of every linear family, in `mtenvs.control.linear_env`),
rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mtenvs.control.linear_env import LinearFamily, LinearSystemEnv, LinearSystemVectorEnv, lqr_reference
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, ParameterSpace
from mtenvs.core.seeding import stable_seed
from mtenvs.core.task import Task

# ------------------------------------------------------------------------------------------------ nominal model
# The CH-47 at 40 knots as widely quoted after Narendra & Tripathi (1973); paper 002 does not print it. State
# (horizontal velocity, vertical velocity, pitch rate, pitch angle); inputs (collective, differential collective).
# Its extreme entries (-32, 2.4; -8.6, 0.36) sit just inside Table 1's entry ranges [-32, 3] and [-9, 1].
NOMINAL_A = np.array([
    [-0.02, 0.005, 2.4, -32.0],
    [-0.14, 0.44, -1.3, -30.0],
    [0.0, 0.018, -1.6, 1.2],
    [0.0, 0.0, 1.0, 0.0],
])
NOMINAL_B = np.array([
    [0.14, -0.12],
    [0.36, -8.6],
    [0.35, 0.009],
    [0.0, 0.0],
])
#: Table 1 of paper 002: the ranges of the entries of A and of B.
A_RANGE = (-32.0, 3.0)
B_RANGE = (-9.0, 1.0)
#: Relative perturbation of each non-structural nominal entry in the training region.
PERTURBATION = 0.25


# ------------------------------------------------------------------------------------------------ parameters
def _entry(prefix: str, i: int, j: int, nominal: float, bounds: tuple[float, float]) -> Continuous:
    """Parameter ``A{i}{j}``/``B{i}{j}``: trained within ±25% of a non-zero nominal entry (inside ``bounds``).

    Structural entries (zeros, and the kinematic row ``theta' = q``) stay at their nominal value in training.
    The ±25% interval is intersected with ``bounds`` (a uniform draw on the intersection; clipping would put
    an atom at the bound).
    """
    structural = nominal == 0.0 or (prefix == "A" and i == 4)
    train = None
    if not structural:
        low, high = sorted((nominal * (1 - PERTURBATION), nominal * (1 + PERTURBATION)))
        train = (max(low, bounds[0]), min(high, bounds[1]))
    return Continuous(f"{prefix}{i}{j}", float(nominal), bounds=bounds, train=train,
                      description=f"entry ({i}, {j}) of the continuous-time {prefix} matrix")


PARAMETERS = ParameterSpace(
    [_entry("A", i + 1, j + 1, NOMINAL_A[i, j], A_RANGE) for i in range(4) for j in range(4)]
    + [_entry("B", i + 1, j + 1, NOMINAL_B[i, j], B_RANGE) for i in range(4) for j in range(2)]
)


# ------------------------------------------------------------------------------------------------ task sets
def literal_tasks(n: int, seed: int | None) -> list[Task]:
    """``n`` tasks of Table 1's literal reading: every entry of A i.i.d. uniform in [-32, 3], of B in [-9, 1].

    Most such systems are strongly unstable (about 90% have an eigenvalue with positive real part, typically
    near 11 s^-1), so this is an option for reproduction studies, not the default.
    """
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(int(n)):
        params = {name: float(rng.uniform(*p.bounds)) for name, p in PARAMETERS.items()}  # type: ignore[attr-defined]
        tasks.append(Task("Helicopter", params))
    return tasks


def _literal_set(family: TaskFamily) -> list[Task]:
    return literal_tasks(family.set_sizes["train"], stable_seed("task-set", family.name, "literal"))


# ------------------------------------------------------------------------------------------------ dynamics
def matrices(params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The continuous-time ``(A, B)`` of a task, read from its entries ``A11..A44`` and ``B11..B42``."""
    a = np.array([[params[f"A{i}{j}"] for j in range(1, 5)] for i in range(1, 5)], dtype=np.float64)
    b = np.array([[params[f"B{i}{j}"] for j in range(1, 3)] for i in range(1, 5)], dtype=np.float64)
    return a, b


def continuous_model(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """``x' = A x + B u`` with the task's own matrices."""
    return matrices(task.params)


FAMILY = LinearFamily(
    "Helicopter",
    PARAMETERS,
    continuous_model=continuous_model,
    state_names=("horizontal_velocity", "vertical_velocity", "pitch_rate", "pitch_angle"),
    input_names=("collective", "differential_collective"),
    config_defaults={"action_scale": 100.0, "initial_state_bounds": 1.0},
    description=("Linearized CH-47 tandem-rotor helicopter at 40 knots (paper 002's HC domain): tasks perturb the "
                 "nominal matrices by up to 25% per entry; the task set 'literal' draws every entry i.i.d."),
    task_sets={"literal": _literal_set},
)
FAMILY.reference_policies["lqr"] = lqr_reference(FAMILY)


# ------------------------------------------------------------------------------------------------ environments
class HelicopterEnv(LinearSystemEnv):
    """Stabilize a linearized CH-47 tandem-rotor helicopter with collective and differential collective thrust.

    ## Description
    ``x' = A x + B u``, the CH-47 linearized about level flight at 40 knots. Each task is one pair of matrices:
    by default the nominal model with every non-structural entry perturbed by up to ±25% (within Table 1's
    ranges [-32, 3] for A and [-9, 1] for B), so every training task is open-loop unstable and controllable.
    The task set ``"literal"`` (``tasks="literal"``, or `literal_tasks`) instead draws every entry
    i.i.d. over Table 1's ranges. Discretized exactly (zero-order hold) with step ``dt``.

    ## Observation Space
    ``Box(-inf, inf, (4,))`` float32: horizontal velocity, vertical velocity, pitch rate, pitch angle
    (deviations from trim).

    ## Action Space
    ``Box(-1, 1, (2,))``: collective and differential collective as fractions of ``action_scale`` (100, so that
    the LQR input of every training task from any start state stays inside the box); clipped unless
    ``clip_actions=False``.

    ## Reward
    ``reward="quadratic"`` (default): ``-(x' Q x + u' R u)`` (``Q = R = I`` by default) at the state in which the
    input is applied; ``reward="norm"``: paper 002's literal ``-||x|| - ||u||``. The quadratic reward has an exact
    optimum, ``FAMILY.optimal_value(task)`` (finite-horizon LQR).

    ## Starting State
    Uniform in ``[-1, 1]^4`` (``initial_state_bounds``); ``reset(options={"state": s})`` starts from ``s``.

    ## Episode End
    No termination; truncation after 150 steps (7.5 s) for ``mtenvs/Helicopter-v0``.

    ## Rendering
    ``render_mode="rgb_array"``: a side view of the helicopter pitched by its pitch angle, with the velocities,
    the pitch rate and the last rotor thrusts as arrows, beside a bar chart of how far the task's ``A`` and ``B``
    entries are from the nominal model (see `draw_helicopter`).

    ## Arguments
    ``task``/``tasks``, ``dt`` (0.05 s), ``reward``, ``state_cost``, ``input_cost``, ``action_scale``,
    ``clip_actions``, ``initial_state_bounds`` (see `mtenvs.control.control_config.ControlConfig`),
    ``render_mode`` (``"rgb_array"`` or ``None``).

    ## Version History
    * v0: initial release.
    * v0: ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def draw(self, state: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """The frame of ``state`` after the physical ``inputs``; see `draw_helicopter`."""
        return draw_helicopter(self.task, state, inputs, self.config.action_scale[0])


class HelicopterVectorEnv(LinearSystemVectorEnv):
    """``num_envs`` helicopters, each on its own task, stepped together (see `HelicopterEnv`)."""

    family = FAMILY


# ------------------------------------------------------------------------------------------------ rendering
# The side view in body coordinates (pixels; x forward, y up): fuselage outline, rotor masts (base, top) and the
# half-span of the rotor discs. A schematic of the CH-47's shape, not to scale.
_FUSELAGE = [(-125.0, 8.0), (-118.0, -16.0), (100.0, -16.0), (126.0, -2.0), (116.0, 16.0), (-100.0, 22.0)]
_MASTS = {"fore": (95.0, 16.0, 34.0), "aft": (-100.0, 22.0, 54.0)}
_ROTOR = 78.0


def perturbation(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """How far each entry of ``A`` and ``B`` is from the nominal CH-47: ``(task - nominal) / |nominal|`` (for zero
    nominal entries, the deviation divided by half the width of Table 1's range)."""
    out = []
    for (matrix, nominal, bounds) in zip(matrices(task.params), (NOMINAL_A, NOMINAL_B), (A_RANGE, B_RANGE), strict=True):
        scale = np.where(nominal != 0.0, np.abs(nominal), (bounds[1] - bounds[0]) / 2)
        out.append((matrix - nominal) / scale)
    return out[0], out[1]


def draw_helicopter(task: Task, state: np.ndarray, inputs: np.ndarray, action_scale: float) -> np.ndarray:
    """The helicopter from the side and the task's perturbation (600×400 RGB).

    Left: the fuselage pitched by the pitch angle (nose right, level flight dashed), the horizontal and vertical
    velocity as blue arrows (vertical positive downwards, as in body axes), the pitch rate as a green arc, and the
    rotor thrusts ``collective ± differential collective`` of the last step as red arrows at the fore and aft rotors.
    Right: one bar per entry of ``A`` and ``B`` with its relative deviation from the nominal model
    (`perturbation`; the grey lines mark the ±25% training region, a black cap a clipped bar).
    """
    from mtenvs.rendering import BLUE, GREY, LIGHT_GREY, RED, Canvas, bars, squash

    canvas = Canvas(600, 400)
    u, w, q, theta = (float(v) if np.isfinite(v) else 0.0 for v in state)
    cx, cy = 190.0, 200.0
    cos, sin = np.cos(theta), np.sin(theta)

    def screen(bx: float, by: float) -> tuple[float, float]:  # nose-up pitch turns the body counter-clockwise
        return cx + bx * cos - by * sin, cy - (bx * sin + by * cos)

    for x in range(10, 380, 16):
        canvas.draw.line([(x, cy), (x + 8, cy)], fill=LIGHT_GREY)
    canvas.draw.polygon([screen(*p) for p in _FUSELAGE], fill=(95, 110, 80), outline=(40, 40, 40))
    thrusts = {"fore": inputs[0] + inputs[1], "aft": inputs[0] - inputs[1]}
    for name, (bx, base, top) in _MASTS.items():
        canvas.draw.line([screen(bx, base), screen(bx, top)], fill=(40, 40, 40), width=4)
        canvas.draw.line([screen(bx - _ROTOR, top), screen(bx + _ROTOR, top)], fill=GREY, width=3)
        canvas.arrow(screen(bx, top), screen(bx, top + 70.0 * squash(float(thrusts[name]), action_scale)), fill=RED)
    canvas.arrow((cx, cy), (cx + 110.0 * squash(u, 5.0), cy), fill=BLUE)
    canvas.arrow((cx, cy), (cx, cy + 110.0 * squash(w, 5.0)), fill=BLUE)
    sweep = 90.0 * squash(q, 1.0)
    nose = -np.degrees(theta)
    if abs(sweep) >= 1.0:
        canvas.draw.arc([cx - 150, cy - 150, cx + 150, cy + 150], nose - max(sweep, 0.0), nose - min(sweep, 0.0),
                        fill=(40, 150, 60), width=3)
    canvas.text((10, 10), "CH-47 at 40 kn: state and last input")
    canvas.text((10, 350), f"u = {u:+.2f}   w = {w:+.2f}   q = {q:+.2f}   pitch = {theta:+.2f} rad", fill=(60, 60, 60))
    canvas.text((10, 370), f"collective = {inputs[0]:+.1f}   differential = {inputs[1]:+.1f}", fill=(60, 60, 60))

    a, b = perturbation(task)
    limit = 2 * PERTURBATION
    fills = [(200, 70, 60), (60, 100, 200)]
    for values, box, title in ((a.ravel(), (400.0, 50.0, 590.0, 200.0), "A: (task - nominal) / |nominal|"),
                               (b.ravel(), (400.0, 250.0, 590.0, 340.0), "B")):
        bars(canvas, box, list(values), (-limit, limit), [fills[int(v < 0)] for v in values], title=title)
        left, top, right, bottom = box
        for edge in (-PERTURBATION, PERTURBATION):
            y = bottom - (edge + limit) / (2 * limit) * (bottom - top)
            canvas.draw.line([(left, y), (right, y)], fill=GREY)
        per_row = 4 if len(values) == 16 else 2
        for k in range(per_row, len(values), per_row):
            x = left + (right - left) * k / len(values)
            canvas.draw.line([(x, top), (x, bottom)], fill=LIGHT_GREY)
    canvas.text((400, 350), "rows 1-4 (u, w, q, pitch), +-50% shown", size=11, fill=(60, 60, 60))
    return canvas.frame()
