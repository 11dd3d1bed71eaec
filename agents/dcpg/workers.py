"""DCPG's agents as workers: each agent's environments, learner and random streams, and its local computation.

In every DCPG round (Algorithm 1, Eq. 9) agent ``i`` estimates its local gradient from its own task only and adds the
step to the consensus average of its neighbours' parameters. The per-agent part lives here, in objects a
`WorkerPool` runs (in this process, or each in its own Ray actor):

* `TabularAgentWorker` samples a Monte-Carlo episode of its task (`EnvEpisodes` in the task's
  environment, or `ModelEpisodes` from a known model), estimates ``g_i`` with `monte_carlo_gradient`
  and applies Eq. 9 to the mixed parameters it is handed;
* `DeepAgentWorker` holds one stable-baselines3 learner on its task's environments, runs its local step and
  applies Eq. 9 to its own policy.

The driver classes (`TabularDCPG`, `DeepDCPG`) route the
consensus messages through a `Communicator`; a
`Deployment` builds that communicator and the worker pool from one ``backend`` name.
Torch and stable-baselines3 are imported only by the deep worker's methods, so the tabular method never loads them.
"""

from __future__ import annotations

import bisect
import inspect
import io
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cloudpickle
import numpy as np

import mtenvs
from agents.dcpg.objective import softmax_policy
from mtenvs.core.task import Task
from mtenvs.gridworld.tabular import TabularMDP

if TYPE_CHECKING:
    import torch

__all__ = [
    "DeepAgentWorker",
    "EnvEpisodes",
    "ModelEpisodes",
    "TabularAgentWorker",
    "monte_carlo_gradient",
]

