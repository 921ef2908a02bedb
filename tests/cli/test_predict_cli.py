"""``zeroskel predict / stream / export / bundle`` on a real (tiny) UTD-MHAD run and real clips of
UTD-MHAD and MSR Action3D."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from zeroskel.cli.main import main
from zeroskel.data.class_names import MSR_ACTION3D
from zeroskel.data.readers.kinect_v1 import read_msr_action3d_file, read_utd_mhad_file
from zeroskel.infer.recognizer import ZeroShotRecognizer

CLASSES = "high arm wave,hand clap,bend,golf swing"


@pytest.fixture(scope="module")
def msr_file(msr_root):
    return next(msr_root.rglob("a10_s01_e01_skeleton3D.txt"))


def test_predict_json_equals_the_python_api(quick_run, msr_file, utd_root, tmp_path, capsys):
    utd = read_utd_mhad_file(utd_root / "Skeleton" / "a4_s2_t1_skeleton.mat")
    np.save(tmp_path / "utd.npy", utd)
    (tmp_path / "utd.json").write_text(json.dumps({"joints": utd[0].tolist(), "layout": "kinect20"}))
    capsys.readouterr()
    assert main(["predict", str(quick_run / "bundle"), str(msr_file), str(tmp_path / "utd.npy"),
                 str(tmp_path / "utd.json"), "--classes", CLASSES, "--top-k", "3", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["input"] for x in lines] == [str(msr_file), str(tmp_path / "utd.npy"), str(tmp_path / "utd.json")]
    rec = ZeroShotRecognizer.from_pretrained(quick_run / "bundle")
    names = CLASSES.split(",")
    for x, joints in zip(lines, (read_msr_action3d_file(msr_file), utd, utd)):
        ref = rec.predict(joints, names, top_k=3)
        assert [r["class"] for r in x["ranking"]] == [c for c, _ in ref]
        np.testing.assert_allclose([r["score"] for r in x["ranking"]], [s for _, s in ref], atol=1e-5)


def test_predict_text_output_side_info_and_layout(quick_run, msr_file, tmp_path, capsys):
    from zeroskel.data.layouts import map_layout

    ntu, _ = map_layout(read_msr_action3d_file(msr_file), "kinect20", "ntu25")
    np.save(tmp_path / "ntu.npy", ntu)
    assert main(["predict", str(quick_run), str(tmp_path / "ntu.npy"), "--layout", "ntu25",
                 "--side-info", "src/zeroskel/text/side_info/msr-action3d.json", "--top-k", "20"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(tmp_path / "ntu.npy") and len(out) == 21
    assert {line.split(". ", 1)[1].rsplit(" ", 1)[0].strip() for line in out[1:]} == set(MSR_ACTION3D)


def test_predict_errors(quick_run, msr_file, tmp_path, capsys):
    assert main(["predict", str(quick_run), str(msr_file)]) == 2
    assert "give the vocabulary" in capsys.readouterr().err
    zero = next(msr_file.parent.glob("a13_s09_e02_skeleton3D.txt"))
    assert main(["predict", str(quick_run), str(zero), "--classes", "a,b"]) == 2
    assert "a13_s09_e02_skeleton3D.txt: 0 frame(s) with a skeleton" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), str(msr_file), "--classes", "a,b"]) == 2
    assert "neither a bundle" in capsys.readouterr().err
    np.save(tmp_path / "ntu.npy", np.zeros((10, 25, 3)))
    assert main(["predict", str(quick_run), str(tmp_path / "ntu.npy"), "--classes", "a,b"]) == 2
    assert "--layout" in capsys.readouterr().err
    assert main(["predict", str(quick_run), str(msr_file), "--training-vocabulary", "--top-k", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_stream_reads_json_lines(quick_run, msr_file, monkeypatch, capsys):
    frames = read_msr_action3d_file(msr_file)[0]  # (T, 20, 3)
    lines = [json.dumps(f.tolist()) for f in frames[:20]]
    lines[3] = json.dumps({"joints": frames[3].tolist()})
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["stream", str(quick_run), "--classes", CLASSES, "--window", "12", "--hop", "4", "--top-k", "2"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(x["start"], x["end"]) for x in out] == [(0, 11), (4, 15), (8, 19)]
    assert all(len(x["ranking"]) == 2 for x in out)
    assert all(r["score"] == round(r["score"], 6) for x in out for r in x["ranking"])  # not 17 digits
    monkeypatch.setattr("sys.stdin", io.StringIO("[[1, 2]]\n"))
    assert main(["stream", str(quick_run), "--classes", CLASSES]) == 2
    assert "stdin line 1" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(frames[0, :, :2].tolist()) + "\n"))
    assert main(["stream", str(quick_run), "--classes", CLASSES]) == 2
    assert "2D joints" in capsys.readouterr().err


def test_export_and_bundle_commands(quick_run, tmp_path, capsys):
    assert main(["bundle", str(quick_run), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "bundle.json").exists()
    assert main(["export", str(tmp_path / "b"), "--onnx", str(tmp_path / "m.onnx"), "--classes", CLASSES]) == 0
    out = capsys.readouterr().out
    assert "checked with ONNX Runtime" in out
    assert json.loads((tmp_path / "m.classes.json").read_text()) == CLASSES.split(",")
    assert np.load(tmp_path / "m.text.npy").shape == (6, 4, 1, 32)
    assert main(["export", str(quick_run), "--onnx", str(tmp_path / "v.onnx")]) == 0  # training vocabulary
    assert len(json.loads((tmp_path / "v.classes.json").read_text())) == 27
    assert main(["bundle", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
