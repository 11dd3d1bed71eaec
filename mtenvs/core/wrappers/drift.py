"""Within-episode parameter drift: one task parameter follows a schedule of the step count.

``ParameterDrift(env, "pole_length", linear(0.5, 1.5, steps=200))`` sets ``pole_length = schedule(t)`` through
``env.unwrapped.change_task`` before the transition at step ``t`` (``t`` = steps since reset, so the first
transition of an episode runs under ``schedule(0)``), keeping the state. The other parameters are those of
the episode's task. ``info["task"]``/``info["task_id"]`` are the drifted task: at reset the one the first
transition will use, after a step the one that step ran under.

Schedules are callables ``t -> value``. The helpers `linear`, `sinusoid` and `piecewise`
also know their range, so out-of-bounds values are caught at construction; any other callable is checked
when its value is applied (a ``ValueError`` naming the parameter, raised before the environment moves).
Drift needs ``change_task``, which single family environments have; native vector environments have no
per-step task change, so there is no vector form.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from mtenvs.core.wrappers._support import family_of_env

Schedule = Callable[[int], float]


def _finite(value: Any, field: str, owner: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{owner}: {field} must be a finite number, got {value!r}")
    return float(value)


class RangedSchedule:
    """A schedule that knows the smallest and largest value it ever takes (`extremes`)."""

    @property
    def extremes(self) -> tuple[float, float]:
        """``(min, max)`` over all ``t >= 0``."""
        raise NotImplementedError

    def __call__(self, t: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Linear(RangedSchedule):
    """``start`` at ``t = 0``, moving linearly to ``end`` at ``t = steps``, then held at ``end``."""

    start: float
    end: float
    steps: int

    def __call__(self, t: int) -> float:
        return self.start + (self.end - self.start) * (min(t, self.steps) / self.steps)

    @property
    def extremes(self) -> tuple[float, float]:
        return min(self.start, self.end), max(self.start, self.end)


@dataclass(frozen=True)
class Sinusoid(RangedSchedule):
    """``mean + amplitude * sin(2 pi t / period)``."""

    mean: float
    amplitude: float
    period: float

    def __call__(self, t: int) -> float:
        return self.mean + self.amplitude * math.sin(2.0 * math.pi * t / self.period)

    @property
    def extremes(self) -> tuple[float, float]:
        return self.mean - abs(self.amplitude), self.mean + abs(self.amplitude)


@dataclass(frozen=True)
class Piecewise(RangedSchedule):
    """``values[i]`` from ``times[i]`` on (``interpolation="previous"``), or linear between the knots
    (``"linear"``); held at ``values[-1]`` after ``times[-1]``."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    interpolation: Literal["previous", "linear"] = "previous"

    def __call__(self, t: int) -> float:
        if self.interpolation == "linear":
            return float(np.interp(t, self.times, self.values))
        return self.values[int(np.searchsorted(self.times, t, side="right")) - 1]

    @property
    def extremes(self) -> tuple[float, float]:
        return min(self.values), max(self.values)


def linear(start: float, end: float, steps: int) -> Linear:
    """From ``start`` (at ``t = 0``) to ``end`` (at ``t = steps``) in equal increments, then constant."""
    owner = "linear schedule"
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{owner}: steps must be a positive integer, got {steps!r}")
    return Linear(_finite(start, "start", owner), _finite(end, "end", owner), int(steps))


def sinusoid(mean: float, amplitude: float, period: float) -> Sinusoid:
    """``mean + amplitude * sin(2 pi t / period)``; ``period`` in steps, positive."""
    owner = "sinusoid schedule"
    period = _finite(period, "period", owner)
    if period <= 0:
        raise ValueError(f"{owner}: period must be positive (in steps), got {period}")
    return Sinusoid(_finite(mean, "mean", owner), _finite(amplitude, "amplitude", owner), period)


def piecewise(times: Sequence[float], values: Sequence[float],
              interpolation: Literal["previous", "linear"] = "previous") -> Piecewise:
    """Value ``values[i]`` from step ``times[i]`` on; ``times`` start at 0 and increase strictly.

    ``interpolation="linear"`` interpolates between the knots instead of holding each value.
    """
    owner = "piecewise schedule"
    times_t = tuple(_finite(t, "times", owner) for t in times)
    values_t = tuple(_finite(v, "values", owner) for v in values)
    if len(times_t) == 0 or len(times_t) != len(values_t):
        raise ValueError(f"{owner}: times and values must be non-empty and of equal length, got {len(times_t)} "
                         f"and {len(values_t)}")
    if times_t[0] != 0 or bool(np.any(np.diff(times_t) <= 0)):
        raise ValueError(f"{owner}: times must start at 0 and increase strictly, got {list(times_t)}")
    if interpolation not in ("previous", "linear"):
        raise ValueError(f"{owner}: interpolation must be 'previous' or 'linear', got {interpolation!r}")
    return Piecewise(times_t, values_t, interpolation)


class ParameterDrift(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Let one task parameter follow ``schedule(t)`` within every episode (see the module docstring).

    Args:
        env: an mtenvs family environment (``env.unwrapped`` is a ``TaskEnv``).
        parameter: the name of the drifting parameter.
        schedule: a callable ``t -> value``, e.g. `linear`, `sinusoid` or `piecewise`.

    Raises:
        ValueError: for an unknown parameter, or a schedule whose range leaves the parameter's bounds
            (at construction for the helper schedules, else when the value is applied).
    """

    def __init__(self, env: gym.Env, parameter: str, schedule: Schedule) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, parameter=parameter, schedule=schedule)
        gym.Wrapper.__init__(self, env)
        family = family_of_env(env, "ParameterDrift")
        if parameter not in family.parameters:
            raise family.parameters.unknown_name_error(parameter, "ParameterDrift")
        if not callable(schedule):
            raise ValueError(f"ParameterDrift: schedule must be a callable t -> value, got {schedule!r}")
        if isinstance(schedule, RangedSchedule):
            for value in schedule.extremes:
                family.parameters.validate({parameter: value}, owner=f"ParameterDrift of {family.name}")
        self.parameter = parameter
        self.schedule = schedule
        self._steps = 0
        self._value: Any = None

    def _drift(self) -> dict[str, Any]:
        """Apply ``schedule(steps)`` if it changed; return the current task's info entries."""
        base: Any = self.env.unwrapped
        value = self.schedule(self._steps)
        if value != self._value:
            base.change_task(base.task.replace(**{self.parameter: value}))
            self._value = value
        return {"task": base.task, "task_id": base.task.id}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset on the episode's task, then set the parameter to ``schedule(0)``."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._steps = 0
        self._value = None
        return obs, {**info, **self._drift()}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Set the parameter to ``schedule(t)``, then take the step."""
        self._drift()
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        return obs, reward, terminated, truncated, info
