"""The task-family contract: parameters, tasks, families, samplers, base environments and registration."""

from mtenvs.core.env import TaskEnv
from mtenvs.core.family import NoExactOptimum, TaskFamily
from mtenvs.core.parameters import Categorical, Continuous, Integer, Parameter, ParameterSpace
from mtenvs.core.samplers import (
    EveryKEpisodes,
    FamilyDistribution,
    FixedTask,
    FunctionSampler,
    RoundRobin,
    TaskSampler,
    UniformTasks,
    WeightedTasks,
    as_sampler,
)
from mtenvs.core.task import Task, TaskSet
from mtenvs.core.vector import SyncTaskVectorEnv, TaskVectorEnv

__all__ = [
    "Categorical", "Continuous", "EveryKEpisodes", "FamilyDistribution", "FixedTask", "FunctionSampler", "Integer",
    "NoExactOptimum", "Parameter", "ParameterSpace", "RoundRobin", "SyncTaskVectorEnv", "Task", "TaskEnv",
    "TaskFamily", "TaskSampler", "TaskSet", "TaskVectorEnv", "UniformTasks", "WeightedTasks", "as_sampler",
]
