"""A processor node of ePG-ELLA (paper 002, §5) as a worker: the node's tasks, their statistics and its ADMM state.

Node ``i`` owns the tasks ``j`` with ``j mod n = i``: their environments (one batched sampler over its own tasks),
their policies ``theta_j = L_i s_j``, operating points ``alpha_j`` (``theta*_j``) and Hessians ``H_j``, the coefficients
``s_j``, its copy ``L_i`` of the shared basis, and its side (`ConsensusNode`) of every
consensus problem it takes part in: one per task in Algorithm 1, the basis in Algorithm 2. Rollouts and every
node-local step of both algorithms run here, so on ``backend="ray"`` they run inside the node's actor; the
`EPGELLA` driver only carries the messages between nodes (through its communicator) and
the hand-over of trajectory shares (see `ProcessorNode.share_statistics`).

Random streams are the node's own generators (rollouts and the random split of trajectories; greedy evaluation;
the zero-column re-draws, seeded alike on every node), so a node's results depend only on its state and its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import scipy.linalg

from agents.common.graphs import Graph
from agents.lifelong.admm import ConsensusNode, node_basis_objective, run_node_requests
from agents.lifelong.estimators import (
    Weighting,
    advantages,
    kl_sized_step,
    step_kl,
    trajectory_weights,
    weighted_statistics,
)
from agents.lifelong.kron import mat, vec
from agents.lifelong.lasso import reinitialize_zero_columns, weighted_lasso
from agents.lifelong.policy import BatchSampler, LinearGaussianPolicy, Trajectories

__all__ = ["BASIS", "ProcessorNode", "Step", "operating_point_problem"]

#: How far the operating point moves from the behaviour policy: ``"kl"`` rescales the step ``theta*_j - theta_j``
#: of Algorithm 1 to the mean KL ``step_size`` (the eNAC-based methods' step); ``"rwr"`` keeps the reward-weighted
#: regression's own step, whose size only the weights' temperature sets.
Step = Literal["kl", "rwr"]

#: The key of Algorithm 2's consensus problem (the shared basis).
BASIS = "basis"


def operating_point_problem(j: int) -> tuple[str, int]:
    """The key of Algorithm 1's consensus problem for task ``j``."""
    return ("operating_point", int(j))


