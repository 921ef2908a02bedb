"""``zeroskel analyze`` on two real (tiny) UTD-MHAD memory_runs and ``zeroskel show`` on real clips."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from zeroskel.cli.main import main


def test_analyze_with_compare_writes_figures_and_json(memory_runs, tmp_path, capsys):
    a, b = memory_runs
    out = tmp_path / "figs"
    assert main(["analyze", str(a), "--out", str(out), "--compare", str(b), "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    assert "k-means k = 6" in printed and "spatial_fine" in printed
    result = json.loads((out / "analysis.json").read_text())
    assert set(result["figures"]) == {"tsne", "clustering", "prototypes", "per_class",
                                      "per_class_difference", "confusion", "curves", "health"}
    for name in result["figures"].values():
        assert str(out / name) in printed
        with Image.open(out / name) as im:
            assert im.format == "PNG"
    assert result["temporal_prototypes"]["memory_settings"] == [False, True]
    this = json.loads((a / "seed0" / "per_class.json").read_text())["zsl_fused"]
    other = json.loads((b / "seed0" / "per_class.json").read_text())["zsl_fused"]
    got = {r["class"]: r["diff"] for r in result["per_class"]["difference"]}
    assert got == pytest.approx({c: this[c] - other[c] for c in this})
    assert result["per_class"]["other_run"] == str(b)


def test_analyze_alone_has_no_comparison(memory_runs, tmp_path):
    out = tmp_path / "alone"
    assert main(["analyze", str(memory_runs[1]), "--out", str(out)]) == 0
    result = json.loads((out / "analysis.json").read_text())
    assert "per_class_difference" not in result["figures"] and "difference" not in result["per_class"]
    assert result["temporal_memory"] is False
    assert [r["temporal_memory"] for r in result["temporal_prototypes"]["runs"]] == [False]
    assert not (out / "per_class_difference.png").exists()


def test_analyze_errors(memory_runs, tmp_path, capsys):
    assert main(["analyze", str(memory_runs[0]), "--out", str(tmp_path / "x"), "--seed", "7"]) == 2
    assert "seed 7 has no trained head" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "y")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_show_renders_a_real_utd_clip_to_gif_and_png(utd_root, tmp_path, capsys):
    mat = utd_root / "Skeleton" / "a27_s8_t3_skeleton.mat"
    gif, png = tmp_path / "clip.gif", tmp_path / "clip.png"
    assert main(["show", str(mat), "--out", str(gif), "--max-frames", "20", "--fps", "10"]) == 0
    assert "20 joints, layout kinect20" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames > 1
    assert main(["show", str(mat), "--out", str(png), "--frames", "4", "--title", "lunge"]) == 0
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 2 * im.size[1]


def test_show_other_formats_and_errors(msr_root, utk_root, tmp_path, capsys):
    msr = sorted(msr_root.rglob("a05_s02_e01_skeleton3D.txt"))[0]
    assert main(["show", str(msr), "--out", str(tmp_path / "msr.png"), "--3d", "--frames", "3"]) == 0
    utk = sorted(utk_root.rglob("joints_s01_e01.txt"))[0]
    assert main(["show", str(utk), "--out", str(tmp_path / "utk.png"), "--frames", "3"]) == 0
    capsys.readouterr()
    assert main(["show", str(msr), "--out", str(tmp_path / "clip.avi")]) == 2
    assert ".gif (animation) or .png" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "none.mat"), "--out", str(tmp_path / "n.gif")]) == 2
    assert "none.mat: no such skeleton file" in capsys.readouterr().err
    np.save(tmp_path / "bad.npy", np.zeros((4, 7, 3), dtype=np.float32))
    assert main(["show", str(tmp_path / "bad.npy"), "--out", str(tmp_path / "b.png")]) == 2
    assert "no registered layout has 7 joints" in capsys.readouterr().err
