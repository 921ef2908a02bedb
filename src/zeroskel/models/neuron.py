"""Neuron head (Chen et al., CVPR 2025): context-aware evolving micro-prototypes for zero-shot alignment.

Input: a (frozen) encoder's feature map F (N, C, T', V) (already averaged over the M people), pooled
into F_s = mean over T' -> (N, V, C) and F_t = mean over V -> (N, T', C); the class text (2P, K, N_a, D).

Spatial branch (P phases, "spatial compression"): prototypes P_s (N_s, C). Phase e:
  S = F_s . P^T (N, V, N_s);  keep, per joint, the best k_e prototypes (mask M, k_e ones per joint);
  weights A = softmax_V(S) * M' (official: softmax over the joints; dropped entries x 1e-12, not
  renormalised) or softmax over the kept prototypes of each joint (paper);
  G = A^T F_s (N, N_s, C);  P' = MLP_e(G);  phase vector = mean of P' over the prototypes;
  P' is the next phase's P (``phase_evolving``), else every phase starts from P_s.
Temporal branch (P phases, "temporal memory"): prototypes P_t (N_t, C). Phase e reads a window W of
F_t (official: cumulative prefixes [0:5], [0:10], [0:16] of T' = 16; paper: the disjoint thirds):
  attention = softmax over time of P W^T (N, N_t, L);  P^ = attention . W (N, N_t, C);
  P_next = sigmoid(rho_r(P^)) * P + sigmoid(rho_m(P^)) * phi_e(P^)   (``temporal_memory``; off: phi_e(P^)).
Each phase vector is projected to D, L2-normalised and scored against that phase's class text: the
mean cosine over a class's descriptions (official: mean of the top 10). A branch predicts with its
last phase (Eqs. 9-10); the loss is the mean over phases of CE(logit_scale * cos) over the seen
classes, the two branches weighted 1/2 each.

The defaults are the official code (github cseeyangchen/Neuron, ``model/shiftgcn_match.py``, class
``ModelMatch``; ``main_match.py``), read line by line:

| field | official code | where |
| --- | --- | --- |
| ``proto_init_std=1``, ``scaled_similarity=False`` | ``nn.Embedding(80, 256)`` (N(0, 1)); plain ``einsum`` dot products (paper Eqs. 1, 3 too) | ``ModelMatch.__init__``, ``forward`` |
| ``keep_schedule=(60, 40, 20)``, ``mask_value=1e-12`` | ``topk(80)[1][:, :, 80-(idx+1)*20:]`` drops the worst 20/40/60; ``mask[...] = 1e-12`` | ``forward``, spatial loop |
| ``aggregation="official"`` | ``F.softmax(sp_select, dim=1)`` (over joints) ``* mask`` | ``forward`` |
| ``mlp="relu2"``, ``hidden_dim=0`` (= C) | ``fc_spatial`` / ``fc_temporal``: Linear(256,256)-ReLU-Linear(256,256)-ReLU | ``__init__`` |
| ``gate="mlp"`` | ``recall_temporal`` / ``memory_temporal`` are copies of ``fc_spatial``, so sigmoid(.) lies in [0.5, 1) | ``__init__``, temporal loop |
| ``init_copies=True`` | ``copy.deepcopy``: the 3 spatial MLPs and the 6 gates start as copies of one MLP, the 3 temporal MLPs of another | ``__init__`` |
| ``projection="shared"`` | one ``spatial_project`` / ``temporal_project`` = Linear(256, D)-ReLU per branch (paper: one phi_s, one phi_t) | ``__init__`` |
| ``windows="cumulative"`` | ``temporal_feature[:, :, :5]``, ``[:, :, :10]``, all 16 | ``forward`` |
| ``temporal_text="cumulative"`` | windows scored against ``temporal_fp``, ``_fsp``, ``_fstp`` (first; first+second; all phases) | ``main_match.py``, ``Processor.__init__`` |
| ``description_topk=10`` | ``.topk(10, dim=2)[0].mean(2)`` over the 10 descriptions | ``forward`` |
| ``logit_scale=0.1`` | ``logits * 0.1`` | ``forward`` |
| ``prediction="last"`` | ``spa_pred_list[2]``, ``tem_pred_list[2]``, ``output_spa[2]`` (phase 3) | ``main_match.py``, ``eval`` |
| loss | (CE of the 3 spatial phases)/3 + (CE of the 3 temporal)/3, halved | ``main_match.py``, ``train`` |

Named departures (each one field): ``preset("paper")`` = the paper's text (top-alpha kept fraction
growing 20/40/60 of 80, softmax over the kept prototypes, disjoint thirds, each third scored against
its own phase text); ``preset("global")`` = the four Table 6 switches off (plain global alignment).
zeroskel's earlier choices: ``proto_init_std=0.02, scaled_similarity=True, mlp="gelu",
hidden_dim=512, gate="linear", init_copies=False, projection="per_phase", temporal_text="phase",
prediction="mean"`` (``preset("zeroskel-v1")``).

With ``granularity_update`` off every phase of a branch is scored against one text: the spatial
branch against the coarse descriptions, the temporal branch against the whole-motion text (the last
cumulative slot with ``temporal_text="cumulative"``, else the start phase).

Ties at the k-th similarity are broken towards the lower prototype index (``topk_mask``) so that
PyTorch and ONNX Runtime agree.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .heads import PREDICTIONS, HeadOutput, ZeroShotHead, mean_cosine_scores
from .registry import register_model

__all__ = ["NeuronConfig", "NeuronHead", "temporal_windows", "topk_mask", "prototype_health", "neuron"]


@dataclass(frozen=True)
class NeuronConfig:
    """All hyperparameters of the Neuron head (defaults: the official code, see the module docstring)."""

    feat_dim: int = 256  # C, channels of the encoder feature map
    text_dim: int = 384  # D, text embedding dimension
    num_spatial_protos: int = 80  # N_s
    num_temporal_protos: int = 80  # N_t
    num_phases: int = 3  # phases per branch (class text has 2 * num_phases entries)
    # prototypes and similarities
    proto_init_std: float = 1.0  # std of the initial prototypes (official nn.Embedding: N(0, 1))
    scaled_similarity: bool = False  # divide feature . prototype similarities by sqrt(C) (official: no)
    # spatial compression
    keep_mode: str = "official"  # "official": keep_schedule counts | "paper": keep_fractions of N_s
    keep_schedule: tuple[int, ...] = (60, 40, 20)  # prototypes kept per joint, per phase (official)
    keep_fractions: tuple[float, ...] = (0.25, 0.5, 0.75)  # top-alpha fraction kept per phase (paper)
    aggregation: str = "official"  # "official": softmax over joints, masked | "paper": over kept prototypes
    mask_value: float = 1e-12  # factor on dropped prototypes' weights (official 1e-12; 0: exact zero)
    # prototype MLPs, gates, projections
    mlp: str = "relu2"  # "relu2": Linear-ReLU-Linear-ReLU (official) | "gelu": Linear-GELU-Dropout-Linear
    hidden_dim: int = 0  # hidden width of the prototype MLPs (0: = feat_dim, as the official 256)
    dropout: float = 0.0  # dropout inside "gelu" MLPs
    gate: str = "mlp"  # rho_r, rho_m: "mlp" = the prototype-MLP shape (official) | "linear"
    init_copies: bool = True  # per-phase MLPs and gates start as copies of one module (official)
    projection: str = "shared"  # "shared": one Linear-ReLU per branch (official) | "per_phase": Linear per phase
    # temporal windows and their text
    windows: str = "cumulative"  # "cumulative" prefixes (official) | "disjoint" thirds (paper)
    temporal_text: str = "cumulative"  # temporal phases' text: "cumulative" (official) | "phase"
    # scoring and loss
    description_topk: int = 10  # mean of the top-k description cosines of a class (0: all)
    prediction: str = "last"  # a branch predicts with its "last" phase (official) | the "mean" of phases
    logit_scale: float = 0.1  # factor on the cosine scores in the loss
    branch_weights: tuple[float, float] = (0.5, 0.5)  # loss weights (spatial, temporal)
    # the switches of the paper's Table 6
    granularity_update: bool = True  # phase-specific text (off: one text per branch)
    spatial_compression: bool = True  # top-k prototype masking (off: all prototypes)
    phase_evolving: bool = True  # prototypes carried phase to phase (off: each phase from the initial ones)
    temporal_memory: bool = True  # gated memory update (off: P_next = phi(P^))

    def __post_init__(self) -> None:
        choices = {"keep_mode": ("official", "paper"), "aggregation": ("official", "paper"),
                   "windows": ("cumulative", "disjoint"), "mlp": ("relu2", "gelu"), "gate": ("mlp", "linear"),
                   "projection": ("shared", "per_phase"), "temporal_text": ("cumulative", "phase"),
                   "prediction": PREDICTIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"NeuronConfig.{name} must be one of {', '.join(map(repr, allowed))}, "
                                 f"got {getattr(self, name)!r}")
        if self.num_phases < 1:
            raise ValueError(f"NeuronConfig.num_phases must be >= 1, got {self.num_phases}")
        if self.hidden_dim < 0 or self.description_topk < 0 or not 0.0 <= self.mask_value <= 1.0:
            raise ValueError("NeuronConfig: hidden_dim and description_topk must be >= 0, mask_value in [0, 1]")
        schedule = self.keep_schedule if self.keep_mode == "official" else self.keep_fractions
        if len(schedule) != self.num_phases:
            raise ValueError(f"NeuronConfig: {'keep_schedule' if self.keep_mode == 'official' else 'keep_fractions'}"
                             f" has {len(schedule)} entries for num_phases={self.num_phases}")
        for k in self.keep_counts():
            if not 1 <= k <= self.num_spatial_protos:
                raise ValueError(f"NeuronConfig: keeping {k} of {self.num_spatial_protos} spatial prototypes "
                                 f"per joint is impossible (keep_schedule={self.keep_schedule})")

    @property
    def hidden(self) -> int:
        """The prototype MLPs' hidden width."""
        return self.hidden_dim or self.feat_dim

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
        """Named settings (see the module docstring); ``overrides`` replace single fields."""
        if name not in PRESETS:
            raise ValueError(f"unknown Neuron preset {name!r}; known: {', '.join(PRESETS)}")
        return cls(**_tuples({**PRESETS[name], **overrides}))


