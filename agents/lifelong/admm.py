"""Distributed ADMM over a processor graph: Algorithm 1 (operating points) and Algorithm 2 (shared basis L).

Both algorithms solve a consensus problem ``min sum_i f_i(x_i)`` s.t. ``x_l = x_i`` on every edge (``A~ xbar = 0``)
with quadratic node objectives in the paper's convention (no 1/2): ``f_i(x) = x^T Q_i x - 2 b_i^T x``.

* Algorithm 1: ``Q_i = G_i``, ``b_i = g_i``, the reward-weighted statistics of node ``i``'s share of a task's
  trajectories; the fixed point is the centralised operating point ``(sum_i G_i)^{-1} sum_i g_i``.
* Algorithm 2 (Eq. 4): ``Q_i = (1/t_i) sum_j (s_j s_j^T) (x) H_j + mu2 I``, ``b_i = (1/t_i) sum_j s_j (x) (H_j alpha_j)``
  over node ``i``'s ``t_i`` tasks; with equal ``t_i`` its fixed point is PG-ELLA's ridge solution for ``vec(L)``.

The primal step is the corrected closed form of Algorithms 1 and 2 (the printed signs diverge, and the printed
Algorithm 2 misses ``mu2``), for node ``i`` in Gauss-Seidel order ``0, 1, ..., n-1``::

    x_i <- (Q_i + rho deg_i / 2 I)^{-1} [ b_i + rho/2 ( sum_{l in S_i} (x_l^k + lam_il / rho)
                                                     + sum_{l in P_i} (x_l^{k+1} - lam_li / rho) ) ]
    lam_li <- lam_li - rho (x_l^{k+1} - x_i^{k+1})          for every edge (l, i), l < i        (Eq. 5)

Nodes whose predecessors have all finished update together (a topological wave: they are pairwise non-adjacent),
which reproduces the sequential order exactly; each wave is one communication round in which every updated node
sends its new ``x_i`` to its neighbours. Both ends of an edge apply the same dual update to their own copy of
``lam_li``, so duals never travel. Before iterating, the nodes agree on a preconditioner with one all-reduce:
``C`` with ``C^T C = mean_i Q_i`` (Cholesky), and run on ``phi = C x``; this leaves the fixed point unchanged and
makes ``rho = 1`` match the curvature (the paper gives no ``rho``; a scalar ``rho`` on ill-conditioned ``Q_i`` stalls).

What a node computes is `ConsensusNode` (its data, ``phi_i``, its copies of neighbours' values and duals);
`drive_consensus` is the loop that calls the nodes and carries their messages through the communicator, so the
nodes can live in this process (`consensus_admm`) or in workers of their own (ePG-ELLA's processor nodes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


class ConsensusNode:
    """Node ``i``'s side of one consensus problem: its ``(Q_i, b_i)``, its ``phi_i``, its copies of the neighbours'
    latest values and of the duals ``lam`` of its incident edges. Everything a node computes happens here; the
    messages between nodes are carried by `drive_consensus`.

    Args:
        node: this node's id in ``graph``.
        graph: the processor graph (node order is the Gauss-Seidel order).
        quadratic: ``Q_i``; ``linear``: ``b_i``.
        rho: the ADMM penalty.
        initial: warm start ``x_i^{(0)}`` (default 0).
    """

    def __init__(self, node: int, graph: Graph, quadratic: np.ndarray, linear: np.ndarray, rho: float = 1.0,
                 initial: np.ndarray | None = None) -> None:
        if not (np.isfinite(rho) and rho > 0):
            raise ValueError(f"consensus_admm: rho must be a positive number, got {rho!r}")
        self.node, self.rho = node, float(rho)
        self.quadratic = np.asarray(quadratic, dtype=float)
        self.linear = np.asarray(linear, dtype=float)
        self.initial = None if initial is None else np.asarray(initial, dtype=float)
        self.dim = self.linear.shape[0]
        self.successors = list(graph.successors(node))
        self.predecessors = list(graph.predecessors(node))
        self.degree = graph.degree(node)
        self.edges = [edge for edge in graph.edges if node in edge]

    def get_quadratic(self) -> np.ndarray:
        """``Q_i``, this node's share of the preconditioner's all-reduce."""
        return self.quadratic

    def open(self, precondition: bool, mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Set up the local solver and return ``(phi_i^{(0)}, x_i^{(0)})``.

        ``C`` with ``C^T C = mean`` (``mean=None``: this node's own ``Q_i``, for a one-node graph) when
        ``precondition``, else ``C = I``. The data in phi-coordinates, ``Q~ = C^{-T} Q C^{-1}`` and ``b~ = C^{-T} b``,
        are fixed over the iterations, so the node keeps ``C^{-1}`` and ``(Q~ + rho deg/2 I)^{-1}`` as explicit
        matrices (a triangular solve and a Cholesky solve): one matmul per step instead of a LAPACK call.
        """
        eye = np.eye(self.dim)
        if precondition:
            self.factor = scipy.linalg.cholesky(self.quadratic if mean is None else mean, lower=False)
        else:
            self.factor = eye
        self.c_inv = scipy.linalg.solve_triangular(self.factor, eye, lower=False)
        q_tilde = self.c_inv.T @ self.quadratic @ self.c_inv
        factor = scipy.linalg.cho_factor(q_tilde + 0.5 * self.rho * self.degree * eye)
        self.solver = scipy.linalg.cho_solve(factor, eye)
        self.rhs = self.c_inv.T @ self.linear
        self.phi = self.factor @ (np.zeros(self.dim) if self.initial is None else self.initial)
        self.previous = self.phi
        self.copies: dict[int, np.ndarray] = {}
        self.duals = {edge: np.zeros(self.dim) for edge in self.edges}
        self.stepped = False
        return self.phi, self.value()

    def receive(self, messages: Mapping[int, np.ndarray]) -> None:
        """Store the neighbours' values that arrived."""
        self.copies.update(messages)

    def value(self) -> np.ndarray:
        """``x_i = C^{-1} phi_i`` in the original coordinates."""
        return self.c_inv @ self.phi

    def step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Node ``i``'s turn in iteration ``k``: the primal step of the corrected closed form, then Eq. 5 on the
        duals of its predecessor edges (both ends' values are final for this iteration). The duals of its successor
        edges need the successors' new values, which arrive later: they are updated at the start of the next turn,
        before anything reads them. Returns the new ``phi_i`` (to send), ``x_i``, the stopping report (squared
        primal residual on the predecessor edges, squared change of ``x_i``, ``||x_i||^2``) and the primal step's
        compute seconds."""
        rho, copies, duals, node = self.rho, self.copies, self.duals, self.node
        if self.stepped:  # Eq. 5 for the edges (i, l) of iteration k - 1
            for l in self.successors:
                duals[(node, l)] = duals[(node, l)] - rho * (self.phi - copies[l])
        tic = time.perf_counter()
        pull = sum((copies[l] + duals[(node, l)] / rho for l in self.successors), np.zeros(self.dim))
        pull = pull + sum((copies[l] - duals[(l, node)] / rho for l in self.predecessors), np.zeros(self.dim))
        self.phi = self.solver @ (self.rhs + 0.5 * rho * pull)
        seconds = time.perf_counter() - tic
        for l in self.predecessors:  # Eq. 5 for the edges (l, i) of iteration k
            duals[(l, node)] = duals[(l, node)] - rho * (copies[l] - self.phi)
        value, previous = self.value(), self.c_inv @ self.previous
        report = np.array([sum(float(np.sum((self.c_inv @ copies[l] - value) ** 2)) for l in self.predecessors),
                           float(np.sum((value - previous) ** 2)), float(np.sum(value ** 2))])
        self.previous, self.stepped = self.phi, True
        return self.phi, value, report, seconds


#: ``call(method, requests, inbox)``: deliver ``inbox[node][problem]`` (``{source: message}``) to the nodes called,
#: then run ``ConsensusNode.<method>(*args)`` for every ``requests[node][problem] = args``; results as
#: ``{node: {problem: result}}``. In process it is `run_node_requests` per node; a worker pool runs it inside
#: each node's worker.
NodeCall = Callable[[Callable[..., Any], Mapping[int, Mapping[Hashable, tuple]],
                     Mapping[int, Mapping[Hashable, Mapping[int, Any]]]], dict[int, dict[Hashable, Any]]]

#: The consensus node's steps a `NodeCall` may run (by reference).
NODE_STEPS = (ConsensusNode.get_quadratic, ConsensusNode.open, ConsensusNode.step)


def run_node_requests(problems: Mapping[Hashable, ConsensusNode], method: Callable[..., Any],
                      requests: Mapping[Hashable, tuple], inbox: Mapping[Hashable, Mapping[int, Any]]) -> dict[Hashable, Any]:
    """One node's part of a `NodeCall`: take in its mail, then run ``method`` (a `ConsensusNode` method given
    by reference, e.g. `ConsensusNode.step`) on the problems requested."""
    if method not in NODE_STEPS:
        raise ValueError(f"method must be one of {[f.__qualname__ for f in NODE_STEPS]}; got {method!r}")
    for problem, received in inbox.items():
        problems[problem].receive(received)
    return {problem: method(problems[problem], *args) for problem, args in requests.items()}


def drive_consensus(call: NodeCall, problems: Sequence[Hashable], graph: Graph, comm: Communicator, *,
                    iterations: int = 50, tol: float | None = None, precondition: bool = True) -> dict[Hashable, ADMMResult]:
    """The ADMM loop of `consensus_admm` for independent ``problems`` side by side, nodes reached via ``call``.

    Every message between nodes goes through ``comm`` exactly as if the problems ran one after another (per problem:
    one all-reduce, one exchange, one round per Gauss-Seidel wave and iteration, two rounds per stopping test); a
    problem stops on its own test. A node's mail is handed to it with its next call. ``seconds`` of every result is
    the wall time of the whole run.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"consensus_admm: iterations must be an integer >= 0, got {iterations!r}")
    nodes = list(graph.nodes)
    start = time.perf_counter()
    pending: dict[int, dict[Hashable, dict[int, Any]]] = {i: {} for i in nodes}

    def post(problem: Hashable, inboxes: Mapping[int, Mapping[int, Any]]) -> None:
        for target, received in inboxes.items():
            pending[target].setdefault(problem, {}).update(received)

    def send(method: Callable[..., Any], targets: Sequence[int], active: Sequence[Hashable],
             args: Callable[[int, Hashable], tuple]) -> dict[int, dict[Hashable, Any]]:
        mail = {i: pending[i] for i in targets}
        for i in targets:
            pending[i] = {}
        return call(method, {i: {p: args(i, p) for p in active} for i in targets}, mail)

    # Shared preconditioner (one all-reduce round per problem): every node ends with the same mean, hence the same C.
    if precondition and len(nodes) > 1:
        quadratics = send(ConsensusNode.get_quadratic, nodes, problems, lambda i, p: ())
        means = {p: comm.all_reduce_mean({i: quadratics[i][p] for i in nodes}) for p in problems}
        opened = send(ConsensusNode.open, nodes, problems, lambda i, p: (True, means[p][i]))
    else:
        opened = send(ConsensusNode.open, nodes, problems, lambda i, p: (precondition, None))
    results = {p: ADMMResult({i: opened[i][p][1] for i in nodes}) for p in problems}
    if graph.num_edges:  # each node's copies of its neighbours' starting values
        for p in problems:
            post(p, comm.exchange({i: opened[i][p][0] for i in nodes}, graph))
    waves = gauss_seidel_waves(graph)
    active = list(problems)
    for k in range(iterations):
        if not active:
            break
        values: dict[Hashable, dict[int, np.ndarray]] = {p: {} for p in active}
        reports: dict[Hashable, dict[int, np.ndarray]] = {p: {} for p in active}
        for wave in waves:  # the nodes of a wave are independent: each could run on its own processor
            stepped = send(ConsensusNode.step, wave, active, lambda i, p: ())
            for p in active:
                results[p].critical_path_seconds += max(stepped[i][p][3] for i in wave)
                post(p, comm.route((i, l, stepped[i][p][0]) for i in wave for l in graph.neighbors(i)))
                for i in wave:
                    values[p][i], reports[p][i] = stepped[i][p][1], stepped[i][p][2]
        still = []
        for p in active:
            result = results[p]
            result.values = {i: values[p][i] for i in nodes}
            result.consensus_errors.append(consensus_error(graph, result.values))
            result.iterations = k + 1
            if tol is None or not _converged(comm, {i: reports[p][i] for i in nodes}, tol):
                still.append(p)
        active = still
    for result in results.values():
        result.seconds = time.perf_counter() - start
    return results


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
    """Run Wei-Ozdaglar's distributed ADMM for ``min sum_i x^T Q_i x - 2 b_i^T x`` on ``graph``, in process.

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
    _check_inputs(quadratics, linears, graph)
    nodes = {i: {None: ConsensusNode(i, graph, quadratics[i], linears[i], rho, None if initial is None else initial[i])}
             for i in graph.nodes}

    def call(method: Callable[..., Any], requests: Mapping[int, Mapping[Hashable, tuple]],
             inbox: Mapping[int, Mapping[Hashable, Mapping[int, Any]]]) -> dict[int, dict[Hashable, Any]]:
        return {i: run_node_requests(nodes[i], method, requests[i], inbox.get(i, {})) for i in requests}

    return drive_consensus(call, [None], graph, comm, iterations=iterations, tol=tol, precondition=precondition)[None]


def _converged(comm: Communicator, reports: Mapping[int, np.ndarray], tol: float) -> bool:
    """Stopping test: each node reports (primal residual on its predecessor edges, change, norm) to the server,
    which broadcasts the verdict (two rounds)."""
    gathered = comm.gather(reports)
    primal, change, norm = np.sqrt(np.sum(list(gathered.values()), axis=0))
    done = bool(max(primal, change) <= tol * max(norm, 1e-12))
    comm.broadcast(done, to=list(reports))
    return done

# ------------------------------------------------------------------------------------------------ Algorithm 1


def distributed_operating_point(
    statistics: Mapping[int, tuple[np.ndarray, np.ndarray]], graph: Graph, comm: Communicator, **kwargs: object
) -> ADMMResult:
    """Algorithm 1: the operating point ``theta~*`` of one task from node-local ``(G_i, g_i)`` (Eq. 3).

    ``kwargs`` go to `consensus_admm`. The centralised answer is ``(sum_i G_i)^{-1} sum_i g_i``.
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
