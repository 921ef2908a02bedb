"""Analysis of a real (tiny) UTD-MHAD run: per-phase features, metrics against scikit-learn,
prototype statistics, per-class differences, every figure, and skeleton rendering."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from zeroskel.analysis import analysis as A
from zeroskel.analysis.render import read_clip, render_clip


@pytest.fixture(scope="module")
def analysed(memory_runs, tmp_path_factory):
    a, b = memory_runs
    out = tmp_path_factory.mktemp("figs")
    return out, A.analyze_run(a, out, compare=b)


def test_phase_features_of_the_unseen_test_clips(memory_runs):
    pf = A.phase_features(memory_runs[0])
    assert list(pf.features) == ["encoder", "spatial_coarse", "spatial_mid", "spatial_fine",
                                 "temporal_start", "temporal_middle", "temporal_end"]
    meta = json.loads((memory_runs[0] / "seed0" / "eval.json").read_text())
    n = meta["num_test_unseen"]
    assert pf.labels.shape == (n,) and sorted(set(pf.labels.tolist())) == [2, 5, 6, 8, 12, 23]
    assert pf.features["encoder"].shape == (n, 16)               # base_channels 4 -> 16 channels
    for ph in list(pf.features)[1:]:
        x = pf.features[ph]
        assert x.shape == (n, 32)                                 # the hashing:32 text dimension
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert pf.temporal_memory is True and A.phase_features(memory_runs[1]).temporal_memory is False


def test_prototype_statistics_match_a_direct_computation(memory_runs):
    """Streaming sums over small batches equal the statistics of one forward pass over all clips."""
    from zeroskel.train.features import load_features
    from zeroskel.train.head import load_head
    from zeroskel.text.class_text import load_class_text

    pf = A.phase_features(memory_runs[0], batch_size=7)
    head, _ = load_head(memory_runs[0] / "seed0" / "head" / "best.safetensors", torch.device("cpu"))
    fmap, _ = load_features(memory_runs[0] / "seed0" / "features" / "test_unseen.safetensors")
    text, _ = load_class_text(memory_runs[0] / "text" / "class_text.safetensors")
    with torch.no_grad():
        protos = head(fmap[0].float(), text).extras["temporal_prototypes"]      # 3 x (N, 8, C)
    init = head.temporal.prototypes.detach().expand_as(protos[0])
    prev = init
    for e, p in enumerate(protos):
        np.testing.assert_allclose(pf.prototypes["mean"][e], p.mean(0).numpy(), atol=1e-5)
        want = torch.nn.functional.cosine_similarity(p, prev, dim=-1).mean().item()
        assert pf.prototypes["similarity_to_previous"][e] == pytest.approx(want, abs=1e-5)
        want = torch.nn.functional.cosine_similarity(p, init, dim=-1).mean().item()
        assert pf.prototypes["similarity_to_initial"][e] == pytest.approx(want, abs=1e-5)
        prev = p
    assert pf.prototypes["phases"] == ["initial", "temporal_start", "temporal_middle", "temporal_end"]


def test_clustering_metrics_equal_scikit_learn(memory_runs, analysed):
    from sklearn.cluster import KMeans
    from sklearn.metrics import (adjusted_rand_score, calinski_harabasz_score, fowlkes_mallows_score,
                                 silhouette_score)

    pf = A.phase_features(memory_runs[0])
    _, result = analysed
    assert result["clustering"]["k"] == 6 and result["clustering"]["kmeans"]["random_state"] == 0
    for ph, x in pf.features.items():
        km = KMeans(n_clusters=6, n_init=10, random_state=0).fit_predict(x)
        want = {"silhouette": silhouette_score(x, pf.labels),
                "calinski_harabasz": calinski_harabasz_score(x, pf.labels),
                "ari": adjusted_rand_score(pf.labels, km), "fmi": fowlkes_mallows_score(pf.labels, km)}
        got = result["clustering"]["phases"][ph]
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (ph, key)
        assert got["k"] == 6 and got["n"] == len(pf.labels)


def test_clustering_metrics_undefined_cases():
    x = np.random.default_rng(0).normal(size=(5, 3))
    m = A.clustering_metrics(x, np.zeros(5, dtype=int))
    assert m["silhouette"] is None and m["calinski_harabasz"] is None and m["k"] == 1
    assert m["ari"] == pytest.approx(1.0)                      # one cluster, one class


def test_tsne_is_deterministic_and_recorded(memory_runs, analysed):
    pf = A.phase_features(memory_runs[0])
    xy, perp = A.tsne_2d(pf.features["spatial_fine"], seed=0)
    again, _ = A.tsne_2d(pf.features["spatial_fine"], seed=0)
    np.testing.assert_array_equal(xy, again)
    _, result = analysed
    assert result["tsne"]["perplexity"] == perp == 30.0
    np.testing.assert_allclose(result["tsne"]["phases"]["spatial_fine"], xy, atol=1e-4)
    assert result["tsne"]["labels"] == pf.labels.tolist()


def test_per_class_difference_matches_both_runs(memory_runs, analysed):
    _, result = analysed
    this = json.loads((memory_runs[0] / "seed0" / "per_class.json").read_text())["zsl_fused"]
    other = json.loads((memory_runs[1] / "seed0" / "per_class.json").read_text())["zsl_fused"]
    rows = result["per_class"]["difference"]
    assert {r["class"] for r in rows} == set(this) == set(other)
    for r in rows:
        assert r["this"] == this[r["class"]] and r["other"] == other[r["class"]]
        assert r["diff"] == pytest.approx(this[r["class"]] - other[r["class"]])
    diffs = [r["diff"] for r in rows]
    assert diffs == sorted(diffs, reverse=True)


def test_per_class_difference_sorting_and_errors():
    rows = A.per_class_difference({"a": 50.0, "b": 10.0, "c": 80.0, "d": 0.0},
                                  {"a": 40.0, "b": 30.0, "c": 80.0, "e": 1.0})
    assert [(r["class"], r["diff"]) for r in rows] == [("a", 10.0), ("c", 0.0), ("b", -20.0)]
    with pytest.raises(ValueError, match="share no class"):
        A.per_class_difference({"a": 1.0}, {"b": 1.0})


def test_every_figure_is_written(analysed):
    out, result = analysed
    expected = {"tsne", "clustering", "prototypes", "per_class", "per_class_difference", "confusion",
                "curves", "health"}
    assert set(result["figures"]) == expected
    assert [r["label"] for r in result["health"]["runs"]][1:] and set(result["health"]["runs"][0]) >= {"before", "after"}
    for name in result["figures"].values():
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200
    saved = json.loads((out / "analysis.json").read_text())
    assert saved["figures"] == result["figures"] and saved["seed"] == 0
    assert saved["unseen_classes"] == saved["confusion"]["classes"]
    assert len(saved["unseen_classes"]) == 6


def test_encoder_supervised_is_reported(memory_runs, analysed):
    _, result = analysed
    a, _ = memory_runs
    m = json.loads((a / "metrics.json").read_text())["encoder"]["supervised"]
    sup = result["encoder_supervised"]
    assert sup["test_seen"] == m["test_seen"]["values"][0] and sup["holdout"] == m["holdout"]["values"][0]
    assert 0.0 <= sup["test_seen"] <= 100.0


def test_prototypes_with_and_without_memory(analysed, memory_runs):
    _, result = analysed
    tp = result["temporal_prototypes"]
    assert tp["memory_settings"] == [False, True]
    assert [r["temporal_memory"] for r in tp["runs"]] == [True, False]
    for r in tp["runs"]:
        assert list(r["pca"]) == r["phases"] and len(r["similarity_to_previous"]) == 3
        assert np.asarray(r["pca"]["initial"]).shape == (8, 2)


def test_confusion_and_curves_come_from_the_run(memory_runs, analysed):
    _, result = analysed
    conf = json.loads((memory_runs[0] / "seed0" / "confusion.json").read_text())["zsl_fused"]
    assert result["confusion"]["matrix"] == conf["matrix"]
    lines = [json.loads(x) for x in (memory_runs[0] / "metrics.jsonl").read_text().splitlines() if x]
    curves = result["curves"]
    assert set(curves) == {x["step"] for x in lines}
    head = [x for x in lines if x["step"] == "val_head/d0"]
    assert curves["val_head/d0"]["loss"] == [x["loss"] for x in head]
    assert curves["val_head/d0"]["val_zsl_fused"] == [x["val_zsl_fused"] for x in head]


def test_missing_seed_and_non_run_are_reported(memory_runs, tmp_path):
    with pytest.raises(FileNotFoundError, match="seed 3 has no trained head"):
        A.analyze_run(memory_runs[0], tmp_path / "x", seed=3)
    with pytest.raises(Exception, match="not a run directory"):
        A.analyze_run(tmp_path, tmp_path / "x")


# --- rendering -----------------------------------------------------------------------------------

def test_render_a_real_utd_clip(utd_root, tmp_path):
    clip = read_clip(utd_root / "Skeleton" / "a1_s1_t1_skeleton.mat")
    assert clip.layout.name == "kinect20" and clip.joints.shape[1:] == (48, 20, 3)
    assert clip.title.endswith("right arm swipe to the left")
    gif = render_clip(clip, tmp_path / "clip.gif", max_frames=12)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 12
        first = np.asarray(im.convert("L")).copy()
        im.seek(6)
        assert (np.asarray(im.convert("L")) != first).any()          # the arm moves
    png = render_clip(clip, tmp_path / "strip.png", frames=5)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 3 * im.size[1]    # a horizontal strip
    png3d = render_clip(clip, tmp_path / "strip3d.png", frames=3, view3d=True)
    assert png3d.stat().st_size > 0


def test_render_npy_with_layout_and_errors(utd_root, msr_root, tmp_path):
    joints = read_clip(utd_root / "Skeleton" / "a2_s1_t1_skeleton.mat").joints   # (1, T, 20, 3)
    np.save(tmp_path / "clip.npy", joints[0])                                    # (T, V, 3)
    clip = read_clip(tmp_path / "clip.npy", layout="kinect20")
    np.testing.assert_array_equal(clip.joints, joints)
    assert read_clip(tmp_path / "clip.npy").layout.name == "kinect20"           # by joint count
    with pytest.raises(ValueError, match="clip.npy: 20 joints, but layout 'ntu25' has 25"):
        read_clip(tmp_path / "clip.npy", layout="ntu25")
    with pytest.raises(ValueError, match=r"\.gif .* or \.png"):
        render_clip(clip, tmp_path / "clip.mp4")
    msr = sorted(msr_root.rglob("a01_s01_e01_skeleton3D.txt"))[0]
    assert read_clip(msr).title.endswith("high arm wave")
    (tmp_path / "what.txt").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="what.txt: cannot tell the format"):
        read_clip(tmp_path / "what.txt")
