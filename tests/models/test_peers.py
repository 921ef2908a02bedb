"""Peer heads (global_align, cada_vae, smie): shapes, learning, generalisation, state round trips."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zeroskel.models import create_model, model_tiny_kwargs
from zeroskel.models.peers import CadaVaeHead, GlobalAlignHead, SmieHead, class_embeddings, pooled_feature
from zeroskel.models.peers.cada_vae import warmup_factor
from zeroskel.models.peers.smie import jsd_mutual_information, segment_pool

from helpers import fit_steps

PEERS = ("global_align", "cada_vae", "smie")
C, D, K, T, V = 16, 12, 10, 8, 5


def synthetic(num_per_class: int = 12, seed: int = 0, noise: float = 0.1):
    """A zero-shot problem with a true linear link: class text t_k (random unit vectors); a clip of
    class k has the feature map A t_k + noise at every (t, v), so text -> feature generalises to
    classes never trained on. Returns feature maps (N, C, T, V), labels (N,), class_text (6, K, 2, D)."""
    g = torch.Generator().manual_seed(seed)
    text = F.normalize(torch.randn(K, D, generator=g), dim=-1)  # (K, D)
    a = torch.randn(C, D, generator=g)
    labels = torch.arange(K).repeat_interleave(num_per_class)  # (N,)
    base = text[labels] @ a.t()  # (N, C)
    fmap = base[:, :, None, None] + noise * torch.randn(len(labels), C, T, V, generator=g)  # (N, C, T, V)
    desc = F.normalize(text[None, :, None, :] + 0.05 * torch.randn(6, K, 2, D, generator=g), dim=-1)
    return fmap, labels, desc


def tiny(name: str, **kw):
    torch.manual_seed(0)
    return create_model(name, **{**model_tiny_kwargs(name), "feat_dim": C, "text_dim": D, **kw})


def train(head, fmap, labels, text, steps: int = 150, lr: float = 0.05, opt: str = "adam") -> list[float]:
    return fit_steps(head, fmap, text, labels, steps, lr, opt)


@pytest.mark.parametrize("name", PEERS)
def test_forward_backward_finite(name):
    head = tiny(name)
    fmap, labels, text = synthetic(2)
    out = head(fmap, text)
    assert len(out.spatial) == 1 and out.temporal == []
    assert out.fused_scores().shape == (len(labels), K)
    loss = head.loss(out, labels)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in head.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    head.eval()
    with torch.no_grad():
        s = head(fmap, text).fused_scores()
    assert torch.isfinite(s).all() and s.min() >= -1.0 - 1e-5 and s.max() <= 1.0 + 1e-5


@pytest.mark.parametrize("name", PEERS)
def test_loss_decreases_and_generalises_to_unseen(name):
    """Train on 6 seen classes; the loss falls and ZSL on the 4 unseen beats chance (25%) by far."""
    fmap, labels, text = synthetic()
    seen, unseen = list(range(6)), list(range(6, K))
    m = labels < 6
    kw = {"latent_dim": 8, "feat_hidden": (64, 64), "text_hidden": (64, 64), "beta": (0.05, 0, 50),
          "cross": (1.0, 0, 50), "distance": (1.0, 0, 50), "feat_samples": 50, "text_samples_unseen": 50,
          "cls_epochs": 20} if name == "cada_vae" else {}
    head = tiny(name, **kw)
    if name == "cada_vae":  # the warm-up is counted in epochs: let 60 "epochs" pass
        for _ in range(60):
            head.train()
    torch.manual_seed(1)
    losses = train(head, fmap[m], labels[m], text[:, seen], steps=300, lr=0.01)
    assert sum(losses[-20:]) / 20 < 0.8 * sum(losses[:20]) / 20, losses[::30]
    if name == "cada_vae":
        head.post_fit(feats=fmap[m][None].half(), labels=labels[m], class_text=text, seen=seen,
                      candidates=seen + unseen, device="cpu", seed=0)
    head.eval()
    with torch.no_grad():
        scores = head(fmap[~m], text).fused_scores()[:, unseen]  # (N_unseen, 4)
    acc = (scores.argmax(1) + 6 == labels[~m]).float().mean().item()
    assert acc > 0.6, f"{name}: ZSL accuracy {acc:.2f} on the synthetic unseen classes"


def test_global_align_sources_scale_and_variants():
    fmap, labels, text = synthetic(2)
    emb_all, emb_0 = class_embeddings(text), class_embeddings(text, phase=0)
    assert emb_all.shape == (K, D) and torch.allclose(emb_all.norm(dim=-1), torch.ones(K))
    assert torch.allclose(emb_0, F.normalize(text[0].mean(1), dim=-1))
    assert not torch.allclose(emb_0, emb_all)
    head = tiny("global_align", phase=2)
    z = head.embed(fmap)
    assert torch.allclose(head(fmap, text).spatial[0], z @ class_embeddings(text, 2).t(), atol=1e-6)
    assert pooled_feature(fmap).shape == (len(labels), C)

    learn = tiny("global_align", learnable_scale=True, logit_scale=5.0)
    out = learn(fmap, text)
    assert out.logit_scale == pytest.approx(5.0)
    learn.loss(out, labels).backward()
    assert learn.log_scale.grad is not None and learn.log_scale.grad != 0
    mlp = create_model("global_align", variant="mlp", feat_dim=C, text_dim=D)
    assert isinstance(mlp.proj, torch.nn.Sequential) and mlp.proj[0].out_features == 512
    assert isinstance(tiny("global_align").proj, torch.nn.Linear)
    with pytest.raises(ValueError, match="unknown global_align variant 'nope'"):
        create_model("global_align", variant="nope")
    with pytest.raises(ValueError, match="phase must be"):
        GlobalAlignHead(C, D, phase=6)


def test_cada_vae_warmup_counts_trainer_epochs():
    assert warmup_factor(0, 2.0, 10, 20) == 0.0
    assert warmup_factor(15, 2.0, 10, 20) == pytest.approx(1.0)
    assert warmup_factor(40, 2.0, 10, 20) == 2.0
    head = create_model("cada_vae", feat_dim=C, text_dim=D)
    assert head.schedule == {"beta": (0.25, 0, 93), "cross": (2.37, 21, 75), "distance": (8.13, 6, 22)}
    head.train()  # epoch 0
    assert head.epoch == 0 and head.weights() == {"beta": 0.0, "cross": 0.0, "distance": 0.0}
    for _ in range(30):
        head.eval()
        head.train()
    assert head.epoch == 30
    w = head.weights()
    assert w["cross"] == pytest.approx(2.37 * 9 / 54) and w["distance"] == pytest.approx(8.13)
    # the counter is part of the state (a resumed trainer continues the schedule)
    other = create_model("cada_vae", feat_dim=C, text_dim=D)
    other.load_state_dict(head.state_dict())
    other.train()
    assert other.epoch == 31


def test_cada_vae_post_fit_round_trip_and_determinism():
    fmap, labels, text = synthetic(6)
    seen = [0, 1, 2, 3, 4, 5]
    m = labels < 6
    head = tiny("cada_vae")
    train(head, fmap[m], labels[m], text[:, seen], steps=20, lr=0.01)
    feats = torch.stack([fmap[m], fmap[m] + 0.01]).half()  # (views=2, N, C, T, V)
    head.eval()
    with torch.no_grad():
        before = head(fmap, text).fused_scores()
    head.post_fit(feats=feats, labels=labels[m], class_text=text, seen=seen, candidates=[0, 1, 2, 6, 7],
                  device="cpu", seed=3)
    with torch.no_grad():
        after = head(fmap, text).fused_scores()
    assert not torch.allclose(before, after)
    # probabilities over the candidates (all seen classes are always candidates), 0 elsewhere
    assert torch.allclose(after.sum(1), torch.ones(len(fmap)), atol=1e-5)
    assert (after[:, [8, 9]] == 0).all() and (after[:, [0, 1, 2, 3, 4, 5, 6, 7]] > 0).all()
    assert head.class_mask.nonzero().flatten().tolist() == [0, 1, 2, 3, 4, 5, 6, 7]

    clone = create_model("cada_vae", **{**model_tiny_kwargs("cada_vae"), "feat_dim": C, "text_dim": D})
    clone.load_state_dict(head.state_dict())
    clone.eval()
    with torch.no_grad():
        assert torch.equal(clone(fmap, text).fused_scores(), after)

    # the second stage is a function of the seed
    again = create_model("cada_vae", **{**model_tiny_kwargs("cada_vae"), "feat_dim": C, "text_dim": D})
    again.load_state_dict(head.state_dict())
    again.post_fit(feats=feats, labels=labels[m], class_text=text, seen=seen, candidates=[0, 1, 2, 6, 7],
                   device="cpu", seed=3)
    again.eval()
    with torch.no_grad():
        assert torch.allclose(again(fmap, text).fused_scores(), after, atol=1e-6)
    again.post_fit(feats=feats, labels=labels[m], class_text=text, seen=seen, candidates=[0, 1, 2, 6, 7],
                   device="cpu", seed=4)
    with torch.no_grad():
        assert not torch.allclose(again(fmap, text).fused_scores(), after)
    with pytest.raises(ValueError, match="max_classes"):
        head.post_fit(feats=feats, labels=labels[m], class_text=text, seen=seen, candidates=[99],
                      device="cpu", seed=0)


def test_smie_temporal_term_changes_the_loss():
    fmap, labels, text = synthetic(3)
    fmap = fmap + torch.linspace(0, 1, T)[None, None, :, None]  # frame order now matters
    torch.manual_seed(0)
    head = tiny("smie")
    head.train()
    torch.manual_seed(5)
    out = head(fmap, text)
    assert "disturbed_logits" in out.extras
    assert not torch.allclose(out.extras["disturbed_logits"], out.extras["logits"])
    with_term = head.loss(out, labels)
    mi = jsd_mutual_information(out.extras["logits"], labels)
    assert not torch.allclose(with_term, -mi)
    head.temporal = "none"
    torch.manual_seed(5)
    out_none = head(fmap, text)
    assert "disturbed_logits" not in out_none.extras
    assert torch.allclose(head.loss(out_none, labels), -mi)
    # the hinge is a real term: its gradient moves the projector differently
    head.temporal = "shuffle"
    head.zero_grad()
    torch.manual_seed(5)
    head.loss(head(fmap, text), labels).backward()
    g_with = head.proj[0].weight.grad.clone()
    head.zero_grad()
    (-jsd_mutual_information(head(fmap, text).extras["logits"], labels)).backward()
    assert not torch.allclose(g_with, head.proj[0].weight.grad)

    prefix = tiny("smie", temporal="prefix")
    assert prefix.disturb(fmap).shape[2] == T // 2
    assert segment_pool(fmap, 4).shape == (len(fmap), C * 4)
    # eval mode: no disturbed view, scores are tanh(T/2) of the critic
    head.eval()
    with torch.no_grad():
        o = head(fmap, text)
    assert "disturbed_logits" not in o.extras
    assert torch.allclose(o.spatial[0], torch.tanh(0.5 * o.extras["logits"]))
    with pytest.raises(ValueError, match="temporal must be one of"):
        SmieHead(C, D, temporal="backwards")


def test_jsd_estimator_orders_good_and_bad_critics():
    labels = torch.tensor([0, 1, 2])
    good = torch.full((3, 3), -5.0).fill_diagonal_(5.0)
    assert jsd_mutual_information(good, labels) > jsd_mutual_information(-good, labels)
    assert jsd_mutual_information(good, labels) <= 0.0


def test_heads_reject_bad_shapes():
    fmap, _, text = synthetic(1)
    for name in PEERS:
        with pytest.raises(ValueError, match="expects a feature map"):
            tiny(name)(fmap[:, :3], text)
    with pytest.raises(ValueError, match="CadaVaeHead: phase"):
        CadaVaeHead(C, D, phase=-2)
