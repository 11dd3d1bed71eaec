"""The Atari sharing system on Ray: agents and the hub's store in actors, the same records and traffic as in process,
also when an agent's actor or the hub's actor is killed between rounds."""

from __future__ import annotations

from typing import Any

import pytest
from identical import assert_identical

pytest.importorskip("ale_py")

from agents.sharing.agent import LearnerConfig
from agents.sharing.simnet import SimilarityMatcher, SimNetConfig
from agents.sharing.system import SharingSystem

GAMES = ["Breakout", "Pong"]
LEARNER = LearnerConfig(steps_per_task=80, learning_starts=30, buffer_size=200, buffer_cap=50, offline_steps=5,
                        fisher_samples=10, target_update_interval=30, max_episode_steps=40)
SIMNET = SimNetConfig(steps=40, learning_starts=10, target_update_interval=20, max_episode_steps=40)


def run(backend: str, kill: dict[int, Any] | None = None, **options: Any) -> tuple[list[dict[str, Any]], Any]:
    system = SharingSystem(GAMES, 2, LEARNER, None, SIMNET, SimilarityMatcher(tau=None), seed=5, backend=backend,
                           backend_options=options or None)
    try:
        while system.round < len(GAMES):
            if kill and system.round in kill:
                import ray

                ray.kill(system.pool.actor(kill[system.round]))
            system.step()
        records = [r.as_dict() for r in system.records]
        for record in records:
            record.pop("wall_time")
        return records, (system.comm.stats.as_dict(), dict(system.pool.restarts))
    finally:
        system.close()


def test_sharing_on_ray_equals_in_process_through_agent_and_hub_deaths(ray_cluster: Any) -> None:
    local, (local_stats, _) = run("local")
    assert any(r["borrowed"] for r in local)  # round 1 borrows through the hub
    remote, (remote_stats, restarts) = run("ray", kill={1: 0})
    assert_identical(remote, local)
    assert_identical(remote_stats, local_stats)
    assert restarts == {0: 1, 1: 0, "server": 0}
    remote, (_, restarts) = run("ray", kill={1: "server"}, checkpoint_every=2)
    assert_identical(remote, local)
    assert restarts == {0: 0, 1: 0, "server": 1}
