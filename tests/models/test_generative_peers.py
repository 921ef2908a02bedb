"""The generative peers (SynSE, SA-DVAE, CADA-VAE as SynSE's repository ran it): schedule, step counter,
second stage, state round trips, and a few training steps on real cached UTD-MHAD features."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zeroskel.models import create_model, model_tiny_kwargs
from zeroskel.models.peers import CadaVaeHead, SaDvaeHead, SynseHead
from zeroskel.models.peers.generative import cyclical_weights
from zeroskel.models.peers.sa_dvae import presets

C, D, K, T, V = 16, 12, 10, 8, 5
# (registered name, variant, extra kwargs): the three heads under test
HEADS = [("synse", "official", {}), ("sa_dvae", "kinect", {}),
         ("cada_vae", "synse", {"feat_hidden": None, "text_hidden": None, "cycle": 20})]


def build(name: str, variant: str, feat_dim: int = C, text_dim: int = D, **kw):
    torch.manual_seed(0)
    tiny = model_tiny_kwargs(name)
    if name == "cada_vae":
        tiny = {k: v for k, v in tiny.items() if k not in ("feat_hidden", "text_hidden")}
    return create_model(name, variant=variant, **{**tiny, "feat_dim": feat_dim, "text_dim": text_dim, **kw})


def synthetic(num_per_class: int = 8, seed: int = 0):
    """Clips whose feature is a linear image of their class text (as tests/models/test_peers.py)."""
    g = torch.Generator().manual_seed(seed)
    text = F.normalize(torch.randn(K, D, generator=g), dim=-1)  # (K, D)
    a = torch.randn(C, D, generator=g).abs()  # non-negative features, as pooled ReLU maps
    labels = torch.arange(K).repeat_interleave(num_per_class)  # (N,)
    fmap = (text[labels] @ a.t()).relu()[:, :, None, None] + 0.1 * torch.rand(len(labels), C, T, V, generator=g)
    desc = F.normalize(text[None, :, None, :] + 0.05 * torch.randn(6, K, 2, D, generator=g), dim=-1)
    return fmap, labels, desc


def test_cyclical_schedule_matches_synse_numbers():
    """At the published cycle of 1700: KL weight from iteration 1000 (0.1 per 3000 iterations), cross-
    reconstruction after 1400, the text KL only from the third cycle; a cycle of 170 is the same shape."""
    w = cyclical_weights(999, 1700, 1400 / 1700)
    assert w == {"kl": 0.0, "cross": 0.0, "kl_text": 0.0}
    w = cyclical_weights(1600, 1700, 1400 / 1700)
    assert w["kl"] == pytest.approx(0.1 * 600 / 3000) and w["cross"] == 1.0 and w["kl_text"] == 0.0
    w = cyclical_weights(2 * 1700 + 1600, 1700, 1400 / 1700)
    assert w["kl_text"] == pytest.approx(0.1 * 200 / 3000)
    small = cyclical_weights(2 * 170 + 160, 170, 1400 / 1700)
    assert small == pytest.approx(w)
    with pytest.raises(ValueError, match="cycle"):
        cyclical_weights(0, 0, 0.8)


@pytest.mark.parametrize("name,variant,kw", HEADS)
def test_steps_count_in_training_only_and_resume(name, variant, kw):
    head = build(name, variant, **kw)
    fmap, labels, text = synthetic(2)
    head.train()
    for _ in range(3):
        head.loss(head(fmap, text), labels).backward()
    assert int(head.steps) == 3
    head.eval()
    head.loss(head(fmap, text), labels)  # an eval-mode loss does not advance the schedule
    assert int(head.steps) == 3
    again = build(name, variant, **kw)
    again.load_state_dict(head.state_dict())
    assert int(again.steps) == 3


def test_sa_dvae_discriminator_moves_only_on_its_steps():
    """Late in the third cycle (text KL on): the total-correlation term must not move D (its weights
    are detached there); the discriminator's own loss, every dis_step iterations, does."""
    head = build("sa_dvae", "kinect", cycle=20, dis_step=2)
    fmap, labels, text = synthetic(2)
    head.train()
    for step, dis_expected in ((2 * 20 + 19, False), (2 * 20 + 18, True)):
        head.steps.fill_(step)
        head.zero_grad()
        head.loss(head(fmap, text), labels).backward()
        grads = [p.grad for p in head.disc.parameters()]
        moved = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert moved == dis_expected, step
        assert head.enc_s.mu.weight.grad.abs().sum() > 0


