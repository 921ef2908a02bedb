"""The peers' three-seed tables of BENCHMARKS.md, from the committed result files only.

    python benchmarks/peers_three_seeds.py --out benchmarks/results/peers_3seeds.md

utd-f1..f5 and msr-f1..f4: seeds 0-1 are the two-seed tables (``peers_2seeds_{utd,msr}.md``: mean +- std
over the cells, rounded to 0.1; the seed-1 bench folders were not kept, so their cells are known only
through those figures), pooled with the seed-2 cells of ``bench_peers_seed2.csv``: the pooled mean and
population std over all cells follow from each part's count, mean and mean square (rounding moves them
by at most about 0.1). Seed 0's test means come from the seed-0 csvs (exact) and, with seed 1's, check
the two-seed table. utd-purls-22/5, 18/9, 14/13: every cell from ``bench_utd_purls_3seeds.csv`` and
(22/5, seed 0) ``bench_issue16_utd_purls.csv``, whose validation figures are BENCHMARKS.md's seed-0
table (that run's csv did not keep them). Validation = mean of the two cross-subject draws at the
chosen epoch (the figures choices are read from); test = read once.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
from pathlib import Path

import numpy as np

from zeroskel.bench.bench import protocol_dir

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = ["val_zsl_fused", "val_gzsl_fused_H", "zsl_fused", "gzsl_fused_H"]
FOLDS = {"utd": "utd-f", "msr": "msr-f"}
SEED0_CSVS = ["bench_issue15_generative.csv", "bench_issue16_{ds}.csv", "bench_issue11_3seeds.csv"]
# seed-0 validation figures of the utd-purls-22/5 cells (BENCHMARKS.md, rounded): val ZSL, val H
VAL0_22_5 = {"global_align": (56.6, 47.8), "jpose": (37.6, 41.8), "neuron": (53.5, 45.1), "purls": (54.7, 43.4),
             "revise": (26.5, 11.1), "revise-text": (52.2, 46.7), "star": (25.8, 32.2)}
# PURLS supplementary Table 8, ZSL top-1 (seed_systems.md §4)
TABLE8 = {"utd-purls-22/5": {"PURLS": 57.50, "Global": 23.00, "DeViSE": 12.50, "ReViSE": 29.37},
          "utd-purls-18/9": {"PURLS": 31.71, "Global": 18.47, "DeViSE": 13.59, "ReViSE": 19.86},
          "utd-purls-14/13": {"PURLS": 19.23, "Global": 14.38, "DeViSE": 13.94, "ReViSE": 12.26}}
PURLS_METHODS = ["global_align", "neuron", "purls", "star", "revise", "revise-text", "jpose"]


def _f(x) -> float:
    try:
        return float(x) if x not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _rows(name: str) -> list[dict]:
    with open(RESULTS / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def two_seed_table(ds: str) -> dict[str, dict]:
    """method -> cells (all, seed 0, seed 1), (mean, std) per figure, and seed 1's means."""
    out = {}
    for line in (RESULTS / f"peers_2seeds_{ds}.md").read_text().splitlines():
        m = re.match(r"\| ([\w-]+) \| (\d+) \((\d+) / (\d+)\) \| (.*)", line)
        if m:
            cols = [c.strip() for c in m.group(5).strip(" |").split("|")]
            seed1 = [float(x) for c in cols[4:6] for x in c.split(" / ")]
            out[m.group(1)] = {"n": int(m.group(2)), "n0": int(m.group(3)), "n1": int(m.group(4)),
                               "ms": [tuple(map(float, c.split(" +- "))) for c in cols[:4]], "seed1": seed1}
    return out


def pooled(n: int, mean: float, std: float, more: np.ndarray) -> tuple[float, float]:
    """Mean and population std of n values (given by their mean and std) and ``more``."""
    total = n + len(more)
    m = (n * mean + more.sum()) / total
    ex2 = (n * (std ** 2 + mean ** 2) + (more ** 2).sum()) / total
    return m, math.sqrt(max(ex2 - m * m, 0.0))


