"""Prioritized multi-task direct policy gradient for portfolios (paper 004, Algorithm 1 with the learner of Jiang et al. 2017).

The portfolio reward is differentiable in the action given the (exogenous) prices, so the deterministic policy is
trained by gradient ascent on the mean reward of a minibatch of ``B`` consecutive trading days, with no critic::

    θ ← θ + η ∇_θ [ (1/B) Σ_{n=n_b}^{n_b+B−1} w_t R_t(x_n, π_θ(x_n)) ]                          (Sec. 6.2)
    R_t(x_n, a_n) = ln(1 − c Σ_i |w_{i,n−1} − a_{i,n}|) + ln(Σ_i a_{i,n} y_{i,n})                 (corrected cost term)

Algorithm 1 around it: draw a task ``t ~ p`` (`PrioritizedTasks`), draw ``n_b`` from a
geometric distribution favouring recent days (Jiang et al.'s replay buffer), update with the task's IS weight
``w_t``, then score the minibatch by its largest deviation from Equal CRP, ``max_n ‖π_θ(x_n) − 1/m‖_∞`` (the
paper's portfolio scorer), and smooth the score into the sampler.

Replay buffers: prices are exogenous, so each task's buffer holds its whole training period from the start (our
``prefill_buffer`` reading of Algorithm 1's rollout loop); only the previous-weight input depends on the
policy. As in Jiang et al. it comes from a per-task portfolio-vector memory (PVM) of the policy's latest actions,
overwritten after every update; the input ``w_{n−1}`` is the drifted weight ``a_{n−1} ⊙ y_{n−1} / (a_{n−1} · y_{n−1})``,
exactly what the environment shows.

As in the paper the policy allocates among the task's assets only (no cash; the environment's cash row gets weight 0),
so the zero-initialised network is exactly Equal CRP. `PortfolioPolicy` runs a trained network in
``mtenvs/Portfolio-v0``; `evaluate_portfolio` steps the environment and reports wealth and Sharpe ratio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from agents.common.method import Method
from agents.perminv.network import EncoderKind, PermutationInvariantNet
from agents.perminv.sampler import PrioritizedTasks
from mtenvs.core.task import Task

TRADING_DAYS = 252


# ------------------------------------------------------------------------------------------------ task data
@dataclass(frozen=True)
class PortfolioTaskData:
    """One task's price windows, built from a ``PortfolioEnv`` exactly as its observations are.

    Attributes:
        table: ``(days, 3, m)`` close, high and low of the task's assets.
        window: days of history per observation.
        commission: the task's proportional cost ``c``.
        first, end: the task's period ``[first, end)`` of day indices.
    """

    table: np.ndarray
    window: int
    commission: float
    first: int
    end: int

    @classmethod
    def from_env(cls, env: Any, task: Task) -> PortfolioTaskData:
        """The data of ``task`` in ``env`` (a ``PortfolioEnv``, wrapped or not)."""
        base = env.unwrapped
        task = base.family.validate(task)
        columns = base.universe.assets(task, base.n_assets)
        p = base.prices
        table = np.stack([p.close[:, columns], p.high[:, columns], p.low[:, columns]], axis=1)
        first, end = (base.window, base.universe.split) if task["period"] == "train" else (base.universe.split, p.n_days)
        return cls(table, base.window, float(task["commission"]), first, end)

    @property
    def n_assets(self) -> int:
        """``m``."""
        return self.table.shape[2]

    def price_features(self, days: np.ndarray) -> np.ndarray:
        """``(len(days), m, 3 window)``: per asset the close, high and low windows divided by the latest close."""
        offsets = np.arange(-self.window, 0)
        windows = self.table[np.asarray(days)[:, None] + offsets]  # (B, window, 3, m)
        ratios = windows / self.table[np.asarray(days) - 1, 0][:, None, None, :]
        return ratios.transpose(0, 3, 2, 1).reshape(len(days), self.n_assets, 3 * self.window).astype(np.float32)

    def relatives(self, days: np.ndarray) -> np.ndarray:
        """Price relatives ``y_n = v_n / v_{n−1}``, shape ``(len(days), m)``."""
        days = np.asarray(days)
        return self.table[days, 0] / self.table[days - 1, 0]


def log_return(previous: torch.Tensor, action: torch.Tensor, relatives: torch.Tensor, commission: float) -> torch.Tensor:
    """``R = ln(1 − c Σ|w_{n−1} − a_n|) + ln(a_n · y_n)`` over the last axis (assets only, no cash)."""
    remainder = 1.0 - commission * (previous - action).abs().sum(dim=-1)
    return torch.log(remainder) + torch.log((action * relatives).sum(dim=-1))


def drifted(actions: np.ndarray, relatives: np.ndarray) -> np.ndarray:
    """End-of-period weights ``a ⊙ y / (a · y)`` (row-wise)."""
    grown = actions * relatives
    return grown / grown.sum(axis=-1, keepdims=True)


def geometric_start(rng: np.random.Generator, n_starts: int, bias: float) -> int:
    """Jiang et al.'s recency-biased batch start in ``[0, n_starts)``: ``n_starts − k`` with ``k ~ Geom(bias)`` redrawn
    while out of range (``bias → 0`` is uniform)."""
    while True:
        k = int(rng.geometric(bias))
        if k <= n_starts:
            return n_starts - k


def portfolio_net(window: int, kind: EncoderKind = "rnn", hidden: int = 25) -> PermutationInvariantNet:
    """The paper's portfolio network (App. A.1): a shared tanh RNN with 25 units over the (close, high, low) window,
    concatenated with the previous weight, a shared zero-initialised dense score, softmax across assets."""
    return PermutationInvariantNet(3 * window + 1, kind=kind, hidden=hidden, window=window, step_features=3,
                                   layout="feature_major")


# ------------------------------------------------------------------------------------------------ trainer
class PortfolioPG(Method):
    """Algorithm 1 with the direct policy gradient (module docstring).

    The method contract (`agents.common.method.Method`) with the unit "update": `learn(total)` runs `total`
    iterations of Algorithm 1 (one minibatch each).

    Args:
        env: a ``mtenvs/Portfolio-v0`` environment (gives the prices, the universe and the window).
        tasks: the training tasks (portfolios); their ``period`` must be ``"train"``.
        net: the policy network (default `portfolio_net` for the env's window).
        sampler: task prioritizer; default ``PrioritizedTasks(tasks)`` with the paper's α = 0.5, β = 1, γ_s = 0.2.
            ``alpha=0`` gives plain multi-task learning; one task is single-task learning.
        batch_size: ``B`` consecutive days per minibatch.
        learning_rate: Adam's step size.
        buffer_bias: the geometric recency bias of batch starts (Jiang et al.: 5e-5, nearly uniform).
        seed: seeds the task and batch draws (and the initialisation of the default network).
    """

    unit: ClassVar[str] = "update"

    def __init__(self, env: Any, tasks: Sequence[Task], net: PermutationInvariantNet | None = None,
                 sampler: PrioritizedTasks | None = None, batch_size: int = 50, learning_rate: float = 1e-3,
                 buffer_bias: float = 5e-5, seed: int = 0) -> None:
        if len(tasks) == 0:
            raise ValueError("PortfolioPG: tasks must contain at least one task")
        if not 0.0 < buffer_bias <= 1.0:
            raise ValueError(f"PortfolioPG: buffer_bias must be in (0, 1], got {buffer_bias!r}")
        tasks = [env.unwrapped.family.validate(t) for t in tasks]
        if any(t["period"] != "train" for t in tasks):
            raise ValueError("PortfolioPG: training tasks must have period='train' (the test period is held out)")
        self.data = [PortfolioTaskData.from_env(env, t) for t in tasks]
        spans = [d.end - d.first for d in self.data]
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= min(spans) - 1:
            raise ValueError(f"PortfolioPG: batch_size must be an integer in [1, {min(spans) - 1}], got {batch_size!r}")
        self.tasks = tasks
        if net is None:
            torch.manual_seed(seed)
            net = portfolio_net(env.unwrapped.window)
        self.net = net
        self.sampler = sampler if sampler is not None else PrioritizedTasks(self.tasks)
        if len(self.sampler) != len(self.tasks):
            raise ValueError(f"PortfolioPG: the sampler has {len(self.sampler)} tasks, expected {len(self.tasks)}")
        self.batch_size = batch_size
        self.buffer_bias = buffer_bias
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate)
        self.rng = np.random.default_rng(seed)
        # PVM: the latest action for every day of each task's training period (Equal CRP before training).
        self.memory = [np.full((d.end, d.n_assets), 1.0 / d.n_assets) for d in self.data]
        self.updates = 0
        self.history: list[dict[str, float]] = []

    def _inputs(self, t: int, days: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        data = self.data[t]
        previous = drifted(self.memory[t][days - 1], data.relatives(days - 1))
        rows = np.concatenate([data.price_features(days), previous[..., None].astype(np.float32)], axis=-1)
        return (torch.as_tensor(rows), torch.as_tensor(previous, dtype=torch.float32),
                torch.as_tensor(data.relatives(days), dtype=torch.float32))

    def update(self) -> dict[str, float]:
        """One iteration of Algorithm 1; returns the task, the batch's first day, the IS weight, mean reward and score."""
        p, weights = self.sampler.probabilities(), self.sampler.is_weights()
        t = int(self.rng.choice(len(self.tasks), p=p))                               # select a task t ~ p
        data = self.data[t]
        start = data.first + 1 + geometric_start(self.rng, data.end - data.first - self.batch_size, self.buffer_bias)
        days = np.arange(start, start + self.batch_size)                             # B consecutive days from R_t
        rows, previous, relatives = self._inputs(t, days)
        actions = self.net(rows)
        reward = log_return(previous, actions, relatives, data.commission).mean()
        loss = -float(weights[t]) * reward                                           # IS-weighted objective
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        chosen = actions.detach().numpy()
        self.memory[t][days] = chosen                                                # PVM write-back
        score = float(np.max(np.abs(chosen - 1.0 / data.n_assets)))                  # max deviation from Equal CRP
        self.sampler.update_score(t, score)                                          # s_t ← γ s_t + (1 − γ) score
        self.updates += 1
        record = {"task": t, "start": int(start), "is_weight": float(weights[t]), "reward": reward.item(), "score": score}
        self.history.append(record)
        return record

    def _before_learn(self) -> None:
        self.net.train()

    def _learn_unit(self) -> dict[str, float]:
        return self.update()


# ------------------------------------------------------------------------------------------------ evaluation
class PortfolioPolicy:
    """A trained network as a policy for ``mtenvs/Portfolio-v0`` observations: cash gets 0, the assets the softmax."""

    def __init__(self, net: PermutationInvariantNet) -> None:
        self.net = net

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        """Actions for one observation ``(m + 1, F)`` or a batch ``(n, m + 1, F)``."""
        obs = np.asarray(observations, dtype=np.float32)
        with torch.no_grad():
            weights = self.net(torch.as_tensor(obs[..., 1:, :])).numpy()
        return np.concatenate([np.zeros((*weights.shape[:-1], 1), dtype=np.float32), weights], axis=-1)


def evaluate_portfolio(policy: Callable[[np.ndarray], np.ndarray], env_id: str, task: Task, **env_kwargs: Any,
                       ) -> dict[str, float]:
    """Trade ``task``'s whole period in the environment; final wealth, annualised return and Sharpe ratio.

    The Sharpe ratio is ``√252 · mean / std`` of the daily log returns (no risk-free rate).
    """
    import gymnasium as gym

    env = gym.make(env_id, task=task, episode_length=None, **env_kwargs)
    obs, _ = env.reset(seed=0)
    rewards, done, info = [], False, {}
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        rewards.append(reward)
        done = terminated or truncated
    env.close()
    r = np.asarray(rewards)
    sharpe = float(np.sqrt(TRADING_DAYS) * r.mean() / r.std()) if r.std() > 0 else 0.0
    return {"wealth": float(info["portfolio_value"]), "annual_return": float(np.exp(TRADING_DAYS * r.mean()) - 1.0),
            "sharpe": sharpe, "days": len(r)}