PRESETS: dict[str, dict[str, Any]] = {
    "official": {},
    "paper": dict(keep_mode="paper", aggregation="paper", windows="disjoint", temporal_text="phase"),
    "global": dict(granularity_update=False, spatial_compression=False, phase_evolving=False,
                   temporal_memory=False),
    "zeroskel-v1": dict(proto_init_std=0.02, scaled_similarity=True, mlp="gelu", hidden_dim=512, gate="linear",
                        init_copies=False, projection="per_phase", temporal_text="phase", prediction="mean",
                        mask_value=0.0, description_topk=0),
}


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
    unspecified and differs between PyTorch and ONNX Runtime; exact ties do occur, e.g. prototypes
    that no joint kept can all become MLP(0) in the next phase). Export-friendly: TopK, compares, CumSum.
    """
    if k >= scores.shape[-1]:
        return torch.ones_like(scores, dtype=torch.bool)
    if scores.device.type == "cpu" and not torch.jit.is_tracing() and not torch.compiler.is_compiling():
        # the (n - k + 1)-th smallest is the k-th largest; about twice as fast as topk on the CPU
        kth = scores.kthvalue(scores.shape[-1] - k + 1, dim=-1, keepdim=True).values  # (..., 1)
    else:  # TopK exports to ONNX
        kth = scores.topk(k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest value
    above = scores > kth
    at = scores == kth
    room = k - above.sum(-1, keepdim=True)  # how many of the tied entries to keep (>= 1)
    return above | (at & (at.long().cumsum(-1) <= room))


def prototype_mlp(config: NeuronConfig) -> nn.Sequential:
    """C -> hidden -> C: Linear-ReLU-Linear-ReLU ("relu2", official) or Linear-GELU-Dropout-Linear ("gelu")."""
    c, h = config.feat_dim, config.hidden
    if config.mlp == "relu2":
        return nn.Sequential(nn.Linear(c, h), nn.ReLU(), nn.Linear(h, c), nn.ReLU())
    return nn.Sequential(nn.Linear(c, h), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(h, c))


def _gate(config: NeuronConfig) -> nn.Module:
    return prototype_mlp(config) if config.gate == "mlp" else nn.Linear(config.feat_dim, config.feat_dim)


def _projection(config: NeuronConfig) -> nn.ModuleList:
    """One Linear(C, D)-ReLU shared by a branch's phases ("shared") or one Linear(C, D) per phase."""
    if config.projection == "shared":
        shared = nn.Sequential(nn.Linear(config.feat_dim, config.text_dim), nn.ReLU())
        return nn.ModuleList([shared])
    return nn.ModuleList(nn.Linear(config.feat_dim, config.text_dim) for _ in range(config.num_phases))


