"""PG-ELLA and GO-MTL driven through a task sequence of ``mtenvs.continual``, one task at a time.

Paper 002's lifelong setting has tasks arrive one after another; here task ``i`` of the sequence is the only one
sampled while its budget lasts (``iterations = budget // (n_trajectories * horizon)`` iterations of
``n_trajectories`` trajectories of ``horizon`` steps), as a continual learner would see it:

* PG-ELLA makes one online visit of task ``i`` per iteration (`agents.lifelong.PGELLA.visit`): the other
  tasks keep their stored operating points and Hessians, and every seen task's policy follows the new basis;
* GO-MTL re-fits basis and codes over every task seen so far (`agents.lifelong.GOMTL.fit`) with task ``i``'s
  fresh operating point and the stored points of the earlier tasks (it cannot sample them again).

Each task's policy is the greedy (mean) action of its linear policy ``theta_j``, so evaluation on task ``j`` uses
``theta_j``: these methods know which task they act on. The evaluator (``mtenvs.continual.SequenceEvaluator``) is
called after every iteration with the environment steps used so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.lifelong.go_mtl import GOMTL
from agents.lifelong.pg_ella import PGELLA
from agents.lifelong.policy import BatchSampler

__all__ = ["SequentialLifelong"]


class SequentialLifelong:
    """A PG-ELLA or GO-MTL learner over the tasks of ``sequence``, trained one task at a time.

    Args:
        method: ``"PG-ELLA"`` or ``"GO-MTL"``.
        sequence: a ``mtenvs.continual.TaskSequence``.
        seed: seeds the rollouts and the learner.
        **kwargs: the learner's arguments (``n_trajectories``, ``horizon``, ``sigma``, ``step_size``,
            ``latent_dim``, ``mu1``, ``mu2``, ...).
    """

    METHODS = {"PG-ELLA": PGELLA, "GO-MTL": GOMTL}

    def __init__(self, method: str, sequence: Any, *, seed: int = 0, **kwargs: Any) -> None:
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {sorted(self.METHODS)}, got {method!r}")
        self.method, self.sequence = method, sequence
        kwargs.setdefault("env_kwargs", dict(sequence.env_kwargs))
        self.learner = self.METHODS[method](sequence.env_id, list(sequence.tasks), seed=seed, **kwargs)
        self.steps_per_iteration = self.learner.n_trajectories * self.learner.horizon
        if sequence.budget < self.steps_per_iteration:
            raise ValueError(f"budget: {sequence.budget} steps per task is less than one iteration "
                             f"({self.steps_per_iteration} steps)")
        space = self.learner.sampler.env.single_action_space if self.learner.sampler else None
        self._low = None if space is None else np.broadcast_to(space.low, space.shape).reshape(-1)
        self._high = None if space is None else np.broadcast_to(space.high, space.shape).reshape(-1)
        self.steps = 0

    @property
    def iterations_per_task(self) -> int:
        """Iterations that fit in one task's budget."""
        return self.sequence.budget // self.steps_per_iteration

    def policy_for(self, j: int) -> Callable[[np.ndarray], np.ndarray]:
        """The greedy policy of task ``j``: a batch of observations in, a batch of clipped mean actions out."""
        learner = self.learner
        theta = learner.thetas[j].copy()

        def act(observations: np.ndarray) -> np.ndarray:
            x = np.asarray(observations, dtype=float).reshape(len(observations), -1)
            u = learner.policy.mean(np.repeat(theta[None], len(x), axis=0), x)
            return np.clip(u, self._low, self._high).astype(np.float32)

        return act

    def learn_task(self, i: int, evaluator: Any = None) -> None:
        """Train on task ``i`` for its budget; after every iteration call ``evaluator.maybe_record(steps, ...)``."""
        learner = self.learner
        sampler = BatchSampler(self.sequence.env_id, [self.sequence.tasks[i]], learner.n_trajectories,
                               learner.horizon, learner.env_kwargs)
        try:
            for _ in range(self.iterations_per_task):
                traj = sampler.sample(learner.policy, learner.thetas[i:i + 1], learner.rng)
                if isinstance(learner, GOMTL):
                    point = learner.natural_gradient_point(traj, learner.thetas[i])
                    learner._stored[i] = point
                    learner.seen[i] = True
                    seen = [int(j) for j in np.flatnonzero(learner.seen)]
                    learner.fit(seen, [learner._stored[j] for j in seen])
                else:
                    learner.visit(i, traj)
                self.steps += self.steps_per_iteration
                if evaluator is not None:
                    evaluator.maybe_record(self.steps, policy_for=self.policy_for)
        finally:
            sampler.close()
        # the rest of the budget (less than one iteration) is not used; the schedule moves on at the budget
        self.steps = (i + 1) * self.sequence.budget
        if evaluator is not None:
            evaluator.maybe_record(self.steps, policy_for=self.policy_for)

    def learn(self, evaluator: Any = None) -> SequentialLifelong:
        """Train through the whole sequence (evaluating at step 0 first)."""
        if evaluator is not None:
            evaluator.maybe_record(0, policy_for=self.policy_for)
        for i in range(len(self.sequence)):
            self.learn_task(i, evaluator)
        return self

    def close(self) -> None:
        """Release the learner's environments."""
        self.learner.close()
