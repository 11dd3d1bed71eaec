"""Paper 000 §4, Scenario 2 on one game: an agent that borrows a peer's replay buffer reaches the isolated agent's
reward in fewer own frames.

Per seed, an isolated EWC-DQN agent learns the game for ``steps`` own agent steps; its final reward is the mean of
its last ``reward_window`` training-episode returns. A second agent then receives, through the hub and the
communicator, the first one's replay buffer (and, in the ``buffer+weights`` variant, its Q-network weights, the
paper's Scenario 2), replays it offline for ``offline_steps`` updates and learns the same game online with the same
own-frame budget. A third agent learns from scratch with a different seed (a second isolated run, the noise floor).
The metric is the own frames each needs until the running mean of its training returns reaches the first agent's
final reward (the budget when never reached), compared with the faster of the two isolated agents, over the seeds
whose lender beat the random score. Freeway is the default game: a RAM DQN learns it in a few thousand
steps on CPU, while a random policy scores 0. ``full``: 5 seeds × 4 agents × 10,000 steps (≈ 5 min on one core).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.communication import Backend, make_communicator
from mtenvs.core.seeding import stable_seed
from mtenvs.runner import Claim, Count, Experiment, NonNegativeInt, Unit, UnitContext, UnitRecord, mean_ci, register

VARIANTS = ("isolated", "buffer", "buffer+weights")


@dataclass(frozen=True)
class Config:
    """The game and the learner's budget."""

    seeds: Count = 5
    game: str = "Freeway"
    steps: Count = 10_000
    offline_steps: NonNegativeInt = 1_000
    max_episode_steps: Count = 500
    learning_starts: NonNegativeInt = 500
    buffer_size: Count = 20_000
    target_update_interval: Count = 500
    fisher_samples: Count = 200
    reward_window: Count = 3
    backend: Backend = "local"


