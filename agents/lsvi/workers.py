"""The nodes of the cooperative LSVI methods as workers: each agent and each server keeps its own state and runs its
own computation, in this process or in a Ray actor of its own (:mod:`agents.common.workers`).

* :class:`DistMTAgent` (paper 000, defined beside its driver in :mod:`agents.lsvi.distmt`): agent i's
  environments (one per task it may be handed), its random stream, the exploration phases and planning it runs on
  them (Alg. 1 lines 3–4, 11–12) and its table F of label policies (lines 9, 17);
* :class:`DistMTServerNode` (paper 000, node ``"server"``): the value sets G_m and statistics F_m of the labels
  (:class:`~agents.lsvi.distmt.DistMTServer`), the line-6 test and Group (Alg. 4);
* :class:`CoopAgent` (paper 001, Algorithms 1 and 3): agent m's environment, its data U^m_h and pending tuples
  W^m_h, its ridge statistics and determinant test (Eq. 7); one call plays one episode;
* :class:`CoopServer` (paper 001, node ``"server"``): forms the union W^h of the agents' pending tuples at a
  synchronization and keeps the synchronized statistics S_h = Σ_{synchronized} φφᵀ.

The drivers (:class:`~agents.lsvi.distmt.DistMTLSVI`, :class:`~agents.lsvi.coop.CoopLSVI`) call the workers through a
:class:`~agents.common.workers.WorkerPool` and route every message between them through the run's
:class:`~agents.common.communication.Communicator`; :class:`~agents.common.deployment.Deployment` builds both for one
backend.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np

from agents.lsvi.core import EnvSampler, EpisodeSampler, LinearQ, Optimism, TransitionBuffer, lsvi_backward
from agents.lsvi.distmt import DistMTAgent, DistMTServerNode
from agents.lsvi.ridge import RidgeStatistics

__all__ = ["CoopAgent", "CoopServer", "DistMTAgent", "DistMTServerNode"]

# ---------------------------------------------------------------------------------------------------- paper 000
# DistMTAgent and DistMTServerNode are defined beside the driver in agents.lsvi.distmt and re-exported here.


# ---------------------------------------------------------------------------------------------------- paper 001


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
        features: the agents' feature table (as for :class:`CoopAgent`).
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

