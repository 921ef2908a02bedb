"""Markdown tables of a ``zeroskel bench`` folder: test figures and the validation figures behind choices.

    python benchmarks/bench_tables.py runs/bench-utd runs/bench-msr --out benchmarks/results/issue11.md

For each method and protocol family (utd = utd-f1..f5, ...): the mean +- std over folds and seeds of the
test figures of every finished cell (its ``eval.json``) (ZSL fused, each branch's prediction, every phase, either-branch, GZSL
S / U / H), a per-fold table of ZSL fused, and the **validation** figures each run chose with (mean
over its validation draws at the chosen epoch, ``seed<S>/val_head/choice.json``): validation ZSL and
GZSL H of the fused scores and the chosen fraction of training. Recipe choices are read from the
validation table only; the test tables are the final read.
"""
from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np

TEST_COLUMNS = [("zsl_fused", "ZSL fused"), ("zsl_spatial", "spatial"), ("zsl_temporal", "temporal"),
                ("zsl_either_branch", "either-branch")]
PHASE_COLUMNS = [(f"zsl_{b}_phase{e}", f"{b[0].upper()}{e}") for b in ("spatial", "temporal") for e in (1, 2, 3)]
GZSL_COLUMNS = [("gzsl_fused_S", "GZSL S"), ("gzsl_fused_U", "GZSL U"), ("gzsl_fused_H", "GZSL H")]
# SynSE's gate fitted on the validation protocol (generative peers only; n/a elsewhere), and the cell's
# head seconds (train + evaluate, timings.json)
GATE_COLUMNS = [("gzsl_gating_S", "gate S"), ("gzsl_gating_U", "gate U"), ("gzsl_gating_H", "gate H"),
                ("seconds", "s/cell")]


def family(protocol: str) -> str:
    return re.sub(r"-f\d+$", "", protocol)


def _float(x: str | None) -> float:
    try:
        return float(x) if x not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _rows_from_eval_files(d: Path) -> list[dict]:
    """Rows of every finished cell of a bench folder, from the cells' ``eval.json`` (the bench's
    ``results.csv`` holds only the last invocation's grid when several processes share a folder)."""
    rows = []
    for ev in sorted(d.glob("*/*/seed*/eval.json")):
        method, protocol = ev.parent.parent.name, ev.parent.parent.parent.name
        if method.startswith("_"):
            continue
        e = json.loads(ev.read_text())
        r = {"method": method, "protocol": protocol, "seed": str(e["seed"])}
        r.update({f"zsl_{k}": v for k, v in e["zsl"].items()})
        r.update({f"gzsl_{b}_{k}": v for b, g in e["gzsl"].items() for k, v in g.items()})
        r.update({f"gzsl_gating_{k}": e["gzsl_gating"][k] for k in ("S", "U", "H") if "gzsl_gating" in e})
        timings = ev.parent / "timings.json"
        if timings.exists():
            t = json.loads(timings.read_text())
            r["seconds"] = float(t.get("train", 0.0)) + float(t.get("evaluate", 0.0))
        rows.append(r)
    return rows


HEALTH_FIGURES = [("temporal_attention_entropy", "T attention entropy / log L"),
                  ("temporal_prototype_cosine", "T prototypes, mean pairwise cos"),
                  ("spatial_prototype_cosine", "S prototypes, mean pairwise cos"),
                  ("spatial_kept_fraction", "S prototypes kept by some joint")]


def health_tables(bench_dirs: list[Path]) -> str:
    """Prototype health after training (each Neuron cell's ``seed<S>/health.json``): per method and
    protocol family, the mean over cells of each figure per phase, and the prototypes' norm change."""
    cells: dict[tuple[str, str], list[dict]] = {}
    for d in bench_dirs:
        for h in sorted(d.glob("*/*/seed*/health.json")):
            method, protocol = h.parent.parent.name, h.parent.parent.parent.name
            after = json.loads(h.read_text()).get("after")
            if after:
                cells.setdefault((family(protocol), method), []).append(after)
    if not cells:
        return ""
    out = ["Prototype health after training (held-out seen-class clips; mean over cells, phases 1 / 2 / 3):\n",
           "| family | method | cells | " + " | ".join(c for _, c in HEALTH_FIGURES) + " | norm change S / T, % |",
           "|---|---|---|" + "---|" * (len(HEALTH_FIGURES) + 1)]
    for (fam, method), hs in cells.items():
        figs = []
        for key, _ in HEALTH_FIGURES:
            per_phase = np.array([h[key] for h in hs if key in h], dtype=np.float64)
            figs.append(" / ".join(f"{v:.2f}" for v in per_phase.mean(0)) if len(per_phase) else "n/a")
        norm = " / ".join(f"{100 * np.mean([h[k] for h in hs]):.1f}"
                          for k in ("spatial_norm_change", "temporal_norm_change"))
        out.append(f"| {fam} | {method} | {len(hs)} | " + " | ".join(figs) + f" | {norm} |")
    return "\n".join(out) + "\n"


PAIRED_FIGURES = [("val_zsl_fused", "val ZSL"), ("val_gzsl_fused_H", "val H"), ("zsl_fused", "test ZSL"),
                  ("gzsl_fused_H", "test H")]


