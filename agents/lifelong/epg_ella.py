"""ePG-ELLA: scalable lifelong policy search with distributed operating points and basis (paper 002, §5).

Tasks are owned by the nodes of a processor graph (task ``j`` on node ``j mod n``; the paper: 50 tasks, 10 nodes,
5 each). One iteration (our reconstruction: the paper gives no top-level loop)::

    sample n_traj trajectories of every task with theta_j = L_owner(j) s_j
    for every task j:                                                    # Sec. 5.1, Algorithm 1
        split its trajectories at random over the nodes; node i forms (G_i, g_i)
        theta*_j <- ADMM consensus on sum_i f_i (Eq. 3);  H_j = sum_i G_i + eps I (gathered at the owner)
        alpha_j <- theta_j + sqrt(2 eps_KL / (d^T F d)) d,  d = theta*_j - theta_j   # step="kl": PG-ELLA's KL
        first visit: s_j <- LASSO(alpha_j, H_j, L_owner)                  # s before L, as PG-ELLA
    L_i <- ADMM consensus on sum_i f_i(vec L_i) (Eqs. 4-5)               # Sec. 5.2, Algorithm 2
    every node: L_i <- reinitializeAllZeroColumns(L_i) (shared seed); s_j <- LASSO(alpha_j, H_j, L_i)  # Sec. 5.3
    (basis_rounds > 1: repeat the last two lines on the same alpha_j, H_j until no L_i changes)
    theta_j <- L_owner(j) s_j

``operating_point="owner"`` is another reading of Sec. 5: the owner computes ``theta*_j = G^{-1} g`` from all
of the task's trajectories, and only Algorithm 2 runs over the graph. Every message goes through ``comm``
(its ``stats`` count rounds and bytes); trajectories are assumed to be sampled where they are used.

Each node is a `ProcessorNode` in a worker pool: its tasks' rollouts and every
node-local step of both algorithms run in its worker (its own Ray actor with ``backend="ray"``), while this class
drives the iterations and the ADMM loops and routes the messages between nodes through ``comm``. The consensus
problems of Algorithm 1 (one per task) run side by side, each with its own rounds, messages and stopping test.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from agents.common.communication import Communicator
from agents.common.deployment import Deployment
from agents.common.graphs import Graph, chain_plus_random_edges
from agents.common.workers import WorkerPool
from agents.lifelong.admm import drive_consensus
from agents.lifelong.base import PolicySearchLearner
from agents.lifelong.policy import Trajectories
from agents.lifelong.workers import BASIS, ProcessorNode, Step, operating_point_problem

OperatingPoint = Literal["consensus", "owner"]


class EPGELLA(PolicySearchLearner):
    """Distributed lifelong policy search (Algorithms 1 and 2 over ``graph``), one worker per processor node.

    Args:
        latent_dim: as `agents.lifelong.PGELLA`.
        mu1: as `agents.lifelong.PGELLA`.
        mu2: as `agents.lifelong.PGELLA`.
        graph: the processor graph; default ``chain_plus_random_edges(num_nodes, extra_edges, seed)``.
        num_nodes: the default graph's number of nodes (paper: 10).
        extra_edges: the default graph's random edges on top of the chain (paper: 20).
        rho: ADMM penalty on the preconditioned problems (see `agents.lifelong.admm.consensus_admm`).
        admm_iterations: cap ``K`` of both ADMM loops; ``admm_tol``: their early-stopping tolerance.
        operating_point: ``"consensus"`` (Algorithm 1) or ``"owner"``.
        step: ``"kl"`` (default): the operating point moves from ``theta_j`` towards Algorithm 1's ``theta*_j`` by
            the mean KL ``step_size``, the step of PG, PG-ELLA and GO-MTL; ``"rwr"``: it is ``theta*_j`` itself,
            whose distance only ``weight_beta`` sets (see `agents.lifelong.workers.Step`).
        comm: the communicator (default: one of ``backend``, owned and closed by this learner).
        basis_rounds: rounds of (Algorithm 2, LASSO) per iteration (default 1: §5.3's single pass). More rounds
            alternate the basis and the codes on the same operating points, as GO-MTL does, and stop early when
            no copy ``L_i`` changes by more than ``basis_tol`` relative to its norm.
        basis_tol: the early stop of the extra rounds.
        backend: where the nodes run: ``"local"`` (in this process) or ``"ray"`` (one Ray actor per node; the
            optional extra). Same results on both.
        backend_options: for ``"ray"``: ``address`` (join a cluster), ``checkpoint_every`` (worker checkpoints
            every so many calls; default 0: at the end of every iteration), ``max_restarts``, ``actor_options``.
        **kwargs: other arguments as `agents.lifelong.base.PolicySearchLearner`.

    The policies, codes and basis copies live in the nodes' workers; `thetas`, `coefficients` and
    `bases` are the driver's copies, refreshed at the end of every iteration. Call `close` when done.
    """

    name = "ePG-ELLA"
    samples_in_driver = False
    _resources = ("sampler", "_deployment", "comm", "pool")

    def __init__(self, env_id: str, tasks: Any, *, latent_dim: int = 2, mu1: float = np.exp(-5),
                 mu2: float = np.exp(-5), graph: Graph | None = None, num_nodes: int = 10, extra_edges: int = 20,
                 rho: float = 1.0, admm_iterations: int = 50, admm_tol: float | None = 1e-8,
                 operating_point: OperatingPoint = "consensus", step: Step = "kl", basis_rounds: int = 1,
                 basis_tol: float = 1e-6, comm: Communicator | None = None,
                 backend: str = "local", backend_options: Mapping[str, Any] | None = None,
                 seed: int = 0, **kwargs: Any) -> None:
        super().__init__(env_id, tasks, seed=seed, **kwargs)
        d = self.policy.dim
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or not 1 <= latent_dim <= d:
            raise ValueError(f"EPGELLA: latent_dim must be an integer in 1..{d} (d), got {latent_dim!r}")
        if mu1 < 0 or mu2 < 0:
            raise ValueError(f"EPGELLA: mu1 and mu2 must be >= 0, got mu1={mu1}, mu2={mu2}")
        if operating_point not in ("consensus", "owner"):
            raise ValueError(f"EPGELLA: operating_point must be 'consensus' or 'owner', got {operating_point!r}")
        if step not in ("kl", "rwr"):
            raise ValueError(f"EPGELLA: step must be 'kl' or 'rwr', got {step!r}")
        if isinstance(basis_rounds, bool) or not isinstance(basis_rounds, int) or basis_rounds < 1:
            raise ValueError(f"EPGELLA: basis_rounds must be an integer >= 1, got {basis_rounds!r}")
        if not (np.isfinite(basis_tol) and basis_tol >= 0):
            raise ValueError(f"EPGELLA: basis_tol must be a number >= 0, got {basis_tol!r}")
        if not (np.isfinite(rho) and rho > 0):
            raise ValueError(f"EPGELLA: rho must be a positive number, got {rho!r}")
        if isinstance(admm_iterations, bool) or not isinstance(admm_iterations, int) or admm_iterations < 0:
            raise ValueError(f"EPGELLA: admm_iterations must be an integer >= 0, got {admm_iterations!r}")
        if graph is None:
            extra = min(extra_edges, max(num_nodes * (num_nodes - 1) // 2 - (num_nodes - 1), 0))
            graph = chain_plus_random_edges(num_nodes, extra, seed)
        if not graph.is_connected():
            raise ValueError("EPGELLA: the processor graph must be connected for consensus")
        self.graph = graph
        self.latent_dim, self.mu1, self.mu2 = latent_dim, float(mu1), float(mu2)
        self.admm_options = {"iterations": int(admm_iterations), "tol": admm_tol}
        self.operating_point: OperatingPoint = operating_point
        self.step: Step = step
        self.basis_rounds, self.basis_tol = int(basis_rounds), float(basis_tol)
        self.backend = backend
        n = graph.num_nodes
        self.owner = np.arange(self.num_tasks) % n
        # Driver-side mirrors of the nodes' state, refreshed every iteration: copies L_i, coefficients, policies.
        self.bases = {i: np.zeros((d, latent_dim)) for i in graph.nodes}
        self.coefficients = np.zeros((self.num_tasks, latent_dim))
        self.seen = np.zeros(self.num_tasks, dtype=bool)
        shared = int(self.rng.integers(2**31))  # every node re-draws zero columns from this seed
        workers = {i: ProcessorNode(
            i, {int(j): self.tasks[j] for j in np.flatnonzero(self.owner == i)}, graph, env_id=env_id,
            env_kwargs=self.env_kwargs, n_trajectories=self.n_trajectories, horizon=self.horizon, policy=self.policy,
            weighting=self.weighting, weight_beta=self.weight_beta, hessian_ridge=self.hessian_ridge,
            latent_dim=latent_dim, mu1=self.mu1, mu2=self.mu2, rho=float(rho), seed=seed, shared_seed=shared,
            step=step, step_size=self.step_size)
            for i in graph.nodes}
        self._deployment: Deployment | None = Deployment(
            workers, backend=backend, backend_options=backend_options, seed=seed, comm=comm,
            default_checkpoint_every=0)  # the nodes' checkpoints are taken at the end of every iteration
        self.comm: Communicator = self._deployment.comm
        self.pool: WorkerPool = self._deployment.pool

    @property
    def basis(self) -> np.ndarray:
        """Node 0's copy of ``L`` (all copies agree to the ADMM tolerance)."""
        return self.bases[0]

    def _node_call(self, method: Callable[..., Any], requests: Mapping[int, Mapping[Hashable, tuple]],
                   inbox: Mapping[int, Mapping[Hashable, Mapping[int, Any]]]) -> dict[int, dict[Hashable, Any]]:
        """The consensus steps run inside the nodes' workers (see `agents.lifelong.admm.drive_consensus`)."""
        return self.pool.map(ProcessorNode.admm, {i: (method, requests[i], inbox.get(i, {})) for i in requests})

    def _by_owner(self, tasks: Sequence[int]) -> dict[int, tuple[list[int]]]:
        return {i: ([int(j) for j in tasks if self.owner[j] == i],) for i in self.graph.nodes
                if any(self.owner[j] == i for j in tasks)}

    # --- Sec. 5.1 -------------------------------------------------------------------------------------------------

    def _operating_points(self, tasks: Sequence[int]
                          ) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict[int, list[float]], float]:
        """Algorithm 1 for ``tasks`` on the trajectories their owners hold: ``{j: (theta*_j, H_j)}`` (as the owners
        have them), each task's consensus errors, and the critical-path seconds."""
        if self.operating_point == "owner":
            points = self.pool.map(ProcessorNode.owner_points, self._by_owner(tasks))
            return {j: point for found in points.values() for j, point in found.items()}, {j: [] for j in tasks}, 0.0
        shares = {j: share for found in self.pool.map(ProcessorNode.share_statistics, self._by_owner(tasks)).values()
                  for j, share in found.items()}
        self.pool.map(ProcessorNode.open_problems, {k: ({operating_point_problem(j): (*shares[j][k], self.thetas[j])
                                              for j in tasks},) for k in self.graph.nodes})
        results = drive_consensus(self._node_call, [operating_point_problem(j) for j in tasks], self.graph, self.comm,
                                  **self.admm_options)
        # H_j = sum_k G_k at the owner
        gathered = {j: self.comm.gather({k: shares[j][k][0] for k in self.graph.nodes}, to=int(self.owner[j]))
                    for j in tasks}
        points = self.pool.map(ProcessorNode.adopt_operating_points,
                                {i: ({j: gathered[j] for j in mine},) for i, (mine,) in self._by_owner(tasks).items()})
        critical = float(sum(r.critical_path_seconds for r in results.values()))
        return ({j: point for found in points.values() for j, point in found.items()},
                {j: results[operating_point_problem(j)].consensus_errors for j in tasks}, critical)

    def _operating_point(self, j: int, traj: Trajectories) -> tuple[np.ndarray, np.ndarray, list[float], float]:
        """Algorithm 1 for task ``j`` on ``traj``: ``theta*_j``, ``H_j``, its consensus errors, critical seconds."""
        self.pool.map(ProcessorNode.hold_trajectories, {int(self.owner[j]): ({j: traj},)})
        points, errors, critical = self._operating_points([j])
        return points[j][0], points[j][1], errors[j], critical

    # --- the iteration --------------------------------------------------------------------------------------------

    def _update(self, traj: Trajectories | None = None) -> dict[str, Any]:
        """One iteration's update on the trajectories the nodes sampled (``traj`` is unused: nodes sample)."""
        tic = time.perf_counter()
        _, errors, critical = self._operating_points(range(self.num_tasks))
        alg1_seconds = time.perf_counter() - tic
        step_kls = self._by_task(self.pool.map(ProcessorNode.operating_point_kls))
        first = [int(j) for j in np.flatnonzero(~self.seen)]
        if first:  # first visits: s before L
            self.pool.map(ProcessorNode.lasso, self._by_owner(first))
        self.seen[:] = True
        tic = time.perf_counter()
        critical_alg2 = 0.0
        for rounds in range(1, self.basis_rounds + 1):  # noqa: B007 (the count is reported)
            self.pool.map(ProcessorNode.open_basis_problem)
            alg2 = drive_consensus(self._node_call, [BASIS], self.graph, self.comm, **self.admm_options)[BASIS]
            critical_alg2 += alg2.critical_path_seconds
            adopted = self.pool.map(ProcessorNode.adopt_basis)
            change = max(np.linalg.norm(basis - self.bases[i]) - self.basis_tol * np.linalg.norm(basis)
                         for i, (basis, _, _) in adopted.items())
            for i, (basis, coefficients, thetas) in adopted.items():
                self.bases[i] = basis
                for j in coefficients:
                    self.coefficients[j], self.thetas[j] = coefficients[j], thetas[j]
            if change <= 0.0:
                break
        alg2_seconds = time.perf_counter() - tic
        return {"alg1_consensus_error": float(np.max([e[-1] if e else 0.0 for e in errors.values()])),
                "alg2_consensus_errors": alg2.consensus_errors, "alg2_iterations": alg2.iterations,
                "operating_point_kl": float(np.mean(step_kls)), "alg1_seconds": alg1_seconds, "alg2_seconds": alg2_seconds,
                "critical_path_seconds": critical + critical_alg2, "basis_rounds": rounds,
                "comm_rounds": self.comm.stats.rounds, "comm_bytes": self.comm.stats.bytes}

    def _by_task(self, results: Mapping[int, Mapping[int, float]]) -> list[float]:
        merged = {j: value for found in results.values() for j, value in found.items()}
        return [merged[j] for j in range(self.num_tasks)]

    def _learn_unit(self) -> dict[str, Any]:
        """One iteration, rollouts in the nodes' workers; the record is appended to `history`.

        A run saved with `learn(..., checkpoint_path=...)` or `save` holds the driver's state, every node's worker
        and the communication counts, so it continues exactly as an uninterrupted run.
        """
        tic = time.perf_counter()
        task_rewards = self._by_task(self.pool.map(ProcessorNode.sample))
        sampled = time.perf_counter()
        extra = self._update()
        record = {"iteration": len(self.history) + 1, "mean_reward": float(np.mean(task_rewards)),
                  "task_rewards": task_rewards, "sample_seconds": sampled - tic,
                  "update_seconds": time.perf_counter() - sampled, **extra}
        if self.evaluate:
            record["eval_task_rewards"] = self._by_task(self.pool.map(ProcessorNode.evaluate))
            record["eval_reward"] = float(np.mean(record["eval_task_rewards"]))
        self.history.append(record)
        checkpoint = getattr(self.pool, "checkpoint", None)
        if checkpoint is not None and not getattr(self.pool, "checkpoint_every", 1):
            checkpoint()  # a restarted node replays at most one iteration's calls
        return record

    def close(self) -> None:
        """Release the nodes' environments and workers, and the communicator this learner opened."""
        if getattr(self, "_deployment", None) is not None:
            with contextlib.suppress(Exception):
                self.pool.map(ProcessorNode.close)
            self._deployment.close()
            self._deployment = None
