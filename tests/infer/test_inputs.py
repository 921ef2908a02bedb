"""Skeleton inputs: every file format, layout mapping, the documented repairs and clear refusals.

Real UTD-MHAD / MSR Action3D clips where the data exists; files in each format are written in
tmp_path from a real clip.
"""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from zeroskel.data.layouts import get_layout, map_layout
from zeroskel.data.readers.kinect_v1 import read_msr_action3d_file, read_utd_mhad_file
from zeroskel.infer.inputs import (MIN_FRAMES, InputError, prepare_joints, read_clips, repair_missing,
                                    to_clips)


@pytest.fixture(scope="module")
def utd_clip(utd_root):
    return read_utd_mhad_file(utd_root / "Skeleton" / "a1_s1_t1_skeleton.mat").astype(np.float64)  # (1, T, 20, 3)


def _msr_dir(msr_root):
    return next(p.parent for p in msr_root.rglob("*_skeleton3D.txt"))


# ------------------------------------------------------------------------------------------ formats
def test_npy_npz_json_csv_round_trip(utd_clip, tmp_path):
    joints = utd_clip[0]  # (T, 20, 3)
    np.save(tmp_path / "a.npy", joints)
    np.savez(tmp_path / "b.npz", joints=joints, layout=np.array("kinect20"), other=np.zeros(3))
    np.savez(tmp_path / "c.npz", whatever=utd_clip)
    (tmp_path / "d.json").write_text(json.dumps(joints.tolist()))
    (tmp_path / "e.json").write_text(json.dumps({"joints": utd_clip.transpose(1, 0, 2, 3).tolist(),
                                                 "layout": "kinect20"}))
    header = ",".join(f"j{v}_{a}" for v in range(20) for a in "xyz")
    body = "\n".join(",".join(repr(float(x)) for x in row) for row in joints.reshape(len(joints), -1))
    (tmp_path / "f.csv").write_text(header + "\n" + body + "\n")
    (tmp_path / "g.csv").write_text(body + "\n")  # no header
    for name, layout in (("a.npy", None), ("b.npz", "kinect20"), ("c.npz", None), ("d.json", None),
                         ("e.json", "kinect20"), ("f.csv", None), ("g.csv", None)):
        (clip,) = read_clips(tmp_path / name)
        assert clip.layout == layout, name
        arr = clip.joints if clip.joints.ndim == 4 else clip.joints[None]
        np.testing.assert_allclose(arr, utd_clip, atol=1e-12, err_msg=name)
        assert clip.name.endswith(name)


def test_json_null_and_csv_empty_cells_are_missing(utd_clip, tmp_path):
    frames = utd_clip[0].tolist()
    frames[5][3] = [None, None, None]
    (tmp_path / "n.json").write_text(json.dumps(frames))
    (clip,) = read_clips(tmp_path / "n.json")
    assert np.isnan(clip.joints[5, 3]).all() and np.isfinite(np.delete(clip.joints, 5, 0)).all()
    rows = [",".join(repr(float(x)) for x in f.reshape(-1)) for f in utd_clip[0]]
    cells = rows[2].split(",")
    cells[0:3] = ["", "", ""]
    rows[2] = ",".join(cells)
    (tmp_path / "n.csv").write_text("\n".join(rows))
    (clip,) = read_clips(tmp_path / "n.csv")
    assert np.isnan(clip.joints[2, 0]).all()


def _ntu_skeleton_text(joints: np.ndarray) -> str:
    """An NTU .skeleton file of one body: joints (T, 25, 3)."""
    lines = [str(len(joints))]
    for frame in joints:
        lines += ["1", "72057594037931101 0 1 1 1 1 0 0.1 0.2 2", "25"]
        lines += [f"{x} {y} {z} 250 200 1000 500 0.1 0.2 0.3 0.4 2" for x, y, z in frame]
    return "\n".join(lines) + "\n"


def test_ntu_skeleton_file(utd_clip, tmp_path):
    ntu, _ = map_layout(utd_clip[0], "kinect20", "ntu25")  # (T, 25, 3), a plausible Kinect v2 body
    text = _ntu_skeleton_text(np.round(ntu, 6))
    for fname in ("S001C001P001R001A010.skeleton", "my_recording.skeleton"):
        (tmp_path / fname).write_text(text)
        (clip,) = read_clips(tmp_path / fname)
        assert clip.layout == "ntu25" and clip.joints.shape == (1, len(ntu), 25, 3)
        np.testing.assert_allclose(clip.joints[0], np.round(ntu, 6), atol=1e-6)
    (tmp_path / "S001C001P001R001A011.skeleton").write_text(text.splitlines()[0] + "\n1\n")
    with pytest.raises(InputError, match="S001C001P001R001A011.skeleton"):
        read_clips(tmp_path / "S001C001P001R001A011.skeleton")


