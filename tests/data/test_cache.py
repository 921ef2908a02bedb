"""Prepared cache on the real UTD-MHAD data: round trip, no-op rerun, resume, corruption."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zeroskel.data import cache
from zeroskel.data.cache import CacheError, load_cache, prepare_cache
from zeroskel.data.readers.kinect_v1 import load_utd_mhad
from zeroskel.data.sample import Skipped


@pytest.fixture(scope="module")
def utd(utd_root):
    ds = load_utd_mhad(utd_root)
    assert len(ds) == 861
    ds.skipped.append(Skipped("a99_s1_t1", "made-up skip, to see it carried into the manifest"))
    return ds


def assert_same(loaded, ds):
    assert loaded.name == ds.name and loaded.class_names == list(ds.class_names)
    assert loaded.layout == ds.layout and len(loaded) == len(ds)
    assert [k.as_dict() for k in loaded.skipped] == [k.as_dict() for k in ds.skipped]
    for got, want in zip(loaded.samples, ds.samples):
        assert got.name == want.name and got.label == want.label
        assert got.subject == want.subject and got.meta == want.meta
        assert got.joints.shape == want.joints.shape
        np.testing.assert_allclose(got.joints.astype(np.float32), want.joints,
                                   rtol=1e-3, atol=1e-3)  # float16


def test_round_trip_and_noop(utd, tmp_path):
    out = prepare_cache(utd, tmp_path / "utd", progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "index.json", "index.npy", "joints.f16", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_samples"] == 861 and manifest["layout"] == "kinect20"
    assert manifest["files"]["joints.f16"]["size"] == 2 * sum(s.joints.size for s in utd.samples)

    loaded = load_cache(out, verify=True)
    assert isinstance(loaded.samples[0].joints, np.memmap)
    assert loaded.samples[0].joints.dtype == np.float16
    assert_same(loaded, utd)

    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert prepare_cache(utd, out, progress=False) == out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_resume_after_interruption(utd, tmp_path, monkeypatch):
    real_write = cache._write_chunk
    calls = []

    def failing(path, samples, offset):
        calls.append(offset)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption after chunk 2")
        real_write(path, samples, offset)

    monkeypatch.setattr(cache, "_write_chunk", failing)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        prepare_cache(utd, out, progress=False, chunk_size=100)
    assert not (out / "manifest.json").exists()
    assert sorted(p.name for p in (out / "partial").glob("*.done")) == [
        "chunk_00000.done", "chunk_00001.done"]
    with pytest.raises(CacheError, match="no finished cache"):
        load_cache(out)

    calls.clear()
    monkeypatch.setattr(cache, "_write_chunk", lambda *a: (calls.append(a[2]), real_write(*a)))
    prepare_cache(utd, out, progress=False, chunk_size=100)
    assert len(calls) == 7  # 9 chunks of <= 100 samples, the first 2 already committed
    assert not (out / "partial").exists()

    clean = prepare_cache(utd, tmp_path / "clean", progress=False, chunk_size=100)
    for name in ("joints.f16", "index.npy", "index.json"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()
    assert_same(load_cache(out, verify=True), utd)


def test_changed_dataset_rebuilds(utd, tmp_path):
    out = prepare_cache(utd, tmp_path / "c", progress=False)
    smaller = type(utd)(utd.name, utd.class_names, utd.layout, utd.samples[:10], [], utd.root)
    prepare_cache(smaller, out, progress=False)
    loaded = load_cache(out)
    assert len(loaded) == 10 and loaded.skipped == []


def test_corruption_is_reported(utd, tmp_path):
    small = type(utd)(utd.name, utd.class_names, utd.layout, utd.samples[:20], [], utd.root)
    out = prepare_cache(small, tmp_path / "c", progress=False)
    manifest = (out / "manifest.json").read_text()

    (out / "manifest.json").write_text(manifest[: len(manifest) // 2])
    with pytest.raises(CacheError, match="corrupt manifest"):
        load_cache(out)
    (out / "manifest.json").write_text(json.dumps({"format": "zeroskel-cache/1"}))
    with pytest.raises(CacheError, match="corrupt manifest \\(missing dataset"):
        load_cache(out)

    (out / "manifest.json").write_text(manifest)
    data = bytearray((out / "joints.f16").read_bytes())
    data[100] ^= 0xFF
    (out / "joints.f16").write_bytes(bytes(data))
    load_cache(out)  # sizes still match: the cheap check passes
    with pytest.raises(CacheError, match="joints.f16: checksum does not match"):
        load_cache(out, verify=True)
    (out / "joints.f16").write_bytes(bytes(data[:-2]))
    with pytest.raises(CacheError, match="joints.f16: size"):
        load_cache(out)


def test_bad_samples_rejected(utd, tmp_path):
    bad = utd.samples[0]
    broken = type(bad)(bad.name, bad.joints * np.nan, bad.label)
    ds = type(utd)(utd.name, utd.class_names, utd.layout, [utd.samples[1], broken], [], "")
    with pytest.raises(ValueError, match=f"sample {bad.name}: joints have NaN"):
        prepare_cache(ds, tmp_path / "c", progress=False)
