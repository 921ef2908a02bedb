"""HeadOutput scores and the base class's default loss (the official recipe)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zeroskel.models import HeadOutput, ZeroShotHead, mean_cosine_scores


def test_mean_cosine_scores_matches_loop():
    g = torch.Generator().manual_seed(0)
    z, text = torch.randn(3, 8, generator=g), torch.randn(4, 5, 8, generator=g)
    out = mean_cosine_scores(z, text)
    assert out.shape == (3, 4) and out.abs().max() <= 1
    for n in range(3):
        for k in range(4):
            ref = sum(F.cosine_similarity(z[n], text[k, a], dim=0) for a in range(5)) / 5
            assert torch.allclose(out[n, k], ref, atol=1e-6)


def _output(spatial=3, temporal=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = [torch.rand(4, 6, generator=g) * 2 - 1 for _ in range(spatial)]
    t = [torch.rand(4, 6, generator=g) * 2 - 1 for _ in range(temporal)]
    return HeadOutput(spatial=s, temporal=t, logit_scale=0.1)


def test_branch_and_fused_scores():
    out = _output()
    assert out.prediction == "last"  # a branch predicts with its last phase (Neuron Eqs. 9-10)
    assert torch.equal(out.branch_scores("spatial"), out.spatial[-1])
    assert torch.allclose(out.fused_scores(), (out.spatial[-1] + out.temporal[-1]) / 2)
    out.prediction = "mean"
    assert torch.allclose(out.branch_scores("spatial"), sum(out.spatial) / 3)
    assert torch.allclose(out.branch_scores("temporal"), sum(out.temporal) / 3)
    assert torch.allclose(out.fused_scores(), (sum(out.spatial) / 3 + sum(out.temporal) / 3) / 2)
    out.prediction = "first"
    with pytest.raises(ValueError, match="'last' or 'mean'"):
        out.branch_scores("spatial")
    out.prediction = "mean"
    only_spatial = _output(temporal=0)
    assert only_spatial.branch_scores("temporal") is None
    assert torch.allclose(only_spatial.fused_scores(), only_spatial.branch_scores("spatial"))
    with pytest.raises(ValueError, match="'spatial' or 'temporal'"):
        out.branch_scores("global")
    with pytest.raises(ValueError, match="no spatial and no temporal"):
        HeadOutput([], [], 0.1).fused_scores()


def test_default_loss_is_the_official_recipe():
    head = ZeroShotHead(feat_dim=8, text_dim=4)
    out = _output()
    labels = torch.tensor([0, 5, 2, 2])
    ce = lambda s: F.cross_entropy(0.1 * s, labels)  # noqa: E731
    expected = 0.5 * sum(ce(s) for s in out.spatial) / 3 + 0.5 * sum(ce(s) for s in out.temporal) / 3
    assert torch.allclose(head.loss(out, labels), expected)
    only_temporal = _output(spatial=0)
    assert torch.allclose(head.loss(only_temporal, labels), sum(ce(s) for s in only_temporal.temporal) / 3)
    weighted = ZeroShotHead(feat_dim=8, text_dim=4, branch_weights=(1.0, 0.0))
    assert torch.allclose(weighted.loss(out, labels), sum(ce(s) for s in out.spatial) / 3)


def test_base_forward_and_input_checks():
    head = ZeroShotHead(feat_dim=8, text_dim=4)
    with pytest.raises(NotImplementedError):
        head(torch.zeros(1, 8, 4, 20), torch.zeros(6, 3, 2, 4))
    head.check_inputs(torch.zeros(1, 8, 4, 20), torch.zeros(6, 3, 2, 4))
    with pytest.raises(ValueError, match=r"P=6, K, N_a, D=4\), got \(5, 3, 2, 4\)"):
        head.check_inputs(torch.zeros(1, 8, 4, 20), torch.zeros(5, 3, 2, 4))
