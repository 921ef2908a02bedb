"""Small runtime helpers shared by the engine steps: device, seeding, schedules, progress, logging."""
from __future__ import annotations

import logging
import math
import os
import platform
import sys
from pathlib import Path
from typing import Iterable, TypeVar

import torch

T = TypeVar("T")

LOG = logging.getLogger("zeroskel")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available (the local rank's GPU under torchrun), else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, salt: int = 0) -> int:
    """A seed for one epoch of one job, so a resumed job replays the same randomness."""
    return (seed * 1_000_003 + epoch * 7_919 + salt * 104_729) % (2**31 - 1)


def scaled_epochs(epochs: int, min_steps: int, steps_per_epoch: int) -> int:
    """``max(epochs, ceil(min_steps / steps_per_epoch))``: small datasets get enough updates."""
    if min_steps <= 0 or steps_per_epoch <= 0:
        return epochs
    return max(epochs, math.ceil(min_steps / steps_per_epoch))


def milestone_epochs(total_epochs: int, fractions: Iterable[float]) -> list[int]:
    """Fractions of training -> epoch indices at which the learning rate drops x0.1."""
    return sorted({max(1, round(f * total_epochs)) for f in fractions if 0 < f < 1})


def progress(iterable: Iterable[T], *, enabled: bool = True, desc: str = "", total: int | None = None,
             leave: bool = False) -> Iterable[T]:
    """A tqdm bar when enabled and stderr is a terminal; the plain iterable otherwise."""
    if not enabled or not sys.stderr.isatty():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True)


def setup_logging(log_file: Path | None = None, *, verbose: bool = True) -> None:
    LOG.setLevel(logging.INFO)
    for h in list(LOG.handlers):
        if getattr(h, "_zeroskel", False):
            LOG.removeHandler(h)
            h.close()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    if verbose:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        sh._zeroskel = True  # type: ignore[attr-defined]
        LOG.addHandler(sh)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(fmt)
        fh._zeroskel = True  # type: ignore[attr-defined]
        LOG.addHandler(fh)
    LOG.propagate = False


def environment() -> dict[str, object]:
    """What ran the job: versions, device, threads (saved as RUN_DIR/env.json)."""
    import numpy as np

    from zeroskel import __version__

    env: dict[str, object] = {
        "zeroskel": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def init_distributed() -> tuple[int, int]:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1): (rank, world size).

    NCCL with one GPU per process when CUDA is available, gloo on CPU. A no-op for one process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