class ProcessorNode:
    """Processor node ``node`` of the graph with its own tasks (``tasks``: global task index -> task).

    Args:
        node: this node's id in ``graph``.
        tasks: the tasks this node owns, by global index.
        graph: the processor graph.
        env_id: the family's vector-env id; ``env_kwargs``: extra ``gym.make_vec`` arguments.
        n_trajectories: trajectories per task per iteration; ``horizon``: steps per trajectory.
        policy: the linear Gaussian policy class (shared by all tasks).
        weighting: ``"exp"`` or ``"shift"`` trajectory weights, with inverse temperature ``weight_beta``.
        hessian_ridge: ``epsilon`` added to every ``H_j`` (split evenly over the nodes in Algorithm 1).
        latent_dim: ``p``; ``mu1``: the LASSO weight; ``mu2``: the ridge weight of Algorithm 2.
        rho: the ADMM penalty.
        step: ``"kl"`` (the operating point ``theta_j + sqrt(2 epsilon / (d^T F d)) d`` along Algorithm 1's
            ``d = theta*_j - theta_j``, ``epsilon = step_size``) or ``"rwr"`` (``theta*_j`` itself); see `Step`.
        step_size: ``epsilon``, the mean KL of the ``"kl"`` step.
        seed: seeds this node's rollouts (with ``node``); ``shared_seed``: the zero-column re-draws (same on all).
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, node: int, tasks: Mapping[int, Any], graph: Graph, *, env_id: str,
                 env_kwargs: Mapping[str, Any] | None, n_trajectories: int, horizon: int, policy: LinearGaussianPolicy,
                 weighting: Weighting, weight_beta: float, hessian_ridge: float, latent_dim: int, mu1: float,
                 mu2: float, rho: float, seed: int, shared_seed: int, step: Step = "kl",
                 step_size: float = 0.05) -> None:
        self.node, self.graph = node, graph
        self.mine = sorted(int(j) for j in tasks)
        self.tasks = [tasks[j] for j in self.mine]
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.n_trajectories, self.horizon = int(n_trajectories), int(horizon)
        self.policy = policy
        self.weighting, self.weight_beta, self.hessian_ridge = weighting, float(weight_beta), float(hessian_ridge)
        self.latent_dim, self.mu1, self.mu2, self.rho = int(latent_dim), float(mu1), float(mu2), float(rho)
        self.step: Step = step
        self.step_size = float(step_size)
        #: Mean KL (over the visited states) from each own task's behaviour policy to its last operating point.
        self.step_kls: dict[int, float] = {}
        d = policy.dim
        self.thetas = {j: np.zeros(d) for j in self.mine}
        self.coefficients = {j: np.zeros(latent_dim) for j in self.mine}
        self.points: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # alpha_j (= theta*_j), H_j
        self.basis = np.zeros((d, latent_dim))  # L_i
        self.rng = np.random.default_rng([seed, 2, node])  # rollouts and the random split of trajectories
        self.eval_rng = np.random.default_rng([seed, 3, node])  # greedy evaluation
        self.basis_rng = np.random.default_rng(shared_seed)  # zero columns, re-drawn identically on every node
        self.trajectories: dict[int, Trajectories] = {}
        self.problems: dict[Hashable, ConsensusNode] = {}
        self._sampler: BatchSampler | None = None

    # --- environments: built where the node runs, never shipped ------------------------------------------------

    @property
    def sampler(self) -> BatchSampler:
        """The batched sampler over this node's tasks (created on first use)."""
        if self._sampler is None:
            self._sampler = BatchSampler(self.env_id, self.tasks, self.n_trajectories, self.horizon, self.env_kwargs)
        return self._sampler

    def __getstate__(self) -> dict[str, Any]:
        # Every rollout resets all sub-envs from a fresh seed, so the envs carry no state between calls: a copy of
        # the node rebuilds them instead of serializing them.
        state = dict(self.__dict__)
        state["_sampler"] = None
        return state

    def close(self) -> None:
        """Release the node's environments."""
        if self._sampler is not None:
            self._sampler.close()
            self._sampler = None

    # --- rollouts ------------------------------------------------------------------------------------------------

    def _rollouts(self, rng: np.random.Generator, explore: bool) -> Trajectories:
        thetas = np.array([self.thetas[j] for j in self.mine])
        return self.sampler.sample(self.policy, thetas, rng, explore=explore)

    def sample(self) -> dict[int, float]:
        """Roll out ``n_trajectories`` of every own task with its ``theta_j``; keep them; mean score per task."""
        if not self.mine:
            return {}
        traj = self._rollouts(self.rng, explore=True)
        self.trajectories = {j: traj.of_task(k) for k, j in enumerate(self.mine)}
        return {j: float(t.scores.mean()) for j, t in self.trajectories.items()}

    def evaluate(self) -> dict[int, float]:
        """Mean score of the greedy policies (mean actions) of the own tasks, from fresh start states."""
        if not self.mine:
            return {}
        traj = self._rollouts(self.eval_rng, explore=False)
        return {j: float(traj.of_task(k).scores.mean()) for k, j in enumerate(self.mine)}

    def hold_trajectories(self, trajectories: Mapping[int, Trajectories]) -> None:
        """Use these trajectories of own tasks for the next operating points (instead of sampling)."""
        unknown = sorted(set(trajectories) - set(self.mine))
        if unknown:
            raise ValueError(f"node {self.node} does not own tasks {unknown}; it owns {self.mine}")
        self.trajectories.update(trajectories)

    # --- Sec. 5.1, Algorithm 1 ------------------------------------------------------------------------------------

    def _weights(self, traj: Trajectories) -> np.ndarray:
        """Normalised over all of the task's trajectories, so that the nodes' objectives sum to the whole one."""
        return trajectory_weights(advantages(traj), self.weighting, self.weight_beta)

    def share_statistics(self, tasks: Sequence[int]) -> dict[int, dict[int, tuple[np.ndarray, np.ndarray]]]:
        """Split each task's trajectories at random over the graph's nodes; ``(G_k, g_k)`` of every share ``k``.

        In the paper every node samples its own share of a task's trajectories; here the owner's environments
        sample them all, and node ``k`` is handed the statistics of share ``k`` as if it had sampled it (not a
        message of the algorithm, so not counted). The ridge is split evenly over the nodes so that
        ``sum_k G_k`` is the Hessian used for the basis.
        """
        n = self.graph.num_nodes
        ridge = self.hessian_ridge * np.eye(self.policy.dim)
        shares = {}
        for j in tasks:
            traj = self.trajectories[j]
            weights = self._weights(traj)
            split = np.array_split(self.rng.permutation(len(weights)), n)
            stats = {k: weighted_statistics(self.policy, traj.select(idx), weights[idx])
                     for k, idx in zip(self.graph.nodes, split, strict=True)}
            shares[j] = {k: (g + ridge / n, v) for k, (g, v) in stats.items()}
        return shares

    def _stepped(self, j: int, target: np.ndarray, traj: Trajectories) -> np.ndarray:
        """The operating point of task ``j`` from Algorithm 1's ``theta*_j`` (``target``), as ``step`` says; its mean
        KL from ``theta_j`` over the visited states of ``traj`` is kept in `step_kls`."""
        theta = self.thetas[j]
        point = target if self.step == "rwr" else kl_sized_step(self.policy, theta, target - theta, traj,
                                                                 self.step_size)
        self.step_kls[j] = step_kl(self.policy, traj, point - theta)
        return point

    def owner_points(self, tasks: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """``operating_point="owner"``: ``theta*_j = (G + eps I)^{-1} g`` from all of the task's trajectories."""
        ridge = self.hessian_ridge * np.eye(self.policy.dim)
        for j in tasks:
            traj = self.trajectories.pop(j)
            g_matrix, g_vector = weighted_statistics(self.policy, traj, self._weights(traj))
            target = scipy.linalg.solve(g_matrix + ridge, g_vector, assume_a="pos")
            self.points[j] = (self._stepped(j, target, traj), g_matrix + ridge)
        return {j: self.points[j] for j in tasks}

    def operating_point_kls(self) -> dict[int, float]:
        """`step_kls`: the mean KL of each own task's last step from ``theta_j`` to its operating point."""
        return dict(self.step_kls)

    def open_problems(self, problems: Mapping[Hashable, tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> None:
        """Join consensus problems: ``{key: (Q_i, b_i, warm start)}``."""
        for key, (quadratic, linear, initial) in problems.items():
            self.problems[key] = ConsensusNode(self.node, self.graph, quadratic, linear, self.rho, initial)

    def admm(self, method: Callable[..., Any], requests: Mapping[Hashable, tuple],
             inbox: Mapping[Hashable, Mapping[int, Any]]) -> dict[Hashable, Any]:
        """This node's part of a consensus step (see `agents.lifelong.admm.drive_consensus`)."""
        return run_node_requests(self.problems, method, requests, inbox)

    def adopt_operating_points(self, gathered: Mapping[int, Mapping[int, np.ndarray]]
                               ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """At the owner: ``theta*_j`` is its own ADMM copy (stepped as `step` says), ``H_j = sum_k G_k`` from the
        gathered ``G_k``."""
        for j, received in gathered.items():
            problem = self.problems[operating_point_problem(j)]
            hessian = sum(received[k] for k in self.graph.nodes if k != self.node) + problem.quadratic
            self.points[j] = (self._stepped(j, problem.value(), self.trajectories[j]), hessian)
        for key in [key for key in self.problems if key != BASIS]:
            del self.problems[key]
        self.trajectories = {}
        return {j: self.points[j] for j in gathered}

    # --- Sec. 5.2-5.3: the basis ----------------------------------------------------------------------------------

    def lasso(self, tasks: Sequence[int]) -> dict[int, np.ndarray]:
        """``L_i <- reinitializeAllZeroColumns(L_i)``; ``s_j <- LASSO(theta*_j, H_j, L_i)`` for the own ``tasks``."""
        mine = [j for j in tasks if j in self.thetas]
        if mine:
            self.basis = reinitialize_zero_columns(self.basis, self.basis_rng)
            for j in mine:
                self.coefficients[j] = weighted_lasso(self.points[j][0], self.points[j][1], self.basis, self.mu1)
        return {j: self.coefficients[j] for j in mine}

    def open_basis_problem(self) -> None:
        """Algorithm 2's node objective (Eq. 4) from the own ``(s_j, H_j, alpha_j)``, warm-started at ``vec(L_i)``."""
        d, p = self.policy.dim, self.latent_dim
        own = [(self.coefficients[j], self.points[j][1], self.points[j][0]) for j in self.mine]
        quadratic, linear = node_basis_objective(own, self.mu2, d, p)
        self.open_problems({BASIS: (quadratic, linear, vec(self.basis))})

    def adopt_basis(self) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, np.ndarray]]:
        """``L_i`` from Algorithm 2; re-fit every own ``s_j`` on it; ``theta_j = L_i s_j``.
        Returns ``(L_i, {j: s_j}, {j: theta_j})``."""
        self.basis = mat(self.problems.pop(BASIS).value(), self.policy.dim, self.latent_dim)
        coefficients = self.lasso(self.mine)
        for j in self.mine:
            self.thetas[j] = self.basis @ self.coefficients[j]
        return self.basis, coefficients, dict(self.thetas)
