"""benchmarks/bench_encoder.py: encoder training clips/s, head ratio and the temporal-shift paths."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_encoder.py"


def test_bench_encoder_times_both_shift_paths_on_real_clips(utd_root, tmp_path):
    mod = runpy.run_path(str(SCRIPT))
    assert mod["main"](["--data-root", str(utd_root), "--widths", "4", "--devices", "cpu", "--steps", "1",
                        "--repeats", "1", "--shift-paths", "conv,gather", "--tag", "t",
                        "--results", str(tmp_path), "--set", "encoder.batch_size=8"]) == 0
    (row,) = json.loads((tmp_path / "encoder_t.json").read_text())["rows"]
    assert row["train_clips_per_s"] > 0 and row["head_ratio"] > 0
    assert set(row["train_by_shift"]) == {"conv", "gather"}
    assert all(v["median"] > 0 and len(v["runs"]) == 1 for v in row["train_by_shift"].values())
    table = (tmp_path / "encoder_t.md").read_text()
    assert "| cpu | 4 | conv |" in table and "| cpu | 4 | gather |" in table
    from zeroskel.models import shift_ops                    # the default path is restored afterwards
    assert shift_ops.temporal_shift.__name__ == "temporal_shift"
