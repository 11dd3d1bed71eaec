"""Deep DCPG (paper 003, Algorithm 1 with neural policies, Sec. 5.2 and App. C.1).

N agents, one per task, sit on a communication graph. In every round each agent

1. takes a local policy-gradient step on its own environment, starting from its current parameters
   ``theta_i^k``: stable-baselines3's PPO or A2C, or `agents.dcpg.reinforce.Reinforce`, run with ``learn``
   for one rollout of ``n_steps`` steps per sub-env (PPO's several epochs count as one step, our reading), and
2. averages parameter vectors with its neighbours through the `Communicator`,

combined as in Eq. (9): ``theta_i^{k+1} = sum_j W_ij theta_j^k + alpha g_i^k``, where ``alpha g_i^k`` is the change
the local step made (the gradient is taken at the agent's own pre-mixing parameters; optimizer states stay local
and are never averaged). ``theta`` is the policy: by default the actor and the features extractor it shares with
the critic, while the critic's own layers stay local, as in Algorithm 1, where the agents agree on one policy and
each estimates its gradient with its own task's values (the tasks' value functions differ);
``mix="all"`` also averages the critic heads. The single-agent baselines SA-i are the same run with no edges, ``W = I``.

Each agent is a `DeepAgentWorker` in a worker pool: its environments, learner and random
streams (torch, NumPy, ``random``) live there, and its local step runs there, in this process (``backend="local"``)
or in its own Ray actor (``backend="ray"``, agents in parallel), with the same results either way. An agent with
``W = I`` trains exactly as it would alone. ``learn(..., checkpoint_path=...)`` saves the run after every round and
resumes from that file.

The module reads top to bottom: the agent node (`DeepAgentWorker`: its learner, its local step and Eq. 9), then
`DeepDCPG`, whose round (`DeepDCPG.step`, Algorithm 1) calls the agents through the worker pool with method
references (`pool.map(DeepAgentWorker.local_step)`) and mixes their parameters through the communicator.
"""

from __future__ import annotations

import inspect
import io
import pickle
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import cloudpickle
import numpy as np
import torch
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnvWrapper
from torch.nn.utils import parameters_to_vector, vector_to_parameters

import mtenvs
from agents.common.communication import Communicator
from agents.common.deployment import Deployment
from agents.common.graphs import Graph, build_graph, consensus_error, mixing_matrix, second_largest_eigenvalue_modulus
from agents.common.method import Method
from agents.common.workers import WorkerPool
from agents.dcpg.learners import ALGORITHMS, EpisodeLog, mixed_parameters
from agents.dcpg.policies import DepthCNN, RegularizedActorCriticPolicy
from mtenvs.core.seeding import child_seeds
from mtenvs.core.task import Task
from mtenvs.sb3 import make_vec_env, without_log_folder

Algo = Literal["reinforce", "a2c", "ppo"]
MixScope = Literal["policy", "all"]


def default_algo_kwargs(algo: str, n_steps: int, n_envs: int) -> dict[str, Any]:
    """Paper 003's settings (App. C.1): Monte-Carlo returns (GAE lambda = 1), Adam, PPO clip 0.2; and ours where it
    is silent: 3 PPO epochs, value coefficient 0.5."""
    if algo == "ppo":
        return {"gae_lambda": 1.0, "clip_range": 0.2, "n_epochs": 3, "batch_size": min(64, n_steps * n_envs), "vf_coef": 0.5}
    if algo == "a2c":
        return {"gae_lambda": 1.0, "vf_coef": 0.5, "use_rms_prop": False, "normalize_advantage": False}
    return {}


