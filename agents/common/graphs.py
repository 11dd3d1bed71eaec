"""Communication graphs and the mixing matrices of consensus averaging.

A `Graph` is undirected, with nodes ``0..n-1`` and each edge stored once as ``(i, j)`` with ``i < j`` (the
ordering of paper 002, whose ADMM splits a node's neighbours into predecessors and successors). Builders give the
topologies of the papers: ``ring`` (paper 003), ``chain_plus_random_edges`` (paper 002), ``star`` (a server and its
agents, papers 000 and 001), and ``complete``, ``chain``, ``complete_bipartite`` for ablations.

A mixing matrix ``W`` drives consensus ``x_i <- sum_j W_ij x_j``: it must be symmetric, doubly stochastic and zero
between nodes that are not neighbours. Averages are preserved and the disagreement shrinks by a factor of at most
``second_largest_eigenvalue_modulus(W)`` per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
from scipy.sparse import csgraph

__all__ = [
    "GRAPHS",
    "WEIGHTS",
    "Graph",
    "build_graph",
    "chain",
    "chain_plus_random_edges",
    "complete",
    "complete_bipartite",
    "consensus_error",
    "from_edges",
    "metropolis_weights",
    "mixing_matrix",
    "ring",
    "second_largest_eigenvalue_modulus",
    "star",
    "uniform_weights",
    "validate_mixing_matrix",
]


# ----------------------------------------------------------------------------------------------------------------
# The graph
# ----------------------------------------------------------------------------------------------------------------


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


class Graph:
    """An undirected simple graph on nodes ``0..num_nodes-1``.

    ``edges`` may list each edge in either orientation; it is stored as ``(min, max)``, sorted. A self-loop, a node
    outside ``0..num_nodes-1`` or an edge listed twice raises ``ValueError`` naming the edge.
    """

    def __init__(self, num_nodes: int, edges: Iterable[tuple[int, int]] = ()) -> None:
        self._num_nodes = _check_count("num_nodes", num_nodes, 1)
        seen: set[tuple[int, int]] = set()
        for edge in edges:
            seen.add(self._check_edge(edge, seen))
        self._edges = tuple(sorted(seen))
        neighbors: list[list[int]] = [[] for _ in range(self._num_nodes)]
        for i, j in self._edges:
            neighbors[i].append(j)
            neighbors[j].append(i)
        self._neighbors = tuple(tuple(sorted(row)) for row in neighbors)

    def _check_edge(self, edge: Any, seen: set[tuple[int, int]]) -> tuple[int, int]:
        try:
            i, j = edge
        except (TypeError, ValueError):
            raise ValueError(f"edge {edge!r} must be a pair of nodes (i, j)") from None
        for node in (i, j):
            if isinstance(node, bool) or not isinstance(node, int | np.integer) or not 0 <= node < self._num_nodes:
                raise ValueError(f"edge {edge!r}: node {node!r} is not in 0..{self._num_nodes - 1}")
        if i == j:
            raise ValueError(f"edge {edge!r} is a self-loop; a node always keeps its own value, list only neighbours")
        key = (int(min(i, j)), int(max(i, j)))
        if key in seen:
            raise ValueError(f"edge {edge!r} is listed twice (the graph is undirected: (i, j) and (j, i) are one edge)")
        return key

    # --- structure ------------------------------------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``n``."""
        return self._num_nodes

    @property
    def nodes(self) -> range:
        """The nodes, ``range(n)``."""
        return range(self._num_nodes)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """The edges as sorted ``(i, j)`` pairs with ``i < j``; edge ``k`` is row ``k`` of `incidence`."""
        return self._edges

    @property
    def num_edges(self) -> int:
        """Number of (undirected) edges."""
        return len(self._edges)

    def _check_node(self, node: int) -> int:
        if isinstance(node, bool) or not isinstance(node, int | np.integer) or not 0 <= node < self._num_nodes:
            raise ValueError(f"node {node!r} is not in 0..{self._num_nodes - 1}")
        return int(node)

    def neighbors(self, node: int) -> tuple[int, ...]:
        """The neighbours of ``node``, in increasing order."""
        return self._neighbors[self._check_node(node)]

    def predecessors(self, node: int) -> tuple[int, ...]:
        """Neighbours with a smaller id (paper 002's P_i: already updated in a Gauss-Seidel sweep)."""
        node = self._check_node(node)
        return tuple(j for j in self._neighbors[node] if j < node)

    def successors(self, node: int) -> tuple[int, ...]:
        """Neighbours with a larger id (paper 002's S_i)."""
        node = self._check_node(node)
        return tuple(j for j in self._neighbors[node] if j > node)

    def degree(self, node: int) -> int:
        """Number of neighbours of ``node`` (the node itself not counted)."""
        return len(self.neighbors(node))

    @property
    def degrees(self) -> np.ndarray:
        """All degrees as an integer array of length ``n``."""
        return np.array([len(row) for row in self._neighbors], dtype=np.int64)

    def has_edge(self, i: int, j: int) -> bool:
        """Whether ``i`` and ``j`` are neighbours."""
        return self._check_node(j) in self._neighbors[self._check_node(i)]

    # --- matrices -------------------------------------------------------------------------------------------------

    def adjacency(self) -> scipy.sparse.csr_array:
        """The symmetric 0/1 adjacency matrix (``n x n``, float, sparse)."""
        n, m = self._num_nodes, len(self._edges)
        rows = np.array([i for i, _ in self._edges] + [j for _, j in self._edges], dtype=np.int64)
        cols = np.array([j for _, j in self._edges] + [i for i, _ in self._edges], dtype=np.int64)
        return scipy.sparse.csr_array((np.ones(2 * m), (rows, cols)), shape=(n, n))

    def laplacian(self) -> scipy.sparse.csr_array:
        """The graph Laplacian ``D - A`` (sparse)."""
        return scipy.sparse.csr_array(csgraph.laplacian(self.adjacency()))

    def incidence(self) -> scipy.sparse.csr_array:
        """Edge-node incidence matrix (``|E| x n``): row ``k`` has ``+1`` at ``i`` and ``-1`` at ``j`` for edge
        ``k = (i, j)``. Paper 002's block matrix is ``scipy.sparse.kron(graph.incidence(), eye(d))``."""
        m = len(self._edges)
        rows = np.repeat(np.arange(m), 2)
        cols = np.array([node for edge in self._edges for node in edge], dtype=np.int64)
        values = np.tile([1.0, -1.0], m)
        return scipy.sparse.csr_array((values, (rows, cols)), shape=(m, self._num_nodes))

    def is_connected(self) -> bool:
        """Whether every node can reach every other (consensus needs a connected graph)."""
        count, _ = csgraph.connected_components(self.adjacency(), directed=False)
        return bool(count == 1)

    # --- value semantics ------------------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return self._num_nodes == other._num_nodes and self._edges == other._edges

    def __hash__(self) -> int:
        return hash((self._num_nodes, self._edges))

    def __repr__(self) -> str:
        return f"Graph(num_nodes={self._num_nodes}, edges={list(self._edges)})"


