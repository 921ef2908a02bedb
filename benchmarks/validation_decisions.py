"""Recipe decisions from validation curves only (the output of validation_curves.py).

    python benchmarks/validation_decisions.py runs/valcurves

Reads ``<protocol>/seed<S>/d<D>/{history.json,curves.npz}``; never a test number. Prints:

1. each draw's curve (fused ZSL, H and their mean at a few fractions of training) and the epoch a
   single draw would choose;
2. epoch rules scored by leave-one-draw-out: the rule chooses a fraction from all the other
   draws, and the held-out draw's metrics at that fraction are read (its
   ``regret`` is its own best minus that); mean over held-out draws;
   2b. the same with a single draw choosing (what one draw per seed would do);
3. the selection criterion (fused ZSL, H, or their mean), scored the same way;
4. GZSL calibration transfer between two heads of different draws (raw factor vs rescaled by the
   seen-unseen score margin, as ``eval.gamma_transfer``): H of head B with head A's factor.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from zeroskel.train import metrics as M
from zeroskel.train.selection import combine_draws

FRACTIONS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
RULES = {
    "argmax (no rule)": dict(),
    "min_fraction 0.1": dict(min_fraction=0.1),
    "min_fraction 0.25": dict(min_fraction=0.25),
    "min_fraction 0.5": dict(min_fraction=0.5),
    "smooth 0.1": dict(smooth_fraction=0.1),
    "smooth 0.2": dict(smooth_fraction=0.2),
    "min 0.25 + smooth 0.1": dict(min_fraction=0.25, smooth_fraction=0.1),
    "min 0.25 + smooth 0.2": dict(min_fraction=0.25, smooth_fraction=0.2),
    "last epoch": dict(select_epoch=False),
}


def load(root: Path) -> dict[tuple[str, int], list[dict]]:
    groups: dict[tuple[str, int], list[dict]] = {}
    for hist in sorted(root.glob("*/seed*/d*/history.json")):
        proto, seed = hist.parts[-4], int(hist.parts[-3][4:])
        rec = json.loads(hist.read_text())
        z = np.load(hist.parent / "curves.npz")
        groups.setdefault((proto, seed), []).append({
            "name": f"{proto} s{seed} d{rec['draw']['draw']}", "draw": rec["draw"],
            "history": rec["history"], "scores": z["scores_fused"], "labels": z["labels"],
            "seen": z["seen"].tolist(), "unseen": z["unseen"].tolist()})
    return groups


def at(history: list[dict], fraction: float, key: str) -> float:
    e = min(len(history) - 1, max(0, int(np.rint(fraction * len(history))) - 1))
    return float(history[e][key])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    root = Path(ap.parse_args().root)
    groups = load(root)
    draws = [d for g in groups.values() for d in g]
    print(f"{len(draws)} validation draws: " + ", ".join(d["name"] for d in draws))

    print("\n## 1. Curves: fused ZSL / H / mean at fractions of training; single-draw argmax")
    print("| draw | held-out subject | epochs | " + " | ".join(f"f={f}" for f in FRACTIONS)
          + " | argmax epoch (fraction) |")
    print("|---" * (len(FRACTIONS) + 4) + "|")
    for d in draws:
        h = d["history"]
        cells = [f"{at(h, f, 'val_zsl_fused'):.1f} / {at(h, f, 'val_gzsl_fused_H'):.1f} / "
                 f"{at(h, f, 'val_select'):.1f}" for f in FRACTIONS]
        best = int(np.argmax([x["val_select"] for x in h]))
        print(f"| {d['name']} | {d['draw']['held_out_subjects']} | {len(h)} | " + " | ".join(cells)
              + f" | {best + 1} ({(best + 1) / len(h):.2f}) |")

    def loo(options: dict, key: str = "val_select"):
        # the rule sees every other draw (any protocol: the rules speak of fractions of training)
        out = {"val_select": [], "val_zsl_fused": [], "val_gzsl_fused_H": [], "regret": [],
               "fraction": []}
        if len(draws) > 1:
            for i, held in enumerate(draws):
                rest = [d["history"] for j, d in enumerate(draws) if j != i]
                f = combine_draws(rest, key=key, **options)["fraction"]
                h = held["history"]
                for k in ("val_select", "val_zsl_fused", "val_gzsl_fused_H"):
                    out[k].append(at(h, f, k))
                out["regret"].append(max(x["val_select"] for x in h) - at(h, f, "val_select"))
                out["fraction"].append(f)
        return {k: float(np.mean(v)) for k, v in out.items()}, out["fraction"]

    print("\n## 2. Epoch rules, leave-one-draw-out (held-out draw's metrics at the chosen fraction)")
    print("| rule | mean(ZSL, H) | ZSL | H | regret | chosen fractions |")
    print("|---|---|---|---|---|---|")
    for name, options in RULES.items():
        m, fr = loo(options)
        print(f"| {name} | {m['val_select']:.1f} | {m['val_zsl_fused']:.1f} | {m['val_gzsl_fused_H']:.1f} "
              f"| {m['regret']:.1f} | {', '.join(f'{x:.2f}' for x in fr)} |")

    def single(options: dict):
        # one draw chooses (eval.val_draws=1); the other draws of its protocol are read there
        vals = []
        for g in groups.values():
            for i, chooser in enumerate(g):
                f = combine_draws([chooser["history"]], **options)["fraction"]
                vals += [at(d["history"], f, "val_select") for j, d in enumerate(g) if j != i]
        return float(np.mean(vals)) if vals else float("nan")

    print("\n## 2b. One draw chooses, the other draws of its protocol and seed are read there")
    print("| rule | mean(ZSL, H) on the other draws |")
    print("|---|---|")
    for name, options in RULES.items():
        print(f"| {name} | {single(options):.1f} |")

    print("\n## 3. Selection criterion, leave-one-draw-out (rule: min 0.25 + smooth 0.2)")
    print("| criterion | ZSL | H | mean |")
    print("|---|---|---|---|")
    for key in ("val_zsl_fused", "val_gzsl_fused_H", "val_select"):
        m, _ = loo({"min_fraction": 0.25, "smooth_fraction": 0.2}, key=key)
        print(f"| {key} | {m['val_zsl_fused']:.1f} | {m['val_gzsl_fused_H']:.1f} | {m['val_select']:.1f} |")

    print("\n## 4. Calibration transfer between draws (fused, last epoch of each head)")
    print("| A -> B | B's own best H | raw: H_B(gamma_A) | margin: H_B(gamma_A m_B / m_A) |")
    print("|---|---|---|---|")
    rows = []
    for g in groups.values():
        for a, b in itertools.permutations(g, 2):
            ga, ma = a["history"][-1]["val_gamma_fused"], a["history"][-1]["val_margin_fused"]
            mb = b["history"][-1]["val_margin_fused"]
            s, lab = b["scores"][-1], b["labels"]
            own = M.best_gamma(s, lab, b["seen"], b["unseen"]).H
            raw = M.gzsl(s, lab, b["seen"], b["unseen"], ga).H
            resc = M.gzsl(s, lab, b["seen"], b["unseen"], ga * mb / ma).H if ma > 0 and mb > 0 else raw
            rows.append((own, raw, resc))
            print(f"| {a['name']} -> {b['name']} | {own:.1f} | {raw:.1f} | {resc:.1f} |")
    if rows:
        r = np.array(rows)
        print(f"| mean | {r[:, 0].mean():.1f} | {r[:, 1].mean():.1f} | {r[:, 2].mean():.1f} |")


if __name__ == "__main__":
    main()
