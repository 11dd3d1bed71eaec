"""The two challenge examples of paper 003 (§2.2, Fig. 1, App. A) with exact values and exact-gradient DCPG.

Challenge 1 (the "reversed" chain, gamma = 0.9): the best common policy plays L with probability 1/2 in S3 and is
worth ``2 gamma / (2 - gamma^2)``; every deterministic policy is worth at most ``gamma``. DCPG with two agents
(``W = 11^T / 2``, alpha = 0.1, lambda = 1e-4) finds the randomized optimum; each single-agent policy (SA-i, W = I)
is deterministic in effect and scores about ``gamma`` on the two tasks together.

Challenge 2 (the "stochastic" chain, p = 0.8, gamma = sqrt(1/2)): always-L and always-R are the global maxima and the
uniform policy is a stationary point that is the global minimum. DCPG started at theta = 0 stays there (the agents'
mirror-image updates cancel in the average); nudged to theta_S3 = (0.1, 0) it escapes to always-L. The paper's printed
sqrt(1/2) simplifications are wrong; the claims below are the values recomputed from its own formulas. Every value
is an exact (deterministic) computation, judged on its value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from annotated_types import Interval

from agents.common.communication import Backend
from agents.dcpg.objective import policy_gradient
from mtenvs.progress import ProgressOptions
from mtenvs.runner import Claim, Count, Experiment, Fraction, NonNegative, Positive, Unit, UnitContext, UnitRecord, register

EXAMPLES = ("challenge1", "challenge2")


@dataclass(frozen=True)
class Config:
    """Discounts, step sizes and iteration budgets of both examples."""

    gamma1: Annotated[float, Interval(gt=0, lt=1)] = 0.9
    alpha1: Positive = 0.1
    lam1: NonNegative = 1e-4
    iterations1: Count = 20_000
    gamma2: Annotated[float, Interval(gt=0, lt=1)] = math.sqrt(0.5)
    p: Fraction = 0.8
    alpha2: Positive = 0.1
    iterations2: Count = 30_000
    nudge: float = 0.1
    log_interval: Count = 100
    backend: Backend = "local"  # how nodes exchange messages (`mtenvs run ... --backend ray`); same results either way


def units(cfg: Config) -> list[Unit]:
    """One unit per example (everything is exact and deterministic, so there are no seeds)."""
    return [Unit({"example": name}) for name in EXAMPLES]


def _s3_policy(q: float) -> np.ndarray:
    return np.array([[0.5, 0.5], [1.0, 0.0], [q, 1.0 - q], [1.0, 0.0], [0.5, 0.5]])


def _train(tasks: list[Any], alpha: float, lam: float, gamma: float, iterations: int, log_interval: int,
           weights: str = "lazy-metropolis", theta0: Any = None, backend: str = "local",
           progress: bool | ProgressOptions = False) -> tuple[Any, list[list[float]]]:
    """Exact DCPG on the two tasks; returns the agent and ``[iteration, pi(L|S3) of theta_bar]`` every log interval."""
    from agents.dcpg import TabularDCPG

    with TabularDCPG(tasks, "ring", weights, alpha=alpha, lam=lam, gamma=gamma, theta0=theta0, backend=backend) as agent:
        trace = [[0, float(agent.policy()[2, 0])]]

        def record(a: TabularDCPG, _: Any) -> None:
            if a.iteration % log_interval == 0:
                trace.append([a.iteration, float(a.policy()[2, 0])])

        if iterations > 0:
            agent.learn(iterations, callback=record, log_interval=iterations, progress_bar=progress)
    return agent, trace


def challenge1(cfg: Config, progress: bool | ProgressOptions = False) -> dict[str, Any]:
    """Exact values of the reversed chain, DCPG and the single-agent baselines."""
    import mtenvs

    family = mtenvs.family("ConflictChain")
    tasks = list(family.task_set("challenge1"))
    models = [family.model(t, cfg.gamma1) for t in tasks]
    grid = np.linspace(0.0, 1.0, 201)
    curve = [sum(m.value(_s3_policy(q)) for m in models) for q in grid]
    deterministic = max(sum(m.value(np.eye(2)[list(a)]) for m in models) for a in np.ndindex(2, 2, 2, 2, 2))
    theta0 = [[0, 0], [0, 0], [1, 0], [0, 0], [0, 0]]  # a start off the symmetric point (our choice)
    dcpg, trace = _train(tasks, cfg.alpha1, cfg.lam1, cfg.gamma1, cfg.iterations1, cfg.log_interval, theta0=theta0,
                         backend=cfg.backend, progress=progress)
    single, _ = _train(tasks, cfg.alpha1, cfg.lam1, cfg.gamma1, cfg.iterations1, cfg.iterations1, "identity", theta0,
                       cfg.backend, progress)
    sa_joint = [single.evaluate(single.theta[i]).joint_objective for i in range(2)]
    return {
        "optimum_formula": 2 * cfg.gamma1 / (2 - cfg.gamma1**2), "optimum_grid": float(max(curve)),
        "argmax_q": float(grid[int(np.argmax(curve))]), "deterministic_best": float(deterministic),
        "dcpg_value": dcpg.evaluate().joint_objective, "dcpg_pi_left_s3": float(dcpg.policy()[2, 0]),
        "dcpg_pi_left_s2": float(dcpg.policy()[1, 0]), "dcpg_consensus_error": dcpg.consensus_error(),
        "sa_joint": sa_joint, "curve_q": grid.tolist(), "curve_value": curve, "trace": trace,
    }


def challenge2(cfg: Config, progress: bool | ProgressOptions = False) -> dict[str, Any]:
    """Exact values at the three stationary points, and DCPG from the bad one and from a nudge away from it."""
    import mtenvs

    family = mtenvs.family("ConflictChain")
    tasks = [family.task(variant="stochastic", task=k, p=cfg.p) for k in (1, 2)]
    models = [family.model(t, cfg.gamma2) for t in tasks]
    grid = np.linspace(0.0, 1.0, 201)
    curve = [sum(m.value(_s3_policy(q)) for m in models) for q in grid]
    gradient = sum(policy_gradient(m, np.zeros((5, 2))) for m in models)
    # From theta = 0 with alpha = 1 (Sec. 2.2: the uniform policy is a stationary point); a tenth of the budget
    # shows it does not move.
    stuck, stuck_trace = _train(tasks, 1.0, 0.0, cfg.gamma2, cfg.iterations2 // 10, cfg.log_interval,
                                 backend=cfg.backend, progress=progress)
    nudge = [[0, 0], [0, 0], [cfg.nudge, 0], [0, 0], [0, 0]]
    escaped, escaped_trace = _train(tasks, cfg.alpha2, 0.0, cfg.gamma2, cfg.iterations2, cfg.log_interval, theta0=nudge,
                                     backend=cfg.backend, progress=progress)
    return {
        "value_always_right": sum(m.value(_s3_policy(0.0)) for m in models),
        "value_always_left": sum(m.value(_s3_policy(1.0)) for m in models),
        "value_uniform": sum(m.value(_s3_policy(0.5)) for m in models),
        "gradient_norm_at_uniform": float(np.abs(gradient).max()), "argmin_q": float(grid[int(np.argmin(curve))]),
        "stuck_pi_left_s3": float(stuck.policy()[2, 0]), "stuck_consensus_error": stuck.consensus_error(),
        "nudged_pi_left_s3": float(escaped.policy()[2, 0]), "nudged_value": escaped.evaluate().joint_objective,
        "curve_q": grid.tolist(), "curve_value": curve, "stuck_trace": stuck_trace, "nudged_trace": escaped_trace,
    }


def compute(cfg: Config, unit: Unit, ctx: UnitContext) -> dict[str, Any]:
    """Run one example."""
    return (challenge1 if unit.params["example"] == "challenge1" else challenge2)(cfg, ctx.progress)


def aggregate(cfg: Config, records: Sequence[UnitRecord]) -> dict[str, Any]:
    """The scalar metrics of both examples, prefixed ``c1_`` and ``c2_``."""
    summary: dict[str, Any] = {}
    for record in records:
        prefix = "c1_" if record.params["example"] == "challenge1" else "c2_"
        for name, value in record.metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                summary[prefix + name] = value
        if prefix == "c1_":
            summary["c1_best_sa_joint"] = max(record.metrics["sa_joint"])
    return summary


def plot(cfg: Config, records: Sequence[UnitRecord], summary: Any) -> Any:
    """Left: V1 + V2 at S3 against pi(L|S3) for both examples. Right: pi(L|S3) of DCPG's average during training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    by_example = {r.params["example"]: r.metrics for r in records}
    if "challenge1" in by_example:
        m = by_example["challenge1"]
        left.plot(m["curve_q"], m["curve_value"], color="tab:blue", label=f"challenge 1 (gamma={cfg.gamma1:g})")
        left.scatter([0, 1], [m["deterministic_best"]] * 2, color="tab:blue", marker="s", label="deterministic")
        right.plot(*zip(*m["trace"], strict=True), color="tab:blue", label="challenge 1")
    if "challenge2" in by_example:
        m = by_example["challenge2"]
        left.plot(m["curve_q"], m["curve_value"], color="tab:red", label=f"challenge 2 (p={cfg.p:g})")
        right.plot(*zip(*m["stuck_trace"], strict=True), color="tab:red", ls="--", label="challenge 2 from theta=0 (alpha=1)")
        right.plot(*zip(*m["nudged_trace"], strict=True), color="tab:red", label="challenge 2 from a nudge")
    left.set_xlabel("pi(L | S3)")
    left.set_ylabel("V1(S3) + V2(S3)")
    left.legend(fontsize=8)
    right.set_xlabel("iteration")
    right.set_ylabel("pi(L | S3) of the average policy")
    right.legend(fontsize=8)
    figure.suptitle("Paper 003 challenge examples: exact values and exact-gradient DCPG", fontsize=10)
    figure.tight_layout()
    return figure


