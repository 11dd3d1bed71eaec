"""Run time of the shared-basis (L) update as the number of tasks grows: ePG-ELLA (Algorithm 2) vs PG-ELLA.

For ``T`` tasks (10 -> 250) with random coefficients ``s_j``, Hessians ``H_j`` and operating points ``alpha_j`` at
the helicopter's size (``d = 8``, ``p = 4``), one sweep over the tasks costs

* PG-ELLA: ``T`` online updates, each removing and adding the task's ``(s s^T) (x) H`` and solving the
  ``dp x dp`` ridge system (paper 002, "the problems of PG-ELLA");
* PG-ELLA (batch): one centralised ridge solve over all ``T`` tasks (the least PG-ELLA could do per sweep);
* ePG-ELLA: one run of Algorithm 2 on 10 nodes (chain plus 20 random edges, ``T / 10`` tasks each) from a cold
  start to relative tolerance 1e-8: its in-process wall time (every node on this one core, messages copied), and
  its critical path (slowest node's objective build plus, per ADMM wave, the slowest node's step), i.e. the time
  with one processor per node and free messages.

Ratios above 1 mean ePG-ELLA is faster. Run: ``python benchmarks/lifelong_l_update.py [--repeats 3]`` or
``mtenvs bench lifelong_l_update``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Iterator

import numpy as np

from agents.common.communication import LocalCommunicator
from agents.common.graphs import chain_plus_random_edges
from agents.lifelong import basis_normal_equations, distributed_basis_update, node_basis_objective, ridge_basis


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread when threadpoolctl is installed (tiny matrices; a shared machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def random_tasks(rng: np.random.Generator, count: int, d: int, p: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``count`` random ``(s_j, H_j, alpha_j)`` with well-conditioned positive definite ``H_j``."""
    tasks = []
    for _ in range(count):
        m = rng.standard_normal((d, d))
        tasks.append((rng.standard_normal(p), m @ m.T / d + 0.1 * np.eye(d), rng.standard_normal(d)))
    return tasks


def pg_ella_sweep(tasks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], mu2: float, d: int, p: int) -> float:
    """Seconds for one sweep of PG-ELLA's online L updates (every task already in A and b)."""
    a, b = basis_normal_equations(*map(list, zip(*tasks, strict=True)))
    start = time.perf_counter()
    for s, h, alpha in tasks:
        a = a - np.kron(np.outer(s, s), h) + np.kron(np.outer(s, s), h)
        b = b - np.kron(s, h @ alpha) + np.kron(s, h @ alpha)
        ridge_basis(a, b, len(tasks), mu2, d, p)
    return time.perf_counter() - start


def pg_ella_batch(tasks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], mu2: float, d: int, p: int) -> float:
    """Seconds for one centralised ridge solve over all tasks (building A and b included)."""
    start = time.perf_counter()
    a, b = basis_normal_equations(*map(list, zip(*tasks, strict=True)))
    ridge_basis(a, b, len(tasks), mu2, d, p)
    return time.perf_counter() - start


def epg_ella(tasks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], mu2: float, d: int, p: int,
             nodes: int, seed: int) -> tuple[float, float, int]:
    """(wall seconds, critical-path seconds, ADMM iterations) of Algorithm 2 on ``nodes`` nodes."""
    graph = chain_plus_random_edges(nodes, min(20, nodes * (nodes - 1) // 2 - nodes + 1), seed)
    node_tasks = {i: tasks[i::nodes] for i in graph.nodes}
    builds = []
    for i in graph.nodes:  # the per-node objective build, timed alone for the critical path
        tic = time.perf_counter()
        node_basis_objective(node_tasks[i], mu2, d, p)
        builds.append(time.perf_counter() - tic)
    start = time.perf_counter()
    _, result = distributed_basis_update(node_tasks, mu2, d, p, graph, LocalCommunicator(), iterations=500, tol=1e-8)
    return time.perf_counter() - start, max(builds) + result.critical_path_seconds, result.iterations


def run(task_counts: list[int], repeats: int, nodes: int, d: int = 8, p: int = 4, mu2: float = float(np.exp(-5))) -> None:
    """Print one row per task count: median seconds over ``repeats`` and the ratios PG-ELLA / ePG-ELLA."""
    print(f"L update, d={d}, p={p}, {nodes} nodes; median of {repeats} repeats; ratio > 1: ePG-ELLA faster")
    header = ("tasks", "PG-ELLA sweep", "PG-ELLA batch", "ePG wall", "ePG critical", "ADMM its",
              "sweep/ePG-crit", "sweep/ePG-wall", "batch/ePG-crit")
    print("  ".join(f"{h:>14}" for h in header))
    rng = np.random.default_rng(0)
    with one_blas_thread():
        for count in task_counts:
            tasks = random_tasks(rng, count, d, p)
            sweep = statistics.median(pg_ella_sweep(tasks, mu2, d, p) for _ in range(repeats))
            batch = statistics.median(pg_ella_batch(tasks, mu2, d, p) for _ in range(repeats))
            runs = [epg_ella(tasks, mu2, d, p, nodes, seed=r) for r in range(repeats)]
            wall = statistics.median(r[0] for r in runs)
            critical = statistics.median(r[1] for r in runs)
            iterations = int(statistics.median(r[2] for r in runs))
            row = (f"{count}", f"{sweep:.4f}", f"{batch:.4f}", f"{wall:.4f}", f"{critical:.4f}", f"{iterations}",
                   f"{sweep / critical:.2f}", f"{sweep / wall:.2f}", f"{batch / critical:.2f}")
            print("  ".join(f"{v:>14}" for v in row))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 25, 50, 100, 250], help="task counts")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per task count (median reported)")
    parser.add_argument("--nodes", type=int, default=10, help="processor nodes of ePG-ELLA")
    args = parser.parse_args(argv)
    run(args.tasks, args.repeats, args.nodes)


if __name__ == "__main__":
    main()
