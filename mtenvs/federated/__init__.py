"""Federated-aggregation family (registration only)."""

from mtenvs.core.registry import register_env, register_family

register_family("FedAggregation", "mtenvs.federated.env:FAMILY")
register_env(
    "FedAggregation",
    "FedAggregation",
    entry_point="mtenvs.federated.env:FedAggregationEnv",
    vector_entry_point="mtenvs.federated.env:FedAggregationVectorEnv",
)
