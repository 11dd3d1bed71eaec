"""Scale study: consensus rounds of N agents with a real per-agent workload, in-process against Ray, and a model.

Each agent is a worker (`agents.common.workers`) owning its own ``mtenvs/CartPole-v0`` environment on a task of
its own (the k-th of ``CartPole.sample(N, seed=0)``) and a linear Gaussian policy on ``P`` fixed random tanh
features of the observation (``P`` parameters, ``--params``). One round:

1. ``pool.map(ScalingAgent.play, steps=S)``: every agent plays ``S`` environment steps with its policy and returns its
   parameters after one REINFORCE step (``P`` float64);
2. ``comm.mix(updates, W)``: one consensus step on a ring with Metropolis weights ``W`` through the Communicator
   (``2 N`` messages of ``8 P`` bytes);
3. ``pool.map(ScalingAgent.set, {i: mixed_i})``: every agent takes its mixed parameters.

Both backends run the same rounds, interleaved (the machine may be shared): a `LocalWorkerPool` with a
`LocalCommunicator` (everything in this process, agents one after another) and a Ray pool (one actor per agent,
``checkpoint_every=0``, i.e. no checkpoints during the timed rounds) with a `RayCommunicator`. Reported per
``N`` and ``S``: the median wall time per round over ``--rounds`` rounds after ``--warmup`` rounds, split into the
pool calls (compute, steps 1 and 3), the mix (communication, step 2) and one agent's ``play`` timed inside its
worker (on Ray: the wall time inside the actor, which includes waiting for a core); messages and bytes per round from
`CommStats` (asserted equal on both backends, as are the agents' final parameters, bit for bit); per ``N``: the
extra cost per message of Ray's mix, ``(t_mix_ray - t_mix_local) / messages``, the extra cost per actor call of an
empty method, ``(t_noop_ray - t_noop_local) / N``, and the time of one checkpoint of all ``N`` workers (what the Ray
pool's default ``checkpoint_every=1`` adds after every call).

The prediction model, fitted on these measurements::

    t_round(N, S; K machines x C cores) ~= ceil(N / (K C)) * t_agent(S)          # the agents' compute, in waves
                                          + 2 N * o_call                          # two pool calls of N actor calls
                                          + m(N) * o_msg                          # m(N) = 2 N messages on a ring
                                          + [K > 1] * (b(N) / bandwidth + 2 * rtt)  # links between machines

``t_agent(S)`` is one agent's compute per round, timed inside its worker in process (median over ``N``);
``o_call`` and ``o_msg`` are least-squares fits through the origin of the Ray pool's empty-call times against ``N``
and of Ray's mix times against ``m(N)`` (the in-process model uses the in-process fits and ``K C = 1``). ``b(N)`` is
the mix's bytes per round: the driver receives every agent's update and sends every mixed vector back, which is
the same volume, all of it through the driver's link when the agents sit on other machines. ``bandwidth`` and
``rtt`` are assumptions (``--bandwidth-gbit``, ``--rtt-ms``), not measurements. On a shared two-core machine the
local Ray numbers include the driver's and the actors' contention for the cores; read them as ratios.

Run: ``python -m mtenvs.cli bench ray_scaling [--agents 4,8,16,32,64] [--steps 10,100,1000,3000] [--rounds 5]
[--quick]`` or ``python benchmarks/ray_scaling.py ...`` (needs ``pip install "mtenvs[ray]"``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

import mtenvs
from agents.common.communication import Communicator, LocalCommunicator, make_communicator
from agents.common.graphs import metropolis_weights, ring
from agents.common.workers import WorkerPool, make_worker_pool

ENV_ID = "mtenvs/CartPole-v0"


class ScalingAgent:
    """One agent: its own CartPole task and a linear Gaussian policy ``a ~ N(tanh(s R) . theta, sigma^2)``, clipped.

    Args:
        task: the agent's CartPole task.
        params: ``P``, the number of features and parameters.
        seed: seeds the agent's environment, feature projection and action noise.
        learning_rate: step size of the REINFORCE update.
        sigma: the policy's standard deviation (the action is a force in [-1, 1]).
    """

    def __init__(self, task: Any, params: int, seed: int, learning_rate: float = 0.01, sigma: float = 0.5) -> None:
        if params < 1:
            raise ValueError(f"params must be a positive integer; got {params}")
        self.env = gym.make(ENV_ID, task=task)
        self.rng = np.random.default_rng(seed)
        obs_dim = self.env.observation_space.shape[0]
        self.projection = self.rng.standard_normal((obs_dim, params)) / math.sqrt(obs_dim)
        self.theta = np.zeros(params)
        self.learning_rate, self.sigma = learning_rate, sigma
        self.obs, _ = self.env.reset(seed=seed)

    def play(self, steps: int) -> tuple[np.ndarray, float]:
        """Play ``steps`` steps; return the parameters after one REINFORCE step with rewards-to-go, and the seconds
        this took inside the worker (the driver mixes only the parameters)."""
        start = time.perf_counter()
        gradient = np.zeros_like(self.theta)
        scores: list[np.ndarray] = []
        rewards: list[float] = []
        for _ in range(steps):
            features = np.tanh(self.obs @ self.projection)
            mean = float(features @ self.theta)
            action = mean + self.sigma * float(self.rng.standard_normal())
            scores.append((action - mean) / self.sigma**2 * features)        # grad log pi(a|s) of the Gaussian
            self.obs, reward, terminated, truncated, _ = self.env.step(np.array([np.clip(action, -1.0, 1.0)], np.float32))
            rewards.append(reward)
            if terminated or truncated:
                gradient += _reward_to_go_sum(scores, rewards)
                scores, rewards = [], []
                self.obs, _ = self.env.reset()
        if scores:  # the episode goes on next round; its steps so far count with their rewards so far
            gradient += _reward_to_go_sum(scores, rewards)
        return self.theta + self.learning_rate * gradient / steps, time.perf_counter() - start

    def set(self, theta: np.ndarray) -> None:
        """Take the mixed parameters."""
        self.theta = np.array(theta, dtype=float)

    def noop(self) -> None:
        """Do nothing (measures the cost of a call)."""
        return None


def _reward_to_go_sum(scores: list[np.ndarray], rewards: list[float]) -> np.ndarray:
    """``sum_t score_t * G_t`` with ``G_t`` the sum of the rewards from step t on."""
    to_go = np.cumsum(rewards[::-1])[::-1]
    return np.asarray(scores).T @ to_go


def make_agents(n: int, params: int) -> dict[int, ScalingAgent]:
    """``n`` agents, agent k on the k-th of ``CartPole.sample(n, seed=0)``."""
    tasks = mtenvs.family("CartPole").sample(n, seed=0)
    return {k: ScalingAgent(task, params, seed=k) for k, task in enumerate(tasks)}


# ---------------------------------------------------------------------------------------------- measurement
class Backend:
    """A pool and a communicator of one backend; a round uses the pool's first ``n`` agents (nodes ``0 .. n-1``)."""

    def __init__(self, name: str, pool: WorkerPool, comm: Communicator) -> None:
        self.name, self.pool, self.comm = name, pool, comm
        self.theta: dict[int, np.ndarray] = {}
        self.inside = 0.0  # the last round's mean seconds of play() inside a worker

    def round(self, n: int, steps: int, weights: np.ndarray) -> tuple[float, float]:
        """One consensus round of agents ``0 .. n-1``; (seconds in the pool calls, seconds in the mix)."""
        start = time.perf_counter()
        results = self.pool.map(ScalingAgent.play, nodes=range(n), steps=steps)
        played = time.perf_counter()
        mixed = self.comm.mix({node: update for node, (update, _) in results.items()}, weights)
        mixing = time.perf_counter()
        self.pool.map(ScalingAgent.set, {node: (value,) for node, value in mixed.items()})
        end = time.perf_counter()
        self.theta = mixed
        self.inside = statistics.mean(seconds for _, seconds in results.values())
        return (played - start) + (end - mixing), mixing - played

    def noop_seconds(self, n: int, calls: int) -> float:
        """Median seconds of one ``pool.map(ScalingAgent.noop)`` on agents ``0 .. n-1``."""
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            self.pool.map(ScalingAgent.noop, nodes=range(n))
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def checkpoint_seconds(self, n: int) -> float:
        """Seconds to snapshot agents ``0 .. n-1`` one after another, as a checkpoint of an ``n``-agent pool does."""
        start = time.perf_counter()
        for node in range(n):
            self.pool.snapshot_of(node)
        return time.perf_counter() - start


