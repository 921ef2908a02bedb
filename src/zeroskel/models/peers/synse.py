"""SynSE head (Gupta, Sharma, Sarvadevabhatla, ICIP 2021, "Syntactically Guided Generative Embeddings
for Zero-Shot Skeleton Action Recognition"), on pooled skeleton features and the verb and noun phrases
of each class, written from the paper and the behaviour of its code (``skelemoa/synse-zsl``).

Three VAEs, all single-layer (one Linear to mu and to logvar; decoders Linear + ReLU; Xavier gain 0.5,
zero biases): the skeleton VAE on the pooled feature s = mean over (T', V) of F (N, C, T', V) with a
latent of L (``latent_dim``; NTU-60: 100, NTU-120: 200), and a verb VAE and a noun VAE on the text
embeddings v and n of the clip's class phrases, each with a latent of L/2. The skeleton latent's first
half lives with the noun latent, its second half with the verb latent. Per iteration, with the
cyclical weights k (skeleton KL), k2 (text KL, from the third cycle on) and cr (cross-reconstruction)
of ``zeroskel.models.peers.generative.cyclical_weights`` (cross-reconstruction after 1400/1700 of each
cycle):

    L = MSE(s, D_s(z_s)) + MSE(v, D_v(z_v)) + MSE(n, D_n(z_n)) + k KL_s + k2 (KL_v + KL_n)
        + cr [MSE(n, D_n(z_s[:, :L/2])) + MSE(v, D_v(z_s[:, L/2:])) + MSE(s, D_s([z_n, z_v]))]

(MSE: element mean; KL: batch mean of per-sample sums). The code trains 10 cycles of 1700 (55/5) or
1900 iterations of batch 64 with Adam 1e-4; ``cycle`` is an option (the bench scales it to the small
datasets' few thousand iterations).

Text. ``text.source=pos`` puts each class's verb phrase in class-text slot 0 and its noun phrase in
slot 1 (side-information field ``phrases``; a class without it falls back to its name in both, and the
text source says so in the log). The head reads slots ``verb_slot`` and ``noun_slot``; with N_a > 1
descriptions per slot, a training pair and a generated latent use one description index for both.
SynSE embeds with SBERT ``stsb-bert-large``; the project's text encoder is the run's (MiniLM by default).

Second stage (``GenerativeHead.post_fit``): the classifier reads [mu_n, mu_v] of the text VAEs for the
candidate classes (500 latents per unseen class in the code) and mu_s of a clip; SynSE's classifier
has a ReLU on its logits and trains 300 full-batch Adam epochs at 1e-3. For GZSL, the head also draws
skeleton latents of the seen classes, and the engine calibrates by stacking on the validation protocol.
SynSE's own GZSL is a gating model (a logistic regression on the sorted softmax of this classifier and
of the encoder's seen-class classifier) trained on a validation split; the encoder's classifier logits
are not cached by the engine, so calibrated stacking stands in for it (see the bench notes).

Selection. The code re-fits the classifier after every cycle and keeps the cycle with the best
unseen **test** accuracy; here the epoch comes from the validation protocol (pseudo-unseen classes of
the seen set) and the test split is read once.

Variants: ``official`` (one eps per sample broadcast over the latent, ReLU on the classifier logits,
as the code) and ``clean`` (one eps per entry, linear logits).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..heads import HeadOutput
from ..registry import register_model
from .generative import (GenerativeHead, LinearGaussian, cyclical_weights, kl_per_sample, linear_decoder,
                         reparameterize, xavier_init)
from .global_align import pooled_feature

__all__ = ["SynseHead", "synse", "VARIANTS"]

VARIANTS = ("official", "clean")


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(a, b)  # element mean, a scalar


class SynseHead(GenerativeHead):
    """Skeleton VAE + verb VAE + noun VAE with cross-reconstruction; classifier on generated latents.

    Args:
        feat_dim: C, channels of the feature map.
        text_dim: D, text embedding dimension.
        num_phases: phases per branch of the class text.
        latent_dim: L, the skeleton latent (even; the text latents are L/2 each).
        verb_slot, noun_slot: class-text entries holding the verb and the noun phrase embeddings.
        cycle, cross_at: the cyclical schedule (iterations per cycle; cross-reconstruction after
            ``cross_at`` of each cycle).
        per_sample_eps: one eps per sample broadcast over the latent (the code) in training.
        max_classes, feat_samples, text_samples_seen, text_samples_unseen, cls_epochs, cls_lr,
            cls_batch_size, cls_betas, cls_relu: the second stage (``GenerativeHead``).
    """

    def __init__(self, feat_dim: int = 256, text_dim: int = 384, num_phases: int = 3, latent_dim: int = 100,
                 verb_slot: int = 0, noun_slot: int = 1, cycle: int = 1700, cross_at: float = 1400 / 1700,
                 per_sample_eps: bool = True, max_classes: int = 128, feat_samples: int = 100,
                 text_samples_seen: int = 0, text_samples_unseen: int = 500, cls_epochs: int = 300,
                 cls_lr: float = 1e-3, cls_batch_size: int = 0, cls_betas: tuple[float, float] = (0.9, 0.999),
                 cls_relu: bool = True) -> None:
        super().__init__(feat_dim, text_dim, num_phases, latent_dim, max_classes=max_classes,
                         feat_samples=feat_samples, text_samples_seen=text_samples_seen,
                         text_samples_unseen=text_samples_unseen, cls_epochs=cls_epochs, cls_lr=cls_lr,
                         cls_batch_size=cls_batch_size, cls_betas=cls_betas, cls_relu=cls_relu)
        if latent_dim < 2 or latent_dim % 2:
            raise ValueError(f"SynseHead: latent_dim must be even and >= 2, got {latent_dim}")
        for name, slot in (("verb_slot", verb_slot), ("noun_slot", noun_slot)):
            if not 0 <= slot < 2 * num_phases:
                raise ValueError(f"SynseHead: {name} must be in [0, {2 * num_phases}), got {slot}")
        self.latent_dim, self.half = latent_dim, latent_dim // 2
        self.slots = (verb_slot, noun_slot)
        self.cycle, self.cross_at, self.per_sample_eps = int(cycle), float(cross_at), bool(per_sample_eps)
        self.enc_s, self.dec_s = LinearGaussian(feat_dim, latent_dim), linear_decoder(latent_dim, feat_dim)
        self.enc_v, self.dec_v = LinearGaussian(text_dim, self.half), linear_decoder(self.half, text_dim)
        self.enc_n, self.dec_n = LinearGaussian(text_dim, self.half), linear_decoder(self.half, text_dim)
        xavier_init(self)

    # ------------------------------------------------------------------ latents
    def texts(self, class_text: torch.Tensor) -> torch.Tensor:
        """class_text (P, K, N_a, D) -> (K, N_a, 2, D): (verb, noun) pairs, L2-normalised."""
        pair = class_text[list(self.slots)].float()  # (2, K, N_a, D)
        return F.normalize(pair.permute(1, 2, 0, 3), dim=-1)  # (K, N_a, 2, D)

    def feature_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_s(x)

    def text_latent(self, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """texts (M, 2, D) -> ([mu_n, mu_v], [logvar_n, logvar_v]), each (M, L)."""
        mu_v, lv_v = self.enc_v(texts[:, 0])
        mu_n, lv_n = self.enc_n(texts[:, 1])
        return torch.cat([mu_n, mu_v], -1), torch.cat([lv_n, lv_v], -1)

    # ------------------------------------------------------------------ forward / loss
    def forward(self, feature_map: torch.Tensor, class_text: torch.Tensor) -> HeadOutput:
        """feature_map (N, C, T', V), class_text (P, K, N_a, D) -> one (N, K) score."""
        self.check_inputs(feature_map, class_text)
        s = pooled_feature(feature_map)  # (N, C)
        mu_s, logvar_s = self.enc_s(s)  # (N, L)
        extras = {"x": s, "mu_x": mu_s, "logvar_x": logvar_s}
        if self.training or not bool(self.fitted):
            extras["texts"] = self.texts(class_text).to(s.dtype)  # (K, N_a, 2, D)
        return self.output(self.scores(mu_s, class_text), extras)

    def weights(self, step: int | None = None) -> dict[str, float]:
        """(kl, kl_text, cross) at iteration ``step`` (default: the next one)."""
        return cyclical_weights(int(self.steps) if step is None else step, self.cycle, self.cross_at)

    def loss(self, output: HeadOutput, labels: torch.Tensor) -> torch.Tensor:
        """The SynSE objective of one iteration (module docstring); each clip's (verb, noun) pair is its
        class's (one random description index when the slots hold several)."""
        e = output.extras
        if "texts" not in e:
            raise ValueError("SynseHead.loss needs a training-mode forward (or an unfitted head)")
        w = self.weights(self.count_step())
        s, mu_s, lv_s, texts = e["x"], e["mu_x"], e["logvar_x"], e["texts"]
        pick = torch.randint(0, texts.shape[1], labels.shape, device=labels.device)
        pair = texts[labels, pick]  # (N, 2, D)
        v, n = pair[:, 0], pair[:, 1]
        mu_v, lv_v = self.enc_v(v)  # (N, L/2)
        mu_n, lv_n = self.enc_n(n)
        z_s = reparameterize(mu_s, lv_s, self.per_sample_eps)  # (N, L)
        z_v = reparameterize(mu_v, lv_v, self.per_sample_eps)
        z_n = reparameterize(mu_n, lv_n, self.per_sample_eps)
        loss = _mse(self.dec_s(z_s), s) + _mse(self.dec_v(z_v), v) + _mse(self.dec_n(z_n), n)
        loss = loss + w["kl"] * kl_per_sample(mu_s, lv_s).mean()
        if w["kl_text"] > 0:
            loss = loss + w["kl_text"] * (kl_per_sample(mu_v, lv_v) + kl_per_sample(mu_n, lv_n)).mean()
        if w["cross"] > 0:
            loss = loss + w["cross"] * (_mse(self.dec_n(z_s[:, :self.half]), n)
                                        + _mse(self.dec_v(z_s[:, self.half:]), v)
                                        + _mse(self.dec_s(torch.cat([z_n, z_v], -1)), s))
        return loss


@register_model(tiny_kwargs=dict(feat_dim=16, text_dim=12, latent_dim=8, max_classes=16, feat_samples=10,
                                 text_samples_unseen=10, cls_epochs=5, cycle=20))
def synse(variant: str = "official", **kwargs) -> SynseHead:
    """SynSE head; ``variant="official"``: the code's behaviours (per-sample eps, ReLU logits);
    ``"clean"``: per-entry eps and linear logits."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown synse variant {variant!r}; known: {', '.join(VARIANTS)}")
    if isinstance(kwargs.get("cls_betas"), list):
        kwargs["cls_betas"] = tuple(kwargs["cls_betas"])
    if variant == "clean":
        kwargs = {"per_sample_eps": False, "cls_relu": False, **kwargs}
    return SynseHead(**kwargs)
