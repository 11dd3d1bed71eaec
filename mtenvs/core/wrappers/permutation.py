"""Entity permutation: present interchangeable entities (assets, agents, objects) in a random order per episode.

For families whose entities are interchangeable, the order in which they are listed carries no
information; a policy that relies on it does not generalize. Each episode this wrapper draws a permutation
``perm`` of the ``n`` entities and shows entity ``perm[j]`` at position ``j``:

* observations: ``obs_shown.take(perm, entity axis)`` (Box observations, or the ``keys`` of a Dict);
* actions: entry ``j`` of the agent's action is meant for entity ``perm[j]``, so it is moved back to
  position ``perm[j]`` before reaching the environment (Box or MultiDiscrete actions with an entity axis);
* ``info["permutation"]`` is ``perm`` (an int64 array), on every reset and step.

Leading non-entity entries along the entity axis (e.g. cash before the assets of a portfolio) stay in
place: ``obs_offset`` / ``action_offset`` of them. Permutations come from a generator derived from the reset
seed and independent of the environment's own, so the wrapped environment runs exactly the same dynamics.
Wrapped env plus a policy that permutes accordingly equals the unwrapped env plus the policy, step for step.

Observation bounds that differ between entities are widened to their envelope (the smallest low and the
largest high over the entities), so permuted observations stay inside the declared space; action bounds
must be the same for every entity (otherwise a permuted action could leave the inner action space).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: Tag mixed into the permutation generator's seed, so that it never shares a stream with tasks or dynamics.
PERMUTATION_STREAM = 0x9E4D


def _axis(axis: Any, ndim: int, field: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"EntityPermutation: {field} must be an integer axis in [{-ndim}, {ndim - 1}], got {axis!r}")
    return int(axis) % ndim


def _entity_slice(shape: tuple[int, ...], axis: int, offset: int, field: str) -> int:
    """Number of entities along ``axis`` after ``offset`` leading non-entity entries."""
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or not 0 <= offset < shape[axis]:
        raise ValueError(f"EntityPermutation: {field} must be an integer in [0, {shape[axis] - 1}], got {offset!r}")
    return shape[axis] - int(offset)


def _envelope(values: np.ndarray, axis: int, offset: int, reduce: Any) -> np.ndarray:
    """``values`` with the entity entries along ``axis`` replaced by their ``reduce`` (min or max) over entities."""
    out = values.copy()
    index = [slice(None)] * values.ndim
    index[axis] = slice(offset, None)
    entities = out[tuple(index)]
    out[tuple(index)] = reduce(entities, axis=axis, keepdims=True)
    return out


def _permutable_box(space: spaces.Box, axis: int, offset: int) -> spaces.Box:
    low = _envelope(space.low, axis, offset, np.min)
    high = _envelope(space.high, axis, offset, np.max)
    if np.array_equal(low, space.low) and np.array_equal(high, space.high):
        return space
    return spaces.Box(low, high, dtype=space.dtype)


class EntityPermutation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Show the entities of each episode in a fresh random order (see the module docstring).

    Args:
        env: any environment whose observations (or some Dict keys) and actions have an entity axis.
        obs_axis: the entity axis of the observation (of each key in ``keys``).
        action_axis: the entity axis of the action, or ``None`` to pass actions through unchanged.
        keys: for Dict observations, the keys that have an entity axis (the others pass through).
        obs_offset: leading non-entity entries along ``obs_axis``, left in place.
        action_offset: leading non-entity entries along ``action_axis`` (e.g. cash), left in place.

    Raises:
        ValueError: for an axis or offset outside the spaces, entity counts that disagree between the
            observation (keys) and the action, action bounds that differ between entities, or an action of
            the wrong shape.
    """

    def __init__(self, env: gym.Env, obs_axis: int = 0, action_axis: int | None = 0, keys: Sequence[str] | None = None,
                 obs_offset: int = 0, action_offset: int = 0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, obs_axis=obs_axis, action_axis=action_axis, keys=keys,
                                                 obs_offset=obs_offset, action_offset=action_offset)
        gym.Wrapper.__init__(self, env)
        counts: dict[str, int] = {}
        #: Entity axis of the observation, per Dict key (``None`` for a Box observation).
        self._obs_axes: dict[str | None, int] = {}
        inner = env.observation_space
        if isinstance(inner, spaces.Dict):
            if not keys or isinstance(keys, str):
                raise ValueError(f"EntityPermutation: a Dict observation needs keys= (a list of the keys with an entity "
                                 f"axis); keys are {list(inner.spaces)}")
            unknown = [k for k in keys if k not in inner.spaces]
            if unknown:
                raise ValueError(f"EntityPermutation: keys {unknown} are not in the observation; keys are {list(inner.spaces)}")
            shown = dict(inner.spaces)
            for key in keys:
                shown[key] = self._observation_box(inner.spaces[key], obs_axis, obs_offset, key, counts)
            self.observation_space = spaces.Dict(shown)
        elif keys is not None:
            raise ValueError(f"EntityPermutation: keys= is only for Dict observations, got {type(inner).__name__}")
        else:
            self.observation_space = self._observation_box(inner, obs_axis, obs_offset, None, counts)
        self._keys = tuple(keys) if keys else None
        self._obs_offset = int(obs_offset)
        self._action_axis = None if action_axis is None else self._check_action(action_axis, action_offset, counts)
        self._action_offset = int(action_offset)
        if len(set(counts.values())) > 1:
            raise ValueError(f"EntityPermutation: entity counts disagree: {counts}")
        #: The number of entities.
        self.num_entities = next(iter(counts.values()))
        self._rng: np.random.Generator | None = None
        self._perm = np.arange(self.num_entities)
        self._obs_index = self._action_index = np.arange(0)
        self._set_permutation(self._perm)

    def _observation_box(self, space: gym.Space, axis: Any, offset: Any, key: str | None,
                         counts: dict[str, int]) -> spaces.Box:
        field = "observation" if key is None else f"observation[{key!r}]"
        if not isinstance(space, spaces.Box) or len(space.shape) == 0:
            raise ValueError(f"EntityPermutation: {field} must be a Box with an entity axis, got {space}")
        axis = _axis(axis, len(space.shape), "obs_axis")
        counts[field] = _entity_slice(space.shape, axis, offset, "obs_offset")
        self._obs_axes[key] = axis
        return _permutable_box(space, axis, int(offset))

    def _check_action(self, axis: Any, offset: Any, counts: dict[str, int]) -> int:
        space = self.env.action_space
        if isinstance(space, spaces.Box):
            bounds = [space.low, space.high]
        elif isinstance(space, spaces.MultiDiscrete):
            bounds = [space.nvec, space.start]
        else:
            raise ValueError(f"EntityPermutation: actions must be a Box or MultiDiscrete with an entity axis (or pass "
                             f"action_axis=None), got {space}")
        axis = _axis(axis, len(space.shape), "action_axis")
        counts["action"] = _entity_slice(space.shape, axis, offset, "action_offset")
        index = [slice(None)] * len(space.shape)
        index[axis] = slice(int(offset), None)
        for values in bounds:
            entities = values[tuple(index)]
            if not np.all(entities == entities.take([0], axis=axis)):
                raise ValueError("EntityPermutation: the action bounds must be the same for every entity, so that a "
                                 f"permuted action stays inside the action space; got {space}")
        return axis

    def _set_permutation(self, perm: np.ndarray) -> None:
        self._perm = perm
        self._obs_index = np.concatenate([np.arange(self._obs_offset), self._obs_offset + perm])
        inverse = np.argsort(perm)
        self._action_index = np.concatenate([np.arange(self._action_offset), self._action_offset + inverse])

    @property
    def permutation(self) -> np.ndarray:
        """The current episode's permutation: position ``j`` shows entity ``permutation[j]``."""
        return self._perm.copy()

    def _permute(self, obs: Any) -> Any:
        if self._keys is None:
            return np.take(obs, self._obs_index, axis=self._obs_axes[None])
        shown = dict(obs)
        for key in self._keys:
            shown[key] = np.take(obs[key], self._obs_index, axis=self._obs_axes[key])
        return shown

    def _unpermute(self, action: Any) -> Any:
        if self._action_axis is None:
            return action
        array = np.asarray(action)
        shape = self.action_space.shape
        if array.shape != shape:
            raise ValueError(f"EntityPermutation: action must have shape {shape}, got {array.shape}")
        return np.take(array, self._action_index, axis=self._action_axis)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the environment and draw this episode's permutation."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(None if seed is None else [PERMUTATION_STREAM, int(seed)])
        obs, info = self.env.reset(seed=seed, options=options)
        self._set_permutation(self._rng.permutation(self.num_entities))
        return self._permute(obs), {**info, "permutation": self.permutation}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Move each action entry to its entity, step, and present the observation in this episode's order."""
        obs, reward, terminated, truncated, info = self.env.step(self._unpermute(action))
        return self._permute(obs), reward, terminated, truncated, {**info, "permutation": self.permutation}
