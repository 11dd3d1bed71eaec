"""A tiny test-only family with a closed-form optimum: walk right along a chain to its end.

It has no native vector env (it uses the ``SyncTaskVectorEnv`` fallback) and an exact ``optimal_value``, so it
exercises the parts of the contract the cart-pole family does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import TaskEnv, discrete_action
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, Integer, ParameterSpace
from mtenvs.core.registry import register_env, register_family
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for

MAX_LENGTH = 10


class ChainFamily(TaskFamily):
    """Optimal return: walk right every step, paying ``step_cost`` for each of the ``length - 1`` steps."""

    def optimal_value(self, task: Any, **env_kwargs: Any) -> float:
        task = self.validate(task)
        return -task["step_cost"] * (task["length"] - 1)


FAMILY = ChainFamily("ToyChain", ParameterSpace([
    Integer("length", 4, bounds=(2, MAX_LENGTH), train=(3, 6), description="number of cells"),
    Continuous("step_cost", 1.0, bounds=(0.1, 3.0), train=(0.5, 1.5), description="cost of every step"),
]), set_sizes={"train": 8, "test": 8, "ood": 8})


class ChainEnv(TaskEnv[np.ndarray, int]):
    """Start in cell 0; action 1 moves right, 0 moves left (not below 0); the episode ends in the last cell."""

    family = FAMILY
    metadata = {"render_modes": []}

    def __init__(self, task: Any = None, *, tasks: Any = None, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (MAX_LENGTH,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._position: int | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self._length = task["length"]
        self._cost = task["step_cost"]

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        given = options.get("state")
        self._position = 0 if given is None else discrete_action(given, self._length, "ToyChain reset option 'state'")
        return self._observation()

    def _observation(self) -> np.ndarray:
        obs = np.zeros(MAX_LENGTH, dtype=np.float32)
        obs[self._position] = 1.0
        return obs

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._position is None:
            self._require_reset()
        move = 1 if discrete_action(action, 2, "ToyChain") == 1 else -1
        self._position = min(max(self._position + move, 0), self._length - 1)  # type: ignore[operator]
        return self._observation(), -self._cost, self._position == self._length - 1, False, self._info()

    @property
    def state(self) -> int | None:
        """Current cell."""
        return self._position


ChainVectorEnv = vector_env_for(ChainEnv, "ChainVectorEnv")

register_family("ToyChain", "toy_family:FAMILY")
register_env("ToyChain", "ToyChain", entry_point="toy_family:ChainEnv", vector_entry_point="toy_family:ChainVectorEnv",
             max_episode_steps=50)
