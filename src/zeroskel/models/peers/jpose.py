"""JPoSE head (Wray, Larlus, Csurka, Damen, ICCV 2019, "Fine-Grained Action Retrieval Through Multiple
Parts-of-Speech Embeddings"), the skeleton version of the SynSE repository, on pooled skeleton features.

Inputs: f = the feature map pooled over time and joints, L2-normalised (N, C); per class a verb phrase
and a noun phrase (text source ``pos``: slot 0 = verb, slot 1 = noun, each the mean of its N_a
embeddings; from the side information's verb / noun field, or split from the class name).

Part-of-speech spaces: visual verb / noun nets Linear(C -> ``dim``) + tanh; text verb / noun nets
Linear(D -> 512) - tanh - Linear(512 -> dim) - ReLU. Joint space: Linear(2 dim -> dim) + tanh on the
concatenated [verb, noun] of each modality. Every output L2-normalised.

Loss (margins ``margin``): hinge(verb space; the distinct verbs of the classes given, target the clip's
verb) + hinge(noun space) + ``triplet_weight`` (triplet on the visual verb embeddings: positives = clips
with the same verb, hardest in-batch positive and negative) + the same for nouns + hinge(joint space;
the classes). Classes that share a verb (or noun) share its embedding: verb / noun ids come from equal
text embeddings. Unlike the official code the class text embeddings are not detached
(``detach_text=True`` restores it; then only the visual nets train, the text nets stay at their
random initialisation).

Scores: joint-space cosine (N, K) in [-1, 1]. One "spatial" phase.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model
from .global_align import pooled_feature

__all__ = ["JposeHead", "jpose", "hinge_rank", "hardest_triplet", "group_ids", "group_rows"]

VERB_SLOT, NOUN_SLOT = 0, 1


def group_ids(emb: torch.Tensor) -> torch.Tensor:
    """emb (K, D) -> (K,) group id of each row: classes with equal embeddings share an id (0..U-1)."""
    return torch.unique(emb.detach(), dim=0, return_inverse=True)[1]


def group_rows(rows: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """rows (K, d) and their group ids (K,) -> one row per id (U, d): the first row of each group."""
    first = torch.full((int(ids.max()) + 1,), len(ids), dtype=torch.long, device=ids.device)
    first = first.scatter_reduce(0, ids, torch.arange(len(ids), device=ids.device), reduce="amin")
    return rows[first]


def hinge_rank(z: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """sum_{k != y} max(0, margin + z.t_k - z.t_y), batch mean; z (N, d), targets (K, d), labels (N,)."""
    s = z @ targets.t()                                                     # (N, K)
    pos = s.gather(1, labels[:, None])
    return F.relu(margin + s - pos).scatter(1, labels[:, None], 0.0).sum(1).mean()


def hardest_triplet(z: torch.Tensor, ids: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-hard triplet loss on z (N, d) with group ids (N,); 0 when no anchor has a positive and a negative."""
    s = z @ z.t()                                                           # (N, N)
    same = ids[:, None] == ids[None, :]
    eye = torch.eye(len(ids), dtype=torch.bool, device=z.device)
    pos_mask, neg_mask = same & ~eye, ~same
    ok = pos_mask.any(1) & neg_mask.any(1)
    if not bool(ok.any()):
        return z.sum() * 0.0
    hardest_pos = s.masked_fill(~pos_mask, float("inf")).min(1).values     # (N,)
    hardest_neg = s.masked_fill(~neg_mask, float("-inf")).max(1).values
    return F.relu(margin - hardest_pos + hardest_neg)[ok].mean()


class JposeHead(ZeroShotHead):
    """Verb, noun and joint embedding spaces.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch (1: the class text needs the verb and noun slots only).
        dim: embedding width of every space (official 50).
        text_hidden: hidden width of the text nets (official 512).
        margin: margin of the hinge and triplet losses (official 0.3).
        triplet_weight: weight of each triplet term (official 0.01).
        detach_text: detach the class text embeddings in the losses (official).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 1, dim: int = 50,
                 text_hidden: int = 512, margin: float = 0.3, triplet_weight: float = 0.01,
                 detach_text: bool = False) -> None:
        super().__init__(feat_dim, text_dim, num_phases, 1.0, (1.0, 0.0))
        self.margin, self.triplet_weight, self.detach_text = float(margin), float(triplet_weight), detach_text
        self.vis = nn.ModuleDict({k: nn.Sequential(nn.Linear(feat_dim, dim), nn.Tanh()) for k in ("verb", "noun")})
        self.txt = nn.ModuleDict({k: nn.Sequential(nn.Linear(text_dim, text_hidden), nn.Tanh(),
                                                   nn.Linear(text_hidden, dim), nn.ReLU()) for k in ("verb", "noun")})
        self.vis_joint = nn.Sequential(nn.Linear(2 * dim, dim), nn.Tanh())
        self.txt_joint = nn.Sequential(nn.Linear(2 * dim, dim), nn.Tanh())

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P >= 2, K, N_a, D) -> (N, K) joint-space cosines."""
        self.check_inputs(feature_map, class_text)
        f = F.normalize(pooled_feature(feature_map), dim=-1)                    # (N, C)
        text = F.normalize(class_text.float().mean(2), dim=-1).to(f.dtype)     # (P, K, D)
        v = {k: self.vis[k](f) for k in ("verb", "noun")}                       # (N, dim) each
        t = {k: self.txt[k](text[s]) for k, s in (("verb", VERB_SLOT), ("noun", NOUN_SLOT))}  # (K, dim)
        vj = F.normalize(self.vis_joint(torch.cat([v["verb"], v["noun"]], -1)), dim=-1)     # (N, dim)
        tj = F.normalize(self.txt_joint(torch.cat([t["verb"], t["noun"]], -1)), dim=-1)     # (K, dim)
        extras = {"vis": {k: F.normalize(x, dim=-1) for k, x in v.items()},
                  "txt": {k: F.normalize(x, dim=-1) for k, x in t.items()},
                  "ids": {k: group_ids(text[s]) for k, s in (("verb", VERB_SLOT), ("noun", NOUN_SLOT))},
                  "vis_joint": vj, "txt_joint": tj}
        return HeadOutput(spatial=[vj @ tj.t()], temporal=[], logit_scale=1.0, extras=extras)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """Verb and noun hinges over the distinct phrases, their triplets, and the joint hinge."""
        e = output.extras
        detach = (lambda x: x.detach()) if self.detach_text else (lambda x: x)
        loss = hinge_rank(e["vis_joint"], detach(e["txt_joint"]), labels, self.margin)
        for k in ("verb", "noun"):
            ids = e["ids"][k]                                                   # (K,) phrase id of each class
            targets = group_rows(e["txt"][k], ids)                              # (U, dim)
            loss = loss + hinge_rank(e["vis"][k], detach(targets), ids[labels], self.margin)
            loss = loss + self.triplet_weight * hardest_triplet(e["vis"][k], ids[labels], self.margin)
        return loss


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, dim=6, text_hidden=8))
def jpose(variant: str = "official", **kwargs) -> JposeHead:
    """JPoSE head; ``variant="official"``: the SynSE re-implementation's widths, margins and weights."""
    if variant != "official":
        raise ValueError(f"unknown jpose variant {variant!r}; known: official")
    return JposeHead(**kwargs)