def _ship_by_value() -> None:
    """Let Ray's workers unpickle `ScalingAgent` when this file was loaded by path (``mtenvs bench``)."""
    import cloudpickle

    module = sys.modules.get(__name__)
    if module is not None and __name__ != "__main__":
        cloudpickle.register_pickle_by_value(module)


def measure(local: Backend, remote: Backend, n: int, steps_grid: Sequence[int], rounds: int,
            warmup: int) -> list[dict[str, Any]]:
    """The rows of ``n`` agents, one per number of steps; both backends run the same rounds, interleaved."""
    weights = metropolis_weights(ring(n))
    noop = {b.name: b.noop_seconds(n, max(rounds, 3)) for b in (local, remote)}
    checkpoint = remote.checkpoint_seconds(n)
    rows = []
    for steps in steps_grid:
        times: dict[str, list[tuple[float, float, float]]] = {"local": [], "ray": []}
        before = {b.name: (b.comm.stats.messages, b.comm.stats.bytes, b.comm.stats.rounds) for b in (local, remote)}
        for r in range(warmup + rounds):
            for backend in (local, remote):
                pool_seconds, mix_seconds = backend.round(n, steps, weights)
                if r >= warmup:
                    times[backend.name].append((pool_seconds, mix_seconds, backend.inside))
        if local.comm.stats.as_dict() != remote.comm.stats.as_dict():
            raise AssertionError(f"N={n}: the backends counted different messages or bytes")
        if any(local.theta[i].tobytes() != remote.theta[i].tobytes() for i in local.theta):
            raise AssertionError(f"N={n}, steps={steps}: the backends' agents ended with different parameters")
        row: dict[str, Any] = {"agents": n, "steps": steps, "noop_local": noop["local"], "noop_ray": noop["ray"],
                               "checkpoint": checkpoint}
        for backend in (local, remote):  # per round; "messages" and "bytes" are the in-process counts
            messages, nbytes, done = before[backend.name]
            done = backend.comm.stats.rounds - done
            suffix = "" if backend is local else "_ray"
            row[f"messages{suffix}"] = (backend.comm.stats.messages - messages) / done
            row[f"bytes{suffix}"] = (backend.comm.stats.bytes - nbytes) / done
        for name, pairs in times.items():
            row[f"pool_{name}"] = statistics.median(p for p, _, _ in pairs)
            row[f"mix_{name}"] = statistics.median(m for _, m, _ in pairs)
            row[f"round_{name}"] = statistics.median(p + m for p, m, _ in pairs)
            row[f"agent_{name}"] = statistics.median(a for _, _, a in pairs)
        rows.append(row)
    return rows


