"""Nothing a file can do to a user: a corpus of bad files, built here in a temp folder (no binary fixture
is committed), tried as a careful user and an attacker would.

For each bad file: a non-zero exit (or an error, or the sample skipped with its reason), a message that
names the file and the problem, no traceback, no file outside the temp folder touched, nothing written
before lost. The model is a tiny freshly initialised bundle (``bundle_from_models``): the weights do not
matter for any of this. Clips are real UTD-MHAD / MSR Action3D / UTKinect data read from the shared folder.
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from zeroskel.cli.main import main
from zeroskel.data import load_dataset
from zeroskel.data.readers.kinect_v1 import read_utd_mhad_file
from zeroskel.infer.bundle import BUNDLE_FILE, bundle_from_models, load_bundle, write_bundle
from zeroskel.infer.inputs import InputError
from zeroskel.infer.recognizer import ZeroShotRecognizer

REPO = Path(__file__).resolve().parents[1]
CLASSES = "right hand wave,squat,jogging in place"


# ------------------------------------------------------------------------------------------ fixtures
def _tiny_bundle(seed: int = 0):
    return bundle_from_models(
        ("shiftgcn", {"num_classes": 5, "num_joints": 20, "num_person": 1, "base_channels": 4}),
        ("neuron", {"feat_dim": 16, "text_dim": 32, "num_spatial_protos": 8, "num_temporal_protos": 8,
                    "keep_schedule": (6, 4, 2), "hidden_dim": 16}),
        layout="kinect20", length=16, text_encoder="hashing:32", seed=seed)


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory) -> Path:
    return write_bundle(_tiny_bundle(), tmp_path_factory.mktemp("good") / "bundle")


@pytest.fixture(scope="module")
def clip(utd_root) -> np.ndarray:
    return read_utd_mhad_file(utd_root / "Skeleton" / "a3_s1_t1_skeleton.mat")[0]  # (T, 20, 3) metres


@pytest.fixture(autouse=True)
def home_in_tmp(tmp_path, monkeypatch):
    """Every test runs with its home and cache folders inside its temp folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    monkeypatch.delenv("ZEROSKEL_CACHE_DIR", raising=False)


def fresh_copy(bundle: Path, out: Path) -> Path:
    """A copy of ``bundle`` without the text cache earlier tests wrote into it."""
    shutil.copytree(bundle, out, ignore=shutil.ignore_patterns("text_cache"))
    return out


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse refusals
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def predict(capsys, bundle: Path, *inputs, extra=()) -> tuple[int, str, str]:
    return cli(capsys, "predict", bundle, *inputs, "--classes", CLASSES, "--json", *extra)


