"""Tabular DCPG: decentralized entropy-regularized policy gradient (Zeng et al., UAI 2021, Algorithm 1).

``N`` agents, agent ``i`` acting only in task ``i``, each hold softmax parameters ``theta_i[s, a]`` over the common
state set. Every iteration ``k`` (notes-003 §8.1)::

    g_i    = grad L_i^lambda(theta_i^k; mu_i)                         # exact (Eq. 8) or Monte-Carlo (§3.3b)
    theta_i^{k+1} = sum_{j in N_i ∪ {i}} W_ij theta_j^k + alpha_k g_i  # Eq. 9: consensus + local ascent step

The consensus step goes through :meth:`agents.common.Communicator.mix` (one round, two messages per edge, counted in
bytes). ``W`` comes from :mod:`agents.common.graphs`: lazy Metropolis weights on a ring (the paper's setting) or on any
connected graph; ``weights="identity"`` gives the single-agent baselines SA-i (no communication at all). The common
policy is the network average ``theta_bar`` (notes G11); the logs hold the consensus error
``max_i ||theta_i - theta_bar||``, the joint objective ``sum_i V_i^{pi(theta_bar)}(rho_i)`` (Eq. 5) and the number of
tasks whose goal the greedy common policy reaches.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.linalg

import mtenvs
from agents.common.communication import Communicator, LocalCommunicator
from agents.common.graphs import (
    Graph,
    build_graph,
    consensus_error,
    mixing_matrix,
    second_largest_eigenvalue_modulus,
    validate_mixing_matrix,
)
from mtenvs.core.task import Task
from mtenvs.gridworld.family import ModelFamily
from mtenvs.gridworld.tabular import TabularMDP, softmax_policy

GradientMode = Literal["exact", "mc"]


def theorem1_step_size(gammas: Sequence[float], lam: float, num_states: int, w: Any) -> float:
    """The largest constant step size of Theorem 1, ``(1 + lambda_min(W)) / (sum_i 16/(1-gamma_i)^3 + 4 N lambda/|S|)``
    (Eq. 10, with ``1 + sigma_N`` read as ``1 + lambda_min(W)``, notes-003 §4.1); usually impractically small."""
    lowest = float(scipy.linalg.eigvalsh(validate_mixing_matrix(w))[0])
    return (1.0 + lowest) / (sum(16.0 / (1.0 - g) ** 3 for g in gammas) + 4.0 * len(gammas) * lam / num_states)


# ------------------------------------------------------------------------------------------------ episodes
class ModelEpisodes:
    """Episodes sampled from a known model (for agents given a :class:`TabularMDP`)."""

    def __init__(self, model: TabularMDP, start: np.ndarray, max_steps: int) -> None:
        self.model, self.start, self.max_steps = model, start, max_steps

    def sample(self, policy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, actions and (expected) rewards of one episode from ``mu``."""
        first = int(rng.choice(len(self.start), p=self.start))
        return self.model.sample_episode(policy, rng, self.max_steps, start_state=first)


class EnvEpisodes:
    """Episodes played in the task's Gymnasium environment (for agents given a :class:`Task`)."""

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
    """REINFORCE estimate of Eq. 8 from one episode (notes-003 §3.3b): every-visit returns
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


class TabularDCPG:
    """Decentralized policy gradient with tabular softmax policies, one agent per task (Algorithm 1).

    Args:
        tasks_or_models: one entry per agent: a :class:`Task` of a family with a known model (``GridWorld``,
            ``ConflictChain``; Monte-Carlo episodes are then played in its environment) or a :class:`TabularMDP`.
            All must share the state and action sets.
        graph: ``"ring"`` (the paper's), ``"complete"``, ``"chain"``, ``"star"``, ``"bipartite"``, a
            :class:`~agents.common.graphs.Graph` or an edge list; must be connected.
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
        communicator: the transport of the consensus step (default: in-process).
        seed: seeds the Monte-Carlo episodes and action sampling.
    """

    def __init__(self, tasks_or_models: Sequence[Task | TabularMDP], graph: str | Graph | Sequence[tuple[int, int]] = "ring",
                 weights: str | Any = "lazy-metropolis", *, alpha: float | Callable[[int], float] = 1.0, lam: float = 1e-3,
                 gradient: GradientMode = "exact", gamma: float | None = None, train_start: Sequence[Any] | None = None,
                 theta0: Any = None, max_steps: int = 200, discount_weighting: bool = True, eval_horizon: int = 100,
                 communicator: Communicator | None = None, seed: int | None = None) -> None:
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
        self.communicator = communicator if communicator is not None else LocalCommunicator()
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self.history: list[dict[str, Any]] = []
        self._episodes: list[Any] = []
        if gradient == "mc":
            seeds = np.random.SeedSequence(seed).generate_state(n)
            self._episodes = [EnvEpisodes(e, mu, max_steps, int(s)) if isinstance(e, Task) else ModelEpisodes(m, mu, max_steps)
                              for e, m, mu, s in zip(entries, self.models, self.train_start, seeds, strict=True)]

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
        """Agent ``i``'s estimate of ``grad L_i^lambda(theta; mu_i)`` from its own task only."""
        model = self.models[i]
        if self.gradient_mode == "exact":
            return model.policy_gradient(theta, self.lam, self.train_start[i])                  # Eq. 8
        episode = self._episodes[i].sample(softmax_policy(theta), self.rng)
        return monte_carlo_gradient(theta, episode, model.gamma, self.lam, self.discount_weighting)

    def step(self) -> None:
        """One iteration of Algorithm 1 for all agents at once (synchronous)."""
        k = self.iteration
        alpha = self.alpha(k) if callable(self.alpha) else self.alpha
        gradients = [self.local_gradient(i, self.theta[i]) for i in range(self.num_agents)]  # at the pre-mix theta_i^k
        mixed = self.communicator.mix(dict(enumerate(self.theta)), self.weights, self.graph)  # sum_j W_ij theta_j^k
        self.theta = np.stack([mixed[i] + alpha * gradients[i] for i in range(self.num_agents)])  # Eq. 9
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
        return float(sum(m.objective(theta, self.lam) for m in self.models))

    def _log(self) -> dict[str, Any]:
        evaluation = self.evaluate()
        record = {"iteration": self.iteration, "consensus_error": self.consensus_error(),
                  "joint_objective": evaluation.joint_objective, "regularized_objective": self.regularized_objective(),
                  "tasks_solved": evaluation.tasks_solved, "values": list(evaluation.values),
                  "comm_rounds": self.communicator.stats.rounds, "comm_bytes": self.communicator.stats.bytes}
        self.history.append(record)
        return record

    def learn(self, iterations: int, callback: Callable[[TabularDCPG], bool | None] | None = None,
              log_interval: int = 10, progress_bar: bool = False) -> TabularDCPG:
        """Run ``iterations`` iterations, logging every ``log_interval`` (and the last); ``callback(self)`` is called
        after every iteration and stops training by returning ``False``."""
        for name, value, minimum in (("iterations", iterations, 0), ("log_interval", log_interval, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if not self.history:
            self._log()
        steps: Any = range(iterations)
        if progress_bar:
            from tqdm import tqdm

            steps = tqdm(steps, desc="DCPG")
        for k in steps:
            self.step()
            last = k == iterations - 1
            if self.iteration % log_interval == 0 or last:
                self._log()
            if callback is not None and callback(self) is False:
                if not last and self.iteration % log_interval != 0:
                    self._log()
                break
        return self
