"""Declared task parameters: name, bounds, default, units and how each one is sampled.

A family declares its parameters once, in a `ParameterSpace`. Everything else is derived from that
declaration: validation of user input, seeded sampling of the ``train``/``test`` regions and of the
out-of-distribution (``ood``) region, the normalized feature vector that observability wrappers append to
observations, and the parameter tables of the documentation.

Each parameter has *bounds* (the values the dynamics accept) and a *training region* inside them. ``train`` and
``test`` task sets are drawn from the training region; ``ood`` tasks put at least one parameter outside it.
A parameter whose training region is ``None`` is held at its default in ``train``/``test`` and only varies
out of distribution.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mtenvs.core.names import did_you_mean, unknown_name

Region = Literal["train", "ood"]
Distribution = Literal["uniform", "log-uniform"]


def _is_real_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, shortened to about ``limit`` characters (huge integers show their number of digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"<integer of {len(str(abs(value)))} digits>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _as_float(value: Any, name: str, bounds: str) -> float:
    """``float(value)``, or a ``ValueError`` naming the parameter when the value is beyond the float range."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"parameter {name!r} = {short_repr(value)} is beyond the float range; bounds {bounds}") from None


class Parameter(ABC):
    """One named task parameter. Subclasses define the value type."""

    #: Identifier used in task dictionaries.
    name: str
    #: The value used when a task does not set this parameter.
    default: Any
    description: str
    units: str

    @abstractmethod
    def validate(self, value: Any) -> Any:
        """Return ``value`` in canonical form, or raise ``ValueError`` naming the parameter and its bounds."""

    @abstractmethod
    def sample(self, rng: np.random.Generator, region: Region) -> Any:
        """Draw a value from the training region, or from outside it (``region="ood"``)."""

    @property
    @abstractmethod
    def varies_in_training(self) -> bool:
        """Whether ``train``/``test`` tasks differ in this parameter."""

    @property
    @abstractmethod
    def has_ood_region(self) -> bool:
        """Whether values outside the training region exist inside the bounds."""

    @property
    @abstractmethod
    def feature_size(self) -> int:
        """Length of this parameter's slice of the normalized feature vector."""

    @abstractmethod
    def features(self, value: Any) -> list[float]:
        """Normalized features of a valid value, each in [-1, 1]."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for ``mtenvs info`` and the documentation)."""


@dataclass(frozen=True)
class Continuous(Parameter):
    """A real-valued parameter with closed bounds ``[low, high]``.

    Args:
        name: identifier used in task dictionaries.
        default: value of the family's default task.
        bounds: the values the dynamics accept; tasks outside are rejected.
        train: the training region (``train``/``test`` draws); ``None`` holds the parameter at its default.
        units: physical units, for documentation.
        distribution: ``"uniform"`` or ``"log-uniform"`` (needs ``low > 0``).
        description: one line for documentation.
    """

    name: str
    default: float
    bounds: tuple[float, float]
    train: tuple[float, float] | None = None
    units: str = ""
    distribution: Distribution = "uniform"
    description: str = ""

    def __post_init__(self) -> None:
        low, high = self.bounds
        if not low <= self.default <= high:
            raise ValueError(f"parameter {self.name!r}: default {self.default} outside bounds {self.bounds}")
        if self.train is not None and not low <= self.train[0] <= self.train[1] <= high:
            raise ValueError(f"parameter {self.name!r}: training region {self.train} not inside bounds {self.bounds}")
        if self.distribution not in ("uniform", "log-uniform"):
            raise ValueError(f"parameter {self.name!r}: unknown distribution {self.distribution!r}")
        if self.distribution == "log-uniform" and low <= 0:
            raise ValueError(f"parameter {self.name!r}: a log-uniform distribution needs positive bounds")

    def _bounds_text(self) -> str:
        units = f" {self.units}" if self.units else ""
        return f"[{self.bounds[0]:g}, {self.bounds[1]:g}]{units}"

    def validate(self, value: Any) -> float:
        if not _is_real_number(value):
            raise ValueError(f"parameter {self.name!r} must be a real number, got {type(value).__name__} "
                             f"{short_repr(value)}")
        number = _as_float(value, self.name, self._bounds_text())
        if not math.isfinite(number):
            raise ValueError(f"parameter {self.name!r} must be finite, got {number}; bounds {self._bounds_text()}")
        if not self.bounds[0] <= number <= self.bounds[1]:
            raise ValueError(f"parameter {self.name!r} = {number:g} is outside its bounds {self._bounds_text()}")
        return number

    @property
    def varies_in_training(self) -> bool:
        return self.train is not None and self.train[0] < self.train[1]

    @property
    def has_ood_region(self) -> bool:
        return bool(self._ood_intervals())

    def _ood_intervals(self) -> list[tuple[float, float]]:
        low, high = self.bounds
        if self.train is None:
            return [(low, high)] if low < high else []
        return [(a, b) for a, b in ((low, self.train[0]), (self.train[1], high)) if a < b]

    def _draw(self, rng: np.random.Generator, low: float, high: float) -> float:
        if self.distribution == "log-uniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return float(rng.uniform(low, high))

    def _measure(self, low: float, high: float) -> float:
        return math.log(high / low) if self.distribution == "log-uniform" else high - low

    def sample(self, rng: np.random.Generator, region: Region) -> float:
        if region == "train":
            if self.train is None:
                return self.default
            return self._draw(rng, *self.train)
        intervals = self._ood_intervals()
        if not intervals:
            raise ValueError(f"parameter {self.name!r} has no values outside its training region")
        weights = np.array([self._measure(a, b) for a, b in intervals])
        low, high = intervals[int(rng.choice(len(intervals), p=weights / weights.sum()))]
        return min(max(self._draw(rng, low, high), self.bounds[0]), self.bounds[1])

    @property
    def feature_size(self) -> int:
        return 1

    def features(self, value: Any) -> list[float]:
        low, high = self.bounds
        if high == low:
            return [0.0]
        return [min(max(2.0 * (float(value) - low) / (high - low) - 1.0, -1.0), 1.0)]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "continuous",
            "default": self.default,
            "bounds": list(self.bounds),
            "train": list(self.train) if self.train is not None else None,
            "units": self.units,
            "distribution": self.distribution,
            "description": self.description,
        }


