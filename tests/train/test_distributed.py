"""Data-parallel training with torchrun on CPU (gloo): 2 processes agree with 1.

Both runs start from the same fixed encoder checkpoint (``encoder.pretrained_only``), so their
feature caches are identical and the comparison isolates the data-parallel head training, which
must reproduce the single-process update.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from zeroskel.train.io import load_tensors

from helpers import TINY
from helpers import run_tiny as _run


@pytest.mark.slow
def test_two_processes_agree_with_one(utd_root, tmp_path):
    # The joint stream in the spine-centred frame (the inputs before issue 13): with the torso-scaled
    # joint + motion defaults the 2-epoch encoder's features are larger and float rounding of the
    # all-reduced gradients drifts past the tolerance over the epochs (same metrics, weights within
    # 1%); the test is about the data-parallel update, not the inputs.
    inputs = ["data.origin=first_center", "data.scale=none", "data.streams=[joint]"]
    base = tmp_path / "base"
    assert _run(utd_root, base, *inputs, "--steps", "pretrain") == 0
    ckpt = base / "seed0" / "encoder" / "best.safetensors"
    fixed = [f"encoder.checkpoint={ckpt}", "encoder.pretrained_only=true", *inputs]

    single = tmp_path / "single"
    # one thread, as each torchrun process has (OMP_NUM_THREADS=1 below): the CPU convolutions may
    # round differently on another thread count, and the feature caches must be identical
    assert _run(utd_root, single, *fixed, "num_threads=1") == 0

    double = tmp_path / "double"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "zeroskel", "run", "--protocol", "utd-f1", "--data-root", str(utd_root),
           "--out", str(double), "--quiet", *TINY, *fixed]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    a = json.loads((single / "metrics.json").read_text())
    b = json.loads((double / "metrics.json").read_text())
    wa, _ = load_tensors(single / "seed0" / "head" / "best.safetensors")
    wb, _ = load_tensors(double / "seed0" / "head" / "best.safetensors")
    # the all-reduced gradients sum in another order, and the rounding drifts over the epochs: within
    # 1% of each tensor's scale (measured: 0.1%), while a wrong update (a sum for a mean, one rank's
    # batch only) moves the weights by their own size
    for k in wa:
        scale = float(wa[k].abs().max()) or 1.0
        assert float((wa[k] - wb[k]).abs().max()) <= 1e-2 * scale, k
    assert a["zsl"]["fused"]["values"] == pytest.approx(b["zsl"]["fused"]["values"], abs=1e-6)
    assert a["gzsl"]["fused"]["H"]["values"] == pytest.approx(b["gzsl"]["fused"]["H"]["values"], abs=1e-6)
