"""How strongly does the training loss pull on each part of a trained Neuron head?

    python benchmarks/prototype_gradients.py RUN_DIR [--seed 0] [--clips 64]

RUN_DIR is a finished run (or a bench method folder, whose encoder features live in the ``reuse``
run). One batch of the run's seen-class training features, the head's own loss, one backward pass:
prints ||grad|| / ||param|| of the learnable prototypes and of the first layer of the other
modules. A prototype figure hundreds of times below the MLPs' means the prototypes move by weight
decay alone (their ``*_norm_change`` in ``health.json`` is then the same in both branches).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from zeroskel.train.features import load_features
from zeroskel.train.io import load_model
from zeroskel.train.run import Run
from zeroskel.text.class_text import load_class_text


def relative_gradients(run_dir: Path, seed: int = 0, clips: int = 64) -> dict[str, float]:
    run = Run(run_dir)
    head, meta = load_model(run.seed_dir(seed) / "head" / "best.safetensors")
    text, _ = load_class_text(run.dir / "text" / "class_text.safetensors")
    feats, labels = load_features(run.encoder_dir(seed) / "features" / "train.safetensors")
    seen = [int(c) for c in meta["seen"]]
    label_map = torch.full((text.shape[1],), -1, dtype=torch.long)
    label_map[seen] = torch.arange(len(seen))
    y = label_map[labels]
    keep = torch.nonzero(y >= 0).flatten()[:clips]
    x = feats[0][keep].float()  # (B, C, T', V), the first cached view
    head.train()
    for p in head.parameters():
        p.requires_grad_(True)
    head.loss(head(x, text[:, seen]), y[keep]).backward()
    return {name: float(p.grad.norm() / p.detach().norm()) for name, p in head.named_parameters()
            if p.grad is not None and ("prototypes" in name or name.endswith(".0.weight"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clips", type=int, default=64)
    args = ap.parse_args(argv)
    for name, value in relative_gradients(args.run_dir, args.seed, args.clips).items():
        print(f"{name:40s} {value:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
