"""Wall time and messages/bytes per round of a consensus ``mix`` on ring graphs, in-process against Ray.

For each ring of ``n`` nodes (4 -> 64 by default) every node holds a float64 vector; one round is one
``Communicator.mix`` with Metropolis weights (``2 n`` messages). Both backends run the same rounds, interleaved in
``--repeats`` blocks (the machine may be shared, so the median time per round is reported); the message and byte
counts are read from each communicator's ``stats`` and must agree. Printed per ``n``: messages and bytes per round,
seconds per round on each backend, their ratio, and Ray's extra cost per message, ``(t_ray - t_local) / messages``.
The Ray communicator delivers the same deep copies in the driver as the in-process one (messages between actors
travel as the results and arguments of the worker calls), so the two should cost the same.

Run: ``python benchmarks/ray_overhead.py [--nodes 4,8,16,32,64] [--rounds 20] [--dim 100]`` or
``mtenvs bench ray_overhead`` (needs ``pip install "mtenvs[ray]"``).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from typing import Any

import numpy as np

from agents.common.communication import Communicator, LocalCommunicator, make_communicator
from agents.common.graphs import metropolis_weights, ring


def seconds_per_round(comm: Communicator, values: dict[int, np.ndarray], weights: np.ndarray, rounds: int) -> float:
    """Mean wall time of one ``mix`` round over ``rounds`` rounds (each round mixes the previous result)."""
    start = time.perf_counter()
    for _ in range(rounds):
        values = comm.mix(values, weights)
    return (time.perf_counter() - start) / rounds


def measure(nodes: int, rounds: int, dim: int, repeats: int) -> dict[str, Any]:
    """Median seconds per round on both backends and the per-round counts, for a ring of ``nodes`` nodes."""
    graph = ring(nodes)
    weights = metropolis_weights(graph)
    rng = np.random.default_rng(0)
    values = {i: rng.standard_normal(dim) for i in graph.nodes}
    local, remote = LocalCommunicator(), make_communicator("ray")
    times: dict[str, list[float]] = {"local": [], "ray": []}
    with local, remote:
        for _ in range(repeats):
            times["local"].append(seconds_per_round(local, values, weights, rounds))
            times["ray"].append(seconds_per_round(remote, values, weights, rounds))
        if local.stats.as_dict() != remote.stats.as_dict():
            raise AssertionError(f"ring({nodes}): the backends counted differently")
        total_rounds = local.stats.rounds
        messages, nbytes = local.stats.messages / total_rounds, local.stats.bytes / total_rounds
    t_local, t_ray = statistics.median(times["local"]), statistics.median(times["ray"])
    return {"nodes": nodes, "messages": messages, "bytes": nbytes, "local": t_local, "ray": t_ray,
            "ratio": t_ray / t_local, "overhead_per_message": (t_ray - t_local) / messages}


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit code 1 if Ray is not installed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="4,8,16,32,64", help="ring sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=20, help="mix rounds per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed blocks per backend (median)")
    parser.add_argument("--dim", type=int, default=100, help="length of each node's float64 vector")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("ray") is None:
        print('this benchmark needs Ray: pip install "mtenvs[ray]"')
        return 1
    from agents.common.ray_backend import ray_session

    sizes = [int(n) for n in args.nodes.split(",")]
    with ray_session():
        rows = [measure(n, args.rounds, args.dim, args.repeats) for n in sizes]
    print(f"consensus mix on ring graphs, {args.dim} float64 per node, median of {args.repeats} x {args.rounds} rounds")
    print(f"{'nodes':>5} {'msgs/round':>10} {'bytes/round':>11} {'local ms/round':>14} {'ray ms/round':>12} "
          f"{'ray/local':>9} {'ray extra us/msg':>16}")
    for r in rows:
        print(f"{r['nodes']:>5} {r['messages']:>10.0f} {r['bytes']:>11.0f} {1e3 * r['local']:>14.3f} "
              f"{1e3 * r['ray']:>12.3f} {r['ratio']:>9.1f} {1e6 * r['overhead_per_message']:>16.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
