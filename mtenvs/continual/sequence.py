"""Task sequences: the ordered tasks of one family that a continual learner trains on, one after the other.

A `TaskSequence` is an environment id, an ordered list of tasks of its family and a training budget per task
(environment steps). The schedule is fixed and documented: the learner trains on task 0 for ``budget`` steps, then
on task 1 for ``budget`` steps, and so on; task ``i`` runs during steps ``[i * budget, (i + 1) * budget)``.
With ``announce=True`` (the default) the running episode is truncated at the switch, so every episode belongs to
one task; with ``announce=False`` the task changes under the running episode (the learner sees no episode boundary).
See `mtenvs.continual.ContinualEnv` for how an environment follows the schedule.

Sequences are built from a family's parameter space (`TaskSequence.spread`, `TaskSequence.drift`),
from any list of tasks, or by name (`sequence`, `sequences` lists the shipped ones). They are seeded
(the same seed gives the same tasks) and round-trip through JSON (`TaskSequence.to_json`,
`TaskSequence.from_json`)::

    seq = TaskSequence.spread("mtenvs/CartPole-v0", n=5, budget=50_000, seed=0)
    same = TaskSequence.from_json(seq.to_json())
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mtenvs.core.names import unknown_name
from mtenvs.core.parameters import Continuous, Integer
from mtenvs.core.registry import family_of
from mtenvs.core.task import Task

__all__ = ["TaskSequence", "register_sequence", "sequence", "sequences"]

#: The ``format`` tag of a sequence's JSON document.
FORMAT = "mtenvs.TaskSequence/1"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class TaskSequence:
    """An ordered list of tasks of one family, each trained on for ``budget`` environment steps.

    Args:
        env_id: the environment id the tasks run in (e.g. ``"mtenvs/CartPole-v0"``).
        tasks: the tasks in training order (``Task`` objects of the id's family, or dicts of parameters).
        budget: environment steps of training per task (a positive integer).
        announce: whether a switch truncates the running episode (``True``) or changes the task under it.
        name: the sequence's name (empty for an unnamed sequence).
        description: one sentence on how the tasks were chosen.
        env_kwargs: environment settings passed to ``gym.make`` (e.g. ``{"reward": "quadratic"}``).

    Raises:
        ValueError: naming the field: ``env_id`` not an mtenvs id, ``tasks`` empty or holding a task of another
            family or an invalid parameter, ``budget`` not a positive integer.
    """

    env_id: str
    tasks: tuple[Task, ...]
    budget: int
    announce: bool = True
    name: str = ""
    description: str = ""
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            family = family_of(self.env_id)
        except ValueError as error:
            raise ValueError(f"env_id: {error}") from None
        if isinstance(self.tasks, (str, Task, Mapping)) or not isinstance(self.tasks, Sequence):
            raise ValueError(f"tasks must be a list of tasks of family {family.name}, got {type(self.tasks).__name__}")
        if len(self.tasks) == 0:
            raise ValueError("tasks is empty: a sequence needs at least one task")
        validated = []
        for i, task in enumerate(self.tasks):
            if isinstance(task, Task) and task.family != family.name:
                raise ValueError(f"tasks[{i}] is a task of family {task.family!r}; {self.env_id} runs "
                                 f"{family.name!r} tasks")
            try:
                validated.append(family.validate(task))
            except ValueError as error:
                raise ValueError(f"tasks[{i}]: {error}") from None
        object.__setattr__(self, "tasks", tuple(validated))
        object.__setattr__(self, "budget", _positive_int("budget", self.budget))
        if not isinstance(self.announce, bool):
            raise ValueError(f"announce must be True or False, got {self.announce!r}")
        object.__setattr__(self, "env_kwargs", dict(self.env_kwargs))

    # ------------------------------------------------------------------------------------------- schedule
    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __getitem__(self, index: int) -> Task:
        return self.tasks[index]

    @property
    def family(self) -> str:
        """The family name of the tasks."""
        return family_of(self.env_id).name

    @property
    def total_steps(self) -> int:
        """Steps of the whole sequence: ``len(tasks) * budget``."""
        return len(self.tasks) * self.budget

    @property
    def switch_steps(self) -> list[int]:
        """The step counts at which the task changes: ``budget, 2 * budget, ...`` (one fewer than the tasks)."""
        return [self.budget * (i + 1) for i in range(len(self.tasks) - 1)]

    def task_index(self, step: int) -> int:
        """The index of the task trained on at environment step ``step`` (0-based; the last task after the end)."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        return min(int(step) // self.budget, len(self.tasks) - 1)

    def with_budget(self, budget: int) -> TaskSequence:
        """The same tasks with another per-task budget (e.g. a scaled-down run)."""
        return replace(self, budget=budget)

    # ------------------------------------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `from_dict` rebuilds an equal sequence."""
        return {"format": FORMAT, "name": self.name, "description": self.description, "env_id": self.env_id,
                "budget": self.budget, "announce": self.announce, "env_kwargs": dict(self.env_kwargs),
                "tasks": [t.to_dict() for t in self.tasks]}

    def to_json(self, **dumps_kwargs: Any) -> str:
        """The sequence as a JSON document (keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True, **dumps_kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSequence:
        """Rebuild a sequence from `to_dict` output."""
        if data.get("format") != FORMAT:
            raise ValueError(f"format: expected {FORMAT!r}, got {data.get('format')!r}")
        missing = {"env_id", "tasks", "budget"} - set(data)
        if missing:
            raise ValueError(f"a task sequence document needs {sorted(missing)}")
        return cls(env_id=data["env_id"], tasks=[Task.from_dict(t) for t in data["tasks"]], budget=data["budget"],
                   announce=data.get("announce", True), name=data.get("name", ""),
                   description=data.get("description", ""), env_kwargs=data.get("env_kwargs", {}))

    @classmethod
    def from_json(cls, text: str) -> TaskSequence:
        """Rebuild a sequence from `to_json` output."""
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------------------------------ builders
    @classmethod
    def spread(cls, env_id: str, n: int, budget: int, *, seed: int = 0, candidates: int = 64,
               **kwargs: Any) -> TaskSequence:
        """``n`` tasks spread over the training region, in the order they were chosen.

        ``candidates * n`` tasks are drawn from the training region with a generator seeded by ``seed``; the first
        is the one closest to the region's centre, and each next one is the candidate farthest (in the family's
        normalized parameter features) from all chosen so far (farthest-point traversal). So consecutive tasks are
        far apart and the sequence covers the region. Other keyword arguments go to `TaskSequence`.
        """
        n = _positive_int("n", n)
        _positive_int("candidates", candidates)
        family = family_of(env_id)
        pool = family.sample(candidates * n, seed=seed, split="train")
        features = np.stack([family.features(t) for t in pool]).astype(np.float64)
        centre = np.array(family.features(family.task(_train_centre(family))), dtype=np.float64)
        chosen = [int(np.argmin(np.linalg.norm(features - centre, axis=1)))]
        distance = np.linalg.norm(features - features[chosen[0]], axis=1)
        while len(chosen) < n:
            nxt = int(np.argmax(distance))
            chosen.append(nxt)
            distance = np.minimum(distance, np.linalg.norm(features - features[nxt], axis=1))
        tasks = [Task(family.name, pool[i].params, name=f"spread-{k}") for k, i in enumerate(chosen)]
        kwargs.setdefault("description", f"{n} tasks spread over the training region (farthest-point, seed {seed})")
        return cls(env_id, tasks, budget, **kwargs)

    @classmethod
    def drift(cls, env_id: str, n: int, budget: int, *, start: Mapping[str, Any] | str = "low",
              end: Mapping[str, Any] | str = "high", **kwargs: Any) -> TaskSequence:
        """``n`` tasks evenly spaced on the segment from ``start`` to ``end`` in parameter space.

        ``start`` and ``end`` are corners of the training region (``"low"``: every parameter that varies in
        training at the low end of its range, ``"high"``: at the high end) or dicts of parameters (missing ones
        take the defaults). Numeric parameters move linearly (integers rounded); a categorical parameter keeps the
        start's value. Other keyword arguments go to `TaskSequence`.
        """
        n = _positive_int("n", n)
        family = family_of(env_id)
        first = family.task(_corner(family, start, "start"))
        last = family.task(_corner(family, end, "end"))
        tasks = []
        for k in range(n):
            fraction = k / (n - 1) if n > 1 else 0.0
            params: dict[str, Any] = {}
            for name in family.parameters:
                parameter = family.parameters[name]
                a, b = first[name], last[name]
                if isinstance(parameter, Continuous):
                    params[name] = float(a + fraction * (b - a))
                elif isinstance(parameter, Integer):
                    params[name] = round(a + fraction * (b - a))
                else:
                    params[name] = a
            tasks.append(Task(family.name, family.task(params).params, name=f"drift-{k}"))
        kwargs.setdefault("description", f"{n} tasks drifting linearly from {start!r} to {end!r} of the training "
                                         "region")
        return cls(env_id, tasks, budget, **kwargs)


def _train_centre(family: Any) -> dict[str, Any]:
    centre: dict[str, Any] = {}
    for name in family.parameters:
        parameter = family.parameters[name]
        if isinstance(parameter, (Continuous, Integer)) and parameter.varies_in_training:
            low, high = parameter.train
            centre[name] = (low + high) / 2 if isinstance(parameter, Continuous) else round((low + high) / 2)
    return centre


def _corner(family: Any, spec: Mapping[str, Any] | str, field_name: str) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        return dict(spec)
    if spec not in ("low", "high"):
        raise ValueError(f"{field_name} must be 'low', 'high' or a dict of parameters, got {spec!r}")
    corner: dict[str, Any] = {}
    for name in family.parameters:
        parameter = family.parameters[name]
        if isinstance(parameter, (Continuous, Integer)) and parameter.varies_in_training:
            corner[name] = parameter.train[0 if spec == "low" else 1]
    return corner


# ------------------------------------------------------------------------------------------- named sequences
_SEQUENCES: dict[str, Callable[[], TaskSequence]] = {}


def register_sequence(name: str, build: Callable[[], TaskSequence]) -> None:
    """Make ``sequence(name)`` return ``build()`` (built on first use; the name is stored in the sequence)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    _SEQUENCES[name] = build


