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


def _mlp(mlp, x, style="relu2"):
    if style == "relu2":  # official: Linear-ReLU-Linear-ReLU
        return F.relu(mlp[2](F.relu(mlp[0](x))))
    return mlp[3](F.gelu(mlp[0](x)))  # zeroskel-v1: Linear-GELU-Dropout-Linear


def _proj(proj, e, v, style="shared"):
    if style == "shared":  # official: one Linear-ReLU per branch
        return F.normalize(F.relu(proj[0][0](v)), dim=-1)
    return F.normalize(proj[e](v), dim=-1)


@pytest.mark.parametrize("variant,aggregation", [("official", "official"), ("official", "paper"),
                                                 ("zeroskel-v1", "official")])
def test_spatial_phase_formula(variant, aggregation):
    head = tiny_head(variant=variant, aggregation=aggregation).eval()
    cfg = head.config
    fmap, text = inputs(v=20)
    out = head(fmap, text)
    f_s = fmap.mean(2).transpose(1, 2)  # (N, V, C)
    protos = head.spatial.prototypes.detach()
    scale = 1 / 4.0 if cfg.scaled_similarity else 1.0  # 1 / sqrt(16)
    for e in range(3):
        sim = f_s @ protos.transpose(-1, -2) * scale
        mask = out.extras["spatial_masks"][e].float()
        if aggregation == "official":
            w = torch.softmax(sim, dim=1) * (mask + (1 - mask) * cfg.mask_value)  # over joints, not renormalised
        else:
            w = torch.softmax(sim.masked_fill(mask == 0, -math.inf), dim=-1)  # over kept prototypes
        new = _mlp(head.spatial.mlps[e], w.transpose(1, 2) @ f_s, cfg.mlp)
        assert torch.allclose(new, out.extras["spatial_prototypes"][e], atol=1e-5, rtol=1e-4)
        z = _proj(head.spatial_proj, e, new.mean(1), cfg.projection)
        assert torch.allclose(z, out.extras["spatial_features"][e], atol=1e-5)
        assert torch.allclose(out.spatial[e], mean_cosine_scores(z, text[e]), atol=1e-5)
        protos = new


@pytest.mark.parametrize("variant", ["official", "zeroskel-v1"])
@pytest.mark.parametrize("memory", [True, False])
def test_temporal_phase_formula(variant, memory):
    head = tiny_head(variant=variant, temporal_memory=memory).eval()
    cfg = head.config
    fmap, text = inputs(t=16)
    out = head(fmap, text)
    f_t = fmap.mean(3).transpose(1, 2)  # (N, T', C)
    protos = head.temporal.prototypes.detach().expand(3, -1, -1)
    scale = 1 / 4.0 if cfg.scaled_similarity else 1.0
    gate = (lambda m, x: _mlp(m, x, cfg.mlp)) if cfg.gate == "mlp" else (lambda m, x: m(x))
    for e, end in enumerate((5, 10, 16)):
        window = f_t[:, :end]
        attn = torch.softmax(protos @ window.transpose(1, 2) * scale, dim=-1)
        p_hat = attn @ window
        update = _mlp(head.temporal.phi[e], p_hat, cfg.mlp)
        if memory:
            new = (torch.sigmoid(gate(head.temporal.rho_r[e], p_hat)) * protos
                   + torch.sigmoid(gate(head.temporal.rho_m[e], p_hat)) * update)
        else:
            new = update
        assert torch.allclose(new, out.extras["temporal_prototypes"][e], atol=1e-5, rtol=1e-4)
        z = _proj(head.temporal_proj, e, new.mean(1), cfg.projection)
        assert torch.allclose(out.temporal[e], mean_cosine_scores(z, text[3 + e]), atol=1e-5)
        protos = new


def test_official_rows():
    """Each row of the official-code table in the module docstring, checked on the default head."""
    cfg = NeuronConfig()
    assert (cfg.proto_init_std, cfg.scaled_similarity, cfg.mask_value) == (1.0, False, 1e-12)
    assert (cfg.windows, cfg.temporal_text, cfg.prediction, cfg.description_topk) == ("cumulative", "cumulative", "last", 10)
    torch.manual_seed(0)
    head = NeuronHead(NeuronConfig(feat_dim=32, text_dim=24))
    # prototypes ~ N(0, 1) like nn.Embedding
    assert 0.8 < float(head.spatial.prototypes.detach().std()) < 1.2
    assert 0.8 < float(head.temporal.prototypes.detach().std()) < 1.2
    # MLPs: Linear-ReLU-Linear-ReLU, hidden width = C
    mlp = head.spatial.mlps[0]
    assert [type(m) for m in mlp] == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Linear, torch.nn.ReLU]
    assert mlp[0].out_features == 32
    # one projection per branch: Linear(C, D) + ReLU
    assert len(head.spatial_proj) == 1 and len(head.temporal_proj) == 1
    assert [type(m) for m in head.spatial_proj[0]] == [torch.nn.Linear, torch.nn.ReLU]
    # copies of one module at init (copy.deepcopy in the official code)
    ref = head.spatial.mlps[0].state_dict()
    for m in [*head.spatial.mlps, *head.temporal.rho_r, *head.temporal.rho_m]:
        assert all(torch.equal(ref[k], v) for k, v in m.state_dict().items())
    assert all(torch.equal(head.temporal.phi[0][0].weight, m[0].weight) for m in head.temporal.phi)
    assert not torch.equal(head.temporal.phi[0][0].weight, head.spatial.mlps[0][0].weight)
    # gates: sigmoid of a ReLU output lies in [0.5, 1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 80, 32, generator=g) * 3
    for gate in [*head.temporal.rho_r, *head.temporal.rho_m]:
        s = torch.sigmoid(gate(x))
        assert float(s.min()) >= 0.5 and float(s.max()) < 1.0
    # cumulative text: temporal phase e is scored against class-text slot 3 + e
    assert [head.text_index("temporal", e) for e in range(3)] == [3, 4, 5]
    assert head.temporal_text == "cumulative"


