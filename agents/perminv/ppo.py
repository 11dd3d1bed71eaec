"""PPO with per-sample task importance weights (paper 004, Algorithm 1 with PPO as the base learner).

Each rollout sample remembers the task it came from (``info["task_id"]``, which every mtenvs step info carries).
Before an update the sample's weight is the task's IS weight ``w_t = (T p_t)^−β / max w`` from a
`PrioritizedTasks`, and the per-sample PPO loss is multiplied by it **after** the
advantages are normalised (normalisation within a minibatch would otherwise undo a scaling of the rewards)::

    L = mean_k w_k · [ −min(r_k Â_k, clip(r_k, 1 ± ε) Â_k) + c_v (R_k − V_k)² − c_e H_k ]

With every weight equal to 1 this is exactly stable-baselines3's PPO loss. After the update on a rollout, each task
seen in it is scored by the variance of its rewards in the rollout (the paper's generic scorer) and its score is
smoothed into the sampler (``s_t ← γ_s s_t + (1 − γ_s) scorer(B_t)``), which changes the tasks the environments
draw next when they share the sampler (``make_vec_env(id, n, tasks=sampler)``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.common.vec_env import VecNormalize
from torch.nn import functional as F

from agents.perminv.sampler import PrioritizedTasks

TaskScorer = Callable[[np.ndarray], float]


class WeightedRolloutBufferSamples(NamedTuple):
    """SB3's ``RolloutBufferSamples`` plus the per-sample importance weights."""

    observations: torch.Tensor
    actions: torch.Tensor
    old_values: torch.Tensor
    old_log_prob: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    weights: torch.Tensor


class TaskWeightedRolloutBuffer(RolloutBuffer):
    """A rollout buffer that also stores each sample's task index (``-1``: not a sampler task) and IS weight (1)."""

    task_indices: np.ndarray
    weights: np.ndarray

    def reset(self) -> None:
        super().reset()
        self.task_indices = np.full((self.buffer_size, self.n_envs), -1, dtype=np.int64)
        self.weights = np.ones((self.buffer_size, self.n_envs), dtype=np.float32)

    def get(self, batch_size: int | None = None) -> Generator[WeightedRolloutBufferSamples, None, None]:  # type: ignore[override]
        if not self.generator_ready:
            self.weights = self.swap_and_flatten(self.weights)
        # The parent draws the same permutation from NumPy's global generator, so batches match SB3's exactly.
        yield from super().get(batch_size)  # type: ignore[misc]

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> WeightedRolloutBufferSamples:  # type: ignore[override]
        base = super()._get_samples(batch_inds, env)
        return WeightedRolloutBufferSamples(*base, weights=self.to_torch(self.weights[batch_inds].flatten()))


def reward_variance(rewards: np.ndarray) -> float:
    """The paper's generic task scorer: the variance of the rewards of the task's samples."""
    return float(np.var(rewards))


