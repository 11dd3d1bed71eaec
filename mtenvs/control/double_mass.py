"""Double-mass task family: two masses chained by springs and dampers, driven by a force on the first.

Reads top to bottom: parameters, dynamics, the environments (reward and stepping are those of every linear
family, in `mtenvs.control.linear_env`), rendering.
"""

from __future__ import annotations

import numpy as np

from mtenvs.control.linear_env import LinearFamily, LinearSystemEnv, LinearSystemVectorEnv, lqr_reference
from mtenvs.core.parameters import Continuous, ParameterSpace
from mtenvs.core.task import Task

# ------------------------------------------------------------------------------------------------ parameters
# Training regions: Table 1 of "Scalable Lifelong Reinforcement Learning"; defaults at their centres.
PARAMETERS = ParameterSpace([
    Continuous("mass_1", 4.0, bounds=(0.5, 15.0), train=(1.0, 7.0), units="kg", description="mass m1 (driven)"),
    Continuous("mass_2", 5.5, bounds=(0.5, 20.0), train=(1.0, 10.0), units="kg", description="mass m2"),
    Continuous("spring_1", 3.0, bounds=(0.1, 10.0), train=(1.0, 5.0), units="N/m",
               description="spring k1 between the wall and m1"),
    Continuous("spring_2", 4.0, bounds=(0.1, 15.0), train=(1.0, 7.0), units="N/m", description="spring k2 between m1 and m2"),
    Continuous("damping_1", 0.05, bounds=(0.0, 1.0), train=(0.01, 0.1), units="N s/m",
               description="damper d1 between the wall and m1"),
    Continuous("damping_2", 0.05, bounds=(0.0, 1.0), train=(0.01, 0.1), units="N s/m",
               description="damper d2 between m1 and m2"),
])