def units(cfg: Config) -> list[Unit]:
    """One lender-and-borrowers run per seed."""
    return [Unit({"seed": s}) for s in range(cfg.seeds)]


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Lender learns; borrowers (buffer, buffer + weights) and a second isolated agent learn the same game."""
    import torch

    from agents.sharing.agent import LearnerConfig, SharingAgent
    from agents.sharing.hub import Hub, Publication
    from agents.sharing.metrics import frames_to_reach
    from agents.sharing.simnet import SimilarityMatcher

    torch.set_num_threads(1)
    seed = stable_seed("000-atari-borrow", ctx.run_seed, unit.params["seed"]) % 2**31
    learner = LearnerConfig(steps_per_task=cfg.steps, offline_steps=cfg.offline_steps, buffer_size=cfg.buffer_size,
                            buffer_cap=cfg.buffer_size, learning_starts=cfg.learning_starts,
                            target_update_interval=cfg.target_update_interval, fisher_samples=cfg.fisher_samples,
                            max_episode_steps=cfg.max_episode_steps, reward_window=cfg.reward_window)
    lender = SharingAgent(0, learner, None, seed)
    first = lender.learn_task(cfg.game, 0)
    target = first.final_reward
    out: dict[str, Any] = {"isolated_reward": target, "curves": {}, "frames": {}, "rewards": {}}
    with make_communicator(cfg.backend) as comm:
        hub = Hub(comm, SimilarityMatcher(tau=None))
        weights = {k: v.detach().numpy().copy() for k, v in lender.model.q_net.state_dict().items()}
        from agents.sharing.buffers import export_transitions

        hub.publish({0: Publication(0, np.zeros(1, np.float32), export_transitions(lender.model.replay_buffer,
                                                                                     cfg.buffer_size), weights, cfg.game)})
        reply = hub.query({1: np.zeros(1, np.float32)})[1]
        out["comm_bytes"] = comm.stats.bytes
    lender.close()
    runs = {"isolated": (None, 2), "buffer": (reply.__class__(True, reply.source, reply.distance, reply.buffer, None,
                                                               reply.label), 1),
            "buffer+weights": (reply, 1)}
    for variant, (answer, agent_id) in runs.items():
        agent = SharingAgent(agent_id, learner, None, stable_seed(seed, variant) % 2**31)
        record = agent.learn_task(cfg.game, 0, answer)
        agent.close()
        hit = frames_to_reach(record.curve_frames, record.curve_returns, target, cfg.reward_window)
        out["frames"][variant] = cfg.steps if hit is None else hit
        out["rewards"][variant] = record.final_reward
        out["curves"][variant] = [record.curve_frames, record.curve_returns]
    lender_hit = frames_to_reach(first.curve_frames, first.curve_returns, target, cfg.reward_window)
    out["frames"]["lender"] = cfg.steps if lender_hit is None else lender_hit
    out["curves"]["lender"] = [first.curve_frames, first.curve_returns]
    return out


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Mean own frames to the isolated reward per variant, over the seeds whose lender beat the random score.

    A lender that learned nothing sets a threshold every agent meets in its first episode, so those seeds carry no
    information and are counted but left out of the comparison.
    """
    from agents.sharing.envs import random_scores

    random = random_scores().get(cfg.game, 0.0)
    learned = [r for r in records if r.metrics["isolated_reward"] > random]
    summary: dict[str, Any] = {"isolated_reward": mean_ci([r.metrics["isolated_reward"] for r in records]).to_json(),
                               "random_score": random, "seeds_lender_learned": len(learned), "seeds": len(records)}
    for variant in ("lender", *VARIANTS):
        summary[f"frames_{variant}"] = mean_ci([r.metrics["frames"][variant] for r in learned]).to_json()
    for variant in VARIANTS:
        summary[f"reward_{variant}"] = mean_ci([r.metrics["rewards"][variant] for r in records]).to_json()
    isolated = [min(r.metrics["frames"]["lender"], r.metrics["frames"]["isolated"]) for r in learned]
    for variant in ("buffer", "buffer+weights"):
        borrowed = [r.metrics["frames"][variant] for r in learned]
        summary[f"{variant}_fewer_frames"] = bool(learned) and float(np.mean(borrowed)) < float(np.mean(isolated))
        summary[f"frame_ratio_{variant}"] = (float(np.mean(borrowed) / max(np.mean(isolated), 1)) if learned else None)
        summary[f"frame_ratio_per_seed_{variant}"] = mean_ci(
            [b / max(i, 1) for b, i in zip(borrowed, isolated, strict=True)], bounds=(0.0, None)).to_json()
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Training-episode returns against own frames for the lender, the borrowers and the second isolated agent
    (mean and range over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.experiments._plotting import mean_band

    figure, axis = plt.subplots(figsize=(6, 4))
    colours = {"lender": "tab:blue", "isolated": "tab:cyan", "buffer": "tab:orange", "buffer+weights": "tab:red"}
    for variant, colour in colours.items():
        curves = [r.metrics["curves"][variant] for r in records if variant in r.metrics["curves"]]
        if not curves:
            continue
        grid = np.unique(np.concatenate([np.asarray(frames, dtype=float) for frames, _ in curves]))
        runs = [np.interp(grid, frames, returns) for frames, returns in curves]  # one frame grid for every seed
        mean_band(axis, grid, runs, color=colour, label=variant)
    isolated = float(np.mean([r.metrics["isolated_reward"] for r in records]))
    axis.axhline(isolated, color="grey", ls=":", lw=1, label="isolated final reward (mean)")
    axis.set_xlabel("own frames (agent steps)")
    axis.set_ylabel(f"{cfg.game} training-episode return")
    spread = f"; mean over {len(records)} seeds, shaded: lowest to highest" if len(records) > 1 else ""
    axis.set_title(f"{cfg.game}: borrowed buffer vs isolated{spread}", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


register(Experiment(
    name="000-atari-borrow",
    title="A DQN agent with a borrowed replay buffer reaches the isolated agent's reward in fewer own frames (paper 000 §4)",
    paper="000",
    config=Config,
    sizes={"quick": {"seeds": 1, "steps": 2_500, "offline_steps": 300, "max_episode_steps": 250, "learning_starts": 250,
                     "target_update_interval": 250, "fisher_samples": 50, "reward_window": 2},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[Claim("frame_ratio_per_seed_buffer", 1.0, "at_most",
                  source="§4, Scenario 2: fewer own frames with a borrowed buffer (borrowed / isolated frames, per seed)"),
            Claim("frame_ratio_per_seed_buffer+weights", 1.0, "at_most",
                  source="§4, Fig. 2: borrowing buffer and weights needs fewer frames (per seed)")],
    plot=plot,
))
