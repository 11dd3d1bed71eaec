"""Simple-mass task family: drive a mass on a spring and damper to rest at the origin.

Reads top to bottom: parameters, dynamics, the environments (reward and stepping are those of every linear
family, in :mod:`mtenvs.control.linear_env`). No rendering.
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

    ## Arguments
    ``task``/``tasks``, ``dt`` (0.05 s), ``reward``, ``state_cost``, ``input_cost``, ``action_scale``,
    ``clip_actions``, ``initial_state_bounds`` (see :class:`mtenvs.control.control_config.ControlConfig`).

    ## Version History
    * v0: initial release.
    """

    family = FAMILY


class SimpleMassVectorEnv(LinearSystemVectorEnv):
    """``num_envs`` simple masses, each on its own task, stepped together (see :class:`SimpleMassEnv`)."""

    family = FAMILY
