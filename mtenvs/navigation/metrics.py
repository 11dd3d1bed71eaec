"""Mean safe flight (MSF): the distance a policy flies before it crashes, paper 003's drone metric."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mtenvs.core.registry import family_of
from mtenvs.core.task import Task
from mtenvs.evaluation import PolicyLike, rollout_returns


def safe_flight_distances(
    policy: PolicyLike,
    tasks: Sequence[Task | Mapping[str, Any]] | str,
    episodes: int = 10,
    *,
    env_id: str = "mtenvs/DroneNav-v0",
    seed: int | None = 0,
    deterministic: bool = False,
    env_kwargs: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
) -> np.ndarray:
    """Horizontal distance flown in each of ``episodes`` episodes per task, shape ``(len(tasks), episodes)``.

    A drone flies ``speed`` metres every step, so an episode of ``L`` steps covers ``L * speed`` metres; an
    episode cut by the time limit counts the distance flown until then. Actions are sampled (``deterministic=False``),
    as PEDRA's tests do (the paper's drone experiments run on PEDRA, Sec. 5.2).
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    family = family_of(env_id)
    task_list = list(family.task_set(tasks)) if isinstance(tasks, str) else [family.validate(t) for t in tasks]
    repeated = [t for t in task_list for _ in range(episodes)]
    _, lengths = rollout_returns(policy, env_id, repeated, seed=seed, deterministic=deterministic,
                                 env_kwargs=env_kwargs, max_steps=max_steps)
    speeds = np.array([t["speed"] for t in repeated])
    return (lengths * speeds).reshape(len(task_list), episodes)
