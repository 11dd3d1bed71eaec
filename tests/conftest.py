"""Test configuration: one torch thread (small networks are several times slower with two on a busy machine)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)
