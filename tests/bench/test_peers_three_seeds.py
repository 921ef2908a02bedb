"""benchmarks/peers_three_seeds.py: the pooled three-seed tables of BENCHMARKS.md from committed files."""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "peers_three_seeds.py"


@pytest.fixture(scope="module")
def mod():
    return runpy.run_path(str(SCRIPT))


def test_pooled_mean_and_std_equal_those_of_all_cells(mod):
    rng = np.random.default_rng(0)
    first, more = rng.normal(40, 9, size=10), rng.normal(45, 12, size=5)
    m, s = mod["pooled"](len(first), first.mean(), first.std(), more)
    both = np.concatenate([first, more])
    assert m == pytest.approx(both.mean()) and s == pytest.approx(both.std())


def test_tables_from_the_committed_results(mod, tmp_path):
    out = tmp_path / "tables.md"
    assert mod["main"](["--out", str(out)]) == 0
    text = out.read_text()
    for ds in ("utd", "msr"):
        table, checks = mod["folds_table"](ds)
        rows = [r for r in table.splitlines()[2:] if r.startswith("| ")]
        # every method of the two-seed table, with seed-2 cells on every fold of the family
        assert {r.split(" | ")[0][2:] for r in rows} == set(mod["two_seed_table"](ds))
        assert all(f"/ {5 if ds == 'utd' else 4}) |" in r for r in rows), rows
        # the seed-0 csvs and seed 1's means give back the two-seed table's means (rounded to 0.1)
        for method, table_mean, recomputed, n0 in checks:
            assert n0 == (5 if ds == "utd" else 4) and abs(table_mean - recomputed) <= 0.1, (ds, method)
    for p in ("utd-purls-22/5", "utd-purls-18/9", "utd-purls-14/13"):
        assert p in text
