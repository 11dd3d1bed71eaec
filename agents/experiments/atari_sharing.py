"""Paper 000 §4: lifelong DQN + EWC agents sharing replay buffers on Atari; isolated agent vs N sharing agents.

Each of N agents learns its own random permutation of M = 10 games drawn from the 20-game pool (``ten_of_twenty``),
one game per synchronous round (RAM observations, full 18-action space, ALE v5 settings). Before a game an agent
trains its SimNet from the shared start and queries the hub; if a peer already learned a matching game it loads that
peer's Q-network weights and replay buffer, replays the buffer offline, and continues online (Scenario 2), else it
learns from scratch (Scenario 1). Every agent gets the same own-frame budget per game, so rewards are compared at
equal budget. N = 1 is the isolated agent (no SimNet, no sharing).

Per seed a similarity unit first trains ``calibration_seeds`` SimNets per game, stores the first and matches the
others (held-out checks): the confusion matrix, for the paper's Euclidean parameter distance and for the
first-layer input profile; τ is half the median distance between stored SimNets of different games. The system
units then report: the normalized agent reward (random = 0 from the family's random scores, isolated = 1, per task,
averaged over tasks and agents; also the aggregate summed over agents) and its slope against N beside the paper's
0.88·N; frames to reach 20/40/60/80/99 % of the isolated agent's reward (running mean of training-episode returns);
how often agents borrowed and whether the lender had learned the same game; and the bytes moved.

Scale: ``full`` is the paper's protocol (M = 10, N ∈ {1, 3, 5, 10, 20}) with budgets cut to fit 2 CPU cores:
5,000 own agent steps per game (paper: "≥ 10,000 frames"), 2,000-step SimNets (paper: 10,000
frames), 1,000 offline replay updates on a borrowed buffer, 2 seeds. Per seed that is 1.95M learner steps
(39 agent sequences × 10 games × 5k), 0.82M SimNet steps and ≈ 0.4M offline updates: at the measured 630 learner
steps/s (EWC-DQN, 256-256 MLP, incl. consolidation), 1,200 SimNet steps/s and 475 offline updates/s on one core,
about 1.3 h per seed, 2.6 h in all (units run one after another).
The published run (``docs/results/000-atari-sharing``) is smaller than ``full``: the full protocol with
``--set steps_per_task=4000 --set simnet_steps=1500 --set seeds=1`` (4,000 own agent steps per game, 1,500-step
SimNets, one seed; 52 minutes), recorded as its overrides. With one seed its per-seed estimates carry no interval,
so their verdicts are inconclusive (the SimNet accuracy, a count over every game, is judged); ``full`` as declared
here (5,000 steps, 2,000-step SimNets, 2 seeds) has not been run.
Random scores (the 0 of the normalization) are measured here, ``random_episodes`` uniformly random episodes per game
under the experiment's own episode cap, since the family's table (``random_source="family"``,
``mtenvs.atari.scores.MEASURED_RANDOM_SCORES``) holds episodes of up to 27,000 steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from annotated_types import MinLen

from agents.common.communication import Backend
from mtenvs.core.seeding import stable_seed
from mtenvs.progress import ProgressOptions
from mtenvs.runner import (
    Claim,
    Count,
    Experiment,
    Fraction,
    NonNegative,
    NonNegativeInt,
    Positive,
    Unit,
    UnitContext,
    UnitRecord,
    UnitResult,
    mean_ci,
    register,
)

THRESHOLDS = (0.2, 0.4, 0.6, 0.8, 0.99)
METRIC_NAMES = ("parameters", "input_profile")


@dataclass(frozen=True)
class Config:
    """Games, budgets, learner and sharing settings (the paper leaves the agents' DQN unspecified; these are our defaults)."""

    seeds: Count = 2
    agents: Annotated[tuple[Count, ...], MinLen(1)] = (1, 3, 5, 10, 20)
    num_games: Count = 10
    games: tuple[str, ...] = ()
    steps_per_task: Count = 5_000
    simnet_steps: NonNegativeInt = 2_000
    calibration_seeds: Count = 3
    similarity_metric: str = "input_profile"
    tau: float = 0.0
    offline_steps: NonNegativeInt = 1_000
    buffer_cap: Count = 50_000
    buffer_size: Count = 10_000  # holds a whole task (steps_per_task); 20 agents' buffers stay in memory
    learning_starts: NonNegativeInt = 500
    learning_rate: Positive = 5e-4
    exploration_fraction: Fraction = 0.2
    target_update_interval: Count = 500
    ewc_lambda: NonNegative = 100.0
    fisher_samples: Count = 1_000
    max_episode_steps: Count = 2_000
    reward_window: Count = 5
    random_source: str = "measured"  # "measured": at max_episode_steps here; "family": the family's table
    random_episodes: Count = 5
    backend: Backend = "local"  # where agents and the hub run: in process or one Ray actor each; same results either way


def _games(cfg: Config, seed: int) -> list[str]:
    from agents.sharing.envs import ten_of_twenty

    games = list(cfg.games) if cfg.games else ten_of_twenty(seed)
    return games[: cfg.num_games]


def _simnet_config(cfg: Config) -> Any:
    from agents.sharing.simnet import SimNetConfig

    return SimNetConfig(steps=cfg.simnet_steps, learning_starts=max(1, cfg.simnet_steps // 10),
                        target_update_interval=max(1, cfg.simnet_steps // 20), max_episode_steps=cfg.max_episode_steps)


def _learner(cfg: Config) -> Any:
    from agents.sharing.agent import LearnerConfig

    return LearnerConfig(steps_per_task=cfg.steps_per_task, learning_rate=cfg.learning_rate, buffer_size=cfg.buffer_size,
                         learning_starts=cfg.learning_starts, exploration_fraction=cfg.exploration_fraction,
                         target_update_interval=cfg.target_update_interval, ewc_lambda=cfg.ewc_lambda,
                         fisher_samples=cfg.fisher_samples, buffer_cap=cfg.buffer_cap, offline_steps=cfg.offline_steps,
                         max_episode_steps=cfg.max_episode_steps, reward_window=cfg.reward_window)


def units(cfg: Config) -> list[Unit]:
    """Per seed, one chain: the similarity calibration, then one system run per N (N = 1 is the isolated agent)."""
    from agents.sharing.simnet import METRICS

    if cfg.similarity_metric not in METRICS:
        raise ValueError(f"similarity_metric must be one of {METRICS}, got {cfg.similarity_metric!r}")
    if cfg.calibration_seeds < 2:
        raise ValueError(f"calibration_seeds must be >= 2 (one stored, the rest held out), got {cfg.calibration_seeds}")
    if cfg.random_source not in ("measured", "family"):
        raise ValueError(f"random_source must be 'measured' or 'family', got {cfg.random_source!r}")
    if 1 not in cfg.agents:
        raise ValueError(f"agents must include 1 (the isolated agent that normalizes the reward), got {cfg.agents}")
    out = []
    for s in range(cfg.seeds):
        out.append(Unit({"seed": s, "part": "similarity", "agents": 0}, chain=f"seed={s}"))
        out += [Unit({"seed": s, "part": "system", "agents": n}, chain=f"seed={s}") for n in cfg.agents]
    return out


def _random_score(game: str, episodes: int, max_steps: int, seed: int) -> float:
    from agents.sharing.envs import make_game_env

    env = make_game_env(game, seed=seed, max_episode_steps=max_steps)
    total = []
    for _ in range(episodes):
        env.reset()
        ret, done = 0.0, False
        while not done:
            _, r, terminated, truncated, _ = env.step(env.action_space.sample())
            ret, done = ret + float(r), terminated or truncated
        total.append(ret)
    env.close()
    return float(np.mean(total))


def _similarity(cfg: Config, games: list[str], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    from agents.sharing.envs import random_scores
    from agents.sharing.simnet import SimilarityMatcher, SimNet, confusion_matrix

    net = SimNet(_simnet_config(cfg))
    simnets = {g: [net.fit(g, stable_seed("calibration", seed, g, k) % 2**31) for k in range(cfg.calibration_seeds)]
               for g in games}
    stored = {g: ps[:1] for g, ps in simnets.items()}
    held = {g: ps[1:] for g, ps in simnets.items()}
    metrics: dict[str, Any] = {"games": games}
    taus = {}
    for name in METRIC_NAMES:
        matcher = SimilarityMatcher(None, name, net.initial_parameters)  # type: ignore[arg-type]
        taus[name] = matcher.calibrate([ps[0] for ps in stored.values()], games) if len(games) > 1 else 0.0
        if cfg.tau > 0 and name == cfg.similarity_metric:
            matcher.tau = taus[name] = cfg.tau
        _, counts = confusion_matrix(stored, held, matcher)
        nearest = SimilarityMatcher(None, name, net.initial_parameters)  # type: ignore[arg-type]
        _, nn_counts = confusion_matrix(stored, held, nearest)
        metrics[name] = {"tau": taus[name], "confusion": counts.tolist(),
                         "accuracy": float(np.trace(counts[:, : len(games)]) / counts.sum()),
                         "nearest_accuracy": float(np.trace(nn_counts[:, : len(games)]) / nn_counts.sum())}
    family = random_scores() if cfg.random_source == "family" else {}
    rand = {g: family[g] if g in family else _random_score(g, cfg.random_episodes, cfg.max_episode_steps,
                                                           stable_seed("random", seed, g) % 2**31) for g in games}
    metrics["random_scores"] = rand
    metrics["random_source"] = {g: "family" if g in family else "measured" for g in games}
    state = {"games": games, "tau": taus[cfg.similarity_metric], "init": net.initial_parameters, "random": rand}
    return metrics, state


def _system(cfg: Config, n: int, state: dict[str, Any], seed: int,
            progress: bool | ProgressOptions = False) -> dict[str, Any]:
    from agents.sharing.simnet import SimilarityMatcher
    from agents.sharing.system import SharingSystem

    sharing = n > 1
    matcher = SimilarityMatcher(state["tau"], cfg.similarity_metric, state["init"]) if sharing else None  # type: ignore[arg-type]
    system = SharingSystem(state["games"], n, _learner(cfg), None, _simnet_config(cfg) if sharing else None, matcher,
                           sharing=sharing, seed=seed, backend=cfg.backend)
    try:
        records = system.learn(len(system.games), progress_bar=progress).records
        stats = system.comm.stats
    finally:
        system.close()
    return {"records": [r.as_dict() for r in records], "comm_rounds": stats.rounds, "comm_bytes": stats.bytes,
            "comm_bytes_per_agent": stats.bytes / n}


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> UnitResult:
    """The similarity calibration (first unit of a seed) or one system run for N agents."""
    import torch

    torch.set_num_threads(1)
    seed = int(unit.params["seed"])
    system_seed = stable_seed("000-atari-sharing", ctx.run_seed, seed) % 2**31
    if unit.params["part"] == "similarity":
        metrics, state = _similarity(cfg, _games(cfg, system_seed), system_seed)
        return UnitResult(metrics, state=state)
    state = ctx.state
    return UnitResult(_system(cfg, int(unit.params["agents"]), state, system_seed, ctx.progress), state=state)


def _threshold_frames(record: dict[str, Any], target: float, window: int, budget: int) -> float:
    from agents.sharing.metrics import frames_to_reach

    hit = frames_to_reach(record["curve_frames"], record["curve_returns"], target, window)
    return float(budget if hit is None else hit)  # not reached within the budget: counted as the whole budget


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """Normalized agent reward per N and its slopes, frames to thresholds, borrowing, similarity, communication."""
    from agents.sharing.metrics import normalized_reward, slope

    similarity = {r.params["seed"]: r.metrics for r in records if r.params["part"] == "similarity"}
    systems = [r for r in records if r.params["part"] == "system"]
    isolated = {(r.params["seed"], t["game"]): t["final_reward"]
                for r in systems if r.params["agents"] == 1 for t in r.metrics["records"]}
    per_n: dict[str, Any] = {}
    ar_points, sum_points = [], []
    seed_frames: dict[int, dict[int, list[float]]] = {}  # frames to the isolated reward per seed, N and task
    seed_sums: dict[int, list[tuple[int, float]]] = {}  # (N, aggregate normalized reward) per seed
    for n in sorted({int(r.params["agents"]) for r in systems}):
        norm_all, agent_means, borrowed, correct, bytes_ = [], [], [], [], []
        frames = {x: [] for x in THRESHOLDS}
        for r in (r for r in systems if r.params["agents"] == n):
            seed = r.params["seed"]
            rand = similarity.get(seed, {}).get("random_scores", {})
            by_agent: dict[int, list[float]] = {}
            run_norm = []
            for t in r.metrics["records"]:
                iso, r0 = isolated.get((seed, t["game"]), float("nan")), rand.get(t["game"], float("nan"))
                value = normalized_reward(t["final_reward"], r0, iso)
                run_norm.append(value)
                by_agent.setdefault(t["agent"], []).append(value)
                borrowed.append(t["borrowed"])
                if t["borrowed"]:
                    correct.append(t["source_game"] == t["game"])
                if np.isfinite(value) and iso > r0:
                    for x in THRESHOLDS:
                        frames[x].append(_threshold_frames(t, r0 + x * (iso - r0), cfg.reward_window, cfg.steps_per_task))
                    seed_frames.setdefault(seed, {}).setdefault(n, []).append(frames[THRESHOLDS[-1]][-1])
            seed_means = [float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for v in by_agent.values()]
            agent_means.append(float(np.nansum(seed_means)))
            bytes_.append(r.metrics["comm_bytes_per_agent"])
            norm_all += run_norm
            finite = [v for v in run_norm if np.isfinite(v)]
            ar_points.append((n, float(np.mean(finite)) if finite else float("nan")))
            sum_points.append((n, agent_means[-1]))
            seed_sums.setdefault(seed, []).append(sum_points[-1])
        finite = [v for v in norm_all if np.isfinite(v)]
        per_n[str(n)] = {
            "normalized_ar": mean_ci(finite).to_json(),
            "aggregate_ar": mean_ci(agent_means).to_json(),
            "tasks_normalized": len(finite), "tasks": len(norm_all),
            "borrow_rate": float(np.mean(borrowed)) if borrowed else 0.0,
            "borrow_correct": float(np.mean(correct)) if correct else None,
            "frames_to_threshold": {f"{round(100 * x)}%": (float(np.mean(v)) if v else None)
                                    for x, v in frames.items()},
            "comm_bytes_per_agent": float(np.mean(bytes_)) if bytes_ else 0.0,
        }
    iso_frames = per_n.get("1", {}).get("frames_to_threshold", {}).get("99%")
    sharing_frames = [per_n[k]["frames_to_threshold"]["99%"] for k in per_n if k != "1"]
    sharing_frames = [f for f in sharing_frames if f is not None]
    sims = list(similarity.values())
    out: dict[str, Any] = {
        "ar_slope": slope([p[0] for p in ar_points], [p[1] for p in ar_points]),
        "aggregate_ar_slope": slope([p[0] for p in sum_points], [p[1] for p in sum_points]),
        "frames_to_isolated_reward_isolated": iso_frames,
        "frames_to_isolated_reward_sharing": float(np.mean(sharing_frames)) if sharing_frames else None,
        "sharing_reaches_isolated_reward_faster": (bool(np.mean(sharing_frames) < iso_frames)
                                                   if sharing_frames and iso_frames is not None else None),
        "borrow_correct": (float(np.mean([v["borrow_correct"] for k, v in per_n.items()
                                          if k != "1" and v["borrow_correct"] is not None]))
                           if any(k != "1" and v["borrow_correct"] is not None for k, v in per_n.items()) else None),
        "per_agents": per_n,
    }
    for name in METRIC_NAMES:
        if sims:
            out[f"similarity_accuracy_{name}"] = float(np.mean([s[name]["accuracy"] for s in sims]))
            out[f"similarity_nearest_accuracy_{name}"] = float(np.mean([s[name]["nearest_accuracy"] for s in sims]))
            out[f"confusion_{name}"] = {"games": sims[0]["games"], "counts": sims[0][name]["confusion"],
                                        "tau": sims[0][name]["tau"]}
    out["similarity_accuracy"] = out.get(f"similarity_accuracy_{cfg.similarity_metric}")
    out |= _per_seed_checks(seed_sums, seed_frames)
    return out


def _per_seed_checks(seed_sums: dict[int, list[tuple[int, float]]],
                     seed_frames: dict[int, dict[int, list[float]]]) -> dict[str, Any]:
    """The paper's two scaling claims as one value per seed, with their intervals over seeds: the slope of the
    aggregate normalized reward against N, and the frames a sharing agent needs to reach its isolated reward minus
    the frames an isolated agent needs (mean over the tasks of each N > 1, then over N)."""
    from agents.sharing.metrics import slope

    slopes = [slope([p[0] for p in points], [p[1] for p in points]) for points in seed_sums.values()]
    faster = []
    for frames in seed_frames.values():
        sharing = [float(np.mean(v)) for n, v in frames.items() if n != 1 and v]
        if frames.get(1) and sharing:
            faster.append(float(np.mean(sharing)) - float(np.mean(frames[1])))
    return {"aggregate_ar_slope_per_seed": mean_ci([v for v in slopes if v is not None]).to_json(),
            "sharing_minus_isolated_frames": mean_ci(faster).to_json()}


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Normalized AR against N (mean and aggregate, with the paper's 0.88·N), and frames to each threshold against N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_n = summary["per_agents"]
    ns = sorted(int(k) for k in per_n)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(ns, [per_n[str(n)]["normalized_ar"]["mean"] for n in ns], marker="o", label="mean over agents and tasks")
    left.plot(ns, [per_n[str(n)]["aggregate_ar"]["mean"] for n in ns], marker="s", label="aggregate (sum over agents)")
    left.plot(ns, [0.88 * n for n in ns], ls="--", color="grey", label="paper: 0.88·N")
    left.set_xlabel("agents N (1 = isolated)")
    left.set_ylabel("normalized agent reward")
    left.legend(fontsize=8)
    left.set_title("Agent reward vs N (Fig. 1a)", fontsize=9)
    for label in per_n[str(ns[0])]["frames_to_threshold"]:
        values = [per_n[str(n)]["frames_to_threshold"][label] for n in ns]
        right.plot(ns, [np.nan if v is None else v for v in values], marker="o", label=label)
    right.set_xlabel("agents N (1 = isolated)")
    right.set_ylabel("own frames (agent steps) to reach x% of isolated")
    right.set_title("Frames to reach the isolated agent's reward (Fig. 2)", fontsize=9)
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure


register(Experiment(
    name="000-atari-sharing",
    title="Deep experience sharing on Atari: normalized reward and frames to the isolated reward vs N (paper 000 §4)",
    paper="000",
    config=Config,
    sizes={"quick": {"seeds": 1, "agents": (1, 2), "num_games": 3, "games": ("Boxing", "Freeway", "Breakout"),
                     "steps_per_task": 300, "simnet_steps": 300, "calibration_seeds": 2, "offline_steps": 50,
                     "buffer_size": 1_000, "buffer_cap": 1_000, "learning_starts": 100, "target_update_interval": 100,
                     "fisher_samples": 100, "max_episode_steps": 100, "reward_window": 2, "random_episodes": 1},
           "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[Claim("aggregate_ar_slope_per_seed", 0.88, "close", tolerance=0.25,
                  source="§4: 'a 0.88N scaling on the reward' (slope per seed)"),
            Claim("sharing_minus_isolated_frames", 0.0, "at_most",
                  source="§4, Fig. 1b/2: sharing agents reach the isolated reward in fewer frames (sharing minus "
                         "isolated, per seed)"),
            Claim("similarity_accuracy", 1.0, "at_least", exact=True,
                  source="§4: SimNet matches each game to its own (the fraction matched, every seed)")],
    plot=plot,
))
