"""benchmarks/bench_jobs.py: the main job with worker processes and without, timed round robin."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

from helpers import TINY

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_jobs.py"


def test_bench_jobs_times_both_settings_on_real_clips(utd_root, tmp_path):
    mod = runpy.run_path(str(SCRIPT))
    assert mod["main"](["--data-root", str(utd_root), "--out", str(tmp_path / "runs"), "--jobs", "2,1",
                        "--repeats", "1", "--results", str(tmp_path), "--tag", "t",
                        *TINY, "num_threads=2"]) == 0
    res = json.loads((tmp_path / "t.json").read_text())
    first, second = res["settings"]
    assert (first["jobs"], second["jobs"]) == (2, 1) and first["wall_vs_first"] == 1.0
    for s in (first, second):
        assert s["wall_s_median"] > 0 and s["peak_rss_gb_median"] > 0
        assert set(s["steps_s_median"]) == {"pretrain", "extract", "train", "evaluate"}
    assert len(first["zsl_fused"]) == 1 and len(second["zsl_fused"]) == 1  # one value per setting and repeat
    log = (tmp_path / "runs" / "r0-jobs2" / "log.txt").read_text()
    assert "side by side: 2 worker processes, 1 thread(s) each (jobs=2)" in log
    assert "side by side" not in (tmp_path / "runs" / "r0-jobs1" / "log.txt").read_text()
    assert "| 2 | " in (tmp_path / "t.md").read_text()
