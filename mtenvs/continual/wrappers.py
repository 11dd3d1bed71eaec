"""Train through a task sequence: a Gymnasium wrapper and vector env that switch tasks exactly on budget.

::

    env = ContinualEnv(gym.make("mtenvs/CartPole-v0"), seq)          # one environment
    venv = make_continual_vector_env(seq, num_envs=4)                 # a Gymnasium vector env
    venv = make_continual_sb3_env(seq, n_envs=4, seed=0)              # an SB3 VecEnv
    PPO("MlpPolicy", venv).learn(seq.total_steps)

The schedule counts environment steps (calls to ``step``; resets do not count). Task ``i`` runs during steps
``[i * budget, (i + 1) * budget)``. In a vector env of ``n`` sub-envs every vector step is ``n`` environment steps;
each sub-env follows the schedule with a budget of ``budget / n`` (``budget`` must be a multiple of ``n``), so all
sub-envs switch in the same vector step, the one after which exactly ``(i + 1) * budget`` steps have been taken.

Every ``info`` carries ``task_index`` (the index in the sequence of the task that step ran on) and
``sequence_done`` (``True`` once the whole budget has been used; the environment stays on the last task). With
``seq.announce`` the step that uses up a task's budget truncates the episode (``truncated=True``,
``info["task_switch"] = True``) and the next reset starts the next task; without it, the next task is loaded into
the running episode (the state is kept) and the learner sees no boundary. ``task_index`` is there for evaluation and
logging; a learner meant to be blind to the schedule must not read it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from mtenvs.continual.sequence import TaskSequence

__all__ = ["ContinualEnv", "make_continual_sb3_env", "make_continual_vector_env"]


class ContinualEnv(gym.Wrapper):
    """Run the tasks of ``sequence`` one after the other, ``steps_per_task`` environment steps each.

    Args:
        env: an environment of the sequence's family (e.g. ``gym.make(seq.env_id)``).
        sequence: the task sequence.
        steps_per_task: the per-task budget of this environment (default ``sequence.budget``; a vector env gives
            each sub-env ``budget / num_envs``).

    Attributes:
        total_steps: environment steps taken so far.
        task_index: the index of the task the next step runs on.
    """

    def __init__(self, env: gym.Env, sequence: TaskSequence, steps_per_task: int | None = None) -> None:
        super().__init__(env)
        family = getattr(env.unwrapped, "family", None)
        if family is None or family.name != sequence.family:
            raise ValueError(f"env: the sequence runs {sequence.family} tasks, got an environment of "
                             f"{getattr(family, 'name', type(env.unwrapped).__name__)}")
        steps = sequence.budget if steps_per_task is None else steps_per_task
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"steps_per_task must be a positive integer, got {steps!r}")
        self.sequence = sequence
        self.steps_per_task = steps
        self.total_steps = 0

    @property
    def task_index(self) -> int:
        """The index of the task the next step runs on."""
        return min(self.total_steps // self.steps_per_task, len(self.sequence) - 1)

    @property
    def sequence_done(self) -> bool:
        """Whether every task's budget has been used."""
        return self.total_steps >= self.steps_per_task * len(self.sequence)

    def _annotate(self, info: dict[str, Any], index: int) -> dict[str, Any]:
        info["task_index"] = index
        info["sequence_done"] = self.sequence_done
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode on the scheduled task (a ``task`` option is refused: the schedule chooses)."""
        options = dict(options or {})
        if options.get("task") is not None:
            raise ValueError("options: the sequence chooses the task; a 'task' reset option is not allowed")
        options["task"] = self.sequence.tasks[self.task_index]
        observation, info = self.env.reset(seed=seed, options=options)
        return observation, self._annotate(info, self.task_index)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the running task; at a task's last step, truncate (announced) or load the next task."""
        index = self.task_index
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.total_steps += 1
        self._annotate(info, index)
        switch = self.total_steps % self.steps_per_task == 0 and self.total_steps < self.steps_per_task * len(
            self.sequence)
        if switch:
            if self.sequence.announce:
                truncated = True
                info["task_switch"] = True
            elif not (terminated or truncated):
                self.env.unwrapped.change_task(self.sequence.tasks[self.task_index])
        return observation, reward, terminated, truncated, info


def make_continual_vector_env(sequence: TaskSequence, num_envs: int = 1, *,
                              wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
                              autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP) -> SyncVectorEnv:
    """A Gymnasium vector env of ``num_envs`` copies of ``sequence.env_id`` following the sequence in lock step.

    Args:
        sequence: the task sequence; ``sequence.budget`` must be a multiple of ``num_envs``.
        num_envs: number of sub-environments.
        wrappers: applied to each sub-env after the schedule (e.g. an observation wrapper).
        autoreset_mode: Gymnasium's autoreset mode. The default ``SameStep`` makes every vector step one step of
            every sub-env, so all sub-envs switch in the same vector step. In ``NextStep`` mode the step after an
            episode end only resets that sub-env; each sub-env still switches after exactly ``budget / num_envs``
            of its own steps, but not necessarily in the same vector step as the others.
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs <= 0:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    if sequence.budget % num_envs:
        raise ValueError(f"budget: {sequence.budget} steps per task cannot be split evenly over {num_envs} "
                         "sub-environments; choose a budget that is a multiple of num_envs")

    def make() -> gym.Env:
        env: gym.Env = ContinualEnv(gym.make(sequence.env_id, **dict(sequence.env_kwargs)), sequence,
                                    steps_per_task=sequence.budget // num_envs)
        for wrap in wrappers:
            env = wrap(env)
        return env

    return SyncVectorEnv([make for _ in range(num_envs)], autoreset_mode=autoreset_mode)


def make_continual_sb3_env(sequence: TaskSequence, n_envs: int = 1, *, seed: int | None = None,
                           monitor: bool = True) -> Any:
    """An SB3 ``VecEnv`` following ``sequence`` (see `make_continual_vector_env`).

    With ``monitor``, SB3's ``VecMonitor`` records each episode's ``task_index`` beside its return.
    """
    from stable_baselines3.common.vec_env import VecMonitor

    from mtenvs.sb3 import SB3VecEnv

    venv = SB3VecEnv(make_continual_vector_env(sequence, n_envs))
    if seed is not None:
        venv.seed(seed)
    return VecMonitor(venv, info_keywords=("task_index",)) if monitor else venv
