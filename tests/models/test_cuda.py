"""CUDA checks (skipped without a GPU): CPU/CUDA agreement, half precision, the offset-gradient rule."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zeroskel.models import ShiftGCN, create_model
from zeroskel.models.shift_ops import TemporalShift

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(autouse=True)
def _no_tf32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def test_shiftgcn_cpu_cuda_agree_and_half_precision():
    torch.manual_seed(0)
    model = ShiftGCN(num_classes=60, num_joints=25, num_person=2).eval()
    x = torch.randn(4, 3, 64, 25, 2)
    ref = model(x)
    gpu = model.cuda()
    out = gpu(x.cuda())
    assert torch.allclose(out.cpu(), ref, atol=1e-4, rtol=1e-4)
    assert torch.allclose(gpu.feature_map(x.cuda()).cpu(), model.cpu().feature_map(x), atol=1e-4, rtol=1e-4)
    gpu = model.cuda()
    scale = ref.abs().max()  # logits of a random model reach ~100: compare relative to that
    for dtype in (torch.float16, torch.bfloat16):
        with torch.autocast("cuda", dtype=dtype):
            auto = gpu(x.cuda())
        assert torch.isfinite(auto).all() and (auto.float().cpu() - ref).abs().max() < 0.02 * scale
        half = gpu.to(dtype)(x.cuda().to(dtype))
        assert half.dtype == dtype and torch.isfinite(half).all()
        assert (half.float().cpu() - ref).abs().max() < 0.05 * scale
        gpu.float()


def test_shiftgcn_train_step_on_cuda_uses_offset_rule():
    torch.manual_seed(0)
    model = ShiftGCN(num_classes=10, num_joints=20, num_person=2).cuda().train()
    x, y = torch.randn(8, 3, 32, 20, 2, device="cuda"), torch.arange(8, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    for m in model.modules():
        if isinstance(m, TemporalShift):
            g = m.offset.grad
            assert g is not None and torch.isin(g.abs(), torch.tensor([0.01, 1e-4], device="cuda")).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_neuron_head_cpu_cuda_agree_and_train():
    torch.manual_seed(0)
    encoder = ShiftGCN(num_classes=10, num_joints=25, num_person=2).eval().requires_grad_(False)
    head = create_model("neuron")
    x = torch.randn(4, 3, 64, 25, 2)
    text = F.normalize(torch.randn(6, 10, 5, 384), dim=-1)
    with torch.no_grad():
        fmap = encoder.feature_map(x)
        ref = head.eval()(fmap, text)
    head_gpu, fmap_gpu, text_gpu = head.cuda(), fmap.cuda(), text.cuda()
    with torch.no_grad():
        out = head_gpu(fmap_gpu, text_gpu)
    assert torch.allclose(out.fused_scores().cpu(), ref.fused_scores(), atol=1e-4)
    for a, b in zip(out.extras["spatial_masks"], ref.extras["spatial_masks"]):
        assert (a.sum(-1) == b.sum(-1).cuda()).all()  # exactly k per joint on both devices
        # near-tied similarities may rank differently across devices; nearly all selections agree
        assert (a.cpu() == b).float().mean() > 0.98
    head_gpu.train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        result = head_gpu(fmap_gpu, text_gpu)
        loss = head_gpu.loss(result, torch.arange(4, device="cuda"))
    loss.backward()
    assert torch.isfinite(loss) and head_gpu.spatial.prototypes.grad.abs().sum() > 0
