"""The description-level peer heads (purls, star, revise, jpose): inference without label leaks, the
transductive switch, the loss pieces, state round trips."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import fit_steps

from zeroskel.models import create_model, model_tiny_kwargs
from zeroskel.models.peers.jpose import group_ids, group_rows, hardest_triplet, hinge_rank
from zeroskel.models.peers.purls import purls_slots
from zeroskel.models.peers.revise import mmd_rbf

C, D, V = 16, 12, 20


def inputs(n=6, k=5, p=8, a=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    fmap = torch.relu(torch.randn(n, C, 8, V, generator=g))
    text = F.normalize(torch.randn(p, k, a, D, generator=g), dim=-1)
    return fmap, text, torch.arange(n) % k


def tiny(name, **kw):
    torch.manual_seed(0)
    return create_model(name, **{**model_tiny_kwargs(name), "feat_dim": C, "text_dim": D, **kw})


def test_purls_scores_each_candidate_with_its_own_queries():
    """No leak: a class's score column is the same whatever other classes are scored with it (the
    released code builds the test embedding from the true class's descriptions)."""
    head = tiny("purls").eval()
    fmap, text, _ = inputs()
    with torch.no_grad():
        full = head(fmap, text).fused_scores()                              # (N, 5)
        for k in range(text.shape[1]):
            alone = head(fmap, text[:, k:k + 1]).fused_scores()[:, 0]
            assert torch.allclose(full[:, k], alone, atol=1e-5)
        # the scores depend on the candidate's queries: other descriptions, other embedding
        swapped = text.clone()
        swapped[:3, 0] = text[:3, 1]
        assert not torch.allclose(head(fmap, swapped).fused_scores()[:, 0], full[:, 0])


def test_purls_slots_and_losses():
    _, text, labels = inputs(p=6)
    slots = purls_slots(text)
    assert slots.shape == (8, 5, D) and torch.allclose(slots.norm(dim=-1), torch.ones(8, 5), atol=1e-5)
    fmap, text8, labels = inputs()
    for loss in ("instance", "class"):
        head = tiny("purls", loss=loss).train()
        value = head.loss(head(fmap, text8), labels)
        value.backward()
        assert torch.isfinite(value) and head.tau.grad is not None
    with pytest.raises(ValueError, match="loss must be"):
        tiny("purls", loss="leak")


def test_star_transductive_switch():
    fmap, text, labels = inputs(p=7)
    seen = tiny("star")
    assert not seen.transductive
    trans = tiny("star", align="all")
    assert trans.transductive
    with pytest.raises(ValueError, match="transductive"):
        trans.loss(trans(fmap, text[:, :3]), labels % 3)
    trans.all_class_text = text                                             # every class, unseen included
    l_all = trans.loss(trans(fmap, text[:, :3]), labels % 3)
    l_seen = seen.loss(seen(fmap, text[:, :3]), labels % 3)
    off = tiny("star", align="off")
    l_off = off.loss(off(fmap, text[:, :3]), labels % 3)
    assert torch.isfinite(l_all) and not torch.isclose(l_all, l_seen) and l_off < l_seen
    # the all-class term changes when an unseen class's text changes; the seen-only one cannot see it
    other = text.clone()
    other[:, 4] = F.normalize(torch.randn_like(other[:, 4]), dim=-1)
    trans.all_class_text = other
    assert not torch.isclose(trans.loss(trans(fmap, text[:, :3]), labels % 3), l_all)
    with pytest.raises(ValueError, match="part_joints"):
        tiny("star", part_joints=[[0]] * 5)
    with pytest.raises(ValueError, match="needs part_joints"):
        tiny("star", part_joints=None)(fmap, text)
    with pytest.raises(ValueError, match="V=20"):
        tiny("star", part_joints=[[0], [1], [2], [3], [4], [25]])(fmap, text)


def test_jpose_and_revise_pieces():
    emb = torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1], [0.5, 0.5]])
    ids = group_ids(emb)
    assert ids[0] == ids[2] and ids[1] == ids[3] and len(set(ids.tolist())) == 3
    assert torch.equal(group_rows(torch.arange(5.0)[:, None], ids)[ids].flatten(), torch.tensor([0.0, 1, 0, 1, 4]))
    z = F.normalize(torch.randn(4, 3), dim=-1)
    assert hardest_triplet(z, torch.arange(4), 0.3) == 0                    # no positives: no term
    assert hardest_triplet(z, torch.tensor([0, 0, 1, 1]), 0.3) >= 0
    t = torch.eye(3)
    assert hinge_rank(t, t, torch.arange(3), 0.3) == 0                      # margin 1 > 0.3 everywhere
    assert hinge_rank(t, t, torch.tensor([1, 2, 0]), 0.3) > 0
    a = torch.randn(32, 8)
    assert mmd_rbf(a, a, 32.0).abs() < 1e-6 and mmd_rbf(a, a + 3.0, 32.0) > 0.05


@pytest.mark.parametrize("name,p", [("purls", 8), ("star", 7), ("revise", 6), ("jpose", 6)])
def test_state_round_trip(name, p):
    fmap, text, labels = inputs(p=p)
    head = tiny(name)
    fit_steps(head, fmap, text, labels, steps=3)
    head.eval()
    again = tiny(name)
    again.load_state_dict(head.state_dict())
    again.eval()
    with torch.no_grad():
        assert torch.allclose(head(fmap, text).fused_scores(), again(fmap, text).fused_scores())
