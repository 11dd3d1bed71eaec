"""One lifelong agent of the sharing system (paper 000 §4, "Scenario 1" and "Scenario 2").

For each new game the agent

1. trains its SimNet from the shared start and sends the parameters to the hub (done by the system, one round);
2. Scenario 1, no match: learns the game from scratch with EWC-DQN for ``steps_per_task`` own agent steps;
   Scenario 2, a peer learned a matching game: loads the peer's Q-network weights (if sent), fills its replay buffer with the
   borrowed transitions, does ``offline_steps`` gradient steps on them ("memory replay on borrowed ERB locally"),
   then continues online with the same budget, starting from the final exploration rate (the peer's buffer already
   holds the exploration);
3. at the task's end consolidates EWC (Fisher on its replay samples) and publishes SimNet, buffer and weights.

"Frames" are agent steps (SB3 ``num_timesteps``; ALE v5 repeats each action 4 times).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from agents.sharing.hub import Publication, Reply
from agents.sharing.simnet import SimNet
from mtenvs.core.seeding import stable_seed

__all__ = ["LearnerConfig", "SharingAgent", "TaskRecord"]


@dataclass(frozen=True)
class LearnerConfig:
    """The lifelong DQN + EWC learner and the sharing rule's settings (the paper gives none of them)."""

    steps_per_task: int = 100_000
    net_arch: tuple[int, ...] = (256, 256)
    learning_rate: float = 5e-4
    buffer_size: int = 50_000
    learning_starts: int = 1_000
    batch_size: int = 32
    train_freq: int = 4
    target_update_interval: int = 1_000
    exploration_fraction: float = 0.2
    exploration_final_eps: float = 0.05
    gamma: float = 0.99
    ewc_lambda: float = 100.0
    fisher_samples: int = 1_000
    buffer_cap: int = 50_000
    offline_steps: int = 10_000
    max_episode_steps: int | None = None
    reward_window: int = 5

    def __post_init__(self) -> None:
        for name in ("steps_per_task", "buffer_size", "batch_size", "train_freq", "target_update_interval",
                     "fisher_samples", "buffer_cap", "reward_window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"LearnerConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if self.offline_steps < 0 or self.learning_starts < 0:
            raise ValueError("LearnerConfig.offline_steps and learning_starts must be >= 0")


@dataclass
class TaskRecord:
    """What an agent logs for one task."""

    agent: int
    round: int
    game: str
    own_frames: int = 0
    simnet_frames: int = 0
    borrowed: bool = False
    source: tuple[int, int] | None = None
    source_game: str = ""
    distance: float | None = None
    borrowed_transitions: int = 0
    curve_frames: list[int] = field(default_factory=list)
    curve_returns: list[float] = field(default_factory=list)
    final_reward: float = float("nan")
    wall_time: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        out = asdict(self)
        out["source"] = None if self.source is None else list(self.source)
        return out


def _episode_logger() -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeLogger(BaseCallback):
        """Records ``(own frames, episode return)`` whenever a training episode ends (the learning curve)."""

        def __init__(self) -> None:
            super().__init__()
            self.frames: list[int] = []
            self.returns: list[float] = []

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                if "episode" in info:
                    self.frames.append(int(self.num_timesteps))
                    self.returns.append(float(info["episode"]["r"]))
            return True

    return EpisodeLogger()


class SharingAgent:
    """A lifelong EWC-DQN learner that can borrow a peer's replay buffer and weights.

    Args:
        agent_id: the agent's node id.
        config: learner settings.
        simnet: the SimNet trainer (``None`` for an isolated agent, which never queries the hub).
        seed: the agent's seed; every task's seeds derive from it.
    """

    def __init__(self, agent_id: int, config: LearnerConfig, simnet: SimNet | None, seed: int) -> None:
        self.agent_id = int(agent_id)
        self.config = config
        self.simnet = simnet
        self.seed = int(seed)
        self.model: Any = None
        self.records: list[TaskRecord] = []
        self._last_simnet: np.ndarray | None = None

    def _seed(self, *parts: object) -> int:
        return stable_seed("sharing-agent", self.seed, self.agent_id, *parts) % 2**31

    def similarity(self, game: str, round_: int) -> np.ndarray:
        """Train this task's SimNet (step 1); its parameters."""
        if self.simnet is None:
            raise ValueError("an isolated agent has no SimNet")
        self._last_simnet = self.simnet.fit(game, self._seed("simnet", round_))
        return self._last_simnet

    def _build(self, env: Any, seed: int) -> Any:
        from agents.sharing.ewc import EWCDQN
        from agents.sharing.ram import ram_policy_kwargs
        from mtenvs.sb3 import without_log_folder

        c = self.config
        return without_log_folder(EWCDQN("MlpPolicy", env, ewc_lambda=c.ewc_lambda, learning_rate=c.learning_rate,
                      buffer_size=c.buffer_size, learning_starts=c.learning_starts, batch_size=c.batch_size,
                      gamma=c.gamma, train_freq=c.train_freq, target_update_interval=c.target_update_interval,
                      exploration_fraction=c.exploration_fraction, exploration_final_eps=c.exploration_final_eps,
                      policy_kwargs=ram_policy_kwargs(c.net_arch), seed=seed, device="cpu"))

    def learn_task(self, game: str, round_: int, reply: Reply | None = None) -> TaskRecord:
        """Learn ``game`` (step 2: Scenario 2 if ``reply`` matched, else Scenario 1), then consolidate (step 3)."""
        import torch as th
        from stable_baselines3.common.utils import LinearSchedule

        from agents.sharing.buffers import import_transitions
        from agents.sharing.envs import make_game_env

        c = self.config
        start = time.perf_counter()
        seed = self._seed("task", round_)
        record = TaskRecord(self.agent_id, round_, game,
                            simnet_frames=self.simnet.config.steps if self.simnet is not None else 0)
        env = make_game_env(game, seed=seed, max_episode_steps=c.max_episode_steps)
        if self.model is None:
            self.model = self._build(env, seed)
        else:
            self.model.env.close()
            self.model.set_env(env)
            self.model.set_random_seed(seed)
            self.model.replay_buffer.reset()  # a fresh buffer per task; EWC protects the earlier tasks
        model = self.model
        initial_eps, learning_starts = 1.0, c.learning_starts
        if reply is not None and reply.matched:  # Scenario 2
            if reply.weights is not None:  # a buffer-only reply keeps the agent's own weights
                state = {k: th.as_tensor(v) for k, v in reply.weights.items()}
                model.q_net.load_state_dict(state)
                model.q_net_target.load_state_dict(state)
            record.borrowed_transitions = import_transitions(model.replay_buffer, reply.buffer)  # type: ignore[arg-type]
            model.offline_train(c.offline_steps)
            initial_eps, learning_starts = c.exploration_final_eps, 0
            record.borrowed, record.source, record.distance = True, reply.source, reply.distance  # type: ignore[assignment]
            record.source_game = reply.label
        model.exploration_initial_eps, model.learning_starts = initial_eps, learning_starts
        model.exploration_schedule = LinearSchedule(initial_eps, c.exploration_final_eps, c.exploration_fraction)
        logger = _episode_logger()
        model.learn(c.steps_per_task, callback=logger, reset_num_timesteps=True)
        model.consolidate(c.fisher_samples)
        record.own_frames = int(model.num_timesteps)
        record.curve_frames, record.curve_returns = logger.frames, logger.returns
        if logger.returns:
            record.final_reward = float(np.mean(logger.returns[-c.reward_window:]))
        record.wall_time = time.perf_counter() - start
        self.records.append(record)
        return record

    def publication(self, round_: int, game: str) -> Publication:
        """The latest task's SimNet, capped replay buffer and Q-network weights (step 3)."""
        from agents.sharing.buffers import export_transitions

        if self.model is None or self._last_simnet is None:
            raise ValueError("publish after similarity() and learn_task() of the same task")
        weights = {k: v.detach().cpu().numpy().copy() for k, v in self.model.q_net.state_dict().items()}
        buffer = export_transitions(self.model.replay_buffer, self.config.buffer_cap)
        return Publication(int(round_), self._last_simnet, buffer, weights, game)

    def close(self) -> None:
        """Close the current environment."""
        if self.model is not None and self.model.env is not None:
            self.model.env.close()
