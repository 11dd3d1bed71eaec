"""The RAM Q-network input shared by SimNet and the lifelong DQN: bytes scaled to [0, 1]."""

from __future__ import annotations

from typing import Any

import torch as th
from stable_baselines3.common.torch_layers import FlattenExtractor

__all__ = ["RamExtractor", "ram_policy_kwargs"]


class RamExtractor(FlattenExtractor):
    """SB3's `FlattenExtractor` followed by RAM/255.

    SB3 scales only image observations; RAM is a flat uint8 vector, so the scaling happens here and replay buffers
    keep the raw bytes (four times smaller than float32 observations).
    """

    def forward(self, observations: th.Tensor) -> th.Tensor:
        """Flatten and scale to [0, 1]."""
        return super().forward(observations) / 255.0


def ram_policy_kwargs(net_arch: list[int] | tuple[int, ...]) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` for an MLP Q-network with hidden sizes ``net_arch`` on scaled RAM."""
    return {"net_arch": [int(n) for n in net_arch], "features_extractor_class": RamExtractor}
