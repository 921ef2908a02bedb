"""NTU RGB+D raw ``.skeleton`` reader, on files written here in the exact format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zeroskel.data.readers import ntu
from zeroskel.data.readers.ntu import (
    SkeletonFormatError,
    load_ntu,
    load_ntu_sample,
    parse_ntu_name,
    parse_skeleton_file,
)


def person(t: int, x0: float = 0.0, wave: float = 0.3, seed: int = 0) -> np.ndarray:
    """A standing person (25, 3), 1.7 m tall and ~0.5 m wide, waving the right hand at time t."""
    rng = np.random.default_rng(seed)
    heights = np.linspace(0.0, 1.7, 25)
    joints = np.stack([x0 + 0.25 * np.sin(np.arange(25)), heights, np.full(25, 3.0)], axis=1)
    joints += 0.002 * rng.standard_normal((25, 3))
    joints[[9, 10, 11, 23, 24], 1] += wave * np.sin(t / 3.0)  # right arm moves
    return joints


def body_lines(body_id: str, joints: np.ndarray, state: int = 2) -> list[str]:
    lines = [f"{body_id} 0 1 1 1 1 0 0.01 -0.02 2", "25"]
    for x, y, z in joints:
        lines.append(f"{x:.6f} {y:.6f} {z:.6f} 0.5 0.4 900.1 500.2 0.1 0.2 0.3 0.9 {state}")
    return lines


def write_skeleton(path: Path, frames: list[list[tuple[str, np.ndarray]]]) -> Path:
    """Write ``frames`` (per frame a list of (bodyID, joints (25, 3))) as a raw .skeleton file."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines += body_lines(body_id, joints)
    path.write_text("\r\n".join(lines) + "\r\n")  # the released files use CRLF
    return path


A = "72057594037931101"
B = "72057594037931102"
N = "72057594037931999"


def one_person(tmp_path: Path, name: str = "S001C002P001R001A001", T: int = 30) -> Path:
    return write_skeleton(tmp_path / f"{name}.skeleton", [[(A, person(t))] for t in range(T)])


def test_parse_raw_file(tmp_path):
    path = one_person(tmp_path, T=5)
    frames = parse_skeleton_file(path)
    assert len(frames) == 5 and all(len(f) == 1 for f in frames)
    body = frames[2][0]
    assert body.body_id == A and len(body.info) == 10
    assert body.data.shape == (25, 12) and (body.tracking_state == 2).all()
    np.testing.assert_allclose(body.xyz, person(2), atol=1e-6)


@pytest.mark.parametrize("name, expected", [
    ("S001C001P001R001A001", (1, 1, 1, 1, 1)),
    ("S017C003P008R002A060.skeleton", (17, 3, 8, 2, 60)),
    ("/data/nturgb+d_skeletons/S032C002P106R002A120.skeleton", (32, 2, 106, 2, 120)),
    ("S018C001P041R001A061", (18, 1, 41, 1, 61)),
])
def test_parse_name(name, expected):
    info = parse_ntu_name(name)
    assert tuple(info[k] for k in ("setup", "camera", "performer", "replication", "action")) \
        == expected


@pytest.mark.parametrize("bad", ["S1C1P1R1A1", "a1_s1_t1_skeleton.mat", "S001C001P001R001"])
def test_parse_name_rejects(bad):
    with pytest.raises(ValueError, match="not an NTU sample name"):
        parse_ntu_name(bad)


def test_one_person_sample(tmp_path):
    # frames 3 and 4 carry no body: they are dropped
    frames = [[(A, person(t))] for t in range(30)]
    frames[3] = []
    frames[4] = []
    path = write_skeleton(tmp_path / "S001C002P003R002A013.skeleton", frames)
    s = load_ntu_sample(path)
    assert s.name == "S001C002P003R002A013"
    assert s.joints.shape == (1, 28, 25, 3) and s.joints.dtype == np.float32
    assert s.label == 12 and s.subject == 3
    assert s.meta["setup"] == 1 and s.meta["camera"] == 2 and s.meta["replication"] == 2
    np.testing.assert_allclose(s.joints[0, 3], person(5), atol=1e-5)


