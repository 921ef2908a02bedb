"""Step 1: pre-train the skeleton encoder on seen classes only.

Cross-entropy (optionally label-smoothed) over the seen classes of the fitting samples, SGD or AdamW
with a step or cosine schedule; the checkpoint kept (``encoder.select``) is the epoch with the best
accuracy on held-out *seen-class* samples of the train split (``holdout``; never the test split; the
earliest of equal epochs) or the last epoch (``last``). Resumable after any epoch. The
checkpoint's metadata carries the preprocessing (origin, scale, view, streams, ...) so extraction
and the bundle preprocess users' clips exactly as the training clips were.

:func:`supervised_accuracy` is the encoder diagnostic: top-1 of the encoder's own classifier on any
seen-class clips (the run reports it on the holdout and on the test split's seen-class clips as
``encoder.supervised``; it is never used for a choice).

    zeroskel pretrain RUN_DIR --seed 0
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from zeroskel.data.clips import ClipDataset
from zeroskel.data.sample import SkeletonDataset
from zeroskel.train.io import (build_model, load_model, load_tensors, read_json, save_checkpoint,
                                write_json)
from zeroskel.train.run_config import RunConfig, preprocessing
from zeroskel.train.runtime import LOG, epoch_seed, scaled_epochs
from zeroskel.train.trainer import SAVE_EVERY, SGDConfig, fit


LAST_EVAL_EVERY = 5  # encoder.select=last: holdout top-1 after every 5th epoch and the last


def encoder_kwargs(cfg: RunConfig, num_classes: int, num_joints: int, num_person: int) -> dict[str, Any]:
    common = {"num_classes": num_classes, "num_joints": num_joints, "num_person": num_person,
              "base_channels": cfg.encoder.base_channels, "dropout": cfg.encoder.dropout}
    if cfg.encoder.name == "shiftgcn_ensemble":  # one encoder per stream of data.streams
        return {**common, "num_streams": len(cfg.data.streams), "fusion": cfg.encoder.fusion}
    return {**common, "in_channels": preprocessing(cfg.data).channels}


def load_encoder(path: Path, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A saved encoder (``best.safetensors``), frozen, in eval mode, on ``device``."""
    return load_model(path, device, frozen=True)


def _accuracy(model: torch.nn.Module, loader: DataLoader, label_map: np.ndarray,
              device: torch.device) -> float:
    correct = total = 0
    for x, y in loader:
        pred = model(x.to(device)).argmax(1).cpu().numpy()
        correct += int((pred == label_map[y.numpy()]).sum())
        total += len(y)
    return 100.0 * correct / max(total, 1)


