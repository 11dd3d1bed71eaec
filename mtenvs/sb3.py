"""stable-baselines3 adapters: an SB3 ``VecEnv`` over mtenvs vector envs, a per-task logging callback, and a logger
that leaves no empty folder behind.

SB3 does not accept Gymnasium vector envs, and its ``make_vec_env`` gives every copy the same task. Here::

    venv = mtenvs.sb3.make_vec_env("mtenvs/CartPole-v0", n_envs=8, tasks="train", seed=0)
    model = PPO("MlpPolicy", venv, seed=0).learn(20_000, callback=mtenvs.sb3.TaskStatsCallback())

Each sub-env runs its own task (a list with one task per sub-env) or draws a new one from a task set at every
reset. Episode ends follow SB3's conventions exactly: the returned observation is already the next episode's,
``info["terminal_observation"]`` holds the final one, and ``info["TimeLimit.truncated"]`` marks time-limit ends (so
on-policy algorithms bootstrap them). Every info has the ``task_id`` of the episode it belongs to.

Without ``tensorboard_log``, SB3's ``learn`` configures a logger whose folder, ``<tempdir>/SB3-<date-time>``, it
creates and never writes to; ``without_log_folder(model)`` gives the model the same outputs with no folder.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from mtenvs.core.samplers import TaskSpec
from mtenvs.progress import Progress, ProgressOptions, progress_options

__all__ = ["ProgressCallback", "SB3VecEnv", "TaskStatsCallback", "make_vec_env", "without_log_folder"]


def split_infos(infos: Mapping[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's batched info dict (arrays + ``_key`` masks) as one dict per sub-env."""
    result: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}")
        if isinstance(value, dict):
            for i, sub in enumerate(split_infos(value, num_envs)):
                if sub and (mask is None or mask[i]):
                    result[i][key] = sub
            continue
        for i in range(num_envs):
            if mask is None or mask[i]:
                item = value[i]
                result[i][key] = item.item() if isinstance(item, np.generic) else item
    return result


class SB3VecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a Gymnasium vector env in ``SameStep`` autoreset mode.

    Seeds given through ``VecEnv.seed`` (which SB3 algorithms call with their ``seed=``) and options given through
    ``set_options`` apply at the next reset, as in SB3's own vector envs.
    """

    def __init__(self, venv: VectorEnv) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"SB3VecEnv needs a vector env with autoreset_mode='SameStep', got {mode!r}")
        self.venv = venv
        self.render_mode = getattr(venv, "render_mode", None)
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    # --------------------------------------------------------------------------------------------- core API
    def reset(self) -> Any:
        """Reset every sub-env (applying pending seeds/options) and return the observations."""
        seed: Any = None
        if any(s is not None for s in self._seeds):
            seed = list(self._seeds) if hasattr(self.venv, "envs") else self._seeds[0]
        options = self._options[0] if self._options and all(o == self._options[0] for o in self._options) else None
        if self._options and options is None:
            raise ValueError("SB3VecEnv: per-sub-env reset options differ; this vector env takes one options dict")
        obs, infos = self.venv.reset(seed=seed, options=options or None)
        self.reset_infos = split_infos(infos, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        dones = np.logical_or(terminated, truncated)
        step_infos = split_infos(infos, self.num_envs)
        if dones.any():
            final_infos = split_infos(infos.get("final_info", {}), self.num_envs)
            for i in np.flatnonzero(dones):
                # SB3 convention: the step info describes the finished episode; the reset info waits in reset_infos.
                self.reset_infos[i] = {k: v for k, v in step_infos[i].items() if k not in ("final_obs", "final_info")}
                step_infos[i] = dict(final_infos[i])
                step_infos[i]["terminal_observation"] = infos["final_obs"][i]
                step_infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, dtype=np.float32), dones, step_infos

    def close(self) -> None:
        self.venv.close()

    # ------------------------------------------------------------------------------------- attribute access
    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """Per-sub-env attribute values (the vector env's own attribute, repeated, for native vector envs)."""
        idx = self._indices(indices)
        if hasattr(self.venv, "envs"):
            return [self.venv.envs[i].get_wrapper_attr(attr_name) for i in idx]
        value = getattr(self.venv.unwrapped, attr_name)
        return [value for _ in idx]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set an attribute on sub-envs (Sync vector envs) or on the native vector env (all sub-envs at once)."""
        if hasattr(self.venv, "envs"):
            for i in self._indices(indices):
                self.venv.envs[i].set_wrapper_attr(attr_name, value)
        elif indices is None:
            setattr(self.venv.unwrapped, attr_name, value)
        else:
            raise ValueError("set_attr on a native vector env applies to all sub-envs; pass indices=None")

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Call a method of each sub-env (Sync vector envs) or once on the native vector env."""
        idx = self._indices(indices)
        if hasattr(self.venv, "envs"):
            return [self.venv.envs[i].get_wrapper_attr(method_name)(*method_args, **method_kwargs) for i in idx]
        result = getattr(self.venv.unwrapped, method_name)(*method_args, **method_kwargs)
        return [result for _ in idx]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: Any = None) -> list[bool]:
        """Whether each sub-env is wrapped with ``wrapper_class`` (always ``False`` for native vector envs)."""
        idx = self._indices(indices)
        if not hasattr(self.venv, "envs"):
            return [False for _ in idx]
        from stable_baselines3.common import env_util

        return [env_util.is_wrapped(self.venv.envs[i], wrapper_class) for i in idx]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Not supported: mtenvs vector envs do not render per sub-env through SB3."""
        raise NotImplementedError("render the single env (gym.make(..., render_mode='rgb_array')) instead")


def make_vec_env(
    env_id: str,
    n_envs: int = 1,
    *,
    tasks: TaskSpec = None,
    task: TaskSpec = None,
    seed: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    monitor: bool = True,
    info_keywords: Iterable[str] = ("task_id",),
    vector_wrappers: Sequence[Callable[[VectorEnv], VectorEnv]] = (),
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` sub-envs of ``env_id``, each on its own task.

    Args:
        env_id: an mtenvs id, e.g. ``"mtenvs/CartPole-v0"``.
        n_envs: number of sub-environments.
        tasks: one task per sub-env (a list of ``n_envs`` tasks), or a task-set name / ``TaskSet`` / sampler from
            which each sub-env draws a new task at every reset.
        task: one task for every sub-env (instead of ``tasks``).
        seed: seeds the first reset (SB3 algorithms re-seed through ``VecEnv.seed`` when given ``seed=``).
        env_kwargs: further arguments of the family env (e.g. ``{"reward": "quadratic"}``).
        monitor: wrap in SB3's ``VecMonitor`` (episode returns for SB3's logger), recording ``info_keywords``.
        vector_wrappers: applied to the Gymnasium vector env first, e.g. to show the task to the agent:
            ``[lambda v: VectorTaskObservation(v, mode="params")]``.
    """
    spec = gym.spec(env_id)
    if spec.vector_entry_point is None:
        raise ValueError(f"{env_id} has no vector entry point; mtenvs ids always have one")
    venv = gym.make_vec(env_id, num_envs=n_envs, autoreset_mode=AutoresetMode.SAME_STEP, task=task, tasks=tasks,
                        **dict(env_kwargs or {}))
    for wrap in vector_wrappers:
        venv = wrap(venv)
    vec_env: VecEnv = SB3VecEnv(venv)
    if seed is not None:
        vec_env.seed(seed)
    if monitor:
        vec_env = VecMonitor(vec_env, info_keywords=tuple(info_keywords))
    return vec_env