# ------------------------------------------------------------------------------------------------ the agent node
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
        env = make_vec_env(self.env_id, self.n_envs, task=self.task, seed=self.seed, env_kwargs=self.env_kwargs)
        kwargs = dict(self.algo_kwargs)
        kwargs["policy_kwargs"] = self._policy_kwargs(env.observation_space, kwargs.get("policy_kwargs"))
        self.model = ALGORITHMS[self.algo](RegularizedActorCriticPolicy, env, seed=self.seed, device=self.device,
                                           **kwargs)
        without_log_folder(self.model)

    @staticmethod
    def _policy_kwargs(space: Any, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"net_arch": {"pi": [64], "vf": [64]}}
        if is_image_space(space, check_channels=False):
            kwargs["features_extractor_class"] = DepthCNN
        return {**kwargs, **dict(extra or {})}

    # ---------------------------------------------------------------------------------------- parameters
    def policy_state(self) -> torch.Tensor:
        """Every parameter of the policy (actor and critic) as one flat tensor."""
        return parameters_to_vector(self.model.policy.parameters()).detach().clone()

    def load_policy_state(self, vector: torch.Tensor) -> None:
        """Load a `policy_state` vector (used to give every agent the same initial network)."""
        vector_to_parameters(vector.detach().clone(), self.model.policy.parameters())

    def parameter_vector(self) -> torch.Tensor:
        """``theta_i``, the mixed parameters, as one flat tensor (a copy)."""
        return parameters_to_vector(mixed_parameters(self.model.policy, self.mix)).detach().clone()

    def set_parameter_vector(self, vector: torch.Tensor) -> None:
        """Load ``theta_i`` from a flat tensor."""
        vector_to_parameters(vector.detach().clone(), mixed_parameters(self.model.policy, self.mix))

    # ---------------------------------------------------------------------------------------- one round
    def local_step(self) -> torch.Tensor:
        """The local policy-gradient step from ``theta_i^k`` (one rollout, one update); returns ``theta_i^k``, the
        message this agent sends to its neighbours."""
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
        if isinstance(obj, VecEnvWrapper):
            state = {key: value for key, value in obj.__dict__.items() if key != "class_attributes"}
            return _rebuild_vec_env_wrapper, (type(obj), state)
        return super().reducer_override(obj)


