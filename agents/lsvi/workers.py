"""The nodes of the cooperative LSVI methods as workers: each agent and each server keeps its own state and runs its
own computation, in this process or in a Ray actor of its own (:mod:`agents.common.workers`).

* :class:`DistMTAgent` (paper 000): agent i's environments (one per task it may be handed), its random stream, the
  exploration phases and planning it runs on them (Alg. 1 lines 3–4, 11–12) and its table F of label policies
  (lines 9, 17);
* :class:`DistMTServerNode` (paper 000, node ``"server"``): the value sets G_m and statistics F_m of the labels
  (:class:`~agents.lsvi.distmt.DistMTServer`), the line-6 test and Group (Alg. 4);
* ``CoopAgent`` and ``CoopServer`` (paper 001) live in :mod:`agents.lsvi.coop`, beside the algorithm, and are
  re-exported here.

The drivers (:class:`~agents.lsvi.distmt.DistMTLSVI`, :class:`~agents.lsvi.coop.CoopLSVI`) call the workers through a
:class:`~agents.common.workers.WorkerPool` and route every message between them through the run's
:class:`~agents.common.communication.Communicator`; :class:`~agents.common.deployment.Deployment` builds both for one
backend.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agents.lsvi.core import EnvSampler, EpisodeSampler, LinearQ
from agents.lsvi.distmt import DistMTServer, exploration_phase, planning, statistics_to_q

__all__ = ["CoopAgent", "CoopServer", "DistMTAgent", "DistMTServerNode"]

# ---------------------------------------------------------------------------------------------------- paper 000


class DistMTAgent:
    """Agent i of DistMT-LSVI: its environments, its episodes and planning, and its table F of label policies.

    Args:
        samplers: one episode sampler per task (the agent is told only which one to run, never what it is).
        features: φ, shape ``(S, A, d)``.
        lam: the ridge parameter λ.
        seed: the agent's episode generator.
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, samplers: Sequence[EpisodeSampler | EnvSampler], features: np.ndarray, lam: float,
                 seed: np.random.SeedSequence) -> None:
        self.samplers = [copy.deepcopy(sampler) for sampler in samplers]      # environments of its own
        self.features = features
        self.lam = lam
        self.start_state = self.samplers[0].start_state
        self.rng = np.random.default_rng(seed)
        self.policies: dict[int, LinearQ] = {}                                 # F: label → policy (Alg. 1 line 17)

    def _phase(self, task: int, beta: float, episodes: int) -> tuple[LinearQ, dict[str, np.ndarray]]:
        """ExpPh(β, K) then Planning(D, β) (Algs. 2–3); the policy and its statistics (θ_h, Λ_h)."""
        buffers, stats = exploration_phase(self.samplers[task], self.features, beta, episodes, self.rng, self.lam)
        q = planning(self.features, buffers, stats, beta)
        return q, {"theta": q.weights.copy(), "gram": np.stack([s.matrix for s in stats])}

    def phase_one(self, task: int, beta: float, episodes: int) -> dict[str, Any]:
        """Alg. 1 lines 3–5: phase 1 on the task handed over; the report (θ^1, Λ^1, V^1_1(s_0)) for the server."""
        q, message = self._phase(task, beta, episodes)
        return {**message, "value": q.value(self.start_state)}

    def phase_two(self, label: int, task: int, beta: float, episodes: int) -> tuple[dict[str, np.ndarray] | None, np.ndarray]:
        """Alg. 1 lines 7–14 for the server's reply ``label`` (−1: new): the phase-2 statistics for the server (or
        ``None`` for a seen task) and the greedy policy π^t_i returned this round."""
        if label >= 0:
            return None, self.policies[label].policy()                        # line 9: play F_m
        q, message = self._phase(task, beta, episodes)                        # lines 11–12
        return message, q.policy()

    def add_labels(self, delivered: Mapping[int, dict[str, np.ndarray]], beta: float) -> dict[int, np.ndarray]:
        """Alg. 1 line 17: store the policies of the new labels' statistics; every held label's greedy policy."""
        for label, message in delivered.items():
            self.policies[int(label)] = statistics_to_q(self.features, message, beta)
        return {label: q.policy() for label, q in self.policies.items()}


class DistMTServerNode:
    """The DistMT-LSVI server as a node: its :class:`~agents.lsvi.distmt.DistMTServer` state, the line-6 test, Group.

    Args:
        c_sep: the separability constant c_Sep.
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, c_sep: float) -> None:
        self.server = DistMTServer(c_sep)

    def match(self, values: Mapping[int, float]) -> dict[int, int]:
        """Alg. 1 line 6 for every agent's value against the labels known at the start of the round (−1: new)."""
        labels = self.server.n_labels
        matched = {i: self.server.match(value, labels) for i, value in values.items()}
        return {i: -1 if label is None else int(label) for i, label in matched.items()}

    def group(self, values: Mapping[int, float], matched: Mapping[int, int], statistics: Mapping[int, dict[str, np.ndarray]],
              tasks: Mapping[int, int]) -> dict[str, Any]:
        """Group (Alg. 4) for the agents in order; returns the new labels with their statistics (lines 16–17), every
        agent's label this round, and the server's label count and origins."""
        agents = list(values)
        new = self.server.group([values[i] for i in agents], [None if matched[i] < 0 else matched[i] for i in agents],
                                [statistics.get(i) for i in agents], [tasks[i] for i in agents])
        labels = [matched[i] if matched[i] >= 0 else self.server.match(values[i]) for i in agents]
        return {"new": {m: self.server.statistics[m] for m in new},
                "labels": [-1 if m is None else int(m) for m in labels],
                "n_labels": self.server.n_labels, "origin": list(self.server.origin)}


# ---------------------------------------------------------------------------------------------------- paper 001
# Coop-LSVI's agent and server are in agents.lsvi.coop, beside the algorithm that calls them.
from agents.lsvi.coop import CoopAgent, CoopServer  # noqa: E402
