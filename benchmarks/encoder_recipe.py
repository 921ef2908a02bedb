"""Encoder recipe sweep (issue 13): pre-train only the encoder for a few recipe variants and folds.

Every variant is a set of ``key=value`` overrides of the run config. For each (variant, fold) it
trains the main encoder exactly as ``zeroskel run`` does (seen classes, fit = train minus holdout,
checkpoint chosen on the holdout) and records:

- ``holdout_best``: top-1 on the seen-class holdout at the chosen epoch (what the recipe is chosen
  on; optimistic, since the epoch is chosen on the same clips),
- ``holdout_last``: top-1 on the holdout after the last epoch (not chosen on anything),
- ``test_seen``: top-1 on the test split's seen-class clips (the diagnostic; never used to choose),
- ``seconds``: training seconds (single thread unless --threads),
- with ``--draws N``: ``val_seen``, the cross-subject figure. The encoders of the run's first N
  validation draws are trained as ``zeroskel run`` trains them (each draw's pseudo-seen classes, one
  training subject held out) and read on the held-out subject's clips after their last epoch, the
  mean over draws (``val_seen_draws`` per draw). The within-subject holdout saturates near 100% and
  overstates the accuracy on new people by 10-25 points; this does not, and reads no test clip.

    python benchmarks/encoder_recipe.py --data-root ../shared/data/utd_mhad --folds utd-f1,utd-f2 \
        --variants base,prep,prep_adamw --out benchmarks/results/encoder_recipe.jsonl
    python benchmarks/encoder_recipe.py --data-root ../shared/data/utd_mhad --folds utd-f1,utd-f2,utd-f3,utd-f4,utd-f5 \
        --variants base,prep,prep_b16 --draws 2 --out benchmarks/results/encoder_recipe_subjects.jsonl
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from zeroskel.config import load_config
from zeroskel.data import load_dataset
from zeroskel.data.protocols import get_protocol, make_splits, validation_draw
from zeroskel.train.io import read_json
from zeroskel.train.pretrain import pretrain_encoder, supervised_accuracy, validation_seen
from zeroskel.train.run_config import RunConfig

PREP = ["data.origin=first_hip", "data.scale=torso", "data.streams=[joint,motion]",
        "data.rotation_axes=y", "data.max_rotation=0.26", "data.scale_jitter=0.1", "data.crop_min=0.8"]
ADAMW = ["encoder.optimizer=adamw", "encoder.lr=0.002", "encoder.weight_decay=0.01",
         "encoder.schedule=cosine", "encoder.label_smoothing=0.1"]
VARIANTS: dict[str, list[str]] = {
    "base": [],                                               # the laptop default before issue 13
    "prep": PREP,                                             # preprocessing + streams only
    "prep_adamw": PREP + ADAMW,                               # + AdamW, cosine, label smoothing
    "prep_sgdcos": PREP + ["encoder.schedule=cosine", "encoder.label_smoothing=0.1"],
    "prep_adamw_l32": PREP + ADAMW + ["data.length=32"],      # half the frames
    "prep_adamw_l32_e50": PREP + ADAMW + ["data.length=32", "encoder.epochs=50"],
    "prep_adamw_align": PREP + ADAMW + ["data.align_view=true"],
    "prep_adamw_bone": PREP[:2] + ["data.streams=[joint,bone,motion]"] + PREP[3:] + ADAMW,
    "prep_b16": PREP + ["encoder.batch_size=16"],             # twice the updates, same clips and epochs
    "prep_e60": PREP + ["encoder.epochs=60"],                 # twice the epochs
    "prep_l32_e60": PREP + ["data.length=32", "encoder.epochs=60"],  # half the frames, twice the epochs
    "prep_b16_l32_e60": PREP + ["encoder.batch_size=16", "data.length=32", "encoder.epochs=60"],
    "prep_b8_l32_e60": PREP + ["encoder.batch_size=8", "data.length=32", "encoder.epochs=60"],
    "prep_b16_l32_e60_cos": PREP + ["encoder.batch_size=16", "data.length=32", "encoder.epochs=60",
                                    "encoder.schedule=cosine", "encoder.label_smoothing=0.1"],
}


def table(path: Path) -> str:
    """Markdown decision table of a results file: one row per variant, folds side by side."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    folds = sorted({r["fold"] for r in rows})
    if any("val_seen" in r for r in rows):  # the cross-subject table: one cell per fold, then the means
        lines = ["| variant | " + " | ".join(f"{f} val-seen / test-seen (diag.)" for f in folds)
                 + " | mean val-seen | mean test-seen (diag.) | mean s |", "|---|" + "---|" * (len(folds) + 3)]
        for name in dict.fromkeys(r["variant"] for r in rows):
            mine = [r for r in rows if r["variant"] == name and "val_seen" in r]
            cells = []
            for f in folds:
                r = next((r for r in mine if r["fold"] == f), None)
                cells.append("-" if r is None else f"{r['val_seen']:.1f} / {r['test_seen']:.1f}")
            means = [f"{np.mean([r[k] for r in mine]):.1f}" for k in ("val_seen", "test_seen", "seconds")]
            lines.append(f"| {name} | " + " | ".join(cells + means) + " |")
        return "\n".join(lines)
    lines = ["| variant | " + " | ".join(f"{f} holdout (best / last) | {f} test-seen (diag.) | {f} s"
                                        for f in folds) + " |",
             "|---|" + "---|---|---|" * len(folds)]
    for name in dict.fromkeys(r["variant"] for r in rows):
        cells = []
        for f in folds:
            r = next((r for r in rows if r["variant"] == name and r["fold"] == f), None)
            cells += (["-", "-", "-"] if r is None else
                      [f"{r['holdout_best']:.1f} / {r['holdout_last']:.1f}", f"{r['test_seen']:.1f}",
                       f"{r['seconds']:.0f}"])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--folds", default="utd-f1,utd-f2")
    ap.add_argument("--variants", default="base,prep,prep_adamw")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], help="extra overrides for every variant")
    ap.add_argument("--out", required=True, help="JSON-lines file (appended)")
    ap.add_argument("--draws", type=int, default=0, help="also train the encoders of this many validation "
                    "draws and report val_seen (cross-subject)")
    ap.add_argument("--table", action="store_true", help="print the decision table of --out and stop")
    args = ap.parse_args(argv)
    if args.table:
        print(table(Path(args.out)))
        return 0
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cache: dict[str, object] = {}
    for name in args.variants.split(","):
        for fold in args.folds.split(","):
            protocol = get_protocol(fold)
            if protocol.dataset not in cache:
                cache[protocol.dataset] = load_dataset(protocol.dataset, args.data_root)
            ds = cache[protocol.dataset]
            overrides = VARIANTS[name] + list(args.set) + ["progress=false"]
            cfg = load_config(RunConfig, None, overrides)
            sp = make_splits(ds, protocol, seed=cfg.data.split_seed)
            fit_idx = np.setdiff1d(sp.train, sp.holdout)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                path = pretrain_encoder(cfg, ds, fit_idx=fit_idx, val_idx=sp.holdout, classes=sp.seen,
                                        out_dir=Path(tmp) / "encoder", seed=args.seed, num_person=1,
                                        device=torch.device("cpu"), protocol=fold)
                seconds = time.perf_counter() - t0
                res = read_json(Path(tmp) / "encoder" / "result.json")
                test_seen = supervised_accuracy(path, ds, sp.test_seen, torch.device("cpu"))
                for d in range(args.draws):  # as zeroskel run trains its validation encoders
                    v = validation_draw(ds, sp, split_seed=cfg.data.split_seed, seed=args.seed, draw=d,
                                        num_subjects=cfg.eval.val_subjects)
                    pretrain_encoder(cfg, ds, fit_idx=v.val_train, val_idx=v.val_seen,
                                     classes=v.val_seen_classes, out_dir=Path(tmp) / f"d{d}", seed=args.seed,
                                     num_person=1, device=torch.device("cpu"), protocol=fold)
                val_seen = validation_seen([Path(tmp) / f"d{d}" for d in range(args.draws)])
            row = {"variant": name, "fold": fold, "seed": args.seed, "overrides": overrides,
                   "holdout_best": res["best_val_acc"], "best_epoch": res["best_epoch"],
                   "holdout_last": res["history"][-1]["val_acc"], "epochs": res["epochs"],
                   "num_fit": res["num_fit"], "num_holdout": res["num_val"],
                   "test_seen": test_seen["top1"], "num_test_seen": test_seen["num"],
                   "seconds": round(seconds, 1), "threads": args.threads}
            if val_seen:
                row.update(val_seen=val_seen["top1"], val_seen_draws=val_seen["values"])
            print(json.dumps(row), flush=True)
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
