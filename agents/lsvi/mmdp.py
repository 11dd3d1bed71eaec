"""Coop-LSVI for multi-agent MDPs (paper 001, Algorithm 2): random scalarizations trace the Pareto front.

N agents act jointly in one linear MMDP whose state and joint action are public and whose rewards are private. Each
episode t a weight vector v_t ~ p_Υ on the simplex is drawn (Dirichlet(1_N) by default; shared by all agents through
a common seeded generator, which costs no communication), and all agents plan the same optimistic scalarized Q (Eqs. 14–15):

    Λ_h = λI + Σ_{τ ≤ k_t} Φ_τ Φ_τᵀ,   U_h = Σ_{τ ≤ k_t} Φ_τ [r_τ + 1_N V_{h+1}(x'_τ)],   Q̂_h(x, a) = Φ(x, a)ᵀ Λ_h⁻¹ U_h
    Q_h(x, a) = min{ v_tᵀ Q̂_h(x, a) + β b_h(x, a), H − h + 1 },   V_h(x) = max_a Q_h(x, a)

and play their components of the joint greedy action (lowest flat index on ties). Only data up to the last
synchronization k_t is used (as in Algorithm 2, though (x, a) is public); new (x, a) pairs accumulate in δΛ_h, and
when

    det(Λ_h + δΛ_h) > S · det(Λ_h)            (the text and Lemma 3; ``literal_log=True``: the pseudocode's
                                               log det ratio > S)

for some h, every agent sends its private rewards since k_t to the server, which broadcasts them to all.
The bonus b_h is ``"spectral"`` sqrt(λ_max(ΦᵀΛ⁻¹Φ)) by default (it bounds the analysis's ‖Φ v‖_{Λ⁻¹} for
‖v‖₂ ≤ 1), ``"literal"`` λ_max(ΦᵀΛ⁻¹Φ) (Eq. 14 as printed) or ``"scalarized"`` ‖Φ v_t‖_{Λ⁻¹}; Q is clipped at
H − h + 1 (as Lemma 32 assumes; Eq. 14 omits it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from agents.common.communication import Communicator, LocalCommunicator
from agents.common.method import Method
from agents.lsvi.ridge import RidgeStatistics

__all__ = ["MMDPHistory", "MultiAgentCoopLSVI", "bayes_regret", "vector_policy_values"]

Bonus = Literal["spectral", "literal", "scalarized"]


def vector_policy_values(model: Any, policy: np.ndarray) -> np.ndarray:
    """V^π_1(x_1) ∈ R^N of a deterministic joint policy (``(H, S)`` flat joint actions), by vector-valued backward
    policy evaluation: V_h = r_h(·, π_h) + P_h(·|·, π_h) V_{h+1}."""
    horizon, n_states = policy.shape
    rewards, transitions = model.rewards, model.transitions
    values = np.zeros((n_states, model.n_agents))
    rows = np.arange(n_states)
    for h in range(horizon - 1, -1, -1):
        actions = policy[h]
        values = rewards[h, rows, actions] + transitions[h, rows, actions] @ values
    return values[model.start_state]


def bayes_regret(model: Any, policy_values: np.ndarray, weights: np.ndarray, optimal: np.ndarray | None = None) -> float:
    """Monte-Carlo Bayes regret (Eq. 12) at the start state: mean over ``weights`` of V*_v − max_π vᵀV^π.

    Args:
        model: the MMDP (``pareto_value(v)`` gives the exact V*_v).
        policy_values: V^π_1(x_1) of every learned policy, shape ``(T, N)``.
        weights: draws v ~ p_Υ, shape ``(n, N)``.
        optimal: V*_v for each draw, if already computed (else by ``model.pareto_value``).
    """
    if optimal is None:
        optimal = np.array([model.pareto_value(v) for v in weights])
    achieved = (np.asarray(weights) @ np.asarray(policy_values).T).max(axis=1)
    return float(np.mean(optimal - achieved))


@dataclass
class MMDPHistory:
    """Per-episode records: weights v_t, the joint policy's vector value, its scalarized regret, synchronizations."""

    weights: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    synchronized: list[bool] = field(default_factory=list)

    @property
    def sync_episodes(self) -> np.ndarray:
        """Cumulative number of episodes with communication, shape ``(T,)``."""
        return np.cumsum(self.synchronized)


