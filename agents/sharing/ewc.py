"""DQN with elastic weight consolidation, the lifelong-learning model of paper 000 §4.

The loss of one gradient step is SB3's DQN loss plus the EWC penalty

    L(w) = Huber(Q_w(s, a), r + γ (1 - d) max_a' Q_target(s', a'))  +  (λ/2) Σ_j F_j (w_j - w*_j)²          (EWC)

where ``F`` is the diagonal Fisher information accumulated over the tasks learned so far and ``w*`` the Q-network
weights at the end of the latest task ("online EWC": one anchor, summed Fisher). At a task's end,
`EWCDQN.consolidate` estimates ``F_task = mean_i (∂ℓ_i/∂w)²`` from the per-sample TD-loss gradients on replay
samples (the empirical Fisher), adds it to ``F`` and moves the anchor to the current weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import polyak_update
from torch.nn import functional as F

__all__ = ["EWCDQN"]


class EWCDQN(DQN):
    """SB3 `DQN` whose training loss adds the EWC penalty.

    Args:
        policy: the policy, as for `DQN`.
        env: the environment, as for `DQN`.
        ewc_lambda: λ of the penalty (default 100, our choice: the paper gives none); ``0`` gives plain DQN.
        **kwargs: every other `DQN` argument.

    Attributes:
        fisher: the accumulated diagonal Fisher, one tensor per Q-network parameter (``None`` before the first task).
        anchor: the consolidated weights ``w*`` (``None`` before the first task).
    """

    def __init__(self, policy: Any, env: Any, ewc_lambda: float = 100.0, _init_setup_model: bool = True,
                 **kwargs: Any) -> None:
        if not (np.isfinite(ewc_lambda) and ewc_lambda >= 0):
            raise ValueError(f"ewc_lambda must be a finite number >= 0, got {ewc_lambda!r}")
        self.ewc_lambda = float(ewc_lambda)
        self.fisher: list[th.Tensor] | None = None
        self.anchor: list[th.Tensor] | None = None
        super().__init__(policy, env, _init_setup_model=_init_setup_model, **kwargs)

    # --- the penalty ---------------------------------------------------------------------------------------------

    def ewc_penalty(self) -> th.Tensor:
        """``(λ/2) Σ_j F_j (w_j - w*_j)²`` over the online Q-network's parameters (0 before any consolidation)."""
        if self.fisher is None or self.anchor is None:
            return th.zeros((), device=self.device)
        total = th.zeros((), device=self.device)
        for f, w, w_star in zip(self.fisher, self.q_net.parameters(), self.anchor, strict=True):
            total = total + (f * (w - w_star) ** 2).sum()
        return 0.5 * self.ewc_lambda * total

    def set_fisher(self, fisher: list[th.Tensor], anchor: list[th.Tensor]) -> None:
        """Set ``F`` and ``w*`` directly (shapes must match the Q-network's parameters)."""
        shapes = [tuple(p.shape) for p in self.q_net.parameters()]
        for name, tensors in (("fisher", fisher), ("anchor", anchor)):
            if [tuple(t.shape) for t in tensors] != shapes:
                raise ValueError(f"{name} shapes must match the Q-network parameters {shapes}")
        self.fisher = [t.detach().clone().to(self.device) for t in fisher]
        self.anchor = [t.detach().clone().to(self.device) for t in anchor]

    # --- training: SB3 2.9 DQN.train with the penalty added (stable_baselines3/dqn/dqn.py, DQN.train) -----------

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """SB3's DQN update, with ``loss = Huber TD loss + EWC penalty`` (the penalty is skipped while it is 0)."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        use_penalty = self.ewc_lambda > 0 and self.fisher is not None

        losses, penalties = [], []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
            with th.no_grad():
                next_q_values = self.q_net_target(replay_data.next_observations)
                next_q_values, _ = next_q_values.max(dim=1)
                next_q_values = next_q_values.reshape(-1, 1)
                target_q_values = replay_data.rewards + (1 - replay_data.dones) * discounts * next_q_values
            current_q_values = self.q_net(replay_data.observations)
            current_q_values = th.gather(current_q_values, dim=1, index=replay_data.actions.long())
            loss = F.smooth_l1_loss(current_q_values, target_q_values)
            losses.append(loss.item())
            if use_penalty:  # (EWC)
                penalty = self.ewc_penalty()
                penalties.append(penalty.item())
                loss = loss + penalty

            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))
        if penalties:
            self.logger.record("train/ewc_penalty", np.mean(penalties))

    # --- Fisher information ---------------------------------------------------------------------------------------

    def per_sample_gradients(self, n_samples: int) -> list[th.Tensor]:
        """Per-sample TD-loss gradients on ``n_samples`` replay samples: one ``(n, *param.shape)`` tensor per parameter.

        Uses ``torch.func`` (``vmap`` of ``grad`` over a functional call) instead of ``n`` backward passes.
        """
        if self.replay_buffer is None or self.replay_buffer.size() == 0:
            raise ValueError("the replay buffer is empty; consolidate after learning a task")
        data = self.replay_buffer.sample(int(n_samples), env=self._vec_normalize_env)
        discounts = data.discounts if data.discounts is not None else self.gamma
        with th.no_grad():
            next_q = self.q_net_target(data.next_observations).max(dim=1).values.reshape(-1, 1)
            targets = data.rewards + (1 - data.dones) * discounts * next_q
        names = [name for name, _ in self.q_net.named_parameters()]
        params = {name: p.detach() for name, p in self.q_net.named_parameters()}

        def sample_loss(p: dict[str, th.Tensor], obs: th.Tensor, action: th.Tensor, target: th.Tensor) -> th.Tensor:
            q = th.func.functional_call(self.q_net, p, (obs.unsqueeze(0),))
            return F.smooth_l1_loss(th.gather(q, 1, action.long().reshape(1, 1)).reshape(()), target)

        grads = th.func.vmap(th.func.grad(sample_loss), in_dims=(None, 0, 0, 0))(
            params, data.observations, data.actions.reshape(-1), targets.reshape(-1))
        return [grads[name] for name in names]

    def fisher_diagonal(self, n_samples: int = 1000) -> list[th.Tensor]:
        """The empirical diagonal Fisher ``mean_i (∂ℓ_i/∂w)²`` on ``n_samples`` replay samples."""
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
        return [(g**2).mean(dim=0) for g in self.per_sample_gradients(n_samples)]

    def consolidate(self, n_samples: int = 1000) -> None:
        """End of a task: ``F <- F + F_task`` and ``w* <- w`` (the Fisher information accumulates over tasks)."""
        new = self.fisher_diagonal(n_samples)
        self.fisher = new if self.fisher is None else [f + n for f, n in zip(self.fisher, new, strict=True)]
        self.anchor = [p.detach().clone() for p in self.q_net.parameters()]

    # --- replay from a borrowed buffer ------------------------------------------------------------------------------

    def offline_train(self, gradient_steps: int) -> None:
        """``gradient_steps`` updates on the replay buffer alone (no environment steps), syncing the target network
        as often per update as online training does (every ``target_update_interval / train_freq`` updates)."""
        if gradient_steps < 0:
            raise ValueError(f"gradient_steps must be >= 0, got {gradient_steps!r}")
        if gradient_steps == 0:
            return
        if getattr(self, "_logger", None) is None:  # no learn() yet: a silent logger for train()'s records
            self.set_logger(Logger(folder=None, output_formats=[]))
        per_sync = max(1, int(self.target_update_interval) // max(1, int(self.train_freq.frequency)))
        done = 0
        while done < gradient_steps:
            steps = min(per_sync, gradient_steps - done)
            self.train(steps, self.batch_size)
            polyak_update(self.q_net.parameters(), self.q_net_target.parameters(), self.tau)
            polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
            done += steps