# ------------------------------------------------------------------------------------------------ the method
class DeepDCPG(Method):
    """Decentralized policy gradient with deep policies: one SB3 agent per task, parameters mixed every round.

    The method contract (`agents.common.method.Method`) with the unit "round": `learn(total)` runs `total` rounds;
    a run saved with `checkpoint_path=` or `save` holds every agent with its random streams, the history and the
    message counts.

    Args:
        env_id: an mtenvs id, e.g. ``"mtenvs/DroneNav-v0"``.
        tasks: one task per agent (tasks, dicts of overrides, or a task-set name such as ``"paper"``).
        graph: the connected communication graph: a `Graph`, an edge list, or a name
            (``"ring"``, the paper's, ``"complete"``, ``"chain"``, ``"star"``, ``"bipartite"``).
        weights: the mixing matrix ``W`` (validated against the graph), or ``"lazy-metropolis"`` (the paper's),
            ``"metropolis"``, ``"uniform"`` (complete graph only) or ``"identity"`` (the single-agent baselines: no
            mixing and no messages).
        algo: the local step, ``"reinforce"``, ``"a2c"`` or ``"ppo"``.
        n_envs: parallel sub-envs per agent (all on the agent's task).
        n_steps: steps per sub-env in one local rollout.
        learning_rate: Adam step size (paper: 1e-4).
        gamma: discount factor (paper: 0.99).
        regularization: ``lambda``, the weight of the regularizer (paper: 0.03).
        regularizer: ``"relative_entropy"`` (the paper's, Eq. 6) or ``"entropy"`` (SB3's Shannon entropy bonus).
        mix: which parameters are averaged: ``"policy"`` (actor and shared features extractor; default) or ``"all"``
            (also the critic's layers).
        policy_kwargs: extra SB3 policy arguments (default: `DepthCNN` on image
            observations, one hidden layer of 64 units per head).
        algo_kwargs: extra arguments of the SB3 algorithm, on top of `default_algo_kwargs`.
        env_kwargs: arguments of the environment (and of ``gym.make_vec``, e.g. ``max_episode_steps``).
        communicator: the message layer (default: one for ``backend``, closed by `close`).
        seed: the run seed; agent ``i`` gets its own seed derived from it.
        device: torch device.
        backend: where the agents run and how they exchange parameters: ``"local"`` (this process, one agent after
            another) or ``"ray"`` (each agent in its own Ray actor, in parallel; messages through Ray's object
            store). Same results on both.
        backend_options: for ``"ray"``: ``address`` (join a cluster; default: start a local one unless Ray is
            running), ``checkpoint_every``, ``max_restarts``, ``actor_options`` of the worker pool, and further
            ``ray.init`` options.
    """

    unit = "round"
    _resources = ("_runtime", "communicator", "pool")

    def __init__(
        self,
        env_id: str,
        tasks: Sequence[Task | Mapping[str, Any]] | str,
        *,
        graph: Graph | str | Sequence[tuple[int, int]] = "ring",
        weights: Any = "lazy-metropolis",
        algo: Algo = "ppo",
        n_envs: int = 4,
        n_steps: int = 32,
        learning_rate: float = 1e-4,
        gamma: float = 0.99,
        regularization: float = 0.03,
        regularizer: str = "relative_entropy",
        mix: MixScope = "policy",
        policy_kwargs: Mapping[str, Any] | None = None,
        algo_kwargs: Mapping[str, Any] | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        communicator: Communicator | None = None,
        seed: int = 0,
        device: str = "cpu",
        backend: str = "local",
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        family = mtenvs.family_of(env_id)
        self.env_id = env_id
        self.tasks = list(family.task_set(tasks)) if isinstance(tasks, str) else [family.validate(t) for t in tasks]
        n = len(self.tasks)
        if n < 1:
            raise ValueError("tasks must name at least one task (one per agent)")
        if algo not in ALGORITHMS:
            raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}, got {algo!r}")
        for name, value in (("n_envs", n_envs), ("n_steps", n_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not regularization >= 0:
            raise ValueError(f"regularization must be >= 0, got {regularization!r}")
        if mix not in ("policy", "all"):
            raise ValueError(f"mix must be 'policy' or 'all', got {mix!r}")
        if regularizer not in ("relative_entropy", "entropy"):
            raise ValueError(f"regularizer must be 'relative_entropy' or 'entropy', got {regularizer!r}")
        self.graph = build_graph(graph, n)
        self.weights = mixing_matrix(self.graph, weights)
        # Messages travel only where W has a non-zero weight (none at all for W = I).
        self.links = Graph(n, [(int(i), int(j)) for i, j in np.argwhere(np.triu(self.weights, k=1) != 0)])
        self.algo, self.n_envs, self.n_steps, self.mix_scope = algo, n_envs, n_steps, mix
        self.seed, self.backend = seed, backend
        self.history: list[dict[str, Any]] = []
        self.rounds_done = 0
        kwargs = {"learning_rate": learning_rate, "n_steps": n_steps, "gamma": gamma, "ent_coef": regularization,
                  "policy_kwargs": {"regularizer": regularizer, **dict(policy_kwargs or {})},
                  **default_algo_kwargs(algo, n_steps, n_envs), **dict(algo_kwargs or {})}
        workers = {i: DeepAgentWorker(env_id, self.tasks[i], algo=algo, algo_kwargs=kwargs, n_envs=n_envs,
                                      env_kwargs=env_kwargs, mix=mix, seed=int(agent_seed) % 2**31, device=device)
                   for i, agent_seed in enumerate(child_seeds(seed, n))}
        self._runtime = Deployment(workers, backend=backend, backend_options=backend_options, seed=seed, comm=communicator)
        self.communicator: Communicator = self._runtime.comm
        self.pool: WorkerPool = self._runtime.pool  # type: ignore[assignment]
        try:
            self.pool.map(DeepAgentWorker.setup)
            # Identical initial parameters for every agent, as the analysis assumes (Lemma B.2).
            initial = self.pool.map(DeepAgentWorker.policy_state, nodes=[0])[0]
            if n > 1:
                self.pool.map(DeepAgentWorker.load_policy_state, {i: (initial,) for i in range(1, n)})
        except BaseException:
            self._runtime.close()
            raise

    # ------------------------------------------------------------------------------------------ parameters
    def mixed_parameters(self, policy: BasePolicy) -> list[torch.nn.Parameter]:
        """The parameters of ``policy`` that are averaged (``theta``), in a fixed order."""
        return mixed_parameters(policy, self.mix_scope)

    @property
    def num_agents(self) -> int:
        """Number of agents (= tasks)."""
        return len(self.tasks)

    @property
    def agents(self) -> list[OnPolicyAlgorithm]:
        """Every agent's SB3 learner: the live objects with ``backend="local"``, copies fetched from the actors with
        ``backend="ray"``."""
        return [self.pool.fetch(i).model for i in range(self.num_agents)]

    @property
    def second_eigenvalue(self) -> float:
        """``sigma_2`` of ``W`` (its second largest eigenvalue modulus); the spectral gap is ``1 - sigma_2``."""
        return second_largest_eigenvalue_modulus(self.weights)

    def parameter_vector(self, i: int) -> torch.Tensor:
        """Agent ``i``'s mixed parameters ``theta_i`` as one flat tensor (a copy)."""
        return self.pool.map(DeepAgentWorker.parameter_vector, nodes=[i])[i]

    def parameter_vectors(self) -> dict[int, torch.Tensor]:
        """Every agent's parameter vector, keyed by agent (graph node)."""
        return self.pool.map(DeepAgentWorker.parameter_vector)

    def set_parameter_vector(self, i: int, vector: torch.Tensor) -> None:
        """Load a flat vector of mixed parameters into agent ``i``'s policy."""
        self.pool.map(DeepAgentWorker.set_parameter_vector, {i: (vector,)})

    def consensus_error(self) -> float:
        """``max_i ||theta_i - theta_bar||`` over the agents' parameter vectors."""
        return consensus_error({i: v.numpy() for i, v in self.parameter_vectors().items()})

    def average_vector(self) -> torch.Tensor:
        """``theta_bar = (1/N) sum_i theta_i``, the unified policy the paper evaluates (Sec. 5.2)."""
        return torch.stack(list(self.parameter_vectors().values())).mean(dim=0)

    def policy(self, i: int | None = None) -> BasePolicy:
        """A stand-alone SB3 policy (with ``predict``) acting with agent ``i``'s ``theta_i``, or ``theta_bar`` if ``None``.

        (With ``mix="policy"`` its critic is agent ``i``'s, or agent 0's; acting does not use it.)
        """
        template = self.pool.fetch(0 if i is None else i).model.policy
        policy = type(template)(**template._get_constructor_parameters()).to(template.device)
        policy.load_state_dict(template.state_dict())
        vector_to_parameters(self.average_vector() if i is None else self.parameter_vector(i), self.mixed_parameters(policy))
        policy.set_training_mode(False)
        return policy

    # ------------------------------------------------------------------------------------------ the method
    def mix(self, values: Mapping[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        """``sum_j W_ij x_j`` for every agent ``i``, exchanged with the neighbours (no messages when ``W = I``)."""
        if self.links.num_edges == 0:
            return {i: v.clone() for i, v in values.items()}
        return self.communicator.mix(values, self.weights, self.links)

    def consensus(self) -> None:
        """One pure consensus round, ``theta_i <- sum_j W_ij theta_j`` (Eq. 9 with a zero gradient)."""
        self.pool.map(DeepAgentWorker.set_parameter_vector, {i: (v,) for i, v in self.mix(self.parameter_vectors()).items()})

    def step(self) -> dict[str, Any]:
        """One DCPG round (Eq. 9); returns its log record."""
        started = time.perf_counter()
        before = self.pool.map(DeepAgentWorker.local_step)     # every agent's local step from theta_i^k; returns theta_i^k
        mixed: Mapping[int, Any] = self.mix(before) if self.links.num_edges > 0 else {}     # sum_j W_ij theta_j^k
        reports = self.pool.map(DeepAgentWorker.apply,                                         # Eq. (9) in each agent
                                {i: (mixed.get(i),) for i in range(self.num_agents)})
        self.rounds_done += 1
        record = self._record(reports, time.perf_counter() - started)
        self.history.append(record)
        return record

    def _record(self, reports: Mapping[int, dict[str, Any]], seconds: float) -> dict[str, Any]:
        episodes = [reports[i]["episodes"] for i in range(self.num_agents)]

        def mean(values: list[float | None]) -> float | None:
            present = [v for v in values if v is not None]
            return float(np.mean(present)) if present else None

        return {
            "round": self.rounds_done,
            "timesteps": reports[0]["timesteps"],
            "consensus_error": consensus_error({i: r["theta"].numpy() for i, r in reports.items()}),
            "episodes": [len(e) for e in episodes],
            "mean_return": [mean([r for r, _, _ in e]) for e in episodes],
            "safe_flight": [mean([d for _, _, d in e]) for e in episodes],
            "comm_rounds": self.communicator.stats.rounds,
            "comm_bytes": self.communicator.stats.bytes,
            "seconds": seconds,
        }

    # ------------------------------------------------------------------------------------------ the run
    def _learn_unit(self) -> dict[str, Any]:
        return self.step()

    def _fingerprint(self) -> dict[str, Any]:
        return {**super()._fingerprint(), "num_agents": self.num_agents}

    def close(self) -> None:
        """Close every agent's environments and release the workers (Ray actors) and the communicator."""
        if not getattr(self, "_closed", False):
            self._closed = True
            try:
                self.pool.map(DeepAgentWorker.close)
            finally:
                self._runtime.close()

    def __enter__(self) -> DeepDCPG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
