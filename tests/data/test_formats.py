"""CTR-GCN ``.npz`` and pyskl pickle: round trips and files built by hand in the foreign layout."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from zeroskel.data import formats
from zeroskel.data.class_names import NTU60
from zeroskel.data.formats import read_ctrgcn_npz, read_pyskl, write_ctrgcn_npz, write_pyskl
from zeroskel.data.sample import SkeletonDataset, SkeletonSample


def sample(name: str, M: int, T: int, label: int, seed: int) -> SkeletonSample:
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 0.5, (M, T, 25, 3)).astype(np.float32)
    return SkeletonSample(name=name, joints=joints, label=label, subject=1)


def dataset(samples: list[SkeletonSample]) -> SkeletonDataset:
    return SkeletonDataset(name="ntu60", class_names=list(NTU60), layout="ntu25", samples=samples)


def test_ctrgcn_round_trip(tmp_path):
    train = dataset([sample("a", 1, 40, 3, 0), sample("b", 2, 75, 59, 1)])
    test = dataset([sample("c", 2, 12, 0, 2)])
    path = write_ctrgcn_npz(tmp_path / "NTU60_CS.npz", train, test)
    with np.load(path) as raw:  # the foreign layout, as CTR-GCN's feeder reads it
        assert raw["x_train"].shape == (2, 300, 150) and raw["x_train"].dtype == np.float32
        assert raw["y_test"].shape == (1, 60) and raw["y_test"][0, 0] == 1
        np.testing.assert_array_equal(raw["x_train"][1, 0, 75:150],
                                      train.samples[1].joints[1, 0].reshape(-1))
    assert isinstance(formats._npz_member(path, "x_train"), np.memmap)  # stored: memory-mapped
    for split, ds in (("train", train), ("test", test)):
        back = read_ctrgcn_npz(path, split=split)
        assert back.name == "ntu60" and back.class_names == list(NTU60)
        assert back.layout == "ntu25" and len(back) == len(ds)
        for got, want in zip(back.samples, ds.samples):
            assert got.joints.shape == want.joints.shape  # padding trimmed, M restored
            np.testing.assert_array_equal(got.joints, want.joints)
            assert got.label == want.label
    assert read_ctrgcn_npz(path, split="test").samples[0].name == "NTU60_CS_test_000000"
    assert not list(tmp_path.glob(".*.tmp"))


def test_ctrgcn_foreign_file(tmp_path):
    # built by hand as the CTR-GCN preprocessing writes it: (N, 300, 150), one-hot labels
    x = np.zeros((3, 300, 150), dtype=np.float32)
    rng = np.random.default_rng(0)
    one = rng.normal(size=(50, 25, 3)).astype(np.float32)
    x[0, :50, :75] = one.reshape(50, 75)                # one person, 50 frames
    x[1, :20] = rng.normal(size=(20, 150))              # two people, 20 frames
    x[2, :30, 75:] = rng.normal(size=(30, 75))          # only the second slot filled
    y = np.zeros((3, 120), dtype=np.float32)
    y[[0, 1, 2], [5, 119, 60]] = 1
    path = tmp_path / "NTU120_CSub.npz"
    np.savez_compressed(path, x_train=x, y_train=y, x_test=x[:1], y_test=y[:1])
    ds = read_ctrgcn_npz(path, split="train")
    assert ds.name == "ntu120" and len(ds.class_names) == 120
    assert [s.joints.shape for s in ds.samples] == [(1, 50, 25, 3), (2, 20, 25, 3),
                                                    (2, 30, 25, 3)]
    np.testing.assert_array_equal(ds.samples[0].joints[0], one)
    assert list(ds.labels()) == [5, 119, 60]


def test_ctrgcn_errors(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, x_train=np.ones((1, 10, 150), np.float32), y_train=np.eye(7)[:1])
    with pytest.raises(ValueError, match="7 classes match no known dataset"):
        read_ctrgcn_npz(path)
    ds = read_ctrgcn_npz(path, class_names=[f"c{i}" for i in range(7)])
    assert ds.class_names[6] == "c6" and ds.samples[0].joints.shape == (2, 10, 25, 3)
    with pytest.raises(KeyError, match="no array 'x_test'"):
        read_ctrgcn_npz(path, split="test", class_names=[f"c{i}" for i in range(7)])
    np.savez(path, x_train=np.ones((1, 10, 99), np.float32), y_train=np.eye(7)[:1])
    with pytest.raises(ValueError, match=r"expected \(N, T, 150\)"):
        read_ctrgcn_npz(path)
    kinect = dataset([SkeletonSample("k", np.zeros((1, 5, 20, 3), np.float32), 0)])
    with pytest.raises(ValueError, match="sample k: joints"):
        write_ctrgcn_npz(tmp_path / "x.npz", kinect, kinect)


def test_pyskl_round_trip(tmp_path):
    ds = dataset([sample("S001C001P001R001A001", 1, 30, 0, 0),
                  sample("S001C002P003R001A060", 2, 17, 59, 1),
                  sample("S002C003P002R002A010", 1, 9, 9, 2)])
    splits = {"xsub_train": ["S001C001P001R001A001"],
              "xsub_val": ["S001C002P003R001A060", "S002C003P002R002A010"]}
    path = write_pyskl(tmp_path / "ntu60_3danno.pkl", ds, splits)
    with open(path, "rb") as f:
        raw = pickle.load(f)
    assert raw["split"] == splits
    assert raw["annotations"][1]["keypoint"].dtype == np.float16
    assert raw["annotations"][1]["keypoint"].shape == (2, 17, 25, 3)
    assert raw["annotations"][1]["total_frames"] == 17

    back = read_pyskl(path)
    assert back.name == "ntu60" and [s.name for s in back.samples] == [s.name for s in ds.samples]
    for got, want in zip(back.samples, ds.samples):
        np.testing.assert_allclose(got.joints, want.joints, atol=2e-3)  # float16
        assert got.label == want.label
    assert back.samples[1].subject == 3 and back.samples[1].meta["camera"] == 2
    assert back.samples[2].meta["splits"] == ["xsub_val"]
    val = read_pyskl(path, split="xsub_val")
    assert [s.name for s in val.samples] == splits["xsub_val"]
    with pytest.raises(KeyError, match="no split 'xview_train'"):
        read_pyskl(path, split="xview_train")
    with pytest.raises(ValueError, match="not in the dataset, e.g. 'nope'"):
        write_pyskl(tmp_path / "bad.pkl", ds, {"train": ["nope"]})


def test_pyskl_foreign_2d_file(tmp_path):
    # as pyskl's ntu60_hrnet.pkl: 2D keypoints float16 + keypoint_score, extra fields
    rng = np.random.default_rng(0)
    anns = []
    for i, (fd, m, t) in enumerate([("S001C001P001R001A001", 1, 12), ("S003C002P007R001A002", 2, 8),
                                    ("S003C002P007R001A003", 1, 5)]):
        anns.append({"frame_dir": fd, "label": i, "img_shape": (1080, 1920),
                     "original_shape": (1080, 1920), "total_frames": t if i < 2 else 4,
                     "keypoint": rng.uniform(0, 1900, (m, t, 17, 2)).astype(np.float16),
                     "keypoint_score": rng.uniform(0, 1, (m, t, 17)).astype(np.float16)})
    anns.append({"frame_dir": "S001C001P001R001A060", "label": 59, "total_frames": 3,
                 "keypoint": np.zeros((1, 3, 17, 2), np.float16)})
    path = tmp_path / "ntu60_hrnet.pkl"
    with open(path, "wb") as f:
        pickle.dump({"split": {"xsub_train": [a["frame_dir"] for a in anns]},
                     "annotations": anns}, f)
    ds = read_pyskl(path, layout="coco17")
    assert ds.layout == "coco17" and ds.class_names == list(NTU60)
    first, second = ds.samples[0], ds.samples[1]
    assert first.joints.shape == (1, 12, 17, 3) and second.joints.shape == (2, 8, 17, 3)
    np.testing.assert_array_equal(second.joints[..., 2],
                                  anns[1]["keypoint_score"].astype(np.float32))
    assert first.meta["coords"] == "xy+score" and first.meta["img_shape"] == [1080, 1920]
    assert second.subject == 7 and second.meta["setup"] == 3
    assert ds.samples[2].name == "S001C001P001R001A060"  # no score: third channel zero
    reasons = {k.sample: k.reason for k in ds.skipped}
    assert "total_frames=4 but keypoint has 5 frames" in reasons["S003C002P007R001A003"]
