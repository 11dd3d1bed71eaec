"""Test configuration: one torch thread (small networks are several times slower with two on a busy machine)."""

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
