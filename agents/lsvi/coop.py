"""Coop-LSVI (paper 001, Algorithms 1 and 3): M agents on parallel linear MDPs sharing data through a server when a
determinant test fires.

Every episode t, each agent m plans by LSVI on the data it holds — everyone's tuples up to the last synchronization
k_t plus its own since then, U^m_h(t) — with Q^t_{m,h} = min{⟨w, φ⟩ + β‖φ‖_{Λ⁻¹}, H − h + 1} (Eqs. 1–6), acts
greedily, and after each step checks the synchronization rule (Eq. 7)

    log[ det(S_h + δS_{m,h} + λI) / det(S_h + λI) ] > S / (t − k_t),

where S_h is the synchronized Gram sum and δS_{m,h} its own increment since k_t. If any agent fires at any step, after
the episode every agent sends its pending tuples W^m_h to the server, which broadcasts the union (Algorithm 1 lines
22–30, with line 30's typo fixed: U^m_h ← U^m_h ∪ W^h).

* Algorithm 1 (homogeneous or small heterogeneity, Theorems 1–2): all agents share the feature table φ(x, a); pooled
  tuples keep their generating agent's reward, with no correction (the paper gives none). For heterogeneity ξ, enlarge β
  (`coop_beta` with ``xi``).
* Algorithm 3 (large heterogeneity, Theorem 3): agent n's features are φ̃(n, x, a) = [φ(x, a); κ(n)]; every agent
  regresses over (n, x, a) and bootstraps with the generating agent's context, V_{m,h+1}(n, x'). Rows of the feature
  table are then (n, x) pairs, row n·|S| + x.

``threshold=0`` synchronizes after every episode (always-communicating baseline) and ``threshold=inf`` never
(independent LSVI-UCB agents). Messages carry (n, x, a, r, x') per step and go through a
`Communicator`; a synchronization is one gather and one broadcast.

The module reads top to bottom: `CoopAgent` (one agent's plan, act and test, Eqs. 1–7), `CoopServer` (the union at a
synchronization), then `CoopLSVI`, whose episode calls the nodes through the worker pool with method references
(`pool.map(CoopAgent.play, ...)`): in this process, or each node in a Ray actor of its own, with the same results.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.common.communication import SERVER, Communicator
from agents.common.deployment import Deployment
from agents.lsvi.core import EnvSampler, EpisodeSampler, LinearQ, Optimism, TransitionBuffer, lsvi_backward, make_sampler
from agents.lsvi.deployment import PooledRun, node_seeds
from agents.lsvi.ridge import RidgeStatistics

__all__ = ["CoopAgent", "CoopHistory", "CoopLSVI", "CoopServer", "HeterogeneousCoopLSVI", "always_communicating",
           "independent_agents"]


# ------------------------------------------------------------------------------------------------ the nodes
class CoopAgent:
    """Agent m of Coop-LSVI: its environment, data U^m_h, pending tuples W^m_h, statistics λI + S_h + δS_{m,h}.

    Args:
        index: m.
        sampler: episodes of agent m's MDP.
        features: the feature table the agents regress on: the shared φ (Algorithm 1) or the stacked [φ; κ(n)] rows
            n·|S| + x of every agent (Algorithm 3).
        n_states: |S|.
        agent_features: whether rows are (n, x) pairs (Algorithm 3).
        optimism: bonus scale β and clipping at H − h + 1 (Eqs. 1–6).
        threshold: S in Eq. 7.
        lam: the ridge parameter λ.
        optimal: V*_m(x_1), for the regret of each episode's policy (evaluation only).
        seed: the agent's episode generator.
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, index: int, sampler: EpisodeSampler | EnvSampler, features: np.ndarray, n_states: int,
                 agent_features: bool, optimism: Optimism, threshold: float, lam: float, optimal: float,
                 seed: np.random.SeedSequence) -> None:
        self.index, self.sampler = index, copy.deepcopy(sampler)
        self.features, self.n_states, self.agent_features = features, n_states, agent_features
        self.optimism, self.threshold, self.optimal = optimism, threshold, optimal
        self.horizon = self.sampler.horizon
        dim = features.shape[-1]
        self.rng = np.random.default_rng(seed)
        self.data = [TransitionBuffer() for _ in range(self.horizon)]                 # U^m_h(t) = U ∪ W^m
        self.pending = [TransitionBuffer() for _ in range(self.horizon)]              # W^m_h
        self.stats = [RidgeStatistics(dim, lam) for _ in range(self.horizon)]         # λI + S_h + δS_{m,h}
        self.synced_logdet = np.full(self.horizon, dim * math.log(lam))               # log det(λI + S_h)

    def _row(self, state: int | np.ndarray) -> int | np.ndarray:
        return self.index * self.n_states + state if self.agent_features else state

    def q_function(self) -> LinearQ:
        """The current optimistic Q (Eqs. 1–6) on U^m_h(t)."""
        return lsvi_backward(self.features, self.data, self.stats, self.optimism)

    def policy(self, q: LinearQ | None = None) -> np.ndarray:
        """The greedy policy on its own MDP, argmax_a Q(m, x, a), shape ``(H, S)``."""
        q = self.q_function() if q is None else q
        return np.argmax(q.q[:, self._row(np.arange(self.n_states))], axis=-1)

    def play(self, elapsed: int) -> tuple[float, bool]:
        """One episode t: plan, act greedily adding each tuple to U^m_h and W^m_h, test Eq. 7 after each step.

        Args:
            elapsed: t − k_t ≥ 1, the episodes since the last synchronization (this one included).

        Returns:
            the regret V*_m(x_1) − V^{π^t_m}_m(x_1) of the episode's policy (exact DP) and whether Eq. 7 fired.
        """
        policy = self.policy()
        regret = float(self.optimal - self.sampler.model.policy_value(policy))
        state, fire = self.sampler.begin(self.rng), False
        for h in range(self.horizon):
            action = int(policy[h, state])
            reward, next_state = self.sampler.step(h, state, action, self.rng)
            row, next_row = self._row(state), self._row(next_state)
            self.data[h].add(row, action, reward, next_row)
            self.pending[h].add(row, action, reward, next_row)
            self.stats[h].update(self.features[row, action])                  # δS_{m,h} += φφᵀ (Sherman–Morrison)
            ratio = self.stats[h].logdet - self.synced_logdet[h]
            fire |= bool(ratio > self.threshold / elapsed)                    # Eq. 7
            state = next_state
        return regret, fire

    def pending_message(self) -> dict[str, np.ndarray]:
        """W^m_h for every h as flat arrays: step h, generating agent n and the tuple (x, a, r, x')."""
        columns = [np.concatenate(column) for column in zip(*(b.view() for b in self.pending), strict=True)]
        return {"step": np.concatenate([np.full(len(b), h) for h, b in enumerate(self.pending)]),
                "agent": np.full(len(columns[0]), self.index),
                **dict(zip(("state", "action", "reward", "next_state"), columns, strict=True))}

    def absorb(self, union: Mapping[str, np.ndarray]) -> None:
        """Add the others' tuples of the union W^h to U^m_h and S_h (Algorithm 1 lines 27–30); δS ← 0, W^m_h ← ∅."""
        others = union["agent"] != self.index
        for h in range(self.horizon):
            take = others & (union["step"] == h)
            s, a = union["state"][take], union["action"][take]
            self.data[h].add(s, a, union["reward"][take], union["next_state"][take])
            self.stats[h].update(self.features[s, a])                         # S_h += Σ_{W^h} φφᵀ (Woodbury)
            self.synced_logdet[h] = self.stats[h].logdet
            self.pending[h] = TransitionBuffer()


