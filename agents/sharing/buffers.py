"""Replay buffers as plain arrays: what an agent publishes and what a borrowing agent loads (paper 000 §4).

A transition is the paper's tuple (observation embedding, action, reward, termination flag, next observation
embedding), plus SB3's time-out flag so that a truncated episode is not learned as a termination. Arrays travel in
their smallest exact dtypes (RAM bytes, 18 actions as ``uint8``, flags as ``bool``), so the bytes counted by the
communicator are the buffer's real size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TRANSITION_FIELDS", "export_transitions", "import_transitions", "transitions_nbytes"]

#: The arrays of an exported buffer, in order.
TRANSITION_FIELDS = ("observations", "actions", "rewards", "next_observations", "dones", "timeouts")


def export_transitions(replay_buffer: Any, cap: int | None = None) -> dict[str, np.ndarray]:
    """The newest ``cap`` transitions (all if ``None``) of an SB3 single-env ``ReplayBuffer``, oldest first."""
    if replay_buffer.n_envs != 1:
        raise ValueError(f"export_transitions supports single-env buffers, got n_envs={replay_buffer.n_envs}")
    if replay_buffer.optimize_memory_usage:
        raise ValueError("export_transitions needs a buffer built with optimize_memory_usage=False")
    size = replay_buffer.size()
    n = size if cap is None else min(size, int(cap))
    # chronological order: the ring buffer's oldest entry sits at ``pos`` once it is full
    start = replay_buffer.pos - n
    index = np.arange(start, replay_buffer.pos) % replay_buffer.buffer_size
    return {
        "observations": replay_buffer.observations[index, 0].copy(),
        "actions": replay_buffer.actions[index, 0].reshape(n).astype(np.uint8),
        "rewards": replay_buffer.rewards[index, 0].astype(np.float32),
        "next_observations": replay_buffer.next_observations[index, 0].copy(),
        "dones": replay_buffer.dones[index, 0].astype(bool),
        "timeouts": replay_buffer.timeouts[index, 0].astype(bool),
    }


def import_transitions(replay_buffer: Any, transitions: dict[str, np.ndarray]) -> int:
    """Append exported transitions to an SB3 single-env ``ReplayBuffer`` (newest kept if they overflow it).

    Writes the arrays directly rather than calling ``ReplayBuffer.add`` once per transition (same result, one
    vectorized copy). Returns the number of transitions written.
    """
    missing = [f for f in TRANSITION_FIELDS if f not in transitions]
    if missing:
        raise ValueError(f"transitions are missing the arrays {missing}; expected {list(TRANSITION_FIELDS)}")
    n = len(transitions["rewards"])
    if any(len(transitions[f]) != n for f in TRANSITION_FIELDS):
        raise ValueError("all transition arrays must have the same length")
    if replay_buffer.n_envs != 1 or replay_buffer.optimize_memory_usage:
        raise ValueError("import_transitions needs a single-env buffer built with optimize_memory_usage=False")
    keep = min(n, replay_buffer.buffer_size)
    sl = slice(n - keep, n)
    index = (replay_buffer.pos + np.arange(keep)) % replay_buffer.buffer_size
    replay_buffer.observations[index, 0] = transitions["observations"][sl]
    replay_buffer.next_observations[index, 0] = transitions["next_observations"][sl]
    replay_buffer.actions[index, 0] = transitions["actions"][sl].reshape(keep, *replay_buffer.actions.shape[2:])
    replay_buffer.rewards[index, 0] = transitions["rewards"][sl]
    replay_buffer.dones[index, 0] = transitions["dones"][sl]
    replay_buffer.timeouts[index, 0] = transitions["timeouts"][sl]
    end = replay_buffer.pos + keep
    replay_buffer.full = replay_buffer.full or end >= replay_buffer.buffer_size
    replay_buffer.pos = end % replay_buffer.buffer_size
    return keep


def transitions_nbytes(transitions: dict[str, np.ndarray]) -> int:
    """Total bytes of the exported arrays."""
    return int(sum(np.asarray(a).nbytes for a in transitions.values()))
