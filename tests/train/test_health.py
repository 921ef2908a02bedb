"""Prototype health of the official Neuron preset on real UTD-MHAD features, before and after training.

The official code's micro-prototypes must be alive: the temporal attention is not uniform over its
window and a clip's temporal prototypes do not collapse into one vector, at initialisation and after
the head has trained. (zeroskel's earlier preset failed both: entropy ratio 0.99-1.00, pairwise cosine
0.99-0.999.)
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from helpers import run_tiny

from zeroskel.models import create_model
from zeroskel.models.neuron import prototype_health

# the official head at its full prototype counts, logit scale and widths, on 64-frame clips (T' = 16,
# windows [0:5], [0:10], [0:16]) of a small encoder trained a few epochs on the seen classes
OFFICIAL = ["head.neuron_options={}", "head.options={}", "head.epochs=4", "data.length=64",
            "encoder.epochs=4", "encoder.base_channels=8"]


@pytest.fixture(scope="module")
def official_run(utd_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("health") / "utd-f1"
    assert run_tiny(utd_root, out, *OFFICIAL) == 0
    return out


def test_health_is_logged_and_summarised(official_run):
    health = json.loads((official_run / "seed0" / "health.json").read_text())
    for when in ("before", "after"):
        h = health[when]
        assert len(h["temporal_attention_entropy"]) == 3 and len(h["spatial_kept_fraction"]) == 3
        assert h["num_clips"] > 0
    assert health["before"]["spatial_norm_change"] == 0.0 and health["before"]["temporal_norm_change"] == 0.0
    assert health["after"]["spatial_norm_change"] > 0 and health["after"]["temporal_norm_change"] > 0
    metrics = json.loads((official_run / "metrics.json").read_text())
    after = metrics["health"]["after"]
    assert after["temporal_prototype_cosine"]["values"][0] == health["after"]["temporal_prototype_cosine"]
    # phase accuracies and the official either-branch metric are reported next to the headline
    zsl = metrics["zsl"]
    assert {"fused", "spatial", "temporal", "either_branch", "spatial_phase3", "temporal_phase1"} <= set(zsl)
    assert zsl["spatial"]["values"] == zsl["spatial_phase3"]["values"]  # phase-3 prediction
    assert zsl["either_branch"]["mean"] >= max(zsl["spatial"]["mean"], zsl["temporal"]["mean"])


def test_official_prototypes_are_alive_on_real_features(official_run):
    """On the run's real held-out feature maps: the official preset's temporal attention is sharper and
    its temporal prototypes far less alike than those of zeroskel's earlier preset (which collapsed),
    at initialisation, and they stay alive after training."""
    from zeroskel.train.features import load_features
    from zeroskel.train.io import load_tensors

    feats, _ = load_features(official_run / "seed0" / "features" / "holdout.safetensors")
    fmap = feats[0].float()  # (N, C, 16, V)
    assert fmap.shape[2] == 16
    _, meta = load_tensors(official_run / "seed0" / "head" / "best.safetensors")
    dims = {k: meta["model_kwargs"][k] for k in ("feat_dim", "text_dim")}
    health = {}
    for variant in ("official", "zeroskel-v1"):
        torch.manual_seed(0)
        health[variant] = prototype_health(create_model("neuron", variant=variant, **dims), fmap)
    off, v1 = health["official"], health["zeroskel-v1"]
    for e in range(3):
        assert off["temporal_attention_entropy"][e] < min(0.98, v1["temporal_attention_entropy"][e] - 0.02), health
        assert off["temporal_prototype_cosine"][e] < 0.9 < v1["temporal_prototype_cosine"][e], health
    assert min(off["spatial_kept_fraction"]) > 0.2
    trained = json.loads((official_run / "seed0" / "health.json").read_text())["after"]
    assert max(trained["temporal_attention_entropy"]) < 0.98, trained
    assert max(trained["temporal_prototype_cosine"]) < 0.9, trained


def test_official_head_gets_cumulative_temporal_text(official_run, tmp_path):
    """The run builds the class text the head scores against: cumulative temporal slots for the
    official preset (start; start+middle; start+middle+end), per-phase ones for the paper preset."""
    from zeroskel.train.head import head_temporal_text
    from zeroskel.train.run import Run
    from zeroskel.text.class_text import build_class_text, load_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_shipped

    tensor, meta = load_class_text(official_run / "text" / "class_text.safetensors")
    assert meta["temporal"] == "cumulative"
    names = meta["class_names"]
    expected = build_class_text(load_shipped("utd-mhad", names), get_text_encoder("hashing:32"), names,
                                temporal="cumulative")
    assert torch.allclose(tensor, expected, atol=1e-6)
    phase = build_class_text(load_shipped("utd-mhad", names), get_text_encoder("hashing:32"), names)
    assert torch.allclose(tensor[:4], phase[:4], atol=1e-6) and not torch.allclose(tensor[4:], phase[4:])
    paper = Run(official_run).cfg
    paper.head.variant = "paper"
    assert head_temporal_text(paper) == "phase"


def test_health_detects_uniform_attention_and_collapse():
    """The figures can fail: constant features give uniform attention, equal prototypes cosine 1."""
    torch.manual_seed(0)
    head = create_model("neuron", feat_dim=8, text_dim=6, num_spatial_protos=10, num_temporal_protos=6,
                        keep_schedule=(8, 5, 2))
    fmap = torch.ones(4, 8, 16, 20)  # every frame the same: attention over time must be uniform
    h = prototype_health(head, fmap)
    assert min(h["temporal_attention_entropy"]) > 0.999
    with torch.no_grad():
        head.temporal.prototypes.copy_(F.normalize(torch.ones(6, 8), dim=-1).expand(6, 8))
    g = torch.Generator().manual_seed(1)
    h = prototype_health(head, torch.relu(torch.randn(4, 8, 16, 20, generator=g)))
    assert h["temporal_prototype_cosine"][0] > 0.99  # identical prototypes stay identical
