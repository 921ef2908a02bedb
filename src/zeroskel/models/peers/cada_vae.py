"""CADA-VAE head (Schönfeld et al., CVPR 2019, "Generalized Zero- and Few-Shot Learning via Aligned
Variational Autoencoders"), on pooled skeleton features and class text embeddings, in two variants:

- ``variant="paper"`` (``"official"`` is its former name, kept for saved runs): the CVPR'19 model below.
- ``variant="synse"``: the model behind the skeleton literature's CADA-VAE rows (SynSE's
  ``cada_vae/`` re-implementation, whose numbers Neuron, SA-DVAE and STAR print): single-layer
  encoders (one Linear to mu and to logvar), Linear + ReLU decoders, latent 100, mean-squared
  reconstruction, SynSE's cyclical KL and cross-reconstruction schedule counted in iterations
  (``zeroskel.models.peers.generative.cyclical_weights``, cross-reconstruction after 1400/1700 of each
  cycle), **no distribution-alignment term** (its weight is 0 there), one eps per sample broadcast
  over the latent (the code's quirk), and SynSE's classifier (ReLU on the logits, 500 text latents per
  unseen class, 100 skeleton latents per seen class, full-batch Adam 1e-3). Train it with Adam 1e-4
  (the bench's ``cada_vae-synse`` does).

Two VAEs share a latent space of ``latent_dim`` (paper: 64): one encodes the pooled skeleton feature
x = mean over (T', V) of F (N, C, T', V), the other a text a of x's class. The paper has one attribute
vector per class; we have N_a descriptions per phase, and by default (``text_input="descriptions"``)
each training pair takes one of the class's descriptions at random (of all phases, or of ``phase``),
so the text VAE sees many texts per class and generalises to unseen classes' texts (ours);
``text_input="mean"`` uses the class embedding (mean of the descriptions, L2-normalised).
Paper variant: encoders and decoders are one-hidden-layer ReLU MLPs (paper widths: skeleton encoder
1560, text encoder 1450, skeleton decoder 1660, text decoder 665). Per training pair (x, a = text of
x's class):

    L = L1(x, D_x(z_x)) + L1(a, D_a(z_a))                      reconstruction (sums over dims)
        + beta  * (KL(q(z|x) || N(0, I)) + KL(q(z|a) || N(0, I)))
        + gamma * (L1(x, D_x(z_a)) + L1(a, D_a(z_x)))           cross-reconstruction
        + delta * sqrt(|mu_x - mu_a|^2 + |sigma_x - sigma_a|^2)  distribution alignment
                                                                 (2-Wasserstein between diagonal Gaussians)

averaged over the batch. The paper's warm-up, in epochs of 100: beta 0 -> 0.25 over epochs 0..93,
gamma 0 -> 2.37 over 21..75, delta 0 -> 8.13 over 6..22 (``beta``, ``cross``, ``distance`` hold
(factor, start epoch, end epoch)). Epochs are those of the engine's trainer, which puts the head in
training mode once per epoch: the head counts those calls (buffer ``epochs_started``, saved with the
training state so a resumed job continues the schedule). The paper trains with Adam (lr 1.5e-4); the
engine's SGD needs a small learning rate for these summed losses (the bench uses ``head.lr=0.001``).
The synse variant (``schedule="cycles"``) counts iterations instead (buffer ``steps``).

Second stage (``post_fit``, after the VAE epochs; shared with SynSE and SA-DVAE in
``zeroskel.models.peers.generative``): a linear softmax classifier on latents, trained with Adam:
``feat_samples`` latents z ~ q(z|x) per seen class (drawn from that class's training clips and
views) and latents z ~ q(z|a) from the text VAE, a a random text of the candidate class c, for
every c (``text_samples_unseen`` for the unseen ones, ``text_samples_seen`` for the seen ones: the paper's GZSL setting uses 200
features per seen class and 400 text latents per unseen class; ours also adds text latents of the seen
classes, 50 by default). Everything is seeded from ``seed``. The classifier lives in fixed-size buffers
sized by ``max_classes`` (rows = global class ids, a mask marks the candidates), so the state_dict of a
fitted head reloads to identical scores. The SynSE code keeps the cycle whose classifier is best on
the unseen *test* classes; here the epoch is chosen on the validation protocol (see ``generative``).

Scores: before ``post_fit`` (and during training), the cosine between the skeleton and text latent
means (N, K), in [-1, 1]; after it (eval mode), the classifier's softmax probabilities over its
candidate classes, in [0, 1] (0 for a class it was not trained on). One "spatial" phase, no temporal
branch.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput
from ..registry import register_model
from .generative import (GenerativeHead, LinearGaussian, cyclical_weights, kl_per_sample, linear_decoder,
                         reparameterize, xavier_init)
from .global_align import class_embeddings, pooled_feature

__all__ = ["CadaVaeHead", "GaussianEncoder", "cada_vae", "warmup_factor", "VARIANTS"]

VARIANTS = ("paper", "synse")


def warmup_factor(epoch: int, factor: float, start: int, end: int) -> float:
    """Linear warm-up: 0 before ``start``, ``factor`` from ``end`` on."""
    if end <= start:
        return factor if epoch >= start else 0.0
    return factor * min(1.0, max(0.0, (epoch - start) / (end - start)))


class GaussianEncoder(nn.Module):
    """in -> hidden (ReLU) -> (mu, logvar), each (N, latent).

    Args:
        in_dim: input width.
        hidden_dim: hidden width.
        latent_dim: latent width.
    """

    def __init__(self, in_dim: int, hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU())
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.logvar = nn.Linear(hidden_dim, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x)
        return self.mu(h), self.logvar(h)


def decoder(latent_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


def _kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row: (N,)."""
    return kl_per_sample(mu, logvar)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().sum(-1)  # (N,)


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).mean(-1)  # (N,) element mean, so that .mean() over N is torch's MSELoss


