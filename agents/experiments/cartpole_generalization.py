"""Generalization across cart-pole tasks: PPO trained on the ``train`` set, scored on ``train``, ``test`` and ``ood``.

The suite's own headline experiment (no paper claim): stable-baselines3's PPO learns one policy on the 50 training
tasks (paper 002's Table 1 ranges of cart mass, pole mass and pole length; the task is hidden from the policy) and,
after every training block, is evaluated on training tasks, unseen test tasks from the same ranges, and
out-of-distribution tasks. Scores are normalized per task: 0 = a uniformly random policy, 1 = that task's LQR
controller (which balances the pole for all 500 steps on every task of all three sets). The gap between the
``train``/``test`` curves and the ``ood`` curve is the generalization gap.

Each seed is one chain of training blocks; the model is checkpointed after every block, so an interrupted run
resumes from its last block with identical results.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtenvs.runner import Count, Experiment, Positive, Unit, UnitContext, UnitRecord, UnitResult, mean_ci, register

ENV_ID = "mtenvs/CartPole-v0"
SPLITS = ("train", "test", "ood")


@dataclass(frozen=True)
class Config:
    """Budget and evaluation settings."""

    seeds: Count = 5
    blocks: Count = 10
    steps_per_block: Count = 20_000
    n_envs: Count = 8
    n_steps: Count = 256
    learning_rate: Positive = 1e-3
    eval_tasks: Count = 50
    eval_episodes: Count = 3


def units(cfg: Config) -> list[Unit]:
    """One chain of training blocks per seed."""
    return [Unit({"seed": s, "block": b}, chain=f"seed={s}") for s in range(cfg.seeds) for b in range(cfg.blocks)]


def normalized_scores(model: Any, split: str, cfg: Config, seed: int) -> dict[str, float]:
    """Mean return and normalized score (0 random, 1 LQR) of ``model`` on the first tasks of ``split``."""
    import gymnasium as gym

    import mtenvs
    from mtenvs.control.cartpole import lqr_policy
    from mtenvs.evaluation import RandomPolicy, rollout_returns

    tasks = list(mtenvs.family("CartPole").task_set(split))[: cfg.eval_tasks]
    repeated = [t for t in tasks for _ in range(cfg.eval_episodes)]
    shape = (len(tasks), cfg.eval_episodes)
    ours = mtenvs.evaluate(model, ENV_ID, tasks, cfg.eval_episodes, seed=seed)
    returns = np.array([r.mean_return for r in ours.per_task])
    random, _ = rollout_returns(RandomPolicy(gym.make(ENV_ID).action_space, seed), ENV_ID, repeated, seed=seed)
    reference, _ = rollout_returns(lqr_policy(repeated), ENV_ID, repeated, seed=seed)
    low, high = random.reshape(shape).mean(axis=1), reference.reshape(shape).mean(axis=1)
    scores = (returns - low) / np.maximum(high - low, 1e-9)
    return {"return": float(returns.mean()), "score": float(scores.mean()), "random": float(low.mean()),
            "reference": float(high.mean())}


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> UnitResult:
    """Train one block (continuing the seed's model), then evaluate on every split."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    from mtenvs.sb3 import ProgressCallback, make_vec_env, without_log_folder

    torch.set_num_threads(1)
    seed = ctx.seed % 2**31
    set_random_seed(seed)
    env = make_vec_env(ENV_ID, cfg.n_envs, tasks="train", seed=seed)
    if ctx.state is None:
        model = PPO("MlpPolicy", env, seed=seed, device="cpu", n_steps=cfg.n_steps, batch_size=cfg.n_steps,
                    learning_rate=cfg.learning_rate, verbose=0)
    else:  # the checkpoint of the previous block; an uninterrupted run takes the same path, so results match
        model = PPO.load(io.BytesIO(ctx.state), env=env, device="cpu")
        model.set_random_seed(seed)
    without_log_folder(model)
    model.learn(cfg.steps_per_block, reset_num_timesteps=False, callback=ProgressCallback(ctx.progress))
    metrics: dict[str, Any] = {"steps": int(model.num_timesteps)}
    for split in SPLITS:
        for name, value in normalized_scores(model, split, cfg, seed).items():
            metrics[f"{split}_{name}"] = value
    buffer = io.BytesIO()
    model.save(buffer)
    env.close()
    return UnitResult(metrics, state=buffer.getvalue())


def final_blocks(records: Sequence[UnitRecord]) -> list[UnitRecord]:
    """The last block of every seed."""
    last: dict[Any, UnitRecord] = {}
    for record in records:
        seed = record.params["seed"]
        if seed not in last or record.params["block"] > last[seed].params["block"]:
            last[seed] = record
    return list(last.values())


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Final normalized scores per split (mean and 95% t-interval over seeds) and the generalization gaps."""
    final = final_blocks(records)
    summary: dict[str, Any] = {}
    for split in SPLITS:
        summary[f"{split}_score"] = mean_ci([r.metrics[f"{split}_score"] for r in final]).to_json()
        summary[f"{split}_return"] = mean_ci([r.metrics[f"{split}_return"] for r in final]).to_json()
    summary["test_gap"] = mean_ci([r.metrics["train_score"] - r.metrics["test_score"] for r in final]).to_json()
    summary["ood_gap"] = mean_ci([r.metrics["train_score"] - r.metrics["ood_score"] for r in final]).to_json()
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Normalized score against training steps, one curve per split (mean and range over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4))
    blocks = sorted({r.params["block"] for r in records})
    for split, colour in zip(SPLITS, ("tab:blue", "tab:green", "tab:red"), strict=True):
        steps, means, lows, highs = [], [], [], []
        for b in blocks:
            at = [r for r in records if r.params["block"] == b]
            values = [r.metrics[f"{split}_score"] for r in at]
            steps.append(np.mean([r.metrics["steps"] for r in at]))
            means.append(np.mean(values))
            lows.append(min(values))
            highs.append(max(values))
        axis.plot(steps, means, marker="o", color=colour, label=split)
        axis.fill_between(steps, lows, highs, color=colour, alpha=0.15)
    axis.axhline(1.0, color="grey", ls="--", lw=0.8)
    axis.axhline(0.0, color="grey", lw=0.8)
    axis.set_xlabel("training steps")
    axis.set_ylabel("normalized score (0 random, 1 LQR)")
    axis.set_title("PPO across cart-pole tasks: train vs unseen vs out-of-distribution", fontsize=10)
    axis.legend()
    figure.tight_layout()
    return figure


register(Experiment(
    name="cartpole-generalization",
    title="PPO trained on cart-pole training tasks, scored on train / test / out-of-distribution tasks",
    config=Config,
    sizes={"quick": {"seeds": 1, "blocks": 3, "steps_per_block": 8_192, "eval_tasks": 10, "eval_episodes": 2},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    plot=plot,
))
