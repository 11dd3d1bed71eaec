"""``Task``: one member of a task family, as an immutable value with a stable id and a JSON form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from mtenvs.core.family import TaskFamily


def _freeze(value: Any) -> Any:
    """Turn lists into tuples (recursively) so that parameter values are immutable and hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _not_json(params: Mapping[str, Any]) -> str:
    """Which parameter of ``params`` is not JSON data (for the error message)."""
    for name in params:
        if not isinstance(name, str):
            return f"parameter names must be strings, got {name!r}"
        try:
            json.dumps(_thaw(_freeze(params[name])))
        except (TypeError, ValueError):
            return (f"parameter {name!r} must be a number, a string or a list of them, got "
                    f"{type(params[name]).__name__}")
    return "parameters must be JSON data"


class Task:
    """An immutable task: a family name plus a complete mapping of parameter values.

    Two tasks are equal when their family and parameters are equal; ``name`` is a label only. ``id`` is a
    short digest of the canonical JSON of family and parameters, so it is the same in every process and on
    every machine. Build tasks through `TaskFamily.task`, which validates them and fills defaults.

    Examples:
        >>> import mtenvs
        >>> task = mtenvs.family("CartPole").task(pole_length=0.8, cart_mass=1.0)
        >>> Task.from_json(task.to_json()) == task
        True
    """

    __slots__ = ("_hash", "_id", "_key", "_params", "family", "name")

    family: str
    name: str | None

    def __init__(self, family: str, params: Mapping[str, Any], name: str | None = None) -> None:
        try:
            frozen = {key: _freeze(params[key]) for key in sorted(params)}
            key = json.dumps({"family": family, "params": {k: _thaw(v) for k, v in frozen.items()}},
                             sort_keys=True, separators=(",", ":"), allow_nan=True)
        except (TypeError, ValueError):
            raise ValueError(f"task of family {family!r}: {_not_json(params)}") from None
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "_params", frozen)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))
        object.__setattr__(self, "_id", f"{family}-{hashlib.sha256(key.encode()).hexdigest()[:10]}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Task is immutable; use task.replace(...) or family.task(...)")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Task, (self.family, dict(self._params), self.name))

    @property
    def params(self) -> Mapping[str, Any]:
        """Read-only view of the parameter values."""
        return MappingProxyType(self._params)

    @property
    def id(self) -> str:
        """Stable identifier, e.g. ``"CartPole-3f2a9c01be"``."""
        return self._id

    def __getitem__(self, key: str) -> Any:
        return self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        label = f"{self.name!r}, " if self.name else ""
        return f"Task({self.family!r}, {label}{values})"

    def replace(self, **overrides: Any) -> Task:
        """A copy with some parameters changed (not validated: pass it through ``family.task`` to check it)."""
        return Task(self.family, {**self._params, **overrides}, self.name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"family", "params", "name"}``."""
        return {"family": self.family, "params": {k: _thaw(v) for k, v in self._params.items()}, "name": self.name}

    def to_json(self) -> str:
        """The task as a JSON string; `from_json` restores an equal task."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], family: TaskFamily | None = None) -> Task:
        """Rebuild a task from `to_dict` output, validated by ``family`` (default: the registered family of
        that name).

        Raises:
            ValueError: for anything but ``{"family": str, "params": dict, "name": str | None}``, an unknown family,
                or parameters the family refuses (NaN, out of bounds, unknown keys...; the message names the field).
        """
        from mtenvs.core.registry import family as registered_family

        if not isinstance(data, Mapping):
            raise ValueError(f"a task must be a JSON object with 'family' and 'params', got {type(data).__name__}")
        missing = {"family", "params"} - set(data)
        if missing:
            raise ValueError(f"task dict is missing {sorted(missing)}")
        unknown = set(data) - {"family", "params", "name"}
        if unknown:
            raise ValueError(f"task dict has unknown key(s) {sorted(map(str, unknown))}; allowed: family, params, name")
        family_name, params, name = data["family"], data["params"], data.get("name")
        if not isinstance(family_name, str):
            raise ValueError(f"task field 'family' must be a string, got {type(family_name).__name__}")
        if not isinstance(params, Mapping):
            raise ValueError(f"task field 'params' must be an object of parameter values, got {type(params).__name__}")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"task field 'name' must be a string or null, got {type(name).__name__}")
        checker = registered_family(family_name) if family is None else family
        if checker.name != family_name:
            raise ValueError(f"{checker.name}: field 'family' of the task is {family_name!r}, expected {checker.name!r}")
        validated = checker.task(dict(params))
        return cls(family_name, validated.params, name)

    @classmethod
    def from_json(cls, text: str | bytes, family: TaskFamily | None = None) -> Task:
        """Rebuild a task from `to_json` output (validated: see `from_dict`).

        Raises:
            ValueError: for text that is not JSON (or nested too deeply) and for every error of `from_dict`.
        """
        return cls.from_dict(load_json(text, "task"), family)


