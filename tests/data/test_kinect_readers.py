from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.io import savemat

from zeroskel.data import get_layout, load_dataset
from zeroskel.data.layouts import KINECT20_STORED_ORDERS, UnknownNameError
from zeroskel.data.readers.kinect_v1 import (
    SampleError,
    load_msr_action3d,
    load_nw_ucla,
    load_utd_mhad,
    load_utkinect,
    read_utkinect_labels,
)

K20 = get_layout("kinect20")


def _load(name, root, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(name, root, **kw)
    return ds, [str(w.message) for w in caught]


def _check_body(ds):
    """Canonical kinect20 order: head above the hip centre, right shoulder on one side."""
    d = np.concatenate([s.joints[0] for s in ds.samples])  # (sum T, 20, 3)
    up = d[:, K20.index("head")] - d[:, K20.index("hip_center")]
    assert np.median(up[:, 1]) > 0.4
    across = d[:, K20.index("right_shoulder")] - d[:, K20.index("left_shoulder")]
    assert np.median(across[:, 0]) > 0.2


# --- real data ---------------------------------------------------------------------------------

def test_utd_mhad_real(utd_root):
    ds, warned = _load("utd-mhad", utd_root)
    assert (len(ds), ds.num_classes, ds.layout) == (861, 27, "kinect20")
    assert ds.skipped == [] and warned == []
    assert np.bincount(ds.labels()).tolist().count(32) == 24  # 3 classes miss one trial
    names = {s.name for s in ds.samples}
    assert not {"a8_s1_t4", "a23_s6_t4", "a27_s8_t4"} & names
    frames = [s.num_frames for s in ds.samples]
    assert (min(frames), max(frames)) == (41, 125)
    s = next(s for s in ds.samples if s.name == "a3_s2_t1")
    assert (s.label, s.subject, s.meta["trial"]) == (2, 2, 1)
    assert s.joints.dtype == np.float32 and s.joints.shape[::2] == (1, 20)
    assert sorted({s.subject for s in ds.samples}) == list(range(1, 9))
    _check_body(ds)


def test_msr_action3d_real(msr_root):
    ds, warned = _load("msr-action3d", msr_root)
    assert (len(ds), ds.num_classes) == (566, 20)
    assert [(k.sample, k.reason.split(" (")[0]) for k in ds.skipped] == [
        ("a13_s09_e02", "all joint coordinates are zero")]
    assert "a13_s09_e02_skeleton3D.txt" in ds.skipped[0].reason
    assert len(warned) == 1 and "a13_s09_e02" in warned[0]
    long = next(s for s in ds.samples if s.name == "a13_s09_e03")
    assert long.num_frames == 936 and long.label == 12 and long.subject == 9
    assert min(s.num_frames for s in ds.samples) == 13
    _check_body(ds)


def test_utkinect_real(utk_root):
    ds, warned = _load("utkinect", utk_root)
    assert (len(ds), ds.num_classes) == (199, 10)
    assert [k.sample for k in ds.skipped] == ["s10_e02_carry"]
    assert "no segment" in ds.skipped[0].reason and len(warned) == 1
    # frame ids, not row numbers: s01_e01 starts at frame id 190, walk is ids 252..390
    ids = np.loadtxt(utk_root / "joints" / "joints_s01_e01.txt", usecols=0)
    walk = next(s for s in ds.samples if s.name == "s01_e01_walk")
    assert walk.num_frames == int(((ids >= 252) & (ids <= 390)).sum())
    assert walk.num_frames != 390 - 252 + 1
    raw = np.loadtxt(utk_root / "joints" / "joints_s01_e01.txt")
    first = raw[np.flatnonzero(ids >= 252)[0], 1:].reshape(20, 3)
    np.testing.assert_allclose(walk.joints[0, 0], first, rtol=1e-6)  # SDK order stored as is
    assert (walk.label, walk.subject, walk.meta["start_frame"]) == (0, 1, 252)
    _check_body(ds)


# --- small broken files ----------------------------------------------------------------------

def _utd_stored(t: int, seed: int = 0) -> np.ndarray:
    """A plausible (20, 3, T) d_skel in UTD order."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(20, 3, t)) * 0.1 + 1.0


def test_utd_reader_permutes_and_reports_bad_files(tmp_path):
    good = _utd_stored(5)
    savemat(tmp_path / "a1_s1_t1_skeleton.mat", {"d_skel": good})
    savemat(tmp_path / "a2_s2_t1_skeleton.mat", {"d_skel": np.zeros((20, 3, 4))})
    savemat(tmp_path / "a3_s1_t1_skeleton.mat", {"d_skel": _utd_stored(1)})
    savemat(tmp_path / "a4_s1_t1_skeleton.mat", {"other": good})
    savemat(tmp_path / "a5_s1_t1_skeleton.mat", {"d_skel": np.zeros((15, 3, 4))})
    nan = good.copy()
    nan[3, 1, 2] = np.nan
    savemat(tmp_path / "a6_s1_t1_skeleton.mat", {"d_skel": nan})
    savemat(tmp_path / "a28_s1_t1_skeleton.mat", {"d_skel": good})
    raw = (tmp_path / "a1_s1_t1_skeleton.mat").read_bytes()
    (tmp_path / "a7_s1_t1_skeleton.mat").write_bytes(raw[: len(raw) // 2])  # truncated
    ds, warned = _load("utd-mhad", tmp_path)
    assert [s.name for s in ds.samples] == ["a1_s1_t1"]
    # UTD order -> SDK order: SDK joint i is UTD joint order.index(name)
    utd = KINECT20_STORED_ORDERS["utd-mhad"]
    for i, name in enumerate(K20.joints):
        np.testing.assert_allclose(ds.samples[0].joints[0, :, i], good[utd.index(name)].T, rtol=1e-6)
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert set(reasons) == {"a2_s2_t1", "a3_s1_t1", "a4_s1_t1", "a5_s1_t1", "a6_s1_t1",
                            "a28_s1_t1", "a7_s1_t1"}
    assert "all joint coordinates are zero" in reasons["a2_s2_t1"]
    assert "only 1 frame" in reasons["a3_s1_t1"]
    assert "no 'd_skel'" in reasons["a4_s1_t1"]
    assert "shape (15, 3, 4)" in reasons["a5_s1_t1"]
    assert "NaN" in reasons["a6_s1_t1"]
    assert "unknown class a28" in reasons["a28_s1_t1"]
    assert "cannot read" in reasons["a7_s1_t1"]
    assert all("skeleton.mat" in r for r in reasons.values())
    assert len(warned) == 7
    with pytest.raises(SampleError, match=r"utd-mhad: a\d+_s\d_t1: .*skeleton\.mat"):
        load_utd_mhad(tmp_path, strict=True)


def _msr_text(t: int, seed: int = 0) -> tuple[str, np.ndarray]:
    data = np.random.default_rng(seed).normal(size=(t, 20, 4))
    return "\n".join(" ".join(f"{v:.6f}" for v in row) for row in data.reshape(-1, 4)) + "\n", data


def test_msr_reader_permutes_and_reports_bad_files(tmp_path):
    text, data = _msr_text(3)
    (tmp_path / "a01_s01_e01_skeleton3D.txt").write_text(text)
    (tmp_path / "a02_s01_e01_skeleton3D.txt").write_text("\n".join(text.splitlines()[:50]) + "\n")
    (tmp_path / "a03_s01_e01_skeleton3D.txt").write_text(text.replace(text.split()[5], "abc", 1))
    (tmp_path / "a04_s01_e01_skeleton3D.txt").write_text("0 0 0 0\n" * 60)
    (tmp_path / "a05_s01_e01_skeleton3D.txt").write_text(_msr_text(1)[0])
    (tmp_path / "a06_s01_e01_skeleton3D.txt").write_text("")
    (tmp_path / "a21_s01_e01_skeleton3D.txt").write_text(text)
    (tmp_path / "a07_s01_e01_skeleton3D.txt").write_text("1 2 3\n" * 20)
    ds, warned = _load("msr-action3d", tmp_path)
    assert [s.name for s in ds.samples] == ["a01_s01_e01"]
    msr = KINECT20_STORED_ORDERS["msr-action3d"]
    np.testing.assert_allclose(ds.samples[0].joints[0, :, K20.index("head")],
                               data[:, msr.index("head"), :3], atol=1e-6)
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert "not a multiple of 20" in reasons["a02_s01_e01"]
    assert "not numeric" in reasons["a03_s01_e01"]
    assert "zero" in reasons["a04_s01_e01"]
    assert "only 1 frame" in reasons["a05_s01_e01"]
    assert "no frames" in reasons["a06_s01_e01"]
    assert "unknown class a21" in reasons["a21_s01_e01"]
    assert "expected 4" in reasons["a07_s01_e01"]
    assert len(warned) == len(reasons) == 7
    with pytest.raises(SampleError):
        load_msr_action3d(tmp_path, strict=True)


def _utk_tree(tmp_path, labels: str, joints: dict[str, np.ndarray]):
    (tmp_path / "joints").mkdir()
    (tmp_path / "actionLabel.txt").write_text(labels)
    for rec, rows in joints.items():
        lines = [f"{int(r[0])} " + " ".join(f"{v:.6f}" for v in r[1:]) for r in rows]
        (tmp_path / "joints" / f"joints_{rec}.txt").write_text("\n".join(lines) + "\n")


def test_utkinect_reader_frame_ids_and_bad_segments(tmp_path):
    rng = np.random.default_rng(0)
    ids = np.array([10, 12, 12, 14, 20, 22, 30])
    rows = np.column_stack([ids, rng.normal(size=(7, 60))])
    labels = ("s01_e01\nwalk: 12 20\nsitDown: 30 30\ncarry:  NaN NaN\nfly: 10 14\n"
              "push: 22 14\nthrow: 40 50\ns02_e01\nwalk: 1 5\n")
    _utk_tree(tmp_path, labels, {"s01_e01": rows})
    ds, warned = _load("utkinect", tmp_path)
    assert [s.name for s in ds.samples] == ["s01_e01_walk"]
    walk = ds.samples[0]
    assert walk.num_frames == 4  # ids 12, 12, 14, 20 (frame ids, repeated ids kept)
    np.testing.assert_allclose(walk.joints[0].reshape(4, 60), rows[1:5, 1:], atol=1e-5)
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert "only 1 frame" in reasons["s01_e01_sitDown"]
    assert "no segment" in reasons["s01_e01_carry"]
    assert "unknown class 'fly'" in reasons["s01_e01_fly"]
    assert "before start" in reasons["s01_e01_push"]
    assert "no frames" in reasons["s01_e01_throw"]
    assert "cannot read joints file" in reasons["s02_e01_walk"] and "joints_s02_e01.txt" in reasons["s02_e01_walk"]
    assert len(warned) == 6


def test_utkinect_malformed_files(tmp_path):
    bad = tmp_path / "actionLabel.txt"
    bad.write_text("s01_e01\nwalk 12 20\n")
    with pytest.raises(ValueError, match="actionLabel.txt: line 2"):
        read_utkinect_labels(bad)
    root = tmp_path / "trunc"
    root.mkdir()
    rows = np.column_stack([np.arange(5), np.ones((5, 60))])
    _utk_tree(root, "s01_e01\nwalk: 0 4\n", {"s01_e01": rows})
    path = root / "joints" / "joints_s01_e01.txt"
    path.write_text(path.read_text()[:-200])  # truncated last row
    ds, _ = _load("utkinect", root)
    assert len(ds) == 0 and "line 5 has" in ds.skipped[0].reason


def _ucla(path, skeletons, label):
    path.write_text(json.dumps({"file_name": path.stem, "skeletons": skeletons, "label": label}))


def test_nw_ucla_reader(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.normal(size=(6, 20, 3)).round(4)
    _ucla(tmp_path / "a01_s01_e00_v01.json", good.tolist(), 1)
    _ucla(tmp_path / "a12_s02_e01_v03.json", good[:3].tolist(), 10)
    _ucla(tmp_path / "a08_s03_e02_v02.json", good.tolist(), 7)
    _ucla(tmp_path / "a02_s01_e00_v01.json", good[:1].tolist(), 2)        # 1 frame
    _ucla(tmp_path / "a03_s01_e00_v01.json", good.tolist(), 5)            # label disagrees
    _ucla(tmp_path / "a07_s01_e00_v01.json", good.tolist(), 7)            # not in the release
    _ucla(tmp_path / "a04_s01_e00_v01.json", good[:, :15].tolist(), 4)    # wrong joint count
    _ucla(tmp_path / "a05_s01_e00_v01.json", [], 5)                       # 0 frames
    (tmp_path / "a06_s01_e00_v01.json").write_text('{"skeletons": [[[1, 2')  # truncated
    ds, warned = _load("nw-ucla", tmp_path)
    assert (ds.num_classes, ds.layout) == (10, "kinect20")
    by_name = {s.name: s for s in ds.samples}
    assert set(by_name) == {"a01_s01_e00_v01", "a12_s02_e01_v03", "a08_s03_e02_v02"}
    assert by_name["a12_s02_e01_v03"].label == 9 and by_name["a12_s02_e01_v03"].meta["view"] == 3
    assert by_name["a08_s03_e02_v02"].label == 6 and by_name["a08_s03_e02_v02"].subject == 3
    np.testing.assert_allclose(by_name["a01_s01_e00_v01"].joints[0], good, rtol=1e-6)
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert "only 1 frame" in reasons["a02_s01_e00_v01"]
    assert "disagrees" in reasons["a03_s01_e00_v01"]
    assert "unknown class a07" in reasons["a07_s01_e00_v01"]
    assert "shape (6, 15, 3)" in reasons["a04_s01_e00_v01"]
    assert "no frames" in reasons["a05_s01_e00_v01"]
    assert "cannot read JSON" in reasons["a06_s01_e00_v01"]
    assert len(warned) == 6
    with pytest.raises(SampleError):
        load_nw_ucla(tmp_path, strict=True)


def test_missing_root_and_unknown_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_utd_mhad(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no files matching"):
        load_msr_action3d(tmp_path)
    with pytest.raises(FileNotFoundError, match="actionLabel.txt"):
        load_utkinect(tmp_path)
    with pytest.raises(UnknownNameError, match="unknown dataset 'kth'"):
        load_dataset("kth", tmp_path)