class CadaVaeHead(GenerativeHead):
    """Cross- and distribution-aligned VAEs with a classifier on generated latents.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        latent_dim: shared latent width.
        feat_hidden: skeleton encoder / decoder hidden widths; ``None``: single-layer encoder and a
            Linear + ReLU decoder (the SynSE variant).
        text_hidden: text encoder / decoder hidden widths; ``None`` as for ``feat_hidden``.
        phase: class text entry that embeds a class, -1 for the mean over all of them.
        beta, cross, distance: (factor, start epoch, end epoch) warm-ups of the KL, cross-reconstruction
            and distribution-alignment weights (``schedule="epochs"``); with ``schedule="cycles"`` only
            ``distance``'s factor is read (the synse variant: 0).
        recon: ``l1`` (summed over dims, the paper) or ``mse`` (element mean, the SynSE code).
        schedule: ``epochs`` (the paper's warm-up) or ``cycles`` (SynSE's cyclical schedule, counted in
            iterations: ``cycle`` iterations per cycle, cross-reconstruction after ``cross_at`` of it).
        cycle, cross_at: the cyclical schedule.
        per_sample_eps: one eps per sample broadcast over the latent (the SynSE code) in training.
        max_classes, feat_samples, text_samples_seen, text_samples_unseen, cls_epochs, cls_lr,
            cls_batch_size, cls_betas, cls_relu: the second stage (``GenerativeHead``).
        text_input: "descriptions" (each training pair and each generated latent uses one random
            description of the class) or "mean" (the class embedding, as the paper's one attribute
            vector per class).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, latent_dim: int = 64,
                 feat_hidden: tuple[int, int] | None = (1560, 1660),
                 text_hidden: tuple[int, int] | None = (1450, 665),
                 phase: int = -1, beta: tuple[float, int, int] = (0.25, 0, 93),
                 cross: tuple[float, int, int] = (2.37, 21, 75), distance: tuple[float, int, int] = (8.13, 6, 22),
                 recon: str = "l1", schedule: str = "epochs", cycle: int = 1700, cross_at: float = 1400 / 1700,
                 per_sample_eps: bool = False,
                 max_classes: int = 128, feat_samples: int = 200, text_samples_seen: int = 50,
                 text_samples_unseen: int = 400, cls_epochs: int = 25, cls_lr: float = 1e-3,
                 cls_batch_size: int = 128, cls_betas: tuple[float, float] = (0.5, 0.999), cls_relu: bool = False,
                 text_input: str = "descriptions") -> None:
        super().__init__(feat_dim, text_dim, num_phases, latent_dim, max_classes=max_classes,
                         feat_samples=feat_samples, text_samples_seen=text_samples_seen,
                         text_samples_unseen=text_samples_unseen, cls_epochs=cls_epochs, cls_lr=cls_lr,
                         cls_batch_size=cls_batch_size, cls_betas=cls_betas, cls_relu=cls_relu)
        if not -1 <= phase < 2 * num_phases:
            raise ValueError(f"CadaVaeHead: phase must be -1 or in [0, {2 * num_phases}), got {phase}")
        if text_input not in ("descriptions", "mean"):
            raise ValueError(f"CadaVaeHead: text_input must be 'descriptions' or 'mean', got {text_input!r}")
        if recon not in ("l1", "mse"):
            raise ValueError(f"CadaVaeHead: recon must be 'l1' or 'mse', got {recon!r}")
        if schedule not in ("epochs", "cycles"):
            raise ValueError(f"CadaVaeHead: schedule must be 'epochs' or 'cycles', got {schedule!r}")
        self.phase, self.latent_dim = phase, latent_dim
        self.text_input, self.recon, self.schedule_kind = text_input, recon, schedule
        self.cycle, self.cross_at, self.per_sample_eps = int(cycle), float(cross_at), bool(per_sample_eps)
        self.schedule = {"beta": tuple(beta), "cross": tuple(cross), "distance": tuple(distance)}
        for key, value in self.schedule.items():
            if len(value) != 3:
                raise ValueError(f"CadaVaeHead: {key} must be (factor, start epoch, end epoch), got {value}")
        if feat_hidden is None:
            self.enc_x, self.dec_x = LinearGaussian(feat_dim, latent_dim), linear_decoder(latent_dim, feat_dim)
        else:
            self.enc_x = GaussianEncoder(feat_dim, feat_hidden[0], latent_dim)
            self.dec_x = decoder(latent_dim, feat_hidden[1], feat_dim)
        if text_hidden is None:
            self.enc_a, self.dec_a = LinearGaussian(text_dim, latent_dim), linear_decoder(latent_dim, text_dim)
        else:
            self.enc_a = GaussianEncoder(text_dim, text_hidden[0], latent_dim)
            self.dec_a = decoder(latent_dim, text_hidden[1], text_dim)
        if feat_hidden is None and text_hidden is None:
            xavier_init(self)  # the SynSE code's initialisation
        self.register_buffer("epochs_started", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ schedule
    def train(self, mode: bool = True) -> "CadaVaeHead":
        """The trainer enters training mode once per epoch: count the epochs for the warm-up."""
        if mode:
            self.epochs_started += 1
        return super().train(mode)

    @property
    def epoch(self) -> int:
        """0-based epoch of the warm-up schedule."""
        return max(0, int(self.epochs_started) - 1)

    def weights(self, step: int | None = None) -> dict[str, float]:
        """Current (beta, cross, distance) weights (``step``: the iteration, for ``schedule="cycles"``)."""
        if self.schedule_kind == "cycles":
            w = cyclical_weights(int(self.steps) if step is None else step, self.cycle, self.cross_at)
            return {"beta": w["kl"], "cross": w["cross"], "distance": self.schedule["distance"][0]}
        return {k: warmup_factor(self.epoch, *v) for k, v in self.schedule.items()}

    # ------------------------------------------------------------------ latents
    def texts(self, class_text: torch.Tensor) -> torch.Tensor:
        """class_text (P, K, N_a, D) -> (K, A, D): the inputs of the text VAE for each class, L2-normalised
        (``text_input="descriptions"``: each description of the chosen phase(s); ``"mean"``: A = 1, the
        class embedding)."""
        if self.text_input == "mean":
            return class_embeddings(class_text, self.phase).unsqueeze(1)  # (K, 1, D)
        text = class_text if self.phase < 0 else class_text[self.phase:self.phase + 1]  # (P', K, N_a, D)
        return F.normalize(text.float().permute(1, 0, 2, 3).flatten(1, 2), dim=-1)  # (K, P' * N_a, D)

    def feature_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_x(x)

    def text_latent(self, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_a(texts)

    # ------------------------------------------------------------------ forward / loss
    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (2P, K, N_a, D) -> one (N, K) score."""
        self.check_inputs(feature_map, class_text)
        x = pooled_feature(feature_map)  # (N, C)
        mu_x, logvar_x = self.enc_x(x)  # (N, L)
        extras = {"x": x, "mu_x": mu_x, "logvar_x": logvar_x}
        if not self.training and bool(self.fitted):
            return self.output(self.scores(mu_x, class_text), extras)
        extras["texts"] = self.texts(class_text).to(x.dtype)  # (K, A, D)
        mu_a, _ = self.enc_a(class_embeddings(class_text, self.phase).to(x.dtype))  # (K, L)
        scores = F.normalize(mu_x, dim=-1) @ F.normalize(mu_a, dim=-1).t()  # (N, K)
        return self.output(scores, extras)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """VAE + scheduled cross-reconstruction and distribution-alignment losses, batch mean. Each
        clip is paired with one text of its class (a random description, or the class embedding)."""
        e = output.extras
        if "texts" not in e:
            raise ValueError("CadaVaeHead.loss needs a training-mode forward (or an unfitted head)")
        step = self.count_step()
        x, mu_x, logvar_x, texts = e["x"], e["mu_x"], e["logvar_x"], e["texts"]
        pick = torch.randint(0, texts.shape[1], labels.shape, device=labels.device)
        a = texts[labels, pick]  # (N, D)
        mu_a, logvar_a = self.enc_a(a)  # (N, L)
        std_x, std_a = (0.5 * logvar_x).exp(), (0.5 * logvar_a).exp()
        z_x = reparameterize(mu_x, logvar_x, self.per_sample_eps)
        z_a = reparameterize(mu_a, logvar_a, self.per_sample_eps)
        w = self.weights(step)
        rec = _l1 if self.recon == "l1" else _mse
        recon = rec(self.dec_x(z_x), x) + rec(self.dec_a(z_a), a)
        kl = _kl(mu_x, logvar_x) + _kl(mu_a, logvar_a)
        total = recon + w["beta"] * kl
        if w["cross"] > 0:
            total = total + w["cross"] * (rec(self.dec_x(z_a), x) + rec(self.dec_a(z_x), a))
        if w["distance"] > 0:
            dist = ((mu_x - mu_a).pow(2).sum(-1) + (std_x - std_a).pow(2).sum(-1) + 1e-12).sqrt()
            total = total + w["distance"] * dist
        return total.mean()


