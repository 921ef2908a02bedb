"""Sliding-window classification over a stream of real UTD-MHAD frames.

The weights do not matter here (the windows, hops and per-window results do), so the recognizer is a
tiny freshly initialised bundle (``bundle_from_models``) with the hashing text encoder.
"""
from __future__ import annotations

import numpy as np
import pytest

from zeroskel.data.readers.kinect_v1 import read_utd_mhad_file
from zeroskel.infer.bundle import bundle_from_models
from zeroskel.infer.inputs import InputError
from zeroskel.infer.recognizer import ZeroShotRecognizer
from zeroskel.infer.stream import StreamClassifier

CLASSES = ["right hand wave", "squat", "jogging in place"]


def tiny_recognizer(tmp_path, length: int = 16) -> ZeroShotRecognizer:
    bundle = bundle_from_models(
        ("shiftgcn", {"num_classes": 5, "num_joints": 20, "num_person": 1, "base_channels": 4}),
        ("neuron", {"feat_dim": 16, "text_dim": 32, "num_spatial_protos": 8, "num_temporal_protos": 8,
                    "keep_schedule": (6, 4, 2), "hidden_dim": 16}),
        layout="kinect20", length=length, text_encoder="hashing:32")
    return ZeroShotRecognizer(bundle, cache_dir=tmp_path / "cache")


@pytest.fixture(scope="module")
def frames(utd_root):
    return read_utd_mhad_file(utd_root / "Skeleton" / "a3_s1_t1_skeleton.mat")[0]  # (T, 20, 3)


def test_windows_and_hops_match_predict(tmp_path, frames):
    rec = tiny_recognizer(tmp_path)
    stream = StreamClassifier(rec, CLASSES, window=16, hop=8, top_k=2)
    preds = [(t, stream.push(f)) for t, f in enumerate(frames[:40])]
    emitted = [(t, p) for t, p in preds if p is not None]
    assert [t for t, _ in emitted] == [15, 23, 31, 39]
    for t, p in emitted:
        assert (p.start, p.end) == (t - 15, t) and p.error is None and len(p.ranking) == 2
        assert p.ranking == rec.predict(frames[t - 15:t + 1], CLASSES, top_k=2)
    d = emitted[0][1].as_dict()
    assert set(d) == {"start", "end", "ranking"} and set(d["ranking"][0]) == {"class", "score"}


def test_people_axis_layout_and_reset(tmp_path, frames):
    from zeroskel.data.layouts import map_layout

    rec = tiny_recognizer(tmp_path)
    ntu, _ = map_layout(frames, "kinect20", "ntu25")  # (T, 25, 3)
    stream = StreamClassifier(rec, CLASSES, window=8, hop=4, layout="ntu25")
    out = [stream.push(f[None]) for f in ntu[:8]]  # (M=1, V, 3) frames
    assert out[:7] == [None] * 7 and out[7].ranking == rec.predict(frames[:8], CLASSES)
    with pytest.raises(InputError, match=r"stream frame 8: shape \(1, 20, 3\) differs"):
        stream.push(frames[8][None])
    stream.reset()
    assert stream.push(ntu[0]) is None and stream.count == 1
    with pytest.raises(InputError, match="expected \\(V, 3\\) or \\(M, V, 3\\)"):
        stream.push(np.zeros(3))
    stream.reset()
    with pytest.raises(InputError, match="stream frame 0: 25 joints per frame"):
        StreamClassifier(rec, CLASSES, window=8).push(ntu[0])  # no layout given
    with pytest.raises(InputError, match="2D joints"):
        stream.push(ntu[0][:, :2])


def test_bad_window_reports_an_error_and_the_stream_goes_on(tmp_path, frames):
    rec = tiny_recognizer(tmp_path)
    stream = StreamClassifier(rec, CLASSES, window=8, hop=4)
    bad = frames[:16].astype(np.float64).copy()
    bad[2:8, 5] = np.nan  # left elbow lost for 6 frames
    bad[12, 6] = np.nan   # left wrist lost for one frame: repaired
    out = [p for p in (stream.push(f) for f in bad) if p is not None]
    assert [p.end for p in out] == [7, 11, 15]
    assert out[0].ranking == [] and "left_elbow" in out[0].error and "at the end of the clip" in out[0].error
    assert out[1].ranking == [] and "at the start of the clip" in out[1].error  # frames 4..11
    assert out[2].error is None and len(out[2].ranking) == 3
    assert any("interpolated 1" in n for n in out[2].notes)


def test_arguments_are_checked(tmp_path):
    rec = tiny_recognizer(tmp_path)
    with pytest.raises(ValueError, match="window"):
        StreamClassifier(rec, CLASSES, window=1)
    with pytest.raises(ValueError, match="hop"):
        StreamClassifier(rec, CLASSES, hop=0)