# ----------------------------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------------------------


def from_edges(num_nodes: int, edges: Iterable[tuple[int, int]]) -> Graph:
    """A graph from an explicit edge list (validated: no self-loops, no unknown nodes, no duplicates)."""
    return Graph(num_nodes, edges)


def chain(n: int) -> Graph:
    """The path ``0 - 1 - ... - n-1``."""
    n = _check_count("n", n, 1)
    return Graph(n, [(i, i + 1) for i in range(n - 1)])


def ring(n: int) -> Graph:
    """The cycle ``0 - 1 - ... - n-1 - 0`` (for ``n = 2`` a single edge, for ``n = 1`` no edge)."""
    n = _check_count("n", n, 1)
    if n <= 2:
        return chain(n)
    return Graph(n, [(i, (i + 1) % n) for i in range(n)])


def complete(n: int) -> Graph:
    """Every pair of nodes is an edge."""
    n = _check_count("n", n, 1)
    return Graph(n, [(i, j) for i in range(n) for j in range(i + 1, n)])


def star(n: int) -> Graph:
    """Node ``0`` (the hub) joined to each of the nodes ``1..n-1``."""
    n = _check_count("n", n, 1)
    return Graph(n, [(0, j) for j in range(1, n)])


def complete_bipartite(a: int, b: int) -> Graph:
    """``K_{a,b}``: nodes ``0..a-1`` on one side, ``a..a+b-1`` on the other, every cross pair an edge."""
    a, b = _check_count("a", a, 1), _check_count("b", b, 1)
    return Graph(a + b, [(i, a + j) for i in range(a) for j in range(b)])


