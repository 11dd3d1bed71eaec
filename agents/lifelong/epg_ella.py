"""ePG-ELLA: scalable lifelong policy search with distributed operating points and basis (paper 002, §5).

Tasks are owned by the nodes of a processor graph (task ``j`` on node ``j mod n``; the paper: 50 tasks, 10 nodes,
5 each). One iteration (notes-002 §2.5)::

    sample n_traj trajectories of every task with theta_j = L_owner(j) s_j
    for every task j:                                                    # Sec. 5.1, Algorithm 1
        split its trajectories at random over the nodes; node i forms (G_i, g_i)
        theta*_j <- ADMM consensus on sum_i f_i (Eq. 3);  H_j = sum_i G_i + eps I (gathered at the owner)
        first visit: s_j <- LASSO(theta*_j, H_j, L_owner)                 # s before L, as PG-ELLA
    L_i <- ADMM consensus on sum_i f_i(vec L_i) (Eqs. 4-5)               # Sec. 5.2, Algorithm 2
    every node: L_i <- reinitializeAllZeroColumns(L_i) (shared seed); s_j <- LASSO(theta*_j, H_j, L_i)  # Sec. 5.3
    theta_j <- L_owner(j) s_j

``operating_point="owner"`` is notes-002's alternative reading: the owner computes ``theta*_j = G^{-1} g`` from all
of the task's trajectories, and only Algorithm 2 runs over the graph. Every message goes through ``comm``
(its ``stats`` count rounds and bytes); trajectories are assumed to be sampled where they are used.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import scipy.linalg

from agents.common.communication import Communicator, LocalCommunicator
from agents.common.graphs import Graph, chain_plus_random_edges
from agents.lifelong.admm import distributed_basis_update, distributed_operating_point
from agents.lifelong.base import PolicySearchLearner
from agents.lifelong.estimators import weighted_statistics
from agents.lifelong.lasso import reinitialize_zero_columns, weighted_lasso
from agents.lifelong.policy import Trajectories

OperatingPoint = Literal["consensus", "owner"]


class EPGELLA(PolicySearchLearner):
    """Distributed lifelong policy search (Algorithms 1 and 2 over ``graph``).

    Args:
        latent_dim: as :class:`agents.lifelong.PGELLA`.
        mu1: as :class:`agents.lifelong.PGELLA`.
        mu2: as :class:`agents.lifelong.PGELLA`.
        graph: the processor graph; default ``chain_plus_random_edges(num_nodes, extra_edges, seed)``.
        num_nodes: the default graph's number of nodes (paper: 10).
        extra_edges: the default graph's random edges on top of the chain (paper: 20).
        rho: ADMM penalty on the preconditioned problems (see :func:`agents.lifelong.admm.consensus_admm`).
        admm_iterations: cap ``K`` of both ADMM loops; ``admm_tol``: their early-stopping tolerance.
        operating_point: ``"consensus"`` (Algorithm 1) or ``"owner"``.
        comm: the communicator (default: in-process).
        **kwargs: other arguments as :class:`agents.lifelong.base.PolicySearchLearner`.
    """

    name = "ePG-ELLA"

    def __init__(self, env_id: str, tasks: Any, *, latent_dim: int = 2, mu1: float = np.exp(-5),
                 mu2: float = np.exp(-5), graph: Graph | None = None, num_nodes: int = 10, extra_edges: int = 20,
                 rho: float = 1.0, admm_iterations: int = 50, admm_tol: float | None = 1e-8,
                 operating_point: OperatingPoint = "consensus", comm: Communicator | None = None,
                 seed: int = 0, **kwargs: Any) -> None:
        super().__init__(env_id, tasks, seed=seed, **kwargs)
        d = self.policy.dim
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or not 1 <= latent_dim <= d:
            raise ValueError(f"EPGELLA: latent_dim must be an integer in 1..{d} (d), got {latent_dim!r}")
        if mu1 < 0 or mu2 < 0:
            raise ValueError(f"EPGELLA: mu1 and mu2 must be >= 0, got mu1={mu1}, mu2={mu2}")
        if operating_point not in ("consensus", "owner"):
            raise ValueError(f"EPGELLA: operating_point must be 'consensus' or 'owner', got {operating_point!r}")
        if graph is None:
            extra = min(extra_edges, max(num_nodes * (num_nodes - 1) // 2 - (num_nodes - 1), 0))
            graph = chain_plus_random_edges(num_nodes, extra, seed)
        self.graph = graph
        self.comm = comm if comm is not None else LocalCommunicator()
        self.latent_dim, self.mu1, self.mu2 = latent_dim, float(mu1), float(mu2)
        self.admm_options = {"rho": float(rho), "iterations": int(admm_iterations), "tol": admm_tol}
        self.operating_point: OperatingPoint = operating_point
        n = graph.num_nodes
        self.owner = np.arange(self.num_tasks) % n
        self.bases = {i: np.zeros((d, latent_dim)) for i in graph.nodes}  # node copies L_i
        # One generator per node, all seeded alike: zero columns are re-drawn identically on every copy.
        shared = int(self.rng.integers(2**31))
        self._node_rngs = {i: np.random.default_rng(shared) for i in graph.nodes}
        self.coefficients = np.zeros((self.num_tasks, latent_dim))
        self.seen = np.zeros(self.num_tasks, dtype=bool)

    @property
    def basis(self) -> np.ndarray:
        """Node 0's copy of ``L`` (all copies agree to the ADMM tolerance)."""
        return self.bases[0]

    # --- Sec. 5.1 -------------------------------------------------------------------------------------------------

    def _operating_point(self, j: int, traj: Trajectories) -> tuple[np.ndarray, np.ndarray, list[float], float]:
        """``theta*_j``, ``H_j``, Algorithm 1's consensus errors and its critical-path seconds."""
        weights = self.weights(traj)  # normalised over all of the task's trajectories (Q15)
        ridge = self.hessian_ridge * np.eye(self.policy.dim)
        owner = int(self.owner[j])
        if self.operating_point == "owner":
            g_matrix, g_vector = weighted_statistics(self.policy, traj, weights)
            return scipy.linalg.solve(g_matrix + ridge, g_vector, assume_a="pos"), g_matrix + ridge, [], 0.0
        shares = np.array_split(self.rng.permutation(len(weights)), self.graph.num_nodes)
        stats = {i: weighted_statistics(self.policy, traj.select(idx), weights[idx])
                 for i, idx in zip(self.graph.nodes, shares, strict=True)}
        # The ridge is split evenly over the nodes so that sum_i G_i is the Hessian used for the basis.
        stats = {i: (g + ridge / self.graph.num_nodes, v) for i, (g, v) in stats.items()}
        start = {i: self.thetas[j] for i in self.graph.nodes}
        result = distributed_operating_point(stats, self.graph, self.comm, initial=start, **self.admm_options)
        gathered = self.comm.gather({i: g for i, (g, _) in stats.items()}, to=owner)  # H_j = sum_i G_i at the owner
        hessian = sum(gathered[i] for i in self.graph.nodes if i != owner) + stats[owner][0]
        return result.values[owner], hessian, result.consensus_errors, result.critical_path_seconds

    # --- the iteration --------------------------------------------------------------------------------------------

    def _lasso_on_nodes(self, tasks: np.ndarray, points: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        for i in self.graph.nodes:
            mine = [j for j in tasks if self.owner[j] == i]
            if not mine:
                continue
            self.bases[i] = reinitialize_zero_columns(self.bases[i], self._node_rngs[i])
            for j in mine:
                self.coefficients[j] = weighted_lasso(points[j][0], points[j][1], self.bases[i], self.mu1)

    def _update(self, traj: Trajectories) -> dict[str, Any]:
        d, p = self.policy.dim, self.latent_dim
        tic = time.perf_counter()
        points: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        alg1_errors: list[float] = []
        critical = 0.0
        for j in range(self.num_tasks):
            theta_star, hessian, errors, seconds = self._operating_point(j, traj.of_task(j))
            points[j] = (theta_star, hessian)
            alg1_errors.append(errors[-1] if errors else 0.0)
            critical += seconds
        alg1_seconds = time.perf_counter() - tic
        self._lasso_on_nodes(np.flatnonzero(~self.seen), points)  # first visits: s before L
        self.seen[:] = True
        node_tasks = {i: [(self.coefficients[j], points[j][1], points[j][0]) for j in range(self.num_tasks)
                          if self.owner[j] == i] for i in self.graph.nodes}
        tic = time.perf_counter()
        self.bases, alg2 = distributed_basis_update(node_tasks, self.mu2, d, p, self.graph, self.comm,
                                                    initial=self.bases, **self.admm_options)
        alg2_seconds = time.perf_counter() - tic
        self._lasso_on_nodes(np.arange(self.num_tasks), points)
        for j in range(self.num_tasks):
            self.thetas[j] = self.bases[int(self.owner[j])] @ self.coefficients[j]
        return {"alg1_consensus_error": float(np.max(alg1_errors)), "alg2_consensus_errors": alg2.consensus_errors,
                "alg2_iterations": alg2.iterations, "alg1_seconds": alg1_seconds, "alg2_seconds": alg2_seconds,
                "critical_path_seconds": critical + alg2.critical_path_seconds,
                "comm_rounds": self.comm.stats.rounds, "comm_bytes": self.comm.stats.bytes}