def run(agents: Sequence[int], steps_grid: Sequence[int], rounds: int, warmup: int, params: int) -> list[dict[str, Any]]:
    """Every row: one in-process and one Ray pool of ``max(agents)`` agents (Ray actors start once, ~1-3 s each on a
    small machine), measured at each agent count on their first ``N`` agents."""
    size = max(agents)
    local = Backend("local", make_worker_pool(make_agents(size, params)), LocalCommunicator())
    remote = Backend("ray", make_worker_pool(make_agents(size, params), backend="ray", checkpoint_every=0),
                     make_communicator("ray"))
    try:
        remote.pool.map(ScalingAgent.noop)  # wait until every actor is up
        return [row for n in agents for row in measure(local, remote, n, steps_grid, rounds, warmup)]
    finally:
        remote.pool.close()
        remote.comm.close()


# ------------------------------------------------------------------------------------------------ the model
class Model(NamedTuple):
    """``t_round = ceil(N / (K C)) t_agent(S) + 2 N o_call + m o_msg [+ bytes / bandwidth + 2 rtt if K > 1]``."""

    t_agent: dict[int, float]     # steps -> one agent's compute seconds per round (in process)
    o_call: float                 # seconds per actor call (per agent, per pool call)
    o_msg: float                  # seconds per message of the mix
    bandwidth: float = 1.25e9     # bytes per second between machines (assumed: 10 Gbit/s)
    rtt: float = 2e-4             # seconds of network round trip per pool call (assumed)

    def predict(self, n: int, steps: int, messages: float, nbytes: float, machines: int = 1, cores: int = 1) -> float:
        """Predicted seconds per round for ``n`` agents on ``machines`` x ``cores``."""
        t = math.ceil(n / (machines * cores)) * self.t_agent[steps] + 2 * n * self.o_call + messages * self.o_msg
        if machines > 1:
            t += nbytes / self.bandwidth + 2 * self.rtt
        return t


