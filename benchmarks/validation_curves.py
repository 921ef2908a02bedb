"""Validation curves of the default recipe, for recipe decisions made on validation numbers only.

For each protocol, run seed and validation draw: pre-train the draw's validation encoder, cache its
features, train the draw's validation head, and save after every epoch the validation metrics and
the head's scores of the draw's ``val_seen`` + ``val_unseen`` clips. Never reads the test split
(no main encoder, no final head, no ``evaluate``).

    python benchmarks/validation_curves.py --protocols utd-f1,utd-f2 --seeds 0 --draws 0,1,2 \\
        --data-root ../shared/data/utd_mhad --out runs/valcurves

Writes ``OUT/<protocol>/seed<S>/d<D>/{encoder,features,head}/`` and ``curves.npz`` (per epoch:
``scores_<branch>`` (E, N, K), ``labels``, ``seen``, ``unseen``) and ``history.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from zeroskel.config import save_config
from zeroskel.data.protocols import validation_draw
from zeroskel.train.features import extract_features, load_features
from zeroskel.train.head import score_features, train_head
from zeroskel.train.pretrain import load_encoder, pretrain_encoder
from zeroskel.train.run import Run
from zeroskel.train.run_config import RunConfig
from zeroskel.train.runtime import setup_logging
from zeroskel.train.selection import validation_metrics


def one_draw(run: Run, seed: int, draw: int, out: Path) -> None:
    if (out / "history.json").exists():
        return
    cfg = run.cfg
    v = validation_draw(run.dataset, run.splits, split_seed=cfg.data.split_seed, seed=seed, draw=draw,
                        num_subjects=1)
    common = dict(seed=seed, num_person=run.num_person, device=run.device, protocol=run.protocol.name)
    enc_path = pretrain_encoder(cfg, run.dataset, fit_idx=v.val_train, val_idx=v.val_seen,
                                classes=v.val_seen_classes, out_dir=out / "encoder", **common)
    enc, _ = load_encoder(enc_path, run.device)
    feats = {}
    for name, idx, aug in (("train", v.val_train, True), ("seen", v.val_seen, False),
                           ("unseen", v.val_unseen, False)):
        path = out / "features" / f"{name}.safetensors"
        if not path.exists():
            extract_features(enc, run.dataset, idx, path, views=cfg.extract.views, train_aug=aug,
                             length=cfg.data.length, num_person=run.num_person,
                             align_view=cfg.data.align_view, seed=seed,
                             batch_size=cfg.extract.batch_size, device=run.device, show_progress=False)
        feats[name] = load_features(path)
    vf, vl = feats["train"]
    ev = torch.cat([feats["seen"][0][0], feats["unseen"][0][0]])
    labels = torch.cat([feats["seen"][1], feats["unseen"][1]]).numpy()
    text = run.class_text
    vs, vu = v.val_seen_classes, v.val_unseen_classes
    per_epoch: dict[str, list[np.ndarray]] = {}

    def evaluate(head):
        scores = score_features(head, ev, text, run.device)
        for b, s in scores.items():
            per_epoch.setdefault(b, []).append(s.astype(np.float32))
        return validation_metrics(scores, labels, vs, vu, cfg.eval.gamma_grid)

    _, res = train_head(cfg, feats=vf, labels=vl, classes=vs, class_text=text, out_dir=out / "head",
                        seed=seed, device=run.device, meta={**run._meta(), "seed": seed},
                        evaluate=evaluate, select="val_select", candidates=vs + vu)
    np.savez_compressed(out / "curves.npz", labels=labels, seen=np.array(vs), unseen=np.array(vu),
                        **{f"scores_{b}": np.stack(v_) for b, v_ in per_epoch.items()})
    (out / "history.json").write_text(json.dumps({"draw": v.describe(), "history": res.history}))
    (out / "head" / "state.pt").unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protocols", default="utd-f1,utd-f2")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--draws", default="0,1,2")
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="tiny encoder and head (a check of the script)")
    args = ap.parse_args()
    for proto in args.protocols.split(","):
        cfg = RunConfig(protocol=proto, progress=False, num_threads=1)
        cfg.data.root = args.data_root
        if args.smoke:
            cfg.encoder.base_channels, cfg.encoder.epochs, cfg.data.length = 4, 1, 16
            cfg.head.epochs, cfg.head.min_steps, cfg.text.encoder = 2, 0, "hashing:32"
        d = Path(args.out) / proto
        d.mkdir(parents=True, exist_ok=True)
        save_config(cfg, d / "config.yaml")
        run = Run(d, cfg)
        setup_logging(d / "log.txt", verbose=True)
        for seed in map(int, args.seeds.split(",")):
            for draw in map(int, args.draws.split(",")):
                one_draw(run, seed, draw, d / f"seed{seed}" / f"d{draw}")


if __name__ == "__main__":
    main()
