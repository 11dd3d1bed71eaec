"""Federated aggregation: choose the weights with which client models are averaged (paper 004, App. A.2).

Reads top to bottom: parameters, the client split of a task, the environment, the vector environment,
reference policies (FedAvg), rendering.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces

from mtenvs.core.env import TaskEnv, box_action
from mtenvs.core.family import TaskFamily
from mtenvs.core.parameters import Continuous, Integer, ParameterSpace
from mtenvs.core.samplers import TaskSpec
from mtenvs.core.simplex import normalize_allocation
from mtenvs.core.task import Task
from mtenvs.core.vector import vector_env_for
from mtenvs.federated.data import N_CLASSES, digits_split, dirichlet_partition, label_skew_partition
from mtenvs.federated.model import accuracy, local_training, pad_clients
from mtenvs.rendering import require_reset

# ------------------------------------------------------------------------------------------------ parameters
MAX_SEED = 999_999
PARAMETERS = ParameterSpace([
    Continuous("alpha", 0.5, bounds=(0.05, 100.0), train=(0.1, 1.0), distribution="log-uniform",
               description="Dirichlet concentration of the clients' label mix (small: few labels per client)"),
    Integer("split_seed", 0, bounds=(0, MAX_SEED), train=(0, MAX_SEED),
            description="seed of the split of the data among the clients"),
])

FAMILY = TaskFamily(
    "FedAggregation",
    PARAMETERS,
    description="Federated learning of a digit classifier over non-IID clients; the agent chooses the aggregation "
                "weights every round and is rewarded with the accuracy of the aggregate. Tasks differ in the client mix.",
)

PARTITIONS = ("dirichlet", "label_skew")


@functools.lru_cache(maxsize=64)
def client_split(alpha: float, split_seed: int, n_clients: int, partition: str) -> tuple[np.ndarray, ...]:
    """Padded client data ``(X, Y, mask)`` of a task (cached: tasks repeat across episodes)."""
    data = digits_split()
    rng = np.random.default_rng(split_seed)
    if partition == "dirichlet":
        parts = dirichlet_partition(data.pool_y, n_clients, alpha, rng)
    else:
        parts = label_skew_partition(data.pool_y, n_clients, rng)
    arrays = pad_clients(data.pool_x, data.pool_y, parts, N_CLASSES)
    for array in arrays:
        array.setflags(write=False)
    return arrays


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"FedAggregation: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------------------------ environment
class FedAggregationEnv(TaskEnv[np.ndarray, np.ndarray]):
    """Federated learning rounds in which the agent sets the weights of the model average.

    ## Description
    The meta federated-learning task of paper 004 (App. A.2) on scikit-learn's digits instead of MNIST. Each
    round every client starts from the global model, trains locally (``local_steps`` full-batch gradient steps of
    softmax regression on its own data), and the agent averages the local models with its weights:
    ``global = sum_i a_i v_i``. Uniform weights are FedAvg over equally weighted clients.

    ## Observation Space
    ``Box(0, 1, (n_clients, history + 2))`` float32, one row per client: the evaluation accuracies of its
    ``history`` most recent local models (oldest first; padded with the first one), its previous aggregation
    weight (``1 / n_clients`` at the start), and its share of the training samples.

    ## Action Space
    ``Box(0, 1, (n_clients,))``: normalized to weights ``a / sum(a)`` (all zero → uniform); ``info["weights"]``.

    ## Reward
    Accuracy of the aggregated model on the evaluation set (300 images). ``info["test_accuracy"]`` is its
    accuracy on the separate test set (300 images); ``info["client_accuracies"]`` those of the local models.

    ## Starting State
    The global model starts at zero (uniform predictions); the observation shows the first round's local models.

    ## Episode End
    Termination after ``rounds`` aggregations (default 50, as in the paper).

    ## Arguments
    * ``task`` / ``tasks``: ``alpha`` (Dirichlet concentration of the label mix) and ``split_seed``.
    * ``n_clients`` (10), ``rounds`` (50), ``local_steps`` (5), ``learning_rate`` (0.3), ``history`` (5).
    * ``partition``: ``"dirichlet"`` (default) or ``"label_skew"`` (the paper's split: the last 20% of the clients
      hold digits 6-9, the others digits 0-5; ``alpha`` is unused).
    * ``render_mode``: ``"rgb_array"`` (the clients' label histograms, the aggregation weights and the
      accuracies) or ``None``.

    ## Version History
    * v0: initial release.
    * v0: ``render_mode="rgb_array"`` rendering (step and reset unchanged).
    """

    family = FAMILY
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        task: TaskSpec = None,
        *,
        tasks: TaskSpec = None,
        n_clients: int = 10,
        rounds: int = 50,
        local_steps: int = 5,
        learning_rate: float = 0.3,
        history: int = 5,
        partition: str = "dirichlet",
        render_mode: str | None = None,
    ) -> None:
        self.n_clients = _positive_int(n_clients, "n_clients", 2)
        self.rounds = _positive_int(rounds, "rounds")
        self.local_steps = _positive_int(local_steps, "local_steps")
        self.history = _positive_int(history, "history")
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not 0 < learning_rate < np.inf:
            raise ValueError(f"FedAggregation: learning_rate must be a positive number, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        if partition not in PARTITIONS:
            raise ValueError(f"FedAggregation: partition must be one of {list(PARTITIONS)}, got {partition!r}")
        self.partition = partition
        self.data = digits_split()
        self.observation_space = spaces.Box(0.0, 1.0, (self.n_clients, self.history + 2), dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, (self.n_clients,), dtype=np.float32)
        self._round: int | None = None
        super().__init__(task, tasks=tasks, render_mode=render_mode)

    def _apply_task(self, task: Task) -> None:
        self._xs, self._ys, self._mask = client_split(task["alpha"], task["split_seed"], self.n_clients, self.partition)
        counts = self._mask.sum(axis=1)
        self.client_sizes = counts.astype(np.int64)
        self._shares = counts / counts.sum()
        self._label_counts = self._ys.sum(axis=1)  # (n_clients, classes): the split, drawn by render

    def _reset_state(self, options: dict[str, Any]) -> np.ndarray:
        if options.get("state") is not None:
            raise ValueError("FedAggregation: reset option 'state' is not supported (episodes start from a zero model)")
        n_features = self.data.pool_x.shape[1]
        self.global_model = np.zeros((n_features, N_CLASSES))
        self._round = 0
        self._accuracy: float | None = None  # of the last aggregate (drawn by render)
        self._weights = np.full(self.n_clients, 1.0 / self.n_clients)
        self._train_clients()
        self._accuracy_history = np.repeat(self._client_accuracies[:, None], self.history, axis=1)
        return self._observation()

    def _train_clients(self) -> None:
        start = np.broadcast_to(self.global_model, (self.n_clients, *self.global_model.shape))
        self.local_models = local_training(start, self._xs, self._ys, self._mask, self.local_steps, self.learning_rate)
        self._client_accuracies = accuracy(self.local_models, self.data.eval_x, self.data.eval_y)

    def _observation(self) -> np.ndarray:
        return np.hstack([self._accuracy_history, self._weights[:, None], self._shares[:, None]]).astype(np.float32)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Aggregate the local models with the action's weights, score the aggregate, then run the next local round."""
        if self._round is None:
            self._require_reset()
        weights = normalize_allocation(box_action(action, (self.n_clients,), "FedAggregation"))
        self.global_model = np.einsum("n,ndk->dk", weights, self.local_models)
        reward = float(accuracy(self.global_model, self.data.eval_x, self.data.eval_y))
        info = {**self._info(), "weights": weights, "eval_accuracy": reward,
                "test_accuracy": float(accuracy(self.global_model, self.data.test_x, self.data.test_y)),
                "client_accuracies": self._client_accuracies.copy(), "round": self._round + 1}
        self._round += 1
        self._weights = weights
        self._accuracy = reward
        terminated = self._round >= self.rounds
        if not terminated:
            self._train_clients()
            self._accuracy_history = np.hstack([self._accuracy_history[:, 1:], self._client_accuracies[:, None]])
        return self._observation(), reward, terminated, False, info

    @property
    def state(self) -> int | None:
        """The number of finished rounds, or ``None`` before reset."""
        return self._round

    def render(self) -> np.ndarray | None:
        """A 600×400 RGB frame in ``"rgb_array"`` mode (see `draw_federation`); ``None`` otherwise.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self.render_mode != "rgb_array":
            return None
        require_reset(self._round is not None, self.family.name)
        return draw_federation(self._task, self.partition, self._label_counts, self._weights, self._client_accuracies,
                               self._accuracy, self._round, self.rounds)


FedAggregationVectorEnv = vector_env_for(FedAggregationEnv, "FedAggregationVectorEnv")


# ------------------------------------------------------------------------------------------------ references
def fedavg_policy(tasks: Any, **env_kwargs: Any) -> Any:
    """FedAvg with equally weighted clients (the paper's baseline): uniform aggregation weights."""

    def act(observations: np.ndarray) -> np.ndarray:
        return np.ones(np.asarray(observations).shape[:-1], dtype=np.float32)

    return act


def sample_weighted_policy(tasks: Any, **env_kwargs: Any) -> Any:
    """FedAvg of McMahan et al. (2017): weights proportional to the clients' sample counts (last feature)."""

    def act(observations: np.ndarray) -> np.ndarray:
        return np.asarray(observations, dtype=np.float32)[..., -1].copy()

    return act


FAMILY.reference_policies["fedavg"] = fedavg_policy
FAMILY.reference_policies["fedavg_by_size"] = sample_weighted_policy


# ------------------------------------------------------------------------------------------------ rendering
def draw_federation(task: Task, partition: str, label_counts: np.ndarray, weights: np.ndarray,
                    client_accuracies: np.ndarray, accuracy_: float | None, round_: int, rounds: int) -> np.ndarray:
    """The federation after ``round_`` rounds (600×400 RGB): each client's label histogram as a stacked bar (one
    colour per digit; the task's split), the current aggregation weights, and the accuracy of each client's local
    model beside that of the last aggregate."""
    from mtenvs.rendering import Canvas, bars, palette

    canvas = Canvas(600, 400)
    n, classes = label_counts.shape
    digit_fills = palette(classes)
    left, top, right, bottom = 40.0, 50.0, 480.0, 190.0
    canvas.text((10, 8), f"{partition} split, alpha = {task['alpha']:.3g}, seed {task['split_seed']}   round {round_} / "
                         f"{rounds}   aggregate accuracy = " + ("—" if accuracy_ is None else f"{accuracy_:.3f}"))
    canvas.text((left, top - 3), "samples per client, by digit", size=12, anchor="ld")
    canvas.draw.rectangle([left, top, right, bottom], outline=(225, 225, 225))
    tallest = float(label_counts.sum(axis=1).max())
    slot = (right - left) / n
    for i in range(n):
        y = bottom
        for digit in range(classes):
            height = (bottom - top) * label_counts[i, digit] / tallest
            if height > 0:
                canvas.draw.rectangle([left + slot * (i + 0.15), y - height, left + slot * (i + 0.85), y],
                                      fill=digit_fills[digit])
            y -= height
        canvas.text((left + slot * (i + 0.5), bottom + 3), str(i), size=11, anchor="ma")
    for digit, fill in enumerate(digit_fills):
        canvas.text((500 + 45 * (digit // 5), top + 15 * (digit % 5)), f"digit {digit}", size=11, fill=fill)
    labels = [str(i) for i in range(n)] if n <= 20 else None
    bars(canvas, (40.0, 240.0, 290.0, 360.0), list(weights), (0.0, max(0.25, float(weights.max()))), [(70, 110, 170)],
         labels, "aggregation weights")
    bars(canvas, (330.0, 240.0, 580.0, 360.0), [*client_accuracies, accuracy_ or 0.0], (0.0, 1.0),
         [(150, 150, 150)] * n + [(60, 150, 80)], [*(labels or [""] * n), "agg"],
         "accuracy: local models, aggregate (green)")
    return canvas.frame()
