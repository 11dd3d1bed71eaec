"""``mtenvs.evaluate``: per-task returns of a policy, with regret and normalized score where an exact optimum exists.

::

    result = mtenvs.evaluate(model, "mtenvs/CartPole-v0", fam.task_set("test"), episodes=10, seed=0)
    result.mean_return, result.per_task[0].mean_return, result.per_task[0].stderr
    print(result.table())

All episodes of all tasks run at once in one vector env (one sub-env per task and episode), so evaluating 50
tasks × 10 episodes costs about as much as 500 steps of one batched env per step of episode length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from mtenvs.core.family import NoExactOptimum
from mtenvs.core.registry import family_of
from mtenvs.core.task import Task

__all__ = ["EvaluationResult", "Policy", "RandomPolicy", "TaskResult", "evaluate", "rollout_returns"]


@runtime_checkable
class Policy(Protocol):
    """Anything with SB3's ``predict``: a batch of observations in, ``(actions, state)`` out."""

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[Any, Any]:
        """Actions for a batch of observations."""
        ...


class RandomPolicy:
    """Uniformly random actions (a seeded copy of the action space); the ``random`` reference of normalized scores."""

    def __init__(self, action_space: gym.Space, seed: int | None = None) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[Any, Any]:
        """One random action per observation in the batch."""
        batch = len(next(iter(observation.values()))) if isinstance(observation, dict) else len(observation)
        return np.stack([self.action_space.sample() for _ in range(batch)]), None


PolicyLike = Policy | Callable[[Any], Any]


def _act(policy: PolicyLike, observations: Any, deterministic: bool) -> Any:
    if isinstance(policy, Policy):
        return policy.predict(observations, deterministic=deterministic)[0]
    if callable(policy):
        return policy(observations)
    raise ValueError(f"policy must have SB3's predict() or be a callable on a batch of observations, got {policy!r}")


