"""Parallel linear MDPs for Coop-LSVI (paper 001): homogeneous, small heterogeneity ξ, large heterogeneity κ(m).

Agent m runs its own copy of an MDP; the three families differ in how the copies differ (paper 001, §3.3, §3.4.1, §3.4.2):

* ``LinearMDP``: one latent-simplex linear MDP per ``instance``; homogeneous parallel MDPs give every agent the
  same task.
* ``LinearSmallHeterogeneity``: agent m's MDP mixes the instance's dynamics with its own, μ^(m)_h = (1 − ξ)μ_h +
  ξμ'^(m)_h, and perturbs the rewards, θ^(m)_h = clip(θ_h + ξ ε_{m,h}, 0, 1) with ε ∈ [−½, ½]^d. Every pair of
  agents then has ‖P_m − P_m'‖_TV ≤ ξ and |r_m − r_m'| ≤ ξ (Assumption 1). Each model is checked on construction
  against a certificate of both bounds (see `small_heterogeneity_model`); `heterogeneity` recomputes the
  pairwise gaps of any set of agents.
* ``LinearLargeHeterogeneity``: agent m has a context κ(m) ∈ Δ^{k−1} and the features
  φ̃(m, s, a) = [(1 − ρ)φ(s, a); ρκ(m)] ∈ Δ^{d+k−1}, with P_{m,h} = ⟨φ̃, [μ_h; ν_h]⟩ and r_{m,h} = ⟨φ̃, [θ_h; α_h]⟩
  (Definition 2). The contexts are convex combinations of χ ≤ k prototype contexts, so the coefficient of
  heterogeneity rank([κ(m)ᵀκ(m')]) is χ (`heterogeneity_rank`). The model's features are φ̃ (d + k columns).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtenvs.core.parameters import ParameterSpace
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.linear.env import LinearMDPEnv
from mtenvs.linear.family import INSTANCE, SIZE_PARAMETERS, ContinuousSetting, LinearFamily, Setting, sizes
from mtenvs.linear.generator import linear_mdp, rng_for, simplex_features, simplex_measures
from mtenvs.linear.model import ATOL, LinearMDP

#: Agent indices are any integer in [0, MAX_AGENTS]; each agent's MDP depends only on (instance, agent).
MAX_AGENTS = 9999
#: Size of the named task set ``"agents"`` (agents 0..7 of instance 0).
AGENT_SET_SIZE = 8

AGENT = Setting("agent", 0, bounds=(0, MAX_AGENTS), train=(0, MAX_AGENTS),
                description="agent index m: which agent's MDP of the instance")


def _base(task: Task, family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The instance's φ (S, A, d), μ (H, d, S) and θ (H, d)."""
    n_states, n_actions, dim, horizon = sizes(task)
    rng = rng_for(family, n_states, n_actions, dim, horizon, task["instance"])
    features = simplex_features(rng, n_states, n_actions, dim)
    return features, simplex_measures(rng, horizon, dim, n_states), rng.uniform(0.0, 1.0, size=(horizon, dim))


def _agent_set(family: LinearFamily) -> list[Task]:
    return [Task(family.name, family.task(agent=m).params, name=f"agent-{m}") for m in range(AGENT_SET_SIZE)]


# ------------------------------------------------------------------------------------------------ homogeneous
class HomogeneousFamily(LinearFamily):
    """One latent-simplex linear MDP per instance (homogeneous parallel MDPs: one task for every agent)."""

    def build_model(self, task: Task) -> LinearMDP:
        return linear_mdp(*_base(task, "homogeneous"))


HOMOGENEOUS = HomogeneousFamily(
    "LinearMDP",
    ParameterSpace([*SIZE_PARAMETERS, INSTANCE]),
    description="A random latent-simplex linear MDP with known features and step-dependent dynamics "
                "(homogeneous parallel MDPs of Coop-LSVI, paper 001, give every agent the same task).",
    set_sizes={"train": 20, "test": 10, "ood": 10},
)


# ------------------------------------------------------------------------------------------ small heterogeneity
class SmallHeterogeneityFamily(LinearFamily):
    """Agents whose MDPs are within ξ of each other in total variation and reward (see the module docstring).

    The named task set ``"agents"`` holds agents 0-7 of instance 0.
    """

    def models_per_task(self, task: Task) -> int:
        """The agent's model, the base model and the agent's own kernel are alive together while it is checked."""
        return 3

    def build_model(self, task: Task) -> LinearMDP:
        return small_heterogeneity_model(task)

    def base_model(self, task: Task) -> LinearMDP:
        """The instance's unperturbed MDP (the ξ = 0 model shared by all agents)."""
        return linear_mdp(*_base(self.validate(task), "small"))