def test_pyskl_pickle_one_clip_per_annotation(utd_clip, tmp_path):
    kp = utd_clip.astype(np.float16)
    data = {"split": {"x": ["first", "second"]},
            "annotations": [{"frame_dir": "first", "label": 0, "keypoint": kp, "total_frames": kp.shape[1]},
                            {"frame_dir": "second", "label": 1, "keypoint": kp[:, :10], "total_frames": 10},
                            {"frame_dir": "flat", "label": 1, "keypoint": kp[:, :10, :, :2],
                             "keypoint_score": np.ones(kp[:, :10, :, 0].shape, np.float16)}]}
    with open(tmp_path / "d.pkl", "wb") as f:
        pickle.dump(data, f)
    clips = read_clips(tmp_path / "d.pkl")
    assert [c.name.split("#")[1] for c in clips] == ["first", "second", "flat"]
    assert clips[1].joints.shape == (1, 10, 20, 3)
    assert clips[2].coords == "xy+score" and clips[2].joints.shape == (1, 10, 20, 3)
    with pytest.raises(InputError, match="flat.*2D"):
        prepare_joints(clips[2].joints, dst_layout="kinect20", input_coords=clips[2].coords, name=clips[2].name)
    joints, _ = prepare_joints(clips[2].joints, dst_layout="kinect20", coords="xy+score",
                               input_coords=clips[2].coords, name=clips[2].name)
    assert joints.shape == (1, 10, 20, 3)
    bad = {"annotations": [{"frame_dir": "x", "keypoint": np.zeros((5, 20, 3))}]}
    with open(tmp_path / "bad.pkl", "wb") as f:
        pickle.dump(bad, f)
    with pytest.raises(InputError, match=r"bad.pkl#x: keypoint has shape \(5, 20, 3\)"):
        read_clips(tmp_path / "bad.pkl")


def test_dataset_files_and_an_all_zero_clip(msr_root, utd_root):
    d = _msr_dir(msr_root)
    (clip,) = read_clips(d / "a01_s01_e01_skeleton3D.txt")
    assert clip.layout == "kinect20"
    np.testing.assert_allclose(clip.joints, read_msr_action3d_file(d / "a01_s01_e01_skeleton3D.txt"))
    (utd,) = read_clips(utd_root / "Skeleton" / "a1_s1_t1_skeleton.mat")
    assert utd.layout == "kinect20" and utd.joints.shape[2] == 20
    (zero,) = read_clips(d / "a13_s09_e02_skeleton3D.txt")  # the dataset's all-zero file
    with pytest.raises(InputError, match=r"a13_s09_e02_skeleton3D.txt: 0 frame\(s\) with a skeleton"):
        prepare_joints(zero.joints, dst_layout="kinect20", src_layout=zero.layout, name=zero.name)


def test_unreadable_files_are_named(tmp_path):
    (tmp_path / "x.txt").write_text("1 2 3\n")
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "r.json").write_text(json.dumps([[[0, 0, 0]] * 20, [[0, 0, 0]] * 19]))
    (tmp_path / "w.csv").write_text("1,2,3,4\n")
    np.savez(tmp_path / "m.npz", a=np.zeros(3), b=np.zeros(3))
    for name, pattern in (("x.txt", "MSR Action3D"), ("x.json", "not valid JSON"), ("r.json", "ragged"),
                          ("w.csv", "4 columns"), ("m.npz", "'joints' or a single array"),
                          ("x.bvh", "unsupported input file type"), ("none.npy", "no such file")):
        if name == "x.bvh":
            (tmp_path / name).write_text("")
        with pytest.raises(InputError, match=pattern) as e:
            read_clips(tmp_path / name)
        assert name in str(e.value)


def test_to_clips_flattens_arrays_paths_and_files(utd_clip, tmp_path):
    np.save(tmp_path / "a.npy", utd_clip)
    clips = to_clips([utd_clip[0], tmp_path / "a.npy"])
    assert [c.name for c in clips] == ["clip 0", str(tmp_path / "a.npy")]
    assert len(to_clips(utd_clip)) == 1 and len(to_clips(utd_clip[0].tolist())) == 1


# ------------------------------------------------------------------------------------------ layouts
def test_layout_mapping_exact_and_approximate(utd_clip):
    ntu, _ = map_layout(utd_clip, "kinect20", "ntu25")
    back, notes = prepare_joints(ntu, dst_layout="kinect20", src_layout="ntu25", name="n")
    np.testing.assert_allclose(back, utd_clip.astype(np.float32), atol=1e-6)  # every kinect20 joint exists in ntu25
    assert notes == []
    coco_names = get_layout("coco17").joints
    k20 = get_layout("kinect20")
    coco = np.stack([utd_clip[..., k20.index(n), :] if n in k20.joints else utd_clip[..., k20.index("head"), :]
                     for n in coco_names], axis=-2)  # (1, T, 17, 3)
    mapped, notes = prepare_joints(coco, dst_layout="kinect20", src_layout="coco17", name="c")
    assert mapped.shape == utd_clip.shape
    assert len(notes) == 1 and "approximate" in notes[0] and "hip_center" in notes[0] and "left_hand" in notes[0]
    np.testing.assert_allclose(mapped[..., k20.index("left_wrist"), :], utd_clip[..., k20.index("left_wrist"), :],
                               atol=1e-6)


