"""CADA-VAE head (Schönfeld et al., CVPR 2019, "Generalized Zero- and Few-Shot Learning via Aligned
Variational Autoencoders"), on pooled skeleton features and class text embeddings.

Two VAEs share a latent space of ``latent_dim`` (paper: 64): one encodes the pooled skeleton feature
x = mean over (T', V) of F (N, C, T', V), the other a text a of x's class. The paper has one attribute
vector per class; we have N_a descriptions per phase, and by default (``text_input="descriptions"``)
each training pair takes one of the class's descriptions at random (of all phases, or of ``phase``),
so the text VAE sees many texts per class and generalises to unseen classes' texts (ours);
``text_input="mean"`` uses the class embedding (mean of the descriptions, L2-normalised).
Encoders and decoders are one-hidden-layer ReLU MLPs (paper widths: skeleton encoder 1560, text encoder
1450, skeleton decoder 1660, text decoder 665). Per training pair (x, a = text of x's class):

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

Second stage (``post_fit``, after the VAE epochs): a linear softmax classifier on latents, trained with
Adam: ``feat_samples`` latents z ~ q(z|x) per seen class (drawn from that class's training clips and
views) and latents z ~ q(z|a) from the text VAE, a a random text of the candidate class c, for
every c (``text_samples_unseen`` for the unseen ones, ``text_samples_seen`` for the seen ones: the paper's GZSL setting uses 200
features per seen class and 400 text latents per unseen class; ours also adds text latents of the seen
classes, 50 by default). Everything is seeded from ``seed``. The classifier lives in fixed-size buffers
sized by ``max_classes`` (rows = global class ids, a mask marks the candidates), so the state_dict of a
fitted head reloads to identical scores.

Scores: before ``post_fit`` (and during training), the cosine between the skeleton and text latent
means (N, K), in [-1, 1]; after it (eval mode), the classifier's softmax probabilities over its
candidate classes, in [0, 1] (0 for a class it was not trained on). One "spatial" phase, no temporal
branch.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from ..registry import register_model
from .global_align import class_embeddings, pooled_feature

__all__ = ["CadaVaeHead", "GaussianEncoder", "cada_vae", "warmup_factor"]


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
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().sum(-1)  # (N,)


class CadaVaeHead(ZeroShotHead):
    """Cross- and distribution-aligned VAEs with a classifier on generated latents.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        latent_dim: shared latent width.
        feat_hidden: skeleton encoder / decoder hidden widths.
        text_hidden: text encoder / decoder hidden widths.
        phase: class text entry that embeds a class, -1 for the mean over all of them.
        beta, cross, distance: (factor, start epoch, end epoch) warm-ups of the KL, cross-reconstruction
            and distribution-alignment weights.
        max_classes: most classes the classifier can hold (rows indexed by global class id).
        feat_samples: skeleton latents per seen class for the classifier.
        text_samples_seen, text_samples_unseen: text latents per seen / unseen candidate class.
        cls_epochs, cls_lr, cls_batch_size: the classifier's Adam training.
        text_input: "descriptions" (each training pair and each generated latent uses one random
            description of the class) or "mean" (the class embedding, as the paper's one attribute
            vector per class).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, latent_dim: int = 64,
                 feat_hidden: tuple[int, int] = (1560, 1660), text_hidden: tuple[int, int] = (1450, 665),
                 phase: int = -1, beta: tuple[float, int, int] = (0.25, 0, 93),
                 cross: tuple[float, int, int] = (2.37, 21, 75), distance: tuple[float, int, int] = (8.13, 6, 22),
                 max_classes: int = 128, feat_samples: int = 200, text_samples_seen: int = 50,
                 text_samples_unseen: int = 400, cls_epochs: int = 25, cls_lr: float = 1e-3,
                 cls_batch_size: int = 128, text_input: str = "descriptions") -> None:
        super().__init__(feat_dim, text_dim, num_phases, 1.0, (1.0, 0.0))
        if not -1 <= phase < 2 * num_phases:
            raise ValueError(f"CadaVaeHead: phase must be -1 or in [0, {2 * num_phases}), got {phase}")
        if text_input not in ("descriptions", "mean"):
            raise ValueError(f"CadaVaeHead: text_input must be 'descriptions' or 'mean', got {text_input!r}")
        self.phase, self.latent_dim, self.max_classes = phase, latent_dim, max_classes
        self.text_input = text_input
        self.schedule = {"beta": tuple(beta), "cross": tuple(cross), "distance": tuple(distance)}
        for key, value in self.schedule.items():
            if len(value) != 3:
                raise ValueError(f"CadaVaeHead: {key} must be (factor, start epoch, end epoch), got {value}")
        self.feat_samples, self.text_samples = feat_samples, (text_samples_seen, text_samples_unseen)
        self.cls_epochs, self.cls_lr, self.cls_batch_size = cls_epochs, cls_lr, cls_batch_size
        self.enc_x = GaussianEncoder(feat_dim, feat_hidden[0], latent_dim)
        self.dec_x = decoder(latent_dim, feat_hidden[1], feat_dim)
        self.enc_a = GaussianEncoder(text_dim, text_hidden[0], latent_dim)
        self.dec_a = decoder(latent_dim, text_hidden[1], text_dim)
        # second stage, fixed size so that the state_dict round-trips
        self.register_buffer("cls_weight", torch.zeros(max_classes, latent_dim))
        self.register_buffer("cls_bias", torch.zeros(max_classes))
        self.register_buffer("class_mask", torch.zeros(max_classes, dtype=torch.bool))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
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

    def weights(self) -> dict[str, float]:
        """Current (beta, cross, distance) weights."""
        return {k: warmup_factor(self.epoch, *v) for k, v in self.schedule.items()}

    # ------------------------------------------------------------------ forward / loss
    def texts(self, class_text: torch.Tensor) -> torch.Tensor:
        """class_text (P, K, N_a, D) -> (K, A, D): the inputs of the text VAE for each class, L2-normalised
        (``text_input="descriptions"``: each description of the chosen phase(s); ``"mean"``: A = 1, the
        class embedding)."""
        if self.text_input == "mean":
            return class_embeddings(class_text, self.phase).unsqueeze(1)  # (K, 1, D)
        text = class_text if self.phase < 0 else class_text[self.phase:self.phase + 1]  # (P', K, N_a, D)
        return F.normalize(text.float().permute(1, 0, 2, 3).flatten(1, 2), dim=-1)  # (K, P' * N_a, D)

    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (2P, K, N_a, D) -> one (N, K) score."""
        self.check_inputs(feature_map, class_text)
        k = class_text.shape[1]
        x = pooled_feature(feature_map)  # (N, C)
        mu_x, logvar_x = self.enc_x(x)  # (N, L)
        extras = {"x": x, "mu_x": mu_x, "logvar_x": logvar_x}
        if not self.training and bool(self.fitted):
            if k > self.max_classes:
                raise ValueError(f"CadaVaeHead: {k} classes but max_classes={self.max_classes}")
            logits = mu_x @ self.cls_weight[:k].t() + self.cls_bias[:k]  # (N, K)
            logits = logits.masked_fill(~self.class_mask[:k], float("-inf"))
            scores = torch.softmax(logits, dim=-1)
        else:
            texts = self.texts(class_text).to(x.dtype)  # (K, A, D)
            mu_a, _ = self.enc_a(class_embeddings(class_text, self.phase).to(x.dtype))  # (K, L)
            extras["texts"] = texts
            scores = F.normalize(mu_x, dim=-1) @ F.normalize(mu_a, dim=-1).t()  # (N, K)
        return HeadOutput(spatial=[scores], temporal=[], logit_scale=1.0, extras=extras)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """VAE + warmed-up cross-reconstruction and distribution-alignment losses, batch mean. Each
        clip is paired with one text of its class (a random description, or the class embedding)."""
        e = output.extras
        if "texts" not in e:
            raise ValueError("CadaVaeHead.loss needs a training-mode forward (or an unfitted head)")
        x, mu_x, logvar_x, texts = e["x"], e["mu_x"], e["logvar_x"], e["texts"]
        pick = torch.randint(0, texts.shape[1], labels.shape, device=labels.device)
        a = texts[labels, pick]  # (N, D)
        mu_a, logvar_a = self.enc_a(a)  # (N, L)
        std_x, std_a = (0.5 * logvar_x).exp(), (0.5 * logvar_a).exp()
        z_x = mu_x + std_x * torch.randn_like(std_x)
        z_a = mu_a + std_a * torch.randn_like(std_a)
        w = self.weights()
        recon = _l1(self.dec_x(z_x), x) + _l1(self.dec_a(z_a), a)
        kl = _kl(mu_x, logvar_x) + _kl(mu_a, logvar_a)
        cross = _l1(self.dec_x(z_a), x) + _l1(self.dec_a(z_x), a)
        dist = ((mu_x - mu_a).pow(2).sum(-1) + (std_x - std_a).pow(2).sum(-1) + 1e-12).sqrt()
        return (recon + w["beta"] * kl + w["cross"] * cross + w["distance"] * dist).mean()

    # ------------------------------------------------------------------ second stage
    @torch.no_grad()
    def _latents(self, feats: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor, seen: Sequence[int],
                 candidates: Sequence[int], device: torch.device,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Classifier training set: (M, L) latents and their global class ids (M,)."""
        views, n = feats.shape[:2]
        zs, ys = [], []
        seen_set = {int(c) for c in seen}
        lab = labels.long().repeat(views)  # (views * N,) matches the flattened rows below
        for c in sorted(seen_set):
            rows = torch.nonzero(lab == c).flatten()
            if len(rows) == 0 or self.feat_samples <= 0:
                continue
            pick = rows[torch.randint(0, len(rows), (self.feat_samples,), generator=g)]
            fmap = feats.reshape(views * n, *feats.shape[2:])[pick]  # (S, C, T', V)
            mu, logvar = self.enc_x(pooled_feature(fmap.to(device).float()))
            eps = torch.randn(mu.shape, generator=g).to(device)
            zs.append(mu + (0.5 * logvar).exp() * eps)
            ys.append(torch.full((len(pick),), c, dtype=torch.long))
        texts = self.texts(class_text).to(device)  # (K_all, A, D)
        for c in candidates:
            count = self.text_samples[0] if int(c) in seen_set else self.text_samples[1]
            if count <= 0:
                continue
            pick = torch.randint(0, texts.shape[1], (count,), generator=g).to(device)
            mu, logvar = self.enc_a(texts[int(c), pick])  # (count, L)
            eps = torch.randn(count, self.latent_dim, generator=g).to(device)
            zs.append(mu + (0.5 * logvar).exp() * eps)
            ys.append(torch.full((count,), int(c), dtype=torch.long))
        return torch.cat(zs).float(), torch.cat(ys).to(device)

    def post_fit(self, *, feats: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor,
                 seen: Sequence[int], candidates: Sequence[int], device: torch.device | str, seed: int) -> None:
        """Fit the softmax classifier on skeleton latents of the seen classes and text latents of every
        candidate class. ``feats`` (views, N, C, T', V), ``labels`` (N,) global ids."""
        device = torch.device(device)
        cand = sorted({int(c) for c in candidates} | {int(c) for c in seen})
        if not cand or max(cand) >= self.max_classes:
            raise ValueError(f"CadaVaeHead.post_fit: class ids {cand[-1:]} do not fit max_classes={self.max_classes}")
        g = torch.Generator().manual_seed(int(seed))
        z, y = self._latents(feats, labels, class_text, seen, cand, device, g)
        index = torch.full((self.max_classes,), -1, dtype=torch.long, device=device)
        index[torch.tensor(cand, device=device)] = torch.arange(len(cand), device=device)
        target = index[y]  # (M,) local ids
        weight = nn.Parameter(torch.randn(len(cand), self.latent_dim, generator=g).to(device) * 0.01)
        bias = nn.Parameter(torch.zeros(len(cand), device=device))
        opt = torch.optim.Adam([weight, bias], lr=self.cls_lr, betas=(0.5, 0.999))
        with torch.enable_grad():
            for _ in range(self.cls_epochs):
                order = torch.randperm(len(z), generator=g).to(device)
                for i in range(0, len(z), self.cls_batch_size):
                    idx = order[i:i + self.cls_batch_size]
                    loss = F.cross_entropy(z[idx] @ weight.t() + bias, target[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
        with torch.no_grad():
            ids = torch.tensor(cand, device=self.cls_weight.device)
            self.cls_weight.zero_()
            self.cls_bias.zero_()
            self.class_mask.zero_()
            self.cls_weight[ids] = weight.detach().to(self.cls_weight.device)
            self.cls_bias[ids] = bias.detach().to(self.cls_bias.device)
            self.class_mask[ids] = True
            self.fitted.fill_(True)


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, latent_dim=8, feat_hidden=(24, 24),
                                 text_hidden=(20, 20), max_classes=16, feat_samples=10, text_samples_seen=5,
                                 text_samples_unseen=10, cls_epochs=3))
def cada_vae(variant: str = "official", **kwargs) -> CadaVaeHead:
    """CADA-VAE head; ``variant="official"``: the paper's widths, latent size and warm-up."""
    if variant != "official":
        raise ValueError(f"unknown cada_vae variant {variant!r}; known: official")
    for key in ("feat_hidden", "text_hidden", "beta", "cross", "distance"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    return CadaVaeHead(**kwargs)