class SpatialCompression(nn.Module):
    """Spatial branch: prototype compression over the joints, one MLP per phase.

    Args:
        config: the head's NeuronConfig.
    """

    def __init__(self, config: NeuronConfig) -> None:
        super().__init__()
        self.config = config
        c = config.feat_dim
        init = torch.randn(config.num_spatial_protos, c) * config.proto_init_std
        self.prototypes = nn.Parameter(init.clone())
        self.register_buffer("prototypes_init", init)  # for the health figures (norm change)
        self.mlps = nn.ModuleList(prototype_mlp(config) for _ in range(config.num_phases))
        self.scale = 1.0 / math.sqrt(c) if config.scaled_similarity else 1.0

    def forward(self, f_s: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """f_s (N, V, C) -> per phase: pooled vectors (N, C), masks (N, V, N_s) bool, prototypes (N, N_s, C)."""
        cfg = self.config
        initial = self.prototypes.to(f_s.dtype).unsqueeze(0).expand(f_s.shape[0], -1, -1)  # (N, N_s, C)
        protos = initial
        pooled, masks, all_protos = [], [], []
        for e, k in enumerate(cfg.keep_counts()):
            sim = torch.bmm(f_s, protos.transpose(1, 2)) * self.scale  # (N, V, N_s)
            keep = topk_mask(sim, k)  # (N, V, N_s), k per joint
            if cfg.aggregation == "official":
                factor = torch.where(keep, torch.ones_like(sim), torch.full_like(sim, cfg.mask_value))
                weights = torch.softmax(sim, dim=1) * factor  # over joints, dropped x mask_value, not renormalised
            else:
                weights = torch.softmax(sim.masked_fill(~keep, torch.finfo(sim.dtype).min), dim=-1)  # over prototypes
            aggregated = torch.bmm(weights.transpose(1, 2), f_s)  # (N, N_s, C)
            new = self.mlps[e](aggregated)  # (N, N_s, C)
            pooled.append(new.mean(1))  # (N, C)
            masks.append(keep)
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
        init = torch.randn(config.num_temporal_protos, c) * config.proto_init_std
        self.prototypes = nn.Parameter(init.clone())
        self.register_buffer("prototypes_init", init)
        self.phi = nn.ModuleList(prototype_mlp(config) for _ in range(p))
        self.rho_r = nn.ModuleList(_gate(config) for _ in range(p))  # recall gate (official recall_temporal)
        self.rho_m = nn.ModuleList(_gate(config) for _ in range(p))  # remember gate (official memory_temporal)
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
            update = self.phi[e](summary)  # (N, N_t, C)
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
        self.temporal_text = config.temporal_text
        self.spatial = SpatialCompression(config)
        self.temporal = TemporalMemory(config)
        self.spatial_proj = _projection(config)
        self.temporal_proj = _projection(config)
        if config.init_copies:
            self._copy_initial_weights()

    @torch.no_grad()
    def _copy_initial_weights(self) -> None:
        """Official ``copy.deepcopy``: the spatial MLPs and both gates of every phase start as one MLP
        (``fc_spatial``), the temporal MLPs as another (``fc_temporal``)."""
        spatial_template = copy.deepcopy(self.spatial.mlps[0])
        for module in [*self.spatial.mlps, *self.temporal.rho_r, *self.temporal.rho_m]:
            if type(module) is type(spatial_template) and all(
                    a.shape == b.shape for a, b in zip(module.parameters(), spatial_template.parameters())):
                module.load_state_dict(spatial_template.state_dict())
        for module in self.temporal.phi[1:]:
            module.load_state_dict(self.temporal.phi[0].state_dict())

    def text_index(self, branch: str, phase: int) -> int:
        """Which class_text entry scores ``phase`` of ``branch`` (see the module docstring)."""
        if branch == "spatial":
            return phase if self.config.granularity_update else 0
        if self.config.granularity_update:
            return self.num_phases + phase
        return self.num_phases + (self.num_phases - 1 if self.config.temporal_text == "cumulative" else 0)

    def _project(self, proj: nn.ModuleList, e: int, v: torch.Tensor) -> torch.Tensor:
        return F.normalize(proj[e if len(proj) > 1 else 0](v), dim=-1)  # (N, D)

    def encode(self, feature_map: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, Any]]:
        """feature_map (N, C, T', V) -> per-phase L2-normalised embeddings (N, D) of both branches + extras."""
        f_s = feature_map.mean(2).transpose(1, 2)  # (N, V, C)
        f_t = feature_map.mean(3).transpose(1, 2)  # (N, T', C)
        s_pooled, masks, s_protos = self.spatial(f_s)
        t_pooled, attns, t_protos = self.temporal(f_t)
        z_s = [self._project(self.spatial_proj, e, v) for e, v in enumerate(s_pooled)]  # (N, D) each
        z_t = [self._project(self.temporal_proj, e, v) for e, v in enumerate(t_pooled)]
        extras = {"spatial_masks": masks, "spatial_prototypes": s_protos, "spatial_features": z_s,
                  "temporal_attention": attns, "temporal_prototypes": t_protos, "temporal_features": z_t}
        return z_s, z_t, extras

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        """feature_map (N, C, T', V) -> (N, 2P, D): the projected spatial then temporal phase embeddings."""
        z_s, z_t, _ = self.encode(feature_map)
        return torch.stack(z_s + z_t, 1)

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (2P, K, N_a, D) -> per-phase (N, K) cosine scores."""
        self.check_inputs(feature_map, class_text)
        z_s, z_t, extras = self.encode(feature_map)
        k = self.config.description_topk
        spatial = [mean_cosine_scores(z, class_text[self.text_index("spatial", e)], k) for e, z in enumerate(z_s)]
        temporal = [mean_cosine_scores(z, class_text[self.text_index("temporal", e)], k) for e, z in enumerate(z_t)]
        return HeadOutput(spatial=spatial, temporal=temporal, logit_scale=self.logit_scale, extras=extras,
                          prediction=self.config.prediction)


def _pairwise_cosine(protos: torch.Tensor) -> float:
    """protos (N, M, C) -> mean over clips and prototype pairs (i != j) of their cosine."""
    m = protos.shape[1]
    if m < 2:
        return float("nan")
    unit = F.normalize(protos.float(), dim=-1)
    gram = torch.bmm(unit, unit.transpose(1, 2))  # (N, M, M)
    off = gram.sum((1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(-1)
    return float((off / (m * (m - 1))).mean())


@torch.no_grad()
def prototype_health(head: NeuronHead, feature_map: torch.Tensor, batch_size: int = 256) -> dict[str, Any]:
    """Are the micro-prototypes alive? Label-free figures of a Neuron head on clips' feature maps.

    Args:
        head: a Neuron head.
        feature_map: (N, C, T', V) feature maps of some clips (no labels needed).
        batch_size: clips per forward pass.

    Returns per phase (lists of P values): ``temporal_attention_entropy`` (mean entropy of a prototype's
    attention over its window / log(window length); 1 = uniform), ``temporal_prototype_cosine`` and
    ``spatial_prototype_cosine`` (mean pairwise cosine of a clip's prototypes after the phase; 1 =
    collapsed into one), ``spatial_kept_fraction`` (fraction of the N_s prototypes that some joint of some
    clip keeps), ``spatial_zero_fraction`` / ``temporal_zero_fraction`` (prototypes that are exactly 0);
    and ``spatial_norm_change`` / ``temporal_norm_change``: ||P - P_init|| / ||P_init|| of the learnable
    prototypes.
    """
    was_training = head.training
    head.eval()
    p = head.num_phases
    sums: dict[str, list[float]] = {k: [0.0] * p for k in (
        "temporal_attention_entropy", "temporal_prototype_cosine", "spatial_prototype_cosine",
        "spatial_zero_fraction", "temporal_zero_fraction")}
    kept = [torch.zeros(head.config.num_spatial_protos, dtype=torch.bool) for _ in range(p)]
    n_total = 0
    device = next(head.parameters()).device
    for i in range(0, len(feature_map), batch_size):
        fm = feature_map[i:i + batch_size].to(device).float()
        n = fm.shape[0]
        _, _, ex = head.encode(fm)
        for e in range(p):
            attn = ex["temporal_attention"][e].float()  # (N, N_t, L)
            length = attn.shape[-1]
            ent = -(attn * attn.clamp_min(1e-12).log()).sum(-1)  # (N, N_t)
            ratio = float(ent.mean() / math.log(length)) if length > 1 else float("nan")
            sums["temporal_attention_entropy"][e] += ratio * n
            sums["temporal_prototype_cosine"][e] += _pairwise_cosine(ex["temporal_prototypes"][e]) * n
            sums["spatial_prototype_cosine"][e] += _pairwise_cosine(ex["spatial_prototypes"][e]) * n
            for branch in ("spatial", "temporal"):
                zero = (ex[f"{branch}_prototypes"][e].abs().amax(-1) == 0).float().mean()
                sums[f"{branch}_zero_fraction"][e] += float(zero) * n
            kept[e] |= ex["spatial_masks"][e].any(1).any(0).cpu()  # (N_s,)
        n_total += n
    head.train(was_training)
    out: dict[str, Any] = {k: [v / max(n_total, 1) for v in vals] for k, vals in sums.items()}
    out["spatial_kept_fraction"] = [float(k.float().mean()) for k in kept]
    for branch, module in (("spatial", head.spatial), ("temporal", head.temporal)):
        init = module.prototypes_init.float()
        out[f"{branch}_norm_change"] = float((module.prototypes.float() - init).norm() / init.norm().clamp_min(1e-12))
    out["num_clips"] = n_total
    return out


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, num_spatial_protos=8, num_temporal_protos=6,
                                 keep_schedule=(6, 4, 2), hidden_dim=16))
def neuron(variant: str = "official", config: NeuronConfig | None = None, **overrides: Any) -> NeuronHead:
    """Neuron head; ``variant`` names a NeuronConfig preset, ``overrides`` replace single fields."""
    cfg = config.replace(**overrides) if config is not None else NeuronConfig.preset(variant, **overrides)
    return NeuronHead(cfg)
