"""Shift operations against naive Python-loop references (forward, input gradient, offset-gradient rule)."""
from __future__ import annotations

import math

import pytest
import torch

from zeroskel.models.shift_ops import (OFFSET_GRAD_STEP, OFFSET_GRAD_ZERO, TemporalShift, shift_in_index,
                                       shift_out_index, spatial_shift, temporal_shift, temporal_shift_conv,
                                       temporal_shift_gather)


def naive_spatial_shift(x: torch.Tensor, direction: int) -> torch.Tensor:
    """x (B, V, C): out[:, v, c] = x[:, (v + direction * c) mod V, c], one element at a time."""
    _, v_count, c_count = x.shape
    cols = []
    for v in range(v_count):
        row = [x[:, (v + direction * c) % v_count, c] for c in range(c_count)]
        cols.append(torch.stack(row, -1))
    return torch.stack(cols, 1)


def naive_temporal_shift(x: torch.Tensor, offset: torch.Tensor, stride: int) -> torch.Tensor:
    """x (N, C, T, V): out[:, c, t] = linear interpolation at t*stride + offset[c], zeros outside [0, T)."""
    n, c_count, t_count, v = x.shape
    zero = torch.zeros(n, v, dtype=x.dtype)
    chans = []
    for c in range(c_count):
        frames = []
        for t in range(t_count // stride):
            p = t * stride + offset[c]
            lo = int(math.floor(float(p.detach())))
            w_hi = p - lo  # differentiable in offset
            a = x[:, c, lo] if 0 <= lo < t_count else zero
            b = x[:, c, lo + 1] if 0 <= lo + 1 < t_count else zero
            frames.append(a * (1 - w_hi) + b * w_hi)
        chans.append(torch.stack(frames, 1))
    return torch.stack(chans, 1)


@pytest.mark.parametrize("v_count,c_count", [(25, 3), (20, 8), (5, 12)])
def test_spatial_shift_matches_loop(v_count, c_count):
    torch.manual_seed(0)
    x = torch.randn(4, v_count, c_count, requires_grad=True)
    g = torch.randn(4, v_count, c_count)
    for index, direction in ((shift_in_index(v_count, c_count), 1), (shift_out_index(v_count, c_count), -1)):
        ours = spatial_shift(x.reshape(4, -1), index).view(4, v_count, c_count)
        ref = naive_spatial_shift(x, direction)
        assert torch.equal(ours, ref)
        (gx_ours,) = torch.autograd.grad((ours * g).sum(), x)
        (gx_ref,) = torch.autograd.grad((ref * g).sum(), x)
        assert torch.allclose(gx_ours, gx_ref)


def test_shift_out_inverts_shift_in():
    x = torch.randn(2, 20 * 7)
    y = spatial_shift(spatial_shift(x, shift_in_index(20, 7)), shift_out_index(20, 7))
    assert torch.equal(x, y)


OFFSET_SETS = {
    "both ends": [-2.3, -0.6, 0.25, 0.9, 1.7, 7.4],  # fractional, some reads past both ends
    "all ahead": [2.5, 3.0, 4.75, 2.2, 6.1, 3.3],  # every lo > 0: the convolution crops the start
    "all behind": [-12.0, -3.5, -1.25, -4.0, -2.9, -9.9],  # every lo < 0, some channels read only zeros
    "far away": [-1e4 - 0.3, 0.5, 9.0, 8.2, 1e5 + 0.7, -7.5],  # taps clamped: the kernel stays short
}


@pytest.mark.parametrize("impl", [temporal_shift, temporal_shift_conv, temporal_shift_gather])
@pytest.mark.parametrize("offsets", OFFSET_SETS.values(), ids=OFFSET_SETS.keys())
@pytest.mark.parametrize("stride", [1, 2])
def test_temporal_shift_matches_loop(stride, offsets, impl):
    torch.manual_seed(1)
    n, c, t, v = 2, 6, 9, 3
    x = torch.randn(n, c, t, v, dtype=torch.float64, requires_grad=True)
    offset = torch.tensor(offsets, dtype=torch.float64, requires_grad=True)
    ours = impl(x, offset, stride)
    ref = naive_temporal_shift(x, offset, stride)
    assert ours.shape == (n, c, t // stride, v)
    tol = 1e-6  # the gather path takes positions in float32 (exact weights in half precision)
    assert torch.allclose(ours, ref, atol=tol)
    g = torch.randn_like(ours)
    gx_ours, go_ours = torch.autograd.grad((ours * g).sum(), (x, offset))
    gx_ref, go_ref = torch.autograd.grad((ref * g).sum(), (x, offset))
    assert torch.allclose(gx_ours, gx_ref, atol=tol)
    assert torch.allclose(go_ours, go_ref, atol=tol)


def test_integer_offsets_are_plain_shifts():
    x = torch.arange(10.0).view(1, 1, 10, 1).repeat(1, 3, 1, 1)
    y = temporal_shift(x, torch.tensor([0.0, 2.0, -3.0]), 1)[0, :, :, 0]
    assert torch.equal(y[0], torch.arange(10.0))
    assert torch.equal(y[1], torch.tensor([2.0, 3, 4, 5, 6, 7, 8, 9, 0, 0]))
    assert torch.equal(y[2], torch.tensor([0.0, 0, 0, 0, 1, 2, 3, 4, 5, 6]))


def test_offset_gradient_rule_in_training_and_exact_in_eval():
    torch.manual_seed(2)
    shift = TemporalShift(5, stride=2).double()
    with torch.no_grad():
        shift.offset.copy_(torch.tensor([-0.4, 0.3, 1.2, 2.6, 0.7], dtype=torch.float64))
    x = torch.randn(3, 5, 8, 4, dtype=torch.float64)
    x[:, 4] = 0  # channel 4 reads only zeros: its true offset gradient is exactly 0
    x.requires_grad_(True)
    g = torch.randn(3, 5, 4, 4, dtype=torch.float64)
    ref = naive_temporal_shift(x, shift.offset, 2)
    gx_ref, go_ref = torch.autograd.grad((ref * g).sum(), (x, shift.offset))
    assert go_ref[4] == 0 and (go_ref[:4] != 0).all()

    shift.train()
    (shift(x) * g).sum().backward()
    expected = torch.where(go_ref == 0, torch.full_like(go_ref, OFFSET_GRAD_ZERO), torch.sign(go_ref) * OFFSET_GRAD_STEP)
    assert torch.allclose(shift.offset.grad, expected)
    assert torch.allclose(x.grad, gx_ref)  # the input gradient stays exact

    shift.offset.grad = None
    x.grad = None
    shift.eval()
    (shift(x) * g).sum().backward()
    assert torch.allclose(shift.offset.grad, go_ref)


def test_offset_init():
    torch.manual_seed(3)
    s1, s2 = TemporalShift(4000, stride=1), TemporalShift(4000, stride=2)
    assert -1 <= s1.offset.min() < -0.9 and 0.9 < s1.offset.max() <= 1
    assert -0.5 <= s2.offset.min() < -0.4 and 1.4 < s2.offset.max() <= 1.5


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_temporal_shift_half_precision(dtype):
    x = torch.randn(2, 4, 16, 5)
    offset = torch.tensor([0.5, -1.25, 3.75, 0.0])
    full = temporal_shift(x, offset, 2)
    half = temporal_shift(x.to(dtype), offset.to(dtype), 2)
    assert half.dtype == dtype
    assert torch.allclose(half.float(), full, atol=0.05, rtol=0.02)


def test_conv_and_gather_paths_agree_in_float32_training():
    """The CPU training path (convolution) and the gather path: same outputs and gradients in float32."""
    torch.manual_seed(4)
    x = torch.randn(8, 16, 64, 20, requires_grad=True)
    offset = (torch.rand(16) * 6 - 3).requires_grad_(True)
    g = torch.randn(8, 16, 32, 20)
    outs = [f(x, offset, 2) for f in (temporal_shift_conv, temporal_shift_gather)]
    grads = [torch.autograd.grad((o * g).sum(), (x, offset)) for o in outs]
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-3)
