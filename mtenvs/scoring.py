"""Scoring against anchors, and the agent protocol's loader: shared by the benchmark suites and the continual suites.

A task's normalized score is ``(return - random) / (anchor - random)``: 0 is a uniformly random policy, 1 the
family's exact optimum where it has one, else its documented reference policy (`anchor_returns`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from mtenvs.core.family import NoExactOptimum
from mtenvs.core.registry import family_of
from mtenvs.core.task import Task
from mtenvs.evaluation import rollout_returns
from mtenvs.suites import SuiteEntry

__all__ = ["anchor_returns", "build_agent", "load_agent", "score_tasks"]


def score_tasks(returns: np.ndarray, random: np.ndarray, anchor: np.ndarray) -> list[float | None]:
    """Normalized scores ``(returns - random) / (anchor - random)`` per task; ``None`` where the span is zero."""
    scores: list[float | None] = []
    for r, low, high in zip(returns, random, anchor, strict=True):
        span = high - low
        scores.append(None if abs(span) < 1e-12 else float((r - low) / span))
    return scores


def anchor_returns(entry: SuiteEntry, tasks: Sequence[Task], episodes: int, seed: int) -> np.ndarray:
    """Per-task mean return of the score anchor: the exact optimum, or the reference policy on the same episodes."""
    family = family_of(entry.env_id)
    anchors = np.full(len(tasks), np.nan)
    if family.has_optimum:
        steps = gym.spec(entry.env_id).max_episode_steps
        for i, task in enumerate(tasks):
            try:
                anchors[i] = family.optimal_value(task, max_episode_steps=steps, **entry.env_kwargs)
            except NoExactOptimum:  # e.g. a control task whose optimal input would be clipped: use the reference
                if entry.reference is None:
                    raise
    missing = [i for i in range(len(tasks)) if np.isnan(anchors[i])]
    if not missing:
        return anchors
    if entry.reference is None or entry.reference not in family.reference_policies:
        raise ValueError(f"{entry.env_id}: no exact optimum; the suite entry must name one of the family's reference "
                         f"policies {sorted(family.reference_policies)} (got {entry.reference!r})")
    repeated = [tasks[i] for i in missing for _ in range(episodes)]
    policy = family.reference_policies[entry.reference](repeated)
    returns, _ = rollout_returns(policy, entry.env_id, repeated, seed=seed, env_kwargs=entry.env_kwargs)
    anchors[missing] = returns.reshape(len(missing), episodes).mean(axis=1)
    return anchors


def load_agent(reference: str) -> Any:
    """Import ``module:attribute`` (e.g. ``stable_baselines3:PPO``)."""
    module, sep, attribute = reference.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"--agent must look like module:attribute (e.g. stable_baselines3:PPO), got {reference!r}")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"--agent {reference!r}: cannot import it ({error})") from None


def build_agent(factory: Any, env: Any, seed: int) -> Any:
    """Instantiate an agent following the agent protocol of `mtenvs.benchmarking`."""
    from stable_baselines3.common.base_class import BaseAlgorithm

    if isinstance(factory, type) and issubclass(factory, BaseAlgorithm):
        policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
        from mtenvs.sb3 import without_log_folder

        return without_log_folder(factory(policy, env, seed=seed, device="cpu", verbose=0))
    agent = factory(env=env, seed=seed)
    for method in ("learn", "predict"):
        if not callable(getattr(agent, method, None)):
            raise ValueError(f"the agent built by {factory!r} has no {method}() method (see the agent protocol)")
    return agent