def _slope_through_origin(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares ``b`` of ``y ~= b x`` (by hand: a one-parameter fit needs no library)."""
    x_, y_ = np.asarray(x, float), np.asarray(y, float)
    return float(x_ @ y_ / (x_ @ x_))


def fit(rows: Sequence[dict[str, Any]], backend: str, bandwidth: float, rtt: float) -> Model:
    """The model of ``backend`` fitted on the measured rows (per-agent compute always from the in-process pool)."""
    t_agent = {s: statistics.median(r["agent_local"] for r in rows if r["steps"] == s)
               for s in sorted({r["steps"] for r in rows})}
    per_n = {r["agents"]: r for r in rows}.values()  # the call costs were measured once per N
    o_call = _slope_through_origin([r["agents"] for r in per_n], [r[f"noop_{backend}"] for r in per_n])
    o_msg = _slope_through_origin([r["messages"] for r in rows], [r[f"mix_{backend}"] for r in rows])
    return Model(t_agent, o_call, o_msg, bandwidth, rtt)


# ------------------------------------------------------------------------------------------------ reporting
def format_table(rows: Sequence[dict[str, Any]], local_model: Model, ray_model: Model, cores: int) -> str:
    """The measured rows with the models' predictions beside them."""
    lines = [f"{'':22} | {'in process, ms per round':^34} | {'Ray, ms per round':^34} |",
             f"{'N':>3} {'steps':>5} {'msgs':>5} {'KB':>6} | {'round':>6} {'pool':>6} {'mix':>6} {'agent':>6} "
             f"{'model':>6} | {'round':>6} {'pool':>6} {'mix':>6} {'agent':>6} {'model':>6} | {'ray/local':>9}"]
    for r in rows:
        n, s = r["agents"], r["steps"]
        local_pred = local_model.predict(n, s, r["messages"], r["bytes"])
        ray_pred = ray_model.predict(n, s, r["messages"], r["bytes"], cores=cores)
        lines.append(
            f"{n:>3} {s:>5} {r['messages']:>5.0f} {r['bytes'] / 1e3:>6.1f} | "
            + " ".join(f"{1e3 * r[f'{k}_local']:>6.1f}" for k in ("round", "pool", "mix", "agent"))
            + f" {1e3 * local_pred:>6.1f} | "
            + " ".join(f"{1e3 * r[f'{k}_ray']:>6.1f}" for k in ("round", "pool", "mix", "agent"))
            + f" {1e3 * ray_pred:>6.1f} | {r['round_ray'] / r['round_local']:>9.2f}")
    return "\n".join(lines)


def format_overheads(rows: Sequence[dict[str, Any]]) -> str:
    """Per N: Ray's extra cost per message and per actor call, and one checkpoint of all workers."""
    lines = [f"{'N':>3} {'ray extra us/msg':>16} {'ray extra us/call':>17} {'checkpoint ms':>13}"]
    for n in sorted({r["agents"] for r in rows}):
        group = [r for r in rows if r["agents"] == n]
        per_msg = statistics.median((r["mix_ray"] - r["mix_local"]) / r["messages"] for r in group)
        per_call = (group[0]["noop_ray"] - group[0]["noop_local"]) / n
        lines.append(f"{n:>3} {1e6 * per_msg:>16.1f} {1e6 * per_call:>17.1f} {1e3 * group[0]['checkpoint']:>13.1f}")
    return "\n".join(lines)


def _cluster(text: str) -> tuple[int, int]:
    machines, _, cores = text.partition("x")
    try:
        value = int(machines), int(cores)
    except ValueError:
        raise argparse.ArgumentTypeError(f"cluster must look like 4x16 (machines x cores); got {text!r}") from None
    if min(value) < 1:
        raise argparse.ArgumentTypeError(f"cluster sizes must be >= 1; got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers; got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1; got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    """Measure, print the tables and the predictions; exit code 1 if Ray is not installed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=_int_list, default=[4, 8, 16, 32, 64], help="agent counts N, comma-separated")
    parser.add_argument("--steps", type=_int_list, default=[10, 100, 1000, 3000], help="environment steps per agent and round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per (N, steps) (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds before them")
    parser.add_argument("--params", type=int, default=128, help="P, parameters per agent (the message: 8 P bytes)")
    parser.add_argument("--cores", type=int, default=2, help="cores of this machine, for the local Ray prediction")
    parser.add_argument("--cluster", type=_cluster, default=(4, 16), help="machines x cores to predict, e.g. 4x16")
    parser.add_argument("--bandwidth-gbit", type=float, default=10.0, help="assumed link bandwidth between machines")
    parser.add_argument("--rtt-ms", type=float, default=0.2, help="assumed network round trip between machines")
    parser.add_argument("--quick", action="store_true", help="N in {2, 4}, steps in {10, 200}, 2 rounds (a smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.steps, args.rounds, args.warmup = [2, 4], [10, 200], 2, 1
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be >= 1 and --warmup >= 0")
    if importlib.util.find_spec("ray") is None:
        print('this benchmark needs Ray: pip install "mtenvs[ray]"')
        return 1
    from agents.common.ray_backend import ray_session

    _ship_by_value()
    load_before = os.getloadavg()[0]
    with ray_session():
        rows = run(args.agents, args.steps, args.rounds, args.warmup, args.params)
    load_after = os.getloadavg()[0]
    bandwidth, rtt = args.bandwidth_gbit * 1e9 / 8, args.rtt_ms * 1e-3
    local_model, ray_model = fit(rows, "local", bandwidth, rtt), fit(rows, "ray", bandwidth, rtt)
    print(f"consensus rounds on a ring, one CartPole agent per node, P = {args.params} parameters per agent; "
          f"median of {args.rounds} rounds after {args.warmup} warm-up; messages, bytes and final parameters equal "
          f"on both backends; load average {load_before:.1f} before, {load_after:.1f} after (cores: {os.cpu_count()})")
    print(format_table(rows, local_model, ray_model, args.cores))
    print()
    print(format_overheads(rows))
    print()
    print(f"model fit: t_agent(steps) = {', '.join(f'{s}: {1e3 * t:.2f} ms' for s, t in local_model.t_agent.items())}; "
          f"per message {1e6 * local_model.o_msg:.1f} us in process, {1e6 * ray_model.o_msg:.1f} us on Ray; "
          f"per actor call {1e6 * local_model.o_call:.1f} us in process, {1e6 * ray_model.o_call:.1f} us on Ray")
    machines, cores = args.cluster
    n = max(args.agents)
    example = next(r for r in rows if r["agents"] == n)
    print(f"prediction for N = {n} on {machines} machines x {cores} cores (assumed {args.bandwidth_gbit:g} Gbit/s, "
          f"{args.rtt_ms:g} ms round trip):")
    for steps in args.steps:
        local = local_model.predict(n, steps, example["messages"], example["bytes"])
        cluster = ray_model.predict(n, steps, example["messages"], example["bytes"], machines, cores)
        print(f"  steps {steps:>5}: {1e3 * cluster:8.1f} ms per round on Ray, against {1e3 * local:8.1f} ms in one "
              f"process (x{local / cluster:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
