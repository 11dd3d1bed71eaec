"""Tabular DCPG: decentralized entropy-regularized policy gradient (Zeng et al., UAI 2021, Algorithm 1).

``N`` agents, agent ``i`` acting only in task ``i``, each hold softmax parameters ``theta_i[s, a]`` over the common
state set. Every iteration ``k`` (Algorithm 1)::

    g_i    = grad L_i^lambda(theta_i^k; mu_i)                         # exact (Eq. 8) or Monte-Carlo (Sec. 5)
    theta_i^{k+1} = sum_{j in N_i ∪ {i}} W_ij theta_j^k + alpha_k g_i  # Eq. 9: consensus + local ascent step

The consensus step goes through `agents.common.Communicator.mix` (one round, two messages per edge, counted in
bytes). ``W`` comes from `agents.common.graphs`: lazy Metropolis weights on a ring (the paper's setting) or on
any connected graph; ``weights="identity"`` gives the single-agent baselines SA-i (no communication at all). The common
policy is the network average ``theta_bar`` (the "unified policy" of Sec. 5.1); the logs hold the consensus error
``max_i ||theta_i - theta_bar||``, the joint objective ``sum_i V_i^{pi(theta_bar)}(rho_i)`` (Eq. 5) and the number of
tasks whose goal the greedy common policy reaches.

With Monte-Carlo gradients every agent is a `TabularAgentWorker` that samples its episodes
and applies Eq. 9, in this process or in its own Ray actor (``backend="ray"``), with the same results.

The module reads top to bottom: the agents' episodes and their Monte-Carlo gradient (Eq. 8), the agent node
(`TabularAgentWorker`, Eq. 9 in the agent), then `TabularDCPG`, whose iteration (`TabularDCPG.step`, Algorithm 1)
mixes through the communicator and calls the agents through the worker pool with method references
(`pool.map(TabularAgentWorker.update, ...)`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any, Literal, Self

import numpy as np
import scipy.linalg

import mtenvs
from agents.common.communication import Communicator
from agents.common.deployment import Deployment
from agents.common.graphs import (
    Graph,
    build_graph,
    consensus_error,
    mixing_matrix,
    second_largest_eigenvalue_modulus,
    validate_mixing_matrix,
)
from agents.common.method import CallbackLike, Method
from agents.dcpg.objective import objective, policy_gradient, softmax_policy
from mtenvs.core.task import Task
from mtenvs.gridworld.family import ModelFamily
from mtenvs.gridworld.tabular import TabularMDP
from mtenvs.progress import ProgressOptions

__all__ = ["EnvEpisodes", "Evaluation", "GradientMode", "ModelEpisodes", "TabularAgentWorker", "TabularDCPG",
           "monte_carlo_gradient", "theorem1_step_size"]

GradientMode = Literal["exact", "mc"]


def theorem1_step_size(gammas: Sequence[float], lam: float, num_states: int, w: Any) -> float:
    """The largest constant step size of Theorem 1, ``(1 + lambda_min(W)) / (sum_i 16/(1-gamma_i)^3 + 4 N lambda/|S|)``
    (Eq. 10, with ``1 + sigma_N`` read as ``1 + lambda_min(W)``, the descent factor of App. B's Eq. 29 for a symmetric
    ``W``); usually impractically small."""
    lowest = float(scipy.linalg.eigvalsh(validate_mixing_matrix(w))[0])
    return (1.0 + lowest) / (sum(16.0 / (1.0 - g) ** 3 for g in gammas) + 4.0 * len(gammas) * lam / num_states)


# ------------------------------------------------------------------------------------------------ the agents
class ModelEpisodes:
    """Episodes sampled from a known model (for agents given a `TabularMDP`)."""

    def __init__(self, model: TabularMDP, start: np.ndarray, max_steps: int) -> None:
        self.model, self.start, self.max_steps = model, start, max_steps

    def sample(self, policy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, actions and (expected) rewards of one episode from ``mu``."""
        first = int(rng.choice(len(self.start), p=self.start))
        return self.model.sample_episode(policy, rng, self.max_steps, start_state=first)


