"""Does a side-information file's class geometry agree with the skeleton features'? Seen classes only.

For each bench fold, the class centroids of the cached training features (the encoder's seen classes,
view 0, mean over time and joints, centred) give a class x class cosine matrix; each text version's
class means (per phase and over all phases, centred) give another. The figure is the Spearman
correlation of their off-diagonal entries: 1 means the text ranks class pairs as similar exactly as the
skeleton features do. It reads no test clip and no unseen class: a diagnostic for designing text, never
a score of recognition.

    python benchmarks/text_skeleton_agreement.py runs/bench-issue11/utd runs/bench-issue11/msr \\
        --text v1=benchmarks/text/v1 --text v2=shipped --seed 0 --out benchmarks/results/text_skeleton_agreement.md
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from scipy.stats import spearmanr

from zeroskel.data.class_names import BY_DATASET
from zeroskel.data.protocols import get_protocol
from zeroskel.text.class_text import build_class_text
from zeroskel.text.encoders import get_text_encoder
from zeroskel.text.sideinfo import PHASES, load_shipped

COLUMNS = [p.replace("spatial_", "").replace("temporal_", "") for p in PHASES] + ["all"]


def centred_cosines(x: torch.Tensor) -> np.ndarray:
    """(K, D) class vectors -> (K, K) cosines after removing the mean over classes."""
    x = F.normalize(x - x.mean(0), dim=-1)
    return (x @ x.T).numpy()


def agreement(features: Path, class_text: torch.Tensor) -> list[float]:
    """Spearman rho per phase (+ all) between skeleton and text class similarities of the seen classes."""
    d = load_file(str(features))
    x, y = d["features"][0].mean(dim=(2, 3)), d["labels"]           # (N, C) view 0; (N,)
    classes = sorted(set(y.tolist()))
    skel = centred_cosines(torch.stack([x[y == c].mean(0) for c in classes]))  # (K_seen, K_seen)
    iu = np.triu_indices(len(classes), 1)
    out = []
    for p in range(len(PHASES) + 1):
        t = class_text.mean(dim=(0, 2)) if p == len(PHASES) else class_text[p].mean(dim=1)  # (K, D)
        out.append(float(spearmanr(skel[iu], centred_cosines(F.normalize(t, dim=-1)[classes])[iu]).correlation))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_dirs", nargs="+", type=Path, help="bench folders holding FOLD/_shared/seed*/features")
    ap.add_argument("--text", action="append", required=True,
                    help="NAME=FOLDER of <dataset>.json files, or NAME=shipped (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    texts = [t.split("=", 1) for t in args.text]
    enc = get_text_encoder(args.encoder)
    lines = [f"Spearman rho, seen classes of each fold, seed {args.seed}, text encoder {enc.id}\n",
             "| fold | text | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    means: dict[tuple[str, str], list[list[float]]] = {}
    for bench in args.bench_dirs:
        for feats in sorted(bench.glob(f"*/_shared/seed{args.seed}/features/train.safetensors")):
            fold = feats.parents[3].name
            dataset = get_protocol(fold).dataset
            for name, where in texts:
                names = list(BY_DATASET[dataset])                       # label order of the features
                si = load_shipped(dataset, names, directory=None if where == "shipped" else where)
                ct = build_class_text(si, enc, names)                    # (6, K, N_a, D), per phase
                rho = agreement(feats, ct)
                means.setdefault((re.sub(r"-f\d+$", "", fold), name), []).append(rho)
                lines.append(f"| {fold} | {name} | " + " | ".join(f"{r:.2f}" for r in rho) + " |")
    lines.append("")
    lines.append("| family | text | folds | " + " | ".join(COLUMNS) + " |")
    lines.append("|---|---|---|" + "---|" * len(COLUMNS))
    for (fam, name), rows in means.items():
        m = np.mean(rows, axis=0)
        lines.append(f"| {fam} | {name} | {len(rows)} | " + " | ".join(f"{r:.2f}" for r in m) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
