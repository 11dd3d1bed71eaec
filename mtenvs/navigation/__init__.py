"""Navigation task families (registration only)."""

from mtenvs.core.registry import register_env, register_family

register_family("DroneNav", "mtenvs.navigation.drone:FAMILY")
register_env(
    "DroneNav",
    "DroneNav",
    entry_point="mtenvs.navigation.drone:DroneNavEnv",
    vector_entry_point="mtenvs.navigation.drone:DroneNavVectorEnv",
    max_episode_steps=500,
)
