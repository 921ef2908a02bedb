"""SA-DVAE head (Li et al., ECCV 2024, "SA-DVAE: Improving Zero-Shot Skeleton-Based Action Recognition
by Disentangled Variational Autoencoders"), on pooled skeleton features and one text per class,
written from the paper and the behaviour of its code (``pha123661/SA-DVAE``, built on SynSE's).

The skeleton latent is split: the skeleton VAE (one Linear to mu and to logvar, width Ls + Li) gives a
**semantic** part z_s (first Ls dims, aligned with text) and a **style** part z_i (last Li dims, what
the text cannot say: the performer, the speed). The skeleton decoder (Linear + ReLU) reads [z_s, z_i];
the text VAE (Linear to Ls; decoder Linear + ReLU) encodes the class text t. A discriminator
D = Linear(Ls+Li -> (Ls+Li)/4)-ReLU-Linear(-> 1)-Sigmoid tells joint samples [z_s, z_i] from samples
of the product of the marginals (z_s and z_i permuted independently across the batch); its output on
joint samples is a total-correlation penalty that pushes z_s and z_i towards independence. Per
iteration, with beta1 = the skeleton KL weight, beta2 = the text KL weight (from the third cycle on)
and cr = the cross-reconstruction switch of ``zeroskel.models.peers.generative.cyclical_weights``
(cross-reconstruction and beta2 start at 0.8 of each cycle):

    L = MSE(s, D_s([z_s, z_i])) + MSE(t, D_t(z_t)) + beta1 (KL_s + KL_i) + beta2 KL_t
        + cr [MSE(s, D_s([z_t, z_i])) + MSE(t, D_t(z_s))] + beta2 mean(D([z_s, z_i]))

and, every ``dis_step`` iterations, the discriminator's loss
beta2 / 2 [BCE(D([z_s, z_i]), 1) + BCE(D(perm), 0) + the same with z_t in place of z_s].
The code trains D with its own Adam at the same learning rate; here one optimiser does both: the
total-correlation term goes through D with D's weights detached (``torch.func.functional_call``), the
discriminator's loss sees detached latents, so each part only moves its own weights, as with two
optimisers. The code's schedule restarts every epoch (M iterations); ``cycle`` is that M here (the
bench sets it for the small datasets), 10 cycles.

Text: one text per class. ``text_input="descriptions"`` (default) pairs each clip with a random one of
its class's side-information descriptions (the paper's best text is a descriptive label); ``"mean"``
uses the class embedding. Hyperparameters per split (Ls, Li, dis_step and the training's lr and batch)
are named presets in ``sa_dvae_presets.json`` (variants of this head; the bench applies their
training part).

Second stage (``GenerativeHead.post_fit``): classifier Linear(Ls -> classes) with ReLU on the logits,
Adam 1e-3, full-batch, on 500 text latents per unseen class (plus skeleton latents z_s of the seen
classes, for GZSL), applied to the clip's mu_s. The code keeps the epoch whose classifier is best on
the unseen **test** classes and calibrates GZSL with SynSE's gating on a validation split; here the
epoch and the calibrated-stacking factor come from the validation protocol and the test split is read
once.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from ..heads import HeadOutput
from ..registry import register_model
from .generative import (GenerativeHead, LinearGaussian, cyclical_weights, kl_per_sample, linear_decoder,
                         reparameterize, xavier_init)
from .global_align import class_embeddings, pooled_feature

__all__ = ["SaDvaeHead", "sa_dvae", "presets", "permute_dims"]


@lru_cache(maxsize=None)
def _presets_file() -> dict:
    return json.loads((resources.files("zeroskel.models.peers") / "sa_dvae_presets.json").read_text("utf-8"))


def presets() -> dict[str, dict]:
    """Preset name -> {"head": {...}, "train": {"lr", "batch_size"}, "source": str}."""
    return {k: {kk: (dict(vv) if isinstance(vv, dict) else vv) for kk, vv in v.items()}
            for k, v in _presets_file()["presets"].items()}


def permute_dims(z_s: torch.Tensor, z_i: torch.Tensor) -> torch.Tensor:
    """[z_s, z_i] (N, Ls), (N, Li) -> (N, Ls + Li) with each part's rows shuffled independently:
    samples of the product of the two marginals."""
    n = z_s.shape[0]
    return torch.cat([z_s[torch.randperm(n, device=z_s.device)], z_i[torch.randperm(n, device=z_i.device)]], -1)


def _bce(p: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy(p.clamp(1e-6, 1 - 1e-6), torch.full_like(p, target))


class SaDvaeHead(GenerativeHead):
    """Semantic / style split skeleton VAE, text VAE, total-correlation discriminator.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        latent_dim: Ls, the semantic latent (shared with the text VAE; the classifier reads it).
        style_dim: Li, the style latent.
        dis_step: the discriminator's loss is added every ``dis_step`` iterations.
        cycle, cross_at: the cyclical schedule (iterations per cycle; cross-reconstruction and the text
            KL after ``cross_at`` of each cycle).
        per_sample_eps: one eps per sample broadcast over the latent (the code) in training.
        phase: class-text entry for the text (-1: all).
        text_input: ``descriptions`` (a random description per pair) or ``mean`` (the class embedding).
        max_classes, feat_samples, text_samples_seen, text_samples_unseen, cls_epochs, cls_lr,
            cls_batch_size, cls_betas, cls_relu: the second stage (``GenerativeHead``).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, latent_dim: int = 160,
                 style_dim: int = 8, dis_step: int = 5, cycle: int = 1700, cross_at: float = 0.8,
                 per_sample_eps: bool = True, phase: int = -1, text_input: str = "descriptions",
                 max_classes: int = 128, feat_samples: int = 100, text_samples_seen: int = 0,
                 text_samples_unseen: int = 500, cls_epochs: int = 300, cls_lr: float = 1e-3,
                 cls_batch_size: int = 0, cls_betas: tuple[float, float] = (0.9, 0.999),
                 cls_relu: bool = True) -> None:
        super().__init__(feat_dim, text_dim, num_phases, latent_dim, max_classes=max_classes,
                         feat_samples=feat_samples, text_samples_seen=text_samples_seen,
                         text_samples_unseen=text_samples_unseen, cls_epochs=cls_epochs, cls_lr=cls_lr,
                         cls_batch_size=cls_batch_size, cls_betas=cls_betas, cls_relu=cls_relu)
        if latent_dim < 1 or style_dim < 1 or dis_step < 1:
            raise ValueError(f"SaDvaeHead: latent_dim, style_dim and dis_step must be >= 1, got "
                             f"{latent_dim}, {style_dim}, {dis_step}")
        if not -1 <= phase < 2 * num_phases:
            raise ValueError(f"SaDvaeHead: phase must be -1 or in [0, {2 * num_phases}), got {phase}")
        if text_input not in ("descriptions", "mean"):
            raise ValueError(f"SaDvaeHead: text_input must be 'descriptions' or 'mean', got {text_input!r}")
        self.latent_dim, self.style_dim, self.dis_step = latent_dim, style_dim, dis_step
        self.cycle, self.cross_at, self.per_sample_eps = int(cycle), float(cross_at), bool(per_sample_eps)
        self.phase, self.text_input = phase, text_input
        width = latent_dim + style_dim
        self.enc_s, self.dec_s = LinearGaussian(feat_dim, width), linear_decoder(width, feat_dim)
        self.enc_t, self.dec_t = LinearGaussian(text_dim, latent_dim), linear_decoder(latent_dim, text_dim)
        self.disc = nn.Sequential(nn.Linear(width, max(1, width // 4)), nn.ReLU(), nn.Linear(max(1, width // 4), 1),
                                  nn.Sigmoid())
        xavier_init(self)

    # ------------------------------------------------------------------ latents
    def texts(self, class_text: torch.Tensor) -> torch.Tensor:
        """class_text (P, K, N_a, D) -> (K, A, D) text inputs per class, L2-normalised."""
        if self.text_input == "mean":
            return class_embeddings(class_text, self.phase).unsqueeze(1)  # (K, 1, D)
        text = class_text if self.phase < 0 else class_text[self.phase:self.phase + 1]  # (P', K, N_a, D)
        return F.normalize(text.float().permute(1, 0, 2, 3).flatten(1, 2), dim=-1)  # (K, P' * N_a, D)

    def feature_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc_s(x)  # (N, Ls + Li)
        return mu[:, :self.latent_dim], logvar[:, :self.latent_dim]

    def text_latent(self, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_t(texts)

    # ------------------------------------------------------------------ forward / loss
    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P, K, N_a, D) -> one (N, K) score."""
        self.check_inputs(feature_map, class_text)
        s = pooled_feature(feature_map)  # (N, C)
        mu, logvar = self.enc_s(s)  # (N, Ls + Li)
        extras = {"x": s, "mu_x": mu, "logvar_x": logvar}
        if self.training or not bool(self.fitted):
            extras["texts"] = self.texts(class_text).to(s.dtype)  # (K, A, D)
        return self.output(self.scores(mu[:, :self.latent_dim], class_text), extras)

    def weights(self, step: int | None = None) -> dict[str, float]:
        """(kl, kl_text, cross) at iteration ``step`` (default: the next one)."""
        return cyclical_weights(int(self.steps) if step is None else step, self.cycle, self.cross_at)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """The SA-DVAE objective of one iteration, plus the discriminator's loss every ``dis_step``."""
        e = output.extras
        if "texts" not in e:
            raise ValueError("SaDvaeHead.loss needs a training-mode forward (or an unfitted head)")
        step = self.count_step()
        w = self.weights(step)
        s, mu, logvar, texts = e["x"], e["mu_x"], e["logvar_x"], e["texts"]
        pick = torch.randint(0, texts.shape[1], labels.shape, device=labels.device)
        t = texts[labels, pick]  # (N, D)
        mu_t, lv_t = self.enc_t(t)  # (N, Ls)
        z = reparameterize(mu, logvar, self.per_sample_eps)  # (N, Ls + Li)
        z_s, z_i = z[:, :self.latent_dim], z[:, self.latent_dim:]
        z_t = reparameterize(mu_t, lv_t, self.per_sample_eps)  # (N, Ls)
        loss = F.mse_loss(self.dec_s(z), s) + F.mse_loss(self.dec_t(z_t), t)
        loss = loss + w["kl"] * kl_per_sample(mu, logvar).mean()  # KL_s + KL_i: one sum over Ls + Li
        if w["cross"] > 0:
            loss = loss + w["cross"] * (F.mse_loss(self.dec_s(torch.cat([z_t, z_i], -1)), s)
                                        + F.mse_loss(self.dec_t(z_s), t))
        if w["kl_text"] > 0:
            frozen = {k: v.detach() for k, v in self.disc.named_parameters()}
            tc = functional_call(self.disc, frozen, (z,)).mean()  # total-correlation penalty
            loss = loss + w["kl_text"] * (kl_per_sample(mu_t, lv_t).mean() + tc)
            if step % self.dis_step == 0:
                zd, zi, zt = z.detach(), z_i.detach(), z_t.detach()
                dis = (_bce(self.disc(zd), 1.0) + _bce(self.disc(permute_dims(zd[:, :self.latent_dim], zi)), 0.0)
                       + _bce(self.disc(torch.cat([zt, zi], -1)), 1.0) + _bce(self.disc(permute_dims(zt, zi)), 0.0))
                loss = loss + w["kl_text"] * 0.5 * dis
        return loss


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, latent_dim=8, style_dim=4, dis_step=2,
                                 max_classes=16, feat_samples=10, text_samples_unseen=10, cls_epochs=5,
                                 cycle=20))
def sa_dvae(variant: str = "kinect", **kwargs) -> SaDvaeHead:
    """SA-DVAE head; ``variant`` names a preset of ``sa_dvae_presets.json`` (its ``head`` part:
    latent_dim, style_dim, dis_step); keyword arguments override it."""
    table = presets()
    if variant not in table:
        raise ValueError(f"unknown sa_dvae variant {variant!r}; known: {', '.join(table)}")
    if isinstance(kwargs.get("cls_betas"), list):
        kwargs["cls_betas"] = tuple(kwargs["cls_betas"])
    return SaDvaeHead(**{**table[variant]["head"], **kwargs})
