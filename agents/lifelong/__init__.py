"""Lifelong policy search (paper 002): linear Gaussian policies, eNAC / REINFORCE, PG, PG-ELLA, GO-MTL and the
distributed ePG-ELLA (Algorithm 1: operating points, Algorithm 2: shared basis, by ADMM over a processor graph, one
worker per processor node)."""

from agents.lifelong.admm import (
    ADMMResult,
    ConsensusNode,
    consensus_admm,
    consensus_error,
    distributed_basis_update,
    distributed_operating_point,
    drive_consensus,
    gauss_seidel_waves,
    node_basis_objective,
)
from agents.lifelong.base import PolicySearchLearner
from agents.lifelong.epg_ella import EPGELLA
from agents.lifelong.estimators import (
    advantages,
    enac_gradient,
    fisher_matrix,
    initial_state_features,
    kl_sized_step,
    reinforce_gradient,
    step_kl,
    trajectory_weights,
    weighted_statistics,
)
from agents.lifelong.go_mtl import GOMTL
from agents.lifelong.kron import basis_normal_equations, gamma, mat, ridge_basis, vec
from agents.lifelong.lasso import reinitialize_zero_columns, weighted_lasso
from agents.lifelong.pg import PG
from agents.lifelong.pg_ella import PGELLA
from agents.lifelong.policy import BatchSampler, LinearGaussianPolicy, Trajectories
from agents.lifelong.workers import ProcessorNode

__all__ = [
    "EPGELLA",
    "GOMTL",
    "PG",
    "PGELLA",
    "ADMMResult",
    "BatchSampler",
    "ConsensusNode",
    "LinearGaussianPolicy",
    "PolicySearchLearner",
    "ProcessorNode",
    "Trajectories",
    "advantages",
    "basis_normal_equations",
    "consensus_admm",
    "consensus_error",
    "distributed_basis_update",
    "distributed_operating_point",
    "drive_consensus",
    "enac_gradient",
    "fisher_matrix",
    "gamma",
    "gauss_seidel_waves",
    "initial_state_features",
    "kl_sized_step",
    "mat",
    "node_basis_objective",
    "reinforce_gradient",
    "reinitialize_zero_columns",
    "ridge_basis",
    "step_kl",
    "trajectory_weights",
    "vec",
    "weighted_lasso",
    "weighted_statistics",
]