class CoopServer:
    """The Coop-LSVI server: the union W^h of a synchronization, and the synchronized statistics λI + S_h.

    Args:
        features: the agents' feature table (as for `CoopAgent`).
        horizon: H.
        lam: the ridge parameter λ.
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, features: np.ndarray, horizon: int, lam: float) -> None:
        self.features = features
        self.synced = [RidgeStatistics(features.shape[-1], lam) for _ in range(horizon)]   # λI + S_h
        self.synchronizations = 0

    def merge(self, gathered: Mapping[int, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The union W^h of every agent's pending tuples (agents in the order received), added to S_h."""
        agents = list(gathered)
        union = {key: np.concatenate([gathered[m][key] for m in agents]) for key in gathered[agents[0]]}
        for h, stats in enumerate(self.synced):
            take = union["step"] == h
            stats.update(self.features[union["state"][take], union["action"][take]])
        self.synchronizations += 1
        return union


# ------------------------------------------------------------------------------------------------ the algorithm


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


class CoopLSVI(PooledRun):
    """Coop-LSVI over parallel linear MDPs, one agent per MDP (paper 001, Algorithm 1, or Algorithm 3).

    The method contract (`agents.common.method.Method`) with the unit "episode": `learn(total)` runs `total` more
    episodes of every agent; each record's `info` holds the episode's per-agent `regrets` and whether it ended with
    a synchronization.

    Every agent and the server is a worker (`CoopAgent`, `CoopServer`): agent m's environment, data, statistics and
    episodes live in its worker, the synchronized statistics in the server's (node ``comm.server``). Each episode is
    one call to all agents at once; a synchronization is three more calls (pending tuples, the server's union, the
    agents absorbing it) around one gather and one broadcast through the communicator.

    Args:
        tasks: agent m's MDP: a `LinearMDP` (episodes sampled from its tables) or a
            Gymnasium env of a linear family running one task (episodes from the env); equal horizons and sizes.
        threshold: the synchronization threshold S ≥ 0 (``0``: every episode; ``math.inf``: never).
        beta: the bonus scale β (theory: `coop_beta`).
        lam: the ridge parameter λ (1 in the paper).
        agent_features: ``True`` for Algorithm 3 (each task's own features [φ; κ(m)]), ``False`` for Algorithm 1
            (shared φ); ``None`` picks Algorithm 1 exactly when all tasks have identical features.
        comm: a communicator to use (default: a new one for ``backend``).
        seed: seeds every agent's episodes (each agent has a stream of its own).
        backend: ``"local"`` (every node in this process) or ``"ray"`` (each agent and the server in a Ray actor);
            same results on both.
        backend_options: Ray options (``address``, ``checkpoint_every`` — here 25 pool calls unless given —,
            ``max_restarts``, ``actor_options``, further ``ray.init`` options; see
            `Deployment`).
    """

    unit = "episode"

    def __init__(self, tasks: Sequence[Any], *, threshold: float = 1.0, beta: float = 0.5, lam: float = 1.0,
                 agent_features: bool | None = None, comm: Communicator | None = None, seed: int | None = None,
                 backend: str = "local", backend_options: dict[str, Any] | None = None) -> None:
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
        self.agents = list(range(len(self.tasks)))
        self.server_node = comm.server if comm is not None else SERVER
        pool_seed, agent_seeds = node_seeds(seed, len(self.agents))
        workers: dict[Any, Any] = {
            m: CoopAgent(m, samplers[m], self.features, self.n_states, self.agent_features, self.optimism,
                         self.threshold, self.lam, tasks[m].optimal_value(), agent_seeds[m]) for m in self.agents}
        workers[self.server_node] = CoopServer(self.features, self.horizon, self.lam)
        self.deployment = Deployment(workers, backend=backend, backend_options=backend_options, seed=pool_seed, comm=comm,
                                     default_checkpoint_every=25)
        self.comm = self.deployment.comm
        self.last_sync = 0                                                                    # k_t
        self.episode = 0
        self.history = CoopHistory()

    @property
    def n_agents(self) -> int:
        """M."""
        return len(self.tasks)

    # -- the agents' state, read from their workers ---------------------------------------------------------------
    @property
    def data(self) -> list[list[TransitionBuffer]]:
        """U^m_h(t) for every agent m and step h."""
        return [self.worker(m).data for m in self.agents]

    @property
    def pending(self) -> list[list[TransitionBuffer]]:
        """W^m_h, the tuples agent m has not sent yet."""
        return [self.worker(m).pending for m in self.agents]

    @property
    def stats(self) -> list[list[RidgeStatistics]]:
        """λI + S_h + δS_{m,h} for every agent m and step h."""
        return [self.worker(m).stats for m in self.agents]

    @property
    def synced_logdet(self) -> np.ndarray:
        """log det(λI + S_h) as each agent last synchronized it, shape ``(M, H)``."""
        return np.stack([self.worker(m).synced_logdet for m in self.agents])

    @property
    def synced_stats(self) -> list[RidgeStatistics]:
        """The server's synchronized statistics λI + S_h, one per step."""
        return self.worker(self.server_node).synced

    def q_function(self, agent: int) -> LinearQ:
        """Agent ``agent``'s current optimistic Q (Eqs. 1–6) on its data U^m_h(t)."""
        return self.worker(agent).q_function()

    def policy(self, agent: int, q: LinearQ | None = None) -> np.ndarray:
        """Agent ``agent``'s greedy policy on its own MDP, argmax_a Q(m, x, a), shape ``(H, S)``."""
        return self.worker(agent).policy(q)

    # -- the algorithm ------------------------------------------------------------------------------------------------
    def _synchronize(self) -> None:
        """Every agent sends W^m_h to the server, which broadcasts the union W^h; all agents add the others' tuples."""
        messages = self.pool.map(CoopAgent.pending_message, nodes=self.agents)            # W^m_h
        gathered = self.comm.gather(messages)
        union = self.pool.map(CoopServer.merge, {self.server_node: (gathered,)})[self.server_node]   # W^h
        received = self.comm.broadcast(union, self.agents)
        self.pool.map(CoopAgent.absorb, {m: (received[m],) for m in self.agents})
        self.last_sync = self.episode + 1                                 # k_{t+1} = t

    def step_episode(self) -> list[float]:
        """One episode for every agent (plan, act, test), then synchronize if any agent fired; returns the regrets."""
        played = self.pool.map(CoopAgent.play, nodes=self.agents, elapsed=self.episode + 1 - self.last_sync)  # t − k_t
        regrets = [played[m][0] for m in self.agents]
        fire = any(played[m][1] for m in self.agents)
        if fire and self.n_agents > 1:
            self._synchronize()
        self.history.regret.append(regrets)
        self.history.synchronized.append(bool(fire and self.n_agents > 1))
        self.episode += 1
        return regrets

    def _learn_unit(self) -> dict[str, Any]:
        regrets = self.step_episode()
        return {"episode": self.episode, "group_regret": float(np.sum(regrets)),
                "synchronized": int(self.history.synchronized[-1]), "regrets": regrets}


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