def test_two_people_ordered_by_first_appearance(tmp_path):
    # B appears first but moves less; A appears from frame 5 and moves more: order is B, A.
    frames = []
    for t in range(40):
        bodies = [(B, person(t, x0=1.0, wave=0.05))]
        if t >= 5:
            bodies.append((A, person(t, x0=-1.0, wave=0.4)))
        frames.append(bodies)
    path = write_skeleton(tmp_path / "S001C001P002R001A050.skeleton", frames)
    s = load_ntu_sample(path)
    assert s.joints.shape == (2, 40, 25, 3)
    np.testing.assert_allclose(s.joints[0, 0], person(0, x0=1.0, wave=0.05), atol=1e-5)
    assert np.all(s.joints[1, :5] == 0)  # A absent at the start: zero-filled
    np.testing.assert_allclose(s.joints[1, 5], person(5, x0=-1.0, wave=0.4), atol=1e-5)
    assert s.meta["num_bodies"] == 2


def test_noise_bodies_discarded(tmp_path):
    # A and B are real; N1 is too short; N2 is a wide, flat object (a table, say), long and moving
    flat = lambda t: np.stack(  # noqa: E731  (x spread 2 m, y spread 0.2 m)
        [np.linspace(-1, 1, 25) + 0.3 * np.sin(t), np.linspace(0.7, 0.9, 25), np.full(25, 2.0)],
        axis=1)
    frames = []
    for t in range(40):
        bodies = [(A, person(t, x0=-1.0, wave=0.2)), (B, person(t, x0=1.0, wave=0.1))]
        if 10 <= t < 18:
            bodies.append((N, person(t, x0=0.0, wave=2.0)))  # 8 frames, very active
        bodies.append(("777", flat(t)))
        frames.append(bodies)
    path = write_skeleton(tmp_path / "S001C001P001R001A055.skeleton", frames)
    s = load_ntu_sample(path)
    assert s.joints.shape == (2, 40, 25, 3)
    np.testing.assert_allclose(s.joints[0, 0], person(0, x0=-1.0, wave=0.2), atol=1e-5)
    np.testing.assert_allclose(s.joints[1, 0], person(0, x0=1.0, wave=0.1), atol=1e-5)
    assert "too short" in s.meta["noise_bodies"][N]
    assert "too wide" in s.meta["noise_bodies"]["777"]


