"""The permutation-invariant policy as a stable-baselines3 actor-critic policy.

Usage (any env whose observation is ``Box(shape=(m, F))``, one row per entity, and whose action is ``Box(0, 1, (m,))``)::

    from agents.perminv import PermutationInvariantPolicy
    model = PPO(PermutationInvariantPolicy, venv,
                policy_kwargs={"features_extractor_kwargs": {"kind": "gru", "hidden": 10, "window": 5}})

Actor: the shared per-entity encoder (`EntityFeaturesExtractor`), the shared zero-initialised score head, and a
`DirichletDistribution` whose mean is ``softmax(scores)``. Critic: the mean of
the entity embeddings through a small MLP (permutation invariant). Untrained, the deterministic action is exactly the
uniform allocation ``1/m``; permuting the observation rows permutes the action and leaves the value unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from agents.perminv.distributions import DirichletDistribution
from agents.perminv.network import EncoderKind, EntityEncoder, PooledValueHead, ScoreHead, WindowLayout


def entity_shape(observation_space: spaces.Space, owner: str) -> tuple[int, int]:
    """``(m, F)`` of an entity-row observation space, or a ``ValueError``."""
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 2:
        raise ValueError(f"{owner}: the observation space must be Box(shape=(n_entities, n_features)), got {observation_space}")
    m, f = observation_space.shape
    return int(m), int(f)


class EntityFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor: the shared per-entity encoder, embeddings flattened to ``(batch, m * D)``.

    Arguments after ``observation_space`` are those of `EntityEncoder`.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        kind: EncoderKind = "gru",
        hidden: int = 25,
        window: int | None = None,
        step_features: int = 1,
        layout: WindowLayout = "step_major",
    ) -> None:
        m, n_features = entity_shape(observation_space, "EntityFeaturesExtractor")
        encoder = EntityEncoder(n_features, kind, hidden, window, step_features, layout)
        super().__init__(observation_space, features_dim=m * encoder.output_dim)
        self.encoder = encoder
        self.embedding_dim = encoder.output_dim

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(batch, m, F) -> (batch, m * D)``."""
        return self.encoder(observations).flatten(start_dim=1)


class EntityHeads(nn.Module):
    """Stands in for SB3's ``MlpExtractor``: actor latent = the entity embeddings, critic latent = pooled MLP."""

    def __init__(self, embedding_dim: int, critic_hidden: int) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.value_trunk = PooledValueHead(embedding_dim, critic_hidden)
        self.latent_dim_pi = embedding_dim
        self.latent_dim_vf = critic_hidden

    def _rows(self, features: torch.Tensor) -> torch.Tensor:
        return features.reshape(features.shape[0], -1, self.embedding_dim)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latent_pi, latent_vf)``."""
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, m, D)``."""
        return self._rows(features)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        """Invariant critic latent ``(batch, critic_hidden)``."""
        return self.value_trunk(self._rows(features))


class PermutationInvariantPolicy(ActorCriticPolicy):
    """Actor-critic policy with shared per-entity scoring, a softmax-mean Dirichlet, and a pooled critic.

    Args:
        observation_space: ``Box(shape=(m, F))``.
        action_space: ``Box(0, 1, shape=(m,))`` (weights; the environments normalise them).
        lr_schedule: SB3's learning-rate schedule.
        critic_hidden: width of the critic MLP over the mean embedding.
        concentration_init: initial Dirichlet precision κ per entity (exploration noise; see the distribution).
        features_extractor_kwargs: the encoder (``kind``, ``hidden``, ``window``, ``step_features``, ``layout``).
        **kwargs: further `ActorCriticPolicy` arguments (``optimizer_class``, ``optimizer_kwargs``...);
            ``net_arch``, ``ortho_init`` and the gSDE options do not apply.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        critic_hidden: int = 64,
        concentration_init: float = 10.0,
        features_extractor_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        m, _ = entity_shape(observation_space, "PermutationInvariantPolicy")
        if not isinstance(action_space, spaces.Box) or action_space.shape != (m,):
            raise ValueError(f"PermutationInvariantPolicy: the action space must be Box(0, 1, shape=({m},)), got {action_space}")
        if not concentration_init > 0:
            raise ValueError(f"PermutationInvariantPolicy: concentration_init must be > 0, got {concentration_init!r}")
        if kwargs.get("use_sde"):
            raise ValueError("PermutationInvariantPolicy: use_sde=True is not supported (the actions are Dirichlet)")
        kwargs.pop("features_extractor_class", None)
        # Plain attributes read by _build, which ActorCriticPolicy.__init__ calls.
        self.critic_hidden = critic_hidden
        self.concentration_init = float(concentration_init)
        super().__init__(observation_space, action_space, lr_schedule, features_extractor_class=EntityFeaturesExtractor,
                         features_extractor_kwargs=features_extractor_kwargs or {}, share_features_extractor=True,
                         ortho_init=False, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        """Networks and optimizer (replaces SB3's MLP heads by the per-entity ones)."""
        embedding_dim = self.features_extractor.embedding_dim  # type: ignore[attr-defined]
        self.mlp_extractor = EntityHeads(embedding_dim, self.critic_hidden)  # type: ignore[assignment]
        self.action_dist = DirichletDistribution(self.action_space.shape[0])  # type: ignore[index]
        self.action_net = ScoreHead(embedding_dim)  # zero-initialised: the untrained policy is uniform
        self.log_concentration = self.action_dist.proba_distribution_net(self.concentration_init)
        self.value_net = nn.Linear(self.critic_hidden, 1)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def _get_action_dist_from_latent(self, latent_pi: torch.Tensor) -> DirichletDistribution:  # type: ignore[override]
        return self.action_dist.proba_distribution(self.action_net(latent_pi), self.log_concentration)  # type: ignore[attr-defined]

    def scores(self, obs: torch.Tensor) -> torch.Tensor:
        """Per-entity scores (logits of the deterministic allocation) for a batch of observations."""
        features = self.extract_features(obs, self.pi_features_extractor)
        return self.action_net(self.mlp_extractor.forward_actor(features))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(critic_hidden=self.critic_hidden, concentration_init=self.concentration_init)
        for key in ("net_arch", "ortho_init", "use_sde", "log_std_init", "squash_output", "full_std", "use_expln",
                    "features_extractor_class"):
            data.pop(key, None)
        return data