def chain_plus_random_edges(n: int, extra: int, seed: int | np.random.Generator | None) -> Graph:
    """Paper 002's processor graph: the chain ``0 - 1 - ... - n-1`` plus ``extra`` distinct random edges.

    The extra edges are drawn uniformly without replacement from the pairs not already on the chain, using
    ``numpy.random.default_rng(seed)``; the same seed gives the same graph.
    """
    n = _check_count("n", n, 1)
    candidates = [(i, j) for i in range(n) for j in range(i + 2, n)]
    extra = _check_count("extra", extra, 0)
    if extra > len(candidates):
        raise ValueError(f"extra must be in 0..{len(candidates)} for n={n} (pairs not on the chain); got {extra}")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(candidates), size=extra, replace=False)
    return Graph(n, [(i, i + 1) for i in range(n - 1)] + [candidates[k] for k in sorted(picked)])


# ----------------------------------------------------------------------------------------------------------------
# Mixing matrices
# ----------------------------------------------------------------------------------------------------------------


def metropolis_weights(graph: Graph, lazy: bool = False) -> np.ndarray:
    """Metropolis-Hastings mixing matrix of ``graph``.

    ``W_ij = 1 / max(d_i, d_j)`` for each edge, ``W_ii = 1 - sum_j W_ij``, zero elsewhere: the Metropolis-Hastings
    chain with the uniform distribution as target and a step to a uniformly chosen neighbour as proposal. It is
    symmetric and doubly stochastic, but on a bipartite graph it has eigenvalue ``-1`` and does not converge.

    ``lazy=True`` gives ``(I + W) / 2``, i.e. ``W_ij = 1 / (2 max(d_i, d_j))``: the lazy Metropolis matrix
    (Olshevsky 2014) of paper 003, positive semidefinite with ``W_ii >= 1/2``; on a ring every ``W_ii = 1/2`` and
    ``W_{i,i+1} = 1/4``.
    """
    degrees = graph.degrees
    weights = np.zeros((graph.num_nodes, graph.num_nodes))
    for i, j in graph.edges:
        weights[i, j] = weights[j, i] = 1.0 / max(degrees[i], degrees[j])
    np.fill_diagonal(weights, 1.0 - weights.sum(axis=1))
    if lazy:
        weights = 0.5 * (np.eye(graph.num_nodes) + weights)
    return weights


def uniform_weights(graph: Graph) -> np.ndarray:
    """``W = 11^T / n`` (exact averaging in one step); only valid on a complete graph."""
    n = graph.num_nodes
    if graph.num_edges != n * (n - 1) // 2:
        raise ValueError(f"uniform_weights needs a complete graph; got {graph.num_edges} of {n * (n - 1) // 2} edges")
    return np.full((n, n), 1.0 / n)


