"""Tabular task families with known models: the 10x10 multi-task GridWorld and the two-task chains (registration only)."""

from mtenvs.core.registry import register_env, register_family

register_family("GridWorld", "mtenvs.gridworld.gridworld:FAMILY")
register_env(
    "GridWorld",
    "GridWorld",
    entry_point="mtenvs.gridworld.gridworld:GridWorldEnv",
    vector_entry_point="mtenvs.gridworld.gridworld:GridWorldVectorEnv",
    max_episode_steps=200,
)
register_family("ConflictChain", "mtenvs.gridworld.chains:FAMILY")
register_env(
    "ConflictChain",
    "ConflictChain",
    entry_point="mtenvs.gridworld.chains:ConflictChainEnv",
    vector_entry_point="mtenvs.gridworld.chains:ConflictChainVectorEnv",
    max_episode_steps=100,
)
