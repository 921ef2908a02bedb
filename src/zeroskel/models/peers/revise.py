"""ReViSE head (Tsai, Huang, Salakhutdinov, ICCV 2017, "Learning Robust Visual-Semantic Embeddings"),
the skeleton version of the SynSE repository's re-implementation, on pooled skeleton features.

Visual side: x = log(1 + relu(f)), f the feature map pooled over time and joints (N, C). Autoencoder
enc Linear(C -> ``hidden``) + ReLU, dec Linear(``hidden`` -> C) + ReLU; transform Linear(``hidden`` ->
``final``) + tanh. Text side (one embedding per class: the mean of all its class-text slots and
descriptions, L2-normalised, as ``global_align``): enc Linear(D -> 512) - ReLU - Linear(512 -> hidden) -
ReLU, dec mirrored (ReLU on the output), transform Linear(hidden -> final) + tanh.

Loss (all weights 1, batch means): MSE(x, dec_v(h_v)) + MSE(t_y, dec_t(h_t)) + MMD^2(h_v, h_t) (RBF
kernel exp(-|a - b|^2 / (2 ``mmd_sigma2``)) between the batch's visual codes and the codes of the clips'
class texts) + multi-class hinge sum_{k != y} max(0, v.t_k - v.t_y + ``margin``) over the classes given,
with the class transforms t_k detached (as the official code; ``detach_text``). The official
contractive penalty carries no gradient there and is left out.

Scores: v . t_k / final, (N, K) in [-1, 1] (the official dot product, rescaled). One "spatial" phase.
Deviations: the engine's optimiser / schedule / batch (the official: Adam 1e-4, batch 1024, 300
epochs, selection on unseen test accuracy; here AdamW at the bench's rate and the validation protocol).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model
from .global_align import class_embeddings, pooled_feature

__all__ = ["ReviseHead", "revise", "mmd_rbf"]


def mmd_rbf(a: torch.Tensor, b: torch.Tensor, sigma2: float) -> torch.Tensor:
    """Biased MMD^2 estimate between samples a (N, H) and b (M, H) with an RBF kernel."""
    def k(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(x, y).pow(2) / (2 * sigma2))
    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


class ReviseHead(ZeroShotHead):
    """Visual and text autoencoders aligned by MMD, scored in a shared transform space.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        hidden: autoencoder code width (official 100).
        final: transform width (official 50).
        text_hidden: hidden width of the text autoencoder (official 512).
        margin: hinge margin (official 0.3).
        mmd_sigma2: RBF kernel bandwidth (sigma^2) of the MMD (official kernel parameter 32).
        detach_text: detach the class transforms inside the hinge (official).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, hidden: int = 100,
                 final: int = 50, text_hidden: int = 512, margin: float = 0.3, mmd_sigma2: float = 32.0,
                 detach_text: bool = True) -> None:
        super().__init__(feat_dim, text_dim, num_phases, 1.0, (1.0, 0.0))
        self.final, self.margin, self.mmd_sigma2, self.detach_text = final, float(margin), float(mmd_sigma2), detach_text
        self.enc_v = nn.Sequential(nn.Linear(feat_dim, hidden), nn.ReLU())
        self.dec_v = nn.Sequential(nn.Linear(hidden, feat_dim), nn.ReLU())
        self.tr_v = nn.Sequential(nn.Linear(hidden, final), nn.Tanh())
        self.enc_t = nn.Sequential(nn.Linear(text_dim, text_hidden), nn.ReLU(), nn.Linear(text_hidden, hidden), nn.ReLU())
        self.dec_t = nn.Sequential(nn.Linear(hidden, text_hidden), nn.ReLU(), nn.Linear(text_hidden, text_dim), nn.ReLU())
        self.tr_t = nn.Sequential(nn.Linear(hidden, final), nn.Tanh())

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P, K, N_a, D) -> (N, K) transform-space dot products."""
        self.check_inputs(feature_map, class_text)
        x = torch.log1p(F.relu(pooled_feature(feature_map)))                   # (N, C)
        h_v = self.enc_v(x)                                                     # (N, hidden)
        v = self.tr_v(h_v)                                                      # (N, final)
        t_in = class_embeddings(class_text).to(x.dtype)                         # (K, D)
        h_t = self.enc_t(t_in)                                                  # (K, hidden)
        t = self.tr_t(h_t)                                                      # (K, final)
        scores = v @ t.t() / self.final                                         # (N, K)
        return HeadOutput(spatial=[scores], temporal=[], logit_scale=1.0,
                          extras={"x": x, "h_v": h_v, "v": v, "t_in": t_in, "h_t": h_t, "t": t})

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """Reconstructions + MMD + hinge (see the module docstring)."""
        e = output.extras
        recon_v = F.mse_loss(self.dec_v(e["h_v"]), e["x"])
        h_t = e["h_t"][labels]                                                  # (N, hidden): the clips' class codes
        recon_t = F.mse_loss(self.dec_t(h_t), e["t_in"][labels])
        mmd = mmd_rbf(e["h_v"], h_t, self.mmd_sigma2)
        t = e["t"].detach() if self.detach_text else e["t"]
        s = e["v"] @ t.t()                                                      # (N, K)
        pos = s.gather(1, labels[:, None])                                      # (N, 1)
        hinge = F.relu(s - pos + self.margin).scatter(1, labels[:, None], 0.0).sum(1).mean()
        return recon_v + recon_t + mmd + hinge


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, hidden=8, final=6, text_hidden=8, detach_text=False))
def revise(variant: str = "official", **kwargs) -> ReviseHead:
    """ReViSE head; ``variant="official"``: the SynSE re-implementation's widths and losses."""
    if variant != "official":
        raise ValueError(f"unknown revise variant {variant!r}; known: official")
    return ReviseHead(**kwargs)