def sequences() -> list[str]:
    """The names of the shipped and registered task sequences."""
    return sorted(_SEQUENCES)


def sequence(name: str) -> TaskSequence:
    """The named task sequence (``ValueError`` naming close matches for an unknown name)."""
    if name not in _SEQUENCES:
        raise ValueError(f"name: {unknown_name('task sequence', name, sequences())}")
    built = _SEQUENCES[name]()
    return replace(built, name=name)


def _from_set(env_id: str, set_name: str, budget: int, description: str) -> Callable[[], TaskSequence]:
    def build() -> TaskSequence:
        family = family_of(env_id)
        tasks = [Task(family.name, t.params, name=f"{set_name}{i + 1}") for i, t in enumerate(family.task_set(set_name))]
        return TaskSequence(env_id, tasks, budget, description=description)

    return build


def _spread(env_id: str, n: int, budget: int) -> Callable[[], TaskSequence]:
    return lambda: TaskSequence.spread(env_id, n, budget, seed=0)


def _drift(env_id: str, n: int, budget: int) -> Callable[[], TaskSequence]:
    return lambda: TaskSequence.drift(env_id, n, budget)


# Budgets are per task, in environment steps, at full size. The control families use paper 002's Table 1 ranges
# (their training regions) and 150-step episodes.
for _name, _env_id, _n, _budget in [
    ("cartpole", "mtenvs/CartPole-v0", 5, 50_000),
    ("simplemass", "mtenvs/SimpleMass-v0", 5, 30_000),
    ("doublemass", "mtenvs/DoubleMass-v0", 5, 50_000),
    ("helicopter", "mtenvs/Helicopter-v0", 5, 50_000),
    ("linearmdp", "mtenvs/LinearMDP-v0", 5, 20_000),
]:
    register_sequence(f"{_name}-spread", _spread(_env_id, _n, _budget))
    if _name != "linearmdp":  # only the instance seed varies in training: there is no segment to drift along
        register_sequence(f"{_name}-drift", _drift(_env_id, _n, _budget))
register_sequence("gridworld-conflict", _from_set(
    "mtenvs/GridWorld-v0", "c", 30_000,
    "Paper 003's Fig. 2(c) layouts in order: the goal of one environment is an obstacle of another and vice versa, "
    "so a policy that solves one layout walks into an obstacle of the next."))
register_sequence("gridworld-resolvable", _from_set(
    "mtenvs/GridWorld-v0", "b", 30_000,
    "Paper 003's Fig. 2(b) layouts in order: an obstacle of one environment is the goal of another (a conflict "
    "one policy that sees the layout can resolve)."))
register_sequence("gridworld-aligned", _from_set(
    "mtenvs/GridWorld-v0", "a", 30_000,
    "Paper 003's Fig. 2(a) layouts in order: goals on one path from the top-left corner (no conflict)."))
