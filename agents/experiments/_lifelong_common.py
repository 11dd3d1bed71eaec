"""Shared by the paper-002 reproductions: the five domains' settings and how each method is built on them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agents.common.communication import Backend
from mtenvs.runner import Count, NonNegative, NonNegativeInt, Positive

#: The paper's domains (family names) in its order, with our latent dimensions (the paper reports none).
LATENT_DIMS = {"SimpleMass": 2, "DoubleMass": 3, "CartPole": 3, "DoubleInvertedPendulum": 4, "Helicopter": 4}
ABBREVIATIONS = {"SimpleMass": "SM", "DoubleMass": "DM", "CartPole": "CP", "DoubleInvertedPendulum": "DIP",
                 "Helicopter": "HC"}
METHODS = ("PG", "PG-ELLA", "GO-MTL", "ePG-ELLA")


@dataclass(frozen=True)
class LearnerSettings:
    """The learners' hyperparameters shared by the paper-002 reproductions (our defaults where the paper is silent);
    each experiment's config adds its budget and the number of ePG-ELLA nodes."""

    trajectories: Count = 50
    horizon: Count = 150
    sigma_input: Positive = 1.0
    step_size: Positive = 0.05
    mu1: NonNegative = float(np.exp(-5))
    mu2: NonNegative = float(np.exp(-5))
    extra_edges: NonNegativeInt = 20
    admm_iterations: Count = 100
    admm_tol: Positive = 1e-8
    operating_point: Literal["consensus", "owner"] = "consensus"
    epg_step: Literal["kl", "rwr"] = "kl"  # ePG-ELLA's operating-point step: KL step_size, or Algorithm 1's own
    epg_basis_rounds: Count = 1  # ePG-ELLA's rounds of (Algorithm 2, LASSO) per iteration (1: the paper's single pass)
    final_window: Count = 10
    backend: Backend = "local"  # where ePG-ELLA's nodes run (`mtenvs run ... --backend ray`); same results either way


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """One BLAS thread while a unit runs: the matrices are tiny, and on a shared machine a second thread only
    spins (measured: ~3x slower ADMM). A no-op when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def setting(domain: str) -> Any:
    """The paper-002 setting of ``domain`` (see `mtenvs.control.paper002`)."""
    from mtenvs.control.paper002 import paper002_setting

    return paper002_setting(domain)


def action_scale(domain: str, task: Any) -> float:
    """Physical input per unit of action (``R = scale^2 I`` in the paper setting's cost)."""
    return float(np.sqrt(setting(domain).cost_matrices(task)[1][0, 0]))


def per_step_optimum(domain: str, tasks: Sequence[Any], horizon: int) -> float | None:
    """Mean exact LQR optimum per step over ``tasks`` (linear domains, full 150-step horizon), else ``None``."""
    from mtenvs.core.family import NoExactOptimum

    if horizon != setting(domain).max_episode_steps:
        return None
    try:
        return float(np.mean([setting(domain).optimal_value(t) for t in tasks]) / horizon)
    except NoExactOptimum:
        return None


def make_learner(method: str, domain: str, tasks: Sequence[Any], cfg: Any, seed: int, comm: Any = None,
                 backend: str = "local") -> Any:
    """A learner of ``method`` on ``tasks`` with the shared hyperparameters of ``cfg``; ePG-ELLA's nodes run on
    ``backend`` (``"local"`` or ``"ray"``: one actor per node) and talk through ``comm`` (default: a communicator of
    ``backend``). Close the learner after use.

    The exploration noise and the input units follow each domain's action scale: ``sigma = cfg.sigma_input /
    scale`` in action units, i.e. the same noise in physical input (newtons) everywhere.
    """
    from agents.lifelong import EPGELLA, GOMTL, PG, PGELLA

    s = setting(domain)
    sigma = cfg.sigma_input / action_scale(domain, tasks[0])
    common = {"n_trajectories": cfg.trajectories, "horizon": cfg.horizon, "sigma": sigma, "step_size": cfg.step_size,
              "env_kwargs": dict(s.kwargs), "evaluate": True, "seed": seed}
    latent = {"latent_dim": LATENT_DIMS[domain], "mu1": cfg.mu1, "mu2": cfg.mu2}
    if method == "PG":
        return PG(s.env_id, tasks, **common)
    if method == "PG-ELLA":
        return PGELLA(s.env_id, tasks, **latent, **common)
    if method == "GO-MTL":
        return GOMTL(s.env_id, tasks, **latent, **common)
    if method == "ePG-ELLA":
        return EPGELLA(s.env_id, tasks, **latent, num_nodes=cfg.nodes, extra_edges=cfg.extra_edges,
                       admm_iterations=cfg.admm_iterations, admm_tol=cfg.admm_tol,
                       operating_point=cfg.operating_point, step=getattr(cfg, "epg_step", "kl"), comm=comm,
                       basis_rounds=getattr(cfg, "epg_basis_rounds", 1), backend=backend, **common)
    raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")


def domain_tasks(domain: str, count: int, split: str = "train", offset: int = 0) -> list[Any]:
    """``count`` tasks of ``split`` starting at ``offset`` (``ValueError`` if the set is too small)."""
    tasks = list(setting(domain).tasks(split))
    if offset + count > len(tasks):
        raise ValueError(f"{domain}: the {split!r} set has {len(tasks)} tasks; asked for {count} from {offset}")
    return tasks[offset: offset + count]
