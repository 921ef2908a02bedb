"""STAR head (Chen, Guo, He, Lu, Wang, ACM MM 2024, "Fine-grained Side Information Guided Dual-Prompts
for Zero-Shot Skeleton Action Recognition"), on the frozen encoder's feature map; after the official
``ModelMatch``.

Parts: six body parts (head, hands, arms, torso, legs, feet; STAR's head / hand / arm / hip / leg /
foot), given as joint indices (``part_joints``; the engine passes the layout's map,
``zeroskel.data.layouts.body_part_joints``). Part i's tokens: the feature map's T' x |part i| columns,
X_i (N, T' |J_i|, C).

Visual-attribute prompts, per part: learnable P_i (M, E); cross-attention (E-dim, ``heads`` heads,
keys / values from C) with P_i as queries over X_i -> A_i (N, M, E); E_i = MLP(A_i) (Linear-ReLU-
Linear, E -> E); part score vector g_i[b, j] = P_i[j] . W_i . E_i[b, j] (N, M); global g = sum_i g_i.

Text (source ``parts``: the six part descriptions and the class name): label projector phi (D -> 256 ->
M) on the name, part projectors psi_i (D -> 256 -> M) on the part descriptions.
Prediction: cos(g, phi(label_k)) (N, K) in [-1, 1].

Loss: ``label_weight`` CE(s cos(g, phi(l))) + ``part_weight`` mean_i CE(s cos(g_i, psi_i(d_i)))
+ ``align_weight`` mean_i mean_c CE_k(psi_i(d_{c,i}) . phi(l_k), c), the last (semantic alignment of
part and label text) over the classes given by ``align``:

- ``"seen"`` (default): the seen classes the trainer passes; no unseen-class text is used.
- ``"all"``: every class of the dataset, unseen ones included, as the official code does. This is
  **transductive** (unseen-class text during training): the head says so (``transductive``), the
  engine then hands it all classes' text and the bench names the method ``star-transductive``.
- ``"off"``: no alignment term.

Deviations: the official per-class semantic prompt Q_i (one learnable vector per class and part, added
to the part description) needs global class ids during training, which the harness does not pass; here
one learnable offset per part, shared by the classes. W_i is initialised N(0, 1/E) instead of N(0, 1)
(same cosines, tamer gradients). The official CE is on raw cosines (s = 1, ``logit_scale``); the bench
uses 10, as the project's Neuron laptop recipe does. With six-phase class text (P = 6) the six slots
stand in for the parts and their mean for the label.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model

__all__ = ["StarHead", "star", "NUM_PARTS", "ALIGN"]

NUM_PARTS = 6
LABEL_SLOT = 6       # text source ``parts``: six part slots, then the class name
ALIGN = ("seen", "all", "off")


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


class StarHead(ZeroShotHead):
    """Part-wise prompt cross-attention, scored against label and part-description projections.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the six-phase class text (checks P >= 2 * num_phases).
        part_joints: six sequences of joint indices (head, hands, arms, torso, legs, feet).
        num_prompts: M, prompts per part (official 100).
        prompt_dim: E, prompt width (official 768).
        heads: attention heads (official 4).
        text_hidden: hidden width of the text projectors (official 256).
        logit_scale: factor on the cosines in the cross-entropies (official 1).
        label_weight, part_weight, align_weight: loss weights (official 0.1, 1, 0.1).
        align: classes of the alignment term: "seen", "all" (transductive) or "off".
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3,
                 part_joints: Sequence[Sequence[int]] | None = None, num_prompts: int = 100,
                 prompt_dim: int = 768, heads: int = 4, text_hidden: int = 256, logit_scale: float = 1.0,
                 label_weight: float = 0.1, part_weight: float = 1.0, align_weight: float = 0.1,
                 align: str = "seen") -> None:
        super().__init__(feat_dim, text_dim, num_phases, logit_scale, (1.0, 0.0))
        if align not in ALIGN:
            raise ValueError(f"StarHead: align must be one of {', '.join(ALIGN)}, got {align!r}")
        if part_joints is not None:
            part_joints = [[int(j) for j in p] for p in part_joints]
            if len(part_joints) != NUM_PARTS or not all(part_joints) or min(min(p) for p in part_joints) < 0:
                raise ValueError(f"StarHead: part_joints must be {NUM_PARTS} non-empty lists of joint "
                                 f"indices, got {part_joints}")
        self.part_joints = part_joints
        self.align = align
        self.weights = (float(label_weight), float(part_weight), float(align_weight))
        m, e = num_prompts, prompt_dim
        self.prompts = nn.Parameter(torch.randn(NUM_PARTS, m, e))
        self.attn = nn.ModuleList(nn.MultiheadAttention(e, heads, kdim=feat_dim, vdim=feat_dim, batch_first=True)
                                  for _ in range(NUM_PARTS))
        self.mlp = nn.ModuleList(_mlp(e, e, e) for _ in range(NUM_PARTS))
        self.w = nn.Parameter(torch.randn(NUM_PARTS, e, e) / e ** 0.5)
        self.label_proj = _mlp(text_dim, text_hidden, m)
        self.part_proj = nn.ModuleList(_mlp(text_dim, text_hidden, m) for _ in range(NUM_PARTS))
        self.part_offset = nn.Parameter(torch.zeros(NUM_PARTS, text_dim))
        self.all_class_text: torch.Tensor | None = None  # set by the engine when transductive

    @property
    def transductive(self) -> bool:
        """True when the loss reads unseen-class text (``align="all"``)."""
        return self.align == "all"

    def text_slots(self, class_text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """class_text (P, K, N_a, D) -> part descriptions (6, K, D) and labels (K, D), L2-normalised."""
        text = F.normalize(class_text.float().mean(2), dim=-1)  # (P, K, D)
        label = text[LABEL_SLOT] if text.shape[0] > LABEL_SLOT else F.normalize(text[:NUM_PARTS].mean(0), dim=-1)
        return text[:NUM_PARTS], label

    def project_text(self, parts: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(6, K, D), (K, D) -> psi_i(d_i + offset_i) (6, K, M), phi(label) (K, M)."""
        psi = torch.stack([self.part_proj[i](parts[i] + self.part_offset[i]) for i in range(NUM_PARTS)])
        return psi, self.label_proj(label)

    def part_scores(self, feature_map: torch.Tensor) -> torch.Tensor:
        """feature_map (N, C, T', V) -> part score vectors g_i (6, N, M)."""
        if self.part_joints is None:
            raise ValueError("StarHead needs part_joints (six lists of joint indices; the engine passes the "
                             "layout's body-part map)")
        n, c, t, v = feature_map.shape
        if max(max(p) for p in self.part_joints) >= v:
            raise ValueError(f"StarHead: part_joints index joints up to {max(max(p) for p in self.part_joints)}, "
                             f"the feature map has V={v}")
        out = []
        for i, joints in enumerate(self.part_joints):
            x = feature_map[:, :, :, joints].flatten(2).transpose(1, 2)        # (N, T' |J_i|, C)
            q = self.prompts[i].unsqueeze(0).expand(n, -1, -1)                  # (N, M, E)
            a, _ = self.attn[i](q, x, x, need_weights=False)                    # (N, M, E)
            e = self.mlp[i](a)                                                  # (N, M, E)
            out.append(((self.prompts[i] @ self.w[i]).unsqueeze(0) * e).sum(-1))  # (N, M)
        return torch.stack(out)                                                 # (6, N, M)

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P, K, N_a, D) -> (N, K) cos(g, phi(label))."""
        self.check_inputs(feature_map, class_text)
        g_parts = self.part_scores(feature_map)                                 # (6, N, M)
        g = F.normalize(g_parts.sum(0), dim=-1)                                 # (N, M)
        psi, phi = self.project_text(*self.text_slots(class_text))
        scores = g @ F.normalize(phi, dim=-1).t()                               # (N, K)
        part = torch.einsum("pnm,pkm->pnk", F.normalize(g_parts, dim=-1), F.normalize(psi, dim=-1))  # (6, N, K)
        return HeadOutput(spatial=[scores], temporal=[], logit_scale=self.logit_scale,
                          extras={"part_scores": part, "psi": psi, "phi": phi})

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """Weighted label CE + mean part CE + mean part-label text alignment (see ``align``)."""
        s = output.logit_scale
        wl, wp, wa = self.weights
        loss = wl * F.cross_entropy(s * output.spatial[0].float(), labels)
        part = output.extras["part_scores"].float()
        loss = loss + wp * torch.stack([F.cross_entropy(s * part[i], labels) for i in range(NUM_PARTS)]).mean()
        if self.align == "off" or wa == 0:
            return loss
        psi, phi = output.extras["psi"], output.extras["phi"]
        if self.align == "all":
            if self.all_class_text is None:
                raise ValueError("StarHead(align='all') is transductive: it needs every class's text "
                                 "(all_class_text), which the engine sets")
            psi, phi = self.project_text(*self.text_slots(self.all_class_text.to(phi.device)))
        target = torch.arange(phi.shape[0], device=phi.device)
        align = torch.stack([F.cross_entropy(psi[i].float() @ phi.float().t(), target) for i in range(NUM_PARTS)])
        return loss + wa * align.mean()


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, num_prompts=4, prompt_dim=8, heads=2, text_hidden=8,
                                 part_joints=[[2, 3], [7, 11], [4, 5, 6, 8, 9, 10], [0, 1],
                                              [12, 13, 16, 17], [14, 15, 18, 19]]))
def star(variant: str = "official", part_joints: Sequence[Sequence[int]] | None = None, **kwargs) -> StarHead:
    """STAR head; ``variant="official"``: the paper's widths and loss weights (see the module docstring
    for the alignment term's ``align`` setting)."""
    if variant != "official":
        raise ValueError(f"unknown star variant {variant!r}; known: official")
    return StarHead(part_joints=part_joints, **kwargs)
