"""mtenvs: multi-task and contextual-MDP environments for Gymnasium, with the methods of five papers.

``import mtenvs`` registers every environment id (``mtenvs/<Family>-v<N>``) with Gymnasium.
Heavier parts load on first use: ``mtenvs.sb3`` (stable-baselines3), ``mtenvs.multiagent`` (PettingZoo),
``mtenvs.wrappers`` and ``mtenvs.evaluate``.
"""

from __future__ import annotations

import importlib
from typing import Any

from mtenvs import atari, control, entities, federated, gridworld, linear, navigation, portfolio  # noqa: F401  (importing a family registers it)
from mtenvs.core.family import NoExactOptimum, TaskFamily
from mtenvs.core.registry import env_ids, families, family, family_of
from mtenvs.core.samplers import TaskSampler
from mtenvs.core.task import Task, TaskSet

__version__ = "0.1.0"

_LAZY_MODULES = {"sb3", "multiagent", "wrappers", "evaluation"}

__all__ = [
    "NoExactOptimum",
    "Task",
    "TaskFamily",
    "TaskSampler",
    "TaskSet",
    "__version__",
    "env_ids",
    "evaluate",
    "families",
    "family",
    "family_of",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"mtenvs.{name}")
    if name == "evaluate":
        return importlib.import_module("mtenvs.evaluation").evaluate
    raise AttributeError(f"module 'mtenvs' has no attribute {name!r}")
