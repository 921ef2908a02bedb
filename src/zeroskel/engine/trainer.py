"""One resumable SGD loop, shared by encoder pre-training and head training.

Each epoch re-seeds torch from ``(seed, epoch)``, so an interrupted job that resumes from its last
saved state replays exactly the epochs it had left and ends with the same weights as an
uninterrupted one. State (model, optimiser, scheduler, history, best) is saved atomically after
every epoch.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from zeroskel.engine.io import load_state, save_state
from zeroskel.engine.runtime import LOG, epoch_seed, milestone_epochs, progress


@dataclass
class SGDConfig:
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    epochs: int                      # total epochs of the schedule
    milestones: tuple[float, ...]    # fractions of ``epochs``
    warmup_epochs: int = 0


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    seconds: float = 0.0


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: SGDConfig):
    opt = torch.optim.SGD(list(params), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                          weight_decay=cfg.weight_decay)
    steps = milestone_epochs(cfg.epochs, cfg.milestones)
    warm = cfg.warmup_epochs

    def factor(epoch: int) -> float:
        f = 0.1 ** sum(epoch >= m for m in steps)
        if warm > 0 and epoch < warm:
            f *= (epoch + 1) / warm
        return f

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return opt, sched


def fit(
    model: torch.nn.Module,
    *,
    sgd: SGDConfig,
    batches: Callable[[int], Iterable[Any]],
    step: Callable[[Any], torch.Tensor],
    evaluate: Callable[[int], dict[str, float]] | None,
    state_path: Path,
    seed: int,
    select: str | None = None,
    on_best: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    desc: str = "train",
    show_progress: bool = True,
    on_epoch: Callable[[list[dict[str, Any]]], None] | None = None,
    params: Iterable[torch.nn.Parameter] | None = None,
) -> FitResult:
    """Train ``model`` for ``sgd.epochs`` epochs (or until epoch ``stop_after``, inclusive).

    Args:
        batches: epoch -> iterable of batches (seeded by the caller from the epoch).
        step: batch -> scalar loss (forward + loss; the loop does backward and the update).
        evaluate: epoch -> metrics after the epoch (model in eval mode is the callee's business).
        select: the metric whose maximum picks the best epoch (``on_best`` is called then);
            ``None`` picks the last epoch.
        stop_after: last epoch to run (the schedule still spans ``sgd.epochs``).
    """
    params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt, sched = make_optimizer(params, sgd)
    result = FitResult()
    start = 0
    state = load_state(state_path)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        result = FitResult(**state["result"])
        start = state["epoch"] + 1
        LOG.info("%s: resuming after epoch %d from %s", desc, state["epoch"], state_path)
    last = sgd.epochs - 1 if stop_after is None else min(stop_after, sgd.epochs - 1)
    for epoch in range(start, last + 1):
        t0 = time.perf_counter()
        torch.manual_seed(epoch_seed(seed, epoch, salt=1))
        model.train()
        total, count = 0.0, 0
        for batch in progress(batches(epoch), enabled=show_progress, desc=f"{desc} {epoch + 1}/{last + 1}"):
            loss = step(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            count += 1
        lr = opt.param_groups[0]["lr"]
        sched.step()
        metrics: dict[str, Any] = {"epoch": epoch, "loss": total / max(count, 1), "lr": lr}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                metrics.update(evaluate(epoch))
        metrics["seconds"] = time.perf_counter() - t0
        result.seconds += metrics["seconds"]
        result.history.append(metrics)
        score = metrics.get(select, -math.inf) if select else float(epoch)
        if score > result.best_score:
            result.best_score, result.best_epoch = float(score), epoch
            if on_best is not None:
                on_best(epoch, metrics)
        LOG.info("%s epoch %d/%d loss %.4f%s", desc, epoch + 1, last + 1, metrics["loss"],
                 "".join(f" {k} {v:.2f}" for k, v in metrics.items()
                         if k not in ("epoch", "loss", "lr", "seconds") and isinstance(v, float)))
        save_state(state_path, {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": epoch, "result": vars(result),
        })
        if on_epoch is not None:
            on_epoch(result.history)
    return result