def small_heterogeneity_model(task: Task) -> LinearMDP:
    """Agent ``task["agent"]``'s MDP, checked against a certificate of Assumption 1.

    The certificate: (P_m − (1 − ξ)P)/ξ is a transition kernel and |r_m − r| ≤ ξ/2 for the base MDP (P, r). Then for
    any two agents P_m − P_m' = ξ(K_m − K_m') with kernels K, so ‖P_m − P_m'‖_TV ≤ ξ, and |r_m − r_m'| ≤ ξ.
    """
    features, mu, theta = _base(task, "small")
    xi = task["xi"]
    n_states, _, dim, horizon = sizes(task)
    rng = rng_for("small", *sizes(task), task["instance"], "agent", task["agent"])
    own_mu = simplex_measures(rng, horizon, dim, n_states)
    noise = rng.uniform(-0.5, 0.5, size=(horizon, dim))
    model = linear_mdp(features, (1.0 - xi) * mu + xi * own_mu, np.clip(theta + xi * noise, 0.0, 1.0))
    base = linear_mdp(features, mu, theta)
    # The agent's own kernel K = φ·μ' is computed directly (not as (P_m − (1 − ξ)P)/ξ, which loses every digit to
    # cancellation for tiny ξ), then P_m = (1 − ξ)P + ξK is checked entry by entry.
    kernel = np.einsum("sad,hdt->hsat", features, own_mu)
    if not (np.all(kernel >= -1e-7) and np.allclose(kernel.sum(axis=-1), 1.0, atol=1e-7)) or not np.allclose(
            model.transitions, (1.0 - xi) * base.transitions + xi * kernel, rtol=0.0, atol=ATOL):
        raise ValueError(f"LinearSmallHeterogeneity task: with xi = {xi:g} the agent's dynamics are not a "
                         "xi-mixture of the base dynamics")
    if np.max(np.abs(model.rewards - base.rewards)) > xi / 2 + ATOL:
        raise ValueError(f"LinearSmallHeterogeneity task: with xi = {xi:g} the agent's rewards differ from the base "
                         "rewards by more than xi/2")
    return model


def heterogeneity(models: Sequence[LinearMDP]) -> tuple[float, float]:
    """``(max TV distance, max reward gap)`` over all pairs of models, all steps, states and actions.

    TV is ½‖P_m(·|s, a) − P_m'(·|s, a)‖₁.
    """
    tv, gap = 0.0, 0.0
    for i, first in enumerate(models):
        for second in models[i + 1:]:
            tv = max(tv, float(0.5 * np.abs(first.transitions - second.transitions).sum(axis=-1).max()))
            gap = max(gap, float(np.abs(first.rewards - second.rewards).max()))
    return tv, gap


def _checked_agent_set(family: LinearFamily) -> list[Task]:
    tasks = _agent_set(family)
    tv, gap = heterogeneity([family.model(task) for task in tasks])
    xi = tasks[0]["xi"]
    if tv > xi + ATOL or gap > xi + ATOL:
        raise ValueError(f"{family.name}: agents differ by TV {tv:.4g} and reward {gap:.4g}, more than xi = {xi:g}")
    return tasks


SMALL = SmallHeterogeneityFamily(
    "LinearSmallHeterogeneity",
    ParameterSpace([*SIZE_PARAMETERS,
                    ContinuousSetting("xi", 0.05, bounds=(0.0, 1.0),
                                      description="heterogeneity ξ: bound on pairwise TV and reward gaps"),
                    INSTANCE, AGENT]),
    description="Parallel linear MDPs whose transitions and rewards differ by at most ξ between agents "
                "(small heterogeneity of Coop-LSVI, paper 001).",
    set_sizes={"train": 20, "test": 10, "ood": 10},
    task_sets={"agents": _checked_agent_set},
)