def folds_table(ds: str) -> tuple[str, list[tuple[str, float, float, int]]]:
    """The pooled table of a fold family, and per method the check (method, the two-seed table's test
    ZSL mean, the same mean from the seed-0 csvs and seed 1's mean, seed-0 cells found)."""
    two = two_seed_table(ds)
    seed2 = [r for r in _rows("bench_peers_seed2.csv") if r["protocol"].startswith(FOLDS[ds])]
    seed0: dict[str, dict[str, float]] = {}
    for name in SEED0_CSVS:
        for r in _rows(name.format(ds=ds)):
            if r["seed"] == "0" and r["protocol"].startswith(FOLDS[ds]):
                seed0.setdefault(r["method"], {})[r["protocol"]] = _f(r["zsl_fused"])
    lines = ["| method | cells (seeds 0 / 1 / 2) | val ZSL | val H | test ZSL | test H | "
             "test ZSL by seed (0 / 1 / 2) | seed 2 val ZSL / H | seed 2 test ZSL / H | seed 2 s/cell |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    checks = []
    for method, t in two.items():
        rs = [r for r in seed2 if r["method"] == method]
        x = {k: np.array([_f(r.get(k)) for r in rs]) for k in FIGURES}
        cells = [pooled(t["n"], *t["ms"][i], x[k]) for i, k in enumerate(FIGURES)]
        s0 = list(seed0.get(method, {}).values())
        s0_mean = float(np.mean(s0)) if s0 else math.nan
        check = (len(s0) * s0_mean + t["n1"] * t["seed1"][2]) / t["n"] if s0 else math.nan
        checks.append((method, t["ms"][2][0], check, len(s0)))
        secs = np.mean([_f(r.get("seconds")) for r in rs]) if rs else math.nan
        lines.append(f"| {method} | {t['n'] + len(rs)} ({t['n0']} / {t['n1']} / {len(rs)}) | "
                     + " | ".join(f"{m:.1f} +- {s:.1f}" for m, s in cells)
                     + f" | {s0_mean:.1f} / {t['seed1'][2]:.1f} / {x['zsl_fused'].mean():.1f}"
                     f" | {x['val_zsl_fused'].mean():.1f} / {x['val_gzsl_fused_H'].mean():.1f}"
                     f" | {x['zsl_fused'].mean():.1f} / {x['gzsl_fused_H'].mean():.1f} | {secs:.0f} |")
    return "\n".join(lines) + "\n", checks


def purls_tables() -> str:
    named = {protocol_dir(p): p for p in TABLE8}  # the csv has the bench folder names (utd-purls-22-5)
    rows = [dict(r, protocol=named[r["protocol"]]) for r in _rows("bench_utd_purls_3seeds.csv")]
    for r in _rows("bench_issue16_utd_purls.csv"):
        rows.append(dict(r, val_zsl_fused=VAL0_22_5[r["method"]][0], val_gzsl_fused_H=VAL0_22_5[r["method"]][1]))
    out = []
    for p, published in TABLE8.items():
        out += [f"{p} (published, PURLS Table 8: " + ", ".join(f"{k} {v:.2f}" for k, v in published.items()) + ")\n",
                "| method | seeds | val ZSL | val H | test ZSL | test H | test ZSL by seed |", "|---|---|---|---|---|---|---|"]
        for m in PURLS_METHODS:
            rs = sorted((r for r in rows if r["protocol"] == p and r["method"] == m), key=lambda r: int(r["seed"]))
            if not rs:
                continue

            def ms(key: str) -> str:
                v = np.array([_f(r[key]) for r in rs])
                return f"{v.mean():.1f} +- {v.std():.1f}"
            per_seed = " / ".join(f"{_f(r['zsl_fused']):.1f}" for r in rs)
            out.append(f"| {m} | {len(rs)} | {ms('val_zsl_fused')} | {ms('val_gzsl_fused_H')} | {ms('zsl_fused')} | "
                       f"{ms('gzsl_fused_H')} | {per_seed} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    args = ap.parse_args(argv)
    text, checks = [], []
    for ds, title in (("utd", "UTD-MHAD utd-f1..f5"), ("msr", "MSR Action3D msr-f1..f4")):
        table, c = folds_table(ds)
        text += [f"### {title}, seeds 0-2\n", table]
        checks += [f"{ds} {m}: two-seed test ZSL {mean:.1f}, from the seed-0 csv and seed 1's mean {again:.2f} "
                   f"({n0} seed-0 cells)" for m, mean, again, n0 in c]
    text += ["### PURLS's UTD-MHAD splits, seeds 0-2\n", purls_tables()]
    text += ["Check (seed 0 from its csvs, seed 1 from the two-seed table):\n"] + [f"- {c}" for c in checks]
    print("\n".join(text))
    if args.out:
        args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