class EnvEpisodes:
    """Episodes played in the task's Gymnasium environment (for agents given a `Task`)."""

    def __init__(self, task: Task, start: np.ndarray, max_steps: int, seed: int) -> None:
        import gymnasium as gym

        env_id = mtenvs.env_ids(task.family)[0]
        self.env = gym.make(env_id, task=task, disable_env_checker=True).unwrapped
        self.env.reset(seed=seed)
        self.start, self.max_steps = start, max_steps

    def sample(self, policy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, actions and rewards of one episode from ``mu``, until termination or ``max_steps`` steps."""
        first = int(rng.choice(len(self.start), p=self.start))
        state, _ = self.env.reset(options={"state": first})
        # Inverse-CDF action sampling with bisect on Python lists: a per-step rng.choice would dominate the cost.
        cdf = np.cumsum(policy, axis=1).tolist()
        last = policy.shape[1] - 1
        uniforms = rng.random(self.max_steps).tolist()
        states, actions, rewards = [], [], []
        for u in uniforms:
            action = min(bisect.bisect_right(cdf[state], u), last)
            next_state, reward, terminated, truncated, _ = self.env.step(action)
            states.append(state)
            actions.append(action)
            rewards.append(reward)
            state = next_state
            if terminated or truncated:
                break
        return np.array(states, dtype=np.int64), np.array(actions, dtype=np.int64), np.array(rewards)


def monte_carlo_gradient(theta: np.ndarray, episode: tuple[np.ndarray, np.ndarray, np.ndarray], gamma: float,
                         lam: float, discount_weighting: bool = True) -> np.ndarray:
    """REINFORCE estimate of Eq. 8 from one episode (the Monte-Carlo local gradient of Sec. 5): every-visit returns
    ``G_t = sum_{k>=t} gamma^{k-t} r_k``, ``g[s_t] += gamma^t G_t (e_{a_t} - pi(.|s_t))``, plus the exact regularizer
    gradient ``(lambda/|S|)(1/|A| - pi)``. ``discount_weighting=False`` drops the ``gamma^t`` factor."""
    states, actions, rewards = episode
    pi = softmax_policy(theta)
    num_states, num_actions = theta.shape
    gradient = (lam / num_states) * (1.0 / num_actions - pi)
    if len(states) == 0:
        return gradient
    returns = np.zeros(len(rewards))
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    weights = returns * (gamma ** np.arange(len(rewards)) if discount_weighting else 1.0)
    score = np.eye(num_actions)[actions] - pi[states]          # grad log pi(a_t|s_t) in row s_t
    np.add.at(gradient, states, weights[:, None] * score)
    return gradient


class TabularAgentWorker:
    """One tabular DCPG agent with Monte-Carlo gradients: its episode sampler and its own random generator.

    Args:
        episodes: where the agent's episodes come from (`EnvEpisodes` or `ModelEpisodes`).
        gamma: the task's discount factor.
        lam: regularization weight ``lambda``.
        discount_weighting: keep the ``gamma^t`` factor of the estimator.
        seed: seeds the generator that picks start states and actions.
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, episodes: EnvEpisodes | ModelEpisodes, gamma: float, lam: float, discount_weighting: bool,
                 seed: np.random.SeedSequence | int) -> None:
        self.episodes, self.gamma, self.lam, self.discount_weighting = episodes, gamma, lam, discount_weighting
        self.rng = np.random.default_rng(seed)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """``g_i``: the REINFORCE estimate of ``grad L_i^lambda(theta; mu_i)`` from one fresh episode of the task."""
        episode = self.episodes.sample(softmax_policy(theta), self.rng)
        return monte_carlo_gradient(theta, episode, self.gamma, self.lam, self.discount_weighting)

    def update(self, theta: np.ndarray, mixed: np.ndarray, alpha: float) -> np.ndarray:
        """Eq. 9 for this agent: ``theta_i^{k+1} = sum_j W_ij theta_j^k + alpha g_i``, ``g_i`` taken at ``theta_i^k``."""
        return mixed + alpha * self.gradient(theta)


# ------------------------------------------------------------------------------------------------ the method
@dataclass(frozen=True)
class Evaluation:
    """A policy scored on every task: exact values ``V_i(rho_i)``, whether the greedy policy reaches each goal
    within the horizon, and the stochastic policy's probability of reaching it."""

    values: tuple[float, ...]
    solved: tuple[bool, ...]
    success: tuple[float, ...]

    @property
    def joint_objective(self) -> float:
        """``sum_i V_i(rho_i)`` (Eq. 5)."""
        return float(sum(self.values))

    @property
    def tasks_solved(self) -> int:
        """How many tasks the greedy policy solves."""
        return int(sum(self.solved))


