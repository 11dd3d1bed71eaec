"""``Task``: one member of a task family, as an immutable value with a stable id and a JSON form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, overload


def _freeze(value: Any) -> Any:
    """Turn lists into tuples (recursively) so that parameter values are immutable and hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


class Task:
    """An immutable task: a family name plus a complete mapping of parameter values.

    Two tasks are equal when their family and parameters are equal; ``name`` is a label only. ``id`` is a
    short digest of the canonical JSON of family and parameters, so it is the same in every process and on
    every machine. Build tasks through :meth:`TaskFamily.task`, which validates them and fills defaults.

    Examples:
        >>> task = Task("CartPole", {"pole_length": 0.8, "cart_mass": 1.0})
        >>> Task.from_json(task.to_json()) == task
        True
    """

    __slots__ = ("_hash", "_id", "_key", "_params", "family", "name")

    family: str
    name: str | None

    def __init__(self, family: str, params: Mapping[str, Any], name: str | None = None) -> None:
        frozen = {key: _freeze(params[key]) for key in sorted(params)}
        key = json.dumps({"family": family, "params": {k: _thaw(v) for k, v in frozen.items()}},
                         sort_keys=True, separators=(",", ":"), allow_nan=True)
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
        """The task as a JSON string; :meth:`from_json` restores an equal task."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Rebuild a task from :meth:`to_dict` output."""
        missing = {"family", "params"} - set(data)
        if missing:
            raise ValueError(f"task dict is missing {sorted(missing)}")
        return cls(str(data["family"]), dict(data["params"]), data.get("name"))

    @classmethod
    def from_json(cls, text: str) -> Task:
        """Rebuild a task from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


class TaskSet(Sequence[Task]):
    """A named, ordered, immutable collection of tasks of one family (e.g. the ``train`` split).

    Given as ``tasks=`` to an environment, a task set means "draw a task from this set at every reset".
    """

    def __init__(self, name: str, tasks: Sequence[Task]) -> None:
        self.name = name
        self._tasks = tuple(tasks)
        if not self._tasks:
            raise ValueError(f"task set {name!r} is empty")
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
    def from_json(cls, text: str) -> TaskSet:
        """Rebuild a set from :meth:`to_json` output."""
        data = json.loads(text)
        return cls(data["name"], [Task.from_dict(t) for t in data["tasks"]])
