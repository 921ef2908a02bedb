"""Zero-shot heads: the shared output type, the base class and its default loss.

A head maps a skeleton feature map (N, C, T', V) and the class text tensor (P, K, N_a, D) (P phases:
``spatial_coarse, spatial_mid, spatial_fine, temporal_start, temporal_middle, temporal_end``; K classes;
N_a descriptions per class; D text dim; L2-normalised along D) to per-phase scores. Each score is the
mean, over a class's N_a descriptions (or its ``topk`` best ones, as the official Neuron code does), of
the cosine between the sample's projected feature and the description embedding, so it lies in [-1, 1].

A branch's prediction comes from its last phase (``HeadOutput.prediction="last"``: the official code
and the Neuron paper's Eqs. 9-10) or from the mean of its phases (``"mean"``); the fused prediction is
the mean of the two branches' prediction scores. Heads with one phase per branch are unaffected.

The default loss is the official Neuron recipe: per phase, cross-entropy of ``logit_scale * cos`` over the
K classes given (labels index those K); phases averaged within a branch (1/P each); the spatial and
temporal branches weighted 1/2, 1/2 (when one branch is empty the other gets all the weight).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["HeadOutput", "ZeroShotHead", "mean_cosine_scores", "PREDICTIONS"]

PREDICTIONS = ("last", "mean")


@dataclass
class HeadOutput:
    """Per-phase (N, K) mean-cosine scores of a zero-shot head.

    Attributes:
        spatial: one (N, K) tensor per spatial phase (may be empty).
        temporal: one (N, K) tensor per temporal phase (may be empty).
        logit_scale: factor applied to the scores inside the loss.
        extras: head-specific tensors for analysis (masks, per-phase features, prototypes).
        prediction: which phase scores a branch's prediction: "last" (its last phase) or "mean" (the
            mean of its phases).
    """

    spatial: list[torch.Tensor]
    temporal: list[torch.Tensor]
    logit_scale: float
    extras: dict[str, Any] = field(default_factory=dict)
    prediction: str = "last"

    def branch_scores(self, branch: str) -> torch.Tensor | None:
        """The prediction scores of ``branch`` ("spatial" | "temporal"): (N, K), or None if it is empty."""
        if branch not in ("spatial", "temporal"):
            raise ValueError(f"branch must be 'spatial' or 'temporal', got {branch!r}")
        scores = self.spatial if branch == "spatial" else self.temporal
        if not scores:
            return None
        if self.prediction == "last":
            return scores[-1]
        if self.prediction == "mean":
            return torch.stack(scores, 0).mean(0)
        raise ValueError(f"HeadOutput.prediction must be 'last' or 'mean', got {self.prediction!r}")

    def fused_scores(self) -> torch.Tensor:
        """Mean of the available branch scores: (N, K)."""
        branches = [s for s in (self.branch_scores("spatial"), self.branch_scores("temporal")) if s is not None]
        if not branches:
            raise ValueError("HeadOutput has no spatial and no temporal scores")
        return torch.stack(branches, 0).mean(0)


def mean_cosine_scores(z: torch.Tensor, text: torch.Tensor, topk: int = 0) -> torch.Tensor:
    """z (N, D), text (K, N_a, D) -> (N, K) mean of cos(z, text) over the N_a descriptions.

    ``topk`` > 0 averages only the ``min(topk, N_a)`` largest cosines of each class (the official
    Neuron code: ``topk(10)`` over its 10 descriptions, i.e. the plain mean when N_a <= 10).
    """
    z = F.normalize(z, dim=-1)
    text = F.normalize(text.to(z.dtype), dim=-1)
    cos = torch.einsum("nd,kad->nka", z, text)  # (N, K, N_a)
    if 0 < topk < cos.shape[-1]:
        cos = cos.topk(topk, dim=-1).values  # (N, K, topk)
    return cos.mean(-1)  # (N, K)


class ZeroShotHead(nn.Module):
    """Base class of the zero-shot heads.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch (the class text has 2 * num_phases entries).
        logit_scale: factor on the cosine scores in the loss.
        branch_weights: loss weights of the (spatial, temporal) branches.
    """

    # Which text the temporal phases are scored against: "phase" (start, middle, end) or
    # "cumulative" (start; start+middle; start+middle+end). The run builds the class text to match.
    temporal_text: str = "phase"

    def __init__(self, feat_dim: int, text_dim: int, num_phases: int = 3, logit_scale: float = 0.1,
                 branch_weights: tuple[float, float] = (0.5, 0.5)) -> None:
        super().__init__()
        self.feat_dim, self.text_dim, self.num_phases = feat_dim, text_dim, num_phases
        self.logit_scale = float(logit_scale)
        self.branch_weights = (float(branch_weights[0]), float(branch_weights[1]))

    def check_inputs(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> None:
        """Raise ValueError naming what is wrong with the shapes."""
        if feature_map.dim() != 4 or feature_map.shape[1] != self.feat_dim:
            raise ValueError(f"{type(self).__name__} expects a feature map (N, C={self.feat_dim}, T', V), "
                             f"got {tuple(feature_map.shape)}")
        if class_text.dim() != 4 or class_text.shape[0] < 2 * self.num_phases or class_text.shape[3] != self.text_dim:
            raise ValueError(f"{type(self).__name__} expects class text (P={2 * self.num_phases}, K, N_a, "
                             f"D={self.text_dim}), got {tuple(class_text.shape)}")

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P, K, N_a, D) -> HeadOutput."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``logit_scale * cos`` per phase, averaged per branch, branches weighted."""
        terms, weights = [], []
        for scores, weight in ((output.spatial, self.branch_weights[0]), (output.temporal, self.branch_weights[1])):
            if not scores:
                continue
            ce = torch.stack([F.cross_entropy(output.logit_scale * s.float(), labels) for s in scores]).mean()
            terms.append(ce * weight)
            weights.append(weight)
        if not terms:
            raise ValueError("HeadOutput has no scores to compute a loss on")
        return torch.stack(terms).sum() / sum(weights)
