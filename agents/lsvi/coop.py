"""Coop-LSVI (paper 001, Algorithms 1 and 3): M agents on parallel linear MDPs sharing data through a server when a
determinant test fires.

Every episode t, each agent m plans by LSVI on the data it holds — everyone's tuples up to the last synchronization
k_t plus its own since then, U^m_h(t) — with Q^t_{m,h} = min{⟨w, φ⟩ + β‖φ‖_{Λ⁻¹}, H − h + 1} (Eqs. 1–6), acts
greedily, and after each step checks the synchronization rule (Eq. 7)

    log[ det(S_h + δS_{m,h} + λI) / det(S_h + λI) ] > S / (t − k_t),

where S_h is the synchronized Gram sum and δS_{m,h} its own increment since k_t. If any agent fires at any step, after
the episode every agent sends its pending tuples W^m_h to the server, which broadcasts the union (Algorithm 1 lines
22–30, with the typo of Q9 fixed: U^m_h ← U^m_h ∪ W^h).

* Algorithm 1 (homogeneous or small heterogeneity, Theorems 1–2): all agents share the feature table φ(x, a); pooled
  tuples keep their generating agent's reward (notes-001 Q30). For heterogeneity ξ, enlarge β
  (:func:`~agents.lsvi.theory.coop_beta` with ``xi``).
* Algorithm 3 (large heterogeneity, Theorem 3): agent n's features are φ̃(n, x, a) = [φ(x, a); κ(n)]; every agent
  regresses over (n, x, a) and bootstraps with the generating agent's context, V_{m,h+1}(n, x'). Rows of the feature
  table are then (n, x) pairs, row n·|S| + x.

``threshold=0`` synchronizes after every episode (always-communicating baseline) and ``threshold=inf`` never
(independent LSVI-UCB agents). Messages carry (n, x, a, r, x') per step (notes-001 Q8) and go through a
:class:`~agents.common.communication.Communicator`; a synchronization is one gather and one broadcast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.common.communication import Communicator, LocalCommunicator
from agents.lsvi.core import LinearQ, Optimism, TransitionBuffer, lsvi_backward, make_sampler
from agents.lsvi.ridge import RidgeStatistics

__all__ = ["CoopHistory", "CoopLSVI", "HeterogeneousCoopLSVI", "always_communicating", "independent_agents"]


@dataclass
class CoopHistory:
    """Per-episode records: regret of each agent, whether the episode ended with a synchronization."""

    regret: list[list[float]] = field(default_factory=list)
    synchronized: list[bool] = field(default_factory=list)

    @property
    def group_regret(self) -> np.ndarray:
        """Cumulative group regret R(t) = Σ_m Σ_{τ≤t} [V*_m(x_1) − V^{π^τ_m}_m(x_1)], shape ``(T,)``."""
        return np.cumsum(np.sum(self.regret, axis=1)) if self.regret else np.zeros(0)

    @property
    def sync_episodes(self) -> np.ndarray:
        """Cumulative number of episodes with communication, the paper's n, shape ``(T,)``."""
        return np.cumsum(self.synchronized)