class Evil:
    """Unpickling this makes a folder: stands for any code a crafted pickle would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


# ------------------------------------------------------------------------- 1. code execution
def test_crafted_pickle_runs_nothing(tmp_path, capsys, good_bundle, clip):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"annotations": [{"keypoint": Evil(marker)}]}))
    rc, out, err = predict(capsys, good_bundle, evil)
    assert rc != 0 and str(evil) in err and "refused to load posix.mkdir" in err
    assert not marker.exists()
    # the dataset reader uses the same restricted unpickler
    from zeroskel.data.formats import read_pyskl

    with pytest.raises(ValueError, match=f"{evil}: refused to load"):
        read_pyskl(evil)
    assert not marker.exists()
    # a plain pyskl pickle (numpy arrays, dicts, lists, str, numbers) still reads, with every protocol
    for protocol in (2, 4, 5):
        good = tmp_path / f"good{protocol}.pkl"
        ann = {"frame_dir": "a", "label": 0, "keypoint": clip[None].astype(np.float16),
               "total_frames": len(clip)}
        good.write_bytes(pickle.dumps({"split": {"x": ["a"]}, "annotations": [ann]}, protocol=protocol))
        rc, out, err = predict(capsys, good_bundle, good)
        assert rc == 0, err
        assert json.loads(out.splitlines()[0])["input"] == f"{good}#a"


def test_training_state_is_loaded_without_running_code(tmp_path):
    from zeroskel.train.io import CheckpointError, load_state

    marker = tmp_path / "pwned"
    state = tmp_path / "state.pt"
    torch.save({"model": {}, "optimizer": Evil(marker), "scheduler": {}, "epoch": 0, "result": {}}, state)
    with pytest.raises(CheckpointError, match=f"{state}: not a readable training state.*delete it"):
        load_state(state)
    assert not marker.exists()
    state.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=f"{state}: not a readable training state"):
        load_state(state)


# ------------------------------------------------------------------------------- input files
def _input_corpus(d: Path, clip: np.ndarray) -> dict[str, tuple[Path, str]]:
    """name -> (bad input file, what the message must say)."""
    d.mkdir(parents=True, exist_ok=True)
    c: dict[str, tuple[Path, str]] = {}

    def npy(name: str, arr, expect: str) -> None:
        np.save(d / f"{name}.npy", arr)
        c[name] = (d / f"{name}.npy", expect)

    rec = np.zeros((len(clip), 20), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    npy("structured", rec, "structured records")
    npy("complex", clip.astype(np.complex64), "complex numbers")
    npy("boolean", clip > 0, "booleans")
    npy("millimetres", clip * 1000, "look like millimetres")
    npy("x1e4", clip * 1e4, "Say the units")
    npy("x1e6", clip * 1e6, "Say the units")
    npy("zero_frames", np.zeros((0, 20, 3)), "empty joints array")
    npy("one_frame", clip[:1], "1 frame(s) with a skeleton")
    npy("infinite", np.where(np.arange(20)[None, :, None] == 3, np.inf, clip), "infinite value")
    np.savez(d / "empty_layout.npz", joints=clip, layout=np.array([], dtype="<U1"))
    c["empty_layout"] = (d / "empty_layout.npz", "'layout' must be one string")
    np.savez(d / "number_layout.npz", joints=clip, layout=np.array(3.0))
    c["number_layout"] = (d / "number_layout.npz", "'layout' must be one string")
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    c["deep_json"] = (d / "deep.json", "nested too deeply")
    (d / "latin1.json").write_bytes(b'{"joints": [], "note": "caf\xe9"}')
    c["non_utf8_json"] = (d / "latin1.json", "not UTF-8")
    (d / "bools.json").write_text(json.dumps((clip > 0).tolist()))
    c["json_booleans"] = (d / "bools.json", "not a regular nested list of numbers")
    (d / "truncated.pkl").write_bytes(pickle.dumps({"annotations": [{"keypoint": clip}]})[:200])
    c["truncated_pickle"] = (d / "truncated.pkl", "not a readable pickle")
    (d / "a01_s01_e01_skeleton3D.txt").write_bytes(b"0.1 0.2 \xff\xfe 1\n" * 40)
    c["non_utf8_msr"] = (d / "a01_s01_e01_skeleton3D.txt", "not a text file")
    (d / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    c["garbage_npy"] = (d / "garbage.npy", "cannot read")
    np.save(d / "objects.npy", np.array([Evil(d / "pwned"), 1], dtype=object), allow_pickle=True)
    c["object_npy"] = (d / "objects.npy", "never unpickled")
    return c


CORPUS_NAMES = ["structured", "complex", "boolean", "millimetres", "x1e4", "x1e6", "zero_frames", "one_frame",
                "infinite", "empty_layout", "number_layout", "deep_json", "non_utf8_json", "json_booleans",
                "truncated_pickle", "non_utf8_msr", "garbage_npy", "object_npy"]


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_bad_input_file_is_refused_by_name(name, tmp_path, capsys, good_bundle, clip):
    path, expect = _input_corpus(tmp_path / "in", clip)[name]
    before = path.read_bytes()
    rc, out, err = predict(capsys, good_bundle, path)
    assert rc == 2 and out == ""
    assert str(path) in err and expect in err, err
    assert path.read_bytes() == before  # an input is never written
    assert not (path.parent / "pwned").exists()


@pytest.mark.parametrize("content,expect", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"), (b"{", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"), (b'{"format": "caf\xe9"}', "not UTF-8"),
])
def test_bad_side_information_file_is_named(content, expect, tmp_path, capsys, good_bundle, clip):
    np.save(tmp_path / "clip.npy", clip)
    (tmp_path / "side.json").write_bytes(content)
    rc, out, err = cli(capsys, "predict", good_bundle, tmp_path / "clip.npy", "--side-info", tmp_path / "side.json")
    assert rc == 2 and f"{tmp_path / 'side.json'}: " in err and expect in err, err


def test_units_convert_and_scores_stay_finite(tmp_path, capsys, good_bundle, clip):
    np.save(tmp_path / "m.npy", clip)
    np.save(tmp_path / "mm.npy", clip * 1000)
    np.save(tmp_path / "huge.npy", clip * 1e4)
    rc, out, err = predict(capsys, good_bundle, tmp_path / "m.npy", extra=("--top-k", "0"))
    ref = json.loads(out)["ranking"]
    rc, out, err = predict(capsys, good_bundle, tmp_path / "mm.npy", extra=("--top-k", "0", "--units", "mm"))
    assert rc == 0 and "converted from mm to metres" in err
    got = json.loads(out)["ranking"]
    assert [r["class"] for r in got] == [r["class"] for r in ref]
    np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in ref], atol=1e-3)
    # "use them as they are": the float16 feature map would overflow (NaN for every class before)
    rc, out, err = predict(capsys, good_bundle, tmp_path / "huge.npy", extra=("--units", "m"))
    assert rc == 0, err
    assert "NaN" not in out and all(np.isfinite(r["score"]) for r in json.loads(out)["ranking"])


def test_non_finite_scores_are_refused(good_bundle, clip, tmp_path):
    rec = ZeroShotRecognizer.from_pretrained(good_bundle, cache_dir=tmp_path / "cache")
    with pytest.raises(InputError, match="clip 0: the model gives non-finite"):
        rec.predict(clip * 1e30, ["a", "b"], units="m")


def test_silent_arguments_are_refused(capsys, good_bundle, clip, tmp_path):
    np.save(tmp_path / "m.npy", clip)
    rc, out, err = predict(capsys, good_bundle, tmp_path / "m.npy", extra=("--top-k", "-1"))
    assert rc == 2 and "--top-k" in err and "negative" in err
    rec = ZeroShotRecognizer.from_pretrained(good_bundle, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="top_k must be a whole number >= 0"):
        rec.predict(clip, ["a", "b", "c"], top_k=-1)
    assert len(rec.predict(clip, ["a", "b", "c"], top_k=0)) == 3


# ------------------------------------------------------------------------------------- bundles
def _break(bundle: Path, how: str) -> str:
    """Damage a copy of a bundle; returns what the message must say."""
    info_path = bundle / BUNDLE_FILE
    info = json.loads(info_path.read_text())
    if how == "truncated_encoder":
        data = (bundle / "encoder.safetensors").read_bytes()
        (bundle / "encoder.safetensors").write_bytes(data[: len(data) // 2])
        return f"{bundle / 'encoder.safetensors'}: not a readable safetensors file"
    if how == "garbage_head":
        (bundle / "head.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
        return f"{bundle / 'head.safetensors'}: not a readable safetensors file"
    if how == "missing_head_file":
        (bundle / "head.safetensors").unlink()
        return "head.safetensors: no such checkpoint"
    if how == "json_list":
        info_path.write_text("[1, 2]")
        return "expected a JSON object, got a list"
    if how == "bad_json":
        info_path.write_text('{"format": ')
        return "not valid JSON"
    if how == "deep_json":
        info_path.write_text("[" * 100_000 + "]" * 100_000)
        return "not valid JSON"
    if how == "missing_key":
        del info["head"]
        info_path.write_text(json.dumps(info))
        return "missing the field 'head'"
    if how == "sizes_edited":
        info["encoder"]["model_kwargs"]["base_channels"] = 8
        info_path.write_text(json.dumps(info))
        return "the encoder settings disagree with the weights in encoder.safetensors"
    if how in ("length_0", "length_1"):
        info["preprocess"]["length"] = int(how[-1])
        info_path.write_text(json.dumps(info))
        return f"preprocess.length is {how[-1]}; clips need at least 4 frames"
    if how == "path_outside":
        shutil.copy(bundle / "encoder.safetensors", bundle.parent / "outside.safetensors")
        info["encoder"]["file"] = "../outside.safetensors"
        info_path.write_text(json.dumps(info))
        return "'../outside.safetensors' is not a file name inside the bundle folder"
    if how == "path_absolute":
        info["head"]["file"] = str(bundle.parent / "outside.safetensors")
        info_path.write_text(json.dumps(info))
        return "is not a file name inside the bundle folder"
    if how == "symlink_outside":
        (bundle.parent / "outside.safetensors").write_bytes((bundle / "head.safetensors").read_bytes())
        (bundle / "head.safetensors").unlink()
        (bundle / "head.safetensors").symlink_to(bundle.parent / "outside.safetensors")
        return "points outside the bundle folder"
    raise AssertionError(how)


BUNDLE_DAMAGE = ["truncated_encoder", "garbage_head", "missing_head_file", "json_list", "bad_json", "deep_json",
                 "missing_key", "sizes_edited", "length_0", "length_1", "path_outside", "path_absolute",
                 "symlink_outside"]


@pytest.mark.parametrize("how", BUNDLE_DAMAGE)
def test_damaged_bundle_is_named(how, tmp_path, capsys, good_bundle, clip):
    bundle = fresh_copy(good_bundle, tmp_path / "copy" / "bundle")
    expect = _break(bundle, how)
    np.save(tmp_path / "clip.npy", clip)
    rc, out, err = predict(capsys, bundle, tmp_path / "clip.npy")
    assert rc == 2 and out == ""
    assert expect in err, err
    assert str(bundle) in err


def test_corrupt_run_files_are_named(tmp_path):
    from zeroskel.train.io import CheckpointError, load_tensors, save_tensors
    from zeroskel.text.class_text import load_class_text, save_class_text

    feats = tmp_path / "seed0" / "features" / "train.safetensors"
    save_tensors(feats, {"features": torch.zeros(2, 3)}, {"x": 1})
    feats.write_bytes(feats.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=f"{feats}: not a readable safetensors file.*delete it"):
        load_tensors(feats)
    ct = tmp_path / "text" / "class_text.safetensors"
    save_class_text(torch.zeros(6, 2, 1, 4), ["a", "b"], ct)
    ct.write_bytes(ct.read_bytes()[:-8])
    with pytest.raises(ValueError, match=f"{ct}: not a readable class-text file"):
        load_class_text(ct)


def test_bad_text_cache_shard_is_rebuilt(tmp_path):
    from zeroskel.text.embed_cache import CachedEncoder
    from zeroskel.text.encoders import get_text_encoder

    enc = CachedEncoder(get_text_encoder("hashing:32"), tmp_path / "cache")
    ref = enc.encode(["wave", "sit down"])
    (shard,) = enc.cache._shards()
    shard.write_bytes(shard.read_bytes()[:50])  # truncated
    with pytest.warns(UserWarning, match=f"dropping {shard}: unreadable, truncated or corrupt"):
        again = CachedEncoder(get_text_encoder("hashing:32"), tmp_path / "cache")
    assert not shard.exists()
    torch.testing.assert_close(again.encode(["wave", "sit down"]), ref)
    assert len(again.cache._shards()) == 1  # rebuilt


def test_predict_works_when_the_text_cache_cannot_be_written(tmp_path, capsys, good_bundle, clip, monkeypatch):
    from zeroskel.text import embed_cache

    def full(self, keys, emb):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(embed_cache.EmbeddingCache, "_write_shard", full)
    bundle = fresh_copy(good_bundle, tmp_path / "b")
    np.save(tmp_path / "clip.npy", clip)
    rc, out, err = predict(capsys, bundle, tmp_path / "clip.npy")
    assert rc == 0 and len(json.loads(out)["ranking"]) == 3
    assert f"warning: text cache {bundle / 'text_cache'}" in err
    assert "cannot be written (No space left on device); embeddings are kept in memory" in err


def test_text_cache_defaults_inside_xdg_cache_home(tmp_path, good_bundle, monkeypatch):
    from zeroskel.infer.recognizer import default_cache_dir

    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # a read-only bundle folder
    assert default_cache_dir(good_bundle) == tmp_path / "home" / ".cache" / "zeroskel" / "text"


# ------------------------------------------------------------------------------ crash-safe bundles
def _killed_between_renames(out: Path) -> tuple[Path, Path]:
    """The state a writer killed after moving the old bundle aside and before renaming the new one in."""
    old = out.parent / f".{out.name}.abc.old"
    old.mkdir()
    os.replace(out, old / "bundle")
    new = out.parent / f".{out.name}.def.tmp"
    write_bundle(_tiny_bundle(seed=1), new)  # a complete new bundle in its temp folder
    return old, new


def test_kill_between_renames_is_recovered_on_load(tmp_path, good_bundle):
    out = fresh_copy(good_bundle, tmp_path / "run" / "bundle")
    old, new = _killed_between_renames(out)
    assert not out.exists()
    b = load_bundle(out)  # the next reader puts the new bundle in place and cleans up
    assert b.info["seed"] == 1 and (out / BUNDLE_FILE).exists()
    assert not old.exists() and not new.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["bundle"]


def test_old_bundle_is_restored_when_the_new_one_is_incomplete(tmp_path, good_bundle):
    out = fresh_copy(good_bundle, tmp_path / "run" / "bundle")
    old, new = _killed_between_renames(out)
    (new / BUNDLE_FILE).unlink()  # killed before bundle.json (written last): incomplete
    assert load_bundle(out).info["seed"] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["bundle"]


def test_leftovers_are_cleaned_by_the_next_write(tmp_path, good_bundle):
    out = fresh_copy(good_bundle, tmp_path / "run" / "bundle")
    (out.parent / ".bundle.x1.tmp").mkdir()
    (out.parent / ".bundle.x1.tmp" / "encoder.safetensors").write_bytes(b"half")
    (out.parent / ".bundle.x2.old" / "bundle").mkdir(parents=True)
    write_bundle(_tiny_bundle(seed=2), out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["bundle"]
    assert load_bundle(out).info["seed"] == 2


def test_missing_bundle_says_how_to_rebuild(tmp_path, capsys, clip):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("protocol: utd-f1\n")
    np.save(tmp_path / "clip.npy", clip)
    rc, out, err = predict(capsys, run / "bundle", tmp_path / "clip.npy")
    assert rc == 2 and f"rebuild it with `zeroskel bundle {run}`" in err


def test_disk_full_during_bundle_export_keeps_the_old_bundle(tmp_path, good_bundle, monkeypatch):
    from zeroskel.train import io

    out = fresh_copy(good_bundle, tmp_path / "run" / "bundle")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io, "save_file", full)
    expect = f"cannot write bundle {out}: No space left on device .*previous bundle, if any, is unchanged"
    with pytest.raises(OSError, match=expect):
        write_bundle(_tiny_bundle(seed=5), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["bundle"]  # no partial temp folder left


def test_disk_full_during_onnx_export_names_the_path(tmp_path, capsys, good_bundle, monkeypatch):
    pytest.importorskip("onnxruntime")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"a good model written before")

    def full(self, data):
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    rc, out, err = cli(capsys, "export", good_bundle, "--onnx", onnx, "--classes", CLASSES)
    assert rc == 2 and f"cannot write {onnx}: No space left on device" in err
    monkeypatch.undo()
    assert onnx.read_bytes() == b"a good model written before"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_disk_full_during_prepare_names_the_path(tmp_path, capsys, msr_root, monkeypatch):
    from zeroskel.data import cache

    root = tmp_path / "msr"
    root.mkdir()
    for name in ("a01_s01_e01", "a02_s01_e01"):
        shutil.copy(next(msr_root.rglob(f"{name}_skeleton3D.txt")), root)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache.os, "fsync", full)
    rc, out, err = cli(capsys, "data", "prepare", "msr-action3d", "--root", root, "--out", tmp_path / "c",
                       "--no-progress")
    assert rc != 0 and f"cannot write {tmp_path / 'c'}" in err and "No space left on device" in err


# ------------------------------------------------------------------------------ dataset folders
def test_dataset_files_are_skipped_with_their_reason(tmp_path, msr_root, utk_root, utd_root):
    msr = tmp_path / "msr"
    msr.mkdir()
    for name in ("a01_s01_e01", "a02_s01_e01"):
        shutil.copy(next(msr_root.rglob(f"{name}_skeleton3D.txt")), msr)
    bad_msr = msr / "a03_s01_e01_skeleton3D.txt"
    bad_msr.write_bytes(b"0.1 0.2 0.3 \xff\n" * 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset("msr-action3d", msr)
    assert len(ds.samples) == 2
    (skip,) = ds.skipped
    assert skip.sample == "a03_s01_e01" and "not a text file" in skip.reason and str(bad_msr) in skip.reason

    utk = tmp_path / "utk"
    (utk / "joints").mkdir(parents=True)
    shutil.copy(utk_root / "joints" / "joints_s01_e01.txt", utk / "joints")
    lines = (utk_root / "joints" / "joints_s01_e01.txt").read_text().splitlines()
    fields = lines[5].split()
    (utk / "joints" / "joints_s01_e02.txt").write_text("\n".join(lines[:5] + [" ".join(["inf", *fields[1:]])]))
    (utk / "joints" / "joints_s02_e01.txt").write_bytes(b"\xff\xfe" + lines[0].encode())
    (utk / "actionLabel.txt").write_text("s01_e01\nwalk: 252 390\ns01_e02\nwalk: 1 4\ns02_e01\nwalk: 1 4\n")
    names, reasons = _load_quietly("utkinect", utk)
    assert names == ["s01_e01_walk"]
    assert "frame id 'inf' is not a finite number" in reasons["s01_e02_walk"]
    assert "joints_s01_e02.txt" in reasons["s01_e02_walk"]
    assert "not a text file" in reasons["s02_e01_walk"] and "joints_s02_e01.txt" in reasons["s02_e01_walk"]

    utd = tmp_path / "utd"
    utd.mkdir()
    src = utd_root / "Skeleton" / "a1_s1_t1_skeleton.mat"
    for name in ("a1_s1_t1", "a1_s9_t1", "a1_s0_t1", "a1_s1_t5"):
        shutil.copy(src, utd / f"{name}_skeleton.mat")
    names, reasons = _load_quietly("utd-mhad", utd)
    assert names == ["a1_s1_t1"]
    assert "unknown subject s9 (UTD-MHAD has s1..s8)" in reasons["a1_s9_t1"]
    assert "unknown subject s0" in reasons["a1_s0_t1"]
    assert "unknown trial t5 (UTD-MHAD has t1..t4)" in reasons["a1_s1_t5"]
    assert str(utd / "a1_s9_t1_skeleton.mat") in reasons["a1_s9_t1"]


def _load_quietly(name, root):
    """(names of the samples read, {skipped sample: reason}) of a dataset folder, warnings muted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset(name, root)
    return [s.name for s in ds.samples], {s.sample: s.reason for s in ds.skipped}


