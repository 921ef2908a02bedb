"""Text-only check of the shipped body-part descriptions: per part, the mean and max cosine between
the classes' descriptions (lower = the part tells the classes apart), the same for the six parts
pooled, and the class pairs whose pooled part text reaches cosine 0.95.

    python benchmarks/parts_text_check.py [--encoder minilm]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from zeroskel.text.class_text import build_class_text
from zeroskel.text.encoders import get_text_encoder
from zeroskel.text.sideinfo import PARTS, load_shipped

DATASETS = ("utd-mhad", "msr-action3d", "utkinect", "nw-ucla")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="minilm")
    args = ap.parse_args()
    enc = get_text_encoder(args.encoder)
    print("| dataset | K | " + " | ".join(PARTS) + " | six pooled | pairs >= 0.95 (pooled) |")
    print("|---" * (len(PARTS) + 4) + "|")
    for name in DATASETS:
        si = load_shipped(name)
        parts = build_class_text(si, enc, source="parts")[:len(PARTS), :, 0]   # (6, K, D)
        pooled = F.normalize(parts.mean(0), dim=-1)                           # (K, D)
        k = parts.shape[1]
        off = ~torch.eye(k, dtype=torch.bool)
        cells = []
        for e in list(parts) + [pooled]:
            cos = (e @ e.t())[off]
            cells.append(f"{cos.mean():.2f} / {cos.max():.2f}")
        pairs = [f"{si.class_names[a]} ~ {si.class_names[b]}" for a in range(k) for b in range(a + 1, k)
                 if float(pooled[a] @ pooled[b]) >= 0.95]
        print(f"| {name} | {k} | " + " | ".join(cells) + f" | {'; '.join(pairs) or '-'} |")


if __name__ == "__main__":
    main()