class CoopLSVI:
    """Coop-LSVI over parallel linear MDPs, one agent per MDP (paper 001, Algorithm 1, or Algorithm 3).

    Args:
        tasks: agent m's MDP: a :class:`~mtenvs.linear.model.LinearMDP` (episodes sampled from its tables) or a
            Gymnasium env of a linear family running one task (episodes from the env); equal horizons and sizes.
        threshold: the synchronization threshold S ≥ 0 (``0``: every episode; ``math.inf``: never).
        beta: the bonus scale β (theory: :func:`~agents.lsvi.theory.coop_beta`).
        lam: the ridge parameter λ (1 in the paper).
        agent_features: ``True`` for Algorithm 3 (each task's own features [φ; κ(m)]), ``False`` for Algorithm 1
            (shared φ); ``None`` picks Algorithm 1 exactly when all tasks have identical features.
        comm: the communicator (a fresh :class:`LocalCommunicator` by default).
        seed: seeds every episode.
    """

    def __init__(self, tasks: Sequence[Any], *, threshold: float = 1.0, beta: float = 0.5, lam: float = 1.0,
                 agent_features: bool | None = None, comm: Communicator | None = None, seed: int | None = None) -> None:
        if len(tasks) < 1:
            raise ValueError("tasks must hold one LinearMDP per agent (at least one)")
        if not (threshold >= 0):
            raise ValueError(f"threshold S must be >= 0 (math.inf for never), got {threshold!r}")
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
        models, samplers = zip(*(make_sampler(task) for task in tasks), strict=True)
        tasks = list(models)
        first = tasks[0]
        for m, task in enumerate(tasks):
            if task.features.shape != first.features.shape or task.horizon != first.horizon:
                raise ValueError(f"tasks[{m}] must have the feature shape and horizon of tasks[0]")
        shared = all(np.array_equal(task.features, first.features) for task in tasks)
        if agent_features is None:
            agent_features = not shared
        if not agent_features and not shared:
            raise ValueError("agent_features=False (Algorithm 1) needs identical feature tables in all tasks")
        self.tasks = list(tasks)
        self.threshold, self.beta, self.lam = float(threshold), float(beta), float(lam)
        self.agent_features = bool(agent_features)
        self.horizon, self.n_states = first.horizon, first.n_states
        # Algorithm 3: rows (n, x) -> n·|S| + x of the stacked [φ; κ(n)] tables; Algorithm 1: the shared table.
        self.features = (np.concatenate([np.asarray(t.features) for t in tasks]) if self.agent_features
                         else np.asarray(first.features))
        self.optimism = Optimism(self.beta, clip="remaining")
        self.comm = comm if comm is not None else LocalCommunicator()
        self.rng = np.random.default_rng(seed)
        self._samplers = list(samplers)
        self._optimal = np.array([task.optimal_value() for task in tasks])
        dim, horizon = self.features.shape[-1], self.horizon
        n = self.n_agents
        self.data = [[TransitionBuffer() for _ in range(horizon)] for _ in range(n)]         # U^m_h(t) = U ∪ W^m
        self.pending = [[TransitionBuffer() for _ in range(horizon)] for _ in range(n)]      # W^m_h
        self.stats = [[RidgeStatistics(dim, lam) for _ in range(horizon)] for _ in range(n)]  # λI + S_h + δS_{m,h}
        self.synced_logdet = np.full((n, horizon), dim * math.log(lam))                      # log det(λI + S_h)
        self.last_sync = 0                                                                    # k_t
        self.episode = 0
        self.history = CoopHistory()

    @property
    def n_agents(self) -> int:
        """M."""
        return len(self.tasks)

    def _row(self, agent: int, state: int | np.ndarray) -> int | np.ndarray:
        return agent * self.n_states + state if self.agent_features else state

    def q_function(self, agent: int) -> LinearQ:
        """Agent ``agent``'s current optimistic Q (Eqs. 1–6) on its data U^m_h(t)."""
        return lsvi_backward(self.features, self.data[agent], self.stats[agent], self.optimism)

    def policy(self, agent: int, q: LinearQ | None = None) -> np.ndarray:
        """Agent ``agent``'s greedy policy on its own MDP, argmax_a Q(m, x, a), shape ``(H, S)``."""
        q = self.q_function(agent) if q is None else q
        rows = self._row(agent, np.arange(self.n_states))
        return np.argmax(q.q[:, rows], axis=-1)

    def _act(self, agent: int, policy: np.ndarray) -> bool:
        """Play one episode, adding each step's tuple to U^m_h and W^m_h; returns whether Eq. 7 fired."""
        sampler, fire = self._samplers[agent], False
        state = sampler.begin(self.rng)
        elapsed = self.episode + 1 - self.last_sync                        # t − k_t ≥ 1
        for h in range(self.horizon):
            action = int(policy[h, state])
            reward, next_state = sampler.step(h, state, action, self.rng)
            row, next_row = self._row(agent, state), self._row(agent, next_state)
            self.data[agent][h].add(row, action, reward, next_row)
            self.pending[agent][h].add(row, action, reward, next_row)
            self.stats[agent][h].update(self.features[row, action])      # δS_{m,h} += φφᵀ (Sherman–Morrison)
            ratio = self.stats[agent][h].logdet - self.synced_logdet[agent, h]
            fire |= ratio > self.threshold / elapsed                       # Eq. 7
            state = next_state
        return fire

    def _pending_message(self, agent: int) -> dict[str, np.ndarray]:
        """W^m_h for every h as flat arrays: step h, generating agent n and the tuple (x, a, r, x')."""
        buffers = self.pending[agent]
        columns = [np.concatenate(column) for column in zip(*(b.view() for b in buffers), strict=True)]
        return {"step": np.concatenate([np.full(len(b), h) for h, b in enumerate(buffers)]),
                "agent": np.full(len(columns[0]), agent),
                **dict(zip(("state", "action", "reward", "next_state"), columns, strict=True))}

    def _synchronize(self) -> None:
        """Every agent sends W^m_h to the server, which broadcasts the union W^h; all agents add the others' tuples."""
        agents = list(range(self.n_agents))
        messages = {m: self._pending_message(m) for m in agents}
        union = self.comm.gather(messages)
        union = {key: np.concatenate([union[m][key] for m in agents]) for key in messages[0]}
        received = self.comm.broadcast(union, agents)
        for m in agents:
            others = received[m]["agent"] != m
            for h in range(self.horizon):
                take = others & (received[m]["step"] == h)
                s, a = received[m]["state"][take], received[m]["action"][take]
                self.data[m][h].add(s, a, received[m]["reward"][take], received[m]["next_state"][take])
                self.stats[m][h].update(self.features[s, a])              # S_h += Σ_{W^h} φφᵀ (Woodbury)
                self.synced_logdet[m, h] = self.stats[m][h].logdet
                self.pending[m][h] = TransitionBuffer()                   # δS ← 0, W^m_h ← ∅
        self.last_sync = self.episode + 1                                 # k_{t+1} = t

    def step_episode(self) -> list[float]:
        """One episode for every agent (plan, act, test), then synchronize if any agent fired; returns the regrets."""
        fire, regrets = False, []
        for m in range(self.n_agents):
            policy = self.policy(m)
            regrets.append(float(self._optimal[m] - self.tasks[m].policy_value(policy)))
            fire |= self._act(m, policy)
        if fire and self.n_agents > 1:
            self._synchronize()
        self.history.regret.append(regrets)
        self.history.synchronized.append(bool(fire and self.n_agents > 1))
        self.episode += 1
        return regrets

    def learn(self, episodes: int) -> CoopLSVI:
        """Run ``episodes`` more episodes for every agent."""
        if not isinstance(episodes, (int, np.integer)) or isinstance(episodes, bool) or episodes < 0:
            raise ValueError(f"episodes must be an integer >= 0, got {episodes!r}")
        for _ in range(int(episodes)):
            self.step_episode()
        return self


class HeterogeneousCoopLSVI(CoopLSVI):
    """Algorithm 3 of paper 001: Coop-LSVI on agent-context features [φ(x, a); κ(m)] (``agent_features=True``)."""

    def __init__(self, tasks: Sequence[Any], **kwargs: Any) -> None:
        kwargs.setdefault("agent_features", True)
        super().__init__(tasks, **kwargs)


def independent_agents(tasks: Sequence[Any], **kwargs: Any) -> CoopLSVI:
    """The no-communication baseline: each agent runs LSVI-UCB alone (S = ∞)."""
    return CoopLSVI(tasks, threshold=math.inf, **kwargs)


def always_communicating(tasks: Sequence[Any], **kwargs: Any) -> CoopLSVI:
    """The always-communicating baseline: synchronize after every episode (S = 0)."""
    return CoopLSVI(tasks, threshold=0.0, **kwargs)
