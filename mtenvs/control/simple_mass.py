"""Simple-mass task family: drive a mass on a spring and damper to rest at the origin.

Reads top to bottom: parameters, dynamics, the environments (reward and stepping are those of every linear
family, in `mtenvs.control.linear_env`), rendering.
"""

from __future__ import annotations

import numpy as np

from mtenvs.control.linear_env import LinearFamily, LinearSystemEnv, LinearSystemVectorEnv, lqr_reference
from mtenvs.core.parameters import Continuous, ParameterSpace
from mtenvs.core.task import Task

# ------------------------------------------------------------------------------------------------ parameters
# Training regions: Table 1 of "Scalable Lifelong Reinforcement Learning" (m in [3, 5] kg, k in [1, 7] N/m). The
# table gives no damping range although the text names the damper; [0.01, 0.1] N s/m mirrors the double mass.
PARAMETERS = ParameterSpace([
    Continuous("mass", 4.0, bounds=(0.5, 10.0), train=(3.0, 5.0), units="kg", description="mass m"),
    Continuous("spring", 4.0, bounds=(0.1, 15.0), train=(1.0, 7.0), units="N/m", description="spring constant k"),
    Continuous("damping", 0.05, bounds=(0.0, 1.0), train=(0.01, 0.1), units="N s/m", description="damping constant d"),
])


# ------------------------------------------------------------------------------------------------ dynamics
def continuous_model(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """``m x'' = -k x - d x' + u``: state ``(x, x')``, input the force ``u`` in newtons."""
    m, k, d = task["mass"], task["spring"], task["damping"]
    return np.array([[0.0, 1.0], [-k / m, -d / m]]), np.array([[0.0], [1.0 / m]])


FAMILY = LinearFamily(
    "SimpleMass",
    PARAMETERS,
    continuous_model=continuous_model,
    state_names=("position", "velocity"),
    input_names=("force",),
    config_defaults={"action_scale": 5.0, "initial_state_bounds": 1.0},
    description="A spring-mass-damper driven by a force to rest at the origin (paper 002's SM domain).",
)
FAMILY.reference_policies["lqr"] = lqr_reference(FAMILY)


# ------------------------------------------------------------------------------------------------ environments
class SimpleMassEnv(LinearSystemEnv):
    """A mass on a spring and a damper, pushed by a force; bring it to rest at the origin.

    ## Description
    ``m x'' = -k x - d x' + u`` with mass ``m``, spring constant ``k`` and damping ``d`` varying between tasks
    (Table 1 of paper 002). The system is discretized exactly (zero-order hold) with step ``dt``, so
    ``x_{t+1} = A_d x_t + B_d u_t`` holds to machine precision; ``FAMILY.discrete_system(task)`` returns
    ``(A_d, B_d)`` for the environment's actions.

    ## Observation Space
    ``Box(-inf, inf, (2,))`` float32: position [m] and velocity [m/s].

    ## Action Space
    ``Box(-1, 1, (1,))``: the force as a fraction of ``action_scale`` (5 N); clipped to [-1, 1] unless
    ``clip_actions=False``.

    ## Reward
    ``reward="quadratic"`` (default): ``-(x' Q x + u' R u)`` with ``Q = diag(state_cost)`` and
    ``R = diag(input_cost)`` (both identity by default, ``u`` in newtons), evaluated at the state in which the
    force is applied. ``reward="norm"``: paper 002's literal ``-||x|| - ||u||``. The quadratic reward has an exact
    optimum, ``FAMILY.optimal_value(task)`` (finite-horizon LQR).

    ## Starting State
    Uniform in ``[-1, 1]^2`` (``initial_state_bounds``); ``reset(options={"state": s})`` starts from ``s``.

    ## Episode End
    No termination; truncation after 150 steps (7.5 s) for ``mtenvs/SimpleMass-v0``.

    ## Rendering
    ``render_mode="rgb_array"``: the mass (its size from ``m``) on its spring (coils and colour from ``k``) and
    damper (line width from ``d``), the last force as a red arrow and the velocity as a blue one.

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
        """The frame of ``state`` after the force ``inputs[0]`` (newtons); see `draw_simple_mass`."""
        return draw_simple_mass(self.task, state, float(inputs[0]), self.config.action_scale[0])


class SimpleMassVectorEnv(LinearSystemVectorEnv):
    """``num_envs`` simple masses, each on its own task, stepped together (see `SimpleMassEnv`)."""

    family = FAMILY


# ------------------------------------------------------------------------------------------------ rendering
def draw_simple_mass(task: Task, state: np.ndarray, force: float, action_scale: float) -> np.ndarray:
    """The mass on its spring and damper (600×200 RGB): block size from ``m``, spring coils and colour from ``k``,
    damper width from ``d``; the force as a red arrow, the velocity as a blue one, the rest position dashed."""
    from mtenvs.rendering import BLUE, GREY, RED, Canvas, draw_mass_chain, squash

    canvas = Canvas(600, 200)
    floor, rest, scale = 150.0, 330.0, 90.0  # pixels: floor line, rest position of the mass; pixels per metre
    x, v = float(state[0]), float(state[1])
    centre = rest + 220.0 * squash(x * scale, 220.0)  # linear near rest, kept inside the frame
    for y in range(34, int(floor), 12):
        canvas.draw.line([(rest, y), (rest, y + 6)], fill=GREY)
    [(left, top, right, _)] = draw_mass_chain(canvas, [centre], [task["mass"]], [task["spring"]], [task["damping"]],
                                            PARAMETERS["spring"].bounds, floor)
    middle = floor - (right - left) / 2
    side = 1 if force >= 0 else -1
    start = right if side > 0 else left
    canvas.arrow((start, middle), (start + 90.0 * squash(force, action_scale), middle), fill=RED)
    canvas.arrow((centre, top - 8), (centre + 60.0 * squash(v, 1.0), top - 8), fill=BLUE, width=2)
    canvas.text((10, 10), f"m = {task['mass']:.2f} kg   k = {task['spring']:.2f} N/m   d = {task['damping']:.3f} N s/m")
    canvas.text((10, 172), f"x = {x:+.2f} m   v = {v:+.2f} m/s   force = {force:+.2f} N", fill=(60, 60, 60))
    return canvas.frame()
