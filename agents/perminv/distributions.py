"""A Dirichlet action distribution on the simplex, in stable-baselines3's ``Distribution`` interface.

Why a Dirichlet (and not SB3's Gaussian): the allocation lives on the probability simplex, and the environments take
``Box(0, 1)`` weights. A Dirichlet's samples are on the simplex already, so nothing is clipped and the stored action
is the executed one; its log-density is exact. A Gaussian over scores followed by a softmax has no tractable density
of the executed weights, and a Gaussian over the weights is clipped by SB3 (biasing the gradient).

Parameterisation: concentration ``c = m · κ · softmax(s)`` with per-entity scores ``s`` and one shared, learned
precision ``κ = exp(log_concentration)`` (the analogue of SB3's shared ``log_std``). Then

* the mean ``E[a] = softmax(s)`` is the paper's deterministic policy, used as the deterministic action;
* a permutation of the scores permutes the concentration, so the distribution is permutation equivariant;
* ``Var[a_i] = μ_i (1 − μ_i) / (m κ + 1)``: κ sets the exploration noise, the same for every entity.
"""

from __future__ import annotations

import torch
from stable_baselines3.common.distributions import Distribution
from torch import nn

#: Smallest concentration (very small ones make float32 gamma samples underflow to exactly zero).
MIN_CONCENTRATION = 1e-2
#: Smallest weight a sample may have before its log-density is evaluated (log 0 = -inf).
MIN_WEIGHT = 1e-6


def on_simplex(weights: torch.Tensor) -> torch.Tensor:
    """``weights`` clamped to ``[MIN_WEIGHT, 1]`` and renormalised over the last axis."""
    clamped = weights.clamp(min=MIN_WEIGHT, max=1.0)
    return clamped / clamped.sum(dim=-1, keepdim=True)


class DirichletDistribution(Distribution):
    """Dirichlet over ``n_entities`` weights with concentration ``n_entities · κ · softmax(scores)``."""

    def __init__(self, n_entities: int) -> None:
        super().__init__()
        self.n_entities = n_entities
        self.distribution: torch.distributions.Dirichlet

    def proba_distribution_net(self, concentration_init: float = 10.0) -> nn.Parameter:
        """The shared learned ``log κ`` (the score network itself is the caller's)."""
        return nn.Parameter(torch.tensor(float(torch.log(torch.tensor(concentration_init)))), requires_grad=True)

    def proba_distribution(self, scores: torch.Tensor, log_concentration: torch.Tensor) -> DirichletDistribution:
        """Set the distribution for a batch of scores ``(batch, m)``."""
        self.mean_weights = torch.softmax(scores, dim=-1)
        m = scores.shape[-1]
        concentration = (m * log_concentration.exp() * self.mean_weights).clamp(min=MIN_CONCENTRATION)
        self.distribution = torch.distributions.Dirichlet(concentration, validate_args=False)
        return self

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-density of weight vectors (clamped away from the simplex faces first)."""
        return self.distribution.log_prob(on_simplex(actions))

    def entropy(self) -> torch.Tensor:
        """Differential entropy of the Dirichlet."""
        return self.distribution.entropy()

    def sample(self) -> torch.Tensor:
        """A reparameterised sample on the simplex."""
        return on_simplex(self.distribution.rsample())

    def mode(self) -> torch.Tensor:
        """The deterministic action: the mean ``softmax(s)`` (the Dirichlet's mode does not exist for c_i < 1)."""
        return self.mean_weights

    def actions_from_params(self, scores: torch.Tensor, log_concentration: torch.Tensor,
                            deterministic: bool = False) -> torch.Tensor:
        """Actions for given parameters."""
        self.proba_distribution(scores, log_concentration)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(self, scores: torch.Tensor, log_concentration: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled actions and their log-density."""
        actions = self.actions_from_params(scores, log_concentration)
        return actions, self.log_prob(actions)
