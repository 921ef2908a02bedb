"""Load the official Shift-GCN checkpoints into ``ShiftGCN``.

The official state dict names (joint-stream model) and what becomes of them, per unit ``l{i}`` (1-based)
-> ``units.{i-1}``:

| official                                  | ours                                | change                      |
| ----------------------------------------- | ----------------------------------- | --------------------------- |
| ``gcn1.Linear_weight`` (C_in, C_out)      | ``spatial.linear.weight``           | transposed to (C_out, C_in) |
| ``gcn1.Linear_bias`` (1, 1, C_out)        | ``spatial.linear.bias``             | flattened to (C_out,)       |
| ``gcn1.Feature_Mask`` (1, V, C_in)        | ``spatial.mask``                    | to (V, C_in)                |
| ``gcn1.bn.*``                             | ``spatial.bn.*``                    |                             |
| ``gcn1.down.0.*`` / ``gcn1.down.1.*``     | ``spatial.down.conv.*`` / ``.bn.*`` |                             |
| ``gcn1.shift_in`` / ``gcn1.shift_out``    | (dropped)                           | index buffers, rebuilt      |
| ``tcn1.bn.*``                             | ``temporal.bn_in.*``                |                             |
| ``tcn1.shift_in.ypos``                    | ``temporal.shift_in.offset``        |                             |
| ``tcn1.temporal_linear.*``                | ``temporal.linear.*``               |                             |
| ``tcn1.shift_out.ypos``                   | ``temporal.shift_out.offset``       |                             |
| ``tcn1.shift_in.xpos`` / ``shift_out.xpos`` | (dropped)                         | unused spatial offsets      |
| ``tcn1.bn2.*``                            | ``temporal.bn_out.*``               |                             |
| ``residual.conv.*`` / ``residual.bn.*``   | ``residual.conv.*`` / ``.bn.*``     |                             |

Top level: ``data_bn.*`` and ``fc.*`` keep their names. ``module.`` prefixes (DataParallel) are stripped,
checkpoints wrapped as ``{"state_dict": ...}`` / ``{"model": ...}`` are unwrapped, and a missing
``num_batches_tracked`` (older PyTorch) is filled from the model. Anything else that does not fit raises
a ``ValueError`` listing the missing, unexpected and shape-mismatched keys with their shapes.
"""
from __future__ import annotations

import os
import re
from typing import Mapping

import torch
import torch.nn as nn

__all__ = ["checkpoint_filter_fn", "load_official_shiftgcn", "OFFICIAL_UNIT_TABLE", "OFFICIAL_DROPPED"]

# (official suffix inside a unit, our suffix inside a unit, how the tensor changes); "." ends a prefix
OFFICIAL_UNIT_TABLE: list[tuple[str, str, str]] = [
    ("gcn1.Linear_weight", "spatial.linear.weight", "transpose"),
    ("gcn1.Linear_bias", "spatial.linear.bias", "flatten"),
    ("gcn1.Feature_Mask", "spatial.mask", "drop_lead"),
    ("gcn1.bn.", "spatial.bn.", ""),
    ("gcn1.down.0.", "spatial.down.conv.", ""),
    ("gcn1.down.1.", "spatial.down.bn.", ""),
    ("tcn1.bn.", "temporal.bn_in.", ""),
    ("tcn1.shift_in.ypos", "temporal.shift_in.offset", ""),
    ("tcn1.temporal_linear.", "temporal.linear.", ""),
    ("tcn1.shift_out.ypos", "temporal.shift_out.offset", ""),
    ("tcn1.bn2.", "temporal.bn_out.", ""),
    ("residual.conv.", "residual.conv.", ""),
    ("residual.bn.", "residual.bn.", ""),
]
# unit suffixes of the official checkpoint that have no counterpart here
OFFICIAL_DROPPED: tuple[str, ...] = ("gcn1.shift_in", "gcn1.shift_out", "tcn1.shift_in.xpos",
                                     "tcn1.shift_out.xpos")
_TOP_LEVEL = ("data_bn.", "fc.")
_UNIT_KEY = re.compile(r"^l(\d+)\.(.+)$")


def _transform(tensor: torch.Tensor, how: str) -> torch.Tensor:
    if how == "transpose":
        return tensor.t().contiguous()
    if how == "flatten":
        return tensor.reshape(-1)
    if how == "drop_lead":
        return tensor.reshape(tensor.shape[-2:]) if tensor.dim() >= 2 else tensor
    return tensor


