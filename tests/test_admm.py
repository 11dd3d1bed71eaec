"""Kronecker/vec identities, the closed-form basis update, and the distributed ADMM of paper 002 (Algorithms 1, 2)."""

import numpy as np
import pytest
import scipy.optimize

from agents.common.communication import LocalCommunicator
from agents.common.graphs import chain, chain_plus_random_edges, from_edges
from agents.lifelong import (
    basis_normal_equations,
    consensus_admm,
    distributed_basis_update,
    distributed_operating_point,
    gamma,
    gauss_seidel_waves,
    mat,
    ridge_basis,
    vec,
)


def random_spd(rng, d, spread=1.0):
    m = rng.standard_normal((d, d)) * np.logspace(0, spread, d)
    return m @ m.T / d + 1e-3 * np.eye(d)


def random_tasks(rng, count, d, p):
    return [(rng.standard_normal(p), random_spd(rng, d), rng.standard_normal(d)) for _ in range(count)]


# ------------------------------------------------------------------------------------------------ identities


def test_vec_is_column_major_and_mat_inverts_it():
    matrix = np.arange(6.0).reshape(2, 3)
    assert vec(matrix).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    np.testing.assert_array_equal(mat(vec(matrix), 2, 3), matrix)
    with pytest.raises(ValueError, match="shape"):
        mat(np.zeros(5), 2, 3)


def test_gamma_kronecker_identities():
    rng = np.random.default_rng(0)
    d, p = 5, 3
    basis, s, h, alpha = rng.standard_normal((d, p)), rng.standard_normal(p), random_spd(rng, d), rng.standard_normal(d)
    g = gamma(s, d)
    np.testing.assert_allclose(g @ vec(basis), basis @ s, atol=1e-12)  # vec(L s) = Gamma vec(L)
    np.testing.assert_allclose(g.T @ h @ g, np.kron(np.outer(s, s), h), atol=1e-12)
    np.testing.assert_allclose(g.T @ h @ alpha, np.kron(s, h @ alpha), atol=1e-12)
    np.testing.assert_allclose(g.T @ h @ alpha, vec(np.outer(h @ alpha, s)), atol=1e-12)


