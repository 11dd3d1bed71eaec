"""DCPG: decentralized entropy-regularized policy gradient (Zeng et al., UAI 2021), tabular (exact and Monte-Carlo)
and deep (REINFORCE / A2C / PPO on torch networks; loaded on first use, as it imports torch and stable-baselines3)."""

from agents.common.graphs import build_graph, mixing_matrix
from agents.dcpg.tabular import Evaluation, TabularDCPG, monte_carlo_gradient, theorem1_step_size

__all__ = ["DeepDCPG", "Evaluation", "Reinforce", "TabularDCPG", "build_graph", "mixing_matrix", "monte_carlo_gradient",
           "theorem1_step_size"]

_DEEP = {"DeepDCPG": "agents.dcpg.deep", "Reinforce": "agents.dcpg.reinforce"}


def __getattr__(name: str) -> object:
    if name in _DEEP:
        import importlib

        return getattr(importlib.import_module(_DEEP[name]), name)
    raise AttributeError(f"module 'agents.dcpg' has no attribute {name!r}")
