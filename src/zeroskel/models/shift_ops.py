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
  On the CPU in float32 / float64 it runs as a depthwise convolution along time whose per-channel
  kernel holds the two interpolation weights at the channel's integer shift (``gather`` and its
  ``scatter_add`` backward were the slowest ops of a CPU training step; the convolution is the same
  function and trains the width-16 encoder 2.0x faster on 2 quiet cores, 2.6x on one loaded core:
  BENCHMARKS.md, "Encoder recipe", throughput); elsewhere (CUDA, half
  precision, tracing for ONNX) with floor indices and two ``gather`` calls, positions computed in
  float32 so that the interpolation weights stay exact in half precision.
* The original's offset-gradient rule: in training, the offset's gradient g is replaced by
  ``sign(g) * 0.01`` (``1e-4`` where g == 0), while the gradient w.r.t. the input is the exact one.
  Done by passing the offsets through an identity autograd function whose backward applies the rule;
  in eval (and export) the plain differentiable path is used.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "shift_in_index",
    "shift_out_index",
    "spatial_shift",
    "temporal_shift",
    "temporal_shift_conv",
    "temporal_shift_gather",
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
    if (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and x.shape[2] >= stride
            and not torch.jit.is_tracing() and not torch.compiler.is_compiling()):
        return temporal_shift_conv(x, offset, stride)
    return temporal_shift_gather(x, offset, stride)


def temporal_shift_conv(x: torch.Tensor, offset: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """:func:`temporal_shift` as a depthwise convolution along time (the CPU path).

    With ``lo[c] = floor(offset[c])``, output frame t of channel c is
    ``(1 - f[c]) * x[t*stride + lo[c]] + f[c] * x[t*stride + lo[c] + 1]`` (``f = offset - lo``): a
    kernel of ``K = 2P + 1`` taps per channel centred on input frame ``t*stride``, zero but for those
    two weights (taps ``lo[c] + P`` and ``lo[c] + P + 1``), with ``P = max(-min(lo), max(lo) + 1)``
    zero frames on each side added by the convolution itself (no padded copy of the input: 10% of a
    width-16 training step). The weights are built from ``offset``, so its gradient is the exact one
    of the interpolation. A channel shifted past every frame reads only zeros, so its taps move to
    the nearest position that still does (``lo`` clamped to ``[-(T_out - 1) * stride - 2, T]``):
    P stays at most T + 1.
    """
    n, c, t, v = x.shape
    if c < 16:
        # torch 2.13's CPU (oneDNN) depthwise convolution of a channels-last input with fewer than 16
        # channels corrupts the heap on more than one thread (width-4 and width-8 encoders aborted in
        # backward); the plain layout is safe. Wider layers keep channels-last, 1.5x faster there.
        x = x.contiguous()
    t_out = t // stride
    lo = torch.floor(offset.detach()).to(torch.long)  # (C,)
    w_hi = (offset - lo.to(offset.dtype)).to(x.dtype)  # (C,) weight of frame lo + 1
    lo = lo.clamp(-(t_out - 1) * stride - 2, t)  # where the taps sit; beyond these bounds every read is a zero
    lo_min, lo_max = (int(b) for b in torch.aminmax(lo))
    p = max(-lo_min, lo_max + 1, 0)  # zero frames on each side, added by the convolution (no padded copy)
    k = 2 * p + 1
    tap = torch.arange(k, device=x.device).view(1, k)  # (1, K)
    first = (lo + p).view(c, 1)  # (C, 1) tap of frame lo
    kernel = (1 - w_hi).view(c, 1) * (tap == first) + w_hi.view(c, 1) * (tap == first + 1)  # (C, K)
    y = F.conv2d(x, kernel.view(c, 1, k, 1), padding=(p, 0), stride=(stride, 1), groups=c)  # (N, C, >= T_out, V)
    return y[:, :, :t_out]  # (N, C, T_out, V): an odd T with stride 2 gives one frame more


def temporal_shift_gather(x: torch.Tensor, offset: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """:func:`temporal_shift` with floor indices and two ``gather`` calls (CUDA, half precision, export)."""
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