def test_prediction_is_the_last_phase_and_mean_is_an_option():
    fmap, text = inputs()
    out = tiny_head().eval()(fmap, text)
    assert out.prediction == "last"
    assert torch.equal(out.branch_scores("spatial"), out.spatial[2])
    assert torch.equal(out.branch_scores("temporal"), out.temporal[2])
    assert torch.allclose(out.fused_scores(), (out.spatial[2] + out.temporal[2]) / 2)
    mean = tiny_head(prediction="mean").eval()(fmap, text)
    assert torch.allclose(mean.branch_scores("spatial"), torch.stack(mean.spatial).mean(0))


def test_description_topk_averages_the_best_cosines():
    fmap, _ = inputs()
    g = torch.Generator().manual_seed(5)
    text = F.normalize(torch.randn(6, 5, 12, 12, generator=g), dim=-1)  # N_a = 12 > 10
    head = tiny_head().eval()
    out = head(fmap, text)
    z = out.extras["spatial_features"][0]
    cos = torch.einsum("nd,kad->nka", z, text[0])
    assert torch.allclose(out.spatial[0], cos.topk(10, dim=-1).values.mean(-1), atol=1e-6)
    assert torch.allclose(tiny_head(description_topk=0).eval()(fmap, text).spatial[0], cos.mean(-1), atol=1e-6)
    fmap5, text5 = inputs()  # N_a = 4 <= 10: the plain mean
    out5 = head(fmap5, text5)
    assert torch.allclose(out5.spatial[1], mean_cosine_scores(out5.extras["spatial_features"][1], text5[1]), atol=1e-6)


def test_zeroskel_v1_preset_restores_the_earlier_choices():
    head = tiny_head(variant="zeroskel-v1")
    cfg = head.config
    assert (cfg.mlp, cfg.gate, cfg.projection, cfg.temporal_text, cfg.prediction) == (
        "gelu", "linear", "per_phase", "phase", "mean")
    assert len(head.spatial_proj) == 3 and isinstance(head.temporal.rho_r[0], torch.nn.Linear)
    assert head.text_index("temporal", 2) == 5


# switch/option -> (value that differs from the official default, branches it must change, must not change)
CHANGES = {
    "granularity_update": (False, ["spatial", "temporal"], []),
    "spatial_compression": (False, ["spatial"], ["temporal"]),
    "phase_evolving": (False, ["spatial", "temporal"], []),
    "temporal_memory": (False, ["temporal"], ["spatial"]),
    "keep_mode": ("paper", ["spatial"], ["temporal"]),
    "aggregation": ("paper", ["spatial"], ["temporal"]),
    "windows": ("disjoint", ["temporal"], ["spatial"]),
    "mask_value": (0.5, ["spatial"], ["temporal"]),
    "projection": ("per_phase", ["spatial", "temporal"], []),
    "prediction": ("mean", [], ["spatial", "temporal"]),
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


@pytest.mark.parametrize("temporal_text,slot", [("cumulative", 5), ("phase", 3)])
def test_granularity_update_off_uses_one_text_per_branch(temporal_text, slot):
    """Off: spatial phases use the coarse text; temporal ones the whole-motion text (last cumulative slot)."""
    head = tiny_head(granularity_update=False, temporal_text=temporal_text).eval()
    fmap, text = inputs()
    out = head(fmap, text)
    for e in range(3):
        assert torch.allclose(out.spatial[e], mean_cosine_scores(out.extras["spatial_features"][e], text[0]))
        assert torch.allclose(out.temporal[e], mean_cosine_scores(out.extras["temporal_features"][e], text[slot]))


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
    for name in ["spatial.prototypes", "temporal.prototypes", "spatial.mlps.0.0.weight", "spatial.mlps.2.2.weight",
                 "temporal.phi.1.0.weight", "temporal.rho_r.2.0.weight", "temporal.rho_m.0.2.weight",
                 "spatial_proj.0.0.weight", "temporal_proj.0.0.weight"]:
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
