"""Test configuration: one torch thread (small networks are several times slower with two on a busy machine), and
every test that needs a Ray session marked ``slow`` (a session starts worker processes; ``-m "not slow"`` skips them)."""

import os
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

torch.set_num_threads(1)

import toy_family  # noqa: E402,F401  (registers a test-only family; it joins the conformance sweep)


@pytest.fixture(scope="session")
def ray_cluster() -> Any:
    """One local Ray session for every test that needs Ray (started outside the backends, so closing a communicator or
    a worker pool must leave it running); skips when Ray is not installed."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the ``ray_cluster`` session are ``slow``: they start Ray workers and kill actors on purpose."""
    for item in items:
        if "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
