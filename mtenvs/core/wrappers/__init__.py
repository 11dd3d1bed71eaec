"""Wrappers for task families. Every wrapper keeps observations inside its declared space.

* task observability: `TaskObservation` / `VectorTaskObservation` (hidden, normalized
  parameters, one-hot, dict);
* task schedules: `TaskSchedule` (the sampler hook for curricula; for vector envs pass the sampler as
  ``gym.make_vec(..., tasks=sampler)``);
* per-task episode statistics: `TaskEpisodeStatistics` / `VectorTaskEpisodeStatistics`
  (``info["episode"]`` with ``task_id``, per-task buffers);
* within-episode parameter drift: `ParameterDrift` with the schedules `linear`,
  `sinusoid` and `piecewise` (single environments);
* entity permutation: `EntityPermutation` (single environments).
"""

from mtenvs.core.wrappers.drift import ParameterDrift, RangedSchedule, linear, piecewise, sinusoid
from mtenvs.core.wrappers.observation import TaskEncoding, TaskObservation, VectorTaskObservation
from mtenvs.core.wrappers.permutation import EntityPermutation
from mtenvs.core.wrappers.schedule import TaskSchedule
from mtenvs.core.wrappers.statistics import PerTaskStatistics, TaskEpisodeStatistics, VectorTaskEpisodeStatistics

__all__ = [
    "EntityPermutation",
    "ParameterDrift",
    "PerTaskStatistics",
    "RangedSchedule",
    "TaskEncoding",
    "TaskEpisodeStatistics",
    "TaskObservation",
    "TaskSchedule",
    "VectorTaskEpisodeStatistics",
    "VectorTaskObservation",
    "linear",
    "piecewise",
    "sinusoid",
]
