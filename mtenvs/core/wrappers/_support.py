"""Shared checks for the wrappers: which family an environment runs and which task each sub-env is on."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.vector import SyncVectorEnv, VectorEnv

from mtenvs.core.env import TaskEnv
from mtenvs.core.family import TaskFamily
from mtenvs.core.task import Task


def family_of_env(env: gym.Env, owner: str) -> TaskFamily:
    """The family of a single environment whose ``unwrapped`` is a `TaskEnv`, or a ``ValueError``."""
    base = env.unwrapped
    if not isinstance(base, TaskEnv):
        raise ValueError(f"{owner} needs an mtenvs family environment (env.unwrapped a TaskEnv), got {type(base).__name__}")
    return base.family


def _sync_sub_envs(env: VectorEnv) -> list[gym.Env] | None:
    base = env.unwrapped
    return list(base.envs) if isinstance(base, SyncVectorEnv) else None


def family_of_vector_env(env: VectorEnv, owner: str) -> TaskFamily:
    """The family of a native `TaskVectorEnv` or of a ``SyncVectorEnv`` of family envs."""
    base = env.unwrapped
    family = getattr(base, "family", None)
    if isinstance(family, TaskFamily):
        return family
    sub_envs = _sync_sub_envs(env)
    if sub_envs:
        return family_of_env(sub_envs[0], owner)
    raise ValueError(
        f"{owner} needs an mtenvs vector environment (gym.make_vec of an mtenvs id, or a SyncVectorEnv of family "
        f"environments), got {type(base).__name__}"
    )


def current_tasks(env: VectorEnv) -> list[Task]:
    """The current task of every sub-env (``env.unwrapped.tasks``, or each sub-env's task for a plain ``SyncVectorEnv``)."""
    base: Any = env.unwrapped
    tasks = getattr(base, "tasks", None)
    if tasks is not None:
        return list(tasks)
    return [sub.unwrapped.task for sub in _sync_sub_envs(env) or ()]  # type: ignore[attr-defined]
