"""Encoder table (issue 13): encoder variants side by side over the folds and seeds of ``zeroskel bench`` folders.

Each variant is one or more bench folders run with the same encoder settings (one folder per seed is
how the bench grows). For every (protocol, seed) cell with a shared encoder it reads:

- ``val_seen``: the validation encoders' top-1 on the training subject each draw held out, after
  their last epoch (mean over draws): the cross-subject seen-class figure, no test clip read;
- ``holdout``: the main encoder's within-subject holdout at its chosen epoch (optimistic);
- ``test_seen``: the main encoder's top-1 on the test split's seen-class clips, a diagnostic never
  used for a choice (from ``encoder_supervised.json`` where a ``zeroskel run`` summary wrote it;
  otherwise computed from the checkpoint once, with ``--data-root``, and cached beside it as
  ``_shared/seed<S>/test_seen_diagnostic.json``);
- ``encoder_s``: the main encoder's training seconds (wall, under whatever load the bench ran);
- per head (``--heads``): validation ZSL and GZSL H of the fused scores at the chosen epoch (the
  figures recipe choices are read from) and the test ZSL / H (the final read).

It prints, and writes with ``--out``, the mean +- std of each figure per variant and the per-cell
differences of every variant minus the first, paired by (protocol, seed), with how many cells the
variant is higher in; ``--csv`` keeps one row per cell.

    python benchmarks/encoder_table.py --variant former=runs/bench-issue11/utd,runs/bench-text/s1,runs/bench-text/s2 \\
        --variant prep=runs/bench-prep/utd,runs/bench-prep/s1,runs/bench-prep/s2 --heads global_align,neuron \\
        --data-root ../shared/data/utd_mhad --out benchmarks/results/encoder_table_utd.md
    python benchmarks/encoder_table.py --variant former=... --variant new=... --seeds 0     # seed 0's cells only
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

from zeroskel.train.pretrain import validation_seen

FIGURES = ("val_seen", "holdout", "test_seen", "encoder_s")
HEAD_FIGURES = (("val_zsl", "val ZSL"), ("val_H", "val H"), ("test_zsl", "test ZSL"), ("test_H", "test H"))


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _test_seen(shared: Path, method_dirs: list[Path], protocol: str, seed: int, data_root: str | None) -> float:
    for d in method_dirs:  # a run made after the diagnostic existed wrote it
        p = d / f"seed{seed}" / "encoder_supervised.json"
        if p.exists():
            return float(_read(p)["test_seen"]["top1"])
    cache = shared / "test_seen_diagnostic.json"
    if cache.exists():
        return float(_read(cache)["top1"])
    if not data_root:
        return math.nan
    import torch

    from zeroskel.data import load_dataset
    from zeroskel.data.protocols import get_protocol, make_splits
    from zeroskel.train.pretrain import supervised_accuracy

    proto = get_protocol(protocol)
    ds = load_dataset(proto.dataset, data_root)
    sp = make_splits(ds, protocol, seed=0)
    res = supervised_accuracy(shared / "encoder" / "best.safetensors", ds, sp.test_seen, torch.device("cpu"))
    cache.write_text(json.dumps(res) + "\n", encoding="utf-8")
    return float(res["top1"])


def _protocol_name(protocol_dir: Path) -> str:
    """The protocol of a bench protocol folder (its name is made file-safe: utd-purls-22/5 -> utd-purls-22-5)."""
    import yaml

    return str(yaml.safe_load((protocol_dir / "_shared" / "config.yaml").read_text(encoding="utf-8"))["protocol"])


def read_cells(variant: str, dirs: list[Path], heads: list[str], data_root: str | None,
               seeds: set[int] | None = None) -> list[dict]:
    """One dict per (protocol, seed) with a trained shared encoder in any of ``dirs`` (only ``seeds``
    when given)."""
    cells = []
    for bench in dirs:
        for shared_seed in sorted(bench.glob("*/_shared/seed*")):
            protocol, seed = shared_seed.parent.parent.name, int(shared_seed.name[4:])
            enc = shared_seed / "encoder" / "result.json"
            if not enc.exists() or (seeds is not None and seed not in seeds):
                continue
            val_seen = validation_seen(sorted(shared_seed.glob("val_encoder/d*")))
            method_dirs = [bench / protocol / h for h in heads]
            cell = {"variant": variant, "bench_dir": str(bench), "protocol": protocol, "seed": seed,
                    "val_seen": val_seen["top1"] if val_seen else math.nan,
                    "holdout": float(_read(enc)["best_val_acc"]), "encoder_s": float(_read(enc)["seconds"]),
                    "test_seen": _test_seen(shared_seed, method_dirs, _protocol_name(bench / protocol), seed,
                                            data_root)}
            for h, d in zip(heads, method_dirs):
                ev, choice = d / f"seed{seed}" / "eval.json", d / f"seed{seed}" / "val_head" / "choice.json"
                if ev.exists() and choice.exists():
                    e, vm = _read(ev), _read(choice)["val_metrics"]
                    cell.update({f"{h}.val_zsl": vm["val_zsl_fused"], f"{h}.val_H": vm["val_gzsl_fused_H"],
                                 f"{h}.test_zsl": e["zsl"]["fused"], f"{h}.test_H": e["gzsl"]["fused"]["H"]})
            cells.append(cell)
    return cells


def _ms(values: list[float]) -> str:
    v = np.array([x for x in values if not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return "-"
    return f"{v.mean():.1f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:.1f}"


def tables(cells: list[dict], heads: list[str]) -> str:
    keys = list(FIGURES) + [f"{h}.{k}" for h in heads for k, _ in HEAD_FIGURES]
    names = ["val-seen", "holdout", "test-seen (diag.)", "encoder s"] + [
        f"{h} {label}" for h in heads for _, label in HEAD_FIGURES]
    variants = list(dict.fromkeys(c["variant"] for c in cells))
    lines = ["| variant | cells | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for v in variants:
        mine = [c for c in cells if c["variant"] == v]
        lines.append(f"| {v} | {len(mine)} | " + " | ".join(_ms([c.get(k, math.nan) for c in mine]) for k in keys)
                     + " |")
    if len(variants) > 1:
        base = {(c["protocol"], c["seed"]): c for c in cells if c["variant"] == variants[0]}
        lines += ["", f"Paired by (protocol, seed), variant minus {variants[0]}: mean +- std of the differences "
                  "(cells where the variant is higher / cells):", "",
                  "| variant | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for v in variants[1:]:
            row = []
            for k in keys:
                d = np.array([c.get(k, math.nan) - base[(c["protocol"], c["seed"])].get(k, math.nan)
                              for c in cells if c["variant"] == v and (c["protocol"], c["seed"]) in base], float)
                d = d[~np.isnan(d)]
                row.append("-" if len(d) == 0 else
                           f"{d.mean():+.1f} +- {d.std(ddof=1) if len(d) > 1 else 0.0:.1f} ({int((d > 0).sum())}/{len(d)})")
            lines.append(f"| {v} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=DIR[,DIR...]",
                    help="bench folders of one encoder variant (the first variant is the baseline)")
    ap.add_argument("--heads", default="global_align,neuron", help="bench methods whose figures to read")
    ap.add_argument("--data-root", default=None, help="dataset folder, to compute test-seen for old folders")
    ap.add_argument("--seeds", default=None, help="only these seeds' cells, e.g. 0 or 0,1 (default: all)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args(argv)
    heads = [h for h in args.heads.split(",") if h]
    seeds = None if args.seeds is None else {int(x) for x in args.seeds.split(",") if x.strip()}
    cells = []
    for spec in args.variant:
        name, sep, dirs = spec.partition("=")
        if not sep or not name or not dirs:
            ap.error(f"--variant {spec!r}: expected NAME=DIR[,DIR...]")
        missing = [d for d in dirs.split(",") if not Path(d).is_dir()]
        if missing:
            ap.error(f"--variant {name}: no such folder: {', '.join(missing)}")
        cells += read_cells(name, [Path(d) for d in dirs.split(",")], heads, args.data_root, seeds)
    if not cells:
        ap.error("no bench cell with a trained encoder in the given folders")
    text = tables(cells, heads)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    if args.csv:
        keys = list(dict.fromkeys(k for c in cells for k in c))
        with args.csv.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys, lineterminator="\n")
            w.writeheader()
            w.writerows(cells)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