class MultiAgentCoopLSVI(Method):
    """Algorithm 2 of paper 001 on a `LinearMultiAgentMDP`.

    The method contract (`agents.common.method.Method`) with the unit "episode".

    Args:
        model: the MMDP; agents use only Φ (``feature_matrix``), the public joint state/action and their own rewards.
        threshold: S; synchronize when det(Λ_h + δΛ_h) > S det(Λ_h) (S ≤ 1: every episode).
        beta: the bonus scale β.
        lam: ridge parameter λ.
        bonus: ``"spectral"``, ``"literal"`` or ``"scalarized"`` (module docstring).
        literal_log: compare the *log* determinant ratio with S (Algorithm 2 as printed) instead of the ratio.
        weight_concentration: p_Υ = Dirichlet(c · 1_N); ``None`` uses the fixed team average v = 1/N (§4.3).
        comm: the communicator; seed: seeds weights and episodes.
    """

    unit: ClassVar[str] = "episode"
    _resources: ClassVar[tuple[str, ...]] = ("comm",)

    def __init__(self, model: Any, *, threshold: float = 2.0, beta: float = 0.5, lam: float = 1.0,
                 bonus: Bonus = "spectral", literal_log: bool = False, weight_concentration: float | None = 1.0,
                 comm: Communicator | None = None, seed: int | None = None) -> None:
        if not threshold >= 0:
            raise ValueError(f"threshold S must be >= 0, got {threshold!r}")
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
        if bonus not in ("spectral", "literal", "scalarized"):
            raise ValueError(f"bonus must be 'spectral', 'literal' or 'scalarized', got {bonus!r}")
        if weight_concentration is not None and not weight_concentration > 0:
            raise ValueError(f"weight_concentration must be > 0 or None, got {weight_concentration!r}")
        self.model = model
        self.threshold, self.beta, self.lam, self.bonus = float(threshold), float(beta), float(lam), bonus
        self.literal_log, self.weight_concentration = bool(literal_log), weight_concentration
        self.comm = comm if comm is not None else LocalCommunicator()
        self.rng = np.random.default_rng(seed)
        self.weight_rng = np.random.default_rng(self.rng.integers(2**63))   # the agents' common generator for v_t
        self.features = np.asarray(model.feature_matrix)                     # Φ(x, a), (S, A, d, N)
        self.horizon, self.n_agents = model.horizon, model.n_agents
        self._cdf = np.cumsum(model.transitions, axis=-1)
        dim = self.features.shape[2]
        self.synced = [RidgeStatistics(dim, lam) for _ in range(self.horizon)]    # Λ_h at k_t
        self.current = [RidgeStatistics(dim, lam) for _ in range(self.horizon)]   # Λ_h + δΛ_h
        # synchronized data per step: joint states, joint actions, next states, reward vectors
        self._data: list[dict[str, list[Any]]] = [{"x": [], "a": [], "x_next": [], "r": []} for _ in range(self.horizon)]
        self._pending: list[dict[str, list[Any]]] = [{"x": [], "a": [], "x_next": [], "r": []} for _ in range(self.horizon)]
        self._bonus_cache: list[np.ndarray | None] = [None] * self.horizon
        self.episode = 0
        self.history = MMDPHistory()

    def draw_weights(self) -> np.ndarray:
        """v_t ~ p_Υ from the agents' common generator."""
        if self.weight_concentration is None:
            return np.full(self.n_agents, 1.0 / self.n_agents)
        return self.weight_rng.dirichlet(np.full(self.n_agents, self.weight_concentration))

    def _spectral_bonus(self, h: int) -> np.ndarray:
        """λ_max(Φᵀ Λ_h⁻¹ Φ) for every (x, a), cached until the next synchronization."""
        cached = self._bonus_cache[h]
        if cached is None:
            gram = np.einsum("sadn,de,saem->sanm", self.features, self.synced[h].inverse, self.features, optimize=True)
            cached = self._bonus_cache[h] = np.maximum(np.linalg.eigvalsh(gram)[..., -1], 0.0)
        return cached

    def q_function(self, weights: np.ndarray) -> np.ndarray:
        """The optimistic scalarized Q_h(x, a) for weights v (Eqs. 14–15), shape ``(H, S, A)``."""
        n_states, n_actions = self.features.shape[:2]
        q = np.zeros((self.horizon, n_states, n_actions))
        v_next = np.zeros(n_states)                                              # V_{H+1} ≡ 0
        for h in range(self.horizon - 1, -1, -1):
            data = self._data[h]
            response = np.zeros(self.features.shape[2])
            if data["x"]:
                x, a, x_next = (np.asarray(data[k]) for k in ("x", "a", "x_next"))
                phi = self.features[x, a]                                        # Φ_τ, (n, d, N)
                targets = np.asarray(data["r"]) + v_next[x_next][:, None]        # y_τ = r_τ + 1_N V_{h+1}(x'_τ)
                response = np.einsum("ndm,nm->d", phi, targets)                  # U_h = Σ Φ_τ y_τ
            w = self.synced[h].solve(response)                                   # Λ_h⁻¹ U_h (Eq. 15)
            mean = np.einsum("sadn,d,n->sa", self.features, w, weights)          # v_tᵀ Φᵀ w
            if self.bonus == "scalarized":
                bonus = self.synced[h].bonus(self.features @ weights)            # ‖Φ v_t‖_{Λ⁻¹}
            elif self.bonus == "literal":
                bonus = self._spectral_bonus(h)                                  # ‖ΦᵀΛ⁻¹Φ‖₂ as printed in Eq. 14
            else:
                bonus = np.sqrt(self._spectral_bonus(h))                         # sqrt(λ_max(ΦᵀΛ⁻¹Φ))
            q[h] = np.minimum(mean + self.beta * bonus, self.horizon - h)        # clip at H − h + 1 (Lemma 32)
            v_next = q[h].max(axis=1)
        return q

    def _fired(self, h: int) -> bool:
        ratio = self.current[h].logdet - self.synced[h].logdet                   # log det(Λ+δΛ) − log det Λ
        if self.literal_log:
            return ratio > self.threshold
        return self.threshold <= 1 or ratio > math.log(self.threshold)

    def _synchronize(self) -> None:
        """Agents send their private rewards since k_t to the server, which broadcasts the reward vectors."""
        agents = list(range(self.n_agents))
        own = {m: [np.asarray([r[m] for r in self._pending[h]["r"]]) for h in range(self.horizon)] for m in agents}
        gathered = self.comm.gather(own)
        union = [np.stack([gathered[m][h] for m in agents], axis=-1) for h in range(self.horizon)]
        received = self.comm.broadcast(union, agents)[0]                         # every agent gets the same union
        for h in range(self.horizon):
            for key in ("x", "a", "x_next"):
                self._data[h][key].extend(self._pending[h][key])
            self._data[h]["r"].extend(list(received[h]))
            self._pending[h] = {"x": [], "a": [], "x_next": [], "r": []}
            self.synced[h] = self.current[h].copy()                              # Λ_h ← Λ_h + δΛ_h, δΛ_h ← 0
            self._bonus_cache[h] = None

    def step_episode(self) -> float:
        """One episode with a fresh v_t; returns its scalarized regret V*_{v_t} − v_tᵀV^{π_t} at the start state."""
        weights = self.draw_weights()
        q = self.q_function(weights)
        policy = np.argmax(q, axis=-1)                                           # joint greedy action, lowest index
        values = vector_policy_values(self.model, policy)
        regret = float(self.model.pareto_value(weights) - weights @ values)
        state, fire = self.model.start_state, False
        for h in range(self.horizon):
            action = int(policy[h, state])                                       # agent m plays local_action(a)[m]
            next_state = int(np.searchsorted(self._cdf[h, state, action], self.rng.random(), side="right"))
            pending = self._pending[h]
            pending["x"].append(state)
            pending["a"].append(action)
            pending["x_next"].append(next_state)
            pending["r"].append(np.array(self.model.rewards[h, state, action]))  # agent m knows only entry m
            self.current[h].update(self.features[state, action].T)              # δΛ_h += ΦΦᵀ (rank-N Woodbury)
            fire |= self._fired(h)
            state = next_state
        if fire:
            self._synchronize()
        self.history.weights.append(weights)
        self.history.values.append(values)
        self.history.regret.append(regret)
        self.history.synchronized.append(fire)
        self.episode += 1
        return regret

    def _learn_unit(self) -> dict[str, Any]:
        regret = self.step_episode()
        return {"episode": self.episode, "regret": regret, "synchronized": int(self.history.synchronized[-1])}

    def bayes_regret(self, n_weights: int = 200, seed: int = 0) -> float:
        """Eq. 12 estimated with ``n_weights`` draws of v ~ p_Υ over the policies learned so far."""
        if not self.history.values:
            raise ValueError("no policies learned yet: call learn() first")
        rng = np.random.default_rng(seed)
        if self.weight_concentration is None:
            weights = np.full((1, self.n_agents), 1.0 / self.n_agents)
        else:
            weights = rng.dirichlet(np.full(self.n_agents, self.weight_concentration), size=n_weights)
        return bayes_regret(self.model, np.array(self.history.values), weights)
