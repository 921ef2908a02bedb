"""Atomic files: JSON, safetensors checkpoints with metadata, resumable training state.

Every write goes to a temp file in the destination folder, is flushed to disk, then renamed over
the destination (``os.replace``), so an interrupted job leaves either the old file or the new one,
never a torn one. A write that fails (a full disk, a read-only folder) raises ``OSError`` naming the
destination; the temp file is removed and the old file stays.

Nothing here executes code from a file: checkpoints are safetensors (tensors + a JSON string), and the
training state is read with ``torch.load(weights_only=True)`` (tensors, numbers, strings, lists and
dicts only). A truncated or corrupt file raises :class:`CheckpointError` naming it.
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


class CheckpointError(ValueError):
    """A checkpoint or state file that cannot be read (truncated, corrupt, not what it should be)."""


def write_error(path: str | os.PathLike, err: OSError) -> OSError:
    """``err`` as an OSError whose message names ``path`` and says the old file is kept."""
    reason = err.strerror or str(err) or type(err).__name__
    return OSError(err.errno, f"cannot write {path}: {reason} (nothing was replaced; free space or "
                              "choose another folder and run again)", str(path))


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it replaces ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as e:
        raise write_error(path, e) from None
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.filename == str(path):  # already named by an inner write
            raise
        raise write_error(path, e) from None
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


def load_tensors(path: str | os.PathLike, *, rebuild: str = "") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of a file written by :func:`save_tensors`.

    Args:
        path: the safetensors file.
        rebuild: what the user should do when it is corrupt (appended to the error message).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    hint = f"; {rebuild}" if rebuild else "; delete it and rebuild it with the command that wrote it"
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("zeroskel", "{}")
        tensors = load_file(str(path))
        meta = json.loads(raw)
    except (SafetensorError, OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file, it is truncated or corrupt "
                              f"({type(e).__name__}: {e}){hint}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is not a JSON object{hint}")
    return tensors, meta


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
    """The state :func:`save_state` wrote (None when there is none), read without running any code."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for a bad file
        raise CheckpointError(f"{path}: not a readable training state ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); delete it to restart this "
                              "training step from its first epoch") from None
    if not isinstance(state, dict) or not {"model", "optimizer", "scheduler", "epoch", "result"} <= set(state):
        raise CheckpointError(f"{path}: not a training state written by zeroskel; delete it to restart "
                              "this training step from its first epoch")
    return state


def build_model(spec: dict[str, Any]) -> torch.nn.Module:
    """The registered model named by checkpoint metadata ``{"model", "model_kwargs"}``."""
    from zeroskel.models import create_model

    return create_model(spec["model"], **spec["model_kwargs"])


def model_from_weights(spec: dict[str, Any], weights: dict[str, torch.Tensor],
                       device: torch.device | str = "cpu", *, frozen: bool = False) -> torch.nn.Module:
    """Build ``spec``'s model, load ``weights``, move it to ``device`` in eval mode (and freeze it)."""
    try:
        model = build_model(spec)
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"model {spec.get('model')!r} with settings {spec.get('model_kwargs')} does not "
                              f"match its weights ({str(e).splitlines()[0]})") from None
    model.to(device).eval()
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return model


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu", *,
               frozen: bool = False) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A model saved by :func:`save_checkpoint`, with its metadata."""
    weights, meta = load_tensors(path)
    try:
        return model_from_weights(meta, weights, device, frozen=frozen), meta
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