register(Experiment(
    name="003-dcpg-chains",
    title="Two-task chains: no optimal deterministic policy; a non-optimal stationary point (paper 003, §2.2, App. A)",
    paper="003",
    config=Config,
    sizes={"quick": {"iterations1": 3000, "iterations2": 3000, "log_interval": 50}, "full": {}},
    units=units,
    compute=compute,
    aggregate=aggregate,
    description=__doc__ or "",
    claims=[
        Claim("c1_optimum_grid", 2 * 0.9 / (2 - 0.81), "close", exact=True, tolerance=1e-6, source="§2.2: 2γ/(2−γ²), γ=0.9"),
        Claim("c1_argmax_q", 0.5, "close", exact=True, tolerance=1e-9, source="§2.2: q* = 0.5"),
        Claim("c1_deterministic_best", 0.9, "close", exact=True, tolerance=1e-9, source="§2.2: deterministic policies give γ"),
        Claim("c1_dcpg_value", 2 * 0.9 / (2 - 0.81), "close", exact=True, tolerance=0.005, source="§2.2: the optimum"),
        Claim("c1_dcpg_pi_left_s3", 0.5, "close", exact=True, tolerance=0.01, source="§2.2: randomized optimum"),
        Claim("c2_value_always_right", -0.39284, "close", exact=True, tolerance=1e-4, source="App. A (recomputed)"),
        Claim("c2_value_uniform", -0.56569, "close", exact=True, tolerance=1e-4, source="App. A (recomputed)"),
        Claim("c2_gradient_norm_at_uniform", 0.0, "close", exact=True, atol=1e-15, source="App. A: uniform is stationary"),
        Claim("c2_stuck_pi_left_s3", 0.5, "close", exact=True, tolerance=1e-9, source="§2.2: gradient methods can be trapped"),
        Claim("c2_nudged_pi_left_s3", 0.99, "at_least", exact=True, source="§2.2: a nudge escapes the trap"),
    ],
    plot=plot,
))
