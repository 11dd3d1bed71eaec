"""Communication graphs and mixing matrices, checked against closed forms, brute force and NumPy's eigensolvers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse

from agents.common.graphs import (
    Graph,
    chain,
    chain_plus_random_edges,
    complete,
    complete_bipartite,
    consensus_error,
    from_edges,
    metropolis_weights,
    ring,
    second_largest_eigenvalue_modulus,
    star,
    uniform_weights,
    validate_mixing_matrix,
)


def random_graph(n: int, p: float, seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    return from_edges(n, [(i, j) for i, j in itertools.combinations(range(n), 2) if rng.random() < p])


def reachable_from_zero(graph: Graph) -> set[int]:
    """Brute-force breadth-first search over the edge list (independent of scipy.sparse.csgraph)."""
    seen, frontier = {0}, [0]
    while frontier:
        node = frontier.pop()
        for i, j in graph.edges:
            for a, b in ((i, j), (j, i)):
                if a == node and b not in seen:
                    seen.add(b)
                    frontier.append(b)
    return seen


RANDOM_GRAPHS = [random_graph(n, p, seed) for seed, (n, p) in enumerate([(5, 0.5), (8, 0.3), (9, 0.6), (12, 0.25), (7, 0.9)])]


# ----------------------------------------------------------------------------------------------------------------
# Structure
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 4, 7])
def test_ring_chain_complete_star_structure(n: int) -> None:
    assert ring(n).num_edges == n and set(ring(n).degrees) == {2}
    assert ring(n).neighbors(0) == (1, n - 1)
    assert chain(n).num_edges == n - 1 and list(chain(n).degrees) == [1] + [2] * (n - 2) + [1]
    assert complete(n).num_edges == n * (n - 1) // 2 and set(complete(n).degrees) == {n - 1}
    assert list(star(n).degrees) == [n - 1] + [1] * (n - 1)
    assert all(star(n).neighbors(j) == (0,) for j in range(1, n))


def test_degenerate_rings() -> None:
    # a ring of 2 degenerates to one edge; a ring of 3 is the complete graph.
    assert ring(1).num_edges == 0 and ring(2).edges == ((0, 1),)
    assert ring(3) == complete(3)


def test_complete_bipartite_has_only_cross_edges() -> None:
    graph = complete_bipartite(2, 3)
    assert graph.num_nodes == 5 and graph.num_edges == 6
    left, right = {0, 1}, {2, 3, 4}
    assert all((i in left) != (j in left) for i, j in graph.edges)
    assert all(graph.neighbors(i) == (2, 3, 4) for i in left) and all(graph.neighbors(j) == (0, 1) for j in right)


@pytest.mark.parametrize("graph", [*RANDOM_GRAPHS, star(5), complete_bipartite(3, 2)])
def test_neighbor_queries_match_the_edge_list(graph: Graph) -> None:
    for node in graph.nodes:
        brute = sorted({j for i, j in graph.edges if i == node} | {i for i, j in graph.edges if j == node})
        assert list(graph.neighbors(node)) == brute
        assert graph.degree(node) == len(brute)
        assert list(graph.predecessors(node)) == [j for j in brute if j < node]
        assert list(graph.successors(node)) == [j for j in brute if j > node]
        for other in graph.nodes:
            assert graph.has_edge(node, other) == (other in brute)


@pytest.mark.parametrize("graph", [*RANDOM_GRAPHS, ring(6), star(4), chain(5)])
def test_adjacency_laplacian_incidence_agree(graph: Graph) -> None:
    n = graph.num_nodes
    adjacency = np.zeros((n, n))
    for i, j in graph.edges:
        adjacency[i, j] = adjacency[j, i] = 1.0
    assert scipy.sparse.issparse(graph.adjacency())
    np.testing.assert_array_equal(graph.adjacency().toarray(), adjacency)
    np.testing.assert_array_equal(graph.laplacian().toarray(), np.diag(adjacency.sum(axis=1)) - adjacency)
    incidence = graph.incidence().toarray()
    assert incidence.shape == (graph.num_edges, n)
    np.testing.assert_array_equal(incidence.T @ incidence, graph.laplacian().toarray())  # B^T B = L
    for k, (i, j) in enumerate(graph.edges):
        assert incidence[k, i] == 1.0 and incidence[k, j] == -1.0 and np.count_nonzero(incidence[k]) == 2


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        (ring(7), [2 - 2 * np.cos(2 * np.pi * k / 7) for k in range(7)]),
        (chain(6), [2 - 2 * np.cos(np.pi * k / 6) for k in range(6)]),
        (complete(5), [0.0] + [5.0] * 4),
        (star(6), [0.0] + [1.0] * 4 + [6.0]),
        (complete_bipartite(2, 4), [0.0] + [2.0] * 3 + [4.0] * 1 + [6.0]),
    ],
    ids=["ring", "chain", "complete", "star", "bipartite"],
)
def test_laplacian_spectra_match_closed_forms(graph: Graph, expected: list[float]) -> None:
    np.testing.assert_allclose(np.linalg.eigvalsh(graph.laplacian().toarray()), np.sort(expected), atol=1e-12)


@pytest.mark.parametrize("graph", [*RANDOM_GRAPHS, from_edges(6, [(0, 1), (2, 3), (4, 5)]), Graph(1)])
def test_is_connected_matches_breadth_first_search(graph: Graph) -> None:
    assert graph.is_connected() == (len(reachable_from_zero(graph)) == graph.num_nodes)


def test_connectivity_of_builders() -> None:
    assert all(g.is_connected() for g in (ring(5), chain(5), star(5), complete(5), complete_bipartite(2, 3)))
    assert not from_edges(4, [(0, 1), (2, 3)]).is_connected()


@pytest.mark.parametrize(
    ("edges", "fragment"),
    [
        ([(0, 1), (2, 2)], "edge (2, 2) is a self-loop"),
        ([(0, 1), (1, 4)], "edge (1, 4): node 4 is not in 0..3"),
        ([(0, -1)], "edge (0, -1): node -1 is not in 0..3"),
        ([(0, 1), (1, 2), (1, 0)], "edge (1, 0) is listed twice"),
        ([(0, 1), (0, 1)], "edge (0, 1) is listed twice"),
        ([(0, 1, 2)], "edge (0, 1, 2) must be a pair"),
        ([(0, 1.5)], "node 1.5 is not in 0..3"),
    ],
)
def test_from_edges_rejects_bad_edges(edges: list, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        from_edges(4, edges)
    assert fragment in str(excinfo.value)


@pytest.mark.parametrize("build", [lambda: ring(0), lambda: chain(-1), lambda: complete(2.0), lambda: complete_bipartite(0, 3)])
def test_builders_reject_bad_sizes(build) -> None:
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        build()


def test_graph_value_semantics() -> None:
    assert from_edges(3, [(1, 0), (2, 1)]) == chain(3) and hash(from_edges(3, [(1, 0), (2, 1)])) == hash(chain(3))
    assert chain(3) != ring(3)
    with pytest.raises(ValueError, match=r"node 5 is not in 0\.\.2"):
        chain(3).neighbors(5)


def test_chain_plus_random_edges_as_in_paper_002() -> None:
    graph = chain_plus_random_edges(10, 20, seed=0)
    assert graph.num_nodes == 10 and graph.num_edges == 29  # 9 chain edges + 20 distinct extras
    assert all(graph.has_edge(i, i + 1) for i in range(9))
    assert len(set(graph.edges)) == 29 and graph.is_connected()
    assert chain_plus_random_edges(10, 20, seed=0) == graph
    assert len({chain_plus_random_edges(10, 20, seed=s) for s in range(5)}) > 1
    assert chain_plus_random_edges(6, 10, seed=1) == complete(6)  # every one of the 10 off-chain pairs
    assert chain_plus_random_edges(5, 0, seed=1) == chain(5)
    with pytest.raises(ValueError, match=r"extra must be in 0..36 for n=10"):
        chain_plus_random_edges(10, 37, seed=0)


# ----------------------------------------------------------------------------------------------------------------
# Mixing matrices
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", [*RANDOM_GRAPHS, ring(5), star(5), chain(4), complete_bipartite(2, 3), Graph(3)])
@pytest.mark.parametrize("lazy", [False, True])
def test_metropolis_weights_entrywise(graph: Graph, lazy: bool) -> None:
    w = metropolis_weights(graph, lazy=lazy)
    n, scale = graph.num_nodes, 0.5 if lazy else 1.0
    deg = {i: sum(i in e for e in graph.edges) for i in range(n)}
    for i, j in itertools.product(range(n), repeat=2):
        if i != j:
            expected = scale / max(deg[i], deg[j]) if (min(i, j), max(i, j)) in graph.edges else 0.0
            assert w[i, j] == pytest.approx(expected, abs=1e-15)
    np.testing.assert_allclose(w, w.T, atol=0)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert w.min() >= 0.0
    if lazy:
        np.testing.assert_allclose(w, 0.5 * (np.eye(n) + metropolis_weights(graph)), atol=1e-15)
        assert np.all(np.diag(w) >= 0.5) and np.linalg.eigvalsh(w).min() >= -1e-12  # positive semidefinite
    validate_mixing_matrix(w, graph)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 9])
def test_lazy_metropolis_ring_spectrum_closed_form(n: int) -> None:
    w = metropolis_weights(ring(n), lazy=True)
    assert np.all(np.diag(w) == 0.5) and w[0, 1] == w[0, n - 1] == 0.25
    expected = np.sort([0.5 + 0.5 * np.cos(2 * np.pi * k / n) for k in range(n)])
    np.testing.assert_allclose(np.linalg.eigvalsh(w), expected, atol=1e-12)
    assert second_largest_eigenvalue_modulus(w) == pytest.approx(0.5 + 0.5 * np.cos(2 * np.pi / n), abs=1e-12)


@pytest.mark.parametrize(("n", "sigma2"), [(2, 0.0), (3, 0.25), (4, 0.5), (6, 0.75)])
def test_lazy_metropolis_ring_matches_the_table_of_paper_003(n: int, sigma2: float) -> None:
    w = metropolis_weights(ring(n), lazy=True)
    assert second_largest_eigenvalue_modulus(w) == pytest.approx(sigma2, abs=1e-12)
    assert np.linalg.svd(w, compute_uv=False)[1] == pytest.approx(sigma2, abs=1e-12)  # sigma_2 as a singular value


@pytest.mark.parametrize("w", [metropolis_weights(g, lazy=lazy) for g in RANDOM_GRAPHS for lazy in (False, True)])
def test_slem_matches_numpy(w: np.ndarray) -> None:
    n = w.shape[0]
    eig = np.sort(np.linalg.eigvalsh(w))
    slem = second_largest_eigenvalue_modulus(w)
    assert slem == pytest.approx(max(abs(eig[-2]), abs(eig[0])), abs=1e-12)
    assert slem == pytest.approx(np.linalg.norm(w - np.full((n, n), 1.0 / n), ord=2), abs=1e-12)


def test_slem_is_one_exactly_when_consensus_fails() -> None:
    disconnected = from_edges(4, [(0, 1), (2, 3)])
    assert second_largest_eigenvalue_modulus(metropolis_weights(disconnected, lazy=True)) == pytest.approx(1.0)
    # K_{a,a} is regular and bipartite: plain Metropolis is A/a with eigenvalue -1; the lazy version halves the gap.
    for a in (2, 3):
        plain, lazy = metropolis_weights(complete_bipartite(a, a)), metropolis_weights(complete_bipartite(a, a), lazy=True)
        np.testing.assert_allclose(plain, complete_bipartite(a, a).adjacency().toarray() / a)
        assert np.linalg.eigvalsh(plain).min() == pytest.approx(-1.0)
        assert second_largest_eigenvalue_modulus(plain) == pytest.approx(1.0)
        assert second_largest_eigenvalue_modulus(lazy) == pytest.approx(0.5)
    assert second_largest_eigenvalue_modulus(np.eye(1)) == 0.0


@pytest.mark.parametrize("n", [3, 5, 8])
def test_metropolis_spectra_of_complete_graph_and_star(n: int) -> None:
    # Complete: W = (J - I)/(n-1) has eigenvalues 1 and -1/(n-1); lazy: 1/2 - 1/(2(n-1)).
    np.testing.assert_allclose(np.linalg.eigvalsh(metropolis_weights(complete(n))), [-1 / (n - 1)] * (n - 1) + [1.0], atol=1e-12)
    lazy_slem = second_largest_eigenvalue_modulus(metropolis_weights(complete(n), lazy=True))
    assert lazy_slem == pytest.approx((n - 2) / (2 * (n - 1)), abs=1e-12)
    # Star: eigenvalues 1, (n-2)/(n-1) with multiplicity n-2, and -1/(n-1) (trace argument).
    expected = np.sort([1.0] + [(n - 2) / (n - 1)] * (n - 2) + [-1 / (n - 1)])
    np.testing.assert_allclose(np.linalg.eigvalsh(metropolis_weights(star(n))), expected, atol=1e-12)


@pytest.mark.parametrize("n", [2, 5])
def test_uniform_weights_average_in_one_step(n: int) -> None:
    w = uniform_weights(complete(n))
    x = np.random.default_rng(0).normal(size=(n, 3))
    np.testing.assert_allclose(w @ x, np.tile(x.mean(axis=0), (n, 1)), atol=1e-14)
    assert second_largest_eigenvalue_modulus(w) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="needs a complete graph"):
        uniform_weights(ring(5))


@pytest.mark.parametrize(("graph", "lazy"), [(ring(6), True), (chain_plus_random_edges(10, 5, seed=3), False), (star(7), True)])
def test_repeated_mixing_converges_at_the_predicted_rate(graph: Graph, lazy: bool) -> None:
    w = metropolis_weights(graph, lazy=lazy)
    slem = second_largest_eigenvalue_modulus(w)
    x = np.random.default_rng(1).normal(size=(graph.num_nodes, 4))
    average = x.mean(axis=0)
    errors = []
    for _ in range(40):
        x = w @ x
        errors.append(np.linalg.norm(x - average))
        np.testing.assert_allclose(x.mean(axis=0), average, atol=1e-12)  # the average is preserved
    errors = np.array(errors)
    assert np.all(errors[1:] <= slem * errors[:-1] + 1e-13)  # contraction bound at every step
    assert errors[-1] / errors[-2] == pytest.approx(slem, rel=1e-3)  # and it is attained asymptotically


@pytest.mark.parametrize(
    ("w", "fragment"),
    [
        (np.ones((2, 3)) / 3, "must be square"),
        (np.array([[0.5, 0.5], [np.nan, 0.5]]), "NaN"),
        (np.array([[0.7, 0.3], [0.4, 0.6]]), "not symmetric: W[0, 1] = 0.3 but W[1, 0] = 0.4"),
        (np.array([[0.5, 0.4], [0.4, 0.5]]), "not doubly stochastic: row 0 sums to 0.9"),
        (np.array([[1.5, -0.5], [-0.5, 1.5]]), "W[0, 1] = -0.5 is negative"),
    ],
)
def test_invalid_mixing_matrices_raise(w: np.ndarray, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_mixing_matrix(w)
    assert fragment in str(excinfo.value)
    with pytest.raises(ValueError):
        second_largest_eigenvalue_modulus(w)


def test_mixing_matrix_must_respect_the_graph() -> None:
    w = metropolis_weights(ring(4), lazy=True)
    with pytest.raises(ValueError, match=r"W\[0, 1\] = 0.25 but \(0, 1\) is not an edge"):
        validate_mixing_matrix(w, from_edges(4, [(0, 3), (1, 2), (2, 3)]))
    with pytest.raises(ValueError, match="4 x 4 but the graph has 5 nodes"):
        validate_mixing_matrix(w, ring(5))
    np.testing.assert_array_equal(validate_mixing_matrix(scipy.sparse.csr_array(w), ring(4)), w)
    np.testing.assert_array_equal(validate_mixing_matrix(np.eye(4), ring(4)), np.eye(4))  # W = I (no mixing) is allowed


def test_consensus_error_brute_force() -> None:
    values = {0: np.array([1.0, 0.0]), 1: np.array([3.0, 0.0]), 2: np.array([2.0, 3.0])}
    mean = np.array([2.0, 1.0])
    expected = max(np.linalg.norm(v - mean) for v in values.values())
    assert consensus_error(values) == pytest.approx(expected)
    assert consensus_error({0: np.ones(3), 1: np.ones(3)}) == 0.0