class TaskStatsCallback(BaseCallback):
    """Log each task's mean episode return and length to SB3's logger (``tasks/<task_id>/ep_rew_mean``).

    Reads the ``episode`` entries that ``VecMonitor`` (added by `make_vec_env`) writes with the task id, keeps
    the last ``window`` episodes per task, and records the means at the end of every rollout. ``stats`` gives the
    same numbers as a dict for programmatic use.
    """

    def __init__(self, window: int = 20, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.window = window
        self._returns: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=self.window))
        self._lengths: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=self.window))

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode")
            if episode is not None and "task_id" in info:
                self._returns[info["task_id"]].append(float(episode["r"]))
                self._lengths[info["task_id"]].append(int(episode["l"]))
        return True

    def _on_rollout_end(self) -> None:
        for task_id, values in self._returns.items():
            self.logger.record(f"tasks/{task_id}/ep_rew_mean", float(np.mean(values)))
            self.logger.record(f"tasks/{task_id}/ep_len_mean", float(np.mean(self._lengths[task_id])))

    @property
    def stats(self) -> dict[str, dict[str, float]]:
        """``{task_id: {"mean_return", "mean_length", "episodes"}}`` over the window."""
        return {task_id: {"mean_return": float(np.mean(r)), "mean_length": float(np.mean(self._lengths[task_id])),
                          "episodes": len(r)} for task_id, r in self._returns.items()}


def without_log_folder(model: Any) -> Any:
    """Give an SB3 model the logger its ``learn`` would configure, minus the empty ``SB3-<date-time>`` temp folder.

    SB3 (``stable_baselines3.common.logger.configure``) creates ``<tempdir>/SB3-<date-time>`` on every ``learn``
    of a model without ``tensorboard_log``, although its outputs (standard output with ``verbose >= 1``, else
    none) write no file. This sets a logger with the same outputs and no folder. A model with ``tensorboard_log``
    or a logger of its own is left as it is.

    Args:
        model: an SB3 algorithm (``BaseAlgorithm``).

    Returns:
        The same model, for chaining: ``without_log_folder(PPO("MlpPolicy", env)).learn(10_000)``.
    """
    import sys

    from stable_baselines3.common.logger import HumanOutputFormat, Logger

    if getattr(model, "tensorboard_log", None) is None and not getattr(model, "_custom_logger", False):
        outputs = [HumanOutputFormat(sys.stdout)] if getattr(model, "verbose", 0) >= 1 else []
        model.set_logger(Logger(folder=None, output_formats=outputs))
    return model


class ProgressCallback(BaseCallback):
    """SB3's step progress through `mtenvs.progress`: a tqdm bar on a terminal with a width, plain lines elsewhere.

    `model.learn(n, callback=ProgressCallback(ProgressOptions(leave=False, position=1)))` draws the bar of SB3's
    `progress_bar=True` (time steps done out of this call's), nested under an outer bar, without needing `rich`.

    Args:
        setting: `True` for a bar of its own, a `mtenvs.progress.ProgressOptions`, or `False` / `None` for none.

    Raises:
        ValueError: `setting` is of none of those kinds.
    """

    def __init__(self, setting: bool | ProgressOptions | None = True) -> None:
        super().__init__()
        self.setting = progress_options(setting, "setting")
        self.bar: Progress | None = None

    def _on_training_start(self) -> None:
        total = max(int(self.locals["total_timesteps"]) - int(self.model.num_timesteps), 0)
        self.bar = Progress.of(self.setting, total, desc=type(self.model).__name__, unit="step", name="setting")

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
