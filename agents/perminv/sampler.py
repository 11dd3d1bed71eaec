"""Prioritized task sampling with importance-sampling weights (paper 004, Sec. 5 and Algorithm 1).

Each task ``t`` of a finite set keeps a difficulty score ``s_t``. The task to train on is drawn with

    p_t = (s_t + ε)^α / Σ_t' (s_t' + ε)^α                       (stochastic prioritisation; α = 0 is uniform)

and the update on its samples is weighted by

    w_t = (T · p_t)^(−β) / max_t' (T · p_t')^(−β)                (importance-sampling correction, max w = 1)

After an update on task ``t`` only that task's score moves, by exponential smoothing of the scorer's value on the
minibatch just used:

    s_t ← γ_s · s_t + (1 − γ_s) · scorer(B_t)                   (γ_s = ``score_smoothing``, 0.2 in the paper)

The paper's defaults: α = 0.5, β = 1, γ_s = 0.2; initial scores are not given (1.0 here, "max priority" as for new
items in prioritized replay), and ``ε = 1e-6`` keeps ``p`` defined when scores are 0.

As an `mtenvs.TaskSampler` it plugs into any environment (``gym.make(id, tasks=sampler)``,
``gym.make_vec(..., tasks=sampler)``) and into `mtenvs.core.wrappers.TaskSchedule`, whose end-of-episode
`update` hook scores a task by the variance of its episode returns (the paper's generic "reward variance"
scorer). Learners that score their own minibatches (direct policy gradient, IS-PPO) call `update_score`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from mtenvs.core.samplers import TaskSampler
from mtenvs.core.task import Task, TaskSet

if TYPE_CHECKING:
    from mtenvs.core.family import TaskFamily

EpisodeScorer = Callable[[float, int], float]


def _number(value: object, name: str, low: float, high: float = math.inf, *, open_low: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` if ``open_low``), else a ``ValueError`` naming it."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        number = float(value)  # type: ignore[arg-type]
        ok = math.isfinite(number) and (number > low if open_low else number >= low) and number <= high
    if not ok:
        bounds = f"{'(' if open_low else '['}{low}, {high}{']' if math.isfinite(high) else ')'}"
        raise ValueError(f"PrioritizedTasks: {name} must be a finite number in {bounds}, got {value!r}")
    return number


class PrioritizedTasks(TaskSampler):
    """Draw tasks with probability ``p ∝ (s + ε)^α`` and expose the IS weights ``(T p)^−β / max`` (module docstring).

    Args:
        tasks: the finite task set (a ``TaskSet`` or a sequence of tasks).
        alpha: priority exponent α ≥ 0 (0 = uniform; paper: 0.5).
        is_beta: importance-sampling exponent β ≥ 0 (paper: 1, full correction).
        score_smoothing: γ_s in [0, 1), the weight of the old score (paper: 0.2).
        initial_score: every task's score before it is first scored (> 0).
        eps: ε ≥ 0 added to every score before the power (must be > 0 when a score can be 0 and α > 0).
        episode_scorer: the scorer used by `update` (``fn(episode_return, episode_length) -> score``); by
            default the squared deviation of the episode return from the mean of the task's earlier returns, so the
            smoothed score tracks the variance of the task's returns.

    Raises:
        ValueError: for an empty task set or a hyperparameter outside its range.
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        alpha: float = 0.5,
        is_beta: float = 1.0,
        score_smoothing: float = 0.2,
        initial_score: float = 1.0,
        eps: float = 1e-6,
        episode_scorer: EpisodeScorer | None = None,
    ) -> None:
        if len(tasks) == 0:
            raise ValueError("PrioritizedTasks: tasks must contain at least one task")
        self.alpha = _number(alpha, "alpha", 0.0)
        self.is_beta = _number(is_beta, "is_beta", 0.0)
        self.score_smoothing = _number(score_smoothing, "score_smoothing", 0.0, 1.0)
        if self.score_smoothing == 1.0:
            raise ValueError("PrioritizedTasks: score_smoothing must be in [0, 1), got 1.0 (scores would never change)")
        self.initial_score = _number(initial_score, "initial_score", 0.0, open_low=True)
        self.eps = _number(eps, "eps", 0.0)
        self.episode_scorer = episode_scorer
        self.name = tasks.name if isinstance(tasks, TaskSet) else None
        self._set_support(tuple(tasks))
        #: The score s_t of every task, in the order of `support`.
        self.scores = np.full(len(self.support), self.initial_score, dtype=np.float64)
        self._return_count = np.zeros(len(self.support), dtype=np.int64)
        self._return_mean = np.zeros(len(self.support), dtype=np.float64)

    def _set_support(self, tasks: tuple[Task, ...]) -> None:
        self.support = tasks
        self._index = {task: i for i, task in enumerate(tasks)}
        self._id_index = {task.id: i for i, task in enumerate(tasks)}

    def __len__(self) -> int:
        return len(self.support)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"PrioritizedTasks({self.name or len(self)}, alpha={self.alpha}, is_beta={self.is_beta})"

    # ------------------------------------------------------------------------------------------ the formulas
    def probabilities(self) -> np.ndarray:
        """``p_t = (s_t + ε)^α / Σ (s_t' + ε)^α`` for every task (float64, sums to 1)."""
        priorities = (self.scores + self.eps) ** self.alpha
        total = priorities.sum()
        if not (math.isfinite(total) and total > 0):
            raise ValueError("PrioritizedTasks: all priorities are zero; use eps > 0 when scores can be 0")
        return priorities / total

    def is_weights(self) -> np.ndarray:
        """``w_t = (T p_t)^−β / max_t' (T p_t')^−β`` for every task (float64, max 1)."""
        weights = (len(self) * self.probabilities()) ** (-self.is_beta)
        return weights / weights.max()

    def index(self, task: Task | str | int) -> int:
        """Position of a task (a `Task`, its id, or already an index) in `support`."""
        if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
            if not 0 <= task < len(self):
                raise ValueError(f"PrioritizedTasks: task index must be in [0, {len(self) - 1}], got {task}")
            return int(task)
        found = self._index.get(task) if isinstance(task, Task) else self._id_index.get(task)  # type: ignore[arg-type]
        if found is None:
            raise ValueError(f"PrioritizedTasks: {task!r} is not one of the sampler's {len(self)} tasks")
        return found

    def positions(self, task_ids: list[str | None]) -> list[int]:
        """Positions of tasks given by id in `support`, ``-1`` for ids that are not the sampler's."""
        return [self._id_index.get(task_id, -1) if task_id is not None else -1 for task_id in task_ids]

    # ---------------------------------------------------------------------------------------------- drawing
    def sample(self, rng: np.random.Generator) -> Task:
        """A task drawn with probabilities `probabilities` (Algorithm 1: "select a task t ~ p")."""
        return self.support[int(rng.choice(len(self), p=self.probabilities()))]  # type: ignore[index]

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws as indices into `support`."""
        return rng.choice(len(self), size=n, p=self.probabilities())

    # --------------------------------------------------------------------------------------------- learning
    def update_score(self, task: Task | str | int, score: float) -> None:
        """``s_t ← γ_s s_t + (1 − γ_s) score`` for one task (Algorithm 1, after the update on its minibatch)."""
        t = self.index(task)
        value = _number(score, "score", 0.0)
        self.scores[t] = self.score_smoothing * self.scores[t] + (1.0 - self.score_smoothing) * value

    def update(self, task: Task, episode_return: float, episode_length: int) -> None:
        """End-of-episode hook (``TaskSchedule``): score the task with ``episode_scorer`` (see the class docstring).

        With the default scorer the first episode of a task only starts its running mean of returns.
        """
        t = self.index(task)
        if self.episode_scorer is not None:
            self.update_score(t, self.episode_scorer(float(episode_return), int(episode_length)))
            return
        count = self._return_count[t]
        if count > 0:
            self.update_score(t, (float(episode_return) - self._return_mean[t]) ** 2)
        self._return_count[t] = count + 1
        self._return_mean[t] += (float(episode_return) - self._return_mean[t]) / (count + 1)

    def bind(self, family: TaskFamily) -> TaskSampler:
        """Validate the tasks against ``family`` (scores are kept)."""
        self._set_support(tuple(family.validate(t) for t in self.support))  # type: ignore[union-attr]
        return self
