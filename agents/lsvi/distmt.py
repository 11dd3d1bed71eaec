"""DistMT-LSVI (paper 000, Algorithms 1–4): N agents learn ε-optimal policies for M hidden linear tasks via a server.

Each round t, agent i is handed an unknown task m_{i,t} and

1. explores it reward-free for K_1 episodes (`exploration_phase`, Alg. 2) and plans on the data with β_1
   (`planning`, Alg. 3), giving the optimistic estimate V^{1,t}_{1,i}(s_0) (Alg. 1 lines 3–4);
2. sends (θ^{1,t}, Λ^{1,t}, V^{1,t}_1(s_0)) to the server (line 5), which tests V against the value sets G_m of the
   labels found so far (line 6): within c_Sep/2 of every V in some G_m means "task m, seen before";
3. if seen, plays the stored policy F_m (lines 7–9); otherwise explores again for K_2 episodes, plans with β_2 and
   sends (θ^{2,t}, Λ^{2,t}) to the server (lines 11–14);
4. the server groups the round's values into labels (`DistMTServer.group`, Alg. 4) and broadcasts the
   statistics of every new label to all agents (lines 15–17).

The module reads top to bottom: Algorithms 2 and 3 (`exploration_phase`, `planning`), the server's state and
Algorithm 4 (`DistMTServer`), the nodes (`DistMTAgent`, `DistMTServerNode`), then `DistMTLSVI`, whose round
(`DistMTLSVI.run_round`, Algorithm 1) calls the nodes through the worker pool with method references
(`pool.map(DistMTAgent.phase_one, ...)`): in this process, or each node in a Ray actor of its own, with the same
results. Every message between them passes through a `Communicator`, which counts rounds and bytes.
Choices where the paper is silent or ambiguous: Planning takes β explicitly (β_1 for phase-1 data, β_2 for
phase-2 data, as in the proof of Lemma 1); the datasets keep next states (Algorithm 2 returns (s, a, r), which
Planning cannot use); in Group only agents that ran phase 2 may open a label, and agents matched at line 6 add
their value to the matched G_m; several matching labels resolve to the closest.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np

from agents.common.communication import SERVER, Communicator
from agents.common.deployment import Deployment
from agents.lsvi.core import (
    EnvSampler,
    EpisodeSampler,
    LinearQ,
    Optimism,
    TransitionBuffer,
    lsvi_backward,
    make_sampler,
    run_episode,
)
from agents.lsvi.deployment import PooledRun, node_seeds
from agents.lsvi.ridge import RidgeStatistics
from agents.lsvi.theory import distmt_beta, distmt_episodes, distmt_rounds

__all__ = ["DistMTAgent", "DistMTLSVI", "DistMTServer", "DistMTServerNode", "RoundRecord", "exploration_phase", "planning",
           "statistics_to_q"]

Assignment = Literal["iid", "permutation"]


# ------------------------------------------------------------------------------------------------ Algorithms 2 and 3
def exploration_phase(sampler: EpisodeSampler | EnvSampler, features: np.ndarray, beta: float, episodes: int,
                      rng: np.random.Generator, lam: float = 1.0) -> tuple[list[TransitionBuffer], list[RidgeStatistics]]:
    """Algorithm 2, ExpPh(β, K): K episodes of reward-free optimistic exploration; returns the data D and its Λ_h.

    Episode k plans backward on episodes 1..k−1 with the exploration reward ũ = u/H only (targets V^k_{h+1}(s'),
    no observed reward), Q^k_h = min{⟨θ^k_h, φ⟩ + u^k_h + ũ^k_h, H} with u^k_h = min{β‖φ‖_{(Λ^k_h)⁻¹}, H}, then acts
    greedily. The environment's rewards are recorded for Planning but never steer exploration.
    """
    horizon, dim = sampler.horizon, features.shape[-1]
    optimism = Optimism(beta, bonus_cap=horizon, bonus_scale=1.0 + 1.0 / horizon, clip="horizon")
    buffers = [TransitionBuffer(episodes) for _ in range(horizon)]
    stats = [RidgeStatistics(dim, lam) for _ in range(horizon)]
    for _ in range(episodes):
        q = lsvi_backward(features, buffers, stats, optimism, reward_weight=0.0)
        for h, (s, a, r, s_next) in enumerate(run_episode(sampler, q.policy(), rng)):
            buffers[h].add(s, a, r, s_next)
            stats[h].update(features[s, a])                      # Λ^{k+1}_h = Λ^k_h + φ^k_h (φ^k_h)ᵀ (Sherman–Morrison)
    return buffers, stats


def planning(features: np.ndarray, buffers: Sequence[TransitionBuffer], stats: Sequence[RidgeStatistics],
             beta: float) -> LinearQ:
    """Algorithm 3, Planning(D, β): LSVI with observed rewards, Q_h = min{⟨θ_h, φ⟩ + min{β‖φ‖_{Λ_h⁻¹}, H}, H}."""
    horizon = len(buffers)
    return lsvi_backward(features, buffers, stats, Optimism(beta, bonus_cap=horizon, clip="horizon"))


def statistics_to_q(features: np.ndarray, message: dict[str, np.ndarray], beta: float) -> LinearQ:
    """The policy of received statistics {(θ_h, Λ_h)} (Alg. 1 line 9): Λ_h is inverted once on arrival."""
    horizon = message["theta"].shape[0]
    inverses = np.stack([np.linalg.inv(message["gram"][h]) for h in range(horizon)])
    return LinearQ.from_parameters(features, message["theta"], inverses,
                                   Optimism(beta, bonus_cap=horizon, clip="horizon"))


# ------------------------------------------------------------------------------------------------ the nodes
@dataclass
class DistMTServer:
    """The server's state: the value sets G_m and the policy statistics F_m of the labels found so far (Alg. 1, 4).

    Attributes:
        c_sep: the separability constant; values within c_Sep/2 of every member of G_m match label m.
        values: G_m for each label m = 0..ℓ−1.
        statistics: F_m for each label, the phase-2 message of the agent that opened it.
        origin: the true task of that agent (bookkeeping for evaluation; the algorithm never reads it).
    """

    c_sep: float
    values: list[list[float]] = field(default_factory=list)
    statistics: list[dict[str, np.ndarray]] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)

    @property
    def n_labels(self) -> int:
        """ℓ, the number of labels found so far."""
        return len(self.values)

    def match(self, value: float, labels: int | None = None) -> int | None:
        """Alg. 1 line 6: a label m < ``labels`` with |V − V'| ≤ c_Sep/2 for all V' ∈ G_m (the closest if several)."""
        best, best_gap = None, np.inf
        for m in range(self.n_labels if labels is None else labels):
            gap = max(abs(v - value) for v in self.values[m])
            if gap <= self.c_sep / 2 and gap < best_gap:
                best, best_gap = m, gap
        return best

    def group(self, values: Sequence[float], matched: Sequence[int | None],
              statistics: Sequence[dict[str, np.ndarray] | None], tasks: Sequence[int]) -> list[int]:
        """Algorithm 4 for the agents i = 1..N in order; returns the new labels (f = their number).

        Agent i with a line-6 label adds its value to that G_m; an agent that ran phase 2 is tested against every
        label including those opened earlier this round, and opens label ℓ+1 with its statistics if none matches.
        """
        new = []
        for value, label, stats, task in zip(values, matched, statistics, tasks, strict=True):
            if label is None and stats is not None:
                label = self.match(value)
                if label is None:
                    self.values.append([])
                    self.statistics.append(stats)
                    self.origin.append(int(task))
                    label = self.n_labels - 1
                    new.append(label)
            if label is not None:
                self.values[label].append(float(value))
        return new


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
    """The DistMT-LSVI server as a node: its `DistMTServer` state, the line-6 test, Group.

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


# ------------------------------------------------------------------------------------------------ the algorithm
@dataclass(frozen=True)
class RoundRecord:
    """What one round did: the tasks drawn, labels, episodes per agent (cumulative), communication so far, the tasks
    covered, and V* − V^π on its own task of the policy π^t_i each agent returned (Alg. 1 lines 9 and 14)."""

    round: int
    tasks: list[int]
    labels: list[int]
    phase2: list[bool]
    episodes: list[int]
    n_labels: int
    comm_rounds: int
    comm_bytes: int
    covered: list[int]
    returned_gap: list[float]


class DistMTLSVI(PooledRun):
    """DistMT-LSVI for N agents on M linear tasks sharing the feature map φ (paper 000, Algorithm 1).

    The method contract (`agents.common.method.Method`) with the unit "round"; a record's `info` is the round's
    `RoundRecord`.

    Every agent and the server is a worker (`DistMTAgent`, `DistMTServerNode` above): agent i's environments,
    episodes, planning and label table live in its worker, the label sets in the server's (node ``comm.server``);
    this driver hands each agent its task, calls the workers and routes every message between them through the
    communicator.

    Args:
        tasks: the M tasks, `LinearMDP` models or Gymnasium envs of a linear family, with
            equal features, horizon and start state. Agents only run episodes in them; task ids stay hidden.
        n_agents: N.
        c_sep: the separability constant c_Sep (Assumption 2).
        episodes_phase1: K_1 (see `distmt_episodes` for the theory).
        episodes_phase2: K_2.
        beta1: β_1 (see `distmt_beta`).
        beta2: β_2.
        epsilon: the target accuracy ε, used by `covered_tasks` (and nothing else: it enters the algorithm only
            through K_2 and β_2).
        delta: failure probability δ, for the default number of rounds T = 6 M ln(M/δ)/N.
        lam: the ridge parameter λ (1 in the paper).
        assignment: ``"iid"`` (m_{i,t} ~ Unif([M]), the theory) or ``"permutation"`` (each agent sees a random
            permutation of the tasks, the paper's experiments).
        comm: a communicator to use (default: a new one for ``backend``; the server is ``comm.server``).
        seed: seeds task assignment and every agent's episodes (each agent has a stream of its own).
        backend: ``"local"`` (every node in this process) or ``"ray"`` (each agent and the server in a Ray actor);
            same results on both.
        backend_options: Ray options (``address``, ``checkpoint_every``, ``max_restarts``, ``actor_options``, further
            ``ray.init`` options; see `Deployment`).
    """

    unit = "round"
    until_covered = False

    def __init__(self, tasks: Sequence[Any], n_agents: int, c_sep: float, *, episodes_phase1: int = 300,
                 episodes_phase2: int = 1000, beta1: float = 0.5, beta2: float = 0.5, epsilon: float = 0.1,
                 delta: float = 0.1, lam: float = 1.0, assignment: Assignment = "iid",
                 comm: Communicator | None = None, seed: int | None = None, backend: str = "local",
                 backend_options: dict[str, Any] | None = None) -> None:
        if len(tasks) < 1:
            raise ValueError("tasks must hold at least one LinearMDP")
        models, samplers = zip(*(make_sampler(task) for task in tasks), strict=True)
        tasks = list(models)
        first = tasks[0]
        for m, task in enumerate(tasks):
            if (task.features.shape != first.features.shape or not np.array_equal(task.features, first.features)
                    or task.horizon != first.horizon or task.start_state != first.start_state):
                raise ValueError(f"tasks[{m}] must share features, horizon and start state with tasks[0]")
        for name, value in (("n_agents", n_agents), ("episodes_phase1", episodes_phase1),
                            ("episodes_phase2", episodes_phase2)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in (("c_sep", c_sep), ("epsilon", epsilon), ("lam", lam)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0 < delta < 1:
            raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
        if assignment not in ("iid", "permutation"):
            raise ValueError(f"assignment must be 'iid' or 'permutation', got {assignment!r}")
        self.tasks = list(tasks)
        self.features = np.asarray(first.features)
        self.horizon, self.start_state = first.horizon, first.start_state
        self.n_agents, self.c_sep, self.epsilon, self.delta, self.lam = int(n_agents), c_sep, epsilon, delta, lam
        self.episodes_phase1, self.episodes_phase2 = int(episodes_phase1), int(episodes_phase2)
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.assignment = assignment
        pool_seed, (driver_seed, *agent_seeds) = node_seeds(seed, self.n_agents + 1)
        self.rng = np.random.default_rng(driver_seed)                                    # draws the tasks m_{i,t}
        self.agents = list(range(self.n_agents))
        self.server_node = comm.server if comm is not None else SERVER
        workers: dict[Any, Any] = {i: DistMTAgent(samplers, self.features, lam, agent_seeds[i]) for i in self.agents}
        workers[self.server_node] = DistMTServerNode(c_sep)
        self.deployment = Deployment(workers, backend=backend, backend_options=backend_options, seed=pool_seed, comm=comm)
        self.comm = self.deployment.comm
        self.episodes = np.zeros(self.n_agents, dtype=np.int64)
        self.history: list[RoundRecord] = []
        self._label_policies: list[dict[int, np.ndarray]] = [{} for _ in self.agents]   # greedy policies of F
        self._origin: list[int] = []                                                     # server.origin, mirrored
        self._permutations = [self.rng.permutation(len(self.tasks)) for _ in self.agents]

    @classmethod
    def from_theory(cls, tasks: Sequence[Any], n_agents: int, c_sep: float, *, epsilon: float = 0.1,
                    delta: float = 0.1, c_beta: float = 1.0, c_episodes: float = 1.0, **kwargs: Any) -> DistMTLSVI:
        """DistMT-LSVI with K_1, K_2, β_1, β_2 from Algorithm 1's formulas (constants ``c_beta``, ``c_episodes``).

        K_2 uses ε inside the log as well (as Lemma 5 does; Theorem 1 writes c_Sep there). The literal K are
        astronomically large for unit constants (d = H = 5 already gives millions of episodes); use small constants
        or set K directly.
        """
        model = make_sampler(tasks[0])[0]
        d, h, m = model.dim, model.horizon, len(tasks)
        return cls(tasks, n_agents, c_sep, epsilon=epsilon, delta=delta,
                   episodes_phase1=distmt_episodes(d, h, m, delta, c_sep, c_episodes),
                   episodes_phase2=distmt_episodes(d, h, m, delta, epsilon, c_episodes),
                   beta1=distmt_beta(d, h, m, delta, c_sep, c_beta), beta2=distmt_beta(d, h, m, delta, epsilon, c_beta),
                   **kwargs)

    @property
    def n_tasks(self) -> int:
        """M."""
        return len(self.tasks)

    @property
    def server(self) -> DistMTServer:
        """The server's state (G_m, F_m, origins) as its worker holds it now."""
        return self.worker(self.server_node).server

    @property
    def policies(self) -> list[dict[int, LinearQ]]:
        """Every agent's table F: label → its policy's optimistic Q (as the agents' workers hold them now)."""
        return [self.worker(i).policies for i in self.agents]

    def default_rounds(self) -> int:
        """T = ⌈6 M ln(M/δ) / N⌉ (Theorem 1)."""
        return distmt_rounds(self.n_tasks, self.n_agents, self.delta)

    def _draw_tasks(self, t: int) -> list[int]:
        if self.assignment == "iid":
            return [int(m) for m in self.rng.integers(self.n_tasks, size=self.n_agents)]
        return [int(perm[t % self.n_tasks]) for perm in self._permutations]

    def run_round(self) -> RoundRecord:
        """One round t of Algorithm 1 for all agents, then Group and the broadcast of new labels."""
        t, agents, server = len(self.history), self.agents, self.server_node
        tasks = self._draw_tasks(t)
        # lines 3–5: phase 1 on the unknown task, then (θ^1, Λ^1, V^1_1(s_0)) to the server
        reports = self.pool.map(DistMTAgent.phase_one, {i: (tasks[i],) for i in agents},
                                beta=self.beta1, episodes=self.episodes_phase1)
        self.episodes += self.episodes_phase1
        received = self.comm.gather(reports)
        values = {i: received[i]["value"] for i in agents}
        # line 6: the server's test against the labels known at the start of the round; -1 means "new"
        matched = self.pool.map(DistMTServerNode.match, {server: (values,)})[server]
        replies = self.comm.scatter(matched)
        # lines 7–14: a seen task plays F_m; a new one runs phase 2 and sends (θ^2, Λ^2)
        answers = self.pool.map(DistMTAgent.phase_two, {i: (replies[i], tasks[i]) for i in agents},
                                beta=self.beta2, episodes=self.episodes_phase2)
        phase2 = {i: message for i, (message, _) in answers.items() if message is not None}
        self.episodes += np.array([self.episodes_phase2 * (i in phase2) for i in agents], dtype=np.int64)
        stats2 = self.comm.gather(phase2) if phase2 else {}
        # line 15: Group (Alg. 4); lines 16–17: the statistics of the f new labels to every agent
        grouped = self.pool.map(DistMTServerNode.group, {server: (values, matched, stats2, dict(enumerate(tasks)))})[server]
        self._origin = grouped["origin"]
        if grouped["new"]:
            delivered = self.comm.broadcast(grouped["new"], agents)
            held = self.pool.map(DistMTAgent.add_labels, {i: (delivered[i],) for i in agents}, beta=self.beta2)
            self._label_policies = [held[i] for i in agents]
        record = RoundRecord(t, tasks, grouped["labels"], [i in phase2 for i in agents], [int(e) for e in self.episodes],
                             grouped["n_labels"], self.comm.stats.rounds, self.comm.stats.bytes, self.covered_tasks(),
                             [self._gap(tasks[i], answers[i][1]) for i in agents])
        self.history.append(record)
        return record

    def _gap(self, task: int, policy: np.ndarray) -> float:
        model = self.tasks[task]
        return float(model.optimal_value() - model.policy_value(policy))

    def _learn_unit(self) -> RoundRecord:
        return self.run_round()

    def _done(self) -> bool:
        return self.until_covered and bool(self.history) and len(self.history[-1].covered) == self.n_tasks

    def learn(self, total: int | None = None, *, until_covered: bool = False, **kwargs: Any) -> Self:
        """Run `total` rounds (default T = ⌈6 M ln(M/δ)/N⌉); other keywords as `agents.common.method.Method.learn`.

        Args:
            total: how many rounds to run.
            until_covered: stop after the first round at which every agent holds an ε-optimal policy for every task
                (checked with the exact oracle; a measurement convenience, the algorithm itself never sees the tasks).
            **kwargs: `callback` (called with `(self, record)`, the record's `info` is the `RoundRecord`),
                `progress_bar`, `checkpoint_path`, `checkpoint_every`.
        """
        self.until_covered = bool(until_covered)
        return super().learn(self.default_rounds() if total is None else total, **kwargs)

    def label_policies(self, agent: int = 0) -> dict[int, np.ndarray]:
        """Agent ``agent``'s greedy policy (shape ``(H, S)``) for every label it holds."""
        return dict(self._label_policies[agent])

    def policy_values(self, agent: int = 0) -> np.ndarray:
        """Exact V^{π_m}_{task}(s_0) of agent ``agent``'s label-m policy on every task, shape ``(labels, M)``."""
        policies = self.label_policies(agent)
        return np.array([[task.policy_value(policies[m]) for task in self.tasks] for m in sorted(policies)])

    def covered_tasks(self) -> list[int]:
        """Tasks m for which every agent holds an ε-optimal policy *under the label of m*.

        A label stands for the task of the agent that opened it (``server.origin``, bookkeeping the algorithm never
        reads); task m is covered when that label's policy has V^π_m(s_0) ≥ V*_m(s_0) − ε, checked by exact DP.
        A policy of another label that happens to be ε-optimal for m does not count: the agent would not use it for m.
        """
        covered = set(range(self.n_tasks))
        for agent in self.agents:
            held = set()
            for label, policy in self._label_policies[agent].items():
                task = self.tasks[self._origin[label]]
                if task.policy_value(policy) >= task.optimal_value() - self.epsilon:
                    held.add(self._origin[label])
            covered &= held
        return sorted(covered)

    def identification_correct(self) -> bool:
        """Whether every label's G_m holds values of one task only and no task has two labels (by the server log)."""
        origins: dict[int, set[int]] = {}
        for record in self.history:
            for task, label in zip(record.tasks, record.labels, strict=True):
                origins.setdefault(label, set()).add(task)
        n_labels = self.history[-1].n_labels if self.history else 0
        tasks_per_label = [origins.get(m, set()) for m in range(n_labels)]
        single = all(len(s) == 1 for s in tasks_per_label) and -1 not in origins
        distinct = len({next(iter(s)) for s in tasks_per_label if s}) == n_labels
        return single and distinct