def _map_key(key: str) -> tuple[str | None, str]:
    """Our name and the transform for an official key; (None, reason) for dropped or unknown keys."""
    if key.startswith(_TOP_LEVEL):
        return key, ""
    match = _UNIT_KEY.match(key)
    if match is None:
        return None, "unexpected"
    unit, rest = int(match.group(1)) - 1, match.group(2)
    if rest in OFFICIAL_DROPPED:
        return None, "dropped"
    for official, ours, how in OFFICIAL_UNIT_TABLE:
        if official.endswith("."):
            if rest.startswith(official):
                return f"units.{unit}.{ours}{rest[len(official):]}", how
        elif rest == official:
            return f"units.{unit}.{ours}", how
    return None, "unexpected"


def _unwrap(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if wrapper in state_dict and isinstance(state_dict[wrapper], Mapping):
            state_dict = state_dict[wrapper]
            break
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        while key.startswith("module."):
            key = key[len("module."):]
        out[key] = value
    return out


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def checkpoint_filter_fn(state_dict: Mapping[str, torch.Tensor], model: nn.Module, *,
                         ignore_classifier: bool = False, strict: bool = True,
                         source: str = "state dict") -> dict[str, torch.Tensor]:
    """Map an official Shift-GCN state dict to ``model``'s names and shapes.

    Args:
        state_dict: the official state dict (or one already in our naming, checked and passed through).
        model: the ``ShiftGCN`` it is meant for.
        ignore_classifier: drop ``fc.*`` (e.g. a checkpoint pre-trained on other classes); ``model.fc``
            then keeps its own weights.
        strict: raise on missing or unexpected keys (shape mismatches always raise).
        source: what to call the input in error messages (a file path).
    """
    state_dict = _unwrap(state_dict)
    target = model.state_dict()
    native = any(k.startswith("units.") for k in state_dict) and not any(_UNIT_KEY.match(k) for k in state_dict)
    out: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for key, value in state_dict.items():
        if native:
            ours, how = key, ""
        else:
            ours, how = _map_key(key)
        if ours is None:
            if how == "unexpected":
                unexpected.append(f"{key} {_shape(value)}")
            continue
        if ignore_classifier and ours.startswith("fc."):
            continue
        if ours not in target:
            unexpected.append(f"{key} {_shape(value)} (-> {ours})")
            continue
        out[ours] = _transform(value, how)
    for key, value in target.items():  # older checkpoints have no BN step counters
        if key.endswith("num_batches_tracked") and key not in out:
            out[key] = value.clone()
    if ignore_classifier:
        for key in ("fc.weight", "fc.bias"):
            out[key] = target[key].clone()
    mismatched = [f"{k}: checkpoint {_shape(v)} vs model {_shape(target[k])}"
                  for k, v in out.items() if tuple(v.shape) != tuple(target[k].shape)]
    missing = [f"{k} {_shape(v)}" for k, v in target.items() if k not in out]
    problems = []
    if mismatched:
        problems.append("shape mismatch:\n  " + "\n  ".join(mismatched))
    if strict and missing:
        problems.append("missing in the checkpoint:\n  " + "\n  ".join(missing))
    if strict and unexpected:
        problems.append("unexpected in the checkpoint:\n  " + "\n  ".join(unexpected))
    if problems:
        raise ValueError(f"cannot load Shift-GCN checkpoint {source} into "
                         f"{type(model).__name__}:\n" + "\n".join(problems))
    return out


def load_official_shiftgcn(path_or_state_dict: str | os.PathLike | Mapping[str, torch.Tensor], model: nn.Module,
                           strict: bool = True, *, ignore_classifier: bool = False):
    """Load an official Shift-GCN checkpoint (a path or a state dict) into ``model``.

    Returns the ``load_state_dict`` result (missing and unexpected keys, empty when strict).
    """
    if isinstance(path_or_state_dict, Mapping):
        state_dict, source = path_or_state_dict, "state dict"
    else:
        source = os.fspath(path_or_state_dict)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"Shift-GCN checkpoint not found: {source}")
        state_dict = torch.load(source, map_location="cpu", weights_only=True)
    converted = checkpoint_filter_fn(state_dict, model, ignore_classifier=ignore_classifier, strict=strict,
                                     source=source)
    return model.load_state_dict(converted, strict=strict)