def test_synse_reads_verb_and_noun_slots_only():
    head = build("synse", "official")
    fmap, labels, text = synthetic(2)
    head.train()
    torch.manual_seed(1)
    base = head.loss(head(fmap, text), labels)
    other = text.clone()
    other[2:] = F.normalize(torch.randn_like(other[2:]), dim=-1)  # slots 2-5: not read by SynSE
    head.steps.zero_()
    torch.manual_seed(1)
    assert torch.allclose(head.loss(head(fmap, other), labels), base)
    other[0] = F.normalize(torch.randn_like(other[0]), dim=-1)  # the verb slot is
    head.steps.zero_()
    torch.manual_seed(1)
    assert not torch.allclose(head.loss(head(fmap, other), labels), base)


@pytest.mark.parametrize("name,variant,kw", HEADS)
def test_post_fit_round_trip_and_seen_only_training(name, variant, kw):
    """Training reads only the seen classes' text (the trainer passes that slice); the fitted
    classifier covers the candidates, reloads to identical scores and is deterministic in ``seed``."""
    fmap, labels, text = synthetic()
    seen = list(range(6))
    m = labels < 6
    head = build(name, variant, **kw)
    head.train()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(30):
        loss = head.loss(head(fmap[m], text[:, :6]), labels[m])  # (P, 6, N_a, D): seen text only
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    kwargs = dict(feats=fmap[m][None], labels=labels[m], class_text=text, seen=seen, candidates=range(K),
                  device="cpu", seed=3)
    head.post_fit(**kwargs)
    with torch.no_grad():
        s = head(fmap, text).fused_scores()
    assert torch.isfinite(s).all() and s.shape == (len(labels), K)
    assert torch.allclose(s.sum(-1), torch.ones(len(labels)), atol=1e-5)
    again = build(name, variant, **kw)
    again.load_state_dict(head.state_dict())
    again.eval()
    with torch.no_grad():
        assert torch.equal(again(fmap, text).fused_scores(), s)
    weight = head.cls_weight.clone()
    head.post_fit(**kwargs)
    assert torch.equal(head.cls_weight, weight)


def test_variants_and_presets():
    assert {"ntu60-synse", "ntu120-synse", "ntu60-random", "ntu120-random", "pku51-random", "ntu60-llm",
            "ntu120-llm", "kinect"} <= set(presets())
    p = presets()["ntu120-synse"]
    head = create_model("sa_dvae", variant="ntu120-synse", feat_dim=C, text_dim=D)
    assert (head.latent_dim, head.style_dim, head.dis_step) == (256, 32, 4) and p["train"]["lr"] == 3.478e-05
    cada = create_model("cada_vae", variant="synse", feat_dim=C, text_dim=D)
    assert isinstance(cada, CadaVaeHead) and cada.latent_dim == 100 and cada.schedule["distance"][0] == 0.0
    assert not hasattr(cada.enc_x, "hidden") and cada.recon == "mse"
    paper = create_model("cada_vae", variant="paper", feat_dim=C, text_dim=D)
    assert hasattr(paper.enc_x, "hidden") and paper.weights()["distance"] == 0.0  # warm-up starts at epoch 6
    assert isinstance(create_model("cada_vae", variant="official", feat_dim=C, text_dim=D), CadaVaeHead)
    clean = create_model("synse", variant="clean", feat_dim=C, text_dim=D)
    assert isinstance(clean, SynseHead) and not clean.per_sample_eps and not clean.cls_relu
    for name, bad in (("sa_dvae", "ntu61"), ("synse", "paper"), ("cada_vae", "clean")):
        with pytest.raises(ValueError, match="variant"):
            create_model(name, variant=bad, feat_dim=C, text_dim=D)
    with pytest.raises(ValueError, match="even"):
        SynseHead(feat_dim=C, text_dim=D, latent_dim=7)
    assert isinstance(create_model("sa_dvae", feat_dim=C, text_dim=D), SaDvaeHead)


