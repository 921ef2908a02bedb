"""What the generative peers (CADA-VAE, SynSE, SA-DVAE) share: a per-iteration step counter, the
cyclical KL / cross-reconstruction schedule of SynSE and SA-DVAE, single-layer Gaussian encoders, and
the second stage: a softmax classifier trained on generated latents.

Step counter. ``GenerativeHead.steps`` (a buffer, saved with the head and the training state, so a
resumed job continues the schedule) counts training iterations: ``count_step()`` is called once per
``loss()`` in training mode and returns the 0-based index of the current iteration.

Cyclical schedule (SynSE ``synse_training.py``, SA-DVAE ``train.py``). Training is cut into cycles of
``cycle`` iterations (SynSE: 1700 for NTU-60 55/5, 1900 otherwise; SA-DVAE: one epoch of M
iterations); with i the iteration inside the cycle and s = cycle / 1700:

    kl       = max(0.1 * (i - 1000 s) / (3000 s), 0)             skeleton KL weight
    cross    = 1 if i > cross_at * cycle else 0                  cross-reconstruction on / off
    kl_text  = max(0.1 * (i - cross_at * cycle) / (3000 s), 0)   text KL weight, from the third cycle on

(``cross_at``: 1400/1700 in SynSE, 0.8 in SA-DVAE). The published cycle lengths assume NTU's tens of
thousands of iterations; the small Kinect datasets give a few thousand, so the heads take ``cycle``
as an option and the bench sets it (the shape of the schedule is kept, its length scaled).

Second stage (``post_fit``, run by the engine before each validation and before saving the final
head): latents z ~ q(z | text) of ``text_samples_unseen`` random texts per unseen candidate class and
``text_samples_seen`` per seen class, plus ``feat_samples`` latents z ~ q(z | x) of training clips per
seen class (GZSL needs the seen classes in the classifier; the official codes add seen-class latents
in their GZSL variants), train a linear classifier (``cls_relu``: ReLU on the logits, as the SynSE and
SA-DVAE classifiers ``MLP([L, n])`` have) with Adam; scores are its softmax over the candidate
classes, applied to the mean latent of the clip. The classifier lives in fixed-size buffers (rows =
global class ids, a mask marks the candidates), so the state_dict of a fitted head reloads to
identical scores. Everything is seeded from ``seed``.

Model selection. The official SynSE and SA-DVAE codes re-fit the classifier after every cycle / epoch
and keep the one with the best accuracy on the unseen **test** classes. Here the engine re-fits it
after every epoch on the *validation protocol* (pseudo-unseen classes held out of the seen classes)
and chooses the epoch there; GZSL is calibrated stacking with the factor chosen on the same protocol.
The test split is read once, by the final evaluation.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..heads import HeadOutput, ZeroShotHead
from .global_align import pooled_feature

__all__ = ["GenerativeHead", "LinearGaussian", "cyclical_weights", "reparameterize", "kl_per_sample",
           "linear_decoder", "xavier_init"]


def cyclical_weights(step: int, cycle: int, cross_at: float) -> dict[str, float]:
    """SynSE / SA-DVAE weights at 0-based iteration ``step`` (see the module docstring)."""
    if cycle < 1:
        raise ValueError(f"cycle must be >= 1 iteration, got {cycle}")
    i, k = step % cycle, step // cycle
    s = cycle / 1700.0
    start = cross_at * cycle
    return {"kl": max(0.1 * (i - 1000.0 * s) / (3000.0 * s), 0.0),
            "cross": 1.0 if i > start else 0.0,
            "kl_text": max(0.1 * (i - start) / (3000.0 * s), 0.0) if k >= 2 else 0.0}


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, per_sample_eps: bool = False,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps; ``per_sample_eps``: one eps per row broadcast over the latent
    dims (the SynSE / SA-DVAE codes' ``randn(N, 1)``), else one per entry."""
    shape = (mu.shape[0], 1) if per_sample_eps else tuple(mu.shape)
    if generator is None:
        eps = torch.randn(shape, device=mu.device, dtype=mu.dtype)
    else:
        eps = torch.randn(shape, generator=generator).to(device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def kl_per_sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row: (N,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def xavier_init(module: nn.Module, gain: float = 0.5) -> None:
    """Xavier-uniform weights (gain 0.5, as the SynSE / SA-DVAE codes) and zero biases of every Linear."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight, gain=gain)
            nn.init.zeros_(m.bias)


class LinearGaussian(nn.Module):
    """One linear layer to (mu, logvar), each (N, latent): SynSE's ``Encoder([in, latent])``.

    Args:
        in_dim: input width.
        latent_dim: latent width.
    """

    def __init__(self, in_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.mu = nn.Linear(in_dim, latent_dim)
        self.logvar = nn.Linear(in_dim, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(x), self.logvar(x)


def linear_decoder(latent_dim: int, out_dim: int) -> nn.Module:
    """Linear + ReLU: SynSE's ``Decoder([latent, out])``."""
    return nn.Sequential(nn.Linear(latent_dim, out_dim), nn.ReLU())


class GenerativeHead(ZeroShotHead):
    """Base of the heads that classify generated latents (pooled skeleton feature, one spatial phase).

    A subclass defines the VAEs and three methods: ``feature_latent(x)`` -> (mu, logvar) of the
    classifier's latent for pooled features x (N, C); ``text_latent(texts, g)`` -> (mu, logvar) for
    per-class text inputs as returned by ``texts`` and indexed by rows; ``texts(class_text)`` -> a
    tensor (K, A, ...) of the A text inputs of each class. Before ``post_fit`` (and in training) the
    scores are the cosine between the clip's latent mean and the class's mean text latent.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        cls_dim: width of the latent the classifier reads.
        max_classes: most classes the classifier can hold (rows indexed by global class id).
        feat_samples: skeleton latents per seen class for the classifier.
        text_samples_seen, text_samples_unseen: text latents per seen / unseen candidate class.
        cls_epochs, cls_lr, cls_batch_size: the classifier's Adam training (``cls_batch_size`` 0: full
            batch, one step per epoch, as the official codes).
        cls_betas: the classifier's Adam betas.
        cls_relu: ReLU on the classifier's logits (the SynSE / SA-DVAE classifier).
    """

    # The engine also reports SynSE's GZSL gate for these heads (``zeroskel.train.gating``).
    gzsl_gating = True

    def __init__(self, feat_dim: int, text_dim: int, num_phases: int, cls_dim: int, *, max_classes: int = 128,
                 feat_samples: int = 200, text_samples_seen: int = 50, text_samples_unseen: int = 400,
                 cls_epochs: int = 25, cls_lr: float = 1e-3, cls_batch_size: int = 128,
                 cls_betas: tuple[float, float] = (0.5, 0.999), cls_relu: bool = False) -> None:
        super().__init__(feat_dim, text_dim, num_phases, 1.0, (1.0, 0.0))
        self.cls_dim, self.max_classes = cls_dim, max_classes
        self.feat_samples, self.text_samples = feat_samples, (text_samples_seen, text_samples_unseen)
        self.cls_epochs, self.cls_lr, self.cls_batch_size = cls_epochs, cls_lr, cls_batch_size
        self.cls_betas, self.cls_relu = tuple(cls_betas), bool(cls_relu)
        self.register_buffer("cls_weight", torch.zeros(max_classes, cls_dim))
        self.register_buffer("cls_bias", torch.zeros(max_classes))
        self.register_buffer("class_mask", torch.zeros(max_classes, dtype=torch.bool))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ to implement
    def feature_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def text_latent(self, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def texts(self, class_text: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def count_step(self) -> int:
        """0-based index of this training iteration; advances the counter in training mode only."""
        step = int(self.steps)
        if self.training:
            self.steps += 1
        return step

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # heads saved before the step counter existed (CADA-VAE checkpoints) load with steps = 0
        state_dict.setdefault(prefix + "steps", torch.zeros((), dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def mean_text_latent(self, class_text: torch.Tensor) -> torch.Tensor:
        """(K, cls_dim): each class's text latent mean, averaged over its text inputs."""
        texts = self.texts(class_text)  # (K, A, ...)
        mu, _ = self.text_latent(texts.flatten(0, 1))  # (K * A, L)
        return mu.reshape(texts.shape[0], texts.shape[1], -1).mean(1)  # (K, L)

    def scores(self, mu_x: torch.Tensor, class_text: torch.Tensor) -> torch.Tensor:
        """(N, K): classifier softmax once fitted (eval mode), else cosine to the mean text latents."""
        k = class_text.shape[1]
        if not self.training and bool(self.fitted):
            if k > self.max_classes:
                raise ValueError(f"{type(self).__name__}: {k} classes but max_classes={self.max_classes}")
            logits = self.classifier_logits(mu_x, self.cls_weight[:k], self.cls_bias[:k])  # (N, K)
            logits = logits.masked_fill(~self.class_mask[:k], float("-inf"))
            return torch.softmax(logits, dim=-1)
        return F.normalize(mu_x, dim=-1) @ F.normalize(self.mean_text_latent(class_text).to(mu_x.dtype), dim=-1).t()

    def classifier_logits(self, z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        logits = z @ weight.t() + bias
        return F.relu(logits) if self.cls_relu else logits

    def output(self, scores: torch.Tensor, extras: dict) -> HeadOutput:
        return HeadOutput(spatial=[scores], temporal=[], logit_scale=1.0, extras=extras)

    @torch.no_grad()
    def _latents(self, feats: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor, seen: Sequence[int],
                 candidates: Sequence[int], device: torch.device,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Classifier training set: (M, cls_dim) latents and their global class ids (M,)."""
        views, n = feats.shape[:2]
        zs, ys = [], []
        seen_set = {int(c) for c in seen}
        lab = labels.long().repeat(views)  # (views * N,) matches the flattened rows below
        flat = feats.reshape(views * n, *feats.shape[2:])  # (views * N, C, T', V)
        for c in sorted(seen_set):
            rows = torch.nonzero(lab == c).flatten()
            if len(rows) == 0 or self.feat_samples <= 0:
                continue
            pick = rows[torch.randint(0, len(rows), (self.feat_samples,), generator=g)]
            mu, logvar = self.feature_latent(pooled_feature(flat[pick].to(device).float()))  # (S, L)
            zs.append(reparameterize(mu, logvar, generator=g))
            ys.append(torch.full((len(pick),), c, dtype=torch.long))
        texts = self.texts(class_text.to(device))  # (K_all, A, ...)
        for c in candidates:
            count = self.text_samples[0] if int(c) in seen_set else self.text_samples[1]
            if count <= 0:
                continue
            pick = torch.randint(0, texts.shape[1], (count,), generator=g).to(device)
            mu, logvar = self.text_latent(texts[int(c), pick])  # (count, L)
            zs.append(reparameterize(mu, logvar, generator=g))
            ys.append(torch.full((count,), int(c), dtype=torch.long))
        return torch.cat(zs).float(), torch.cat(ys).to(device)

    def post_fit(self, *, feats: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor,
                 seen: Sequence[int], candidates: Sequence[int], device: torch.device | str, seed: int) -> None:
        """Fit the softmax classifier on skeleton latents of the seen classes and text latents of every
        candidate class. ``feats`` (views, N, C, T', V), ``labels`` (N,) global ids."""
        device = torch.device(device)
        name = type(self).__name__
        cand = sorted({int(c) for c in candidates} | {int(c) for c in seen})
        if not cand or max(cand) >= self.max_classes:
            raise ValueError(f"{name}.post_fit: class ids {cand[-1:]} do not fit max_classes={self.max_classes}")
        was_training = self.training
        nn.Module.train(self, False)  # the latents come from the encoders as they are (no counting)
        g = torch.Generator().manual_seed(int(seed))
        z, y = self._latents(feats, labels, class_text, seen, cand, device, g)
        index = torch.full((self.max_classes,), -1, dtype=torch.long, device=device)
        index[torch.tensor(cand, device=device)] = torch.arange(len(cand), device=device)
        target = index[y]  # (M,) local ids
        weight = nn.Parameter(torch.randn(len(cand), self.cls_dim, generator=g).to(device) * 0.01)
        bias = nn.Parameter(torch.zeros(len(cand), device=device))
        opt = torch.optim.Adam([weight, bias], lr=self.cls_lr, betas=self.cls_betas)
        batch = self.cls_batch_size if self.cls_batch_size > 0 else len(z)
        with torch.enable_grad():
            for _ in range(self.cls_epochs):
                order = torch.randperm(len(z), generator=g).to(device)
                for i in range(0, len(z), batch):
                    idx = order[i:i + batch]
                    loss = F.cross_entropy(self.classifier_logits(z[idx], weight, bias), target[idx])
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
        nn.Module.train(self, was_training)
