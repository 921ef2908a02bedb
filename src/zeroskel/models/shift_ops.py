"""Shift operations of Shift-GCN (Cheng et al., CVPR 2020), in plain PyTorch ops.

Written from the published facts, no compiled extension:

* Spatial shift (non-local, over the flattened (V, C) axes of one frame):
  shift-in  ``x'[v, c] = x[(v + c) mod V, c]``,
  shift-out ``y'[v, c] = y[(v - c) mod V, c]``.
  Both are a fixed permutation of the V*C features, precomputed as an index vector and applied with
  ``index_select`` (ONNX ``Gather``), so the forward has no Python loop over data.
* Adaptive temporal shift: channel c of the output frame t reads the input at the real position
  ``t * stride + offset[c]``, linearly interpolated between its two nearest frames, zeros outside [0, T);
  the output has ``T // stride`` frames. Offsets are initialised uniform in [-1, 1] (+0.5 when stride is 2).
  Implemented with floor indices and two ``gather`` calls, positions computed in float32 so that the
  interpolation weights stay exact in half precision.
* The original's offset-gradient rule: in training, the offset's gradient g is replaced by
  ``sign(g) * 0.01`` (``1e-4`` where g == 0), while the gradient w.r.t. the input is the exact one.
  Done by passing the offsets through an identity autograd function whose backward applies the rule;
  in eval (and export) the plain differentiable path is used.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = [
    "shift_in_index",
    "shift_out_index",
    "spatial_shift",
    "temporal_shift",
    "offset_grad_rule",
    "TemporalShift",
    "OFFSET_GRAD_STEP",
    "OFFSET_GRAD_ZERO",
]

OFFSET_GRAD_STEP = 0.01  # |grad| the offsets receive in training (the original's rule)
OFFSET_GRAD_ZERO = 1e-4  # grad the offsets receive where the true gradient is exactly 0


def shift_in_index(num_joints: int, channels: int) -> torch.Tensor:
    """Index over the flattened (V, C) axes: position v*C + c reads ((v + c) mod V)*C + c."""
    v = torch.arange(num_joints).view(-1, 1)  # (V, 1)
    c = torch.arange(channels).view(1, -1)  # (1, C)
    return (((v + c) % num_joints) * channels + c).reshape(-1)  # (V*C,)


def shift_out_index(num_joints: int, channels: int) -> torch.Tensor:
    """Index over the flattened (V, C) axes: position v*C + c reads ((v - c) mod V)*C + c."""
    v = torch.arange(num_joints).view(-1, 1)  # (V, 1)
    c = torch.arange(channels).view(1, -1)  # (1, C)
    return (((v - c) % num_joints) * channels + c).reshape(-1)  # (V*C,)


def spatial_shift(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Apply a precomputed shift ``index`` to x (B, V*C) along its last axis."""
    return x.index_select(1, index)


class _OffsetGradRule(torch.autograd.Function):
    """Identity in forward; backward maps the offsets' gradient g to sign(g)*0.01 (1e-4 where g == 0)."""

    @staticmethod
    def forward(ctx, offset: torch.Tensor) -> torch.Tensor:  # noqa: D401
        return offset.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        step = torch.sign(grad) * OFFSET_GRAD_STEP
        return torch.where(grad == 0, torch.full_like(grad, OFFSET_GRAD_ZERO), step)


def offset_grad_rule(offset: torch.Tensor) -> torch.Tensor:
    """``offset`` unchanged, with the original's sign-gradient rule attached for backward."""
    return _OffsetGradRule.apply(offset)


def temporal_shift(x: torch.Tensor, offset: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Shift each channel of x (N, C, T, V) in time by a real ``offset`` (C,); return (N, C, T // stride, V).

    Output frame t of channel c is the linear interpolation of the input at ``t * stride + offset[c]``
    between frames floor and floor + 1, each read as zero when outside [0, T).
    """
    n, c, t, v = x.shape
    t_out = t // stride
    # positions in float32 even for half inputs: t*stride + offset must keep its fraction exactly
    base = torch.arange(t_out, device=x.device, dtype=torch.float32) * stride  # (T_out,)
    pos = base.view(1, -1) + offset.to(torch.float32).view(-1, 1)  # (C, T_out)
    lo = torch.floor(pos)
    w_hi = pos - lo  # weight of frame lo + 1; carries the gradient w.r.t. the offset
    w_lo = 1.0 - w_hi
    lo_idx = lo.to(torch.long)  # (C, T_out)
    hi_idx = lo_idx + 1
    w_lo = w_lo * ((lo_idx >= 0) & (lo_idx < t)).to(w_lo.dtype)  # zero padding outside [0, T)
    w_hi = w_hi * ((hi_idx >= 0) & (hi_idx < t)).to(w_hi.dtype)
    lo_idx = lo_idx.clamp(0, t - 1).view(1, c, t_out, 1).expand(n, c, t_out, v)  # (N, C, T_out, V)
    hi_idx = hi_idx.clamp(0, t - 1).view(1, c, t_out, 1).expand(n, c, t_out, v)
    w_lo = w_lo.to(x.dtype).view(1, c, t_out, 1)
    w_hi = w_hi.to(x.dtype).view(1, c, t_out, 1)
    return x.gather(2, lo_idx) * w_lo + x.gather(2, hi_idx) * w_hi  # (N, C, T_out, V)


class TemporalShift(nn.Module):
    """Adaptive temporal shift with one learnable real offset per channel.

    Args:
        channels: number of channels C (one offset each).
        stride: temporal stride; the output has T // stride frames.
        init_scale: offsets start uniform in [-init_scale, init_scale] (+0.5 when stride is 2).
    """

    def __init__(self, channels: int, stride: int = 1, init_scale: float = 1.0) -> None:
        super().__init__()
        self.channels = channels
        self.stride = stride
        self.offset = nn.Parameter(torch.empty(channels))
        with torch.no_grad():
            self.offset.uniform_(-init_scale, init_scale)
            if stride == 2:
                self.offset.add_(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = offset_grad_rule(self.offset) if self.training and torch.is_grad_enabled() else self.offset
        return temporal_shift(x, offset, self.stride)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, stride={self.stride}"