_SYNSE = dict(latent_dim=100, feat_hidden=None, text_hidden=None, recon="mse", schedule="cycles",
              cycle=1700, cross_at=1400 / 1700, distance=(0.0, 0, 0), per_sample_eps=True,
              feat_samples=100, text_samples_seen=0, text_samples_unseen=500, cls_epochs=300,
              cls_batch_size=0, cls_betas=(0.9, 0.999), cls_relu=True)


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, latent_dim=8, feat_hidden=(24, 24),
                                 text_hidden=(20, 20), max_classes=16, feat_samples=10, text_samples_seen=5,
                                 text_samples_unseen=10, cls_epochs=3))
def cada_vae(variant: str = "paper", **kwargs) -> CadaVaeHead:
    """CADA-VAE head; ``variant="paper"`` (alias ``official``): the CVPR'19 widths, latent size and
    warm-up; ``"synse"``: the SynSE repository's version (the literature's CADA-VAE rows)."""
    if variant == "official":
        variant = "paper"
    if variant not in VARIANTS:
        raise ValueError(f"unknown cada_vae variant {variant!r}; known: {', '.join(VARIANTS)} (official = paper)")
    for key in ("feat_hidden", "text_hidden", "beta", "cross", "distance", "cls_betas"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    if variant == "synse":
        kwargs = {**_SYNSE, **kwargs}
    return CadaVaeHead(**kwargs)
