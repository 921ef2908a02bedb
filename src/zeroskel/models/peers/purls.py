"""PURLS head (Zhu, Ke, Gong, Bailey, CVPR 2024, "Part-aware Unified Representation of Language and
Skeleton for Zero-shot Action Recognition"), on the frozen encoder's feature map.

Tokens: the feature map F (N, C, T', V) is average-pooled along time to ``time_tokens`` positions
(official: 3) and every (t, v) token is L2-normalised: X (N, L = time_tokens * V, C). The attention is
over all tokens, so no joint grouping is needed (PURLS' "adaptive partitioning").

Descriptions: S = 8 slots per class (text source ``purls``: head, hands, torso, legs, the three
temporal phases, global), each the mean of its N_a embeddings: desc (S, K, D). With the six-phase
side information (``text.source=side-info``) the slots are the three spatial phases, their mean, the
three temporal phases and the mean of all six (a documented stand-in, not PURLS's text).

Adaptive partitioning, per slot s and class k: q = W_q desc[s, k] (D -> heads * key_dim), k = W_k X
(C -> heads * key_dim); a(s, k) = softmax over the L tokens of the heads' mean of q.k / sqrt(key_dim);
value = the raw tokens: A[n, k, s] = a(s, k) X[n] (C). Projection: the S attended features are
concatenated (S * C) -> norm -> dropout -> Linear(-> ``hidden_dim``) -> SiLU -> norm -> dropout ->
Linear(-> S * D) -> tanh: one D-dim skeleton embedding per slot.

Loss (official): per slot s, a symmetric in-batch InfoNCE between the clip's slot embedding, built with
the queries of **its own class**, and its class's description of that slot (targets = the batch
diagonal, so same-class clips are negatives), logits tau_s * cos with a learnable tau_s used linearly
(init log(1/0.07) = 2.66); the mean over slots. ``loss="class"`` instead takes a cross-entropy over
the seen classes (fewer false negatives on small datasets; a deviation).

Inference (the released code's test-time label leak fixed): the released code builds the test
embedding with the queries of the *true* class's descriptions. Here every candidate class k is scored
with its own queries: score(x, k) = cos(global slot of Proj(Attn(X, desc[:, k])), desc[global, k]),
(N, K) in [-1, 1]. The leaking behaviour is not offered. A training-mode forward computes no scores
(its output's branches are empty; the loss builds each clip's embedding from its own class's queries).

Deviations: LayerNorm instead of BatchNorm in the projection (per-candidate rows must not share batch
statistics); text from the project's encoder (MiniLM by default) instead of CLIP with PURLS' prompt
templates; the engine's optimiser and schedule (the bench: AdamW, see ``zeroskel bench``).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model

__all__ = ["PurlsHead", "purls", "purls_slots", "NUM_SLOTS", "GLOBAL_SLOT"]

NUM_SLOTS = 8        # head, hands, torso, legs, start, middle, end, global (text source ``purls``)
GLOBAL_SLOT = NUM_SLOTS - 1
LOSSES = ("instance", "class")


def purls_slots(class_text: torch.Tensor) -> torch.Tensor:
    """class_text (P, K, N_a, D) -> (8, K, D) L2-normalised slot descriptions (see the module docstring:
    P >= 8 is the ``purls`` source; P in 6..7 the six-phase side information)."""
    text = F.normalize(class_text.float().mean(2), dim=-1)  # (P, K, D)
    if text.shape[0] >= NUM_SLOTS:
        return text[:NUM_SLOTS]
    spatial = F.normalize(text[:3].mean(0, keepdim=True), dim=-1)
    overall = F.normalize(text[:6].mean(0, keepdim=True), dim=-1)
    return torch.cat([text[:3], spatial, text[3:6], overall], 0)  # (8, K, D)


class PurlsHead(ZeroShotHead):
    """Description-query attention over joint x time tokens, per-candidate queries at inference.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the six-phase class text (checks P >= 2 * num_phases).
        time_tokens: time positions the feature map is pooled to (official 3).
        key_dim: per-head query / key width (official 150).
        heads: attention heads (official 2).
        hidden_dim: hidden width of the projection (official 1024).
        dropout: dropout of the projection (official 0.5).
        tau_init: initial value of the learnable, linearly used logit scales (official 2.66).
        loss: "instance" (official in-batch InfoNCE) or "class" (cross-entropy over the seen classes).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, time_tokens: int = 3,
                 key_dim: int = 150, heads: int = 2, hidden_dim: int = 1024, dropout: float = 0.5,
                 tau_init: float = math.log(1 / 0.07), loss: str = "instance") -> None:
        super().__init__(feat_dim, text_dim, num_phases, tau_init, (1.0, 0.0))
        if loss not in LOSSES:
            raise ValueError(f"PurlsHead: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if time_tokens < 1 or heads < 1 or key_dim < 1:
            raise ValueError(f"PurlsHead: time_tokens, heads and key_dim must be >= 1, got "
                             f"{time_tokens}, {heads}, {key_dim}")
        self.time_tokens, self.key_dim, self.heads, self.loss_type = time_tokens, key_dim, heads, loss
        self.q = nn.Linear(text_dim, heads * key_dim)
        self.k = nn.Linear(feat_dim, heads * key_dim)
        s = NUM_SLOTS
        self.hidden = nn.Sequential(nn.LayerNorm(s * feat_dim), nn.Dropout(dropout),
                                    nn.Linear(s * feat_dim, hidden_dim), nn.SiLU(),
                                    nn.LayerNorm(hidden_dim), nn.Dropout(dropout))
        self.out = nn.Linear(hidden_dim, s * text_dim)
        self.tau = nn.Parameter(torch.full((s,), float(tau_init)))

    def tokens(self, feature_map: torch.Tensor) -> torch.Tensor:
        """feature_map (N, C, T', V) -> (N, L = time_tokens * V, C) L2-normalised tokens."""
        n, c, _, v = feature_map.shape
        pooled = F.adaptive_avg_pool2d(feature_map, (self.time_tokens, v))  # (N, C, Tt, V)
        return F.normalize(pooled.flatten(2).transpose(1, 2), dim=-1)       # (N, Tt * V, C)

    def attend(self, tokens: torch.Tensor, desc: torch.Tensor) -> torch.Tensor:
        """tokens (N, L, C), desc (S, K, D) -> attended features (N, K, S, C), one per query."""
        n, l, _ = tokens.shape
        s, k, _ = desc.shape
        q = self.q(desc).view(s, k, self.heads, self.key_dim)               # (S, K, H, dk)
        key = self.k(tokens).view(n, l, self.heads, self.key_dim)           # (N, L, H, dk)
        logits = torch.einsum("skhd,nlhd->nkshl", q, key).mean(3) / math.sqrt(self.key_dim)  # (N, K, S, L)
        return torch.einsum("nksl,nlc->nksc", logits.softmax(-1), tokens)   # (N, K, S, C)

    def project(self, attended: torch.Tensor, slot: int | None = None) -> torch.Tensor:
        """attended (..., S, C) -> (..., S, D) slot embeddings, or (..., D) of one ``slot``."""
        h = self.hidden(attended.flatten(-2))                                # (..., hidden)
        if slot is None:
            return torch.tanh(self.out(h)).unflatten(-1, (NUM_SLOTS, self.text_dim))
        d = self.text_dim
        return torch.tanh(F.linear(h, self.out.weight[slot * d:(slot + 1) * d], self.out.bias[slot * d:(slot + 1) * d]))

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P, K, N_a, D) -> (N, K) global-slot cosines, every
        candidate class scored with its own description queries."""
        self.check_inputs(feature_map, class_text)
        desc = purls_slots(class_text).to(feature_map.dtype)                 # (S, K, D)
        attended = self.attend(self.tokens(feature_map), desc)               # (N, K, S, C)
        extras = {"attended": attended, "desc": desc}
        tau = float(self.tau[GLOBAL_SLOT].detach())
        if self.training:
            # the loss needs only the true class's queries (taken in ``loss``); scoring every candidate
            # here would be wasted work, so a training-mode output carries no scores
            return HeadOutput(spatial=[], temporal=[], logit_scale=tau, extras=extras)
        emb = self.project(attended, GLOBAL_SLOT)                             # (N, K, D)
        scores = torch.einsum("nkd,kd->nk", F.normalize(emb, dim=-1), desc[GLOBAL_SLOT])  # (N, K)
        return HeadOutput(spatial=[scores], temporal=[], logit_scale=tau, extras=extras)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """Mean over slots of the official InfoNCE (or the class cross-entropy), the clip's embedding
        built with its own class's queries."""
        attended, desc = output.extras["attended"], output.extras["desc"]
        rows = torch.arange(len(labels), device=labels.device)
        emb = F.normalize(self.project(attended[rows, labels]).float(), dim=-1)  # (N, S, D)
        terms = []
        for s in range(NUM_SLOTS):
            if self.loss_type == "class":
                logits = self.tau[s] * emb[:, s] @ desc[s].float().t()          # (N, K)
                terms.append(F.cross_entropy(logits, labels))
            else:
                logits = self.tau[s] * emb[:, s] @ desc[s, labels].float().t()  # (N, N)
                terms.append(0.5 * (F.cross_entropy(logits, rows) + F.cross_entropy(logits.t(), rows)))
        return torch.stack(terms).mean()


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, key_dim=8, hidden_dim=16))
def purls(variant: str = "official", **kwargs) -> PurlsHead:
    """PURLS head; ``variant="official"``: the paper's widths and loss, per-candidate inference."""
    if variant != "official":
        raise ValueError(f"unknown purls variant {variant!r}; known: official")
    return PurlsHead(**kwargs)
