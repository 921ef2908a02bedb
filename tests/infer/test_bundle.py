"""Bundles exported from a real (tiny) UTD-MHAD run: contents, atomic re-export, loading, refusals."""
from __future__ import annotations

import json

import pytest
import torch

from zeroskel.infer.bundle import (BUNDLE_FORMAT, BundleError, build_models, export_bundle, load_bundle,
                                   write_bundle)
from zeroskel.train.io import load_tensors


def test_run_writes_a_complete_bundle(quick_run):
    b = quick_run / "bundle"
    # text_cache/ is the recognizer's embedding cache, added when another test has used the bundle
    assert sorted(p.name for p in b.iterdir() if p.name != "text_cache") == ["bundle.json", "class_text.safetensors", "encoder.safetensors",
                                                   "head.safetensors", "side_info.json"]
    info = json.loads((b / "bundle.json").read_text())
    assert info["format"] == BUNDLE_FORMAT and info["protocol"] == "utd-f1" and info["seed"] == 0
    assert info["layout"] == "kinect20" and info["input"] == {"coords": "xyz", "num_joints": 20, "num_person": 1}
    assert info["preprocess"]["length"] == 16 and info["preprocess"]["align_view"] is False
    assert info["text"]["encoder"] == "hashing:32" and info["text"]["encoder_id"] == "hashing:32"
    assert info["text"]["source"] == "side-info" and info["text"]["dim"] == 32
    voc = info["vocabulary"]
    assert len(voc["class_names"]) == 27 and sorted(voc["unseen"]) == [2, 5, 6, 8, 12, 23]
    assert voc["unseen_names"][0] == "right hand wave" and len(voc["seen_names"]) == 21
    assert set(info["gamma"]) == {"spatial", "temporal", "fused"}
    assert info["encoder"]["model"] == "shiftgcn" and info["head"]["model"] == "neuron"
    assert info["code_version"]
    for part in ("encoder", "head"):  # the run's weights, unchanged
        mine, _ = load_tensors(b / f"{part}.safetensors")
        theirs, _ = load_tensors(quick_run / "seed0" / part / "best.safetensors")
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    si = json.loads((b / "side_info.json").read_text())
    assert [c["name"] for c in si["classes"]] == voc["class_names"]


def test_load_and_build(quick_run):
    from_run = load_bundle(quick_run)  # a run directory: its bundle/
    from_dir = load_bundle(quick_run / "bundle")
    assert from_run.root == quick_run / "bundle" and from_run.info == from_dir.info
    from zeroskel.text.sideinfo import load_shipped

    assert from_dir.class_text.shape == (6, 27, load_shipped("utd-mhad").num_descriptions, 32)
    encoder, head = build_models(from_dir)
    assert not encoder.training and not any(p.requires_grad for p in head.parameters())
    in_place = load_bundle(quick_run, seed=0)
    assert in_place.info["vocabulary"] == from_dir.info["vocabulary"]


def test_reexport_is_atomic_and_leaves_no_temp_files(quick_run, tmp_path):
    out = export_bundle(quick_run, tmp_path / "b")
    first = (out / "bundle.json").read_text()
    export_bundle(quick_run, tmp_path / "b", seed=0)  # over an existing bundle
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert json.loads((out / "bundle.json").read_text())["vocabulary"] == json.loads(first)["vocabulary"]
    # the whole folder is swapped: a reader never sees a half-written bundle
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a bundle"):
        write_bundle(load_bundle(out), tmp_path / "other")
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "other"]


def test_refusals(quick_run, tmp_path):
    with pytest.raises(BundleError, match="seed 7 has no trained head"):
        export_bundle(quick_run, tmp_path / "x", seed=7)
    with pytest.raises(BundleError, match="not a run directory"):
        export_bundle(tmp_path, tmp_path / "x")
    with pytest.raises(BundleError, match="neither a bundle"):
        load_bundle(tmp_path)
    with pytest.raises(BundleError, match="bundle of seed 0, not 3"):
        load_bundle(quick_run / "bundle", seed=3)
