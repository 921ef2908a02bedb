from __future__ import annotations

import json

import pytest

from zeroskel.cli.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_json_utd_with_protocol(capsys, utd_root):
    code, out, _ = _run(capsys, "data", "summary", "utd-mhad", "--root", str(utd_root), "--json",
                        "--protocol", "utd-f1")
    assert code == 0
    s = json.loads(out)
    assert (s["num_samples"], s["num_classes"], s["layout"], s["skipped"]) == (861, 27, "kinect20", [])
    assert s["class_names"][0] == "right arm swipe to the left" and len(s["class_names"]) == 27
    assert (s["train"], s["test_seen"], s["test_unseen"]) == (335, 334, 96)
    assert s["val_seen"] > 0 and s["val_unseen"] > 0 and s["holdout"] >= s["val_seen"]
    assert s["frames"] == {"min": 41, "median": s["frames"]["median"], "max": 125}
    d = s["validation_draws"]
    assert [v["held_out_subjects"] for v in d] == [[1], [7]]
    assert d[0]["counts"] == {"val_train": 180, "val_seen": 59, "val_unseen": 96}


def test_summary_json_msr_and_utk_report_skips(capsys, msr_root, utk_root):
    code, out, _ = _run(capsys, "data", "summary", "msr-action3d", "--root", str(msr_root), "--json")
    s = json.loads(out)
    assert code == 0 and s["num_samples"] == 566 and s["num_classes"] == 20
    assert [k["sample"] for k in s["skipped"]] == ["a13_s09_e02"]
    assert "zero" in s["skipped"][0]["reason"]
    code, out, _ = _run(capsys, "data", "summary", "utkinect", "--root", str(utk_root), "--json",
                        "--protocol", "utk-f2")
    s = json.loads(out)
    assert code == 0 and s["num_samples"] == 199
    assert s["skipped"][0]["sample"] == "s10_e02_carry" and "no segment" in s["skipped"][0]["reason"]
    assert s["train"] + s["test_seen"] + s["test_unseen"] < 199  # unseen train samples are unused
    assert s["val_train"] + s["val_seen"] + s["val_unseen"] == s["train"]


def test_summary_readable(capsys, utk_root):
    code, out, _ = _run(capsys, "data", "summary", "utkinect", "--root", str(utk_root),
                        "--protocol", "utk-f1")
    assert code == 0
    assert "utkinect: 199 samples, 10 classes, layout kinect20" in out
    assert "s10_e02_carry: no segment" in out and "test_unseen: 50" in out


def test_unknown_names_exit_2(capsys, utd_root):
    code, _, err = _run(capsys, "data", "summary", "kth", "--root", str(utd_root), "--json")
    assert code == 2 and "unknown dataset 'kth'" in err
    code, _, err = _run(capsys, "data", "summary", "utd-mhad", "--root", str(utd_root),
                        "--protocol", "utd-f9")
    assert code == 2 and "unknown protocol 'utd-f9'" in err
    code, _, err = _run(capsys, "protocols", "show", "nope", "--json")
    assert code == 2 and "unknown protocol 'nope'" in err
    code, _, err = _run(capsys, "data", "layouts", "h36m")
    assert code == 2 and "unknown joint layout 'h36m'" in err
    code, _, err = _run(capsys, "data", "prepare", "kth", "--root", ".", "--out", "x")
    assert code == 2 and "unknown dataset" in err
    code, _, err = _run(capsys, "data", "download", "kth", "--dest", "x")
    assert code == 2 and "unknown dataset" in err
    code, _, err = _run(capsys, "protocols", "list", "--dataset", "kth")
    assert code == 2


def test_summary_wrong_root_and_wrong_protocol_dataset(capsys, tmp_path, utd_root):
    code, _, err = _run(capsys, "data", "summary", "utd-mhad", "--root", str(tmp_path), "--json")
    assert code == 2 and "no files matching" in err
    code, _, err = _run(capsys, "data", "summary", "utd-mhad", "--root", str(utd_root),
                        "--protocol", "msr-f1")
    assert code == 2 and "defined on msr-action3d" in err


def test_protocols_list_and_show(capsys):
    from zeroskel.data.protocols import list_protocols

    code, out, _ = _run(capsys, "protocols", "list")
    assert code == 0 and len(out.strip().splitlines()) == len(list_protocols()) >= 33 and "ntu60-55/5" in out
    code, out, _ = _run(capsys, "protocols", "list", "--dataset", "msr-action3d", "--json")
    assert [p["name"] for p in json.loads(out)] == ["msr-f1", "msr-f2", "msr-f3", "msr-f4"]
    code, out, _ = _run(capsys, "protocols", "show", "ntu60-55/5", "--json")
    p = json.loads(out)
    assert code == 0 and p["name"] == "ntu60-55/5" and p["dataset"] == "ntu60"
    assert p["unseen"] == [10, 11, 19, 26, 56] and len(p["seen"]) == 55
    assert p["unseen_names"] == ["reading", "writing", "put on a hat/cap", "jump up", "touch pocket"]
    assert p["split"] == "ntu-xsub"
    code, out, _ = _run(capsys, "protocols", "show", "utk-f1")
    assert code == 0 and "0 walk" in out and "utk-f1: dataset utkinect" in out


def test_layouts_command(capsys):
    code, out, _ = _run(capsys, "data", "layouts", "kinect20", "--json")
    lay = json.loads(out)
    assert code == 0 and lay["num_joints"] == 20 and lay["joints"][0] == "hip_center"
    code, out, _ = _run(capsys, "data", "layouts")
    assert code == 0 and len(out.strip().splitlines()) == 5


def test_prepare_writes_a_cache(capsys, tmp_path, utk_root):
    from zeroskel.data.cache import load_cache

    out_dir = tmp_path / "utk-cache"
    with pytest.warns(UserWarning, match="s10_e02_carry"):
        code, out, _ = _run(capsys, "data", "prepare", "utkinect", "--root", str(utk_root),
                            "--out", str(out_dir), "--no-progress")
    assert code == 0 and "199 samples cached" in out and "1 skipped" in out
    cached = load_cache(out_dir)
    assert len(cached) == 199 and cached.layout == "kinect20"
    assert [s.name for s in cached.samples][:2] == ["s01_e01_walk", "s01_e01_sitDown"]


def test_download_calls_download_dataset(capsys, tmp_path, monkeypatch):
    download = pytest.importorskip("zeroskel.data.download")
    calls = {}

    def fake_download(name, dest, *, url=None, progress=True):
        calls["download"] = (name, dest, url, progress)
        return dest / name

    monkeypatch.setattr(download, "download_dataset", fake_download)
    code, out, _ = _run(capsys, "data", "download", "utd-mhad", "--dest", str(tmp_path),
                        "--url", "file:///x.zip")
    assert code == 0 and calls["download"] == ("utd-mhad", tmp_path, "file:///x.zip", True)
    assert "downloaded to" in out
