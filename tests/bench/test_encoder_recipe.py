"""benchmarks/encoder_recipe.py: the recipe sweep with the cross-subject figure of the validation draws."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "encoder_recipe.py"


def test_sweep_reports_val_seen_of_the_draws(utd_root, tmp_path):
    mod = runpy.run_path(str(SCRIPT))
    out = tmp_path / "r.jsonl"
    tiny = ["encoder.base_channels=4", "encoder.epochs=1", "data.length=16"]
    assert mod["main"](["--data-root", str(utd_root), "--folds", "utd-f1", "--variants", "base,prep",
                        "--draws", "2", "--out", str(out), "--set", *tiny]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["variant"] for r in rows] == ["base", "prep"]
    for r in rows:
        assert len(r["val_seen_draws"]) == 2 and all(0 <= a <= 100 for a in r["val_seen_draws"])
        assert abs(r["val_seen"] - sum(r["val_seen_draws"]) / 2) < 1e-9 and 0 <= r["test_seen"] <= 100
    table = mod["table"](out)
    assert "mean val-seen" in table and table.count("\n| ") == 2 and "utd-f1 val-seen" in table
