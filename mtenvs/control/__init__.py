"""Control task families (registration only)."""

from mtenvs.core.registry import register_env, register_family

register_family("CartPole", "mtenvs.control.cartpole:FAMILY")
register_env(
    "CartPole",
    "CartPole",
    entry_point="mtenvs.control.cartpole:CartPoleEnv",
    vector_entry_point="mtenvs.control.cartpole:CartPoleVectorEnv",
    max_episode_steps=500,
)
