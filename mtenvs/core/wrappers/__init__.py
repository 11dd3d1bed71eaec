"""Wrappers for task families. Every wrapper keeps observations inside its declared space.

* task observability: :class:`TaskObservation` / :class:`VectorTaskObservation` (hidden, normalized
  parameters, one-hot, dict);
* task schedules: :class:`TaskSchedule` (the sampler hook for curricula; for vector envs pass the sampler as
  ``gym.make_vec(..., tasks=sampler)``);
* per-task episode statistics: :class:`TaskEpisodeStatistics` / :class:`VectorTaskEpisodeStatistics`
  (``info["episode"]`` with ``task_id``, per-task buffers);
* within-episode parameter drift: :class:`ParameterDrift` with the schedules :func:`linear`,
  :func:`sinusoid` and :func:`piecewise` (single environments);
* entity permutation: :class:`EntityPermutation` (single environments).
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
