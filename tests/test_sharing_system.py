"""The N-agent sharing system at toy size: permutations, the borrowing rule, and the messages it sends."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

from agents.common.communication import LocalCommunicator
from agents.sharing.agent import LearnerConfig, SharingAgent
from agents.sharing.buffers import transitions_nbytes
from agents.sharing.hub import Reply
from agents.sharing.simnet import SimilarityMatcher, SimNetConfig
from agents.sharing.system import SharingSystem

GAMES = ["Breakout", "Pong"]
LEARNER = LearnerConfig(steps_per_task=120, learning_starts=40, buffer_size=500, buffer_cap=80, offline_steps=10,
                        fisher_samples=20, target_update_interval=40, max_episode_steps=60)
SIMNET = SimNetConfig(steps=60, learning_starts=20, target_update_interval=20, max_episode_steps=60)


def test_sharing_system_borrows_from_the_previous_round_through_the_communicator() -> None:
    comm = LocalCommunicator()
    system = SharingSystem(GAMES, 2, LEARNER, comm, SIMNET, SimilarityMatcher(tau=None), seed=3)
    assert all(sorted(seq) == GAMES for seq in system.sequences)
    records = system.learn(len(GAMES)).records
    system.close()
    assert [(r.agent, r.round) for r in records] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert not any(r.borrowed for r in records if r.round == 0)  # nothing published yet
    second = [r for r in records if r.round == 1]
    assert all(r.borrowed and r.borrowed_transitions == 80 and r.source[1] == 0 for r in second)  # type: ignore[index]
    assert all(r.source_game == system.sequences[r.source[0]][0] for r in second)  # type: ignore[index]
    assert all(r.own_frames == 120 and r.simnet_frames == 60 for r in records)
    assert comm.stats.rounds == 2 * 3  # per round: query gather, reply scatter, publish gather
    publications = [system.agents[i].publication(1, system.sequences[i][1]) for i in range(2)]
    one_buffer = transitions_nbytes(publications[0].buffer)
    assert comm.stats.bytes > 2 * 2 * one_buffer  # 4 published buffers (+ 2 borrowed ones) dominate the traffic


def test_isolated_agent_learns_each_game_once_without_messages() -> None:
    system = SharingSystem(GAMES, 1, LEARNER, sharing=False, seed=0)
    records = system.learn(len(GAMES)).records
    system.close()
    assert sorted(r.game for r in records) == GAMES
    assert not any(r.borrowed for r in records) and all(r.simnet_frames == 0 for r in records)
    assert all(len(r.curve_frames) == len(r.curve_returns) >= 1 for r in records)
    model = system.agents[0].model
    assert model.fisher is not None and model.anchor is not None  # consolidated after every task
    with pytest.raises(ValueError, match="rounds are done"):
        system.step()


def test_scenario_two_starts_from_the_lenders_weights() -> None:
    lender = SharingAgent(0, LEARNER, None, seed=1)
    lender.learn_task("Breakout", 0)
    weights = {k: v.numpy().copy() for k, v in lender.model.q_net.state_dict().items()}
    zero = LearnerConfig(**{**LEARNER.__dict__, "offline_steps": 3, "learning_rate": 0.0})  # updates change nothing
    borrower = SharingAgent(1, zero, None, seed=2)
    reply = Reply(True, (0, 0), 0.0, {"observations": np.zeros((5, 128), np.uint8), "actions": np.zeros(5, np.uint8),
                                      "rewards": np.zeros(5, np.float32),
                                      "next_observations": np.zeros((5, 128), np.uint8),
                                      "dones": np.zeros(5, bool), "timeouts": np.zeros(5, bool)}, weights, "Breakout")
    borrower.learn_task("Breakout", 0, reply)
    for name, value in borrower.model.q_net.state_dict().items():  # exactly the lender's
        assert th.equal(value, th.as_tensor(weights[name]))
    assert borrower.records[0].borrowed and borrower.records[0].borrowed_transitions == 5


def test_system_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="distinct"):
        SharingSystem(["Pong", "Pong"], 1, LEARNER, sharing=False)
    with pytest.raises(ValueError, match="n_agents"):
        SharingSystem(GAMES, 0, LEARNER, sharing=False)
    with pytest.raises(ValueError, match="needs a matcher"):
        SharingSystem(GAMES, 2, LEARNER)