class ISPPO(PPO):
    """stable-baselines3 PPO whose per-sample losses are multiplied by task importance weights.

    Args:
        policy: as for PPO (e.g. `PermutationInvariantPolicy` or ``"MlpPolicy"``).
        env: an SB3 ``VecEnv`` whose step infos carry ``task_id`` (every mtenvs env does); for prioritized sampling
            build it with the same sampler: ``mtenvs.sb3.make_vec_env(id, n, tasks=sampler)``.
        sampler: the task prioritizer giving the IS weights and receiving the scores; ``None`` = every weight is 1
            (plain PPO).
        task_scorer: ``fn(rewards of one task in the rollout) -> score``; default `reward_variance`.
        **kwargs: PPO's arguments.
    """

    def __init__(
        self,
        policy: Any,
        env: Any,
        sampler: PrioritizedTasks | None = None,
        task_scorer: TaskScorer = reward_variance,
        **kwargs: Any,
    ) -> None:
        if sampler is not None and not isinstance(sampler, PrioritizedTasks):
            raise ValueError(f"ISPPO: sampler must be a PrioritizedTasks or None, got {type(sampler).__name__}")
        if kwargs.get("rollout_buffer_class") not in (None, TaskWeightedRolloutBuffer):
            raise ValueError("ISPPO: rollout_buffer_class is fixed to TaskWeightedRolloutBuffer")
        kwargs["rollout_buffer_class"] = TaskWeightedRolloutBuffer
        self.sampler = sampler
        self.task_scorer = task_scorer
        super().__init__(policy, env, **kwargs)

    # ---------------------------------------------------------------------------------- task bookkeeping
    def _update_info_buffer(self, infos: list[dict[str, Any]], dones: np.ndarray | None = None) -> None:
        """Also record the task of each sample about to be added (SB3 calls this right before ``buffer.add``)."""
        super()._update_info_buffer(infos, dones)
        buffer = self.rollout_buffer
        if self.sampler is None or not isinstance(buffer, TaskWeightedRolloutBuffer) or buffer.pos >= buffer.buffer_size:
            return
        buffer.task_indices[buffer.pos] = self.sampler.positions([info.get("task_id") for info in infos])

    def assign_weights(self, buffer: TaskWeightedRolloutBuffer) -> None:
        """Set every sample's weight to its task's current IS weight (1 for samples of unknown tasks)."""
        if self.sampler is None:
            buffer.weights[...] = 1.0
            return
        table = np.append(self.sampler.is_weights(), 1.0).astype(np.float32)  # index -1 -> the appended 1
        buffer.weights = table[buffer.task_indices]

    def score_tasks(self, buffer: TaskWeightedRolloutBuffer) -> dict[int, float]:
        """Score each task seen in the rollout and smooth the scores into the sampler; returns the raw scores."""
        if self.sampler is None:
            return {}
        scores: dict[int, float] = {}
        for t in np.unique(buffer.task_indices):
            if t >= 0:
                scores[int(t)] = float(self.task_scorer(buffer.rewards[buffer.task_indices == t]))
                self.sampler.update_score(int(t), scores[int(t)])
        return scores

    # --------------------------------------------------------------------------------------------- update
    def train(self) -> None:
        """SB3's PPO update with the per-sample loss multiplied by the IS weight (after advantage normalisation)."""
        buffer = self.rollout_buffer
        assert isinstance(buffer, TaskWeightedRolloutBuffer)
        self.assign_weights(buffer)
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        clip_range_vf = None if self.clip_range_vf is None else self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]

        entropy_losses, pg_losses, value_losses, clip_fractions = [], [], [], []
        approx_kl_divs: list[float] = []
        continue_training = True
        loss = torch.zeros(())
        for _epoch in range(self.n_epochs):
            approx_kl_divs = []
            for data in buffer.get(self.batch_size):
                actions = data.actions.long().flatten() if isinstance(self.action_space, spaces.Discrete) else data.actions
                values, log_prob, entropy = self.policy.evaluate_actions(data.observations, actions)
                values = values.flatten()
                advantages = data.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                w = data.weights  # IS weights enter after the normalisation
                ratio = torch.exp(log_prob - data.old_log_prob)
                surrogate = torch.min(advantages * ratio, advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range))
                policy_loss = -(w * surrogate).mean()
                pg_losses.append(policy_loss.item())
                clip_fractions.append(torch.mean((torch.abs(ratio - 1) > clip_range).float()).item())
                values_pred = values if clip_range_vf is None else (
                    data.old_values + torch.clamp(values - data.old_values, -clip_range_vf, clip_range_vf))
                value_loss = (w * F.mse_loss(data.returns, values_pred, reduction="none")).mean()
                value_losses.append(value_loss.item())
                entropy_loss = (w * log_prob).mean() if entropy is None else -(w * entropy).mean()
                entropy_losses.append(entropy_loss.item())
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss

                with torch.no_grad():
                    log_ratio = log_prob - data.old_log_prob
                    approx_kl_div = torch.mean((torch.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
                    approx_kl_divs.append(float(approx_kl_div))
                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    break
                self.policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break

        scores = self.score_tasks(buffer)
        explained_var = explained_variance(buffer.values.flatten(), buffer.returns.flatten())
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)
        if scores:
            self.logger.record("train/mean_task_score", float(np.mean(list(scores.values()))))
            self.logger.record("train/min_is_weight", float(np.min(buffer.weights)))
