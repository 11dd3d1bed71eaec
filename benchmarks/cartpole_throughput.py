"""Steps per second of mtenvs/CartPole-v0 against Gymnasium's CartPole-v1, printed as ratios.

Two comparisons, each run in interleaved rounds in this one process (the machine may be shared, so the
median ratio over rounds is reported beside the per-round numbers):

* single env, both made with ``gym.make`` (full wrapper stack), pre-generated random actions;
* native vector env with 1024 *distinct* tasks against Gymnasium's ``CartPoleVectorEnv`` with 1024 copies of
  one task, both from ``gym.make_vec`` in their default (native) mode.

Run: ``python benchmarks/cartpole_throughput.py [--rounds 5] [--seconds 1.0]`` or ``mtenvs bench``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import mtenvs


def single_env_rate(env: gym.Env, actions: list[Any], seconds: float) -> float:
    """Environment steps per second over ``seconds`` of wall time (resets included)."""
    env.reset(seed=0)
    steps, count = 0, len(actions)
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for i in range(1000):
            _, _, terminated, truncated, _ = env.step(actions[i % count])
            if terminated or truncated:
                env.reset()
        steps += 1000
    return steps / (time.perf_counter() - start)


def vector_env_rate(env: gym.vector.VectorEnv, actions: list[Any], seconds: float) -> float:
    """Sub-environment steps per second over ``seconds`` of wall time (autoreset steps included)."""
    env.reset(seed=0)
    steps, count = 0, len(actions)
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for i in range(50):
            env.step(actions[i % count])
        steps += 50 * env.num_envs
    return steps / (time.perf_counter() - start)


def compare(name: str, ours: Callable[[], float], reference: Callable[[], float], rounds: int) -> dict[str, Any]:
    """Run both measurements ``rounds`` times, interleaved, and print the per-round and median ratios."""
    ratios, ours_rates, reference_rates = [], [], []
    for _ in range(rounds):
        r = reference()
        o = ours()
        reference_rates.append(r)
        ours_rates.append(o)
        ratios.append(o / r)
    median = statistics.median(ratios)
    print(f"{name}: mtenvs {statistics.median(ours_rates):,.0f} steps/s, Gymnasium {statistics.median(reference_rates):,.0f} "
          f"steps/s, ratio {median:.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    return {"name": name, "ratio": median, "ratios": ratios, "ours": ours_rates, "reference": reference_rates}


def run(rounds: int = 5, seconds: float = 1.0, num_envs: int = 1024) -> list[dict[str, Any]]:
    """Both comparisons; returns their results (also printed)."""
    rng = np.random.default_rng(0)
    discrete = [int(a) for a in rng.integers(2, size=1000)]
    continuous = [np.array([2.0 * a - 1.0], dtype=np.float32) for a in discrete]
    reference_env = gym.make("CartPole-v1")
    our_env = gym.make("mtenvs/CartPole-v0")
    results = [compare(
        "single env (gym.make)",
        lambda: single_env_rate(our_env, continuous, seconds),
        lambda: single_env_rate(reference_env, discrete, seconds),
        rounds,
    )]

    tasks = mtenvs.family("CartPole").sample(num_envs, seed=0)
    reference_vec = gym.make_vec("CartPole-v1", num_envs=num_envs)
    our_vec = gym.make_vec("mtenvs/CartPole-v0", num_envs=num_envs, tasks=tasks)
    reference_actions = [rng.integers(2, size=num_envs) for _ in range(16)]
    our_actions = [(2.0 * a - 1.0).astype(np.float32)[:, None] for a in reference_actions]
    results.append(compare(
        f"vector env, {num_envs} distinct tasks vs {num_envs} copies",
        lambda: vector_env_rate(our_vec, our_actions, seconds),
        lambda: vector_env_rate(reference_vec, reference_actions, seconds),
        rounds,
    ))
    return results


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--num-envs", type=int, default=1024, help="sub-envs of the vector comparison")
    args = parser.parse_args(argv)
    run(args.rounds, args.seconds, args.num_envs)


if __name__ == "__main__":
    main()
