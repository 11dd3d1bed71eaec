"""The stable-baselines3 pieces of deep DCPG (`agents.dcpg.deep`), shared by its driver and its agents (`DeepAgentWorker`):
the local learners, the episode log they fill while learning, and which policy parameters are mixed (theta).
"""

from __future__ import annotations

import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy

from agents.dcpg.reinforce import Reinforce

__all__ = ["ALGORITHMS", "EpisodeLog", "mixed_parameters"]

ALGORITHMS: dict[str, type[OnPolicyAlgorithm]] = {"reinforce": Reinforce, "a2c": A2C, "ppo": PPO}


class EpisodeLog(BaseCallback):
    """Collects ``(return, length, info["distance"])`` of every episode an agent finishes while learning."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[tuple[float, int, float | None]] = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                distance = info.get("distance")
                self.episodes.append((float(info["episode"]["r"]), int(info["episode"]["l"]),
                                      None if distance is None else float(distance)))
        return True

    def drain(self) -> list[tuple[float, int, float | None]]:
        """The episodes since the last call."""
        episodes, self.episodes = self.episodes, []
        return episodes


def mixed_parameters(policy: BasePolicy, scope: str = "policy") -> list[torch.nn.Parameter]:
    """The parameters of ``policy`` that are averaged (``theta``), in a fixed order: all of them for ``scope="all"``,
    else the actor and the features extractor it shares with the critic (not the critic's own layers)."""
    if scope == "all":
        return list(policy.parameters())
    critic = [policy.value_net, policy.mlp_extractor.value_net]
    if not policy.share_features_extractor:
        critic.append(policy.vf_features_extractor)
    local = {id(p) for module in critic for p in module.parameters()}
    return [p for p in policy.parameters() if id(p) not in local]
