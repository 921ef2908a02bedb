"""Shift-GCN skeleton encoder (Cheng et al., CVPR 2020) in pure PyTorch.

Facts followed (the original's architecture; no code taken from it):

* Input (N, C=3, T, V, M). A BatchNorm1d over the M*V*C features of each frame comes first, then the M
  people are folded into the batch: (N*M, C, T, V).
* 10 units, widths 64, 64, 64, 64, 128 (temporal stride 2), 128, 128, 256 (stride 2), 256, 256 (all scaled
  by ``base_channels / 64``). The first unit has no residual. Unit: ``relu(temporal(spatial(x)) + res(x))``
  where ``res`` is the identity, or a 1x1 conv (temporal stride s) + BN when the width or stride changes.
* Spatial shift graph conv: shift-in over the flattened (V, C_in) axes, multiply by ``tanh(mask) + 1``
  (mask (V, C_in), zero-initialised), a pointwise linear C_in -> C_out with bias, shift-out over
  (V, C_out), BatchNorm1d over the V*C_out features, plus its own residual (identity, or 1x1 conv + BN
  when the width changes), ReLU.
* Temporal shift conv: BN -> adaptive temporal shift -> 1x1 conv -> ReLU -> adaptive temporal shift
  (stride s) -> BN.  See ``shift_ops`` for the shifts.
* Head: mean over (T', V), then over M, (dropout), linear classifier.
* Initialisation as in the original: classifier weight N(0, sqrt(2 / num_classes)); pointwise linear
  N(0, sqrt(1 / C_out)), bias 0; convolutions Kaiming-normal (fan_out), bias 0; BN weight 1, bias 0.

Differences from the original: V and M are constructor arguments (nothing assumes 25 joints); the
temporal shift keeps only the offsets along time (the original's unused ``xpos`` is dropped); when T is
not a multiple of 4 the strided residual is trimmed to the shifted branch's ``T // 2`` frames.
``convert.py`` loads the original checkpoints into this module.

``feature_map(x)`` -> (N, 4*base_channels, T//4, V), the last unit's output averaged over the people,
is what the zero-shot heads consume.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .registry import register_model
from .shift_ops import TemporalShift, shift_in_index, shift_out_index, spatial_shift

__all__ = ["ShiftGCN", "ShiftGraphConv", "ShiftTemporalConv", "ShiftGCNUnit", "ConvBN", "shiftgcn"]


def _conv_init(conv: nn.Conv2d) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _bn_init(bn: nn.modules.batchnorm._BatchNorm, scale: float = 1.0) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


class ConvBN(nn.Module):
    """1x1 convolution (temporal stride s) + BatchNorm2d: the residual path when the shape changes.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: temporal stride.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        _conv_init(self.conv)
        _bn_init(self.bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class ShiftGraphConv(nn.Module):
    """Spatial shift graph convolution over all V joints of each frame.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        num_joints: V.
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.num_joints = in_channels, out_channels, num_joints
        self.mask = nn.Parameter(torch.zeros(num_joints, in_channels))  # (V, C_in)
        self.linear = nn.Linear(in_channels, out_channels)
        self.bn = nn.BatchNorm1d(num_joints * out_channels)
        self.down = ConvBN(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.register_buffer("shift_in", shift_in_index(num_joints, in_channels), persistent=False)
        self.register_buffer("shift_out", shift_out_index(num_joints, out_channels), persistent=False)
        nn.init.normal_(self.linear.weight, 0.0, math.sqrt(1.0 / out_channels))
        nn.init.zeros_(self.linear.bias)
        _bn_init(self.bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        y = x.permute(0, 2, 3, 1).reshape(n * t, v * c)  # (N*T, V*C_in)
        y = spatial_shift(y, self.shift_in).view(n * t, v, c)  # (N*T, V, C_in)
        y = y * (torch.tanh(self.mask) + 1)
        y = self.linear(y)  # (N*T, V, C_out)
        y = spatial_shift(y.reshape(n * t, v * self.out_channels), self.shift_out)  # (N*T, V*C_out)
        y = self.bn(y)
        y = y.view(n, t, v, self.out_channels).permute(0, 3, 1, 2)  # (N, C_out, T, V)
        return torch.relu(y + self.down(x))


class ShiftTemporalConv(nn.Module):
    """Temporal shift convolution: BN -> shift -> 1x1 conv -> ReLU -> shift (stride s) -> BN.

    Args:
        channels: C (input and output).
        stride: temporal stride of the second shift.
    """

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.bn_in = nn.BatchNorm2d(channels)
        self.shift_in = TemporalShift(channels, stride=1)
        self.linear = nn.Conv2d(channels, channels, kernel_size=1)
        self.shift_out = TemporalShift(channels, stride=stride)
        self.bn_out = nn.BatchNorm2d(channels)
        _bn_init(self.bn_in)
        _bn_init(self.bn_out)
        _conv_init(self.linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shift_in(self.bn_in(x))  # (N, C, T, V)
        x = torch.relu(self.linear(x))
        return self.bn_out(self.shift_out(x))  # (N, C, T // s, V)


class ShiftGCNUnit(nn.Module):
    """One Shift-GCN unit: ``relu(temporal(spatial(x)) + residual(x))``.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        num_joints: V.
        stride: temporal stride.
        residual: False for the first unit (no residual at all).
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int, stride: int = 1,
                 residual: bool = True) -> None:
        super().__init__()
        self.spatial = ShiftGraphConv(in_channels, out_channels, num_joints)
        self.temporal = ShiftTemporalConv(out_channels, stride)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = ConvBN(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.temporal(self.spatial(x))  # (N, C_out, T // s, V)
        if self.residual is not None:
            y = y + self.residual(x)[:, :, : y.shape[2]]
        return torch.relu(y)


class ShiftGCN(nn.Module):
    """Shift-GCN encoder and classifier.

    Args:
        num_classes: classifier outputs (pre-training classes).
        num_joints: V (20 for the Kinect v1 layouts, 25 for NTU, ...).
        in_channels: coordinates per joint.
        num_person: M, people per clip.
        base_channels: width of the first stage; stages are 1x, 2x, 4x this (64 -> 64/128/256).
        dropout: dropout before the classifier.
    """

    def __init__(self, num_classes: int, num_joints: int, in_channels: int = 3, num_person: int = 2,
                 base_channels: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_classes, self.num_joints = num_classes, num_joints
        self.in_channels, self.num_person = in_channels, num_person
        b = base_channels
        self.out_channels = 4 * b
        self.data_bn = nn.BatchNorm1d(num_person * num_joints * in_channels)
        # (C_in, C_out, stride, residual) for the 10 units
        plan = [(in_channels, b, 1, False), (b, b, 1, True), (b, b, 1, True), (b, b, 1, True),
                (b, 2 * b, 2, True), (2 * b, 2 * b, 1, True), (2 * b, 2 * b, 1, True),
                (2 * b, 4 * b, 2, True), (4 * b, 4 * b, 1, True), (4 * b, 4 * b, 1, True)]
        self.units = nn.ModuleList(ShiftGCNUnit(ci, co, num_joints, s, r) for ci, co, s, r in plan)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.out_channels, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, math.sqrt(2.0 / num_classes))
        nn.init.zeros_(self.fc.bias)
        _bn_init(self.data_bn)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 5 or x.shape[1] != self.in_channels or x.shape[3] != self.num_joints \
                or x.shape[4] != self.num_person:
            raise ValueError(
                f"ShiftGCN expects input (N, C={self.in_channels}, T, V={self.num_joints}, M={self.num_person}), "
                f"got {tuple(x.shape)}")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, V, M) -> last unit's output (N*M, 4*base_channels, T//4, V)."""
        self._check_input(x)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)  # (N, M*V*C, T)
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)  # (N*M, C, T, V)
        for unit in self.units:
            x = unit(x)
        return x  # (N*M, C', T', V)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, V, M) -> (N, 4*base_channels, T//4, V), averaged over the M people."""
        n, m = x.shape[0], x.shape[4]
        f = self.forward_features(x)
        return f.view(n, m, *f.shape[1:]).mean(1)  # (N, C', T', V)

    def forward_head(self, features: torch.Tensor, num_person: int) -> torch.Tensor:
        """features (N*M, C', T', V) -> logits (N, num_classes): pool over (T', V), then over M."""
        nm, c = features.shape[:2]
        pooled = features.reshape(nm // num_person, num_person, c, -1).mean(3).mean(1)  # (N, C')
        return self.fc(self.drop(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, V, M) -> logits (N, num_classes)."""
        return self.forward_head(self.forward_features(x), x.shape[4])


@register_model(tiny_kwargs=dict(num_classes=5, num_joints=20, num_person=2, base_channels=8))
def shiftgcn(num_classes: int = 60, num_joints: int = 25, **kwargs) -> ShiftGCN:
    """Shift-GCN (joint stream); see ``ShiftGCN`` for the arguments."""
    return ShiftGCN(num_classes=num_classes, num_joints=num_joints, **kwargs)


class ShiftGCNEnsemble(nn.Module):
    """One Shift-GCN per input stream (multi-stream ensemble), scores and features fused.

    The input stacks the streams as channels, ``channels_per_stream`` each (joint, bone, motion, ...
    in the order the preprocessing gives them); member ``s`` reads channels
    ``[s * channels_per_stream, (s + 1) * channels_per_stream)``. The members share nothing, so
    training each on its own loss (``member_logits``) is training one encoder per stream, in one pass.

    Args:
        num_classes: classifier outputs.
        num_joints: V.
        num_streams: S, members.
        channels_per_stream: channels of one stream (3 for x, y, z).
        num_person: M.
        base_channels: width of each member.
        dropout: dropout before each member's classifier.
        fusion: how feature maps fuse: ``mean`` (N, 4b, T', V) or ``concat`` (N, 4b * S, T', V).
            Scores (logits) are always the mean of the members'.
    """

    def __init__(self, num_classes: int, num_joints: int, num_streams: int = 2, channels_per_stream: int = 3,
                 num_person: int = 2, base_channels: int = 64, dropout: float = 0.0,
                 fusion: str = "mean") -> None:
        super().__init__()
        if fusion not in ("mean", "concat"):
            raise ValueError(f"ShiftGCNEnsemble fusion must be 'mean' or 'concat', got {fusion!r}")
        if num_streams < 1:
            raise ValueError(f"ShiftGCNEnsemble needs at least one stream, got {num_streams}")
        self.num_classes, self.num_joints, self.num_person = num_classes, num_joints, num_person
        self.num_streams, self.channels_per_stream, self.fusion = num_streams, channels_per_stream, fusion
        self.in_channels = num_streams * channels_per_stream
        self.members = nn.ModuleList(
            ShiftGCN(num_classes, num_joints, channels_per_stream, num_person, base_channels, dropout)
            for _ in range(num_streams))
        self.out_channels = 4 * base_channels * (num_streams if fusion == "concat" else 1)

    def _split(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"ShiftGCNEnsemble expects input (N, C={self.in_channels}, T, V, M) "
                             f"({self.num_streams} streams x {self.channels_per_stream}), got {tuple(x.shape)}")
        return list(x.split(self.channels_per_stream, dim=1))  # S x (N, C_s, T, V, M)

    def member_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x (N, C, T, V, M) -> S logits (N, num_classes), one per stream."""
        return [m(xs) for m, xs in zip(self.members, self._split(x))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, V, M) -> fused logits (N, num_classes): the mean of the members'."""
        return torch.stack(self.member_logits(x)).mean(0)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, T, V, M) -> fused feature maps (N, C', T', V) (see ``fusion``)."""
        maps = [m.feature_map(xs) for m, xs in zip(self.members, self._split(x))]  # S x (N, 4b, T', V)
        return torch.cat(maps, dim=1) if self.fusion == "concat" else torch.stack(maps).mean(0)


@register_model(tiny_kwargs=dict(num_classes=5, num_joints=20, num_person=1, num_streams=2, base_channels=4))
def shiftgcn_ensemble(num_classes: int = 60, num_joints: int = 25, **kwargs) -> ShiftGCNEnsemble:
    """Multi-stream Shift-GCN ensemble; see ``ShiftGCNEnsemble`` for the arguments."""
    return ShiftGCNEnsemble(num_classes=num_classes, num_joints=num_joints, **kwargs)