@dataclass(frozen=True)
class Integer(Parameter):
    """An integer parameter with inclusive bounds; sampled uniformly over the integers of a region."""

    name: str
    default: int
    bounds: tuple[int, int]
    train: tuple[int, int] | None = None
    units: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.bounds[0] <= self.default <= self.bounds[1]:
            raise ValueError(f"parameter {self.name!r}: default {self.default} outside bounds {self.bounds}")
        if self.train is not None and not self.bounds[0] <= self.train[0] <= self.train[1] <= self.bounds[1]:
            raise ValueError(f"parameter {self.name!r}: training region {self.train} not inside bounds {self.bounds}")

    def validate(self, value: Any) -> int:
        bounds = f"[{self.bounds[0]}, {self.bounds[1]}]"
        real = _is_real_number(value)
        if real and (isinstance(value, (int, np.integer)) or (math.isfinite(value) and float(value).is_integer())):
            number = int(value)
        else:
            raise ValueError(f"parameter {self.name!r} must be an integer, got {type(value).__name__} {short_repr(value)}")
        if not self.bounds[0] <= number <= self.bounds[1]:
            raise ValueError(f"parameter {self.name!r} = {short_repr(number)} is outside its bounds {bounds}")
        return number

    def _ood_values(self) -> list[int]:
        low, high = self.bounds
        if self.train is None:
            return [v for v in range(low, high + 1) if v != self.default]
        return [v for v in range(low, high + 1) if not self.train[0] <= v <= self.train[1]]

    @property
    def varies_in_training(self) -> bool:
        return self.train is not None and self.train[0] < self.train[1]

    @property
    def has_ood_region(self) -> bool:
        return bool(self._ood_values())

    def sample(self, rng: np.random.Generator, region: Region) -> int:
        if region == "train":
            if self.train is None:
                return self.default
            return int(rng.integers(self.train[0], self.train[1] + 1))
        values = self._ood_values()
        if not values:
            raise ValueError(f"parameter {self.name!r} has no values outside its training region")
        return int(values[int(rng.integers(len(values)))])

    @property
    def feature_size(self) -> int:
        return 1

    def features(self, value: Any) -> list[float]:
        low, high = self.bounds
        return [0.0] if high == low else [2.0 * (int(value) - low) / (high - low) - 1.0]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "integer",
            "default": self.default,
            "bounds": list(self.bounds),
            "train": list(self.train) if self.train is not None else None,
            "units": self.units,
            "distribution": "uniform",
            "description": self.description,
        }


