"""Which encoder epoch to keep (issue 13, ``encoder.select``): the cross-subject figure of the
validation encoders at the epoch the holdout rule chose for the main encoder of the same cell, and
at their last epoch.

The main encoder's holdout (clips of the training subjects) saturates near 100%, so
``encoder.select=holdout`` (the best holdout epoch, the earliest of equals) keeps the first epoch
that reaches it, often before the learning rate decays. How good that epoch is for people no encoder
trained on is read from the validation encoders of the same cell (same recipe, same seed): their
per-epoch top-1 on the training subject each draw held out (``val_acc`` in their
``result.json`` history), at the main encoder's chosen epoch versus at their last epoch. No test
clip is read.

    python benchmarks/encoder_epoch_rule.py --bench runs/bench-b16l32/utd runs/bench-b16l32/s1-utd \\
        --out benchmarks/results/encoder_epoch_rule_utd.md
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def rows(bench_dirs: list[Path]) -> list[dict]:
    """One row per validation draw of every (protocol, seed) cell with a shared encoder."""
    out = []
    for base in bench_dirs:
        for cell in sorted(base.glob("*/_shared/seed*")):
            main = cell / "encoder" / "result.json"
            if not main.exists():
                continue
            chosen = int(_read(main)["best_epoch"])
            for res in sorted(cell.glob("val_encoder/d*/result.json")):
                hist = [h.get("val_acc") for h in _read(res)["history"]]
                if chosen >= len(hist) or hist[chosen] is None or hist[-1] is None:
                    raise SystemExit(f"{res}: no val_acc at epoch {chosen + 1} or at the last epoch "
                                     "(encoder.select=last reads it every few epochs only)")
                out.append({"protocol": cell.parent.parent.name, "seed": cell.name, "draw": res.parent.name,
                            "main_epoch": chosen + 1, "epochs": len(hist),
                            "at_main_epoch": float(hist[chosen]), "at_last": float(hist[-1])})
    return out


def table(found: list[dict]) -> str:
    lines = ["| protocol | seed | draw | main encoder's holdout epoch | val-seen there | val-seen, last epoch |",
             "|---|---|---|---|---|---|"]
    for r in found:
        lines.append(f"| {r['protocol']} | {r['seed']} | {r['draw']} | {r['main_epoch']} / {r['epochs']} | "
                     f"{r['at_main_epoch']:.1f} | {r['at_last']:.1f} |")
    diff = [r["at_last"] - r["at_main_epoch"] for r in found]
    sd = statistics.stdev(diff) if len(diff) > 1 else 0.0
    lines += ["", f"{len(found)} draws: val-seen {statistics.mean(r['at_main_epoch'] for r in found):.1f} at the "
              f"holdout rule's epoch, {statistics.mean(r['at_last'] for r in found):.1f} at the last epoch; "
              f"last minus holdout {statistics.mean(diff):+.1f} +- {sd:.1f} (higher in {sum(d > 0 for d in diff)}, "
              f"lower in {sum(d < 0 for d in diff)})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", nargs="+", required=True, help="zeroskel bench folders (run with encoder.select=holdout)")
    ap.add_argument("--out", help="write the markdown table here too")
    args = ap.parse_args(argv)
    found = rows([Path(b) for b in args.bench])
    if not found:
        raise SystemExit("no validation encoders found under " + " ".join(args.bench))
    text = table(found)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