# ------------------------------------------------------------------------------- run directories
def test_metrics_history_survives_resume(tmp_path):
    from zeroskel.train.run import Run
    from zeroskel.train.run_config import RunConfig

    first = Run(tmp_path, RunConfig())
    first._histories = {(0, "pretrain"): [{"epoch": e, "loss": 1.0} for e in range(3)],
                        (0, "train"): [{"epoch": e, "loss": 2.0} for e in range(2)]}
    first._write_jsonl()
    # a resumed process: pretrain is done (skipped), train resumes from its saved state (its whole history)
    second = Run(tmp_path, RunConfig())
    second._histories = {(0, "train"): [{"epoch": e, "loss": 2.0} for e in range(4)]}
    second._write_jsonl()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(x["step"], x["epoch"]) for x in lines] == [("pretrain", 0), ("pretrain", 1), ("pretrain", 2),
                                                        ("train", 0), ("train", 1), ("train", 2), ("train", 3)]


@pytest.mark.parametrize("length", [0, 1])
def test_run_with_too_short_clips_is_refused(length, tmp_path, capsys, utd_root):
    out = tmp_path / "run"
    rc, _, err = cli(capsys, "run", "--protocol", "utd-f1", "--data-root", utd_root, "--out", out, "--quiet",
                     f"data.length={length}")
    assert rc == 2 and f"data.length={length}: clips need at least 4 frames" in err
    assert not out.exists()