# ------------------------------------------------------------------------------------------------ tabular agents
class ModelEpisodes:
    """Episodes sampled from a known model (for agents given a `TabularMDP`)."""

    def __init__(self, model: TabularMDP, start: np.ndarray, max_steps: int) -> None:
        self.model, self.start, self.max_steps = model, start, max_steps

    def sample(self, policy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, actions and (expected) rewards of one episode from ``mu``."""
        first = int(rng.choice(len(self.start), p=self.start))
        return self.model.sample_episode(policy, rng, self.max_steps, start_state=first)


class EnvEpisodes:
    """Episodes played in the task's Gymnasium environment (for agents given a `Task`)."""

    def __init__(self, task: Task, start: np.ndarray, max_steps: int, seed: int) -> None:
        import gymnasium as gym

        env_id = mtenvs.env_ids(task.family)[0]
        self.env = gym.make(env_id, task=task, disable_env_checker=True).unwrapped
        self.env.reset(seed=seed)
        self.start, self.max_steps = start, max_steps

    def sample(self, policy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, actions and rewards of one episode from ``mu``, until termination or ``max_steps`` steps."""
        first = int(rng.choice(len(self.start), p=self.start))
        state, _ = self.env.reset(options={"state": first})
        # Inverse-CDF action sampling with bisect on Python lists: a per-step rng.choice would dominate the cost.
        cdf = np.cumsum(policy, axis=1).tolist()
        last = policy.shape[1] - 1
        uniforms = rng.random(self.max_steps).tolist()
        states, actions, rewards = [], [], []
        for u in uniforms:
            action = min(bisect.bisect_right(cdf[state], u), last)
            next_state, reward, terminated, truncated, _ = self.env.step(action)
            states.append(state)
            actions.append(action)
            rewards.append(reward)
            state = next_state
            if terminated or truncated:
                break
        return np.array(states, dtype=np.int64), np.array(actions, dtype=np.int64), np.array(rewards)


def monte_carlo_gradient(theta: np.ndarray, episode: tuple[np.ndarray, np.ndarray, np.ndarray], gamma: float,
                         lam: float, discount_weighting: bool = True) -> np.ndarray:
    """REINFORCE estimate of Eq. 8 from one episode (Sec. 5 says only "the Monte-Carlo method"): every-visit returns
    ``G_t = sum_{k>=t} gamma^{k-t} r_k``, ``g[s_t] += gamma^t G_t (e_{a_t} - pi(.|s_t))``, plus the exact regularizer
    gradient ``(lambda/|S|)(1/|A| - pi)``. ``discount_weighting=False`` drops the ``gamma^t`` factor."""
    states, actions, rewards = episode
    pi = softmax_policy(theta)
    num_states, num_actions = theta.shape
    gradient = (lam / num_states) * (1.0 / num_actions - pi)
    if len(states) == 0:
        return gradient
    returns = np.zeros(len(rewards))
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    weights = returns * (gamma ** np.arange(len(rewards)) if discount_weighting else 1.0)
    score = np.eye(num_actions)[actions] - pi[states]          # grad log pi(a_t|s_t) in row s_t
    np.add.at(gradient, states, weights[:, None] * score)
    return gradient


class TabularAgentWorker:
    """One tabular DCPG agent with Monte-Carlo gradients: its episode sampler and its own random generator.

    Args:
        episodes: where the agent's episodes come from (`EnvEpisodes` or `ModelEpisodes`).
        gamma: the task's discount factor.
        lam: regularization weight ``lambda``.
        discount_weighting: keep the ``gamma^t`` factor of the estimator.
        seed: seeds the generator that picks start states and actions.
    """

    uses_global_random_streams = False  # draws only from its own generators

    def __init__(self, episodes: EnvEpisodes | ModelEpisodes, gamma: float, lam: float, discount_weighting: bool,
                 seed: np.random.SeedSequence | int) -> None:
        self.episodes, self.gamma, self.lam, self.discount_weighting = episodes, gamma, lam, discount_weighting
        self.rng = np.random.default_rng(seed)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """``g_i``: the REINFORCE estimate of ``grad L_i^lambda(theta; mu_i)`` from one fresh episode of the task."""
        episode = self.episodes.sample(softmax_policy(theta), self.rng)
        return monte_carlo_gradient(theta, episode, self.gamma, self.lam, self.discount_weighting)

    def update(self, theta: np.ndarray, mixed: np.ndarray, alpha: float) -> np.ndarray:
        """Eq. 9 for this agent: ``theta_i^{k+1} = sum_j W_ij theta_j^k + alpha g_i``, ``g_i`` taken at ``theta_i^k``."""
        return mixed + alpha * self.gradient(theta)


# ------------------------------------------------------------------------------------------------ deep agents
class DeepAgentWorker:
    """One deep DCPG agent: a stable-baselines3 learner (PPO, A2C or REINFORCE) on its task's environments.

    The learner is built by `setup`, inside the worker's process and random streams (the driver only ships the
    recipe). The learner's ``seed`` then seeds those streams, so the agent draws exactly what it would alone.

    Args:
        env_id: the mtenvs id of every agent's environment.
        task: this agent's task.
        algo: ``"reinforce"``, ``"a2c"`` or ``"ppo"``.
        algo_kwargs: the algorithm's arguments (``learning_rate``, ``n_steps``, ``gamma``, ``ent_coef``,
            ``policy_kwargs`` and its own), as `DeepDCPG` assembles them.
        n_envs: parallel sub-envs on the task.
        env_kwargs: arguments of the environment.
        mix: which parameters make up ``theta`` (``"policy"`` or ``"all"``).
        seed: the agent's seed (its environments and its learner).
        device: torch device.
    """

    def __init__(self, env_id: str, task: Task, *, algo: str, algo_kwargs: Mapping[str, Any], n_envs: int,
                 env_kwargs: Mapping[str, Any] | None, mix: str, seed: int, device: str) -> None:
        import torch

        self.env_id, self.task, self.algo, self.algo_kwargs = env_id, task, algo, dict(algo_kwargs)
        self.n_envs, self.env_kwargs, self.mix, self.seed = n_envs, dict(env_kwargs or {}), mix, seed
        # A torch object in the recipe: a process that unpickles this worker (a Ray actor) imports torch first,
        # so the actor's host sees torch and gives the worker one thread.
        self.device = torch.device(device)
        self.model: Any = None
        self.episodes: list[tuple[float, int, float | None]] = []
        self._local_change: torch.Tensor | None = None

    def setup(self) -> None:
        """Build the environments and the learner (seeded with the agent's seed)."""
        from agents.dcpg.learners import ALGORITHMS
        from agents.dcpg.policies import RegularizedActorCriticPolicy
        from mtenvs.sb3 import make_vec_env, without_log_folder

        env = make_vec_env(self.env_id, self.n_envs, task=self.task, seed=self.seed, env_kwargs=self.env_kwargs)
        kwargs = dict(self.algo_kwargs)
        kwargs["policy_kwargs"] = self._policy_kwargs(env.observation_space, kwargs.get("policy_kwargs"))
        self.model = ALGORITHMS[self.algo](RegularizedActorCriticPolicy, env, seed=self.seed, device=self.device,
                                           **kwargs)
        without_log_folder(self.model)

    @staticmethod
    def _policy_kwargs(space: Any, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        from stable_baselines3.common.preprocessing import is_image_space

        from agents.dcpg.policies import DepthCNN

        kwargs: dict[str, Any] = {"net_arch": {"pi": [64], "vf": [64]}}
        if is_image_space(space, check_channels=False):
            kwargs["features_extractor_class"] = DepthCNN
        return {**kwargs, **dict(extra or {})}

    # ---------------------------------------------------------------------------------------- parameters
    def policy_state(self) -> torch.Tensor:
        """Every parameter of the policy (actor and critic) as one flat tensor."""
        from torch.nn.utils import parameters_to_vector

        return parameters_to_vector(self.model.policy.parameters()).detach().clone()

    def load_policy_state(self, vector: torch.Tensor) -> None:
        """Load a `policy_state` vector (used to give every agent the same initial network)."""
        from torch.nn.utils import vector_to_parameters

        vector_to_parameters(vector.detach().clone(), self.model.policy.parameters())

    def parameter_vector(self) -> torch.Tensor:
        """``theta_i``, the mixed parameters, as one flat tensor (a copy)."""
        from torch.nn.utils import parameters_to_vector

        from agents.dcpg.learners import mixed_parameters

        return parameters_to_vector(mixed_parameters(self.model.policy, self.mix)).detach().clone()

    def set_parameter_vector(self, vector: torch.Tensor) -> None:
        """Load ``theta_i`` from a flat tensor."""
        from torch.nn.utils import vector_to_parameters

        from agents.dcpg.learners import mixed_parameters

        vector_to_parameters(vector.detach().clone(), mixed_parameters(self.model.policy, self.mix))

    # ---------------------------------------------------------------------------------------- one round
    def local_step(self) -> torch.Tensor:
        """The local policy-gradient step from ``theta_i^k`` (one rollout, one update); returns ``theta_i^k``, the
        message this agent sends to its neighbours."""
        from agents.dcpg.learners import EpisodeLog

        before = self.parameter_vector()                                                 # theta_i^k
        log = EpisodeLog()
        self.model.learn(self.model.n_steps * self.n_envs, callback=log, reset_num_timesteps=False)
        self.episodes.extend(log.drain())
        self._local_change = self.parameter_vector() - before                           # alpha g_i^k
        return before

    def apply(self, mixed: torch.Tensor | None) -> dict[str, Any]:
        """Eq. 9, ``theta_i^{k+1} = sum_j W_ij theta_j^k + alpha g_i^k`` (``mixed=None``: no neighbours, keep the
        local step); returns ``theta_i^{k+1}``, the episodes finished since the last call and the step count."""
        if mixed is not None:
            if self._local_change is None:
                raise ValueError("apply needs a local_step first (no local change to add to the mixed parameters)")
            self.set_parameter_vector(mixed + self._local_change)
        self._local_change = None
        episodes, self.episodes = self.episodes, []
        return {"theta": self.parameter_vector(), "episodes": episodes, "timesteps": int(self.model.num_timesteps)}

    def close(self) -> None:
        """Close the agent's environments."""
        if self.model is not None:
            self.model.get_env().close()

    # ---------------------------------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        # Checkpoints pickle the whole learner, environments included (its episodes and random streams go on
        # exactly), which SB3's own ``save`` leaves out; see _LearnerPickler for the one part that needs help.
        state = self.__dict__.copy()
        if self.model is not None:
            buffer = io.BytesIO()
            _LearnerPickler(buffer).dump(self.model)
            state["model"] = buffer.getvalue()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("model"), bytes):
            state["model"] = pickle.loads(state["model"])
        self.__dict__.update(state)


def _rebuild_vec_env_wrapper(cls: type, state: dict[str, Any]) -> Any:
    wrapper = cls.__new__(cls)
    wrapper.__dict__.update(state)
    wrapper.class_attributes = dict(inspect.getmembers(cls))
    return wrapper


class _LearnerPickler(cloudpickle.Pickler):
    """cloudpickle, plus SB3's vector-env wrappers: a ``VecEnvWrapper`` keeps ``dict(inspect.getmembers(its
    class))``, whose ABC internals cannot be pickled; it is left out and rebuilt from the class on load."""

    def reducer_override(self, obj: Any) -> Any:
        from stable_baselines3.common.vec_env import VecEnvWrapper

        if isinstance(obj, VecEnvWrapper):
            state = {key: value for key, value in obj.__dict__.items() if key != "class_attributes"}
            return _rebuild_vec_env_wrapper, (type(obj), state)
        return super().reducer_override(obj)