# ----------------------------------------------------------------------------- real cached features
@pytest.fixture(scope="module")
def utd_features(utd_root, tmp_path_factory):
    """Features of UTD-MHAD utd-f1 from a tiny encoder (width 4, its initial weights, 16 frames, one
    view), extracted by the engine, and the class text (hashing encoder) of the side-info and pos
    sources."""
    from zeroskel.config import merge
    from zeroskel.train.features import load_features
    from zeroskel.train.run import Run
    from zeroskel.train.run_config import RunConfig
    from zeroskel.text.class_text import build_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_shipped

    cfg = merge(RunConfig(), {"protocol": "utd-f1", "progress": False, "data": {"root": str(utd_root), "length": 16},
                              "encoder": {"base_channels": 4, "pretrained_only": True}, "extract": {"views": 1},
                              "eval": {"validation_encoder": "shared", "val_draws": 1}})
    run = Run.create(tmp_path_factory.mktemp("gen") / "utd-f1", cfg)
    run.run_seed(0, ("pretrain", "extract"))
    feats, labels = load_features(run.encoder_dir(0) / "features" / "train.safetensors")
    test, test_labels = load_features(run.encoder_dir(0) / "features" / "test_unseen.safetensors")
    # An untrained encoder's BatchNorm keeps its initial statistics (mean 0, variance 1), so its features
    # scale with the inputs (torso-scaled joints + motion: mean |x| ~35); a trained encoder's are ~0.6.
    # Rescale to unit standard deviation, the size real cached features have.
    sd = feats.float().std()
    feats, test = (feats.float() / sd).to(feats.dtype), (test.float() / sd).to(test.dtype)
    names = list(run.dataset.class_names)
    enc = get_text_encoder("hashing:32")
    si = load_shipped("utd-mhad", names)
    text = {src: build_class_text(si, enc, names, source=src) for src in ("side-info", "pos")}
    return {"feats": feats, "labels": labels, "test": test[0], "test_labels": test_labels, "text": text,
            "seen": [int(c) for c in run.splits.seen], "unseen": [int(c) for c in run.splits.unseen]}


@pytest.mark.parametrize("name,variant,kw", HEADS)
def test_few_steps_on_real_utd_features(utd_features, name, variant, kw):
    """A few Adam steps on real cached features: the loss falls (the first iterations of a cycle,
    reconstruction only) and the fitted head's zero-shot predictions are finite probabilities."""
    u = utd_features
    feats, labels, seen = u["feats"], u["labels"], u["seen"]
    text = u["text"]["pos" if name == "synse" else "side-info"]
    head = build(name, variant, feat_dim=feats.shape[2], text_dim=text.shape[-1],
                 **{**kw, "cycle": 1000, "max_classes": 32})
    local = torch.full((text.shape[1],), -1, dtype=torch.long)
    local[seen] = torch.arange(len(seen))
    y = local[labels]
    seen_text = text[:, seen]
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    head.train()
    for _ in range(40):
        idx = torch.randint(0, feats.shape[1], (32,), generator=g)
        loss = head.loss(head(feats[0, idx].float(), seen_text), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert int(head.steps) == 40
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5]), losses
    head.eval()
    head.post_fit(feats=feats, labels=labels, class_text=text, seen=seen, candidates=seen + u["unseen"],
                  device="cpu", seed=0)
    with torch.no_grad():
        s = head(u["test"].float(), text).fused_scores()  # (N, K_all)
    assert torch.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    assert float(s[:, u["unseen"]].sum(-1).min()) > 0  # unseen classes are among the candidates
