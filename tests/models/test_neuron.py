"""Neuron head: shapes, gradients, the exact phase formulas, Table 6 switches, paper/official options."""
from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zeroskel.models import NeuronConfig, NeuronHead, ShiftGCN, create_model, temporal_windows
from zeroskel.models.heads import mean_cosine_scores

TINY = dict(feat_dim=16, text_dim=12, num_spatial_protos=10, num_temporal_protos=6, keep_schedule=(8, 5, 2),
            hidden_dim=24)


def tiny_head(seed: int = 0, variant: str = "official", **overrides) -> NeuronHead:
    torch.manual_seed(seed)
    return create_model("neuron", variant=variant, **{**TINY, **overrides})


def inputs(n=3, t=16, v=20, k=5, n_a=4, d=12, c=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    fmap = torch.relu(torch.randn(n, c, t, v, generator=g))  # encoder features are post-ReLU
    text = F.normalize(torch.randn(6, k, n_a, d, generator=g), dim=-1)
    return fmap, text


def all_scores(out) -> torch.Tensor:
    return torch.stack(out.spatial + out.temporal)


@pytest.mark.parametrize("v,t", [(20, 16), (25, 16), (20, 8), (25, 8)])
def test_shapes(v, t):
    head = tiny_head().eval()
    fmap, text = inputs(v=v, t=t)
    out = head(fmap, text)
    assert len(out.spatial) == 3 and len(out.temporal) == 3
    for s in out.spatial + out.temporal:
        assert s.shape == (3, 5) and s.abs().max() <= 1 + 1e-6
    assert out.branch_scores("spatial").shape == (3, 5) and out.fused_scores().shape == (3, 5)
    assert out.logit_scale == 0.1
    ex = out.extras
    assert [m.shape for m in ex["spatial_masks"]] == [(3, v, 10)] * 3
    assert [f.shape for f in ex["spatial_features"]] == [(3, 12)] * 3
    assert [p.shape for p in ex["temporal_prototypes"]] == [(3, 6, 16)] * 3
    windows = temporal_windows(t, 3)
    assert [a.shape for a in ex["temporal_attention"]] == [(3, 6, e - s) for s, e in windows]
    assert head.embed(fmap).shape == (3, 6, 12)


def test_default_config_is_the_official_one():
    cfg = NeuronConfig.preset("official")
    assert cfg == NeuronConfig()
    assert (cfg.feat_dim, cfg.text_dim, cfg.num_spatial_protos, cfg.num_temporal_protos) == (256, 384, 80, 80)
    assert cfg.keep_counts() == (60, 40, 20) and cfg.logit_scale == 0.1
    paper = NeuronConfig.preset("paper")
    assert paper.keep_counts() == (20, 40, 60)
    assert (paper.aggregation, paper.windows) == ("paper", "disjoint")
    glob = NeuronConfig.preset("global")
    assert not (glob.granularity_update or glob.spatial_compression or glob.phase_evolving or glob.temporal_memory)
    assert glob.keep_counts() == (80, 80, 80)
    assert NeuronConfig.preset("official", keep_schedule=[9, 6, 3], num_spatial_protos=12).keep_schedule == (9, 6, 3)


@pytest.mark.parametrize("bad,match", [
    (dict(keep_mode="top"), "keep_mode"), (dict(aggregation="mean"), "aggregation"),
    (dict(windows="sliding"), "windows"), (dict(keep_schedule=(60, 40)), "2 entries for num_phases=3"),
    (dict(keep_schedule=(90, 40, 20)), "keeping 90 of 80"),
])
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        NeuronConfig(**bad)
    with pytest.raises(ValueError, match="unknown Neuron preset"):
        NeuronConfig.preset("fancy")


def test_temporal_windows():
    assert temporal_windows(16, 3, "cumulative") == [(0, 5), (0, 10), (0, 16)]  # official
    assert temporal_windows(16, 3, "disjoint") == [(0, 5), (5, 10), (10, 16)]
    assert temporal_windows(8, 3, "cumulative") == [(0, 2), (0, 5), (0, 8)]
    assert temporal_windows(8, 3, "disjoint") == [(0, 2), (2, 5), (5, 8)]
    assert all(e > s for s, e in temporal_windows(2, 3, "disjoint"))


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_masking_keeps_exactly_k_best_prototypes_per_joint(variant):
    head = tiny_head(variant=variant).eval()
    fmap, text = inputs(v=25)
    out = head(fmap, text)
    expected = (8, 5, 2) if variant == "official" else (2, 5, 8)  # paper: round(alpha * 10), alpha .25/.5/.75
    assert head.config.keep_counts() == expected
    for mask, k in zip(out.extras["spatial_masks"], expected):
        assert mask.dtype == torch.bool and (mask.sum(-1) == k).all()
    # phase 0: the kept prototypes are the most similar ones of each joint
    f_s = fmap.mean(2).transpose(1, 2)  # (N, V, C)
    sim = f_s @ head.spatial.prototypes.detach().t()  # (N, V, N_s)
    mask = out.extras["spatial_masks"][0]
    kept_min = sim.masked_fill(~mask, math.inf).amin(-1)
    dropped_max = sim.masked_fill(mask, -math.inf).amax(-1)
    assert (kept_min >= dropped_max).all()


def _mlp(mlp, x):
    return mlp[3](F.gelu(mlp[0](x)))


@pytest.mark.parametrize("aggregation", ["official", "paper"])
def test_spatial_phase_formula(aggregation):
    head = tiny_head(aggregation=aggregation).eval()
    fmap, text = inputs(v=20)
    out = head(fmap, text)
    f_s = fmap.mean(2).transpose(1, 2)  # (N, V, C)
    protos = head.spatial.prototypes.detach()
    for e in range(3):
        sim = f_s @ protos.transpose(-1, -2) / 4.0  # / sqrt(16)
        mask = out.extras["spatial_masks"][e].float()
        if aggregation == "official":
            w = torch.softmax(sim, dim=1) * mask  # over joints, not renormalised
        else:
            w = torch.softmax(sim.masked_fill(mask == 0, -math.inf), dim=-1)  # over kept prototypes
        new = _mlp(head.spatial.mlps[e], w.transpose(1, 2) @ f_s)
        assert torch.allclose(new, out.extras["spatial_prototypes"][e], atol=1e-5)
        z = F.normalize(head.spatial_proj[e](new.mean(1)), dim=-1)
        assert torch.allclose(z, out.extras["spatial_features"][e], atol=1e-5)
        assert torch.allclose(out.spatial[e], mean_cosine_scores(z, text[e]), atol=1e-5)
        protos = new


@pytest.mark.parametrize("memory", [True, False])
def test_temporal_phase_formula(memory):
    head = tiny_head(temporal_memory=memory).eval()
    fmap, text = inputs(t=16)
    out = head(fmap, text)
    f_t = fmap.mean(3).transpose(1, 2)  # (N, T', C)
    protos = head.temporal.prototypes.detach().expand(3, -1, -1)
    for e, end in enumerate((5, 10, 16)):
        window = f_t[:, :end]
        attn = torch.softmax(protos @ window.transpose(1, 2) / 4.0, dim=-1)
        p_hat = attn @ window
        update = _mlp(head.temporal.phi[e], p_hat)
        if memory:
            new = torch.sigmoid(head.temporal.rho_r[e](p_hat)) * protos + torch.sigmoid(head.temporal.rho_m[e](p_hat)) * update
        else:
            new = update
        assert torch.allclose(new, out.extras["temporal_prototypes"][e], atol=1e-5)
        z = F.normalize(head.temporal_proj[e](new.mean(1)), dim=-1)
        assert torch.allclose(out.temporal[e], mean_cosine_scores(z, text[3 + e]), atol=1e-5)
        protos = new


# switch/option -> (value that differs from the official default, branches it must change, must not change)
CHANGES = {
    "granularity_update": (False, ["spatial", "temporal"], []),
    "spatial_compression": (False, ["spatial"], ["temporal"]),
    "phase_evolving": (False, ["spatial", "temporal"], []),
    "temporal_memory": (False, ["temporal"], ["spatial"]),
    "keep_mode": ("paper", ["spatial"], ["temporal"]),
    "aggregation": ("paper", ["spatial"], ["temporal"]),
    "windows": ("disjoint", ["temporal"], ["spatial"]),
}


@pytest.mark.parametrize("field", list(CHANGES))
def test_each_switch_and_option_changes_the_output(field):
    value, changed, unchanged = CHANGES[field]
    fmap, text = inputs(v=25)
    base = tiny_head(seed=0).eval()(fmap, text)
    other = tiny_head(seed=0, **{field: value}).eval()(fmap, text)
    for branch in changed:
        assert not torch.allclose(torch.stack(getattr(base, branch)), torch.stack(getattr(other, branch))), branch
    for branch in unchanged:
        assert torch.allclose(torch.stack(getattr(base, branch)), torch.stack(getattr(other, branch))), branch


def test_granularity_update_off_uses_first_text_of_each_branch():
    head = tiny_head(granularity_update=False).eval()
    fmap, text = inputs()
    out = head(fmap, text)
    for e in range(3):
        assert torch.allclose(out.spatial[e], mean_cosine_scores(out.extras["spatial_features"][e], text[0]))
        assert torch.allclose(out.temporal[e], mean_cosine_scores(out.extras["temporal_features"][e], text[3]))


def test_global_preset_and_paper_preset_run():
    fmap, text = inputs()
    for variant in ("global", "paper"):
        out = tiny_head(variant=variant).eval()(fmap, text)
        assert torch.isfinite(all_scores(out)).all()


def test_gradients_reach_head_but_not_frozen_encoder():
    torch.manual_seed(0)
    encoder = ShiftGCN(num_classes=4, num_joints=20, num_person=2, base_channels=4).eval()
    encoder.requires_grad_(False)
    head = tiny_head()
    _, text = inputs()
    x = torch.randn(3, 3, 32, 20, 2)
    fmap = encoder.feature_map(x)  # (3, 16, 8, 20)
    out = head(fmap, text)
    head.loss(out, torch.tensor([0, 1, 2])).backward()
    assert all(p.grad is None for p in encoder.parameters())
    named = dict(head.named_parameters())
    for name in ["spatial.prototypes", "temporal.prototypes", "spatial.mlps.0.0.weight", "spatial.mlps.2.3.weight",
                 "temporal.phi.1.0.weight", "temporal.rho_r.2.weight", "temporal.rho_m.0.weight",
                 "spatial_proj.1.weight", "temporal_proj.2.weight"]:
        grad = named[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_loss_decreases_on_tiny_problem():
    torch.manual_seed(0)
    head = tiny_head(logit_scale=10.0)  # a sharper scale so that a few steps show progress
    g = torch.Generator().manual_seed(3)
    centers = torch.relu(torch.randn(4, 16, 8, 20, generator=g)) * 2
    labels = torch.arange(4).repeat(3)
    fmap = centers[labels] + 0.1 * torch.rand(12, 16, 8, 20, generator=g)
    text = F.normalize(torch.randn(6, 4, 3, 12, generator=g), dim=-1)
    opt = torch.optim.SGD(head.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(12):
        loss = head.loss(head(fmap, text), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_bad_inputs_are_reported():
    head = tiny_head()
    fmap, text = inputs()
    with pytest.raises(ValueError, match=r"C=16.*got \(3, 8, 16, 20\)"):
        head(fmap[:, :8], text)
    with pytest.raises(ValueError, match=r"D=12.*got \(6, 5, 4, 10\)"):
        head(fmap, text[..., :10])


def test_bfloat16_forward():
    head = tiny_head().eval()
    fmap, text = inputs()
    ref = head(fmap, text).fused_scores()
    out = head.to(torch.bfloat16)(fmap.to(torch.bfloat16), text).fused_scores()
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    assert (out.float() - ref).abs().max() < 0.1


def test_onnx_export_of_projected_features():
    ort = pytest.importorskip("onnxruntime")
    head = tiny_head().eval()
    fmap, _ = inputs(v=25)

    class Embed(torch.nn.Module):
        def __init__(self, head):
            super().__init__()
            self.head = head

        def forward(self, x):
            return self.head.embed(x)

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Embed(head), (fmap,), buf, dynamo=False, input_names=["feature_map"],
                          output_names=["embeddings"], opset_version=17)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"feature_map": fmap.numpy()})
    np.testing.assert_allclose(out, head.embed(fmap).detach().numpy(), atol=1e-5)


def test_topk_mask_breaks_ties_towards_lower_index():
    from zeroskel.models.neuron import topk_mask

    scores = torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0], [3.0, 1.0, 1.0, 5.0, 1.0]])
    assert topk_mask(scores, 2).tolist() == [[False, True, True, False, False], [True, False, False, True, False]]
    assert topk_mask(scores, 3).tolist() == [[False, True, True, True, False], [True, True, False, True, False]]
    assert topk_mask(scores, 5).all()
    g = torch.Generator().manual_seed(0)
    rand = torch.randn(4, 7, 30, generator=g)
    expected = torch.zeros_like(rand, dtype=torch.bool).scatter(-1, rand.topk(9, dim=-1).indices, True)
    assert torch.equal(topk_mask(rand, 9), expected)
