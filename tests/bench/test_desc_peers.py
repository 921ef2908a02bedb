"""The description-level peers (purls, star, revise, jpose) on real UTD-MHAD data: a tiny bench grid
(shared encoder, the shipped side information's parts / verb-noun / PURLS slots, the layout's body-part
map) and a few training steps of each head on the grid's cached features."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from helpers import fit_steps

from zeroskel.bench.bench import METHODS, make_spec, run_bench
from zeroskel.train.head import head_kwargs, load_head
from zeroskel.train.io import load_tensors

PEERS = ("purls", "star", "star-transductive", "revise", "jpose")
TINY = ["encoder.base_channels=4", "encoder.epochs=1", "data.length=16", "extract.views=1", "head.epochs=2",
        "head.min_steps=0", "head.batch_size=32", "text.encoder=hashing:32", "progress=false",
        "eval.validation_encoder=shared", "eval.val_draws=1",
        "purls:head.options={hidden_dim: 32, key_dim: 8}", "star:head.options.prompt_dim=16",
        "star-transductive:head.options.prompt_dim=16"]


@pytest.fixture(scope="module")
def grid(utd_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("desc") / "bench"
    spec = make_spec(methods=",".join(PEERS), protocols="utd-f1", seeds=1, data_root=f"utd-mhad={utd_root}",
                     config=None, overrides=TINY)
    res = run_bench(spec, out, keep_going=False)
    return out, res


def test_grid_runs_every_peer_with_its_text(grid):
    out, res = grid
    assert res["failed"] == [] and len(res["ran"]) == len(PEERS)
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == list(PEERS)
    for r in rows:
        assert 0.0 <= float(r["zsl_fused"]) <= 100.0 and 0.0 <= float(r["gzsl_fused_H"]) <= 100.0
    assert {r["method"]: r["text_source"] for r in rows} == {
        "purls": "purls", "star": "parts", "star-transductive": "parts", "revise": "side-info", "jpose": "pos"}
    # the class text of each source: PURLS 8 slots x N_a, STAR 6 parts + name, JPoSE verb / noun / name
    shapes = {m: tuple(load_tensors(out / "utd-f1" / m / "text" / "class_text.safetensors")[0]["class_text"].shape)
              for m in ("purls", "star", "jpose")}
    assert shapes["purls"][:2] == (8, 27) and shapes["star"][:3] == (7, 27, 1) and shapes["jpose"][:3] == (6, 27, 1)
    # STAR got the kinect20 body-part map; the transductive run says so in its checkpoint
    head, meta = load_head(out / "utd-f1" / "star" / "seed0" / "head" / "best.safetensors", "cpu")
    assert head.part_joints == [[2, 3], [7, 11], [4, 5, 6, 8, 9, 10], [0, 1], [12, 13, 16, 17], [14, 15, 18, 19]]
    assert not meta.get("transductive") and head.align == "seen"
    _, meta_t = load_head(out / "utd-f1" / "star-transductive" / "seed0" / "head" / "best.safetensors", "cpu")
    assert meta_t["transductive"] is True and meta_t["model_kwargs"]["align"] == "all"
    assert "TRANSDUCTIVE" in (out / "bench.log").read_text(encoding="utf-8")


def _cached_features(out):
    """Training features (views, N, C, T', V) and global labels of the grid's shared encoder."""
    feats = sorted((out / "utd-f1" / "_shared" / "seed0").rglob("train.safetensors"))
    assert feats, list((out / "utd-f1" / "_shared" / "seed0").rglob("*"))
    tensors, _ = load_tensors(feats[0])
    return tensors


@pytest.mark.parametrize("method", ["purls", "star", "revise", "jpose"])
def test_each_peer_learns_on_real_cached_features(grid, method):
    """A few Adam steps on 48 real clips of 6 seen classes: the loss falls, every score is finite."""
    out, _ = grid
    tensors = _cached_features(out)
    fmap, labels = tensors["features"][0].float(), tensors["labels"].long()
    classes = torch.unique(labels)[:6]
    pick = torch.cat([torch.nonzero(labels == c).flatten()[:8] for c in classes])
    x, y = fmap[pick], torch.searchsorted(classes, labels[pick])
    text = load_tensors(out / "utd-f1" / method / "text" / "class_text.safetensors")[0]["class_text"]
    cfg_opts = {"purls": {"hidden_dim": 32, "key_dim": 8}, "star": {"prompt_dim": 16}}.get(method, {})
    from zeroskel.train.run_config import RunConfig
    from zeroskel.config import merge
    from zeroskel.models import create_model

    cfg = merge(RunConfig(), {"head": {"name": METHODS[method].head, "options": {**METHODS[method].options, **cfg_opts}}})
    torch.manual_seed(0)
    head = create_model(METHODS[method].head, **head_kwargs(cfg, x.shape[1], text.shape[-1], "kinect20"))
    # PURLS's InfoNCE with its linear logit scale 2.66 and same-class negatives falls slowly: more steps
    losses = fit_steps(head, x, text[:, classes], y, steps=120 if method == "purls" else 40)
    assert all(map(lambda v: v == v, losses))
    assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5, losses[::5]
    head.eval()
    with torch.no_grad():
        scores = head(fmap[:64], text).fused_scores()
    assert scores.shape == (64, 27) and torch.isfinite(scores).all()