def test_layout_is_never_guessed_from_the_joint_count(utd_clip):
    ntu, _ = map_layout(utd_clip, "kinect20", "ntu25")
    with pytest.raises(InputError, match=r"clipX: 25 joints per frame .*\(ntu25 has 25\)"):
        prepare_joints(ntu, dst_layout="kinect20", name="clipX")
    with pytest.raises(InputError, match="layout 'coco17' .* has 17"):
        prepare_joints(utd_clip, dst_layout="kinect20", src_layout="coco17", name="c")
    with pytest.raises(InputError, match="unknown joint layout 'body99'"):
        prepare_joints(utd_clip, dst_layout="kinect20", src_layout="body99", name="c")


# ------------------------------------------------------------------------------------------ bad input
def test_short_gap_is_interpolated_linearly(utd_clip):
    x = utd_clip.copy()
    x[0, 10:13, 7] = np.nan  # left_hand missing for 3 frames
    fixed, notes = repair_missing(x, name="g", layout_name="kinect20")
    w = np.array([1, 2, 3])[:, None] / 4
    expected = utd_clip[0, 9, 7] * (1 - w) + utd_clip[0, 13, 7] * w
    np.testing.assert_allclose(fixed[0, 10:13, 7], expected)
    np.testing.assert_array_equal(np.delete(fixed, [10, 11, 12], 1), np.delete(utd_clip, [10, 11, 12], 1))
    assert "interpolated 3" in notes[0]


def test_all_missing_edge_frames_are_dropped(utd_clip):
    x = utd_clip.copy()
    x[:, :2] = np.nan
    x[:, -3:] = np.nan
    fixed, notes = repair_missing(x, name="e")
    np.testing.assert_array_equal(fixed, utd_clip[:, 2:-3])
    assert "2 leading and 3 trailing" in notes[0]


def test_other_missing_values_are_refused(utd_clip):
    long_gap = utd_clip.copy()
    long_gap[0, 10:16, 7] = np.nan
    with pytest.raises(InputError, match=r"lg: person 0, joint 7 \(left_hand\) .* frames 10, 11, 12, 13, 14, 15: "
                                         r"a gap of 6 frames, longer than max_gap=5"):
        repair_missing(long_gap, name="lg", layout_name="kinect20")
    fixed, _ = repair_missing(long_gap, name="lg", max_gap=6)  # allowed when asked
    assert np.isfinite(fixed).all()
    start = utd_clip.copy()
    start[0, :3, 0] = np.nan
    with pytest.raises(InputError, match="joint 0 .* at the start of the clip"):
        repair_missing(start, name="s", layout_name="kinect20")
    partial = utd_clip.copy()
    partial[0, 5, 2, 1] = np.nan
    with pytest.raises(InputError, match="some coordinates"):
        repair_missing(partial, name="p")
    inf = utd_clip.copy()
    inf[0, 4, 1, 0] = np.inf
    with pytest.raises(InputError, match="i: infinite value at person 0, frame 4, joint 1"):
        repair_missing(inf, name="i")
    with pytest.raises(InputError, match="every value is missing"):
        repair_missing(np.full((1, 4, 20, 3), np.nan), name="n")


def test_shape_frames_and_2d_are_checked(utd_clip):
    with pytest.raises(InputError, match=r"w: joints have shape \(20, 3\)"):
        prepare_joints(utd_clip[0, 0], dst_layout="kinect20", name="w")
    with pytest.raises(InputError, match="4 values per joint"):
        prepare_joints(np.zeros((5, 20, 4)), dst_layout="kinect20", name="w")
    with pytest.raises(InputError, match=f"1 frame\\(s\\) with a skeleton, need at least {MIN_FRAMES}"):
        prepare_joints(utd_clip[:, :1], dst_layout="kinect20", name="one")
    with pytest.raises(InputError, match="flat: 2D joints .* trained on 3D"):
        prepare_joints(utd_clip[..., :2], dst_layout="kinect20", name="flat")
    joints, _ = prepare_joints(utd_clip[..., :2], dst_layout="kinect20", coords="xy+score", name="flat")
    assert (joints[..., 2] == 1).all()  # full confidence where no score was given
    with pytest.raises(InputError, match="not a numeric array"):
        prepare_joints([["a"]], dst_layout="kinect20", name="s")
