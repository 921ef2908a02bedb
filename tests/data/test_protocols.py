from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from zeroskel.data import load_dataset
from zeroskel.data.class_names import BY_DATASET
from zeroskel.data.layouts import UnknownNameError
from zeroskel.data.protocols import Protocol, get_protocol, list_protocols, make_splits
from zeroskel.data.sample import SkeletonDataset, SkeletonSample

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "protocols.md"

EXPECTED_NAMES = (
    ["ntu60-55/5", "ntu60-48/12", "ntu120-110/10", "ntu120-96/24", "pku51-46/5", "pku51-39/12"]
    + [f"{d}-r{i}" for d in ("ntu60", "ntu120", "pku51") for i in (1, 2, 3)]
    + ["ntu60-40/20", "ntu60-30/30"]
    + [f"utd-f{i}" for i in range(1, 6)] + [f"msr-f{i}" for i in range(1, 5)] + ["utk-f1", "utk-f2"]
    + ["utd-purls-22/5", "utd-purls-18/9", "utd-purls-14/13", "nwucla-purls-8/2", "nwucla-purls-5/5"]
)


def _load(name, root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(name, root)


def test_registry_complete_and_consistent():
    assert sorted(list_protocols()) == sorted(EXPECTED_NAMES)
    for name in EXPECTED_NAMES:
        p = get_protocol(name)
        k = len(BY_DATASET[p.dataset])
        assert p.num_classes == k
        assert sorted(p.seen + p.unseen) == list(range(k))
        m = re.fullmatch(r"[\w-]+?-(\d+)/(\d+)", name)
        if m:
            assert (len(p.seen), len(p.unseen)) == (int(m.group(1)), int(m.group(2)))
    assert get_protocol("ntu60-55/5").unseen == (10, 11, 19, 26, 56)
    assert get_protocol("pku51-46/5").split == "pku-xsub"
    assert get_protocol("ntu120-r2").dataset == "ntu120"
    # the folds of each small dataset cover every class exactly once
    for prefix, ds in (("utd", "utd-mhad"), ("msr", "msr-action3d"), ("utk", "utkinect")):
        unseen = [c for n in list_protocols(ds) if re.search(r"-f\d$", n) for c in get_protocol(n).unseen]
        assert sorted(unseen) == list(range(len(BY_DATASET[ds])))
    assert list_protocols("utkinect") == ["utk-f1", "utk-f2"]


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference notes not present")
def test_registry_matches_reference_tables():
    text = REFERENCE.read_text()
    checked = 0
    for line in text.splitlines():
        m = re.fullmatch(r"\| ([a-z0-9/-]+) \| [^|]+ \| ([\d, ]+) \|", line.strip())
        if m:
            assert list(get_protocol(m.group(1)).unseen) == sorted(int(c) for c in m.group(2).split(","))
            checked += 1
        m = re.fullmatch(r"\| (\w+)-r1 / r2 / r3 \| [^|]+ \| ([\d, /]+) \|", line.strip())
        if m:
            for i, part in enumerate(m.group(2).split("/"), 1):
                assert list(get_protocol(f"{m.group(1)}-r{i}").unseen) == [int(c) for c in part.split(",")]
                checked += 1
    assert checked == 26  # all table rows (the two larger NTU60 splits are in prose)


def test_purls_literature_splits():
    """PURLS's supplementary Table 8 unseen lists (its class order is the project's), our sample splits."""
    expected = {"utd-purls-22/5": [24, 14, 4, 23, 17], "utd-purls-18/9": [0, 3, 7, 16, 6, 18, 11, 13, 1],
                "utd-purls-14/13": [12, 8, 24, 23, 0, 13, 10, 21, 20, 1, 6, 19, 9],
                "nwucla-purls-8/2": [1, 4], "nwucla-purls-5/5": [1, 3, 4, 6, 8]}
    for name, unseen in expected.items():
        p = get_protocol(name)
        assert list(p.unseen) == sorted(unseen)
        assert p.split == ("xsub-odd" if name.startswith("utd") else "nwucla-view")
        assert "sample split" in p.note and p.as_dict()["note"] == p.note
    assert get_protocol("utd-purls-22/5").as_dict()["unseen_names"] == [
        "right arm throw", "tennis right hand forehand swing", "two hand push", "sit to stand", "stand to sit"]
    assert "note" not in get_protocol("utd-f1").as_dict()


def test_unknown_protocol():
    with pytest.raises(UnknownNameError, match="unknown protocol 'ntu60-1/59'"):
        get_protocol("ntu60-1/59")


def _check_splits(ds, sp, proto):
    labels = ds.labels()
    sets = {k: set(getattr(sp, k).tolist()) for k in sp.INDEX_FIELDS}
    test = sets["test_seen"] | sets["test_unseen"]
    # train / test disjoint; every sample is in train or test (seen or unseen)
    assert not test & sets["train"]
    seen_train_or_unseen = {i for i in range(len(ds))} - test
    assert sets["train"] == {i for i in seen_train_or_unseen if labels[i] in sp.seen}
    # no test sample anywhere in train/val; val sets inside train
    for k in ("holdout", "val_train", "val_seen", "val_unseen"):
        assert not sets[k] & test and sets[k] <= sets["train"]
    # validation sets disjoint and covering train
    assert not sets["val_train"] & sets["val_seen"]
    assert not sets["val_train"] & sets["val_unseen"]
    assert not sets["val_seen"] & sets["val_unseen"]
    assert sets["val_train"] | sets["val_seen"] | sets["val_unseen"] == sets["train"]
    assert set(labels[sp.test_unseen]) <= set(proto.unseen)
    assert set(labels[sp.test_seen]) <= set(proto.seen)
    assert set(labels[sp.val_unseen]) == set(sp.val_unseen_classes)
    assert set(labels[sp.val_seen]) == set(labels[sp.val_train]) == set(sp.val_seen_classes)
    assert sorted(sp.val_seen_classes + sp.val_unseen_classes) == sp.seen
    assert len(sp.val_seen_classes) >= 2
    assert len(sp.val_unseen_classes) == min(len(proto.unseen), len(proto.seen) - 2)
    for arr in (getattr(sp, k) for k in sp.INDEX_FIELDS):
        assert arr.dtype == np.int64 and np.all(np.diff(arr) > 0)


def test_utd_folds(utd_root):
    ds = _load("utd-mhad", utd_root)
    total_unseen_test = 0
    for name in list_protocols("utd-mhad"):
        sp = make_splits(ds, name)
        _check_splits(ds, sp, get_protocol(name))
        subjects = np.array([s.subject for s in ds.samples])
        assert set(subjects[sp.train] % 2) == {1} and set(subjects[sp.test_seen] % 2) == {0}
        if re.search(r"-f\d$", name):
            total_unseen_test += len(sp.test_unseen)
        # stratified ~20% holdout
        for c in sp.seen:
            n = int(np.sum(ds.labels()[sp.train] == c))
            h = int(np.sum(ds.labels()[sp.holdout] == c))
            assert h == round(0.2 * n)
    assert total_unseen_test == 430  # every even-subject sample is unseen in exactly one fold
    sp = make_splits(ds, "utd-f1")
    assert (len(sp.train), len(sp.test_seen), len(sp.test_unseen)) == (335, 334, 96)


def test_msr_and_utk_counts(msr_root, utk_root):
    msr = _load("msr-action3d", msr_root)
    counts = [make_splits(msr, n) for n in list_protocols("msr-action3d")]
    for n, sp in zip(list_protocols("msr-action3d"), counts):
        _check_splits(msr, sp, get_protocol(n))
    train_total = sum(len(sp.train) for sp in counts)
    test_total = sum(len(sp.test_unseen) for sp in counts)
    subjects = np.array([s.subject for s in msr.samples])
    assert test_total == int(np.sum(subjects % 2 == 0))
    assert train_total == 3 * int(np.sum(subjects % 2 == 1))
    utk = _load("utkinect", utk_root)
    sp = make_splits(utk, "utk-f1")
    _check_splits(utk, sp, get_protocol("utk-f1"))
    assert (len(sp.train), len(sp.test_seen), len(sp.test_unseen)) == (50, 49, 50)
    assert len(sp.val_unseen_classes) == 3  # 5 seen classes, at least 2 stay pseudo-seen


def test_determinism_and_seed(utk_root):
    ds = _load("utkinect", utk_root)
    a, b = make_splits(ds, "utk-f2", seed=0), make_splits(ds, "utk-f2", seed=0)
    for k in a.INDEX_FIELDS:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.val_unseen_classes == b.val_unseen_classes
    others = [make_splits(ds, "utk-f2", seed=s) for s in range(1, 6)]
    assert any(o.val_unseen_classes != a.val_unseen_classes
               or not np.array_equal(o.holdout, a.holdout) for o in others)
    for o in others:  # the protocol part never depends on the seed
        np.testing.assert_array_equal(o.train, a.train)
        np.testing.assert_array_equal(o.test_unseen, a.test_unseen)


def test_wrong_dataset_and_missing_meta(utk_root):
    ds = _load("utkinect", utk_root)
    with pytest.raises(ValueError, match="defined on utd-mhad"):
        make_splits(ds, "utd-f1")
    # NTU-style rules read ids the readers store; a sample without them is named in the error
    joints = np.ones((1, 3, 25, 3), np.float32)
    fake = SkeletonDataset("pku-mmd", list(BY_DATASET["pku-mmd"]), "ntu25",
                           [SkeletonSample("0291-L_1", joints, 1, meta={"xsub": "train"}),
                            SkeletonSample("0002-M_4", joints, 2, meta={})])
    with pytest.raises(ValueError, match="0002-M_4: no meta\\['xsub'\\]"):
        make_splits(fake, "pku51-46/5")
    fake.samples[1].meta["xsub"] = "test"
    sp = make_splits(fake, "pku51-46/5")
    assert sp.test_unseen.tolist() == [] and sp.train.tolist() == [] and sp.test_seen.tolist() == [1]
    ntu = SkeletonDataset("ntu60", list(BY_DATASET["ntu60"]), "ntu25",
                          [SkeletonSample(f"S001C001P{p:03d}R001A011", joints, 10, subject=p,
                                          meta={"camera": 1, "setup": 1}) for p in (1, 3)])
    sp = make_splits(ntu, "ntu60-55/5")
    assert sp.test_unseen.tolist() == [1] and sp.train.tolist() == []
    custom = Protocol("x", "ntu60", "ntu-xview", (10,))
    assert make_splits(ntu, custom).test_unseen.tolist() == [0, 1]  # camera 1 tests


def _subjects(ds, idx):
    return {ds.samples[i].subject for i in idx}


def test_validation_draws_hold_out_a_training_subject(utd_root, msr_root):
    from zeroskel.data.protocols import validation_draw

    for name, root, proto in (("utd-mhad", utd_root, "utd-f1"), ("msr-action3d", msr_root, "msr-f2")):
        ds = _load(name, root)
        labels = ds.labels()
        sp = make_splits(ds, proto)
        train_subjects = _subjects(ds, sp.train)
        test_subjects = _subjects(ds, np.concatenate([sp.test_seen, sp.test_unseen]))
        assert not train_subjects & test_subjects
        for seed in (0, 1):
            draws = [validation_draw(ds, sp, seed=seed, draw=k) for k in range(len(train_subjects))]
            # a seed's draws hold out different subjects while there are subjects left
            assert sorted(s for v in draws for s in v.held_out_subjects) == sorted(train_subjects)
            for v in draws:
                sets = {k: set(getattr(v, k).tolist()) for k in v.INDEX_FIELDS}
                assert not sets["val_train"] & sets["val_seen"]
                assert not sets["val_train"] & sets["val_unseen"]
                assert not sets["val_seen"] & sets["val_unseen"]
                assert sets["val_train"] | sets["val_seen"] | sets["val_unseen"] == set(sp.train.tolist())
                # the held-out subject is val_seen's only subject and absent from val_train
                assert _subjects(ds, v.val_seen) == set(v.held_out_subjects)
                assert not _subjects(ds, v.val_train) & set(v.held_out_subjects)
                # no test subject anywhere; pseudo-unseen classes never reach training
                for k in v.INDEX_FIELDS:
                    assert not _subjects(ds, getattr(v, k)) & test_subjects
                assert set(labels[v.val_train]) == set(v.val_seen_classes)
                assert set(labels[v.val_unseen]) == set(v.val_unseen_classes)
                assert sorted(v.val_seen_classes + v.val_unseen_classes) == sp.seen
                assert len(v.val_unseen_classes) == len(sp.unseen) and len(v.val_seen) > 0
                for arr in (getattr(v, k) for k in v.INDEX_FIELDS):
                    assert arr.dtype == np.int64 and np.all(np.diff(arr) > 0)
    # counts of the real folds (docs/protocols.md): one UTD subject holds ~60 pseudo-seen clips
    ds = _load("utd-mhad", utd_root)
    v = validation_draw(ds, make_splits(ds, "utd-f1"), seed=0, draw=0)
    assert v.held_out_subjects == [1] and v.counts() == {"val_train": 180, "val_seen": 59, "val_unseen": 96}
    two = validation_draw(ds, make_splits(ds, "utd-f1"), seed=0, draw=0, num_subjects=2)
    assert len(two.held_out_subjects) == 2 and _subjects(ds, two.val_seen) == set(two.held_out_subjects)


def test_validation_draws_vary_with_seed_and_draw_and_are_reproducible(utd_root):
    from zeroskel.data.protocols import validation_draw

    ds = _load("utd-mhad", utd_root)
    sp = make_splits(ds, "utd-f2")
    key = lambda v: (tuple(v.val_unseen_classes), tuple(v.held_out_subjects))  # noqa: E731
    a = validation_draw(ds, sp, split_seed=0, seed=0, draw=0)
    b = validation_draw(ds, sp, split_seed=0, seed=0, draw=0)
    for k in a.INDEX_FIELDS:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert key(a) == key(b)
    draws = {(ss, s, d): key(validation_draw(ds, sp, split_seed=ss, seed=s, draw=d))
             for ss in (0, 1) for s in (0, 1, 2) for d in (0, 1)}
    # every (split_seed, seed, draw) has its own pseudo-unseen classes
    assert len({v[0] for v in draws.values()}) == len(draws)
    assert draws[(0, 0, 0)][1] != draws[(0, 0, 1)][1]       # and a seed's draws differ in subject


def test_validation_draw_without_subjects_falls_back_to_clips():
    from zeroskel.data.protocols import validation_draw

    from zeroskel.data.protocols import Splits

    joints = np.ones((1, 3, 20, 3), np.float32)
    # utkinect, 10 classes; subject ids unknown (-1) but the split rule needs them: build splits by hand
    names = list(BY_DATASET["utkinect"])
    samples = [SkeletonSample(f"c{c}_{i}", joints, c, subject=-1) for c in range(10) for i in range(5)]
    ds = SkeletonDataset("utkinect", names, "kinect20", samples)
    empty = np.zeros(0, np.int64)
    seen = [c for c in range(10) if c not in get_protocol("utk-f1").unseen]
    train = np.array([i for i, s in enumerate(samples) if s.label in seen], np.int64)
    sp = Splits("utk-f1", train, empty, empty, empty, empty, empty, empty, seen=seen,
                unseen=list(get_protocol("utk-f1").unseen))
    v = validation_draw(ds, sp, seed=3, draw=1)
    assert v.held_out_subjects == []
    assert set(ds.labels()[v.val_seen].tolist()) == set(v.val_seen_classes)   # one clip per class
    assert len(v.val_seen) == len(v.val_seen_classes)                           # round(0.2 * 5) = 1
    assert len(v.val_train) + len(v.val_seen) + len(v.val_unseen) == len(train)
    with pytest.raises(ValueError, match="num_subjects"):
        validation_draw(ds, sp, num_subjects=0)
