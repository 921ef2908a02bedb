"""SMIE head (Zhou et al., ACM MM 2023, "Zero-shot Skeleton-based Action Recognition via Mutual
Information Estimation and Maximization"), on the frozen encoder's feature map.

Alignment by mutual information: a skeleton embedding z = g(F) (N, D) and a class text embedding t
are scored by a discriminator T(z, t) (an MLP on the pair); the Jensen-Shannon MI estimator (as in
Deep InfoMax) over a batch is

    I_JSD = mean over positive pairs (z_i, t_{y_i}) of -softplus(-T)
            - mean over negative pairs (z_i, t_k), k != y_i, of softplus(T),

and training maximises it (loss -I_JSD). A class's text is each of its N_a descriptions of one phase
(``phase``, default 0) or of all phases (``phase=-1``); a pair's logit is the mean of T over them.

Temporal constraint (the paper's idea that a sequence in its true order carries more information about
its action than the same frames out of order): the same estimator on a temporally disturbed feature map
F~ must stay below the one on F by a margin,

    L = -I_JSD(F) + ``temporal_weight`` * relu(``margin`` - (I_JSD(F) - I_JSD(F~))),

with F~ the frames of F (along T') randomly permuted (``temporal="shuffle"``) or the first half of the
clip only (``"prefix"``); ``"none"`` drops the term. Because the cached features are maps (N, C, T', V),
the disturbance is applied to them, not to the raw skeleton.

So that frame order can matter, g pools F over the joints and into ``segments`` equal temporal
segments, F -> (N, C * segments), then an MLP to D (ours: the facts leave the projector open).
Scores: tanh(T / 2) = 2 sigmoid(T) - 1 of the mean pair logit, (N, K) in [-1, 1] (the discriminator's
positive-pair probability rescaled); one "spatial" phase, no temporal branch.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model

__all__ = ["SmieHead", "smie", "jsd_mutual_information", "segment_pool"]

TEMPORAL = ("shuffle", "prefix", "none")


def segment_pool(feature_map: torch.Tensor, segments: int) -> torch.Tensor:
    """feature_map (N, C, T', V) -> (N, C * segments): mean over joints, then over equal time segments."""
    per_frame = feature_map.mean(3)  # (N, C, T')
    pooled = F.adaptive_avg_pool1d(per_frame, segments)  # (N, C, S)
    return pooled.flatten(1)  # (N, C * S)


def jsd_mutual_information(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon MI estimate from pair logits (N, K): positives at ``labels``, negatives elsewhere."""
    pos = F.one_hot(labels, logits.shape[1]).to(torch.bool)  # (N, K)
    pos_term = -F.softplus(-logits[pos]).mean()
    neg = logits[~pos]
    neg_term = F.softplus(neg).mean() if neg.numel() else logits.new_zeros(())
    return pos_term - neg_term


class PairDiscriminator(nn.Module):
    """T(z, t) = w2 . relu(W_z z + W_t t + b) + b2, evaluated for every (sample, text) pair.

    Args:
        dim: width of z and t.
        hidden_dim: hidden width.
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.z = nn.Linear(dim, hidden_dim)
        self.t = nn.Linear(dim, hidden_dim, bias=False)
        self.out = nn.Linear(hidden_dim, 1)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """z (N, D), text (K, A, D) -> logits (N, K), the mean over the A texts of each class."""
        h = self.z(z)[:, None, None, :] + self.t(text)[None]  # (N, K, A, H)
        return self.out(torch.relu(h)).squeeze(-1).mean(-1)  # (N, K)


class SmieHead(ZeroShotHead):
    """MI-maximising alignment with a temporal constraint.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        segments: temporal segments of the skeleton pooling.
        hidden_dim: hidden width of the projector and the discriminator.
        dropout: dropout inside the projector.
        phase: class text entry whose descriptions are a class's texts, -1 for all entries.
        temporal: "shuffle" | "prefix" | "none", the disturbed view of the temporal constraint.
        temporal_weight: weight of the temporal hinge.
        margin: MI margin of the temporal hinge.
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, segments: int = 4,
                 hidden_dim: int = 512, dropout: float = 0.0, phase: int = 0, temporal: str = "shuffle",
                 temporal_weight: float = 1.0, margin: float = 0.2) -> None:
        super().__init__(feat_dim, text_dim, num_phases, 1.0, (1.0, 0.0))
        if temporal not in TEMPORAL:
            raise ValueError(f"SmieHead: temporal must be one of {', '.join(TEMPORAL)}, got {temporal!r}")
        if not -1 <= phase < 2 * num_phases:
            raise ValueError(f"SmieHead: phase must be -1 or in [0, {2 * num_phases}), got {phase}")
        if segments < 1:
            raise ValueError(f"SmieHead: segments must be >= 1, got {segments}")
        self.segments, self.phase = segments, phase
        self.temporal, self.temporal_weight, self.margin = temporal, float(temporal_weight), float(margin)
        self.proj = nn.Sequential(nn.Linear(feat_dim * segments, hidden_dim), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(hidden_dim, text_dim))
        self.critic = PairDiscriminator(text_dim, hidden_dim)

    def texts(self, class_text: torch.Tensor) -> torch.Tensor:
        """class_text (P, K, N_a, D) -> (K, A, D) L2-normalised texts of each class."""
        if self.phase >= 0:
            text = class_text[self.phase]  # (K, N_a, D)
        else:
            text = class_text.permute(1, 0, 2, 3).flatten(1, 2)  # (K, P * N_a, D)
        return F.normalize(text.float(), dim=-1)

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        """feature_map (N, C, T', V) -> (N, D) L2-normalised skeleton embeddings."""
        return F.normalize(self.proj(segment_pool(feature_map, self.segments)), dim=-1)

    def disturb(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The temporally disturbed view F~ of the constraint (frames permuted, or the first half)."""
        t = feature_map.shape[2]
        if self.temporal == "prefix":
            return feature_map[:, :, : max(1, t // 2)]
        perm = torch.randperm(t, device=feature_map.device)
        if t > 1 and bool((perm == torch.arange(t, device=perm.device)).all()):
            perm = perm.roll(1)  # never the identity
        return feature_map[:, :, perm]

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (2P, K, N_a, D) -> one (N, K) score in [-1, 1]."""
        self.check_inputs(feature_map, class_text)
        text = self.texts(class_text).to(feature_map.dtype)  # (K, A, D)
        logits = self.critic(self.embed(feature_map), text)  # (N, K)
        extras = {"logits": logits}
        if self.training and self.temporal != "none":
            extras["disturbed_logits"] = self.critic(self.embed(self.disturb(feature_map)), text)
        return HeadOutput(spatial=[torch.tanh(0.5 * logits)], temporal=[], logit_scale=1.0, extras=extras)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """-I_JSD plus the temporal hinge (when the forward ran in training mode)."""
        mi = jsd_mutual_information(output.extras["logits"].float(), labels)
        loss = -mi
        if "disturbed_logits" in output.extras and self.temporal_weight > 0:
            mi_d = jsd_mutual_information(output.extras["disturbed_logits"].float(), labels)
            loss = loss + self.temporal_weight * F.relu(self.margin - (mi - mi_d))
        return loss


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, hidden_dim=16, segments=2))
def smie(variant: str = "official", **kwargs) -> SmieHead:
    """SMIE head; ``variant="official"``: shuffled-frames temporal constraint, one phase's descriptions."""
    if variant != "official":
        raise ValueError(f"unknown smie variant {variant!r}; known: official")
    return SmieHead(**kwargs)
