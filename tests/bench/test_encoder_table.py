"""benchmarks/encoder_table.py: encoder variants over the cells of real (tiny) bench folders."""
from __future__ import annotations

import csv
import json
import runpy
from pathlib import Path

from helpers import run_tiny_bench

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "encoder_table.py"
TINY = ["encoder.base_channels=4", "encoder.epochs=1", "data.length=16", "extract.views=1", "head.epochs=2",
        "head.min_steps=0", "text.encoder=hashing:32", "progress=false"]  # separate validation encoders


def test_encoder_table_reads_bench_cells(utd_root, tmp_path):
    out = tmp_path / "bench"
    run_tiny_bench(utd_root, out, TINY)
    mod = runpy.run_path(str(SCRIPT))
    shared = out / "utd-f1" / "_shared" / "seed0"
    (cell,) = mod["read_cells"]("a", [out], ["global_align"], None)
    draws = [json.loads((shared / "val_encoder" / f"d{k}" / "result.json").read_text()) for k in (0, 1)]
    assert cell["val_seen"] == sum(d["history"][-1]["val_acc"] for d in draws) / 2
    assert cell["test_seen"] != cell["test_seen"]             # nan: no data root to compute it with
    ev = json.loads((out / "utd-f1" / "global_align" / "seed0" / "eval.json").read_text())
    assert cell["global_align.test_zsl"] == ev["zsl"]["fused"] and 0 <= cell["global_align.val_zsl"] <= 100

    # test-seen is computed from the main encoder's checkpoint once and cached beside it
    csv_path, md = tmp_path / "cells.csv", tmp_path / "t.md"
    assert mod["main"](["--variant", f"a={out}", "--variant", f"b={out}", "--heads", "global_align",
                        "--data-root", str(utd_root), "--out", str(md), "--csv", str(csv_path)]) == 0
    import torch

    from zeroskel.data import load_dataset
    from zeroskel.data.protocols import make_splits
    from zeroskel.train.pretrain import supervised_accuracy

    ds = load_dataset("utd-mhad", utd_root)
    direct = supervised_accuracy(shared / "encoder" / "best.safetensors", ds, make_splits(ds, "utd-f1").test_seen,
                                 torch.device("cpu"))["top1"]
    assert json.loads((shared / "test_seen_diagnostic.json").read_text())["top1"] == direct
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["variant"] for r in rows] == ["a", "b"] and float(rows[0]["test_seen"]) == direct
    table = md.read_text()
    assert "| a | 1 |" in table and "variant minus a" in table
    assert "| b | +0.0 +- 0.0 (0/1) |" in table             # the same cells: every difference is zero
    # --seeds keeps only the named seeds' cells
    assert mod["read_cells"]("a", [out], ["global_align"], None, {1}) == []
    assert len(mod["read_cells"]("a", [out], ["global_align"], None, {0})) == 1
    assert mod["main"](["--variant", f"a={out}", "--heads", "global_align", "--seeds", "0"]) == 0
