"""The hub and buffer transport: matching, exact byte accounting through the Communicator, buffer round trips."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from agents.common.communication import LocalCommunicator
from agents.sharing.buffers import TRANSITION_FIELDS, export_transitions, import_transitions, transitions_nbytes
from agents.sharing.hub import Hub, Publication
from agents.sharing.simnet import SimilarityMatcher

OBS = spaces.Box(0, 255, (128,), np.uint8)
ACT = spaces.Discrete(18)


def _buffer(size: int) -> ReplayBuffer:
    return ReplayBuffer(size, OBS, ACT, device="cpu", handle_timeout_termination=True)


def _fill(buffer: ReplayBuffer, n: int, seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    added = []
    for _ in range(n):
        obs, nxt = rng.integers(0, 256, (1, 128), dtype=np.uint8), rng.integers(0, 256, (1, 128), dtype=np.uint8)
        action, reward = rng.integers(0, 18, (1,)), rng.normal(size=1).astype(np.float32)
        done, timeout = bool(rng.random() < 0.2), bool(rng.random() < 0.1)
        buffer.add(obs, nxt, action, reward, np.array([done]), [{"TimeLimit.truncated": timeout}])
        added.append((obs[0], int(action[0]), float(reward[0]), nxt[0], done, timeout))
    return added


def _publication(rng: np.random.Generator, round_: int, simnet: np.ndarray, n: int = 30, label: str = "Pong") -> Publication:
    buffer = {"observations": rng.integers(0, 256, (n, 128), dtype=np.uint8),
              "actions": rng.integers(0, 18, n).astype(np.uint8), "rewards": rng.normal(size=n).astype(np.float32),
              "next_observations": rng.integers(0, 256, (n, 128), dtype=np.uint8),
              "dones": rng.random(n) < 0.1, "timeouts": np.zeros(n, bool)}
    weights = {"q_net.0.weight": rng.normal(size=(4, 128)).astype(np.float32),
               "q_net.0.bias": rng.normal(size=4).astype(np.float32)}
    return Publication(round_, simnet.astype(np.float32), buffer, weights, label)


def test_export_is_chronological_after_wraparound_and_imports_back() -> None:
    source = _buffer(5)
    added = _fill(source, 8)
    exported = export_transitions(source)
    assert list(exported) == list(TRANSITION_FIELDS) and len(exported["rewards"]) == 5
    for k, (obs, action, reward, nxt, done, timeout) in enumerate(added[3:]):
        assert np.array_equal(exported["observations"][k], obs) and np.array_equal(exported["next_observations"][k], nxt)
        assert (exported["actions"][k], exported["rewards"][k], exported["dones"][k], exported["timeouts"][k]) == (
            action, np.float32(reward), done, timeout)
    assert len(export_transitions(source, cap=2)["rewards"]) == 2
    assert np.array_equal(export_transitions(source, cap=2)["rewards"], exported["rewards"][-2:])
    target = _buffer(20)
    assert import_transitions(target, exported) == 5
    assert target.size() == 5
    again = export_transitions(target)
    for name in TRANSITION_FIELDS:
        assert np.array_equal(again[name], exported[name])
    assert transitions_nbytes(exported) == 5 * (128 + 1 + 4 + 128 + 1 + 1)


def test_import_rejects_incomplete_transitions() -> None:
    with pytest.raises(ValueError, match="missing"):
        import_transitions(_buffer(4), {"rewards": np.zeros(2)})


def test_hub_replies_with_the_nearest_match_and_counts_every_byte() -> None:
    rng = np.random.default_rng(0)
    comm = LocalCommunicator()
    hub = Hub(comm, SimilarityMatcher(tau=1.0))
    centres = {0: np.zeros(10), 1: np.full(10, 5.0)}
    pubs = {agent: _publication(rng, 0, centre, label=f"game{agent}") for agent, centre in centres.items()}
    hub.publish(pubs)
    expected = sum(transitions_nbytes(p.buffer) + sum(w.nbytes for w in p.weights.values()) + p.simnet.nbytes
                   + 8 + len(p.label) for p in pubs.values())  # + the round (int64) and the label (UTF-8)
    assert comm.stats.rounds == 1 and comm.stats.bytes == expected
    assert set(hub.store) == {(0, 0), (1, 0)}

    comm.stats.reset()
    query = {2: np.full(10, 5.1), 3: np.full(10, 2.5)}  # agent 2 is near agent 1's game, agent 3 near nothing
    replies = hub.query(query)
    assert replies[2].matched and replies[2].source == (1, 0) and replies[2].label == "game1"
    assert replies[2].distance == pytest.approx(np.sqrt(10) * 0.1, rel=1e-6)
    assert not replies[3].matched
    for name in TRANSITION_FIELDS:
        assert np.array_equal(replies[2].buffer[name], pubs[1].buffer[name])  # type: ignore[index]
    sent_back = transitions_nbytes(pubs[1].buffer) + sum(w.nbytes for w in pubs[1].weights.values())
    reply_bytes = 1 + 8 + 8 + 8 + sent_back + len("game1")  # matched, source agent, source round, distance, arrays, label
    assert comm.stats.rounds == 2
    assert comm.stats.bytes == 2 * 80 + reply_bytes + 1  # two float64 queries, one match, one bare "no match"
    assert comm.stats.bytes_received[2] == reply_bytes


def test_received_buffers_are_copies() -> None:
    rng = np.random.default_rng(1)
    hub = Hub(LocalCommunicator(), SimilarityMatcher(tau=None))
    pub = _publication(rng, 0, np.zeros(3))
    hub.publish({0: pub})
    reply = hub.query({1: np.zeros(3)})[1]
    reply.buffer["rewards"][:] = 99.0  # type: ignore[index]
    assert not np.any(hub.store[(0, 0)].buffer["rewards"] == 99.0)


def test_empty_hub_answers_no_match() -> None:
    hub = Hub(LocalCommunicator(), SimilarityMatcher(tau=None))
    assert not hub.query({0: np.zeros(3)})[0].matched