def paired_table(rows: list[dict], pairs: list[tuple[str, str]]) -> str:
    """A minus B over the cells both finished (same protocol and seed), per protocol family: mean +- std
    of the difference and how many cells A wins, for validation and test figures."""
    out = ["Paired differences, A minus B over the same fold and seed (mean +- std; A's wins / cells):\n",
           "| family | A | B | " + " | ".join(c for _, c in PAIRED_FIGURES) + " |",
           "|---|---|---|" + "---|" * len(PAIRED_FIGURES)]
    for fam in dict.fromkeys(family(r["protocol"]) for r in rows):
        by = {(r["method"], r["protocol"], r["seed"]): r for r in rows if family(r["protocol"]) == fam}
        for a, b in pairs:
            keys = [(p, s) for (m, p, s) in by if m == a and (b, p, s) in by]
            if not keys:
                continue
            cells = []
            for key, _ in PAIRED_FIGURES:
                d = np.array([_float(by[(a, p, s)].get(key)) - _float(by[(b, p, s)].get(key)) for p, s in keys])
                d = d[~np.isnan(d)]
                cells.append(f"{d.mean():+.1f} +- {d.std():.1f} ({int((d > 0).sum())}/{len(d)})" if len(d) else "n/a")
            out.append(f"| {fam} | {a} | {b} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    import csv

    keys = list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})


def read_rows(bench_dirs: list[Path]) -> list[dict]:
    rows = []
    for d in bench_dirs:
        for r in _rows_from_eval_files(d):
            r["bench_dir"] = d.name if d.name not in ("utd", "msr") else f"{d.parent.name}/{d.name}"
            choice = d / r["protocol"].replace("/", "-") / r["method"] / f"seed{r['seed']}" / "val_head" / "choice.json"
            if choice.exists():
                c = json.loads(choice.read_text())
                vm = c.get("val_metrics", {})
                r["val_zsl_fused"] = vm.get("val_zsl_fused", math.nan)
                r["val_gzsl_fused_H"] = vm.get("val_gzsl_fused_H", math.nan)
                r["val_fraction"] = c.get("fraction", math.nan)
            rows.append(r)
    return rows


def mean_std(values: list[float]) -> tuple[float, float, int]:
    v = np.array([x for x in values if not math.isnan(x)], dtype=np.float64)
    return (float(v.mean()), float(v.std()), len(v)) if len(v) else (math.nan, math.nan, 0)


def cell(values: list[float], std: bool = True, digits: int = 1) -> str:
    m, s, n = mean_std(values)
    if n == 0:
        return "n/a"
    return f"{m:.{digits}f} +- {s:.{digits}f}" if std else f"{m:.{digits}f}"


def tables(rows: list[dict]) -> str:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    families = list(dict.fromkeys(family(r["protocol"]) for r in rows))
    out = []
    for fam in families:
        sel = [r for r in rows if family(r["protocol"]) == fam]
        protocols = sorted({r["protocol"] for r in sel})
        seeds = sorted({int(r["seed"]) for r in sel})
        out.append(f"### {fam}: {', '.join(protocols)}; seeds {', '.join(map(str, seeds))}\n")
        out.append("Validation (the figures choices are read from; mean over validation draws at the chosen "
                   "epoch, then mean +- std over folds and seeds):\n")
        out.append("| method | cells | val ZSL fused | val GZSL H | chosen fraction |")
        out.append("|---|---|---|---|---|")
        for m in methods:
            rs = [r for r in sel if r["method"] == m]
            if rs:
                out.append(f"| {m} | {len(rs)} | {cell([_float(r.get('val_zsl_fused')) for r in rs])} | "
                           f"{cell([_float(r.get('val_gzsl_fused_H')) for r in rs])} | "
                           f"{cell([_float(r.get('val_fraction')) for r in rs], digits=2)} |")
        out.append("\nTest (read once):\n")
        cols = TEST_COLUMNS + GZSL_COLUMNS + GATE_COLUMNS
        out.append("| method | " + " | ".join(c for _, c in cols) + " |")
        out.append("|---|" + "---|" * len(cols))
        for m in methods:
            rs = [r for r in sel if r["method"] == m]
            if rs:
                out.append(f"| {m} | " + " | ".join(cell([_float(r.get(k)) for r in rs], std=(k in ("zsl_fused", "gzsl_fused_H")),
                                                        digits=0 if k == "seconds" else 1)
                                                   for k, _ in cols) + " |")
        out.append("\nTest ZSL per phase (S = spatial, T = temporal; phase 3 is each branch's prediction):\n")
        out.append("| method | " + " | ".join(c for _, c in PHASE_COLUMNS) + " |")
        out.append("|---|" + "---|" * len(PHASE_COLUMNS))
        for m in methods:
            rs = [r for r in sel if r["method"] == m]
            if rs and any(not math.isnan(_float(r.get(PHASE_COLUMNS[0][0]))) for r in rs):
                out.append(f"| {m} | " + " | ".join(cell([_float(r.get(k)) for r in rs], std=False)
                                                   for k, _ in PHASE_COLUMNS) + " |")
        out.append("\nTest ZSL fused per fold (mean over seeds):\n")
        out.append("| method | " + " | ".join(protocols) + " |")
        out.append("|---|" + "---|" * len(protocols))
        for m in methods:
            rs = [r for r in sel if r["method"] == m]
            if rs:
                out.append(f"| {m} | " + " | ".join(cell([_float(r["zsl_fused"]) for r in rs if r["protocol"] == p],
                                                         std=False) for p in protocols) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    ap.add_argument("--csv", type=Path, default=None,
                    help="also write every cell's row (validation figures included) to this CSV, with the "
                         "bench folder it came from")
    ap.add_argument("--paired", default="", help="A:B[,A:B...]: per-cell differences of method A minus B")
    ap.add_argument("--health", action="store_true", help="also the prototype health table of the Neuron cells")
    args = ap.parse_args(argv)
    rows = read_rows(args.bench_dirs)
    text = tables(rows)
    if args.paired:
        pairs = [tuple(x.split(":", 1)) for x in args.paired.split(",") if x]
        text += "\n" + paired_table(rows, pairs)  # type: ignore[arg-type]
    if args.health:
        text += "\n" + health_tables(args.bench_dirs)
    if args.csv:
        write_csv(rows, args.csv)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
