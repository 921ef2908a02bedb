"""Neuron head (Chen et al., CVPR 2025): context-aware evolving micro-prototypes for zero-shot alignment.

Input: a (frozen) encoder's feature map F (N, C, T', V) (already averaged over the M people), pooled
into F_s = mean over T' -> (N, V, C) and F_t = mean over V -> (N, T', C); the class text (2P, K, N_a, D).

Spatial branch (P phases, "spatial compression"): learnable prototypes P_s (N_s, C). Per phase e:
  S = F_s . P^T (N, V, N_s) (divided by sqrt(C) when ``scaled_similarity``);
  keep, per joint, the best k_e of the N_s prototypes (mask (N, V, N_s) with exactly k_e ones per joint);
  aggregation weights A (official: softmax of S over the joints (dim V), multiplied by the mask, not
  renormalised; paper: softmax over the kept prototypes of each joint);
  aggregate G = A^T F_s (N, N_s, C); new prototypes P' = MLP_e(G); the phase vector is the mean of P'
  over the prototypes; with ``phase_evolving`` P' is the next phase's P, else every phase starts from P_s.
Temporal branch (P phases, "temporal memory"): learnable prototypes P_t (N_t, C). Phase e reads a
window W of F_t (official: cumulative prefixes, [0:5], [0:10], [0:16] for T' = 16, i.e. ends
floor(e T' / P); paper: the disjoint thirds between the same boundaries):
  attention softmax over time of P W^T (N, N_t, L); P^ = attention . W (N, N_t, C);
  ``P_next = sigmoid(rho_r(P^)) * P + sigmoid(rho_m(P^)) * phi(P^)`` (memory on) or ``phi(P^)`` (off);
  the phase vector is the mean of P_next over the prototypes; P_next feeds the next phase when evolving.
Every phase vector is projected to D (one linear layer per phase and branch), L2-normalised and scored
against its phase's class text: spatial phase e uses class_text[e], temporal phase e uses
class_text[P + e] (``granularity_update``; off: every phase of a branch uses the branch's first entry).
The score is the mean cosine over the N_a descriptions; the loss is the base class's (CE of
``logit_scale * cos``, official 0.1, 1/P per phase, 1/2 per branch).

Official code vs paper (both selectable, official the default): kept prototypes 60, 40, 20 of 80
(``keep_mode="official"``) vs a top-alpha fraction growing per phase, alpha = 0.25, 0.5, 0.75, i.e.
20, 40, 60 of 80 (``keep_mode="paper"``); softmax over joints (masked, not renormalised) vs softmax over
prototypes (``aggregation``); cumulative vs disjoint windows (``windows``).

Choices the facts leave open (ours, visible in ``NeuronConfig``): MLPs are Linear-GELU-Dropout-Linear
with ``hidden_dim``; prototype init N(0, ``proto_init_std``); similarities scaled by 1/sqrt(C); phase
modules (MLP, rho_r, rho_m, phi, projection) are separate per phase; ties at the k-th similarity are
broken towards the lower prototype index (``topk_mask``) so that PyTorch and ONNX Runtime agree (exact
ties happen: prototypes no joint kept aggregate to 0 and all become MLP(0) in the next phase). Switches of the paper's Table 6:
``granularity_update``, ``spatial_compression``, ``phase_evolving``, ``temporal_memory``;
``NeuronConfig.preset("global")`` turns all four off (plain global alignment, the table's first row).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .heads import HeadOutput, ZeroShotHead, mean_cosine_scores
from .registry import register_model

__all__ = ["NeuronConfig", "NeuronHead", "temporal_windows", "topk_mask", "neuron"]


@dataclass(frozen=True)
class NeuronConfig:
    """All hyperparameters of the Neuron head (defaults: the official code)."""

    feat_dim: int = 256  # C, channels of the encoder feature map
    text_dim: int = 384  # D, text embedding dimension
    num_spatial_protos: int = 80  # N_s
    num_temporal_protos: int = 80  # N_t
    num_phases: int = 3  # phases per branch (class text has 2 * num_phases entries)
    hidden_dim: int = 512  # hidden width of the prototype MLPs
    dropout: float = 0.0  # dropout inside the MLPs
    proto_init_std: float = 0.02  # std of the initial prototypes
    scaled_similarity: bool = True  # divide feature . prototype similarities by sqrt(C)
    keep_mode: str = "official"  # "official": keep_schedule counts | "paper": keep_fractions of N_s
    keep_schedule: tuple[int, ...] = (60, 40, 20)  # prototypes kept per joint, per phase (official)
    keep_fractions: tuple[float, ...] = (0.25, 0.5, 0.75)  # top-alpha fraction kept per phase (paper)
    aggregation: str = "official"  # "official": softmax over joints, masked | "paper": over prototypes
    windows: str = "cumulative"  # "cumulative" prefixes (official) | "disjoint" thirds (paper)
    logit_scale: float = 0.1  # factor on the cosine scores in the loss
    branch_weights: tuple[float, float] = (0.5, 0.5)  # loss weights (spatial, temporal)
    granularity_update: bool = True  # phase-specific text (off: first phase's text for every phase)
    spatial_compression: bool = True  # top-k prototype masking (off: all prototypes)
    phase_evolving: bool = True  # prototypes carried phase to phase (off: each phase from the initial ones)
    temporal_memory: bool = True  # gated memory update (off: P_next = phi(P^))

    def __post_init__(self) -> None:
        if self.keep_mode not in ("official", "paper"):
            raise ValueError(f"NeuronConfig.keep_mode must be 'official' or 'paper', got {self.keep_mode!r}")
        if self.aggregation not in ("official", "paper"):
            raise ValueError(f"NeuronConfig.aggregation must be 'official' or 'paper', got {self.aggregation!r}")
        if self.windows not in ("cumulative", "disjoint"):
            raise ValueError(f"NeuronConfig.windows must be 'cumulative' or 'disjoint', got {self.windows!r}")
        if self.num_phases < 1:
            raise ValueError(f"NeuronConfig.num_phases must be >= 1, got {self.num_phases}")
        schedule = self.keep_schedule if self.keep_mode == "official" else self.keep_fractions
        if len(schedule) != self.num_phases:
            raise ValueError(f"NeuronConfig: {'keep_schedule' if self.keep_mode == 'official' else 'keep_fractions'}"
                             f" has {len(schedule)} entries for num_phases={self.num_phases}")
        for k in self.keep_counts():
            if not 1 <= k <= self.num_spatial_protos:
                raise ValueError(f"NeuronConfig: keeping {k} of {self.num_spatial_protos} spatial prototypes "
                                 f"per joint is impossible (keep_schedule={self.keep_schedule})")

    def keep_counts(self) -> tuple[int, ...]:
        """Prototypes kept per joint in each spatial phase (all of them when compression is off)."""
        if not self.spatial_compression:
            return (self.num_spatial_protos,) * self.num_phases
        if self.keep_mode == "official":
            return tuple(int(k) for k in self.keep_schedule)
        return tuple(max(1, min(self.num_spatial_protos, round(a * self.num_spatial_protos)))
                     for a in self.keep_fractions)

    def replace(self, **overrides: Any) -> "NeuronConfig":
        return dataclasses.replace(self, **_tuples(overrides))

    @classmethod
    def preset(cls, name: str = "official", **overrides: Any) -> "NeuronConfig":
        """Named settings: "official" (the official code), "paper" (the paper's text), "global" (all four
        Table 6 switches off: plain global alignment); ``overrides`` replace single fields."""
        presets: dict[str, dict[str, Any]] = {
            "official": {},
            "paper": dict(keep_mode="paper", aggregation="paper", windows="disjoint"),
            "global": dict(granularity_update=False, spatial_compression=False, phase_evolving=False,
                           temporal_memory=False),
        }
        if name not in presets:
            raise ValueError(f"unknown Neuron preset {name!r}; known: {', '.join(presets)}")
        return cls(**_tuples({**presets[name], **overrides}))


def _tuples(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Lists (e.g. from YAML) to tuples, so configs stay hashable."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def temporal_windows(length: int, num_phases: int, mode: str = "cumulative") -> list[tuple[int, int]]:
    """[start, end) frame windows of the temporal phases over T' = ``length`` frames.

    Boundaries are floor(e * T' / P) (T'=16, P=3: 5, 10, 16); "cumulative" windows are the prefixes
    [0, b_e), "disjoint" ones [b_{e-1}, b_e). Every window keeps at least one frame.
    """
    if length < 1:
        raise ValueError(f"temporal windows need at least one frame, got T'={length}")
    bounds = [0] + [max(1, (e * length) // num_phases) for e in range(1, num_phases)] + [length]
    windows = []
    for e in range(num_phases):
        end = max(1, bounds[e + 1])
        start = 0 if mode == "cumulative" else min(bounds[e], end - 1)
        windows.append((start, end))
    return windows


def topk_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the k largest entries along the last axis, exactly k per row.

    Ties at the k-th value go to the lower index, on every backend (``topk``'s own tie order is
    unspecified and differs between PyTorch and ONNX Runtime; exact ties do occur here, e.g. prototypes
    that no joint kept all become MLP(0) in the next phase). Export-friendly: TopK, compares, CumSum.
    """
    if k >= scores.shape[-1]:
        return torch.ones_like(scores, dtype=torch.bool)
    kth = scores.topk(k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest value
    above = scores > kth
    at = scores == kth
    room = k - above.sum(-1, keepdim=True)  # how many of the tied entries to keep (>= 1)
    return above | (at & (at.long().cumsum(-1) <= room))


class PrototypeMLP(nn.Sequential):
    """Linear -> GELU -> Dropout -> Linear, C -> hidden -> C.

    Args:
        dim: input and output width.
        hidden_dim: hidden width.
        dropout: dropout after the activation.
    """

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__(nn.Linear(dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, dim))


class SpatialCompression(nn.Module):
    """Spatial branch: prototype compression over the joints, one MLP per phase.

    Args:
        config: the head's NeuronConfig.
    """

    def __init__(self, config: NeuronConfig) -> None:
        super().__init__()
        self.config = config
        c = config.feat_dim
        self.prototypes = nn.Parameter(torch.randn(config.num_spatial_protos, c) * config.proto_init_std)
        self.mlps = nn.ModuleList(PrototypeMLP(c, config.hidden_dim, config.dropout) for _ in range(config.num_phases))
        self.scale = 1.0 / math.sqrt(c) if config.scaled_similarity else 1.0

    def forward(self, f_s: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """f_s (N, V, C) -> per phase: pooled vectors (N, C), masks (N, V, N_s) bool, prototypes (N, N_s, C)."""
        cfg = self.config
        initial = self.prototypes.to(f_s.dtype).unsqueeze(0).expand(f_s.shape[0], -1, -1)  # (N, N_s, C)
        protos = initial
        pooled, masks, all_protos = [], [], []
        for e, k in enumerate(cfg.keep_counts()):
            sim = torch.bmm(f_s, protos.transpose(1, 2)) * self.scale  # (N, V, N_s)
            mask = topk_mask(sim, k).to(sim.dtype)  # (N, V, N_s), k ones per joint
            if cfg.aggregation == "official":
                weights = torch.softmax(sim, dim=1) * mask  # over joints, masked, not renormalised
            else:
                weights = torch.softmax(sim.masked_fill(mask == 0, torch.finfo(sim.dtype).min), dim=-1)
            aggregated = torch.bmm(weights.transpose(1, 2), f_s)  # (N, N_s, C)
            new = self.mlps[e](aggregated)  # (N, N_s, C)
            pooled.append(new.mean(1))  # (N, C)
            masks.append(mask > 0)
            all_protos.append(new)
            protos = new if cfg.phase_evolving else initial
        return pooled, masks, all_protos


class TemporalMemory(nn.Module):
    """Temporal branch: prototypes attend over growing (or disjoint) windows, with a gated memory.

    Args:
        config: the head's NeuronConfig.
    """

    def __init__(self, config: NeuronConfig) -> None:
        super().__init__()
        self.config = config
        c, p = config.feat_dim, config.num_phases
        self.prototypes = nn.Parameter(torch.randn(config.num_temporal_protos, c) * config.proto_init_std)
        self.phi = nn.ModuleList(PrototypeMLP(c, config.hidden_dim, config.dropout) for _ in range(p))
        self.rho_r = nn.ModuleList(nn.Linear(c, c) for _ in range(p))  # retain gate
        self.rho_m = nn.ModuleList(nn.Linear(c, c) for _ in range(p))  # memorise gate
        self.scale = 1.0 / math.sqrt(c) if config.scaled_similarity else 1.0

    def forward(self, f_t: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """f_t (N, T', C) -> per phase: pooled vectors (N, C), attention (N, N_t, L_e), prototypes (N, N_t, C)."""
        cfg = self.config
        initial = self.prototypes.to(f_t.dtype).unsqueeze(0).expand(f_t.shape[0], -1, -1)  # (N, N_t, C)
        protos = initial
        pooled, attentions, all_protos = [], [], []
        for e, (start, end) in enumerate(temporal_windows(f_t.shape[1], cfg.num_phases, cfg.windows)):
            window = f_t[:, start:end]  # (N, L, C)
            attn = torch.softmax(torch.bmm(protos, window.transpose(1, 2)) * self.scale, dim=-1)  # (N, N_t, L)
            summary = torch.bmm(attn, window)  # P^ (N, N_t, C)
            update = self.phi[e](summary)
            if cfg.temporal_memory:
                new = torch.sigmoid(self.rho_r[e](summary)) * protos + torch.sigmoid(self.rho_m[e](summary)) * update
            else:
                new = update
            pooled.append(new.mean(1))  # (N, C)
            attentions.append(attn)
            all_protos.append(new)
            protos = new if cfg.phase_evolving else initial
        return pooled, attentions, all_protos


class NeuronHead(ZeroShotHead):
    """Neuron zero-shot head over a skeleton feature map.

    Args:
        config: NeuronConfig (default: the official settings).
    """

    def __init__(self, config: NeuronConfig | None = None) -> None:
        config = config or NeuronConfig()
        super().__init__(config.feat_dim, config.text_dim, config.num_phases, config.logit_scale,
                         config.branch_weights)
        self.config = config
        self.spatial = SpatialCompression(config)
        self.temporal = TemporalMemory(config)
        self.spatial_proj = nn.ModuleList(nn.Linear(config.feat_dim, config.text_dim) for _ in range(config.num_phases))
        self.temporal_proj = nn.ModuleList(nn.Linear(config.feat_dim, config.text_dim) for _ in range(config.num_phases))

    def text_index(self, branch: str, phase: int) -> int:
        """Which class_text entry scores ``phase`` of ``branch``."""
        base = 0 if branch == "spatial" else self.num_phases
        return base + (phase if self.config.granularity_update else 0)

    def encode(self, feature_map: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, Any]]:
        """feature_map (N, C, T', V) -> per-phase L2-normalised embeddings (N, D) of both branches + extras."""
        f_s = feature_map.mean(2).transpose(1, 2)  # (N, V, C)
        f_t = feature_map.mean(3).transpose(1, 2)  # (N, T', C)
        s_pooled, masks, s_protos = self.spatial(f_s)
        t_pooled, attns, t_protos = self.temporal(f_t)
        z_s = [F.normalize(proj(v), dim=-1) for proj, v in zip(self.spatial_proj, s_pooled)]  # (N, D) each
        z_t = [F.normalize(proj(v), dim=-1) for proj, v in zip(self.temporal_proj, t_pooled)]
        extras = {"spatial_masks": masks, "spatial_prototypes": s_protos, "spatial_features": z_s,
                  "temporal_attention": attns, "temporal_prototypes": t_protos, "temporal_features": z_t}
        return z_s, z_t, extras

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        """feature_map (N, C, T', V) -> (N, 2P, D): the projected spatial then temporal phase embeddings."""
        z_s, z_t, _ = self.encode(feature_map)
        return torch.stack(z_s + z_t, 1)

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (2P, K, N_a, D) -> per-phase (N, K) mean cosine scores."""
        self.check_inputs(feature_map, class_text)
        z_s, z_t, extras = self.encode(feature_map)
        spatial = [mean_cosine_scores(z, class_text[self.text_index("spatial", e)]) for e, z in enumerate(z_s)]
        temporal = [mean_cosine_scores(z, class_text[self.text_index("temporal", e)]) for e, z in enumerate(z_t)]
        return HeadOutput(spatial=spatial, temporal=temporal, logit_scale=self.logit_scale, extras=extras)


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, num_spatial_protos=8, num_temporal_protos=6,
                                 keep_schedule=(6, 4, 2), hidden_dim=16))
def neuron(variant: str = "official", config: NeuronConfig | None = None, **overrides: Any) -> NeuronHead:
    """Neuron head; ``variant`` names a NeuronConfig preset, ``overrides`` replace single fields."""
    cfg = config.replace(**overrides) if config is not None else NeuronConfig.preset(variant, **overrides)
    return NeuronHead(cfg)