def test_ridge_basis_minimises_the_pg_ella_objective():
    rng = np.random.default_rng(1)
    d, p, mu2 = 4, 3, 0.05
    tasks = random_tasks(rng, 7, d, p)
    a, b = basis_normal_equations(*map(list, zip(*tasks, strict=True)))
    closed = ridge_basis(a, b, len(tasks), mu2, d, p)

    def objective(flat):
        basis = flat.reshape(d, p)
        return sum((al - basis @ s) @ h @ (al - basis @ s) for s, h, al in tasks) / len(tasks) + mu2 * np.sum(flat**2)

    direct = scipy.optimize.minimize(objective, np.zeros(d * p), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(closed, direct.reshape(d, p), atol=1e-5)


# ------------------------------------------------------------------------------------------------ Algorithm 1


def test_gauss_seidel_waves_are_ordered_independent_sets():
    graph = chain_plus_random_edges(10, 20, seed=3)
    waves = gauss_seidel_waves(graph)
    assert sorted(i for w in waves for i in w) == list(range(10))
    position = {i: k for k, w in enumerate(waves) for i in w}
    for i, j in graph.edges:  # every predecessor finishes in an earlier wave
        assert position[i] < position[j]


def test_algorithm1_reaches_the_centralised_operating_point():
    rng = np.random.default_rng(2)
    graph = chain_plus_random_edges(10, 20, seed=0)
    d = 8
    stats = {i: (random_spd(rng, d, spread=1.5), rng.standard_normal(d)) for i in graph.nodes}
    centralised = np.linalg.solve(sum(g for g, _ in stats.values()), sum(v for _, v in stats.values()))
    result = distributed_operating_point(stats, graph, LocalCommunicator(), iterations=300, tol=1e-10)
    for value in result.values.values():
        np.testing.assert_allclose(value, centralised, rtol=0, atol=1e-6 * np.linalg.norm(centralised))
    assert result.consensus_errors[-1] <= 1e-6 * np.linalg.norm(centralised)
    assert result.consensus_errors[-1] < 1e-3 * result.consensus_errors[0]


def test_messages_and_rounds_are_counted_exactly():
    rng = np.random.default_rng(3)
    graph = chain_plus_random_edges(6, 4, seed=1)
    d, iterations = 3, 7
    comm = LocalCommunicator()
    stats = {i: (random_spd(rng, d), rng.standard_normal(d)) for i in graph.nodes}
    distributed_operating_point(stats, graph, comm, iterations=iterations)
    n, e = graph.num_nodes, graph.num_edges
    # all-reduce of Q_i (n(n-1) messages), the initial exchange (2e), then every node to every neighbour per iteration
    assert comm.stats.messages == n * (n - 1) + 2 * e + iterations * 2 * e
    assert comm.stats.rounds == 1 + 1 + iterations * len(gauss_seidel_waves(graph))
    assert comm.stats.bytes == n * (n - 1) * d * d * 8 + (2 * e + iterations * 2 * e) * d * 8


def test_preconditioning_keeps_the_fixed_point_but_is_needed_on_ill_conditioned_nodes():
    rng = np.random.default_rng(4)
    graph = chain_plus_random_edges(10, 20, seed=0)
    d = 6
    stats = {i: (random_spd(rng, d, spread=3.0), rng.standard_normal(d)) for i in graph.nodes}
    centralised = np.linalg.solve(sum(g for g, _ in stats.values()), sum(v for _, v in stats.values()))
    pre = distributed_operating_point(stats, graph, LocalCommunicator(), iterations=100).mean()
    plain = distributed_operating_point(stats, graph, LocalCommunicator(), iterations=100, precondition=False).mean()
    assert np.linalg.norm(pre - centralised) <= 1e-8 * np.linalg.norm(centralised)
    assert np.linalg.norm(plain - centralised) > 1e-3 * np.linalg.norm(centralised)


# ------------------------------------------------------------------------------------------------ Algorithm 2


def test_algorithm2_reaches_the_ridge_solution_of_pg_ella():
    rng = np.random.default_rng(5)
    graph = chain_plus_random_edges(10, 20, seed=0)
    d, p, mu2 = 4, 3, 0.05
    tasks = random_tasks(rng, 50, d, p)
    node_tasks = {i: tasks[5 * i: 5 * i + 5] for i in graph.nodes}  # 5 tasks per node, as in the paper
    a, b = basis_normal_equations(*map(list, zip(*tasks, strict=True)))
    ridge = ridge_basis(a, b, len(tasks), mu2, d, p)
    bases, result = distributed_basis_update(node_tasks, mu2, d, p, graph, LocalCommunicator(), iterations=300, tol=1e-10)
    for basis in bases.values():
        np.testing.assert_allclose(basis, ridge, rtol=0, atol=1e-6 * np.linalg.norm(ridge))
    assert result.consensus_errors[-1] <= 1e-6 * np.linalg.norm(ridge)


@pytest.mark.parametrize("precondition", [True, False])
def test_algorithm2_on_one_node_is_the_pg_ella_update(precondition):
    rng = np.random.default_rng(6)
    d, p, mu2 = 3, 2, 0.1
    tasks = random_tasks(rng, 4, d, p)
    a, b = basis_normal_equations(*map(list, zip(*tasks, strict=True)))
    bases, result = distributed_basis_update({0: tasks}, mu2, d, p, chain(1), LocalCommunicator(), iterations=1,
                                             precondition=precondition)
    np.testing.assert_allclose(bases[0], ridge_basis(a, b, 4, mu2, d, p), atol=1e-12)
    assert result.consensus_errors == [0.0]


def test_bad_inputs_raise_value_errors():
    rng = np.random.default_rng(7)
    stats = {i: (random_spd(rng, 2), rng.standard_normal(2)) for i in range(3)}
    comm = LocalCommunicator()
    with pytest.raises(ValueError, match="connected"):
        distributed_operating_point(stats, from_edges(3, [(0, 1)]), comm)
    with pytest.raises(ValueError, match="rho"):
        distributed_operating_point(stats, chain(3), comm, rho=0.0)
    with pytest.raises(ValueError, match="one entry per graph node"):
        consensus_admm({0: np.eye(2)}, {0: np.zeros(2)}, chain(3), comm)
    with pytest.raises(ValueError, match="iterations"):
        distributed_operating_point(stats, chain(3), comm, iterations=-1)
    with pytest.raises(ValueError, match="mu2"):
        distributed_basis_update({0: []}, -1.0, 2, 1, chain(1), comm)
