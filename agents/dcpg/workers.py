"""DCPG's agents, re-exported from the modules of their algorithms (older imports and checkpoints name them here).

* `TabularAgentWorker` (with `EnvEpisodes`, `ModelEpisodes` and `monte_carlo_gradient`) is defined beside tabular
  DCPG in `agents.dcpg.tabular`: one agent's episodes, its Monte-Carlo gradient and Eq. 9.
* `DeepAgentWorker` is defined beside deep DCPG in `agents.dcpg.deep`: one agent's stable-baselines3 learner, its
  local step and Eq. 9. It is loaded on first use (it imports torch and stable-baselines3), so importing this module
  for the tabular agent never loads them.
"""

from __future__ import annotations

import importlib

from agents.dcpg.tabular import EnvEpisodes, ModelEpisodes, TabularAgentWorker, monte_carlo_gradient

__all__ = ["DeepAgentWorker", "EnvEpisodes", "ModelEpisodes", "TabularAgentWorker", "monte_carlo_gradient"]  # noqa: F822

#: Names defined in `agents.dcpg.deep` (the last two are named by the learner pickles of older checkpoints).
_DEEP = ("DeepAgentWorker", "_LearnerPickler", "_rebuild_vec_env_wrapper")


def __getattr__(name: str) -> object:
    if name in _DEEP:
        return getattr(importlib.import_module("agents.dcpg.deep"), name)
    raise AttributeError(f"module 'agents.dcpg.workers' has no attribute {name!r}")
