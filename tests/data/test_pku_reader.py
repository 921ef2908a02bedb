"""PKU-MMD phase I reader, on small files written here in the release's format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zeroskel.data.readers.pku import load_pku_mmd, read_split_list


def video_joints(T: int, two: bool, seed: int) -> np.ndarray:
    """(T, 2, 25, 3) synthetic skeletons; the second body zero unless ``two``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.5, (T, 2, 25, 3)).astype(np.float32)
    x[:, :, :, 2] += 3.0
    if not two:
        x[:, 1] = 0
    return x


def write_video(root: Path, video: str, joints: np.ndarray, labels: list[str]) -> None:
    skel = root / "PKU_Skeleton_Renew"
    lab = root / "Train_Label_PKU_final"
    skel.mkdir(parents=True, exist_ok=True)
    lab.mkdir(parents=True, exist_ok=True)
    rows = joints.reshape(len(joints), 150)  # (T, 2*25*3) in body, joint, xyz order
    (skel / f"{video}.txt").write_text(
        "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows) + "\n")
    (lab / f"{video}.txt").write_text("\n".join(labels) + "\n")


def write_splits(root: Path, xsub: tuple[list[str], list[str]], xview: tuple[list[str], list[str]],
                 spelling: str = "Validataion") -> None:
    split = root / "Split"
    split.mkdir(parents=True, exist_ok=True)
    for filename, (train, test) in (("cross-subject.txt", xsub), ("cross-view.txt", xview)):
        (split / filename).write_text(
            f"Training videos: \n{', '.join(train)},\n{spelling} videos: \n{', '.join(test)},\n")


@pytest.fixture()
def pku_root(tmp_path):
    root = tmp_path / "pku"
    j1 = video_joints(60, two=False, seed=1)
    j2 = video_joints(50, two=True, seed=2)
    j3 = video_joints(30, two=False, seed=3)
    j3[:, 0] = 0  # no skeleton at all
    write_video(root, "0002-L", j1, ["1,0,20,1", "51,20,45,2", "52,45,50,1", "3,40,70,1"])
    write_video(root, "0002-M", j2, ["14,5,30,1", "5,30,31,1"])
    write_video(root, "0003-R", j3, ["7,0,10,1"])
    write_splits(root, (["0002-L", "0003-R"], ["0002-M"]), (["0002-M", "0003-R"], ["0002-L"]))
    return root, j1, j2


def test_clips(pku_root):
    root, j1, j2 = pku_root
    ds = load_pku_mmd(root, progress=False)
    assert ds.name == "pku-mmd" and ds.layout == "ntu25" and len(ds.class_names) == 51
    by_name = {s.name: s for s in ds.samples}
    assert sorted(by_name) == ["0002-L_clip01", "0002-L_clip02", "0002-M_clip01"]

    c = by_name["0002-L_clip01"]
    assert c.joints.shape == (1, 20, 25, 3) and c.label == 0  # body 2 all zero -> M=1
    np.testing.assert_allclose(c.joints[0], j1[0:20, 0], atol=1e-5)
    assert c.meta["xsub"] == "train" and c.meta["xview"] == "test"
    assert c.meta["video"] == "0002-L" and c.meta["view"] == "L" and c.meta["clip"] == 1
    assert by_name["0002-L_clip02"].label == 50

    two = by_name["0002-M_clip01"]
    assert two.joints.shape == (2, 25, 25, 3) and two.label == 13
    np.testing.assert_allclose(two.joints[1], j2[5:30, 1], atol=1e-5)
    assert two.meta["xsub"] == "test" and two.meta["xview"] == "train"

    reasons = {k.sample: k.reason for k in ds.skipped}
    assert "label 52 is not in 1..51" in reasons["0002-L_clip03"]
    assert "ends after the 60 frames" in reasons["0002-L_clip04"]
    assert "fewer than 2 frames" in reasons["0002-M_clip02"]
    assert "all zeros" in reasons["0003-R_clip01"]


def test_split_list_spellings(tmp_path):
    path = tmp_path / "cross-view.txt"
    path.write_text("Training videos: 0002-L, 0002-M,\n0003-L\nValidation videos:\n0004-R, \n")
    assert read_split_list(path) == {"0002-L": "train", "0002-M": "train", "0003-L": "train",
                                     "0004-R": "test"}
    path.write_text("0002-L, 0002-M\n")
    with pytest.raises(ValueError, match="before a 'Training videos:'"):
        read_split_list(path)


def test_bad_files_reported(tmp_path):
    root = tmp_path / "pku"
    write_video(root, "0002-L", video_joints(20, False, 0), ["1,0,10,1"])
    write_video(root, "0004-L", video_joints(20, False, 0), ["1,0,10,1"])
    write_video(root, "0005-L", video_joints(20, False, 0), ["1;0;10"])
    bad = root / "PKU_Skeleton_Renew" / "0004-L.txt"
    lines = bad.read_text().splitlines()
    lines[3] = " ".join(lines[3].split()[:149])  # a short line
    bad.write_text("\n".join(lines) + "\n")
    write_splits(root, (["0002-L", "0004-L"], ["0005-L"]), (["0002-L"], ["0004-L", "0005-L"]),
                 spelling="Validation")
    write_video(root, "0006-L", video_joints(20, False, 0), ["1,0,10,1"])  # in no list
    ds = load_pku_mmd(root, progress=False)
    assert [s.name for s in ds.samples] == ["0002-L_clip01"]
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert "0004-L.txt: line 4: 149 values, expected 150" in reasons["0004-L"]
    assert "0005-L.txt: line 1: expected label,start,end,confidence" in reasons["0005-L"]
    assert "in no list of cross-subject.txt, cross-view.txt" in reasons["0006-L_clip01"]


def test_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="skeleton folder not found"):
        load_pku_mmd(tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pku_mmd(tmp_path, skeleton_dir="nope", progress=False)
