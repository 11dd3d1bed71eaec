"""Public wrappers of mtenvs (``import mtenvs.wrappers`` or ``mtenvs.wrappers.TaskObservation``).

See :mod:`mtenvs.core.wrappers` for what each one does.
"""

from mtenvs.core.wrappers import (
    EntityPermutation,
    ParameterDrift,
    PerTaskStatistics,
    RangedSchedule,
    TaskEncoding,
    TaskEpisodeStatistics,
    TaskObservation,
    TaskSchedule,
    VectorTaskEpisodeStatistics,
    VectorTaskObservation,
    linear,
    piecewise,
    sinusoid,
)

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
