"""Units of work: what an experiment computes one piece at a time, and what the runner hands back to it.

A run is an ordered list of `Unit` objects. The runner computes them in order, saving after each one, so an
interrupted run resumes at the first unit that had not finished. Units that continue the work of an earlier unit
(the iteration blocks of one training run) share a ``chain``: the state returned by one is passed to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from mtenvs.progress import ProgressOptions

#: Types allowed as unit parameter values (they form the unit's key, so they must print the same everywhere).
UnitValue = int | float | str | bool


@dataclass(frozen=True)
class Unit:
    """One unit of work, identified by its parameters, e.g. ``Unit({"seed": 0, "task": "train-3"})``.

    Args:
        params: what identifies the unit (ints, floats, strings or bools); by convention ``seed`` is the index of
            an independent replicate, and `mtenvs.runner.mean_over_seeds` groups by it.
        chain: units with the same chain run in list order and pass a state forward (see `UnitResult`);
            ``None`` for independent units.
    """

    params: Mapping[str, UnitValue]
    chain: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping) or not self.params:
            raise ValueError(f"Unit params must be a non-empty mapping of names to values, got {self.params!r}")
        for name, value in self.params.items():
            if not isinstance(name, str) or not isinstance(value, (int, float, str, bool)):
                raise ValueError(f"Unit parameter {name!r} = {value!r}: names must be strings and values int, float, "
                                 "str or bool")
        if self.chain is not None and not isinstance(self.chain, str):
            raise ValueError(f"Unit chain must be a string or None, got {self.chain!r}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def key(self) -> str:
        """The unit's identifier in results files, e.g. ``"seed=0,task=train-3"``."""
        return ",".join(f"{name}={value}" for name, value in self.params.items())


@dataclass(frozen=True)
class UnitContext:
    """What the runner gives a unit besides the configuration.

    Attributes:
        index: the unit's position in the run.
        seed: this unit's own seed, derived from the run seed and the unit key (seed torch, SB3 and envs from it).
        rng: a generator seeded with ``seed``.
        state: the state returned by the previous unit of the same chain (``None`` for the first, or unchained units).
        run_seed: the seed of the whole run.
        progress: how the unit shows its own progress, nested under the run's bar: pass it on as
            ``method.learn(..., progress_bar=ctx.progress)`` (or ``mtenvs.sb3.ProgressCallback(ctx.progress)`` for an
            SB3 model). ``False`` when the run shows no progress.
    """

    index: int
    seed: int
    rng: np.random.Generator
    state: Any
    run_seed: int
    progress: bool | ProgressOptions = False


@dataclass(frozen=True)
class UnitResult:
    """A unit's output: JSON-ready ``metrics`` and, for chained units, the ``state`` the next unit continues from.

    ``state`` must pickle; it is checkpointed so that a resumed run restores it. A unit without a state to pass on
    may return its metrics mapping directly.
    """

    metrics: Mapping[str, Any]
    state: Any = None


@dataclass(frozen=True)
class UnitRecord:
    """A finished unit as stored in ``results.json`` and handed to the experiment's aggregate and plot functions.

    ``metrics`` is the JSON form of what the unit returned (tuples are lists, NaN and infinities are ``None``), so
    aggregating a resumed run sees exactly what aggregating an uninterrupted one sees.
    """

    index: int
    key: str
    params: Mapping[str, UnitValue]
    chain: str | None
    seed: int
    metrics: Mapping[str, Any]
    seconds: float = field(default=0.0, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnitRecord:
        """The record of one entry of ``results.json["units"]``."""
        return cls(data["index"], data["key"], data["params"], data["chain"], data["seed"], data["metrics"],
                   data["seconds"])

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in ``results.json``."""
        return {"index": self.index, "key": self.key, "params": dict(self.params), "chain": self.chain,
                "seed": self.seed, "metrics": dict(self.metrics), "seconds": self.seconds}