def test_second_process_on_a_run_directory_is_refused(tmp_path):
    from zeroskel.config import save_config
    from zeroskel.train.run import Run
    from zeroskel.train.run_config import RunConfig

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_config(RunConfig(protocol="utd-f1"), run_dir / "config.yaml")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HOME": str(tmp_path / "home")}
    with Run(run_dir).locked():
        proc = subprocess.run([sys.executable, "-m", "zeroskel.cli.main", "train", str(run_dir)],
                              capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{run_dir} is in use by pid {os.getpid()}" in proc.stderr
    assert "run.lock" in proc.stderr
    with Run(run_dir).locked():  # released: the next process gets it
        assert f"pid {os.getpid()}" in (run_dir / "run.lock").read_text()


# ------------------------------------------------------------------------ nothing outside touched
def test_nothing_outside_the_temp_folder_is_touched(tmp_path, capsys, good_bundle, clip):
    """The whole CLI corpus, with HOME and the cache folders inside the temp folder: the repository and
    the shared good bundle are unchanged afterwards."""
    def snapshot(root: Path) -> dict[str, float]:
        return {str(p): p.stat().st_mtime for p in root.rglob("*")
                if ".git" not in p.parts and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}

    def no_cache(snap: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in snap.items() if "text_cache" not in k}

    repo_before, bundle_before = snapshot(REPO), no_cache(snapshot(good_bundle))
    corpus = _input_corpus(tmp_path / "in", clip)
    for path, _ in corpus.values():
        rc, _, _ = predict(capsys, good_bundle, path)
        assert rc == 2
    np.save(tmp_path / "ok.npy", clip)
    rc, _, _ = predict(capsys, good_bundle, tmp_path / "ok.npy")
    assert rc == 0
    assert snapshot(REPO) == repo_before
    assert no_cache(snapshot(good_bundle)) == bundle_before
    assert not (Path.home() / ".cache" / "zeroskel").exists() or Path.home().is_relative_to(tmp_path)
