"""benchmarks/encoder_epoch_rule.py: the validation encoders' cross-subject figure at the main encoder's
holdout-chosen epoch and at their last epoch, read from a real (tiny) bench folder."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from helpers import run_tiny_bench

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "encoder_epoch_rule.py"
TINY = ["encoder.base_channels=4", "encoder.epochs=3", "data.length=16", "extract.views=1", "head.epochs=1",
        "head.min_steps=0", "text.encoder=hashing:32", "progress=false", "encoder.select=holdout"]


def test_epoch_rule_reads_the_draws_at_the_main_encoders_epoch(utd_root, tmp_path, capsys):
    out = tmp_path / "bench"
    run_tiny_bench(utd_root, out, TINY)
    mod = runpy.run_path(str(SCRIPT))
    shared = out / "utd-f1" / "_shared" / "seed0"
    chosen = json.loads((shared / "encoder" / "result.json").read_text())["best_epoch"]
    found = mod["rows"]([out])
    assert [r["draw"] for r in found] == ["d0", "d1"]
    for r in found:
        hist = json.loads((shared / "val_encoder" / r["draw"] / "result.json").read_text())["history"]
        assert r["main_epoch"] == chosen + 1 and r["epochs"] == 3
        assert r["at_main_epoch"] == hist[chosen]["val_acc"] and r["at_last"] == hist[-1]["val_acc"]
    assert mod["main"](["--bench", str(out), "--out", str(tmp_path / "t.md")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert "2 draws: val-seen" in text and "| utd-f1 | seed0 | d0 |" in text
    with pytest.raises(SystemExit, match="no validation encoders"):
        mod["main"](["--bench", str(tmp_path / "empty")])
