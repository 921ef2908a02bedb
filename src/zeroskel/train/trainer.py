"""One resumable training loop, shared by encoder pre-training and head training.

Optimisers: SGD (momentum, Nesterov; the Shift-GCN and Neuron recipes), Adam (L2 weight decay in
the gradient, the VAE-family peers' optimiser) or AdamW (decoupled weight decay). Schedules, per
epoch: ``step`` (lr x 0.1 at each milestone) or ``cosine`` (half a cosine from lr to 0 over the
epochs after warm-up); both with an optional linear warm-up.

Each epoch re-seeds torch from ``(seed, epoch)``, so an interrupted job that resumes from its last
saved state replays exactly the epochs it had left and ends with the same weights as an
uninterrupted one. State (model, optimiser, scheduler, history, best) is saved atomically after
every epoch.

Data-parallel training (``torchrun --nproc_per_node N -m zeroskel ...``; NCCL on GPUs, gloo on
CPU): every process builds the same global batch, computes the loss on its shard
(``batch[rank::world]``) and the gradients are summed across processes with the shard sizes as
weights, so the update equals the single-process update on the whole batch. Floating-point buffers
(BatchNorm running statistics, computed per shard) are averaged after every epoch, so every
process ends each epoch with identical weights and writes identical files. BatchNorm batch
statistics are per shard during the forward pass, as in standard DistributedDataParallel, so an
encoder with BatchNorm trains slightly differently from one process; a head without it does not.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from zeroskel.train.io import load_state, save_state
from zeroskel.train.runtime import LOG, epoch_seed, milestone_epochs, progress


OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("step", "cosine")


@dataclass
class SGDConfig:
    """Optimiser and schedule of one training (the name is historical: AdamW is allowed too)."""
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    epochs: int                      # total epochs of the schedule
    milestones: tuple[float, ...]    # fractions of ``epochs`` (schedule ``step``)
    warmup_epochs: int = 0
    optimizer: str = "sgd"           # sgd | adam | adamw
    schedule: str = "step"           # step | cosine
    betas: tuple[float, float] = (0.9, 0.999)   # adam / adamw


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    seconds: float = 0.0


def _dist() -> tuple[int, int] | None:
    """(rank, world size) when a process group is running with more than one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def _shard(batch: Any, rank: int, world: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch[rank::world]
    if isinstance(batch, (list, tuple)):
        return type(batch)(_shard(b, rank, world) for b in batch)
    raise TypeError(f"cannot shard a batch of type {type(batch).__name__} across processes")


def _batch_size(batch: Any) -> int:
    return len(batch) if isinstance(batch, torch.Tensor) else _batch_size(batch[0])


def _dist_backward(loss_fn: Callable[[Any], torch.Tensor], batch: Any, params: list[torch.nn.Parameter],
                   rank: int, world: int) -> torch.Tensor:
    """Backward of the whole-batch mean loss, computed from this process's shard."""
    import torch.distributed as dist

    n = _batch_size(batch)
    local = _shard(batch, rank, world)
    m = _batch_size(local)
    if m > 0:
        loss = loss_fn(local) * (m / n)
        loss.backward()
        value = loss.detach().clone()
    else:
        value = torch.zeros((), device=params[0].device)
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
    dist.all_reduce(value)
    return value


def _average_buffers(model: torch.nn.Module, world: int) -> None:
    import torch.distributed as dist

    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b.div_(world)


SAVE_EVERY = 10.0  # seconds between saves of a training's resumable state (heads, encoders)


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: SGDConfig):
    # foreach: one multi-tensor update instead of a loop over the parameters (torch's default on CUDA
    # only); the same numbers, about 3% of a width-16 encoder step on the CPU
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(list(params), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                              weight_decay=cfg.weight_decay, foreach=True)
    elif cfg.optimizer in ("adam", "adamw"):
        kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        opt = kind(list(params), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, foreach=True)
    else:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
    steps = milestone_epochs(cfg.epochs, cfg.milestones)
    warm = cfg.warmup_epochs

    def factor(epoch: int) -> float:
        if cfg.schedule == "step":
            f = 0.1 ** sum(epoch >= m for m in steps)
        else:  # cosine over the epochs after warm-up, the last epoch still above 0
            span = max(cfg.epochs - warm, 1)
            f = 0.5 * (1 + math.cos(math.pi * max(epoch - warm, 0) / span))
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
    save_every: float = 0.0,
) -> FitResult:
    """Train ``model`` for ``sgd.epochs`` epochs (or until epoch ``stop_after``, inclusive).

    Args:
        batches: epoch -> iterable of batches (seeded by the caller from the epoch).
        step: batch -> scalar loss (forward + loss; the loop does backward and the update).
        evaluate: epoch -> metrics after the epoch (model in eval mode is the callee's business).
        select: the metric whose maximum picks the best epoch (``on_best`` is called then);
            ``None`` picks the last epoch.
        stop_after: last epoch to run (the schedule still spans ``sgd.epochs``).
        save_every: seconds between saves of the resumable state (0: after every epoch); the last
            epoch run is always saved, so an interruption costs at most this much work.
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
        # epochs are 0-based inside, 1-based in every message (as in "epoch 3/30")
        LOG.info("%s: epochs 1-%d of %d done, resuming at epoch %d (%s)", desc, start, sgd.epochs, start + 1,
                 state_path)
        if on_epoch is not None and result.history:  # report the saved epochs (a kill may have beaten it)
            on_epoch(result.history)
    last = sgd.epochs - 1 if stop_after is None else min(stop_after, sgd.epochs - 1)
    saved_at = time.perf_counter()
    for epoch in range(start, last + 1):
        t0 = time.perf_counter()
        torch.manual_seed(epoch_seed(seed, epoch, salt=1))
        model.train()
        total, count = 0.0, 0
        dist = _dist()
        for batch in progress(batches(epoch), enabled=show_progress, desc=f"{desc} {epoch + 1}/{last + 1}"):
            opt.zero_grad(set_to_none=True)
            if dist is None:
                loss = step(batch)
                loss.backward()
            else:
                loss = _dist_backward(step, batch, params, *dist)
            opt.step()
            total += float(loss.detach())
            count += 1
        if dist is not None:
            _average_buffers(model, dist[1])
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
        if epoch == last or time.perf_counter() - saved_at >= save_every:
            save_state(state_path, {
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": epoch, "result": vars(result),
            })
            saved_at = time.perf_counter()
        if on_epoch is not None:
            on_epoch(result.history)
    return result