def validate_mixing_matrix(weights: Any, graph: Graph | None = None, *, atol: float = 1e-10) -> np.ndarray:
    """Check that ``weights`` is a valid consensus matrix and return it as a dense float array.

    Valid means: square, finite, non-negative, symmetric, every row (hence every column) summing to 1, and, when a
    ``graph`` is given, of matching size and zero between nodes that are not neighbours. A violation raises
    ``ValueError`` naming the offending entry.
    """
    w = weights.toarray() if scipy.sparse.issparse(weights) else np.asarray(weights, dtype=float)
    w = np.asarray(w, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ValueError(f"mixing matrix must be square n x n with n >= 1; got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("mixing matrix has NaN or infinite entries")
    if w.min() < -atol:
        i, j = np.unravel_index(np.argmin(w), w.shape)
        raise ValueError(f"mixing matrix entry W[{i}, {j}] = {w[i, j]:.6g} is negative; weights must be >= 0")
    asym = np.abs(w - w.T)
    if asym.max() > atol:
        i, j = np.unravel_index(np.argmax(asym), w.shape)
        raise ValueError(f"mixing matrix is not symmetric: W[{i}, {j}] = {w[i, j]:.6g} but W[{j}, {i}] = {w[j, i]:.6g}")
    row_sums = w.sum(axis=1)
    bad = np.flatnonzero(np.abs(row_sums - 1.0) > atol)
    if bad.size:
        raise ValueError(f"mixing matrix is not doubly stochastic: row {bad[0]} sums to {row_sums[bad[0]]:.12g}, not 1")
    if graph is not None:
        if w.shape[0] != graph.num_nodes:
            raise ValueError(f"mixing matrix is {w.shape[0]} x {w.shape[0]} but the graph has {graph.num_nodes} nodes")
        allowed = graph.adjacency().toarray() > 0
        np.fill_diagonal(allowed, True)
        off = np.argwhere(~allowed & (np.abs(w) > atol))
        if off.size:
            i, j = off[0]
            raise ValueError(f"mixing matrix entry W[{i}, {j}] = {w[i, j]:.6g} but ({i}, {j}) is not an edge of the graph")
    return w


def second_largest_eigenvalue_modulus(weights: Any) -> float:
    """``max(|lambda_2|, |lambda_n|)`` of a validated mixing matrix: the per-step contraction of the disagreement,
    ``||x^{k+1} - xbar|| <= slem * ||x^k - xbar||`` (equal to paper 003's sigma_2 for symmetric ``W``).
    It is ``< 1`` exactly when repeated mixing converges to the average."""
    w = validate_mixing_matrix(weights)
    if w.shape[0] == 1:
        return 0.0
    eigenvalues = scipy.linalg.eigvalsh(w)  # ascending; the largest is 1 for a doubly stochastic W
    return float(max(abs(eigenvalues[-2]), abs(eigenvalues[0])))


def consensus_error(values: Mapping[Any, Any]) -> float:
    """``max_i ||x_i - xbar||`` over the nodes' values (Euclidean norm of the flattened difference)."""
    if not values:
        raise ValueError("consensus_error needs at least one value")
    stacked = np.stack([np.asarray(v, dtype=float).ravel() for v in values.values()])
    return float(np.linalg.norm(stacked - stacked.mean(axis=0), axis=1).max())


# ------------------------------------------------------------------------------------------------ by name
GRAPHS: dict[str, Callable[[int], Graph]] = {
    "ring": ring, "complete": complete, "chain": chain, "star": star,
    "bipartite": lambda n: complete_bipartite(max(n // 2, 1), max(n - n // 2, 1)) if n > 1 else Graph(1),
}
WEIGHTS = ("lazy-metropolis", "metropolis", "uniform", "identity")


def build_graph(graph: str | Graph | Sequence[tuple[int, int]], num_agents: int) -> Graph:
    """A communication graph: a name (``ring``, ``complete``, ``chain``, ``star``, ``bipartite``), a `Graph`,
    or an edge list; it must be connected and have one node per agent."""
    if isinstance(graph, str):
        if graph not in GRAPHS:
            raise ValueError(f"graph must be one of {sorted(GRAPHS)}, a Graph or an edge list; got {graph!r}")
        built = GRAPHS[graph](num_agents)
    elif isinstance(graph, Graph):
        built = graph
    else:
        built = from_edges(num_agents, graph)
    if built.num_nodes != num_agents:
        raise ValueError(f"graph has {built.num_nodes} nodes but there are {num_agents} agents")
    if not built.is_connected():
        raise ValueError(f"graph must be connected for consensus; got {built!r}")
    return built


def mixing_matrix(graph: Graph, weights: str | Any) -> np.ndarray:
    """``W`` for ``graph``: ``"lazy-metropolis"`` (Olshevsky 2014, the paper's), ``"metropolis"``, ``"uniform"``
    (``11^T / N``, complete graphs), ``"identity"`` (no mixing) or an explicit matrix (validated against the graph)."""
    if isinstance(weights, str):
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {list(WEIGHTS)} or a matrix; got {weights!r}")
        if weights == "identity":
            return np.eye(graph.num_nodes)
        if weights == "uniform":
            return uniform_weights(graph)
        return metropolis_weights(graph, lazy=weights == "lazy-metropolis")
    return validate_mixing_matrix(weights, graph)
