"""Helicopter task family: stabilize a linearized CH-47 tandem-rotor helicopter in forward flight at 40 knots.

Reads top to bottom: nominal model, parameters (the entries of ``A`` and ``B``), task sets, dynamics, the
environments (reward and stepping are those of every linear family, in :mod:`mtenvs.control.linear_env`).
No rendering.
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
    The task set ``"literal"`` (``tasks="literal"``, or :func:`literal_tasks`) instead draws every entry
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

    ## Arguments
    ``task``/``tasks``, ``dt`` (0.05 s), ``reward``, ``state_cost``, ``input_cost``, ``action_scale``,
    ``clip_actions``, ``initial_state_bounds`` (see :class:`mtenvs.control.control_config.ControlConfig`).

    ## Version History
    * v0: initial release.
    """

    family = FAMILY


class HelicopterVectorEnv(LinearSystemVectorEnv):
    """``num_envs`` helicopters, each on its own task, stepped together (see :class:`HelicopterEnv`)."""

    family = FAMILY
