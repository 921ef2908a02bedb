"""Global alignment head: the DeViSE / ReViSE family of zero-shot recognisers, on skeleton features.

DeViSE (Frome et al., NeurIPS 2013, "DeViSE: A Deep Visual-Semantic Embedding Model") maps a visual
feature linearly into the embedding space of class labels and ranks classes by similarity; ReViSE (Tsai
et al., ICCV 2017, "Learning Robust Visual-Semantic Embeddings") uses a non-linear map. Skeleton
zero-shot papers (e.g. SynSE, SMIE, Neuron's "global alignment" baselines) use this as their first row.

Here: pool the frozen encoder's feature map over time and joints, F (N, C, T', V) -> f (N, C); project
it to the text dimension (``variant="official"``: one linear layer, DeViSE; ``"mlp"``:
Linear-GELU-Dropout-Linear, ReViSE-style), L2-normalise; embed each class as the mean of its N_a
descriptions over all phases (``phase=-1``) or over one phase, L2-normalised; score = cosine (N, K).
Training: softmax cross-entropy over the seen classes of ``logit_scale * cos`` (fixed, or learnable
with ``learnable_scale``: CLIP-style, stored as a log and capped at 100).

The semantic source (class names, one description, the averaged side information) is the engine's
``text.source`` (``manual`` / ``one-turn`` / ``side-info``): with ``manual`` and ``one-turn`` every phase
holds the same one text, so the class embedding is that text's embedding.

Output: one "spatial" phase with the cosine scores, no temporal branch (this head has no branches; the
fused score is its score).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model

__all__ = ["GlobalAlignHead", "global_align", "pooled_feature", "class_embeddings", "projector"]

VARIANTS = ("official", "mlp")


def pooled_feature(feature_map: torch.Tensor) -> torch.Tensor:
    """feature_map (N, C, T', V) -> (N, C), the mean over time and joints."""
    return feature_map.mean(dim=(2, 3))


def class_embeddings(class_text: torch.Tensor, phase: int = -1) -> torch.Tensor:
    """class_text (P, K, N_a, D) -> (K, D): mean over the N_a descriptions of all phases (``phase=-1``)
    or of one phase, L2-normalised."""
    text = class_text if phase < 0 else class_text[phase:phase + 1]
    return F.normalize(text.float().mean(dim=(0, 2)), dim=-1)  # (K, D)


def projector(in_dim: int, out_dim: int, hidden_dim: int = 0, dropout: float = 0.0) -> nn.Module:
    """A linear map (``hidden_dim=0``) or Linear-GELU-Dropout-Linear."""
    if hidden_dim <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, out_dim))


class GlobalAlignHead(ZeroShotHead):
    """Pooled skeleton feature -> text space, cosine against one embedding per class.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text (it has 2 * num_phases entries).
        hidden_dim: 0 for a linear projection (DeViSE), else the hidden width of an MLP (ReViSE-style).
        dropout: dropout inside the MLP.
        phase: class text entry to use, -1 for the mean over all of them.
        logit_scale: factor on the cosine in the loss (the initial value when learnable).
        learnable_scale: learn the factor (as a log, capped at 100).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, hidden_dim: int = 0,
                 dropout: float = 0.0, phase: int = -1, logit_scale: float = 10.0,
                 learnable_scale: bool = False) -> None:
        super().__init__(feat_dim, text_dim, num_phases, logit_scale, (1.0, 0.0))
        if not -1 <= phase < 2 * num_phases:
            raise ValueError(f"GlobalAlignHead: phase must be -1 or in [0, {2 * num_phases}), got {phase}")
        if logit_scale <= 0:
            raise ValueError(f"GlobalAlignHead: logit_scale must be > 0, got {logit_scale}")
        self.phase = phase
        self.proj = projector(feat_dim, text_dim, hidden_dim, dropout)
        self.learnable_scale = learnable_scale
        if learnable_scale:
            self.log_scale = nn.Parameter(torch.tensor(math.log(logit_scale)))

    def scale(self) -> torch.Tensor | float:
        if self.learnable_scale:
            return self.log_scale.clamp(max=math.log(100.0)).exp()
        return self.logit_scale

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        """feature_map (N, C, T', V) -> (N, D) L2-normalised skeleton embeddings."""
        return F.normalize(self.proj(pooled_feature(feature_map)), dim=-1)

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (2P, K, N_a, D) -> one (N, K) cosine score."""
        self.check_inputs(feature_map, class_text)
        z = self.embed(feature_map)  # (N, D)
        emb = class_embeddings(class_text, self.phase).to(z.dtype)  # (K, D)
        scores = z @ emb.t()  # (N, K)
        scale = self.scale()
        scale = float(scale.detach()) if isinstance(scale, torch.Tensor) else scale
        return HeadOutput(spatial=[scores], temporal=[], logit_scale=scale,
                          extras={"embedding": z})

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``scale * cos`` over the classes given."""
        return F.cross_entropy(self.scale() * output.spatial[0].float(), labels)


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12))
def global_align(variant: str = "official", **kwargs) -> GlobalAlignHead:
    """Global alignment head; ``variant``: "official" (linear, DeViSE) or "mlp" (hidden 512, ReViSE-style)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown global_align variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant == "mlp":
        kwargs.setdefault("hidden_dim", 512)
    return GlobalAlignHead(**kwargs)