class TaskSet(Sequence[Task]):
    """A named, ordered, immutable collection of tasks of one family (e.g. the ``train`` split).

    Given as ``tasks=`` to an environment, a task set means "draw a task from this set at every reset".
    """

    def __init__(self, name: str, tasks: Sequence[Task]) -> None:
        self.name = name
        if isinstance(tasks, (str, bytes, Mapping)) or not isinstance(tasks, (Sequence, Iterator)):
            raise ValueError(f"task set {name!r} needs a sequence of tasks, got {type(tasks).__name__}")
        self._tasks = tuple(tasks)
        if not self._tasks:
            raise ValueError(f"task set {name!r} is empty")
        for i, task in enumerate(self._tasks):
            if not isinstance(task, Task):
                raise ValueError(f"task set {name!r}: entry {i} is a {type(task).__name__}, not a Task (build tasks "
                                 "with family.task(...))")
        self._index = {task: i for i, task in enumerate(self._tasks)}

    @overload
    def __getitem__(self, index: int) -> Task: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Task]: ...
    def __getitem__(self, index: int | slice) -> Task | Sequence[Task]:
        return self._tasks[index]

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, task: object) -> bool:
        return task in self._index

    def index(self, task: Any, start: int = 0, stop: int | None = None) -> int:
        """Position of ``task`` in the set (``ValueError`` if absent)."""
        try:
            return self._index[task]
        except KeyError:
            raise ValueError(f"{task!r} is not in task set {self.name!r}") from None

    @property
    def ids(self) -> list[str]:
        """The ids of the tasks, in order."""
        return [task.id for task in self._tasks]

    def __repr__(self) -> str:
        return f"TaskSet({self.name!r}, {len(self._tasks)} tasks)"

    def to_json(self) -> str:
        """The set as JSON: ``{"name", "tasks": [task dicts]}``."""
        return json.dumps({"name": self.name, "tasks": [t.to_dict() for t in self._tasks]}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, family: TaskFamily | None = None) -> TaskSet:
        """Rebuild a set from `to_json` output; every task is validated (see `Task.from_dict`).

        Raises:
            ValueError: for malformed JSON, a missing or mistyped ``name``/``tasks``, or an invalid task.
        """
        data = load_json(text, "task set")
        if not isinstance(data, Mapping) or not {"name", "tasks"} <= set(data):
            raise ValueError("a task set must be a JSON object with 'name' and 'tasks'")
        if not isinstance(data["name"], str):
            raise ValueError(f"task set field 'name' must be a string, got {type(data['name']).__name__}")
        if not isinstance(data["tasks"], list):
            raise ValueError(f"task set field 'tasks' must be a list, got {type(data['tasks']).__name__}")
        tasks = []
        for i, entry in enumerate(data["tasks"]):
            try:
                tasks.append(Task.from_dict(entry, family))
            except ValueError as error:
                raise ValueError(f"task set {data['name']!r}, tasks[{i}]: {error}") from None
        return cls(data["name"], tasks)


def load_json(text: Any, what: str) -> Any:
    """``json.loads(text)`` with every failure (wrong type, syntax, nesting too deep) as a ``ValueError``."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise ValueError(f"{what} JSON must be a string, got {type(text).__name__}")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} JSON is malformed: {error}") from None
