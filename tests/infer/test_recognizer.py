"""ZeroShotRecognizer on a real (tiny) UTD-MHAD run: the engine's evaluation scores, reproduced clip
by clip; vocabularies, caches, layouts; and clips of other datasets (MSR Action3D, UTKinect) recognised
by class name."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from zeroskel.data import load_dataset, make_splits
from zeroskel.data.class_names import MSR_ACTION3D, UTKINECT
from zeroskel.data.layouts import get_layout, map_layout
from zeroskel.infer.bundle import BundleError
from zeroskel.infer.inputs import InputError, InputWarning
from zeroskel.infer.recognizer import ZeroShotRecognizer, rank
from zeroskel.text.sideinfo import load_shipped


@pytest.fixture(scope="module")
def utd(utd_root):
    ds = load_dataset("utd-mhad", utd_root)
    return ds, make_splits(ds, "utd-f1", seed=0)


@pytest.fixture()
def rec(quick_run, tmp_path):
    return ZeroShotRecognizer.from_pretrained(quick_run / "bundle", cache_dir=tmp_path / "cache")


def test_scores_equal_the_runs_evaluation(rec, quick_run, utd):
    ds, sp = utd
    saved = np.load(quick_run / "seed0" / "test_scores.npz")
    unseen_scores = saved["scores_fused"][len(sp.test_seen):]  # test_seen clips come first
    assert (saved["labels"][len(sp.test_seen):] == ds.labels()[sp.test_unseen]).all()
    clips = [ds.samples[i].joints for i in sp.test_unseen]
    names = [ds.class_names[c] for c in sp.unseen]
    # the unseen classes by their side information: the columns of the run's scores, bit for bit
    got_names, scores, _ = rec.score(clips, side_information=load_shipped("utd-mhad"), classes=names)
    assert got_names == names
    for b in ("fused", "spatial", "temporal"):
        ref = saved[f"scores_{b}"][len(sp.test_seen):][:, sp.unseen]
        np.testing.assert_array_equal(scores[b], ref)
    # top-1 among the unseen classes = the run's ZSL prediction for every clip
    rankings = rec.predict_batch(clips, side_information=load_shipped("utd-mhad"), classes=names, top_k=1)
    assert [r[0][0] for r in rankings] == [names[i] for i in unseen_scores[:, sp.unseen].argmax(1)]
    # no vocabulary: the training vocabulary with the run's own embeddings, all 27 classes
    all_names, all_scores, _ = rec.score(clips)
    assert all_names == list(ds.class_names)
    np.testing.assert_array_equal(all_scores["fused"], unseen_scores)


def test_rankings_are_well_formed(rec, utd):
    ds, sp = utd
    clip = ds.samples[int(sp.test_unseen[0])].joints
    names = ["wave hand", "sit down", "clap", "kick", "throw a ball", "bow"]
    full = rec.predict(clip, names, top_k=None)
    assert sorted(c for c, _ in full) == sorted(names)
    scores = [s for _, s in full]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert rec.predict(clip, names, top_k=3) == full[:3]
    assert rec.predict(clip, names, branch="spatial", top_k=None) != full
    assert rank(np.array([0.1, 0.3, 0.3]), ["a", "b", "c"], 2) == [("b", 0.3), ("c", 0.3)]


def test_vocabularies_and_caches(rec, utd, tmp_path):
    ds, sp = utd
    clip = ds.samples[int(sp.test_unseen[0])].joints
    names = [ds.class_names[c] for c in sp.unseen]
    n1, t1 = rec.class_text(names)
    assert t1.shape == (6, 6, 1, 32)  # plain names: one description, all six phases
    assert rec.class_text(names)[1] is t1  # in-memory cache
    shards = list((tmp_path / "cache").rglob("shard-*.safetensors"))
    assert shards  # on-disk embedding cache
    _, t2 = rec.class_text(side_information=load_shipped("utd-mhad"), classes=names)
    assert t2.shape == (6, 6, load_shipped("utd-mhad").num_descriptions, 32)
    assert rec.predict(clip, names, top_k=None) != rec.predict(clip, side_information=load_shipped("utd-mhad"),
                                                               classes=names, top_k=None)
    si_path = tmp_path / "si.json"
    from zeroskel.text.sideinfo import save_side_info

    save_side_info(load_shipped("utd-mhad").subset(names[:3]), si_path)
    assert [c for c, _ in rec.predict(clip, side_information=si_path, top_k=None)] != []
    assert {c for c, _ in rec.predict(clip, side_information=si_path, top_k=None)} == set(names[:3])
    with pytest.raises(ValueError, match="duplicate"):
        rec.predict(clip, ["a", "a"])
    with pytest.raises(TypeError, match="list of names"):
        rec.predict(clip, "a,b")
    # a fresh recognizer reuses the on-disk cache (no new shard for the same texts)
    shards = sorted(tmp_path.joinpath("cache").rglob("shard-*.safetensors"))
    again = ZeroShotRecognizer.from_pretrained(rec.bundle.root, cache_dir=tmp_path / "cache")
    assert again.class_text(names)[1].equal(t1)
    assert sorted(tmp_path.joinpath("cache").rglob("shard-*.safetensors")) == shards


def test_text_encoder_must_match(quick_run, tmp_path):
    other = ZeroShotRecognizer.from_pretrained(quick_run, text_encoder="hashing:64", cache_dir=tmp_path)
    with pytest.raises(BundleError, match="not the one the model was trained with"):
        other.class_text(["walk"])


def test_calibration_lowers_seen_classes_only(rec, utd):
    ds, sp = utd
    clip = ds.samples[int(sp.test_unseen[0])].joints
    seen, unseen = ds.class_names[sp.seen[0]], ds.class_names[sp.unseen[0]]
    rec.info["gamma"] = {**rec.info["gamma"], "fused": 0.25}
    raw = dict(rec.predict(clip, [seen, unseen], top_k=None))
    cal = dict(rec.predict(clip, [seen, unseen], top_k=None, calibrate=True))
    assert cal[seen] == pytest.approx(raw[seen] - 0.25) and cal[unseen] == raw[unseen]


def test_other_layouts_and_files(rec, utd, tmp_path):
    ds, sp = utd
    joints = ds.samples[int(sp.test_unseen[1])].joints  # (1, T, 20, 3) kinect20
    names = ["wave", "clap", "squat"]
    ref = rec.predict(joints, names, top_k=None)
    ntu, _ = map_layout(joints, "kinect20", "ntu25")
    assert rec.predict(ntu, names, layout="ntu25", top_k=None) == ref  # every kinect20 joint exists in ntu25
    coco = map_layout(joints, "kinect20", "coco17")[0]
    with pytest.warns(InputWarning, match="approximate.*hip_center"):
        got = rec.predict(coco, names, layout="coco17", top_k=None)
    assert sorted(c for c, _ in got) == sorted(names)
    np.savez(tmp_path / "c.npz", joints=joints[0], layout=np.array("kinect20"))
    assert rec.predict(tmp_path / "c.npz", names, top_k=None) == ref
    two = rec.predict_batch([tmp_path / "c.npz", joints[0, ::-1]], names, top_k=None)
    assert len(two) == 2 and [c for c, _ in two[0]] == [c for c, _ in ref]  # batched: same up to rounding
    np.testing.assert_allclose([s for _, s in two[0]], [s for _, s in ref], atol=1e-5)
    with pytest.raises(InputError, match="25 joints per frame"):
        rec.predict(ntu, names)
    with pytest.raises(InputError, match="2D joints"):
        rec.predict(joints[..., :2], names)
    gap = joints.astype(np.float64).copy()
    gap[0, 5:7, 3] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec.predict(gap, names)
    assert any("interpolated 2" in str(w.message) for w in caught)


def test_cross_dataset_recognition_by_name(quick_run, msr_root, utk_root, tmp_path):
    """A model trained on UTD-MHAD ranks the class names of MSR Action3D and UTKinect for their clips.

    Accuracy is not asserted (a tiny untrained-encoder run); the rankings must be well formed."""
    rec = ZeroShotRecognizer.from_pretrained(quick_run, cache_dir=tmp_path)
    for root, name, vocab in ((msr_root, "msr-action3d", list(MSR_ACTION3D)), (utk_root, "utkinect", list(UTKINECT))):
        ds = load_dataset(name, root)
        assert ds.layout == "kinect20"
        picks = [ds.samples[i] for i in np.linspace(0, len(ds) - 1, 6).astype(int)]
        rankings = rec.predict_batch([s.joints for s in picks], vocab, top_k=5)
        assert len(rankings) == len(picks)
        for r in rankings:
            assert len(r) == 5 and len({c for c, _ in r}) == 5 and {c for c, _ in r} <= set(vocab)
            s = [x for _, x in r]
            assert s == sorted(s, reverse=True) and all(np.isfinite(s)) and all(-1 <= x <= 1 for x in s)
        # with the shipped side information of the target dataset as well
        si = load_shipped(name)
        r = rec.predict(picks[0].joints, side_information=si, top_k=None)
        assert sorted(c for c, _ in r) == sorted(vocab)
    assert get_layout(rec.layout).num_joints == 20
