"""REINFORCE (Williams 1992) on stable-baselines3's on-policy machinery, for deep DCPG's REINFORCE variant.

stable-baselines3 has A2C and PPO but no REINFORCE, so this subclass of ``OnPolicyAlgorithm`` adds one; rollouts,
the rollout buffer, the policy network and the optimizer are SB3's. The loss is paper 003's (App. C.1):
``-mean_t log pi(a_t|s_t) G_t - ent_coef * mean_t bonus(s_t)``, where ``G_t`` is the every-visit
Monte-Carlo discounted return and the bonus is the policy's regularizer output (see
`agents.dcpg.policies.RegularizedActorCriticPolicy`). There is no baseline: the value head is set to zero
and never trained, so the buffer's returns (GAE with ``lambda = 1``) are plain discounted returns, truncated at the
end of a rollout.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from gymnasium import spaces
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, BasePolicy


class Reinforce(OnPolicyAlgorithm):
    """Monte-Carlo policy gradient with an SB3 face: ``Reinforce("MlpPolicy", env).learn(10_000)``.

    Args:
        policy: an SB3 actor-critic policy class or alias (its value head is unused).
        env: the environment (SB3 ``VecEnv`` or Gymnasium env).
        learning_rate: Adam step size.
        n_steps: steps per sub-env per update.
        gamma: discount factor of the returns.
        ent_coef: weight of the policy's regularizer bonus (paper 003's ``lambda``).
        max_grad_norm: gradient clipping.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": ActorCriticPolicy, "CnnPolicy": ActorCriticCnnPolicy}

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: Any,
        learning_rate: float = 1e-4,
        n_steps: int = 128,
        gamma: float = 0.99,
        ent_coef: float = 0.0,
        max_grad_norm: float = 0.5,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            policy, env, learning_rate=learning_rate, n_steps=n_steps, gamma=gamma, gae_lambda=1.0, ent_coef=ent_coef,
            vf_coef=0.0, max_grad_norm=max_grad_norm, use_sde=False, sde_sample_freq=-1, policy_kwargs=policy_kwargs,
            seed=seed, device=device, verbose=verbose, _init_setup_model=False,
            supported_action_spaces=(spaces.Discrete, spaces.MultiDiscrete, spaces.Box),
        )
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        with torch.no_grad():  # V = 0: no baseline, and no bootstrap at the end of a rollout
            self.policy.value_net.weight.zero_()
            self.policy.value_net.bias.zero_()

    def train(self) -> None:
        """One gradient step on the whole rollout."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        for data in self.rollout_buffer.get(batch_size=None):
            actions = data.actions.long().flatten() if isinstance(self.action_space, spaces.Discrete) else data.actions
            _, log_prob, bonus = self.policy.evaluate_actions(data.observations, actions)
            policy_loss = -(log_prob * data.returns).mean()
            bonus_loss = -bonus.mean() if bonus is not None else torch.zeros(())
            loss = policy_loss + self.ent_coef * bonus_loss
            self.policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += 1
        self.logger.record("train/policy_loss", policy_loss.item())
        self.logger.record("train/regularizer_loss", bonus_loss.item())
        self.logger.record("train/n_updates", self._n_updates)
