"""Which task each agent runs: the constructor's ``tasks`` and the per-episode ``options["tasks"]``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mtenvs.core.family import TaskFamily
from mtenvs.core.task import Task, TaskSet

#: What ``parallel_env(tasks=...)`` accepts: one task (``Task`` or dict of overrides) per agent, or a task set.
AgentTasks = Sequence[Task | Mapping[str, Any]] | TaskSet | str

#: Reset option keys the multi-agent env accepts. ``"options"`` is the probe PettingZoo's own ``api_test`` and
#: ``parallel_api_test`` send (``reset(seed=0, options={"options": 1})``) to check that ``reset`` takes options;
#: it carries nothing and is ignored. Any other key is an error.
RESET_OPTIONS = frozenset({"tasks", "options"})


def _validated(family: TaskFamily, task: Any, where: str) -> Task:
    """``family.validate(task)`` with the error message prefixed by where the task came from."""
    try:
        return family.validate(task)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def agent_tasks(family: TaskFamily, tasks: AgentTasks, num_agents: int | None = None) -> list[Task]:
    """The validated task of every agent.

    ``tasks`` is a list (one ``Task`` or dict of overrides per agent; ``num_agents``, if given, must equal its
    length), a `TaskSet` (agent ``i`` gets task ``i``; all of them unless ``num_agents`` is given), or the
    name of one of the family's task sets together with ``num_agents``.

    Raises:
        ValueError: empty list, a bad entry (the message names ``tasks[i]`` and the parameter), an unknown set
            name, a set smaller than ``num_agents``, or a bad ``num_agents``.
    """
    if num_agents is not None:
        num_agents = _positive_int(num_agents, "num_agents")
    if isinstance(tasks, str):
        if num_agents is None:
            raise ValueError(f"tasks={tasks!r} names a task set: pass num_agents=N as well (agent i gets task i)")
        tasks = family.task_set(tasks)
    if isinstance(tasks, TaskSet):
        wanted = len(tasks) if num_agents is None else num_agents
        if len(tasks) < wanted:
            raise ValueError(f"task set {tasks.name!r} has {len(tasks)} tasks, fewer than num_agents={wanted}")
        return [_validated(family, task, f"task set {tasks.name!r}[{i}]") for i, task in enumerate(tasks[:wanted])]
    if not isinstance(tasks, (list, tuple)):
        raise ValueError("tasks must be a list with one task (Task or dict of parameters) per agent, a TaskSet, "
                         f"or a task-set name with num_agents; got {type(tasks).__name__}")
    if not tasks:
        raise ValueError("tasks is empty: give one task per agent (at least one agent)")
    if num_agents is not None and num_agents != len(tasks):
        raise ValueError(f"num_agents={num_agents} but tasks lists {len(tasks)} tasks; give one task per agent")
    return [_validated(family, task, f"tasks[{i}]") for i, task in enumerate(tasks)]


def episode_tasks(family: TaskFamily, options: Any, num_agents: int) -> list[Task | None]:
    """The task overrides of one episode from ``reset(options=...)``: one entry per agent, ``None`` = no override.

    ``options["tasks"]`` is a list with one entry per agent: a ``Task``, a dict of overrides, or ``None`` to keep
    that agent's own task. Everything is validated before any agent is reset.

    Raises:
        ValueError: ``options`` not a dict, an unknown key, ``tasks`` not a list of ``num_agents`` entries, or a
            bad entry (the message names ``options['tasks'][i]``).
    """
    if options is None:
        return [None] * num_agents
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict (or None), got {type(options).__name__}")
    unknown = set(options) - RESET_OPTIONS
    if unknown:
        raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: ['tasks']")
    overrides = options.get("tasks")
    if overrides is None:
        return [None] * num_agents
    if not isinstance(overrides, (list, tuple)) or len(overrides) != num_agents:
        got = f"{len(overrides)} entries" if isinstance(overrides, (list, tuple)) else type(overrides).__name__
        raise ValueError(f"options['tasks'] must be a list of {num_agents} tasks (one per agent, None to keep an "
                         f"agent's own task), got {got}")
    return [None if task is None else _validated(family, task, f"options['tasks'][{i}]")
            for i, task in enumerate(overrides)]