@dataclass(frozen=True)
class Categorical(Parameter):
    """A parameter taking one of a fixed tuple of values (strings or integers).

    ``train`` lists the values seen in training (``None``: only the default); ``ood`` draws from the rest.
    Its features are a one-hot vector over ``choices``, scaled to [-1, 1].
    """

    name: str
    default: str | int
    choices: tuple[str | int, ...]
    train: tuple[str | int, ...] | None = None
    units: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"parameter {self.name!r}: default {self.default!r} not among {self.choices}")
        if self.train is not None and not set(self.train) <= set(self.choices):
            raise ValueError(f"parameter {self.name!r}: training values {self.train} not among {self.choices}")

    def validate(self, value: Any) -> str | int:
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(f"parameter {self.name!r} must be one of {list(self.choices)} (its bounds), got "
                             f"{type(value).__name__} {short_repr(value)}")
        if value not in self.choices:
            raise ValueError(f"parameter {self.name!r} = {value!r} is not one of {list(self.choices)} (its bounds)"
                             + did_you_mean(value, map(str, self.choices)))
        return value

    @property
    def _train_values(self) -> tuple[str | int, ...]:
        return self.train if self.train is not None else (self.default,)

    @property
    def varies_in_training(self) -> bool:
        return len(self._train_values) > 1

    @property
    def has_ood_region(self) -> bool:
        return len(self.choices) > len(self._train_values)

    def sample(self, rng: np.random.Generator, region: Region) -> str | int:
        pool = self._train_values if region == "train" else [c for c in self.choices if c not in self._train_values]
        if not pool:
            raise ValueError(f"parameter {self.name!r} has no values outside its training region")
        return pool[int(rng.integers(len(pool)))]

    @property
    def feature_size(self) -> int:
        return len(self.choices)

    def features(self, value: Any) -> list[float]:
        return [1.0 if choice == value else -1.0 for choice in self.choices]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "categorical",
            "default": self.default,
            "choices": list(self.choices),
            "train": list(self._train_values),
            "units": self.units,
            "distribution": "uniform",
            "description": self.description,
        }


class ParameterSpace(Mapping[str, Parameter]):
    """An ordered collection of parameters: validation, sampling and normalized features for whole tasks."""

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        self._parameters = {p.name: p for p in parameters}
        if len(self._parameters) != len(parameters):
            raise ValueError("parameter names must be unique")
        self._feature_dim = sum(p.feature_size for p in parameters)

    def __getitem__(self, name: str) -> Parameter:
        return self._parameters[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __len__(self) -> int:
        return len(self._parameters)

    def defaults(self) -> dict[str, Any]:
        """The default value of every parameter."""
        return {name: p.default for name, p in self._parameters.items()}

    def unknown_name_error(self, name: Any, owner: str) -> ValueError:
        """A ``ValueError`` for an unknown parameter name, suggesting the closest known names."""
        return ValueError(f"{owner}: {unknown_name('parameter', name, self._parameters)}")

    def validate(self, values: Mapping[str, Any], owner: str, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Validate ``values`` on top of ``base`` (default: the defaults) and return a complete, canonical dict.

        Raises:
            ValueError: naming ``owner``, the parameter, the value and the bounds.
        """
        if not isinstance(values, Mapping):
            raise ValueError(f"{owner}: task parameters must be a mapping, got {type(values).__name__}")
        result = dict(self.defaults() if base is None else base)
        for name, value in values.items():
            parameter = self._parameters.get(name)
            if parameter is None:
                raise self.unknown_name_error(name, owner)
            try:
                result[name] = parameter.validate(value)
            except ValueError as error:
                raise ValueError(f"{owner}: {error}") from None
        return result

    def sample(self, rng: np.random.Generator, region: Region = "train") -> dict[str, Any]:
        """Draw a complete parameter dict.

        ``region="train"`` draws every parameter from its training region. ``region="ood"`` moves one
        parameter (chosen at random among those that can leave their training region) out of it, and each
        further such parameter with probability 1/2; the others stay in their training region.
        """
        if region == "train":
            return {name: p.sample(rng, "train") for name, p in self._parameters.items()}
        if region != "ood":
            raise ValueError(f"region must be 'train' or 'ood', got {region!r}")
        candidates = [name for name, p in self._parameters.items() if p.has_ood_region]
        if not candidates:
            raise ValueError("no parameter of this family can leave its training region")
        forced = candidates[int(rng.integers(len(candidates)))]
        values = {}
        for name, p in self._parameters.items():
            outside = name == forced or (name in candidates and rng.random() < 0.5)
            values[name] = p.sample(rng, "ood" if outside else "train")
        return values

    @property
    def feature_dim(self) -> int:
        """Length of the normalized feature vector of a task."""
        return self._feature_dim

    def feature_names(self) -> list[str]:
        """One label per feature (``name`` or ``name=choice`` for categorical parameters)."""
        names: list[str] = []
        for name, p in self._parameters.items():
            if isinstance(p, Categorical):
                names.extend(f"{name}={choice}" for choice in p.choices)
            else:
                names.append(name)
        return names

    def features(self, values: Mapping[str, Any]) -> np.ndarray:
        """The normalized features of a complete, valid parameter dict, as a float32 vector in [-1, 1]."""
        flat: list[float] = []
        for name, p in self._parameters.items():
            flat.extend(p.features(values[name]))
        return np.asarray(flat, dtype=np.float32)

    def describe(self) -> list[dict[str, Any]]:
        """JSON-ready descriptions of every parameter, in declaration order."""
        return [p.describe() for p in self._parameters.values()]
