"""Permutation-invariant multi-task learning for resource allocation (paper 004).

* `network`: the shared per-entity encoder (MLP, tanh RNN or GRU over a window), the
  zero-initialised score head and the softmax allocation (`PermutationInvariantNet`);
* `policy`: the same network as a stable-baselines3 actor-critic policy with a Dirichlet on the
  simplex (`PermutationInvariantPolicy`);
* `sampler`: prioritized task sampling with IS weights (`PrioritizedTasks`);
* `ppo`: PPO with per-sample task IS weights (`ISPPO`);
* `lspi`: LSPI for the synthetic allocation task (`AllocationLSPI`);
* `direct_pg`: Algorithm 1 with the direct policy gradient through the portfolio reward
  (`PortfolioPG`), and portfolio evaluation in ``mtenvs/Portfolio-v0``.
"""

from agents.perminv.direct_pg import PortfolioPG, PortfolioPolicy, PortfolioTaskData, evaluate_portfolio, portfolio_net
from agents.perminv.distributions import DirichletDistribution
from agents.perminv.lspi import AllocationLSPI, allocation_features, simplex_action_set
from agents.perminv.network import EntityEncoder, PermutationInvariantNet, PooledValueHead, ScoreHead
from agents.perminv.policy import EntityFeaturesExtractor, PermutationInvariantPolicy
from agents.perminv.ppo import ISPPO, TaskWeightedRolloutBuffer, reward_variance
from agents.perminv.sampler import PrioritizedTasks

__all__ = [
    "ISPPO",
    "AllocationLSPI",
    "DirichletDistribution",
    "EntityEncoder",
    "EntityFeaturesExtractor",
    "PermutationInvariantNet",
    "PermutationInvariantPolicy",
    "PooledValueHead",
    "PortfolioPG",
    "PortfolioPolicy",
    "PortfolioTaskData",
    "PrioritizedTasks",
    "ScoreHead",
    "TaskWeightedRolloutBuffer",
    "allocation_features",
    "evaluate_portfolio",
    "portfolio_net",
    "reward_variance",
    "simplex_action_set",
]
