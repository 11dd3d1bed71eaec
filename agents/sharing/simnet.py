"""The task-similarity network (SimNet) and the nearest-neighbour task matcher (paper 000 §4).

Before a new game, an agent re-initializes a small DQN, ``Linear(128, 64) -> ReLU -> Linear(64, 18)`` on RAM/255,
from ONE fixed parameter vector shared by every agent and task, trains it on the game for a fixed number of agent
steps, and flattens its parameters. Two SimNets trained on the same game from the same start move in similar
directions (the first layer's update is a sum of ``delta_t * x_t^T`` over that game's RAM states ``x_t``), so the
Euclidean distance between parameter vectors (the paper's "Euclidean distance of parameter matrices") is small for
repeated games and large across games. The match is the nearest stored SimNet, accepted if its distance is at most
τ (the analogue of the ``c_Sep/2`` test of Algorithm 1, line 6); τ defaults to half the median distance between
SimNets of different games (the paper gives no threshold).

At a CPU-sized budget (a few thousand steps) the raw parameter distance is dominated by seed noise (exploration,
minibatches, sticky actions) for some games. The ``"input_profile"`` metric compares a statistic of the same
parameters instead: per RAM byte ``j``, the total absolute change of the first layer's input weights
``s_j = Σ_h |W1[h, j] - W1⁰[h, j]|`` (which bytes the SimNet learned to read), scaled to unit norm. The first layer's
update is ``Σ_t g_t x_t^T``, so this profile follows the game's RAM usage and is much less sensitive to the noise
in ``g_t``. Both metrics need only the shared SimNet parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

__all__ = ["METRICS", "Match", "Metric", "SimNet", "SimNetConfig", "SimilarityMatcher", "calibrate_tau",
           "confusion_matrix", "input_profile", "parameter_distance"]

#: Distances between SimNets: the paper's Euclidean parameter distance, or the first-layer input profile's.
Metric = Literal["parameters", "input_profile"]
METRICS: tuple[str, ...] = ("parameters", "input_profile")


@dataclass(frozen=True)
class SimNetConfig:
    """SimNet architecture and its SB3 DQN training settings (our defaults: the paper gives none)."""

    steps: int = 10_000
    hidden: int = 64
    learning_rate: float = 1e-3
    learning_starts: int = 1_000
    buffer_size: int = 10_000
    batch_size: int = 32
    exploration_fraction: float = 0.5
    exploration_final_eps: float = 0.05
    target_update_interval: int = 500
    train_freq: int = 4
    gamma: float = 0.99
    init_seed: int = 0
    max_episode_steps: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "hidden", "buffer_size", "batch_size", "target_update_interval", "train_freq"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"SimNetConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if self.learning_starts < 0 or self.learning_starts >= self.steps:
            raise ValueError(f"SimNetConfig.learning_starts must be in [0, steps={self.steps}), got {self.learning_starts!r}")


def parameter_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two flattened parameter vectors (paper 000 §4)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"parameter vectors must have the same shape, got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b))


def input_profile(params: np.ndarray, init: np.ndarray, n_inputs: int = 128, hidden: int = 64) -> np.ndarray:
    """Unit-norm ``s_j = Σ_h |W1[h, j] - W1⁰[h, j]|`` over the RAM bytes ``j`` (SB3 flattens ``W1`` first, row-major)."""
    params, init = np.asarray(params, dtype=np.float64), np.asarray(init, dtype=np.float64)
    if params.shape != init.shape or params.size < n_inputs * hidden:
        raise ValueError(f"params {params.shape} and init {init.shape} must be SimNet vectors of the same shape")
    delta = (params[: n_inputs * hidden] - init[: n_inputs * hidden]).reshape(hidden, n_inputs)
    profile = np.abs(delta).sum(axis=0)
    norm = np.linalg.norm(profile)
    return profile / norm if norm > 0 else profile


class SimNet:
    """Trains SimNets from one shared starting point; `fit` returns the trained, flattened parameters.

    Args:
        config: architecture and training settings.
    """

    def __init__(self, config: SimNetConfig | None = None) -> None:
        self.config = config or SimNetConfig()
        self._init: np.ndarray | None = None

    @property
    def initial_parameters(self) -> np.ndarray:
        """The shared starting point: the Q-network SB3 builds under ``torch.manual_seed(init_seed)``, flattened."""
        if self._init is None:
            import torch as th
            from gymnasium import spaces
            from stable_baselines3.dqn.policies import DQNPolicy

            from agents.sharing.envs import N_ACTIONS, RAM_SIZE
            from agents.sharing.ram import ram_policy_kwargs

            th.manual_seed(self.config.init_seed)
            policy = DQNPolicy(spaces.Box(0, 255, (RAM_SIZE,), np.uint8), spaces.Discrete(N_ACTIONS),
                               lambda _: self.config.learning_rate, **ram_policy_kwargs([self.config.hidden]))
            self._init = th.nn.utils.parameters_to_vector(policy.q_net.parameters()).detach().numpy().copy()
        return self._init

    def model(self, env: Any, seed: int) -> Any:
        """An SB3 ``DQN`` on ``env`` whose online and target Q-networks start at `initial_parameters`."""
        import torch as th
        from stable_baselines3 import DQN

        from agents.sharing.ram import ram_policy_kwargs
        from mtenvs.sb3 import without_log_folder

        c = self.config
        model = DQN("MlpPolicy", env, learning_rate=c.learning_rate, buffer_size=c.buffer_size,
                    learning_starts=c.learning_starts, batch_size=c.batch_size, gamma=c.gamma, train_freq=c.train_freq,
                    target_update_interval=c.target_update_interval, exploration_fraction=c.exploration_fraction,
                    exploration_final_eps=c.exploration_final_eps, policy_kwargs=ram_policy_kwargs([c.hidden]),
                    seed=int(seed), device="cpu")
        without_log_folder(model)
        start = th.as_tensor(self.initial_parameters)
        th.nn.utils.vector_to_parameters(start.clone(), model.q_net.parameters())
        th.nn.utils.vector_to_parameters(start.clone(), model.q_net_target.parameters())
        return model

    def fit(self, game: str, seed: int) -> np.ndarray:
        """Train a SimNet on ``game`` for ``config.steps`` agent steps; its flattened parameters (float32)."""
        import torch as th

        from agents.sharing.envs import make_game_env

        env = make_game_env(game, seed=seed, max_episode_steps=self.config.max_episode_steps)
        try:
            model = self.model(env, seed)
            model.learn(self.config.steps)
            return th.nn.utils.parameters_to_vector(model.q_net.parameters()).detach().numpy().copy()
        finally:
            env.close()

    def as_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        return asdict(self.config)


class Match(NamedTuple):
    """The nearest stored SimNet: its key, its distance, and whether the distance passed the threshold."""

    key: Hashable
    distance: float
    accepted: bool


def calibrate_tau(params: Sequence[np.ndarray], labels: Sequence[Hashable],
                  distance: Callable[[np.ndarray, np.ndarray], float] = parameter_distance) -> float:
    """τ = half the median ``distance`` between SimNets of different labels (games) (the paper gives no threshold)."""
    if len(params) != len(labels):
        raise ValueError(f"params and labels must have the same length, got {len(params)} and {len(labels)}")
    across = [distance(params[i], params[j]) for i in range(len(params)) for j in range(i + 1, len(params))
              if labels[i] != labels[j]]
    if not across:
        raise ValueError("calibrate_tau needs SimNets of at least two different labels")
    return 0.5 * float(np.median(across))


class SimilarityMatcher:
    """Nearest neighbour among stored SimNets, accepted if ``distance <= tau`` (Algorithm 1 line 6's analogue).

    Args:
        tau: the acceptance threshold (``None``: accept every nearest neighbour until `calibrate` sets one).
        metric: ``"parameters"`` (Euclidean distance of the flattened parameters, the paper's) or
            ``"input_profile"`` (Euclidean distance of `input_profile`, which needs ``init``).
        init: the shared SimNet starting point (`SimNet.initial_parameters`).
    """

    def __init__(self, tau: float | None = None, metric: Metric = "parameters", init: np.ndarray | None = None) -> None:
        if tau is not None and not (np.isfinite(tau) and tau >= 0):
            raise ValueError(f"tau must be a finite number >= 0 or None, got {tau!r}")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if metric == "input_profile" and init is None:
            raise ValueError("metric='input_profile' needs init, the shared SimNet starting point")
        self.tau = tau
        self.metric = metric
        self.init = None if init is None else np.asarray(init)

    def signature(self, params: np.ndarray) -> np.ndarray:
        """What the metric compares: the parameters themselves, or their input profile."""
        if self.metric == "parameters":
            return np.asarray(params, dtype=np.float64)
        return input_profile(params, self.init)  # type: ignore[arg-type]

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """The metric's distance between two SimNets."""
        return parameter_distance(self.signature(a), self.signature(b))

    def calibrate(self, params: Sequence[np.ndarray], labels: Sequence[Hashable]) -> float:
        """Set and return τ from SimNets of known games (`calibrate_tau` under this metric)."""
        self.tau = calibrate_tau([self.signature(p) for p in params], labels)
        return self.tau

    def match(self, query: np.ndarray, stored: Mapping[Hashable, np.ndarray]) -> Match | None:
        """The nearest of ``stored`` to ``query`` (``None`` if nothing is stored); ties go to the first key."""
        best: Match | None = None
        q = self.signature(query)
        for key, params in stored.items():
            d = parameter_distance(q, self.signature(params))
            if best is None or d < best.distance:
                best = Match(key, d, self.tau is None or d <= self.tau)
        return best


def confusion_matrix(stored: Mapping[str, Sequence[np.ndarray]], held_out: Mapping[str, Sequence[np.ndarray]],
                     matcher: SimilarityMatcher) -> tuple[list[str], np.ndarray]:
    """Match every held-out SimNet against all stored ones; counts ``[true game, predicted game or "none"]``.

    Returns the row labels (the games) and a ``(K, K + 1)`` integer matrix whose last column counts rejections
    (nearest distance above τ).
    """
    games = list(stored)
    unknown = [g for g in held_out if g not in stored]
    if unknown:
        raise ValueError(f"held-out games {unknown} have no stored SimNets; stored: {games}")
    table = {(g, k): p for g, ps in stored.items() for k, p in enumerate(ps)}
    counts = np.zeros((len(games), len(games) + 1), dtype=np.int64)
    for g, queries in held_out.items():
        for q in queries:
            m = matcher.match(q, table)
            column = len(games) if m is None or not m.accepted else games.index(m.key[0])
            counts[games.index(g), column] += 1
    return games, counts
