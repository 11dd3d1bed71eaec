"""The linear multi-agent MDP of Coop-LSVI Algorithm 2 (paper 001, Definition 5), with exact Pareto values.

N agents share a joint state x = (x_1, ..., x_N) and act jointly, a = (a_1, ..., a_N). Every agent sees the joint
state and the joint action; its reward is private:

    r_{m,h}(x, a) = ⟨φ_m(x, a), θ_h⟩,        P_h(·|x, a) = ⟨φ_c(x, a), μ_h(·)⟩,

with per-agent reward features φ_m ∈ Δ^{d1−1}, common transition features φ_c ∈ Δ^{d2−1}, a shared θ_h ∈ [0, 1]^{d1}
and μ_{h,j} distributions over joint states (the latent-simplex construction of `mtenvs.linear.generator`; paper
001's Definition 5 gives no instance). The feature matrix the learner sees is Φ(x, a) ∈ R^{d×N}, d = d1 + d2, with
column m = [φ_m; φ_c]/√2 (column norms ≤ 1); relative to it the parameters are [√2θ_h; 0] and [0; √2μ_h].

For weights v on the simplex, the scalarized MMDP (reward vᵀr_h) is the single-agent linear MDP with features Φv
(Proposition 1); `LinearMultiAgentMDP.scalarized` builds it, so V*_v (a Pareto value, Proposition 2) comes
from exact DP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from pettingzoo import ParallelEnv

from mtenvs.core.env import discrete_action
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import ParameterSpace
from mtenvs.core.task import Task
from mtenvs.linear.family import INSTANCE, Setting
from mtenvs.linear.generator import rng_for, simplex_features, simplex_measures
from mtenvs.linear.model import LinearMDP

#: Largest joint state and joint action spaces a task may have (the DP and the feature tables are dense).
MAX_JOINT_STATES = 512
MAX_JOINT_ACTIONS = 256
SQRT2 = float(np.sqrt(2.0))


@dataclass(frozen=True, eq=False)
class LinearMultiAgentMDP:
    """A finite linear MMDP with private rewards (module docstring); joint states/actions are flat indices.

    Args:
        local_states: |S_i|, the number of local states of each agent (joint states: |S_i|^N).
        local_actions: |A_i| (joint actions: |A_i|^N).
        reward_features: φ_m(x, a), shape ``(S, A, N, d1)``.
        transition_features: φ_c(x, a), shape ``(S, A, d2)``.
        mu: μ_h, shape ``(H, d2, S)``; theta: θ_h, shape ``(H, d1)``.
        start_state: the joint start state (flat index).
    """

    local_states: int
    local_actions: int
    reward_features: np.ndarray = field(repr=False)
    transition_features: np.ndarray = field(repr=False)
    mu: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    start_state: int = 0

    @property
    def n_agents(self) -> int:
        """N."""
        return int(self.reward_features.shape[2])

    @property
    def horizon(self) -> int:
        """H."""
        return int(self.theta.shape[0])

    @property
    def n_states(self) -> int:
        """Number of joint states."""
        return int(self.reward_features.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of joint actions."""
        return int(self.reward_features.shape[1])

    @property
    def dim(self) -> int:
        """d = d1 + d2, the rows of Φ."""
        return int(self.reward_features.shape[3] + self.transition_features.shape[2])

    @cached_property
    def transitions(self) -> np.ndarray:
        """P_h(x'|x, a) = ⟨φ_c(x, a), μ_h(x')⟩, shape ``(H, S, A, S)``."""
        return np.einsum("sad,hdt->hsat", self.transition_features, self.mu)

    @cached_property
    def rewards(self) -> np.ndarray:
        """r_{m,h}(x, a) = ⟨φ_m(x, a), θ_h⟩, shape ``(H, S, A, N)``."""
        return np.clip(np.einsum("samd,hd->hsam", self.reward_features, self.theta), 0.0, 1.0)

    @cached_property
    def feature_matrix(self) -> np.ndarray:
        """Φ(x, a) with column m = [φ_m; φ_c]/√2, shape ``(S, A, d, N)``."""
        common = np.broadcast_to(self.transition_features[:, :, None, :],
                                 (*self.transition_features.shape[:2], self.n_agents, self.transition_features.shape[2]))
        stacked = np.concatenate([self.reward_features, common], axis=-1) / SQRT2           # (S, A, N, d)
        return np.ascontiguousarray(np.swapaxes(stacked, -1, -2))

    def check_weights(self, weights: Any) -> np.ndarray:
        """``weights`` as a point of the simplex Δ^{N−1}, or a ``ValueError``."""
        v = np.asarray(weights, dtype=np.float64)
        if v.shape != (self.n_agents,) or not np.all(np.isfinite(v)) or np.any(v < 0) or abs(v.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be {self.n_agents} non-negative numbers summing to 1, got {weights!r}")
        return v

    def scalarized(self, weights: Any) -> LinearMDP:
        """The single-agent linear MDP with reward vᵀr_h and features Φv (Proposition 1), checked on construction."""
        v = self.check_weights(weights)
        d1 = self.reward_features.shape[3]
        theta = np.concatenate([SQRT2 * self.theta, np.zeros((self.horizon, self.transition_features.shape[2]))], axis=1)
        mu = np.concatenate([np.zeros((self.horizon, d1, self.n_states)), SQRT2 * self.mu], axis=1)
        return LinearMDP(self.feature_matrix @ v, self.transitions, self.rewards @ v, self.start_state, mu=mu, theta=theta)

    def pareto_value(self, weights: Any) -> float:
        """V*_{v,1}(x_1) = max_π vᵀV^π_1(x_1), exact (DP on the scalarized reward)."""
        return self.scalarized(weights).optimal_value()

    def agent_values(self, policy: np.ndarray) -> np.ndarray:
        """The vector V^π_1(x_1) ∈ R^N of a joint policy (``(H, S)`` joint actions or ``(H, S, A)`` probabilities)."""
        return np.array([self.scalarized(np.eye(self.n_agents)[m]).policy_value(policy) for m in range(self.n_agents)])

    # ------------------------------------------------------------------------------------ joint indexing
    def joint_state(self, local: Any) -> int:
        """The flat index of local states ``(x_1, ..., x_N)``."""
        return int(np.ravel_multi_index(tuple(int(x) for x in local), (self.local_states,) * self.n_agents))

    def local_state(self, joint: int) -> np.ndarray:
        """The local states ``(x_1, ..., x_N)`` of a flat joint state."""
        return np.array(np.unravel_index(int(joint), (self.local_states,) * self.n_agents), dtype=np.int64)

    def joint_action(self, local: Any) -> int:
        """The flat index of local actions ``(a_1, ..., a_N)``."""
        return int(np.ravel_multi_index(tuple(int(a) for a in local), (self.local_actions,) * self.n_agents))

    def local_action(self, joint: int) -> np.ndarray:
        """The local actions ``(a_1, ..., a_N)`` of a flat joint action."""
        return np.array(np.unravel_index(int(joint), (self.local_actions,) * self.n_agents), dtype=np.int64)


# ---------------------------------------------------------------------------------------------------- tasks
class LinearMultiAgentFamily(TaskFamily):
    """Tasks of the linear MMDP: sizes plus the generator seed; `model` builds (and caches) the MMDP."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._models: dict[Task, LinearMultiAgentMDP] = {}

    def task(self, overrides: Task | dict[str, Any] | None = None, /, **params: Any) -> Task:
        """A validated task; the joint spaces must stay within the dense-table limits."""
        task = super().task(overrides, **params)
        joint_states = task["local_states"] ** task["n_agents"]
        joint_actions = task["local_actions"] ** task["n_agents"]
        if joint_states > MAX_JOINT_STATES or joint_actions > MAX_JOINT_ACTIONS:
            raise ValueError(f"{self.name} task: {joint_states} joint states and {joint_actions} joint actions; at most "
                             f"{MAX_JOINT_STATES} and {MAX_JOINT_ACTIONS} are allowed (n_agents, local_states, "
                             "local_actions too large)")
        return task

    def model(self, task: Task | dict[str, Any]) -> LinearMultiAgentMDP:
        """The MMDP of ``task`` (deterministic in its parameters; cached)."""
        task = self.validate(task)
        key = Task(task.family, task.params)
        if key not in self._models:
            self._models[key] = build_multiagent_mdp(key)
        return self._models[key]

    def pareto_value(self, task: Task | dict[str, Any], weights: Any) -> float:
        """The exact V*_v of ``task`` for scalarization weights ``weights`` on the simplex."""
        return self.model(task).pareto_value(weights)


def build_multiagent_mdp(task: Task) -> LinearMultiAgentMDP:
    """The latent-simplex MMDP of a validated task."""
    n, local_s, local_a = task["n_agents"], task["local_states"], task["local_actions"]
    d1, d2, horizon = task["reward_dim"], task["transition_dim"], task["horizon"]
    rng = rng_for("multiagent", n, local_s, local_a, d1, d2, horizon, task["instance"])
    joint_s, joint_a = local_s ** n, local_a ** n
    reward_features = np.stack([simplex_features(rng, joint_s, joint_a, d1) for _ in range(n)], axis=2)
    transition_features = simplex_features(rng, joint_s, joint_a, d2)
    mu = simplex_measures(rng, horizon, d2, joint_s)
    theta = rng.uniform(0.0, 1.0, size=(horizon, d1))
    return LinearMultiAgentMDP(local_s, local_a, reward_features, transition_features, mu, theta, start_state=0)


FAMILY = LinearMultiAgentFamily(
    "LinearMultiAgent",
    ParameterSpace([
        Setting("n_agents", 2, bounds=(1, 8), description="number of agents N"),
        Setting("local_states", 3, bounds=(2, 16), description="local states |S_i| of each agent"),
        Setting("local_actions", 2, bounds=(2, 8), description="local actions |A_i| of each agent"),
        Setting("reward_dim", 3, bounds=(1, 32), description="dimension d1 of the reward features φ_m"),
        Setting("transition_dim", 4, bounds=(1, 32), description="dimension d2 of the transition features φ_c"),
        Setting("horizon", 5, bounds=(1, 100), description="episode length H"),
        INSTANCE,
    ]),
    description="A linear multi-agent MDP with private rewards (Definition 5 of paper 001).",
    set_sizes={"train": 10, "test": 5, "ood": 5},
)


# ---------------------------------------------------------------------------------------------- environment
class LinearMultiAgentEnv(ParallelEnv[str, np.ndarray, int]):
    """## Description
    PettingZoo version of the linear multi-agent MDP (module docstring): agents ``agent_0 .. agent_{N-1}`` act
    simultaneously; the joint state and the joint action are visible to all, each reward is private.

    ## Observation Space
    For every agent ``MultiDiscrete([local_states] * N + [horizon + 1])`` (int64): every agent's local state, then
    the number of steps taken. ``state()`` returns the same vector (``state_space``).

    ## Action Space
    ``Discrete(local_actions)`` per agent.

    ## Features and shared information
    Every agent's info holds ``"features"``: Φ(x, a) for every joint action a of the observed joint state x, shape
    ``(local_actions ** N, d1 + d2, N)``, indexed by flat joint action (``model.joint_action``); ``"joint_state"``
    (flat index); after a step also ``"joint_action"`` (the local actions of all agents). ``env.model`` is the
    `LinearMultiAgentMDP` (exact Pareto values by ``model.pareto_value(v)``).

    ## Reward
    Agent m receives r_{m,h}(x, a) ∈ [0, 1] (a Python float).

    ## Starting State
    The fixed joint start state 0; ``reset(options={"state": joint_state})`` starts elsewhere.

    ## Episode End
    Every agent terminates after ``horizon`` steps.

    ## Arguments
    ``task``: a `Task` of ``FAMILY`` or a dict of overrides (default: the default task).

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"name": "mtenvs_linear_multiagent_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, task: Task | dict[str, Any] | None = None, *, render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode={render_mode!r} is not supported; supported modes: []")
        self.render_mode = render_mode
        self.task = FAMILY.validate(task if task is not None else {})
        self.model = FAMILY.model(self.task)
        n = self.model.n_agents
        self.possible_agents = [f"agent_{m}" for m in range(n)]
        self.agents: list[str] = []
        self.state_space = spaces.MultiDiscrete([self.model.local_states] * n + [self.model.horizon + 1])
        self._observation_spaces = {agent: spaces.MultiDiscrete(self.state_space.nvec) for agent in self.possible_agents}
        self._action_spaces = {agent: spaces.Discrete(self.model.local_actions) for agent in self.possible_agents}
        self._cdf = np.cumsum(self.model.transitions, axis=-1)
        self._rng = np.random.default_rng()
        self._state: int | None = None
        self._step_index = 0

    def observation_space(self, agent: str) -> spaces.Space:
        """The joint-state observation space (the same object at every call)."""
        return self._observation_spaces[self._check_agent(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        """``Discrete(local_actions)`` (the same object at every call)."""
        return self._action_spaces[self._check_agent(agent)]

    def _check_agent(self, agent: str) -> str:
        if agent not in self._action_spaces:
            raise ValueError(f"unknown agent {agent!r}; agents are {self.possible_agents}")
        return agent

    def state(self) -> np.ndarray:
        """The local states of all agents and the step count (a point of ``state_space``)."""
        if self._state is None:
            raise ResetNeeded("call reset() before state()")
        return np.concatenate([self.model.local_state(self._state), [self._step_index]]).astype(np.int64)

    def _infos(self, joint_action: np.ndarray | None) -> dict[str, dict[str, Any]]:
        features = self.model.feature_matrix[self._state]
        infos = {}
        for agent in self.possible_agents:
            info: dict[str, Any] = {"task": self.task, "task_id": self.task.id, "joint_state": self._state,
                                    "features": np.array(features)}
            if joint_action is not None:
                info["joint_action"] = joint_action.copy()
            infos[agent] = info
        return infos

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray],
                                                                                              dict[str, dict]]:
        """Start an episode in the joint start state (or ``options["state"]``); ``seed`` reseeds the dynamics."""
        options = dict(options or {})
        unknown = set(options) - {"state", "options"}  # "options" is PettingZoo's API-test probe; it is ignored
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: ['state']")
        state = self.model.start_state
        if options.get("state") is not None:
            state = discrete_action(options["state"], self.model.n_states, "reset option 'state'")
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._state, self._step_index = state, 0
        self.agents = self.possible_agents[:]
        observation = self.state()
        return {agent: observation.copy() for agent in self.agents}, self._infos(None)

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool],
                                                     dict[str, bool], dict[str, dict]]:
        """Apply the joint action; every agent gets its private reward r_{m,h}(x, a)."""
        if not self.agents or self._state is None:
            raise ResetNeeded("no live agents: call reset() before step()")
        if not isinstance(actions, dict) or set(actions) != set(self.agents):
            raise ValueError(f"actions must be a dict with one action for each agent {self.agents}, got {actions!r}")
        local = np.array([discrete_action(actions[agent], self.model.local_actions, agent) for agent in self.agents])
        joint = self.model.joint_action(local)
        h, x = self._step_index, self._state
        rewards = {agent: float(self.model.rewards[h, x, joint, m]) for m, agent in enumerate(self.possible_agents)}
        # Inverse-CDF draw of x' ~ P_h(·|x, a): one uniform number per step.
        next_state = int(np.searchsorted(self._cdf[h, x, joint], self._rng.random(), side="right"))
        self._state, self._step_index = min(next_state, self.model.n_states - 1), h + 1
        done = self._step_index == self.model.horizon
        observation = self.state()
        observations = {agent: observation.copy() for agent in self.agents}
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        infos = self._infos(local)
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def close(self) -> None:
        """Nothing to release."""


def parallel_env(task: Task | dict[str, Any] | None = None, **kwargs: Any) -> LinearMultiAgentEnv:
    """The linear MMDP as a PettingZoo ``ParallelEnv`` (see `LinearMultiAgentEnv`)."""
    return LinearMultiAgentEnv(task, **kwargs)