class TabularDCPG(Method):
    """Decentralized policy gradient with tabular softmax policies, one agent per task (Algorithm 1).

    The method contract (`agents.common.method.Method`) with the unit "iteration".

    Args:
        tasks_or_models: one entry per agent: a `Task` of a family with a known model (``GridWorld``,
            ``ConflictChain``; Monte-Carlo episodes are then played in its environment) or a `TabularMDP`.
            All must share the state and action sets.
        graph: ``"ring"`` (the paper's), ``"complete"``, ``"chain"``, ``"star"``, ``"bipartite"``, a
            `Graph` or an edge list; must be connected.
        weights: ``"lazy-metropolis"`` (the paper's), ``"metropolis"``, ``"uniform"``, ``"identity"`` (single-agent
            baselines: every agent trains alone, nothing is sent) or an explicit doubly stochastic matrix.
        alpha: step size, a constant or a function of the iteration ``k``.
        lam: regularization weight ``lambda`` of the relative entropy (Eq. 7).
        gradient: ``"exact"`` (Eq. 8 from the model) or ``"mc"`` (REINFORCE from one episode per agent).
        gamma: discount factor (default: the family's, or the model's own).
        train_start: per-agent training start distributions ``mu_i`` (default ``rho_i``).
        theta0: initial parameters, ``(S, A)`` for every agent (identical, as the theory assumes) or ``(N, S, A)``;
            default zeros.
        max_steps: episode cap of Monte-Carlo rollouts.
        discount_weighting: keep the ``gamma^t`` factor of the Monte-Carlo estimator.
        eval_horizon: steps within which a goal must be reached to count as solved (the paper's test length).
        communicator: the transport of the consensus step (default: one for ``backend``, closed by `close`).
        seed: seeds the Monte-Carlo episodes and action sampling (agent ``i`` draws from the ``i``-th child of
            ``SeedSequence(seed)``).
        backend: ``"local"`` (this process) or ``"ray"``: with ``gradient="mc"``, every agent samples its episodes in
            its own Ray actor. Exact gradients are computed here in either case (they need no sampling: a linear
            solve per agent, cheaper than a message to an actor). Same results on both.
        backend_options: for ``"ray"``: ``address`` and further ``ray.init`` options, and for the Monte-Carlo workers
            ``checkpoint_every``, ``max_restarts``, ``actor_options``.
        log_interval: iterations between two evaluations recorded in ``history`` (and run checkpoints); every
            ``learn`` call also records its last iteration.
    """

    unit = "iteration"
    _resources = ("_runtime", "communicator", "pool")

    def __init__(self, tasks_or_models: Sequence[Task | TabularMDP], graph: str | Graph | Sequence[tuple[int, int]] = "ring",
                 weights: str | Any = "lazy-metropolis", *, alpha: float | Callable[[int], float] = 1.0, lam: float = 1e-3,
                 gradient: GradientMode = "exact", gamma: float | None = None, train_start: Sequence[Any] | None = None,
                 theta0: Any = None, max_steps: int = 200, discount_weighting: bool = True, eval_horizon: int = 100,
                 communicator: Communicator | None = None, seed: int | None = None, backend: str = "local",
                 backend_options: Mapping[str, Any] | None = None, log_interval: int = 10) -> None:
        entries = list(tasks_or_models)
        if not entries:
            raise ValueError("tasks_or_models is empty: give one task or model per agent")
        self.models = [self._model(entry, gamma, i) for i, entry in enumerate(entries)]
        shapes = {(m.num_states, m.num_actions) for m in self.models}
        if len(shapes) != 1:
            raise ValueError(f"all tasks must share the state and action sets; got (S, A) shapes {sorted(shapes)}")
        if gradient not in ("exact", "mc"):
            raise ValueError(f"gradient must be 'exact' or 'mc', got {gradient!r}")
        if not (isinstance(lam, (int, float)) and lam >= 0):
            raise ValueError(f"lam must be a number >= 0, got {lam!r}")
        n = len(entries)
        self.graph = Graph(n) if isinstance(weights, str) and weights == "identity" else build_graph(graph, n)
        self.weights = mixing_matrix(self.graph, weights)
        self.alpha, self.lam, self.gradient_mode = alpha, float(lam), gradient
        self.discount_weighting, self.eval_horizon = discount_weighting, eval_horizon
        self.train_start = self._train_starts(train_start)
        self.theta = self._initial_theta(theta0)
        self.iteration = 0
        self.log_interval = self._check_log_interval(log_interval)
        self.history: list[dict[str, Any]] = []
        self.seed, self.backend = seed, backend
        workers = None
        sequence = np.random.SeedSequence(seed)
        if gradient == "mc":
            env_seeds = sequence.generate_state(n)
            agent_seeds = sequence.spawn(n)
            workers = {i: TabularAgentWorker(
                EnvEpisodes(e, mu, max_steps, int(s)) if isinstance(e, Task) else ModelEpisodes(m, mu, max_steps),
                m.gamma, self.lam, discount_weighting, agent_seed)
                for i, (e, m, mu, s, agent_seed) in enumerate(zip(entries, self.models, self.train_start, env_seeds,
                                                                  agent_seeds, strict=True))}
        self._runtime = Deployment(workers, backend=backend, backend_options=backend_options, seed=int(sequence.entropy),
                                   comm=communicator)
        self.communicator: Communicator = self._runtime.comm
        self.pool = self._runtime.pool

    # --------------------------------------------------------------------------------------- construction
    @staticmethod
    def _model(entry: Task | TabularMDP, gamma: float | None, i: int) -> TabularMDP:
        if isinstance(entry, TabularMDP):
            return entry if gamma is None else entry.with_gamma(gamma)
        if isinstance(entry, Task):
            family = mtenvs.family(entry.family)
            if not isinstance(family, ModelFamily):
                raise ValueError(f"tasks_or_models[{i}]: family {entry.family!r} has no known model; pass a TabularMDP")
            return family.model(entry, gamma)
        raise ValueError(f"tasks_or_models[{i}] must be a Task or a TabularMDP, got {type(entry).__name__}")

    def _train_starts(self, train_start: Sequence[Any] | None) -> list[np.ndarray]:
        if train_start is None:
            return [m.start for m in self.models]
        if len(train_start) != self.num_agents:
            raise ValueError(f"train_start needs one distribution per agent ({self.num_agents}), got {len(train_start)}")
        return [m.with_start(mu).start for m, mu in zip(self.models, train_start, strict=True)]

    def _initial_theta(self, theta0: Any) -> np.ndarray:
        shape = (self.models[0].num_states, self.models[0].num_actions)
        if theta0 is None:
            return np.zeros((self.num_agents, *shape))
        theta = np.asarray(theta0, dtype=np.float64)
        if theta.shape == shape:
            return np.tile(theta, (self.num_agents, 1, 1))
        if theta.shape != (self.num_agents, *shape) or not np.all(np.isfinite(theta)):
            raise ValueError(f"theta0 must be finite with shape {shape} or {(self.num_agents, *shape)}, got {theta.shape}")
        return theta.copy()

    # ------------------------------------------------------------------------------------------- properties
    @property
    def num_agents(self) -> int:
        """``N``."""
        return len(self.models)

    @property
    def sigma_2(self) -> float:
        """Second largest singular value of ``W`` (its spectral gap ``1 - sigma_2`` enters the rates)."""
        return second_largest_eigenvalue_modulus(self.weights)

    @property
    def sigma_n(self) -> float:
        """Smallest singular value of ``W``."""
        return float(scipy.linalg.svdvals(self.weights).min())

    @property
    def theta_bar(self) -> np.ndarray:
        """The network average ``(1/N) sum_i theta_i``: the common policy's parameters."""
        return self.theta.mean(axis=0)

    def policy(self, theta: Any = None) -> np.ndarray:
        """``pi(a|s)`` of ``theta`` (default: the network average)."""
        return softmax_policy(self.theta_bar if theta is None else theta)

    def consensus_error(self) -> float:
        """``max_i ||theta_i - theta_bar||``."""
        return consensus_error(dict(enumerate(self.theta)))

    # ------------------------------------------------------------------------------------------- gradients
    def local_gradient(self, i: int, theta: np.ndarray) -> np.ndarray:
        """Agent ``i``'s estimate of ``grad L_i^lambda(theta; mu_i)`` from its own task only (Monte-Carlo: one new
        episode, sampled by the agent's worker)."""
        if self.pool is None:
            return policy_gradient(self.models[i], theta, self.lam, self.train_start[i])          # Eq. 8
        return self.pool.map(TabularAgentWorker.gradient, {i: (np.asarray(theta),)})[i]

    def step(self) -> None:
        """One iteration of Algorithm 1 for all agents at once (synchronous)."""
        k = self.iteration
        alpha = self.alpha(k) if callable(self.alpha) else self.alpha
        mixed = self.communicator.mix(dict(enumerate(self.theta)), self.weights, self.graph)  # sum_j W_ij theta_j^k
        if self.pool is None:
            gradients = [self.local_gradient(i, self.theta[i]) for i in range(self.num_agents)]  # at theta_i^k
            self.theta = np.stack([mixed[i] + alpha * gradients[i] for i in range(self.num_agents)])  # Eq. 9
        else:  # each agent samples at theta_i^k and applies Eq. 9 in its worker
            updated = self.pool.map(TabularAgentWorker.update,
                                    {i: (self.theta[i], mixed[i], alpha) for i in range(self.num_agents)})
            self.theta = np.stack([updated[i] for i in range(self.num_agents)])
        self.iteration += 1

    # ----------------------------------------------------------------------------------------- evaluation
    def evaluate(self, theta: Any = None) -> Evaluation:
        """The policy of ``theta`` (default: the network average) on every task."""
        pi = self.policy(theta)
        greedy = np.eye(pi.shape[1])[pi.argmax(axis=1)]
        return Evaluation(
            values=tuple(m.value(pi) for m in self.models),
            solved=tuple(m.reach_probability(greedy, self.eval_horizon) > 0.5 for m in self.models),
            success=tuple(m.reach_probability(pi, self.eval_horizon) for m in self.models),
        )

    def regularized_objective(self, theta: Any = None) -> float:
        """``L^lambda(theta; rho) = sum_i (V_i(rho_i) - lambda RE(pi_theta))`` (Eq. 7)."""
        theta = self.theta_bar if theta is None else np.asarray(theta)
        return float(sum(objective(m, theta, self.lam) for m in self.models))

    def _log(self) -> dict[str, Any]:
        evaluation = self.evaluate()
        record = {"iteration": self.iteration, "consensus_error": self.consensus_error(),
                  "joint_objective": evaluation.joint_objective, "regularized_objective": self.regularized_objective(),
                  "tasks_solved": evaluation.tasks_solved, "values": list(evaluation.values),
                  "comm_rounds": self.communicator.stats.rounds, "comm_bytes": self.communicator.stats.bytes}
        self.history.append(record)
        return record

    # ------------------------------------------------------------------------------------------- the run
    def _learn_unit(self) -> dict[str, Any]:
        """One iteration; the evaluation record is taken every `log_interval` iterations and at the last one."""
        self.step()
        if self.iteration % self.log_interval == 0 or self.iteration == self._target:
            return self._log()
        return {"iteration": self.iteration}

    def _before_learn(self) -> None:
        if not self.history:
            self._log()

    def _after_learn(self) -> None:
        if self.history[-1]["iteration"] != self.iteration:  # stopped by the callback between two logged iterations
            self._log()

    def _fingerprint(self) -> dict[str, Any]:
        return {**super()._fingerprint(), "num_agents": self.num_agents}

    @staticmethod
    def _check_log_interval(log_interval: Any) -> int:
        if isinstance(log_interval, bool) or not isinstance(log_interval, (int, np.integer)) or log_interval < 1:
            raise ValueError(f"log_interval must be an integer >= 1, got {log_interval!r}")
        return int(log_interval)

    def learn(self, total: int, *, callback: CallbackLike = None, progress_bar: bool | ProgressOptions = False,
              checkpoint_path: str | PathLike[str] | None = None, checkpoint_every: int | None = None,
              log_interval: int | None = None) -> Self:
        """Run `total` iterations, recording an evaluation in `history` every `log_interval` (and at the last).

        `log_interval` (default: the constructor's) also sets the interval for later calls; `checkpoint_every`
        defaults to it.

        The callback receives `(self, record)` after every iteration and stops training by returning `False`. With
        `checkpoint_path`, the run (parameters, history, message counts and the Monte-Carlo agents' samplers and
        generators) is saved there at every logged iteration; if the file exists, the run resumes from it and ends
        where the interrupted call would have ended, with the same result. Iterations after the last save are run
        again, so saving at log points costs no exactness.
        """
        if log_interval is not None:
            self.log_interval = self._check_log_interval(log_interval)
        return super().learn(total, callback=callback, progress_bar=progress_bar, checkpoint_path=checkpoint_path,
                             checkpoint_every=self.log_interval if checkpoint_every is None else checkpoint_every)

    def close(self) -> None:
        """Release the Monte-Carlo workers (Ray actors) and the communicator this object opened."""
        if not getattr(self, "_closed", False):
            self._closed = True
            self._runtime.close()

    def __enter__(self) -> TabularDCPG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