# ------------------------------------------------------------------------------------------ large heterogeneity
class LargeHeterogeneityFamily(LinearFamily):
    """Agents that differ through a context κ(m): features [(1 − ρ)φ; ρκ(m)] (see the module docstring).

    The named task set ``"agents"`` holds agents 0-7 of instance 0.
    """

    def check_task(self, task: Task) -> None:
        """``chi ≤ context_dim`` and the memory budget (see `LinearFamily.check_task`)."""
        super().check_task(task)
        if task["chi"] > task["context_dim"]:
            raise ValueError(f"{self.name} task: chi = {task['chi']} must not exceed context_dim = {task['context_dim']}")

    def build_model(self, task: Task) -> LinearMDP:
        features, mu, theta = _base(task, "large")
        n_states, _, _, horizon = sizes(task)
        k, rho = task["context_dim"], task["rho"]
        rng = rng_for("large", *sizes(task), task["instance"], k, task["chi"], "context")
        nu = simplex_measures(rng, horizon, k, n_states)
        alpha = rng.uniform(0.0, 1.0, size=(horizon, k))
        context = np.broadcast_to(self.context(task), (*features.shape[:2], k))
        augmented = np.concatenate([(1.0 - rho) * features, context], axis=-1)        # φ̃(m, s, a)
        return linear_mdp(augmented, np.concatenate([mu, nu], axis=1), np.concatenate([theta, alpha], axis=1))

    def kappa(self, task: Task) -> np.ndarray:
        """κ(m) ∈ Δ^{k−1}: a convex combination of the instance's χ prototype contexts, shape ``(k,)``."""
        task = self.validate(task)
        k, chi = task["context_dim"], task["chi"]
        prototypes = rng_for("large", *sizes(task), task["instance"], k, chi, "prototypes").dirichlet(np.ones(k), size=chi)
        weights = rng_for("large", *sizes(task), task["instance"], k, chi, "agent", task["agent"]).dirichlet(np.ones(chi))
        return weights @ prototypes

    def context(self, task: Task) -> np.ndarray:
        """ρκ(m), the last k entries of φ̃(m, s, a) for every (s, a), shape ``(k,)``.

        With it an agent forms φ̃(n, s, a) = [φ̃_m(s, a)[:d]; context(task_n)] for any other agent n.
        """
        task = self.validate(task)
        return task["rho"] * self.kappa(task)


def heterogeneity_rank(contexts: np.ndarray, tol: float = 1e-8) -> int:
    """χ = rank([κ(m)ᵀκ(m')]_{m,m'}) of contexts stacked as rows, shape ``(M, k)``."""
    contexts = np.asarray(contexts, dtype=np.float64)
    return int(np.linalg.matrix_rank(contexts @ contexts.T, tol=tol))


LARGE = LargeHeterogeneityFamily(
    "LinearLargeHeterogeneity",
    ParameterSpace([*SIZE_PARAMETERS,
                    Setting("context_dim", 3, bounds=(1, 32), description="dimension k of the agent context κ(m)"),
                    Setting("chi", 3, bounds=(1, 32), description="rank χ of the agents' context Gram matrix"),
                    ContinuousSetting("rho", 0.3, bounds=(0.0, 1.0), description="weight ρ of the context features"),
                    INSTANCE, AGENT]),
    description="Parallel linear MDPs that differ through an agent context κ(m) appended to the features "
                "(large heterogeneity of Coop-LSVI, paper 001).",
    set_sizes={"train": 20, "test": 10, "ood": 10},
    task_sets={"agents": _agent_set},
)


# ------------------------------------------------------------------------------------------------ environments
class LinearMDPSingleEnv(LinearMDPEnv):
    """``mtenvs/LinearMDP-v0``: a random linear MDP (see `LinearMDPEnv`)."""

    family = HOMOGENEOUS


class LinearSmallHeterogeneityEnv(LinearMDPEnv):
    """``mtenvs/LinearSmallHeterogeneity-v0``: agent m's MDP, within ξ of the other agents'.

    See `LinearMDPEnv` for the spaces and ``info["features"]``.
    """

    family = SMALL


class LinearLargeHeterogeneityEnv(LinearMDPEnv):
    """``mtenvs/LinearLargeHeterogeneity-v0``: agent m's MDP with context features.

    ``info["features"]`` is φ̃(m, s, a) = [(1 − ρ)φ(s, a); ρκ(m)] for every action, shape ``(n_actions, dim +
    context_dim)``; ``family.context(task)`` gives ρκ(m) for any agent. Otherwise as
    `LinearMDPEnv`.
    """

    family = LARGE


LinearMDPVectorEnv = vector_env_for(LinearMDPSingleEnv, "LinearMDPVectorEnv")
LinearSmallHeterogeneityVectorEnv = vector_env_for(LinearSmallHeterogeneityEnv, "LinearSmallHeterogeneityVectorEnv")
LinearLargeHeterogeneityVectorEnv = vector_env_for(LinearLargeHeterogeneityEnv, "LinearLargeHeterogeneityVectorEnv")