# ------------------------------------------------------------------------------------------------ dynamics
def continuous_model(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Wall-(k1, d1)-m1-(k2, d2)-m2 with the force ``u`` on m1; state ``(x1, x1', x2, x2')``.

    ``m1 x1'' = -k1 x1 - d1 x1' + k2 (x2 - x1) + d2 (x2' - x1') + u`` and
    ``m2 x2'' = -k2 (x2 - x1) - d2 (x2' - x1')``.
    """
    m1, m2, k1, k2, d1, d2 = (task[k] for k in ("mass_1", "mass_2", "spring_1", "spring_2", "damping_1", "damping_2"))
    a = np.array([
        [0.0, 1.0, 0.0, 0.0],
        [-(k1 + k2) / m1, -(d1 + d2) / m1, k2 / m1, d2 / m1],
        [0.0, 0.0, 0.0, 1.0],
        [k2 / m2, d2 / m2, -k2 / m2, -d2 / m2],
    ])
    b = np.array([[0.0], [1.0 / m1], [0.0], [0.0]])
    return a, b


FAMILY = LinearFamily(
    "DoubleMass",
    PARAMETERS,
    continuous_model=continuous_model,
    state_names=("position_1", "velocity_1", "position_2", "velocity_2"),
    input_names=("force",),
    config_defaults={"action_scale": 10.0, "initial_state_bounds": 1.0},
    description="Two masses chained by springs and dampers, a force on the first (paper 002's DM domain).",
)
FAMILY.reference_policies["lqr"] = lqr_reference(FAMILY)


# ------------------------------------------------------------------------------------------------ environments
class DoubleMassEnv(LinearSystemEnv):
    """Two masses chained to a wall by springs and dampers; push the first to bring both to rest at the origin.

    ## Description
    Wall-(k1, d1)-m1-(k2, d2)-m2 with a force on m1; masses, springs and dampers vary between tasks (Table 1 of
    paper 002). Discretized exactly (zero-order hold) with step ``dt``; ``FAMILY.discrete_system(task)`` returns
    ``(A_d, B_d)`` for the environment's actions.

    ## Observation Space
    ``Box(-inf, inf, (4,))`` float32: ``x1`` [m], ``x1'`` [m/s], ``x2`` [m], ``x2'`` [m/s].

    ## Action Space
    ``Box(-1, 1, (1,))``: the force on m1 as a fraction of ``action_scale`` (10 N); clipped unless
    ``clip_actions=False``.

    ## Reward
    ``reward="quadratic"`` (default): ``-(x' Q x + u' R u)`` (``Q = R = I`` by default, ``u`` in newtons) at the
    state in which the force is applied; ``reward="norm"``: paper 002's literal ``-||x|| - ||u||``. The quadratic
    reward has an exact optimum, ``FAMILY.optimal_value(task)`` (finite-horizon LQR).

    ## Starting State
    Uniform in ``[-1, 1]^4`` (``initial_state_bounds``); ``reset(options={"state": s})`` starts from ``s``.

    ## Episode End
    No termination; truncation after 150 steps (7.5 s) for ``mtenvs/DoubleMass-v0``.

    ## Rendering
    ``render_mode="rgb_array"``: both masses (sizes from ``m1``, ``m2``) with their springs (coils and colours from
    ``k1``, ``k2``) and dampers (line widths from ``d1``, ``d2``), the last force on m1 as a red arrow and the
    velocities as blue ones.

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
        """The frame of ``state`` after the force ``inputs[0]`` (newtons); see `draw_double_mass`."""
        return draw_double_mass(self.task, state, float(inputs[0]), self.config.action_scale[0])


class DoubleMassVectorEnv(LinearSystemVectorEnv):
    """``num_envs`` double masses, each on its own task, stepped together (see `DoubleMassEnv`)."""

    family = FAMILY


# ------------------------------------------------------------------------------------------------ rendering
def draw_double_mass(task: Task, state: np.ndarray, force: float, action_scale: float) -> np.ndarray:
    """Wall, m1 and m2 with their springs and dampers (600×200 RGB): block sizes from the masses, spring coils and
    colours from the spring constants, damper widths from the dampings; the force on m1 as a red arrow, the
    velocities as blue ones, the rest positions dashed."""
    from mtenvs.rendering import BLUE, GREY, RED, Canvas, draw_mass_chain, squash

    canvas = Canvas(600, 200)
    floor, rests, scale = 150.0, (220.0, 430.0), 60.0  # pixels: floor line, rest positions; pixels per metre
    positions, velocities = (float(state[0]), float(state[2])), (float(state[1]), float(state[3]))
    centres = [rest + 95.0 * squash(x * scale, 95.0) for rest, x in zip(rests, positions, strict=True)]
    for rest in rests:
        for y in range(34, int(floor), 12):
            canvas.draw.line([(rest, y), (rest, y + 6)], fill=GREY)
    boxes = draw_mass_chain(canvas, centres, [task["mass_1"], task["mass_2"]], [task["spring_1"], task["spring_2"]],
                            [task["damping_1"], task["damping_2"]], PARAMETERS["spring_2"].bounds, floor)
    for (_, top, _, _), centre, v in zip(boxes, centres, velocities, strict=True):
        canvas.arrow((centre, top - 8), (centre + 50.0 * squash(v, 1.0), top - 8), fill=BLUE, width=2)
    left, top, right, bottom = boxes[0]
    start = ((left + right) / 2, (top + bottom) / 2)  # the force acts on m1
    canvas.arrow(start, (start[0] + 80.0 * squash(force, action_scale), start[1]), fill=RED)
    canvas.text((10, 8), f"m1 = {task['mass_1']:.2f} kg  k1 = {task['spring_1']:.2f} N/m  d1 = {task['damping_1']:.3f} N s/m")
    canvas.text((10, 24), f"m2 = {task['mass_2']:.2f} kg  k2 = {task['spring_2']:.2f} N/m  d2 = {task['damping_2']:.3f} N s/m")
    canvas.text((10, 172), f"x1 = {positions[0]:+.2f} m   x2 = {positions[1]:+.2f} m   force on m1 = {force:+.2f} N",
                fill=(60, 60, 60))
    return canvas.frame()
