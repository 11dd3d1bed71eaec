"""Test configuration: one torch thread (small networks are several times slower with two on a busy machine)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)

import toy_family  # noqa: E402,F401  (registers a test-only family; it joins the conformance sweep)
