"""Least-squares value iteration for linear MDPs, and the cooperative methods of papers 000 and 001.

* `ridge` — ridge statistics Λ = λI + Σφφᵀ with incremental Λ⁻¹ and log det Λ;
* `core` — the LSVI backward pass with the elliptical bonus, episodes on finite linear MDPs;
* `distmt` — DistMT-LSVI (paper 000, Algorithms 1–4);
* `coop` — Coop-LSVI on parallel MDPs (paper 001, Algorithms 1 and 3): its agent, server, driver and baselines;
* `mmdp` — Coop-LSVI on a multi-agent MDP by random scalarizations (paper 001, Algorithm 2);
* `workers` — the agents and servers of papers 000 and 001 as workers (in process or Ray actors);
* `deployment` — the drivers' base: a method whose nodes are workers, and access to them;
* `theory` — the papers' formulas for β, K, T, communication and regret bounds.
"""

from agents.lsvi.coop import CoopHistory, CoopLSVI, HeterogeneousCoopLSVI, always_communicating, independent_agents
from agents.lsvi.core import (
    EnvSampler,
    EpisodeSampler,
    LinearQ,
    Optimism,
    TransitionBuffer,
    lsvi_backward,
    make_sampler,
    run_episode,
)
from agents.lsvi.distmt import DistMTLSVI, DistMTServer, exploration_phase, planning
from agents.lsvi.mmdp import MultiAgentCoopLSVI, bayes_regret, vector_policy_values
from agents.lsvi.ridge import RidgeStatistics, elliptical_norm

__all__ = [
    "CoopHistory",
    "CoopLSVI",
    "DistMTLSVI",
    "DistMTServer",
    "EnvSampler",
    "EpisodeSampler",
    "HeterogeneousCoopLSVI",
    "LinearQ",
    "MultiAgentCoopLSVI",
    "Optimism",
    "RidgeStatistics",
    "TransitionBuffer",
    "always_communicating",
    "bayes_regret",
    "elliptical_norm",
    "exploration_phase",
    "independent_agents",
    "lsvi_backward",
    "make_sampler",
    "planning",
    "run_episode",
    "vector_policy_values",
]