def rollout_returns(
    policy: PolicyLike,
    env_id: str,
    tasks: Sequence[Task],
    *,
    seed: int | None = 0,
    deterministic: bool = True,
    env_kwargs: Mapping[str, Any] | None = None,
    vector_wrappers: Sequence[Callable[[VectorEnv], VectorEnv]] = (),
    max_steps: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return and length of one episode per entry of ``tasks`` (all run together in one vector env)."""
    venv: VectorEnv = gym.make_vec(env_id, num_envs=len(tasks), tasks=list(tasks),
                                   autoreset_mode=AutoresetMode.NEXT_STEP, **dict(env_kwargs or {}))
    for wrap in vector_wrappers:
        venv = wrap(venv)
    n = len(tasks)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    finished = np.zeros(n, dtype=bool)
    observations, _ = venv.reset(seed=seed)
    limit = max_steps if max_steps is not None else gym.spec(env_id).max_episode_steps
    steps = 0
    try:
        while not finished.all():
            if limit is not None and steps >= limit:
                raise RuntimeError(f"{env_id}: episodes did not end within {limit} steps; pass max_steps")
            actions = _act(policy, observations, deterministic)
            observations, rewards, terminated, truncated, _ = venv.step(actions)
            running = ~finished
            returns[running] += np.asarray(rewards, dtype=np.float64)[running]
            lengths[running] += 1
            finished |= np.asarray(terminated) | np.asarray(truncated)
            steps += 1
    finally:
        venv.close()
    return returns, lengths


@dataclass
class TaskResult:
    """Returns of one task, with its exact optimum and derived scores where the family has one."""

    task: Task
    returns: list[float]
    lengths: list[int]
    optimal_value: float | None = None
    random_return: float | None = None

    @property
    def mean_return(self) -> float:
        """Mean episode return."""
        return float(np.mean(self.returns))

    @property
    def stderr(self) -> float:
        """Standard error of the mean return (sample standard deviation / sqrt(episodes))."""
        n = len(self.returns)
        return float(np.std(self.returns, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")

    @property
    def regret(self) -> float | None:
        """``optimal_value - mean_return`` (``None`` without an exact optimum)."""
        return None if self.optimal_value is None else self.optimal_value - self.mean_return

    @property
    def normalized_score(self) -> float | None:
        """``(mean - random) / (optimal - random)``: 0 for the random policy, 1 for an optimal one."""
        if self.optimal_value is None or self.random_return is None:
            return None
        span = self.optimal_value - self.random_return
        return None if span == 0 else (self.mean_return - self.random_return) / span

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"task": self.task.to_dict(), "task_id": self.task.id, "mean_return": self.mean_return,
                "stderr": self.stderr, "episodes": len(self.returns), "returns": list(self.returns),
                "lengths": list(self.lengths), "optimal_value": self.optimal_value, "random_return": self.random_return,
                "regret": self.regret, "normalized_score": self.normalized_score}


@dataclass
class EvaluationResult:
    """Per-task results of `evaluate`."""

    env_id: str
    per_task: list[TaskResult] = field(default_factory=list)

    @property
    def mean_return(self) -> float:
        """Mean over tasks of the per-task mean returns."""
        return float(np.mean([r.mean_return for r in self.per_task]))

    @property
    def mean_regret(self) -> float | None:
        """Mean regret over tasks, or ``None`` without exact optima."""
        regrets = [r.regret for r in self.per_task]
        return None if any(r is None for r in regrets) else float(np.mean(regrets))  # type: ignore[arg-type]

    @property
    def mean_normalized_score(self) -> float | None:
        """Mean normalized score over tasks, or ``None`` without exact optima."""
        scores = [r.normalized_score for r in self.per_task]
        return None if any(s is None for s in scores) else float(np.mean(scores))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"env_id": self.env_id, "mean_return": self.mean_return, "mean_regret": self.mean_regret,
                "mean_normalized_score": self.mean_normalized_score, "per_task": [r.to_dict() for r in self.per_task]}

    def table(self) -> str:
        """A plain-text table, one row per task."""
        rows = [f"{'task':<24}{'return':>12}{'± s.e.':>10}{'optimum':>12}{'regret':>10}"]
        for r in self.per_task:
            optimum = "-" if r.optimal_value is None else f"{r.optimal_value:.3f}"
            regret = "-" if r.regret is None else f"{r.regret:.3f}"
            rows.append(f"{(r.task.name or r.task.id):<24}{r.mean_return:>12.3f}{r.stderr:>10.3f}{optimum:>12}{regret:>10}")
        return "\n".join(rows)


def evaluate(
    policy: PolicyLike,
    env_id: str,
    tasks: Sequence[Task | Mapping[str, Any]] | str,
    episodes: int = 10,
    *,
    seed: int | None = 0,
    deterministic: bool = True,
    env_kwargs: Mapping[str, Any] | None = None,
    vector_wrappers: Sequence[Callable[[VectorEnv], VectorEnv]] = (),
    max_steps: int | None = None,
) -> EvaluationResult:
    """Evaluate ``policy`` for ``episodes`` episodes on each task.

    Args:
        policy: an SB3 model (anything with ``predict``) or a callable mapping a batch of observations to a batch of
            actions.
        env_id: an mtenvs id.
        tasks: tasks, dicts of overrides, or a task-set name.
        episodes: episodes per task.
        seed: seeds the batched initial states (the same seed gives the same episodes for every policy).
        deterministic: passed to ``predict``.
        env_kwargs: environment settings (also passed to ``optimal_value``).
        vector_wrappers: applied to the vector env (e.g. task observability the policy was trained with).
        max_steps: safety limit on episode length for ids without a time limit.

    Returns:
        per-task mean return and standard error; where the family has an exact optimum also the optimal value,
        regret, and normalized score against a uniformly random policy run on the same episodes.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    family = family_of(env_id)
    task_list = list(family.task_set(tasks)) if isinstance(tasks, str) else [family.validate(t) for t in tasks]
    if not task_list:
        raise ValueError("tasks is empty")
    repeated = [t for t in task_list for _ in range(episodes)]
    kwargs = dict(env_kwargs or {})
    returns, lengths = rollout_returns(policy, env_id, repeated, seed=seed, deterministic=deterministic,
                                       env_kwargs=kwargs, vector_wrappers=vector_wrappers, max_steps=max_steps)
    random_returns = None
    if family.has_optimum:
        action_space = gym.make(env_id, **kwargs).action_space
        random_returns, _ = rollout_returns(RandomPolicy(action_space, seed), env_id, repeated, seed=seed,
                                            env_kwargs=kwargs, max_steps=max_steps)
    result = EvaluationResult(env_id)
    for k, task in enumerate(task_list):
        block = slice(k * episodes, (k + 1) * episodes)
        optimum = random_mean = None
        if family.has_optimum:
            try:
                optimum = float(family.optimal_value(task, max_episode_steps=gym.spec(env_id).max_episode_steps, **kwargs))
                random_mean = float(np.mean(random_returns[block]))  # type: ignore[index]
            except NoExactOptimum:
                optimum = random_mean = None
        result.per_task.append(TaskResult(task, returns[block].tolist(), lengths[block].tolist(), optimum, random_mean))
    return result
