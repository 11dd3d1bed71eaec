"""Distributed ADMM over a processor graph: Algorithm 1 (operating points) and Algorithm 2 (shared basis L).

Both algorithms solve a consensus problem ``min sum_i f_i(x_i)`` s.t. ``x_l = x_i`` on every edge (``A~ xbar = 0``)
with quadratic node objectives in the paper's convention (no 1/2): ``f_i(x) = x^T Q_i x - 2 b_i^T x``.

* Algorithm 1: ``Q_i = G_i``, ``b_i = g_i``, the reward-weighted statistics of node ``i``'s share of a task's
  trajectories; the fixed point is the centralised operating point ``(sum_i G_i)^{-1} sum_i g_i``.
* Algorithm 2 (Eq. 4): ``Q_i = (1/t_i) sum_j (s_j s_j^T) (x) H_j + mu2 I``, ``b_i = (1/t_i) sum_j s_j (x) (H_j alpha_j)``
  over node ``i``'s ``t_i`` tasks; with equal ``t_i`` its fixed point is PG-ELLA's ridge solution for ``vec(L)``.

The primal step is the corrected closed form of notes-002 §2.2/§2.3 (the printed signs diverge, and the printed
Algorithm 2 misses ``mu2``), for node ``i`` in Gauss-Seidel order ``0, 1, ..., n-1``::

    x_i <- (Q_i + rho deg_i / 2 I)^{-1} [ b_i + rho/2 ( sum_{l in S_i} (x_l^k + lam_il / rho)
                                                     + sum_{l in P_i} (x_l^{k+1} - lam_li / rho) ) ]
    lam_li <- lam_li - rho (x_l^{k+1} - x_i^{k+1})          for every edge (l, i), l < i        (Eq. 5)

Nodes whose predecessors have all finished update together (a topological wave: they are pairwise non-adjacent),
which reproduces the sequential order exactly; each wave is one communication round in which every updated node
sends its new ``x_i`` to its neighbours. Both ends of an edge apply the same dual update to their own copy of
``lam_li``, so duals never travel. Before iterating, the nodes agree on a preconditioner with one all-reduce:
``C`` with ``C^T C = mean_i Q_i`` (Cholesky), and run on ``phi = C x``; this leaves the fixed point unchanged and
makes ``rho = 1`` match the curvature (notes-002 Q8: a scalar ``rho`` on ill-conditioned ``Q_i`` stalls).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from agents.common.communication import Communicator
from agents.common.graphs import Graph
from agents.lifelong.kron import mat


@dataclass
class ADMMResult:
    """Node copies after the last iteration, and what was measured on the way.

    ``consensus_errors[k]`` is ``||A~ xbar^{(k+1)}||_2 = sqrt(sum_edges ||x_l - x_i||^2)`` after iteration ``k``
    (original coordinates); ``seconds`` is the in-process wall time; ``critical_path_seconds`` sums, over
    iterations and waves, the slowest node's primal step: the compute time if every node had its own processor.
    """

    values: dict[int, np.ndarray]
    consensus_errors: list[float] = field(default_factory=list)
    iterations: int = 0
    seconds: float = 0.0
    critical_path_seconds: float = 0.0

    def mean(self) -> np.ndarray:
        """The average of the node copies (equal to every copy at consensus)."""
        return np.mean(list(self.values.values()), axis=0)


def gauss_seidel_waves(graph: Graph) -> list[list[int]]:
    """Groups of nodes that can update together: a node's wave is one more than its latest predecessor's."""
    wave: dict[int, int] = {}
    for i in graph.nodes:
        wave[i] = 1 + max((wave[l] for l in graph.predecessors(i)), default=-1)
    return [[i for i in graph.nodes if wave[i] == w] for w in range(max(wave.values()) + 1)]


def consensus_error(graph: Graph, values: Mapping[int, np.ndarray]) -> float:
    """``||A~ xbar||_2`` for node values ``x_i`` (the paper's agreement error, Fig. 1f)."""
    return float(np.sqrt(sum(np.sum((values[i] - values[j]) ** 2) for i, j in graph.edges)))


def _check_inputs(quadratics: Mapping[int, np.ndarray], linears: Mapping[int, np.ndarray], graph: Graph) -> int:
    nodes = set(graph.nodes)
    for name, given in (("quadratics", quadratics), ("linears", linears)):
        if set(given) != nodes:
            raise ValueError(f"consensus_admm: {name} needs one entry per graph node 0..{graph.num_nodes - 1}; "
                             f"got keys {sorted(given, key=repr)}")
    dim = np.shape(linears[0])[0]
    for i in graph.nodes:
        if np.shape(quadratics[i]) != (dim, dim) or np.shape(linears[i]) != (dim,):
            raise ValueError(f"consensus_admm: node {i} has Q of shape {np.shape(quadratics[i])} and b of shape "
                             f"{np.shape(linears[i])}; expected ({dim}, {dim}) and ({dim},)")
    if not graph.is_connected():
        raise ValueError("consensus_admm: the processor graph must be connected for consensus")
    return dim


def consensus_admm(
    quadratics: Mapping[int, np.ndarray],
    linears: Mapping[int, np.ndarray],
    graph: Graph,
    comm: Communicator,
    *,
    rho: float = 1.0,
    iterations: int = 50,
    tol: float | None = None,
    precondition: bool = True,
    initial: Mapping[int, np.ndarray] | None = None,
) -> ADMMResult:
    """Run Wei-Ozdaglar's distributed ADMM for ``min sum_i x^T Q_i x - 2 b_i^T x`` on ``graph``.

    Args:
        quadratics: ``Q_i`` per node (symmetric PSD, with ``sum_i Q_i`` positive definite).
        linears: ``b_i`` per node.
        graph: connected processor graph; node order is the Gauss-Seidel order.
        comm: carries every message (rounds and bytes are counted in ``comm.stats``).
        rho: ADMM penalty (in preconditioned coordinates when ``precondition``; 1 matches the mean curvature).
        iterations: the cap ``K`` on ADMM iterations.
        tol: stop early once the relative primal residual ``||A~ xbar|| / ||xbar||`` and the relative change of
            ``xbar`` both fall below ``tol``; the nodes decide it from residuals gathered at ``comm.server``.
        precondition: run on ``phi = C x`` with ``C^T C = mean_i Q_i`` (agreed by one all-reduce).
        initial: warm start ``x_i^{(0)}`` (default 0).
    """
    dim = _check_inputs(quadratics, linears, graph)
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"consensus_admm: rho must be a positive number, got {rho!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"consensus_admm: iterations must be an integer >= 0, got {iterations!r}")
    nodes = list(graph.nodes)
    start = time.perf_counter()

    # Shared preconditioner (one all-reduce round): every node ends with the same mean, hence the same C.
    if precondition:
        means = comm.all_reduce_mean({i: np.asarray(quadratics[i], dtype=float) for i in nodes}) if len(nodes) > 1 \
            else {0: np.asarray(quadratics[0], dtype=float)}
        factors = {i: scipy.linalg.cholesky(means[i], lower=False) for i in nodes}
    else:
        factors = {i: np.eye(dim) for i in nodes}

    # Node-local data in phi-coordinates: Q~ = C^{-T} Q C^{-1}, b~ = C^{-T} b. The matrices are small (d or dp
    # rows) and fixed over the iterations, so each node keeps C^{-1} and (Q~ + rho deg/2 I)^{-1} as explicit
    # matrices (from a triangular solve and a Cholesky solve): one matmul per step instead of a LAPACK call.
    c_inv = {i: scipy.linalg.solve_triangular(factors[i], np.eye(dim), lower=False) for i in nodes}
    solvers, rhs = {}, {}
    for i in nodes:
        q_tilde = c_inv[i].T @ quadratics[i] @ c_inv[i]
        factor = scipy.linalg.cho_factor(q_tilde + 0.5 * rho * graph.degree(i) * np.eye(dim))
        solvers[i] = scipy.linalg.cho_solve(factor, np.eye(dim))
        rhs[i] = c_inv[i].T @ np.asarray(linears[i], dtype=float)

    def to_phi(i: int, x: np.ndarray) -> np.ndarray:
        return factors[i] @ x

    def to_x(i: int, phi: np.ndarray) -> np.ndarray:
        return c_inv[i] @ phi

    phi = {i: to_phi(i, np.zeros(dim) if initial is None else np.asarray(initial[i], dtype=float)) for i in nodes}
    # Each node's copies of its neighbours' latest values, and of the duals lam_li of its incident edges.
    copies = comm.exchange(phi, graph) if graph.num_edges else {i: {} for i in nodes}
    duals = {i: {edge: np.zeros(dim) for edge in graph.edges if i in edge} for i in nodes}
    waves = gauss_seidel_waves(graph)
    result = ADMMResult({i: to_x(i, phi[i]) for i in nodes})

    for k in range(iterations):
        previous = dict(phi)
        for wave in waves:
            slowest = 0.0
            for i in wave:  # the nodes of a wave are independent: each could run on its own processor
                tic = time.perf_counter()
                pull = sum((copies[i][l] + duals[i][(i, l)] / rho for l in graph.successors(i)), np.zeros(dim))
                pull = pull + sum((copies[i][l] - duals[i][(l, i)] / rho for l in graph.predecessors(i)), np.zeros(dim))
                phi[i] = solvers[i] @ (rhs[i] + 0.5 * rho * pull)
                slowest = max(slowest, time.perf_counter() - tic)
            result.critical_path_seconds += slowest
            inboxes = comm.route((i, l, phi[i]) for i in wave for l in graph.neighbors(i))
            for target, received in inboxes.items():
                copies[target].update(received)
        for i in nodes:  # Eq. 5, applied by both ends of every edge to their own copy
            for l, j in duals[i]:
                x_l = phi[i] if l == i else copies[i][l]
                x_j = phi[i] if j == i else copies[i][j]
                duals[i][(l, j)] = duals[i][(l, j)] - rho * (x_l - x_j)
        result.values = {i: to_x(i, phi[i]) for i in nodes}
        result.consensus_errors.append(consensus_error(graph, result.values))
        result.iterations = k + 1
        if tol is not None and _converged(graph, comm, result.values, {i: to_x(i, previous[i]) for i in nodes}, tol):
            break
    result.seconds = time.perf_counter() - start
    return result


def _converged(graph: Graph, comm: Communicator, values: Mapping[int, np.ndarray],
               previous: Mapping[int, np.ndarray], tol: float) -> bool:
    """Stopping test: each node reports (primal residual on its predecessor edges, change, norm) to the server,
    which broadcasts the verdict (two rounds)."""
    reports = comm.gather({
        i: np.array([sum(float(np.sum((values[l] - values[i]) ** 2)) for l in graph.predecessors(i)),
                     float(np.sum((values[i] - previous[i]) ** 2)), float(np.sum(values[i] ** 2))])
        for i in graph.nodes
    })
    primal, change, norm = np.sqrt(np.sum(list(reports.values()), axis=0))
    done = bool(max(primal, change) <= tol * max(norm, 1e-12))
    comm.broadcast(done, to=list(graph.nodes))
    return done


# ------------------------------------------------------------------------------------------------ Algorithm 1


def distributed_operating_point(
    statistics: Mapping[int, tuple[np.ndarray, np.ndarray]], graph: Graph, comm: Communicator, **kwargs: object
) -> ADMMResult:
    """Algorithm 1: the operating point ``theta~*`` of one task from node-local ``(G_i, g_i)`` (Eq. 3).

    ``kwargs`` go to :func:`consensus_admm`. The centralised answer is ``(sum_i G_i)^{-1} sum_i g_i``.
    """
    return consensus_admm({i: s[0] for i, s in statistics.items()}, {i: s[1] for i, s in statistics.items()},
                          graph, comm, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ Algorithm 2


def node_basis_objective(
    tasks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], mu2: float, d: int, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(Q_i, b_i)`` of node ``i``'s ``f_i(vec L) = (1/t_i) sum_j ||alpha_j - Gamma_j vec L||^2_{H_j} + mu2 ||vec L||^2``
    from its tasks' ``(s_j, H_j, alpha_j)``; a node without tasks keeps only the ``mu2`` term."""
    q = mu2 * np.eye(d * p)
    b = np.zeros(d * p)
    if tasks:
        for s, h, alpha in tasks:
            q += np.kron(np.outer(s, s), h) / len(tasks)  # Gamma^T H Gamma = (s s^T) (x) H
            b += np.kron(s, h @ alpha) / len(tasks)  # Gamma^T H alpha = s (x) (H alpha)
    return q, b


def distributed_basis_update(
    node_tasks: Mapping[int, Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]],
    mu2: float,
    d: int,
    p: int,
    graph: Graph,
    comm: Communicator,
    initial: Mapping[int, np.ndarray] | None = None,
    **kwargs: object,
) -> tuple[dict[int, np.ndarray], ADMMResult]:
    """Algorithm 2 (Eqs. 4-5): every node's copy ``L_i`` (``d x p``) of the shared basis, and the ADMM record.

    ``node_tasks[i]`` lists node ``i``'s ``(s_j, H_j, alpha_j)``; ``initial`` warm-starts the copies ``L_i``.
    """
    if mu2 < 0:
        raise ValueError(f"distributed_basis_update: mu2 must be >= 0, got {mu2}")
    objectives = {i: node_basis_objective(node_tasks.get(i, ()), mu2, d, p) for i in graph.nodes}
    start = None if initial is None else {i: initial[i].reshape(-1, order="F") for i in graph.nodes}
    result = consensus_admm({i: o[0] for i, o in objectives.items()}, {i: o[1] for i, o in objectives.items()},
                            graph, comm, initial=start, **kwargs)  # type: ignore[arg-type]
    return {i: mat(v, d, p) for i, v in result.values.items()}, result