def pretrain_encoder(cfg: RunConfig, dataset: SkeletonDataset, *, fit_idx: Sequence[int],
                     val_idx: Sequence[int], classes: Sequence[int], out_dir: Path, seed: int,
                     num_person: int, device: torch.device, protocol: str,
                     on_epoch: Callable[[list[dict[str, Any]]], None] | None = None) -> Path:
    """Train an encoder on ``fit_idx`` over ``classes``; keep the best epoch on ``val_idx``.

    Returns the path of ``best.safetensors`` (weights + metadata). Skips when already done.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    done = out_dir / "result.json"
    best_path = out_dir / "best.safetensors"
    if done.exists() and best_path.exists():
        return best_path
    classes = [int(c) for c in classes]
    label_map = np.full(dataset.num_classes, -1, dtype=np.int64)
    label_map[classes] = np.arange(len(classes))
    from zeroskel.data.layouts import get_layout

    num_joints = len(get_layout(dataset.layout).joints)
    meta = {
        "model": cfg.encoder.name,
        "model_kwargs": encoder_kwargs(cfg, len(classes), num_joints, num_person),
        "layout": dataset.layout, "dataset": dataset.name, "protocol": protocol,
        "classes": classes, "class_names": [dataset.class_names[c] for c in classes],
        "length": cfg.data.length, "num_person": num_person, "align_view": cfg.data.align_view,
        "preprocessing": preprocessing(cfg.data).to_dict(), "seed": seed,
    }
    torch.manual_seed(seed)
    model = build_model(meta)
    if cfg.encoder.checkpoint:
        _load_start(model, cfg.encoder.checkpoint)
    model.to(device)

    if cfg.encoder.pretrained_only:
        save_checkpoint(best_path, model, meta)
        write_json(done, {"best_epoch": -1, "note": "encoder.pretrained_only: no pre-training"})
        return best_path

    common = dict(length=cfg.data.length, num_person=num_person, layout=dataset.layout,
                  preprocessing=preprocessing(cfg.data))
    train_set = ClipDataset(dataset, fit_idx, train=True, seed=seed, **common)
    val_set = ClipDataset(dataset, val_idx, train=False, **common)
    if cfg.encoder.select not in ("holdout", "last"):
        raise ValueError(f"encoder.select must be 'holdout' or 'last', got {cfg.encoder.select!r}")
    bs = cfg.encoder.batch_size
    steps_per_epoch = max(1, len(train_set) // bs)
    epochs = scaled_epochs(cfg.encoder.epochs, cfg.encoder.min_steps, steps_per_epoch)
    val_loader = DataLoader(val_set, batch_size=64, shuffle=False)
    lm = torch.from_numpy(label_map)

    def batches(epoch: int):
        train_set.set_epoch(epoch)
        g = torch.Generator().manual_seed(epoch_seed(seed, epoch, salt=2))
        return DataLoader(train_set, batch_size=bs, shuffle=True, drop_last=len(train_set) > bs,
                          generator=g)

    def step(batch) -> torch.Tensor:
        x, y = batch
        target = lm[y].to(device)

        def loss(logits: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(logits, target,
                                                     label_smoothing=cfg.encoder.label_smoothing)
        if hasattr(model, "member_logits"):  # an ensemble: every member learns on its own loss
            return torch.stack([loss(z) for z in model.member_logits(x.to(device))]).mean()
        return loss(model(x.to(device)))

    select = "val_acc" if cfg.encoder.select == "holdout" else None  # None: fit keeps the last epoch

    def evaluate(epoch: int) -> dict[str, float]:
        if select is None and epoch != epochs - 1 and (epoch + 1) % LAST_EVAL_EVERY:
            return {}  # select=last chooses nothing: the holdout is read every few epochs, for the log
        return {"val_acc": _accuracy(model, val_loader, label_map, device)}

    def on_best(epoch: int, metrics: dict[str, float]) -> None:
        if select is not None or epoch == epochs - 1:  # select=last: write the last epoch only
            save_checkpoint(best_path, model, {**meta, "epoch": epoch, "val_acc": metrics["val_acc"]})

    sgd = SGDConfig(lr=cfg.encoder.lr, momentum=cfg.encoder.momentum, nesterov=cfg.encoder.nesterov,
                    weight_decay=cfg.encoder.weight_decay, epochs=epochs,
                    milestones=tuple(cfg.encoder.milestones), warmup_epochs=cfg.encoder.warmup_epochs,
                    optimizer=cfg.encoder.optimizer, schedule=cfg.encoder.schedule)
    LOG.info("pretrain %s: %d clips, %d seen classes, %d epochs, %d held out",
             out_dir.name, len(train_set), len(classes), epochs, len(val_set))
    res = fit(model, sgd=sgd, batches=batches, step=step, evaluate=evaluate,
              state_path=out_dir / "state.pt", seed=seed, select=select, on_best=on_best, save_every=SAVE_EVERY,
              desc=f"pretrain[{out_dir.name}]", show_progress=cfg.progress, on_epoch=on_epoch)
    best_val_acc = res.history[res.best_epoch]["val_acc"] if res.history else None
    write_json(done, {"best_epoch": res.best_epoch, "best_val_acc": best_val_acc, "select": cfg.encoder.select,
                      "epochs": epochs, "seconds": res.seconds, "history": res.history,
                      "num_fit": len(train_set), "num_val": len(val_set)})
    (out_dir / "state.pt").unlink(missing_ok=True)
    return best_path


def _load_start(model: torch.nn.Module, path: str) -> None:
    """Start from a checkpoint: ours (safetensors) or an official Shift-GCN one (converted)."""
    p = Path(path)
    if p.suffix == ".safetensors":
        weights, _ = load_tensors(p)
        own = model.state_dict()
        # a classifier over other classes does not transfer: start it fresh
        weights = {k: v for k, v in weights.items()
                   if not (k.startswith("fc.") and k in own and own[k].shape != v.shape)}
        missing, unexpected = model.load_state_dict(weights, strict=False)
    else:
        from zeroskel.models.convert import load_official_shiftgcn

        load_official_shiftgcn(str(p), model, strict=False)
        return
    bad = [k for k in missing if not k.startswith("fc.")] + list(unexpected)
    if bad:
        raise ValueError(f"{path}: checkpoint does not fit the encoder: {bad[:10]}")


def encoder_result(out_dir: Path) -> dict[str, Any]:
    return read_json(out_dir / "result.json")


def validation_seen(draw_dirs: Sequence[Path]) -> dict[str, Any] | None:
    """``val_seen`` of validation-draw encoders (their ``result.json`` in ``draw_dirs``): top-1 (%) on
    the clips of the subject each draw held out after the last epoch (the checkpoint's epoch was chosen
    on these same clips), the mean over draws with ``values`` and ``num`` per draw. None when a draw is
    missing or trained no epoch (``encoder.pretrained_only``)."""
    paths = [Path(d) / "result.json" for d in draw_dirs]
    if not paths or not all(p.exists() for p in paths):
        return None
    results = [read_json(p) for p in paths]
    if not all(r.get("history") for r in results):
        return None
    last = [float(r["history"][-1]["val_acc"]) for r in results]
    return {"top1": sum(last) / len(last), "values": last, "num": [int(r["num_val"]) for r in results]}


def clip_preprocessing(meta: dict[str, Any]):
    """The :class:`Preprocessing` an encoder was trained with, from its checkpoint metadata
    (checkpoints from before the option existed: the defaults plus their ``align_view``)."""
    from zeroskel.data.transforms import Preprocessing

    if "preprocessing" in meta:
        return Preprocessing.from_dict(meta["preprocessing"])
    return Preprocessing(align_view=bool(meta.get("align_view", False)))


@torch.no_grad()
def supervised_accuracy(encoder_path: Path, dataset: SkeletonDataset, indices: Sequence[int],
                        device: torch.device, batch_size: int = 64) -> dict[str, Any]:
    """Top-1 (%) of a saved encoder's own classifier on ``indices`` (clips of its classes only).

    Clips are preprocessed as in evaluation, with the settings stored in the checkpoint. Returns
    ``{"top1", "num"}``; clips of classes the encoder was not trained on raise.
    """
    model, meta = load_encoder(encoder_path, device)
    classes = [int(c) for c in meta["classes"]]
    label_map = np.full(dataset.num_classes, -1, dtype=np.int64)
    label_map[classes] = np.arange(len(classes))
    idx = np.asarray(indices, dtype=np.int64)
    labels = np.array([dataset.samples[i].label for i in idx], dtype=np.int64)
    if (label_map[labels] < 0).any():
        raise ValueError(f"{encoder_path}: supervised accuracy needs clips of the encoder's classes; "
                         f"got labels {sorted(set(labels[label_map[labels] < 0].tolist()))}")
    clips = ClipDataset(dataset, idx, length=int(meta["length"]), train=False,
                        num_person=int(meta["num_person"]), layout=dataset.layout,
                        preprocessing=clip_preprocessing(meta))
    loader = DataLoader(clips, batch_size=batch_size, shuffle=False)
    return {"top1": _accuracy(model, loader, label_map, device), "num": len(idx)}


__all__ = ["pretrain_encoder", "load_encoder", "encoder_result", "supervised_accuracy",
           "validation_seen", "clip_preprocessing"]
