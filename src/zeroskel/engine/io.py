"""Atomic files: JSON, safetensors checkpoints with metadata, resumable training state.

Every write goes to a temp file in the destination folder, is flushed to disk, then renamed over
the destination (``os.replace``), so an interrupted job leaves either the old file or the new one,
never a torn one.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors.torch import load_file, save_file

from zeroskel import __version__
from zeroskel.config import atomic_write_text


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, Any] | None = None) -> None:
    """safetensors file; ``metadata`` is stored as one JSON string under the key ``zeroskel``."""
    meta = {"zeroskel": json.dumps(metadata or {}, default=_json_default)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    with safe_open(str(path), framework="pt") as f:
        raw = (f.metadata() or {}).get("zeroskel", "{}")
    return load_file(str(path)), json.loads(raw)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, metadata: dict[str, Any]) -> None:
    """Model weights in safetensors plus metadata (model config, layout, classes, ...)."""
    meta = dict(metadata)
    meta.setdefault("code_version", __version__)
    save_tensors(path, model.state_dict(), meta)


def save_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Resumable training state (model, optimiser, scheduler, epoch, history) via torch.save."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def build_model(spec: dict[str, Any]) -> torch.nn.Module:
    """The registered model named by checkpoint metadata ``{"model", "model_kwargs"}``."""
    from zeroskel.models import create_model

    return create_model(spec["model"], **spec["model_kwargs"])


def model_from_weights(spec: dict[str, Any], weights: dict[str, torch.Tensor],
                       device: torch.device | str = "cpu", *, frozen: bool = False) -> torch.nn.Module:
    """Build ``spec``'s model, load ``weights``, move it to ``device`` in eval mode (and freeze it)."""
    model = build_model(spec)
    model.load_state_dict(weights)
    model.to(device).eval()
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return model


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu", *,
               frozen: bool = False) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A model saved by :func:`save_checkpoint`, with its metadata."""
    weights, meta = load_tensors(path)
    return model_from_weights(meta, weights, device, frozen=frozen), meta
