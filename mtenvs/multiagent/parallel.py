"""``MultiTaskParallelEnv``: N agents, each acting in its own copy of a family environment, on its own task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import parallel_to_aec

from mtenvs.core.env import box_action, discrete_action
from mtenvs.core.registry import family_of
from mtenvs.core.seeding import child_seeds
from mtenvs.core.task import Task
from mtenvs.multiagent.tasks import AgentTasks, agent_tasks, episode_tasks

RENDER_MODES = ("rgb_array",)


class MultiTaskParallelEnv(ParallelEnv[str, Any, Any]):
    """A PettingZoo ``ParallelEnv`` in which agent ``i`` acts in ``gym.make(env_id, task=tasks[i], **env_kwargs)``.

    The agents do not interact: each has the single environment's observation and action spaces, rewards and
    episode ends (time limits included, as registered). An agent whose environment terminates or truncates leaves
    ``agents``; the episode is over when every agent has left.

    * ``reset(seed=s)`` resets agent ``i`` with seed ``child_seeds(s, N)[i]`` (`mtenvs.core.seeding.child_seeds`),
      so one seed reproduces every agent's stream and the agents' streams are independent.
    * ``reset(options={"tasks": [t0, ..., t_{N-1}]})`` runs one episode on other tasks (``None`` keeps an agent's
      own task). The key ``"options"``, which PettingZoo's API tests send as a probe, is ignored; any other key is
      a ``ValueError``.
    * Infos are the single environments' infos, so they carry ``task`` and ``task_id``. Rewards are Python
      ``float``, terminations and truncations Python ``bool``; ``Discrete`` observations are NumPy integers of the
      space's dtype (as PettingZoo's API test requires).
    * ``autoreset=True``: an agent whose episode ends starts its next episode at once (its environment's ``reset()``,
      continuing its streams, on its own task) and stays in ``agents``, so the agents never leave and the env is an
      endless stream like a vector env. That step reports the ended episode's ``terminated``/``truncated`` and the
      new episode's first observation; the agent's info holds the ended episode's last observation under
      ``"final_observation"`` and ``"terminal_observation"`` (the key stable-baselines3 bootstraps truncated episodes
      from) and its info under ``"final_info"``. This is the mode for SuperSuit's ``pettingzoo_env_to_vec_env_v1``
      when agents finish at different times (SuperSuit asserts that no agent leaves; ``black_death_v3`` is not
      needed and would hide each agent's episode ends, which is its purpose). When every agent finishes at the same
      step, SuperSuit itself resets the whole env and overwrites ``terminal_observation`` with the new first
      observation.
    * ``render_mode="rgb_array"`` tiles the agents' frames side by side; ``state()`` concatenates the agents'
      latest observations when they are all ``Box`` (``state_space`` is then defined).

    Args:
        env_id: a registered ``mtenvs`` id, e.g. ``"mtenvs/CartPole-v0"``.
        tasks: one task (``Task`` or dict of overrides) per agent, a ``TaskSet``, or a task-set name with
            ``num_agents``; see `mtenvs.multiagent.tasks.agent_tasks`.
        num_agents: the number of agents when ``tasks`` is a task set.
        render_mode: ``None`` or ``"rgb_array"`` (if the family renders).
        autoreset: restart each agent's episode as soon as it ends (see above); default ``False`` (agents leave).
        max_cycles: PettingZoo's name for the time limit: passed to ``gym.make`` as ``max_episode_steps``.
        **env_kwargs: passed to ``gym.make`` for every agent (e.g. ``discrete_actions=True``).
    """

    metadata: dict[str, Any] = {"name": "mtenvs_multitask", "render_modes": [], "is_parallelizable": True}

    def __init__(self, env_id: str, tasks: AgentTasks, *, num_agents: int | None = None,
                 render_mode: str | None = None, max_cycles: int | None = None, autoreset: bool = False,
                 **env_kwargs: Any) -> None:
        if not isinstance(autoreset, (bool, np.bool_)):
            raise ValueError(f"autoreset must be True or False, got {autoreset!r}")
        self.autoreset = bool(autoreset)
        self.family = family_of(env_id)
        self.env_id = env_id
        self._tasks = agent_tasks(self.family, tasks, num_agents)
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {list(RENDER_MODES)}, got {render_mode!r}")
        for reserved in ("task", "tasks"):
            if reserved in env_kwargs:
                raise ValueError(f"{reserved}= is not an environment setting here: give one task per agent with tasks=")
        if max_cycles is not None:
            if "max_episode_steps" in env_kwargs:
                raise ValueError("pass either max_cycles or max_episode_steps, not both")
            if isinstance(max_cycles, bool) or not isinstance(max_cycles, int) or max_cycles < 1:
                raise ValueError(f"max_cycles must be a positive integer, got {max_cycles!r}")
            env_kwargs["max_episode_steps"] = max_cycles
        self.render_mode = render_mode
        self.possible_agents = [f"agent_{i}" for i in range(len(self._tasks))]
        self.agents: list[str] = []
        self._envs = self._make_envs(env_kwargs)
        first = self._envs[self.possible_agents[0]]
        # PettingZoo requires the same space object at every call; each agent keeps its own environment's spaces,
        # so seeding one agent's action space does not touch another's.
        self._observation_spaces = {agent: env.observation_space for agent, env in self._envs.items()}
        self._action_spaces = {agent: env.action_space for agent, env in self._envs.items()}
        self._observations: dict[str, Any] = {}
        self._episode_tasks: dict[str, Task] = {}
        modes = [mode for mode in RENDER_MODES if mode in first.metadata.get("render_modes", [])]
        self.metadata = {"name": env_id.replace("/", "_").replace("-", "_"), "render_modes": modes,
                         "is_parallelizable": True}
        if "render_fps" in first.metadata:
            self.metadata["render_fps"] = first.metadata["render_fps"]
        if all(isinstance(space, spaces.Box) for space in self._observation_spaces.values()):
            boxes = [self._observation_spaces[agent] for agent in self.possible_agents]
            self.state_space = spaces.Box(np.concatenate([box.low.ravel() for box in boxes]),
                                          np.concatenate([box.high.ravel() for box in boxes]),
                                          dtype=np.result_type(*(box.dtype for box in boxes)))

    def _make_envs(self, env_kwargs: dict[str, Any]) -> dict[str, gym.Env]:
        envs: dict[str, gym.Env] = {}
        try:
            for agent, task in zip(self.possible_agents, self._tasks, strict=True):
                envs[agent] = gym.make(self.env_id, task=task, render_mode=self.render_mode, **env_kwargs)
        except BaseException:
            for env in envs.values():
                env.close()
            raise
        return envs

    # ------------------------------------------------------------------------------------------------ access
    def _check_agent(self, agent: str) -> str:
        if agent not in self._envs:
            raise ValueError(f"unknown agent {agent!r}; agents are {self.possible_agents}")
        return agent

    def observation_space(self, agent: str) -> spaces.Space:
        """The observation space of ``agent`` (its environment's; the same object at every call)."""
        return self._observation_spaces[self._check_agent(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent`` (its environment's; the same object at every call)."""
        return self._action_spaces[self._check_agent(agent)]

    @property
    def tasks(self) -> list[Task]:
        """The task of every agent, in agent order (episode overrides aside)."""
        return list(self._tasks)

    @property
    def current_tasks(self) -> dict[str, Task]:
        """The task each agent runs in the current episode (empty before the first reset)."""
        return dict(self._episode_tasks)

    @property
    def envs(self) -> dict[str, gym.Env]:
        """Each agent's environment (as built by ``gym.make``)."""
        return dict(self._envs)

    # ------------------------------------------------------------------------------------------ reset / step
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, dict]]:
        """Start an episode for every agent; see the class docstring for ``seed`` and ``options``."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        overrides = episode_tasks(self.family, options, self.max_num_agents)
        seeds = child_seeds(seed, self.max_num_agents)
        observations: dict[str, Any] = {}
        infos: dict[str, dict] = {}
        for agent, agent_seed, task in zip(self.possible_agents, seeds, overrides, strict=True):
            reset_options = None if task is None else {"task": task}
            obs, infos[agent] = self._envs[agent].reset(seed=agent_seed, options=reset_options)
            observations[agent] = self._as_array(agent, obs)
            self._episode_tasks[agent] = infos[agent]["task"]
        self.agents = self.possible_agents[:]
        self._observations = dict(observations)
        return observations, infos

    def _as_array(self, agent: str, observation: Any) -> Any:
        """A ``Discrete`` observation as a NumPy scalar of the space's dtype (single envs may return a Python
        ``int``; PettingZoo's AEC API test and wrappers read ``.dtype``); other observations as they are."""
        space = self._observation_spaces[agent]
        if isinstance(space, spaces.Discrete) and not isinstance(observation, np.ndarray):
            return np.asarray(observation, dtype=space.dtype)[()]
        return observation

    def _check_actions(self, actions: Any) -> None:
        """Reject a bad action dict before any agent moves, so an error never leaves the agents out of step."""
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict from agent name to action, got {type(actions).__name__}")
        missing = [agent for agent in self.agents if agent not in actions]
        extra = [agent for agent in actions if agent not in self.agents]
        if missing or extra:
            done = [agent for agent in extra if agent in self._envs]
            raise ValueError(f"actions must have one entry for each live agent {self.agents}; missing {missing}, "
                             f"not live {extra}" + (f" ({done} are done until the next reset)" if done else ""))
        for agent in self.agents:
            space = self._action_spaces[agent]
            if isinstance(space, spaces.Box):
                box_action(actions[agent], space.shape, agent)
            elif isinstance(space, spaces.Discrete) and int(space.start) == 0:
                discrete_action(actions[agent], int(space.n), agent)

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool],
                                                     dict[str, dict]]:
        """Step every live agent's environment with its action; agents whose episode ended leave ``agents``."""
        if not self.agents:
            raise ResetNeeded("no live agents: call reset() before step() (the episode is over or never started); "
                              "for an endless stream in which each agent restarts on its own (e.g. under SuperSuit's "
                              "vector wrappers), build the env with autoreset=True")
        self._check_actions(actions)
        observations: dict[str, Any] = {}
        rewards: dict[str, float] = {}
        terminations: dict[str, bool] = {}
        truncations: dict[str, bool] = {}
        infos: dict[str, dict] = {}
        for agent in self.agents:
            obs, reward, terminated, truncated, info = self._envs[agent].step(actions[agent])
            observations[agent], rewards[agent], infos[agent] = self._as_array(agent, obs), float(reward), info
            terminations[agent], truncations[agent] = bool(terminated), bool(truncated)
        finished = [agent for agent in self.agents if terminations[agent] or truncations[agent]]
        if self.autoreset:
            for agent in finished:
                final_observation, final_info = observations[agent], infos[agent]
                obs, info = self._envs[agent].reset()
                observations[agent] = self._as_array(agent, obs)
                infos[agent] = {**info, "final_observation": final_observation, "terminal_observation": final_observation,
                                "final_info": final_info}
                self._episode_tasks[agent] = info["task"]
        else:
            self.agents = [agent for agent in self.agents if agent not in finished]
        self._observations.update(observations)
        return observations, rewards, terminations, truncations, infos

    # ---------------------------------------------------------------------------------- state / render / close
    def state(self) -> np.ndarray:
        """Every agent's latest observation, flattened and concatenated in agent order (a point of ``state_space``).

        Raises:
            NotImplementedError: the observations are not all ``Box``.
            ResetNeeded: before the first reset.
        """
        if not hasattr(self, "state_space"):
            raise NotImplementedError(f"state() needs Box observations; {self.env_id} observes "
                                      f"{type(self._observation_spaces[self.possible_agents[0]]).__name__}")
        if not self._observations:
            raise ResetNeeded("call reset() before state()")
        parts = [np.asarray(self._observations[agent]).ravel() for agent in self.possible_agents]
        return np.concatenate(parts).astype(self.state_space.dtype, copy=False)

    def render(self) -> np.ndarray | None:
        """In ``"rgb_array"`` mode, every agent's frame side by side (shorter frames padded with black), uint8."""
        if self.render_mode is None:
            return None
        frames = [np.asarray(self._envs[agent].render(), dtype=np.uint8) for agent in self.possible_agents]
        height = max(frame.shape[0] for frame in frames)
        frames = [np.pad(frame, ((0, height - frame.shape[0]), (0, 0), (0, 0))) for frame in frames]
        return np.concatenate(frames, axis=1)

    def close(self) -> None:
        """Close every agent's environment (safe to call more than once)."""
        for env in self._envs.values():
            env.close()


def parallel_env(env_id: str, tasks: AgentTasks, *, num_agents: int | None = None, render_mode: str | None = None,
                 max_cycles: int | None = None, autoreset: bool = False, **env_kwargs: Any) -> MultiTaskParallelEnv:
    """The parallel multi-task env: agent ``i`` acts in ``gym.make(env_id, task=tasks[i], **env_kwargs)``.

    Examples:
        >>> par = parallel_env("mtenvs/CartPole-v0", tasks=[{"pole_length": 0.3}, {"pole_length": 0.8}])
        >>> observations, infos = par.reset(seed=0)
        >>> par.agents, infos["agent_1"]["task"]["pole_length"]
        (['agent_0', 'agent_1'], 0.8)
    """
    return MultiTaskParallelEnv(env_id, tasks, num_agents=num_agents, render_mode=render_mode, max_cycles=max_cycles,
                                autoreset=autoreset, **env_kwargs)


def env(env_id: str, tasks: AgentTasks, **kwargs: Any) -> AECEnv:
    """The AEC version of `parallel_env` (``pettingzoo.utils.parallel_to_aec``); same arguments."""
    return parallel_to_aec(parallel_env(env_id, tasks, **kwargs))
