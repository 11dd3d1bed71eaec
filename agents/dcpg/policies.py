"""Networks of deep DCPG (paper 003, Sec. 5.2): a small C3F2-style depth-image policy with the paper's regularizer.

The paper's drone policy is PEDRA's "5-layer" C3F2 network (3 convolutions, 2 fully connected layers) on 103 x 103
images. `DepthCNN` keeps that shape, scaled to the small depth images of ``mtenvs/DroneNav-v0``: three
convolutions as stable-baselines3 features extractor, then one hidden layer per head and the output layer
(``net_arch``). `RegularizedActorCriticPolicy` is SB3's actor-critic policy whose "entropy" output is
replaced by the negative relative entropy of Eq. (6), so that SB3's ``ent_coef`` term becomes the paper's
``lambda * RE`` (SB3's own term is the Shannon entropy, the other direction of the KL divergence).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

Regularizer = Literal["relative_entropy", "entropy"]


class DepthCNN(BaseFeaturesExtractor):
    """Three convolutions over a ``(C, H, W)`` image (SB3 scales uint8 images to [0, 1] beforehand).

    Args:
        observation_space: an image ``Box`` of shape ``(C, H, W)``.
        channels: filters of the three convolution layers.
    """

    def __init__(self, observation_space: spaces.Box, channels: tuple[int, int, int] = (8, 16, 16)) -> None:
        in_channels = observation_space.shape[0]
        cnn = torch.nn.Sequential(
            torch.nn.Conv2d(in_channels, channels[0], kernel_size=3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(channels[0], channels[1], kernel_size=3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(channels[1], channels[2], kernel_size=3, stride=1, padding=1), torch.nn.ReLU(),
            torch.nn.Flatten(),
        )
        with torch.no_grad():
            size = cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        super().__init__(observation_space, features_dim=size)
        self.cnn = cnn

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Flattened convolution features."""
        return self.cnn(observations)


def negative_relative_entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """``-KL(U_A, pi(.|s)) = (1/|A|) sum_a log pi(a|s) + log|A|`` per state (Eq. 6 for one visited state; <= 0)."""
    return log_probs.mean(dim=-1) + math.log(log_probs.shape[-1])


class RegularizedActorCriticPolicy(ActorCriticPolicy):
    """SB3's actor-critic policy whose third output of `evaluate_actions` is the regularizer's "bonus".

    With ``regularizer="relative_entropy"`` (the paper's, Eqs. 6-7) it is ``-RE(pi(.|s))`` of each state, so SB3's
    loss term ``-ent_coef * mean(bonus)`` equals ``lambda * RE_hat``, the relative entropy averaged over the visited
    states (the paper averages over all states, which a deep agent cannot enumerate). ``"entropy"`` keeps SB3's
    Shannon entropy. Extra keyword: ``regularizer``; the rest are `ActorCriticPolicy`'s.
    """

    def __init__(self, *args: Any, regularizer: Regularizer = "relative_entropy", **kwargs: Any) -> None:
        if regularizer not in ("relative_entropy", "entropy"):
            raise ValueError(f"regularizer must be 'relative_entropy' or 'entropy', got {regularizer!r}")
        self.regularizer = regularizer
        super().__init__(*args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "regularizer": self.regularizer}

    def evaluate_actions(self, obs: Any, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities of ``actions`` and the regularizer bonus, as in SB3's method."""
        features = self.extract_features(obs)
        if self.share_features_extractor:
            latent_pi, latent_vf = self.mlp_extractor(features)
        else:
            pi_features, vf_features = features
            latent_pi = self.mlp_extractor.forward_actor(pi_features)
            latent_vf = self.mlp_extractor.forward_critic(vf_features)
        distribution = self._get_action_dist_from_latent(latent_pi)
        log_prob = distribution.log_prob(actions)
        values = self.value_net(latent_vf)
        if self.regularizer == "entropy":
            return values, log_prob, distribution.entropy()
        # torch's Categorical stores normalized logits, i.e. log pi(a|s) for every action.
        return values, log_prob, negative_relative_entropy(distribution.distribution.logits)
