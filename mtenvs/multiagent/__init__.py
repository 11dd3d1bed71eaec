"""PettingZoo versions of the task families: N agents, each in its own copy of a family environment, on its own task.

>>> import mtenvs.multiagent
>>> par = mtenvs.multiagent.parallel_env("mtenvs/CartPole-v0", tasks="train", num_agents=4)   # ParallelEnv
>>> aec = mtenvs.multiagent.env("mtenvs/CartPole-v0", tasks=[{"pole_length": 0.3}, {}])      # AECEnv

Importing this package also registers every mtenvs id with PettingZoo, so
``pettingzoo.make("parallel", "mtenvs/CartPole-v0", tasks=[...])`` and ``pettingzoo.make("aec", ...)`` work.
"""

from mtenvs.multiagent.parallel import MultiTaskParallelEnv, env, parallel_env
from mtenvs.multiagent.registration import register_pettingzoo_ids
from mtenvs.multiagent.tasks import AgentTasks, agent_tasks, episode_tasks

register_pettingzoo_ids()

__all__ = ["AgentTasks", "MultiTaskParallelEnv", "agent_tasks", "env", "episode_tasks", "parallel_env",
           "register_pettingzoo_ids"]