def test_jittery_body_discarded(tmp_path):
    rng = np.random.default_rng(1)
    frames = [[(A, person(t)), (N, person(t, x0=1.0) + rng.normal(0, 0.6, (25, 3)))]
              for t in range(30)]
    s = load_ntu_sample(write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", frames))
    assert s.joints.shape[0] == 1
    assert "noisy joints" in s.meta["noise_bodies"][N]


def test_third_person_dropped_and_empty_frames_removed(tmp_path):
    # three real people: the least active goes; frames where only it appears vanish
    frames = []
    for t in range(30):
        frames.append([(A, person(t, x0=-1, wave=0.3)), (B, person(t, x0=1, wave=0.2))])
    for t in range(30, 45):
        frames.append([("C", person(t, x0=0, wave=0.01))])
    s = load_ntu_sample(write_skeleton(tmp_path / "S001C001P001R001A058.skeleton", frames))
    assert s.joints.shape == (2, 30, 25, 3)
    assert s.meta["num_bodies"] == 3


def test_empty_and_truncated_files(tmp_path):
    empty = write_skeleton(tmp_path / "S001C001P001R001A002.skeleton", [[] for _ in range(10)])
    with pytest.raises(ValueError, match="no body"):
        load_ntu_sample(empty)

    good = one_person(tmp_path, "S001C001P001R001A003", T=4).read_text().splitlines()
    truncated = tmp_path / "S001C001P001R001A004.skeleton"
    truncated.write_text("\n".join(good[:40]) + "\n")
    with pytest.raises(SkeletonFormatError, match=r"A004\.skeleton: line 41: .*truncated"):
        parse_skeleton_file(truncated)

    bad = list(good)
    bad[10] = "0.1 0.2 oops 0.5 0.4 900.1 500.2 0.1 0.2 0.3 0.9 2"
    malformed = tmp_path / "S001C001P001R001A005.skeleton"
    malformed.write_text("\n".join(bad) + "\n")
    with pytest.raises(SkeletonFormatError, match=r"A005\.skeleton: line 11: .*not numeric"):
        parse_skeleton_file(malformed)

    bad = list(good)
    bad[3] = "24"  # joint count of the first body
    wrong_count = tmp_path / "S001C001P001R001A006.skeleton"
    wrong_count.write_text("\n".join(bad) + "\n")
    with pytest.raises(SkeletonFormatError, match=r"line 4: joint count is 24"):
        parse_skeleton_file(wrong_count)


def test_load_dataset_reports_skips(tmp_path):
    root = tmp_path / "nturgb+d_skeletons"
    (root / "sub").mkdir(parents=True)
    one_person(root, "S001C001P001R001A001")
    one_person(root / "sub", "S002C002P002R001A002")  # found recursively
    one_person(root, "S003C003P003R002A060")
    one_person(root, "S001C001P001R001A007")  # on the missing list
    write_skeleton(root / "S001C001P001R001A008.skeleton", [[] for _ in range(5)])  # empty
    (root / "S001C001P001R001A009.skeleton").write_text("3\n1\n")  # truncated
    one_person(root, "S018C001P045R001A061")  # NTU120 only
    missing = tmp_path / "samples_with_missing_skeletons.txt"
    missing.write_text("S001C001P001R001A007\nS009C001P001R001A001\n\n")

    ds = load_ntu(root, 60, missing_list=missing, progress=False)
    assert ds.name == "ntu60" and ds.layout == "ntu25" and len(ds.class_names) == 60
    assert ds.class_names[0] == "drink water"
    assert [s.name for s in ds.samples] == [
        "S001C001P001R001A001", "S002C002P002R001A002", "S003C003P003R002A060"]
    assert list(ds.labels()) == [0, 1, 59]
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert reasons["S001C001P001R001A007"] == "listed as a sample with missing skeletons"
    assert "no body" in reasons["S001C001P001R001A008"]
    assert "A009.skeleton: line 3" in reasons["S001C001P001R001A009"]
    assert "truncated" in reasons["S001C001P001R001A009"]
    assert any("1 files of the NTU120 extension" in k.reason for k in ds.skipped)

    ds120 = load_ntu(root, 120, missing_list=missing, progress=False)
    assert len(ds120.class_names) == 120
    assert "S018C001P045R001A061" in [s.name for s in ds120.samples]
    assert ds120.samples[-1].label == 60


def test_benchmark_ids(tmp_path):
    """The ids X-Sub / X-View / X-Set need, and the standard sides they give."""
    root = tmp_path / "ntu"
    root.mkdir()
    for name in ["S001C001P001R001A001",   # subject 1 (train), camera 1 (test), setup 1 (odd)
                 "S002C002P003R001A001",   # subject 3 (test), camera 2 (train), setup 2 (even)
                 "S017C003P038R002A010",   # subject 38 (train), camera 3 (train)
                 "S018C001P045R001A001",   # NTU120: subject 45 (train), setup 18 (even)
                 "S019C002P044R001A001"]:  # NTU120: subject 44 (test), setup 19 (odd)
        one_person(root, name)
    ds60 = {s.name: s for s in load_ntu(root, 60, progress=False).samples}
    assert [(s.subject, s.meta["camera"], s.meta["setup"]) for s in ds60.values()] == [
        (1, 1, 1), (3, 2, 2), (38, 3, 17)]
    assert [(s.meta["xsub"], s.meta["xview"]) for s in ds60.values()] == [
        ("train", "test"), ("test", "train"), ("train", "train")]
    ds120 = {s.name: s for s in load_ntu(root, 120, progress=False).samples}
    assert [(s.meta["xsub"], s.meta["xset"]) for s in ds120.values()] == [
        ("train", "test"), ("test", "train"), ("train", "test"), ("train", "train"),
        ("test", "test")]
    assert len(ntu.NTU60_XSUB_TRAIN) == 20 and len(ntu.NTU120_XSUB_TRAIN) == 53
