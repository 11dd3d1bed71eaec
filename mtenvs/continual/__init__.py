"""Continual learning over task families: task sequences, schedules, evaluation, metrics and suites.

::

    from mtenvs.continual import ContinualEvalCallback, SequenceEvaluator, make_continual_sb3_env, sequence

    seq = sequence("cartpole-drift").with_budget(10_000)
    evaluator = SequenceEvaluator(seq, episodes=5)
    PPO("MlpPolicy", make_continual_sb3_env(seq, seed=0)).learn(seq.total_steps,
                                                                callback=ContinualEvalCallback(evaluator))
    evaluator.results()["matrix"]   # R[i, j]: after training on task i, normalized performance on task j

See ``mtenvs.continual.metrics`` for the definitions of average performance, forgetting and forward transfer.
"""

from mtenvs.continual.callbacks import ContinualEvalCallback, SequenceEvaluator
from mtenvs.continual.metrics import (
    average_performance,
    backward_transfer,
    forgetting,
    forward_transfer,
    interval_estimate,
    zero_shot_transfer,
)
from mtenvs.continual.sequence import TaskSequence, register_sequence, sequence, sequences
from mtenvs.continual.wrappers import ContinualEnv, make_continual_sb3_env, make_continual_vector_env

__all__ = [
    "ContinualEnv",
    "ContinualEvalCallback",
    "SequenceEvaluator",
    "TaskSequence",
    "average_performance",
    "backward_transfer",
    "forgetting",
    "forward_transfer",
    "interval_estimate",
    "make_continual_sb3_env",
    "make_continual_vector_env",
    "register_sequence",
    "sequence",
    "sequences",
    "zero_shot_transfer",
]
