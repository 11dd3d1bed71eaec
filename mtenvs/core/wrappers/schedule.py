"""Task schedules: a sampler chooses the task of every episode and hears how the episode went.

``TaskSchedule(env, sampler)`` is the hook that curricula plug into. At every reset that does not name a
task in ``options["task"]`` it asks ``sampler.sample(rng)`` for one and passes it down as ``options["task"]``;
at the end of that episode (``terminated or truncated``) it calls
``sampler.update(task, episode_return, episode_length)``.

How this differs from ``gym.make(id, tasks=sampler)``: the environment draws from the sampler in the same
way (same generator, so the same seed gives the same task stream), but never calls ``update``, so a
sampler that learns from outcomes (a curriculum, prioritized task sampling) needs this wrapper.

Vector environments: pass the sampler to the vector env, ``gym.make_vec(id, num_envs=N, tasks=sampler)``;
every sub-env then draws its task from it at each (auto)reset. The vector env does not report outcomes to
the sampler; to drive a curriculum from a vector env, read the finished episodes from
`VectorTaskEpisodeStatistics` (``infos["episode"]`` holds each episode's
return, length and ``task_id``) and call ``sampler.update`` yourself.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mtenvs.core.samplers import TaskSampler, TaskSpec, as_sampler
from mtenvs.core.seeding import task_generator
from mtenvs.core.task import Task
from mtenvs.core.wrappers._support import family_of_env


class TaskSchedule(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Choose each episode's task with ``sampler`` and feed the episode's outcome back to it.

    The task generator is `mtenvs.core.seeding.task_generator` of the reset seed (the one the
    environment itself would use), kept across unseeded resets; a seeded reset also calls
    ``sampler.restart()``. So ``reset(seed=s)`` reproduces the whole task stream, whatever the policy does.

    A reset with ``options["task"]`` runs that task and leaves the sampler alone: that episode is neither
    drawn from the sampler nor reported to it. An episode abandoned by a reset before it ends is not
    reported either. ``info`` is passed through unchanged (``info["task"]`` is the episode's task).

    Args:
        env: an mtenvs family environment (``env.unwrapped`` is a ``TaskEnv``).
        sampler: a `TaskSampler` (``FixedTask``, ``UniformTasks``,
            ``WeightedTasks``, ``RoundRobin``, ``EveryKEpisodes``, ``FamilyDistribution``, ``FunctionSampler``
            or your own subclass), or anything ``tasks=`` accepts (a task-set name, a list of tasks, ...).
    """

    def __init__(self, env: gym.Env, sampler: TaskSampler | TaskSpec) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, sampler=sampler)
        gym.Wrapper.__init__(self, env)
        family = family_of_env(env, "TaskSchedule")
        if sampler is None:
            raise ValueError("TaskSchedule: sampler must be a TaskSampler, a task-set name or a list of tasks, got None")
        #: The sampler that chooses the tasks (bound to the environment's family).
        self.sampler: TaskSampler = as_sampler(sampler, family)
        self._rng: np.random.Generator | None = None
        self._episode_task: Task | None = None
        self._return = 0.0
        self._length = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset on the sampler's next task (unless ``options["task"]`` names one)."""
        if seed is not None or self._rng is None:
            self._rng = task_generator(seed)
            self.sampler.restart()
        options = dict(options or {})
        if options.get("task") is None:
            task = self.sampler.sample(self._rng)
            options["task"] = task
        else:
            task = None
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode_task = task
        self._return = 0.0
        self._length = 0
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step, and at the end of a sampled episode report its return and length to the sampler."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if (terminated or truncated) and self._episode_task is not None:
            task, self._episode_task = self._episode_task, None
            self.sampler.update(task, self._return, self._length)
        return obs, reward, terminated, truncated, info
