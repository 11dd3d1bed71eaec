"""Periodic evaluation on every task of a sequence: a plain evaluator any learner can call, and an SB3 callback.

`SequenceEvaluator` rolls a policy out on every task of the sequence (the same seeded episodes every time)
and normalizes each task's mean return: ``(return - random) / (anchor - random)``, where ``random`` is a uniformly
random policy's return on the same episodes and ``anchor`` the task's exact optimum where the family has one
(``TaskFamily.optimal_value``), else the return of the family's documented reference policy (as the benchmark
suites do, see ``mtenvs.benchmarking``). So 1 is optimal and a random policy scores about 0.

The schedule of evaluations is ``eval_points`` per task: at steps ``budget * (i + k / eval_points)`` for
``k = 1 .. eval_points``, plus one at step 0 before any training. The last point of task ``i`` is row ``i`` of the
performance matrix; the points while task ``i`` is trained give its performance curve (forward transfer).

Any learner can drive it: call ``evaluator.maybe_record(step, policy)`` whenever it has taken environment steps
(it records every evaluation point passed), or ``evaluator.record(step, policy)`` directly. A learner with one
policy per task passes ``policy_for=lambda j: ...`` instead of ``policy``. For SB3, `ContinualEvalCallback`
does it from ``model.learn``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from mtenvs.continual.sequence import TaskSequence
from mtenvs.core.registry import family_of
from mtenvs.evaluation import PolicyLike, RandomPolicy, rollout_returns

__all__ = ["ContinualEvalCallback", "SequenceEvaluator"]


class SequenceEvaluator:
    """Evaluate policies on the tasks of ``sequence`` at the scheduled evaluation points.

    Args:
        sequence: the task sequence.
        episodes: evaluation episodes per task.
        seed: seeds the evaluation episodes (the same for every evaluation and every learner).
        eval_points: evaluations per task's budget (the last at the end of the task).
        reference: the family's reference policy used as anchor where there is no exact optimum (default: the
            family's only reference policy, if it has exactly one).
        tasks: evaluate only these task indices (default: all; a from-scratch reference learner of task ``i``
            needs only ``[i]``).

    Attributes:
        history: one dict per evaluation: ``step``, ``task_index`` (the task being trained), ``tasks``,
            ``returns`` and ``scores`` (one per evaluated task, ``None`` where the anchor equals the random return).
    """

    def __init__(self, sequence: TaskSequence, *, episodes: int = 5, seed: int = 0, eval_points: int = 4,
                 reference: str | None = None, tasks: Sequence[int] | None = None) -> None:
        for name, value in (("episodes", episodes), ("eval_points", eval_points)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if sequence.budget % eval_points:
            raise ValueError(f"eval_points: {eval_points} evaluations do not divide the budget of {sequence.budget} "
                             "steps evenly")
        self.sequence = sequence
        self.episodes, self.seed, self.eval_points = episodes, seed, eval_points
        self.tasks = list(range(len(sequence))) if tasks is None else [int(i) for i in tasks]
        if not self.tasks or any(not 0 <= i < len(sequence) for i in self.tasks):
            raise ValueError(f"tasks must be indices in 0..{len(sequence) - 1}, got {tasks!r}")
        family = family_of(sequence.env_id)
        if reference is None and len(family.reference_policies) == 1:
            reference = next(iter(family.reference_policies))
        self.reference = reference
        self.history: list[dict[str, Any]] = []
        self._random: np.ndarray | None = None
        self._anchor: np.ndarray | None = None

    # ------------------------------------------------------------------------------------------- schedule
    @property
    def points(self) -> list[int]:
        """Every evaluation step: 0, then ``eval_points`` per task."""
        interval = self.sequence.budget // self.eval_points
        return [k * interval for k in range(self.eval_points * len(self.sequence) + 1)]

    def due(self, step: int) -> list[int]:
        """The evaluation points up to ``step`` not recorded yet."""
        done = self.history[-1]["step"] if self.history else -1
        return [p for p in self.points if done < p <= step]

    # -------------------------------------------------------------------------------------------- anchors
    def _repeated(self) -> list[Any]:
        return [self.sequence.tasks[i] for i in self.tasks for _ in range(self.episodes)]

    def anchors(self) -> tuple[np.ndarray, np.ndarray]:
        """Per evaluated task: the random policy's mean return and the anchor (optimum or reference) return."""
        if self._random is None:
            from mtenvs.scoring import anchor_returns
            from mtenvs.suites import SuiteEntry

            seq = self.sequence
            action_space = gym.make(seq.env_id, **dict(seq.env_kwargs)).action_space
            random, _ = rollout_returns(RandomPolicy(action_space, self.seed), seq.env_id, self._repeated(),
                                        seed=self.seed, env_kwargs=seq.env_kwargs)
            self._random = random.reshape(len(self.tasks), self.episodes).mean(axis=1)
            entry = SuiteEntry(seq.env_id, env_kwargs=seq.env_kwargs, reference=self.reference)
            self._anchor = anchor_returns(entry, [seq.tasks[i] for i in self.tasks], self.episodes, self.seed)
        return self._random, self._anchor  # type: ignore[return-value]

    def normalize(self, returns: Sequence[float]) -> list[float | None]:
        """``(return - random) / (anchor - random)`` per evaluated task (``None`` where the two anchors agree)."""
        random, anchor = self.anchors()
        scores: list[float | None] = []
        for r, low, high in zip(returns, random, anchor, strict=True):
            span = high - low
            scores.append(None if abs(span) < 1e-12 else float((r - low) / span))
        return scores

    # ------------------------------------------------------------------------------------------ evaluating
    def returns(self, policy: PolicyLike | None = None, *,
                policy_for: Callable[[int], PolicyLike] | None = None) -> np.ndarray:
        """Mean return of ``policy`` (or of ``policy_for(j)`` on task ``j``) on each evaluated task."""
        if (policy is None) == (policy_for is None):
            raise ValueError("pass exactly one of policy and policy_for")
        seq = self.sequence
        if policy is not None:
            values, _ = rollout_returns(policy, seq.env_id, self._repeated(), seed=self.seed,
                                        env_kwargs=seq.env_kwargs)
            return values.reshape(len(self.tasks), self.episodes).mean(axis=1)
        means = []
        for j in self.tasks:
            values, _ = rollout_returns(policy_for(j), seq.env_id, [seq.tasks[j]] * self.episodes, seed=self.seed,
                                        env_kwargs=seq.env_kwargs)
            means.append(values.mean())
        return np.asarray(means)

    def record(self, step: int, policy: PolicyLike | None = None, *,
               policy_for: Callable[[int], PolicyLike] | None = None) -> dict[str, Any]:
        """Evaluate now and append the result to `history` (labelled with ``step``)."""
        returns = self.returns(policy, policy_for=policy_for)
        entry = {"step": int(step), "task_index": self.sequence.task_index(max(int(step) - 1, 0)),
                 "tasks": list(self.tasks), "returns": returns.tolist(), "scores": self.normalize(returns)}
        self.history.append(entry)
        return entry

    def maybe_record(self, step: int, policy: PolicyLike | None = None, *,
                     policy_for: Callable[[int], PolicyLike] | None = None) -> list[dict[str, Any]]:
        """Record one evaluation for every evaluation point passed since the last one (labelled with its point)."""
        return [self.record(point, policy, policy_for=policy_for) for point in self.due(step)]

    # ------------------------------------------------------------------------------------------- results
    def results(self) -> dict[str, Any]:
        """The evaluations as JSON: ``history``, the anchors, and ``matrix`` (rows: after each task) if complete."""
        random, anchor = self.anchors()
        document: dict[str, Any] = {"sequence": self.sequence.name, "tasks": list(self.tasks),
                                    "random": random.tolist(), "anchor": anchor.tolist(), "history": self.history}
        ends = {e["step"]: e for e in self.history}
        rows = [ends.get(self.sequence.budget * (i + 1)) for i in range(len(self.sequence))]
        if all(r is not None for r in rows):
            document["matrix"] = [r["scores"] for r in rows]  # type: ignore[index]
        return document


class ContinualEvalCallback(BaseCallback):
    """Evaluate an SB3 model on every task of a sequence at the evaluator's points during ``model.learn``.

    The model must be trained on the sequence's schedule (e.g. `mtenvs.continual.make_continual_sb3_env`),
    so that ``model.num_timesteps`` is the sequence's step count. An evaluation point is recorded at the first
    step at which ``num_timesteps`` reaches it; the points at the ends of tasks are reached exactly when the budget
    is a multiple of the number of sub-environments.
    """

    def __init__(self, evaluator: SequenceEvaluator, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.evaluator = evaluator

    def _on_training_start(self) -> None:
        self.evaluator.maybe_record(self.num_timesteps, self.model)

    def _on_step(self) -> bool:
        for entry in self.evaluator.maybe_record(self.num_timesteps, self.model):
            if self.verbose:
                print(f"step {entry['step']}: scores {entry['scores']}")
        return True
