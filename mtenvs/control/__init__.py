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

# The families of "Scalable Lifelong Reinforcement Learning" (paper 002); 150-step episodes as in the paper.
for _name, _module, _env in [
    ("SimpleMass", "simple_mass", "SimpleMass"),
    ("DoubleMass", "double_mass", "DoubleMass"),
    ("DoubleInvertedPendulum", "double_pendulum", "DoubleInvertedPendulum"),
    ("Helicopter", "helicopter", "Helicopter"),
]:
    register_family(_name, f"mtenvs.control.{_module}:FAMILY")
    register_env(
        _name,
        _name,
        entry_point=f"mtenvs.control.{_module}:{_env}Env",
        vector_entry_point=f"mtenvs.control.{_module}:{_env}VectorEnv",
        max_episode_steps=150,
    )
