"""Per-task episode statistics, in the ``info["episode"]`` format that Gymnasium and stable-baselines3 read.

At the end of every episode ``info["episode"] = {"r": return, "l": length, "t": seconds, "task_id": id}``:
the keys of Gymnasium's ``RecordEpisodeStatistics`` and SB3's ``Monitor`` (SB3 collects ``info["episode"]``
into ``model.ep_info_buffer``), plus the id of the task the episode started on. Each wrapper also keeps the
last ``buffer_length`` episodes of every task; `PerTaskStatistics.summary` reports them.

These wrappers take the place of SB3's ``Monitor``/``VecMonitor``: stacked on a Monitor they raise a
``ValueError``. Note that an SB3 algorithm given a single (non-vector) environment wraps it in a Monitor of
its own, which then overwrites ``info["episode"]`` (dropping ``task_id``); give it a ``DummyVecEnv`` of
wrapped environments instead.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers import RecordEpisodeStatistics
from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecordEpisodeStatistics

STATS_KEY = "episode"


class PerTaskStatistics:
    """The last ``buffer_length`` episodes (return, length) of every task, and the count of all of them."""

    def __init__(self, buffer_length: int = 100) -> None:
        if isinstance(buffer_length, bool) or not isinstance(buffer_length, (int, np.integer)) or buffer_length < 1:
            raise ValueError(f"buffer_length must be a positive integer, got {buffer_length!r}")
        self.buffer_length = int(buffer_length)
        self._returns: dict[str, deque[float]] = {}
        self._lengths: dict[str, deque[int]] = {}
        self._counts: dict[str, int] = {}

    def add(self, task_id: str, episode_return: float, episode_length: int) -> None:
        """Record one finished episode of ``task_id``."""
        if task_id not in self._counts:
            self._returns[task_id] = deque(maxlen=self.buffer_length)
            self._lengths[task_id] = deque(maxlen=self.buffer_length)
            self._counts[task_id] = 0
        self._returns[task_id].append(float(episode_return))
        self._lengths[task_id].append(int(episode_length))
        self._counts[task_id] += 1

    def summary(self) -> dict[str, dict[str, float]]:
        """``{task_id: {"mean_return", "std_return", "mean_length", "episodes"}}``.

        Means and the (population, ``ddof=0``) standard deviation are over the buffered episodes, the last
        ``buffer_length`` of each task; ``episodes`` counts every finished episode of the task.
        """
        return {
            task_id: {
                "mean_return": float(np.mean(self._returns[task_id])),
                "std_return": float(np.std(self._returns[task_id])),
                "mean_length": float(np.mean(self._lengths[task_id])),
                "episodes": count,
            }
            for task_id, count in self._counts.items()
        }

    def clear(self) -> None:
        """Forget every recorded episode."""
        self._returns.clear()
        self._lengths.clear()
        self._counts.clear()


def _episode_writers_below(env: gym.Env) -> list[str]:
    """Names of wrappers under ``env`` (itself included) that already write ``info["episode"]``."""
    found = []
    while isinstance(env, gym.Wrapper):
        cls = type(env)
        if isinstance(env, RecordEpisodeStatistics) or (
                cls.__name__ == "Monitor" and cls.__module__.startswith("stable_baselines3")):
            found.append(cls.__name__)
        env = env.env
    return found


def _stacked_error(owner: str, where: str) -> ValueError:
    return ValueError(
        f"{owner}: info already has an 'episode' entry ({where}); do not stack it with SB3's Monitor/VecMonitor or "
        "Gymnasium's RecordEpisodeStatistics: it writes the same statistics plus 'task_id', so use it instead of them"
    )


class TaskEpisodeStatistics(RecordEpisodeStatistics):
    """Episode return, length and time in ``info["episode"]`` with the episode's ``task_id``; per-task buffers.

    A subclass of Gymnasium's ``RecordEpisodeStatistics`` (so ``return_queue``, ``length_queue``,
    ``time_queue`` and ``episode_count`` cover all tasks), plus `per_task` and `summary`.
    ``task_id`` is the id of the task the episode started on (``info["task_id"]`` at reset).

    Args:
        env: an environment whose reset ``info`` has ``"task_id"`` (every mtenvs family environment).
        buffer_length: how many recent episodes each buffer keeps (overall and per task).

    Raises:
        ValueError: if a wrapper below already writes ``info["episode"]`` (SB3 ``Monitor``, Gymnasium
            ``RecordEpisodeStatistics``), or an episode ends with ``"episode"`` already in ``info``.
    """

    def __init__(self, env: gym.Env, buffer_length: int = 100) -> None:
        owner = "TaskEpisodeStatistics"
        below = _episode_writers_below(env)
        if below:
            raise _stacked_error(owner, f"written by {', '.join(below)} below it")
        #: Buffers of the recent episodes of every task.
        self.per_task = PerTaskStatistics(buffer_length)
        super().__init__(env, buffer_length=buffer_length, stats_key=STATS_KEY)
        gym.utils.RecordConstructorArgs.__init__(self, buffer_length=buffer_length)
        self._task_id: str | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset and start counting a new episode on the task in ``info["task_id"]``."""
        obs, info = super().reset(seed=seed, options=options)
        if "task_id" not in info:
            raise ValueError("TaskEpisodeStatistics: the environment's reset info has no 'task_id'; "
                             "wrap an mtenvs family environment")
        self._task_id = str(info["task_id"])
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; at the end of an episode add ``info["episode"]`` and record the episode."""
        # Written out instead of calling RecordEpisodeStatistics.step, which only asserts (an assertion that
        # ``python -O`` removes) when info already holds the statistics key.
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.episode_returns += float(reward)
        self.episode_lengths += 1
        if terminated or truncated:
            if STATS_KEY in info:
                raise _stacked_error("TaskEpisodeStatistics", "written by a wrapper or environment below it")
            elapsed = round(time.perf_counter() - self.episode_start_time, 6)
            info[STATS_KEY] = {"r": self.episode_returns, "l": self.episode_lengths, "t": elapsed,
                               "task_id": self._task_id}
            self.time_queue.append(elapsed)
            self.return_queue.append(self.episode_returns)
            self.length_queue.append(self.episode_lengths)
            if self._task_id is not None:
                self.per_task.add(self._task_id, self.episode_returns, self.episode_lengths)
            self.episode_count += 1
            self.episode_start_time = time.perf_counter()
        return obs, reward, terminated, truncated, info

    def summary(self) -> dict[str, dict[str, float]]:
        """Per-task statistics of the recent episodes; see `PerTaskStatistics.summary`."""
        return self.per_task.summary()


class VectorTaskEpisodeStatistics(VectorRecordEpisodeStatistics):
    """`TaskEpisodeStatistics` for vector environments, in every autoreset mode.

    A subclass of Gymnasium's vector ``RecordEpisodeStatistics``, which computes ``infos["episode"]``
    (``"r"``, ``"l"``, ``"t"`` arrays and the ``infos["_episode"]`` mask); this class adds
    ``infos["episode"]["task_id"]`` (an object array, ``None`` for sub-envs that did not finish) and the
    per-task buffers. It needs ``infos["task_id"]``, which native mtenvs vector envs and ``SyncVectorEnv`` s of
    family envs provide.

    Args:
        env: an mtenvs vector environment.
        buffer_length: how many recent episodes each buffer keeps (overall and per task).
    """

    def __init__(self, env: VectorEnv, buffer_length: int = 100) -> None:
        self.per_task = PerTaskStatistics(buffer_length)
        super().__init__(env, buffer_length=buffer_length, stats_key=STATS_KEY)
        #: The task each sub-env's current episode started on.
        self.episode_task_ids = np.full(self.num_envs, None, dtype=object)

    def _task_ids(self, infos: dict[str, Any]) -> np.ndarray:
        if "task_id" not in infos:
            raise ValueError("VectorTaskEpisodeStatistics: the environment's infos have no 'task_id'; "
                             "wrap an mtenvs vector environment")
        return np.asarray(infos["task_id"], dtype=object)

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset (all or ``options["reset_mask"]`` sub-envs) and note the task each new episode runs."""
        mask = None if options is None else options.get("reset_mask")
        obs, infos = super().reset(seed=seed, options=None if options is None else dict(options))
        ids = self._task_ids(infos)
        if mask is None:
            self.episode_task_ids = ids.copy()
        else:
            self.episode_task_ids[mask] = ids[mask]
        return obs, infos

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step; for every sub-env whose episode ended add its ``task_id`` and record the episode."""
        restarted = self.prev_dones.copy()
        obs, rewards, terminated, truncated, infos = super().step(actions)
        ids = self._task_ids(infos)
        same_step = self._autoreset_mode == AutoresetMode.SAME_STEP
        if not same_step and restarted.any():  # NextStep: these sub-envs were reset during this step
            self.episode_task_ids[restarted] = ids[restarted]
        dones = self.prev_dones
        if dones.any():
            stats = infos[STATS_KEY]
            stats["task_id"] = np.where(dones, self.episode_task_ids, None)
            for i in np.flatnonzero(dones):
                self.per_task.add(self.episode_task_ids[i], stats["r"][i], stats["l"][i])
            if same_step:  # SameStep: these sub-envs were reset at the end of this step
                self.episode_task_ids[dones] = ids[dones]
        return obs, rewards, terminated, truncated, infos

    def summary(self) -> dict[str, dict[str, float]]:
        """Per-task statistics of the recent episodes; see `PerTaskStatistics.summary`."""
        return self.per_task.summary()
