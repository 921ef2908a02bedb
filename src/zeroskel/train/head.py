"""Step 3: train a zero-shot head (Neuron by default) on cached features of seen classes.

The head sees the seen classes' side information only; the loss is the head's own (Neuron: a
softmax over the seen classes per phase and branch, averaged). Each epoch draws one cached
augmented view per clip. Resumable after any epoch.

    zeroskel train RUN_DIR --seed 0
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from zeroskel.train.io import build_model, load_model, load_tensors, save_checkpoint, save_tensors
from zeroskel.train.run_config import RunConfig
from zeroskel.train.runtime import LOG, epoch_seed, scaled_epochs
from zeroskel.train.trainer import SAVE_EVERY, FitResult, SGDConfig, fit

BRANCHES = ("spatial", "temporal", "fused")


def head_kwargs(cfg: RunConfig, feat_dim: int, text_dim: int, layout: str | None = None) -> dict[str, Any]:
    """Constructor arguments of the configured head (``neuron_options`` reach Neuron heads only; a
    head whose factory takes ``part_joints`` gets the body-part map of ``layout``)."""
    extra = dict(cfg.head.neuron_options) if cfg.head.name == "neuron" else {}
    kwargs = {"variant": cfg.head.variant, "feat_dim": feat_dim, "text_dim": text_dim,
              **extra, **dict(cfg.head.options)}
    if layout and "part_joints" not in kwargs:
        import inspect

        from zeroskel.data.layouts import body_part_joints
        from zeroskel.models import model_entrypoint

        if "part_joints" in inspect.signature(model_entrypoint(cfg.head.name)).parameters:
            kwargs["part_joints"] = [list(j) for j in body_part_joints(layout).values()]
    return kwargs


def head_temporal_text(cfg: RunConfig) -> str:
    """The temporal text the configured head scores against: ``cumulative`` (official Neuron) or ``phase``."""
    if cfg.head.name != "neuron":
        return "phase"
    from zeroskel.models.neuron import NeuronConfig

    opts = {k: v for k, v in {**dict(cfg.head.neuron_options), **dict(cfg.head.options)}.items()}
    return NeuronConfig.preset(cfg.head.variant, **opts).temporal_text


def load_head(path: Path, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    return load_model(path, device)


@torch.no_grad()
def score_features(head: torch.nn.Module, feats: torch.Tensor, class_text: torch.Tensor,
                   device: torch.device, batch_size: int = 256, *, phases: bool = False) -> dict[str, np.ndarray]:
    """Scores of every clip against every class of ``class_text`` (P, K, N_a, D).

    ``feats`` is (N, C, T', V) (one view). Returns ``{"spatial", "temporal", "fused"}`` -> (N, K): each
    branch's prediction scores (Neuron: its last phase) and their mean; a branch the head does not have
    is absent. With ``phases`` also every phase of a branch with more than one: ``spatial_phase1``, ...
    """
    head.eval()
    out: dict[str, list[np.ndarray]] = {b: [] for b in BRANCHES}
    text = class_text.to(device)
    for i in range(0, len(feats), batch_size):
        o = head(feats[i:i + batch_size].to(device).float(), text)
        for b in ("spatial", "temporal"):
            s = o.branch_scores(b)
            if s is not None:
                out[b].append(s.float().cpu().numpy())
            per_phase = getattr(o, b)
            if phases and len(per_phase) > 1:
                for e, ps in enumerate(per_phase):
                    out.setdefault(f"{b}_phase{e + 1}", []).append(ps.float().cpu().numpy())
        out["fused"].append(o.fused_scores().float().cpu().numpy())
    return {b: np.concatenate(v) for b, v in out.items() if v}


def train_head(cfg: RunConfig, *, feats: torch.Tensor, labels: torch.Tensor, classes: Sequence[int],
               class_text: torch.Tensor, out_dir: Path, seed: int, device: torch.device,
               meta: dict[str, Any], evaluate: Callable[[torch.nn.Module], dict[str, float]] | None,
               select: str | None, candidates: Sequence[int] | None = None,
               stop_after: int | None = None,
               on_epoch: Callable[[list[dict[str, Any]]], None] | None = None,
               rows: Sequence[int] | None = None,
               keep_epochs: Path | None = None) -> tuple[Path, FitResult] | None:
    """Train a head on ``feats`` (views, N, C, T', V) of the ``classes`` (global ids).

    ``rows`` selects the clips (along N) to train on (default all) without copying ``feats``, which
    may be a memory map of a feature file larger than RAM: each batch reads only its clips.

    A head may define ``post_fit(*, feats, labels, class_text, seen, candidates, device, seed)``, a
    second training stage run after the SGD epochs (before each validation and before saving);
    ``candidates`` are the classes it will be asked to score (default: all of ``class_text``).

    ``evaluate(head)`` (validation only) gives per-epoch metrics; ``select`` names the one whose
    maximum picks the saved epoch (``None``: the last epoch run). Returns ``best.safetensors``.

    ``keep_epochs``: also write the weights after every epoch to this file (each tensor stacked
    over the epochs, the metadata of ``best.safetensors`` plus the history), so that the epoch can
    be chosen after training (``Run._final_head``); heads with a ``post_fit`` stage return None
    at once instead (their second stage runs on the chosen weights only).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    best_path = out_dir / "best.safetensors"
    classes = [int(c) for c in classes]
    label_map = torch.full((int(class_text.shape[1]),), -1, dtype=torch.long)
    label_map[classes] = torch.arange(len(classes))
    rows_t = (torch.arange(feats.shape[1]) if rows is None
              else torch.as_tensor(np.asarray(rows, dtype=np.int64)))  # (n,) clips to train on
    y = label_map[labels[rows_t]]                             # (n,)
    if (y < 0).any():
        raise ValueError("train_head: a training label is not among the training classes")
    seen_text = class_text[:, classes].to(device)            # (P, K_seen, N_a, D)
    views, n = feats.shape[0], len(rows_t)
    full_meta = {**meta, "model": cfg.head.name,
                 "model_kwargs": head_kwargs(cfg, int(feats.shape[2]), int(class_text.shape[-1]),
                                             meta.get("layout"))}
    torch.manual_seed(seed)
    head = build_model(full_meta).to(device)
    if getattr(head, "transductive", False):
        # a transductive loss (STAR align=all) reads every class's text, unseen ones included
        head.all_class_text = class_text.to(device)
        full_meta["transductive"] = True
        LOG.warning("head %s is TRANSDUCTIVE: its training loss uses the text of all %d classes, unseen ones "
                    "included", cfg.head.name, int(class_text.shape[1]))
    bs = cfg.head.batch_size
    steps_per_epoch = max(1, n // bs)
    epochs = scaled_epochs(cfg.head.epochs, cfg.head.min_steps, steps_per_epoch)

    def batches(epoch: int):
        g = torch.Generator().manual_seed(epoch_seed(seed, epoch, salt=3))
        order = torch.randperm(n, generator=g)
        view = torch.randint(0, views, (n,), generator=g)
        stop = n - (n % bs) if n > bs else n                  # drop the ragged last batch
        for i in range(0, stop, bs):
            idx = order[i:i + bs]
            yield feats[view[idx], rows_t[idx]].float(), y[idx]  # (B, C, T', V), (B,)

    def step(batch) -> torch.Tensor:
        x, t = batch
        out = head(x.to(device), seen_text)
        return head.loss(out, t.to(device))

    post_fit = getattr(head, "post_fit", None)
    if keep_epochs is not None and post_fit is not None:
        return None
    kept: list[dict[str, torch.Tensor]] = []
    cand = [int(c) for c in (candidates if candidates is not None else range(class_text.shape[1]))]

    def finish() -> None:
        # Heads with a second stage (e.g. CADA-VAE's classifier on generated latents) fit it here,
        # from the seen-class features and the text of every candidate class.
        if post_fit is not None:
            sub = (feats, labels) if rows is None else (feats[:, rows_t], labels[rows_t])
            post_fit(feats=sub[0], labels=sub[1], class_text=class_text, seen=classes,
                     candidates=cand, device=device, seed=seed)

    def run_eval(epoch: int) -> dict[str, float]:
        finish()
        return evaluate(head)

    def on_best(epoch: int, metrics: dict[str, float]) -> None:
        if keep_epochs is not None:
            kept.append({k: v.detach().clone() for k, v in head.state_dict().items()})
            return
        save_checkpoint(best_path, head, {**full_meta, "epoch": epoch,
                                          "metrics": {k: v for k, v in metrics.items()
                                                      if isinstance(v, (int, float))}})

    sgd = SGDConfig(lr=cfg.head.lr, momentum=cfg.head.momentum, nesterov=cfg.head.nesterov,
                    weight_decay=cfg.head.weight_decay, epochs=epochs,
                    milestones=tuple(cfg.head.milestones), optimizer=cfg.head.optimizer,
                    schedule=cfg.head.schedule, betas=tuple(cfg.head.betas))
    LOG.info("head %s: %d clips x %d views, %d classes, %d epochs%s", out_dir.name, n, views,
             len(classes), epochs, "" if stop_after is None else f" (stop after {stop_after + 1})")
    res = fit(head, sgd=sgd, batches=batches, step=step,
              evaluate=run_eval if evaluate is not None else None,
              state_path=out_dir / "state.pt", seed=seed, select=select, on_best=on_best, save_every=SAVE_EVERY,
              stop_after=stop_after, desc=f"head[{out_dir.name}]", show_progress=cfg.progress,
              on_epoch=on_epoch)
    if keep_epochs is not None:
        if len(kept) != len(res.history):
            raise RuntimeError(f"{keep_epochs}: a resumed run cannot keep every epoch's weights")
        stacked = {k: torch.stack([w[k] for w in kept]) for k in kept[0]}   # (epochs, ...) each
        save_tensors(keep_epochs, stacked, {**full_meta, "history": res.history, "seconds": res.seconds})
        return keep_epochs, res
    if post_fit is not None and evaluate is None:
        # the final head: run the second stage once, on the weights of the last epoch, and save
        weights, saved_meta = load_tensors(best_path)
        head.load_state_dict(weights)
        finish()
        save_checkpoint(best_path, head, saved_meta)
    return best_path, res


def head_epochs(cfg: RunConfig, num_clips: int) -> int:
    return scaled_epochs(cfg.head.epochs, cfg.head.min_steps, max(1, num_clips // cfg.head.batch_size))
