"""Atari multi-game family (registration only; ale-py is imported when an environment is first built)."""

from mtenvs.core.registry import register_env, register_family

register_family("AtariTasks", "mtenvs.atari.family:FAMILY")
register_env(
    "AtariTasks",
    "AtariTasks",
    entry_point="mtenvs.atari.env:AtariTasksEnv",
    vector_entry_point="mtenvs.atari.env:AtariTasksVectorEnv",
    max_episode_steps=27_000,  # 108,000 frames at frame skip 4 (mtenvs.atari.env.MAX_EPISODE_STEPS)
)
