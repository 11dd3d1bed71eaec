"""Entity-allocation task families (registration only)."""

from mtenvs.core.registry import register_env, register_family

register_family("EntityAllocation", "mtenvs.entities.allocation:FAMILY")
register_env(
    "EntityAllocation",
    "EntityAllocation",
    entry_point="mtenvs.entities.allocation:EntityAllocationEnv",
    vector_entry_point="mtenvs.entities.allocation:EntityAllocationVectorEnv",
)
