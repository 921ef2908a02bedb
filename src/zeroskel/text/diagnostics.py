"""Label-free diagnostics of side information: does the text alone tell the classes apart? (no skeletons)

Zero-shot recognition can only separate classes whose text separates them. Per phase p (the six
``PHASES``), with e[k, i] the L2-normalised embedding of description i of class k:

- class mean: m[k] = normalize(mean_i e[k, i]).
- leave-one-out description -> class top-1 (%): each e[k, i] is compared with m[j] for every j != k and
  with the mean of class k computed without description i (normalize(mean over i' != i)); it counts when
  its own class scores the highest cosine. Chance is 100 / K.
- between-class cosine: mean over unordered pairs j < l of cos(m[j], m[l]); the max and the closest pairs.
- within-class spread: mean over classes of mean_i (1 - cos(e[k, i], m[k])).

The ``all`` row does the same with each class's 6 * N_a descriptions pooled. Per protocol (a list of
unseen classes) the between-class cosine restricted to those classes, per phase and pooled. Every pair of
classes whose class means reach ``duplicate_threshold`` (0.9) in any of the six phases is named in a
warning (near-duplicate classes).

    report = check_side_info(load_shipped("utd-mhad"), get_text_encoder("minilm"),
                             protocols={"utd-f1": ["swipe left", ...]})
    print(report.format_text()); json.dumps(report.as_dict())

This module never looks protocols up itself (``zeroskel.text`` does not import ``zeroskel.data``): the
caller passes ``{protocol: [unseen class names]}``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np

from zeroskel.text.class_text import build_class_text
from zeroskel.text.encoders import TextEncoder
from zeroskel.text.sideinfo import PHASES, SideInformation, validate

ALL = "all"                 # name of the row that pools the six phases
DUPLICATE_COSINE = 0.9      # class means at least this close in some phase are near-duplicates
TOP_PAIRS = 3               # closest pairs listed per row
SHORT = {"spatial_coarse": "coarse", "spatial_mid": "mid", "spatial_fine": "fine",
         "temporal_start": "start", "temporal_middle": "middle", "temporal_end": "end", ALL: "all"}


@dataclass
class PairCosine:
    """Two classes and the cosine of their class means."""

    a: str
    b: str
    cosine: float


@dataclass
class PhaseReport:
    """The numbers of one phase (or of the pooled ``all`` row).

    Args:
        phase: one of ``PHASES`` or ``all``.
        loo_top1: leave-one-out description -> class top-1 in % (None when N_a < 2).
        between_mean: mean cosine between class means over all class pairs.
        between_max: the largest of those cosines.
        closest: the closest class pairs, most similar first.
        spread: mean over classes of mean_i (1 - cos(e[k, i], m[k])).
    """

    phase: str
    loo_top1: float | None
    between_mean: float
    between_max: float
    closest: list[PairCosine]
    spread: float


@dataclass
class ProtocolReport:
    """Between-class cosine among one protocol's unseen classes, per phase and pooled (key ``all``)."""

    protocol: str
    classes: list[str]
    between_mean: dict[str, float]
    between_max: dict[str, float]
    closest: PairCosine  # the closest pair in the pooled row


@dataclass
class NearDuplicate:
    """A pair of classes whose class means reach the threshold in the phases listed (phase -> cosine)."""

    a: str
    b: str
    cosines: dict[str, float]


@dataclass
class TextCheck:
    """Everything ``check_side_info`` measured; ``as_dict()`` is the JSON form."""

    dataset: str
    source: str
    origin: str
    version: int | None
    encoder: str
    num_classes: int
    num_descriptions: int
    chance: float
    duplicate_threshold: float
    phases: list[PhaseReport]             # the six phases, then ``all``
    protocols: list[ProtocolReport] = field(default_factory=list)
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def phase(self, name: str) -> PhaseReport:
        for row in self.phases:
            if row.phase == name:
                return row
        raise KeyError(f"no phase {name!r} (rows: {', '.join(r.phase for r in self.phases)})")

    def protocol_range(self) -> dict[str, list[float]]:
        """Per phase (and ``all``): [min, max] over protocols of the mean unseen-class cosine."""
        if not self.protocols:
            return {}
        return {p: [min(r.between_mean[p] for r in self.protocols), max(r.between_mean[p] for r in self.protocols)]
                for p in (*PHASES, ALL)}

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset, "source": self.source, "file": self.origin, "version": self.version,
            "encoder": self.encoder, "num_classes": self.num_classes, "num_descriptions": self.num_descriptions,
            "chance": self.chance, "duplicate_threshold": self.duplicate_threshold,
            "phases": {r.phase: {k: v for k, v in asdict(r).items() if k != "phase"} for r in self.phases},
            "protocols": {r.protocol: {k: v for k, v in asdict(r).items() if k != "protocol"}
                          for r in self.protocols},
            "protocol_range": self.protocol_range(),
            "near_duplicates": [asdict(d) for d in self.near_duplicates],
            "warnings": list(self.warnings),
        }

    def format_text(self) -> str:
        """A compact table (phase x LOO, between-class cosine, spread), closest pairs, protocols, warnings."""
        name = self.dataset or self.origin
        lines = [f"{name}: {self.num_classes} classes x {self.num_descriptions} descriptions, "
                 f"encoder {self.encoder}" + (f", version {self.version}" if self.version is not None else ""),
                 f"{'phase':<16}{'LOO top-1':>10}{'between mean':>14}{'max':>7}{'spread':>8}"]
        for r in self.phases:
            loo = "n/a" if r.loo_top1 is None else f"{r.loo_top1:.1f}%"
            lines.append(f"{r.phase:<16}{loo:>10}{r.between_mean:>14.3f}{r.between_max:>7.3f}{r.spread:>8.3f}")
        lines.append(f"(chance {self.chance:.1f}%; LOO: nearest class mean, own class without the description)")
        lines.append("closest pairs:")
        for r in self.phases:
            pairs = ", ".join(f"{p.a} / {p.b} {p.cosine:.3f}" for p in r.closest)
            lines.append(f"  {SHORT[r.phase]:<7}{pairs}")
        if self.protocols:
            cols = [SHORT[p] for p in (*PHASES, ALL)]
            lines.append("unseen classes per protocol, mean between-class cosine:")
            lines.append(f"  {'protocol':<14}" + "".join(f"{c:>8}" for c in cols) + "  closest pair (all)")
            for r in self.protocols:
                c = r.closest
                lines.append(f"  {r.protocol:<14}" + "".join(f"{r.between_mean[p]:>8.3f}" for p in (*PHASES, ALL))
                             + f"  {c.a} / {c.b} {c.cosine:.3f}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --- the measures (numpy float64; e is (K, N, D) with unit rows) ------------------------------------------

def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_means(e: np.ndarray) -> np.ndarray:
    """(K, N, D) unit embeddings -> (K, D) unit class means."""
    return _normalize(e.mean(axis=1))


def loo_top1(e: np.ndarray) -> float | None:
    """Leave-one-out description -> class top-1 in % (None when there are fewer than 2 descriptions)."""
    K, N, _ = e.shape
    if N < 2:
        return None
    sums = e.sum(axis=1)                                   # (K, D)
    scores = np.einsum("knd,jd->knj", e, _normalize(sums))  # (K, N, K) cosine to every class mean
    own = _normalize(sums[:, None, :] - e)                 # (K, N, D) own class mean without the description
    k = np.arange(K)
    scores[k, :, k] = np.einsum("knd,knd->kn", e, own)      # replace the own-class column, (K, N)
    hits = scores.argmax(axis=-1) == k[:, None]            # (K, N)
    return float(100.0 * hits.mean())


def spread(e: np.ndarray) -> float:
    """Mean over classes of mean_i (1 - cos(e[k, i], m[k]))."""
    cos = np.einsum("knd,kd->kn", e, class_means(e))       # (K, N)
    return float((1.0 - cos).mean())


def pair_cosines(means: np.ndarray, names: Sequence[str]) -> list[PairCosine]:
    """cos(m[j], m[l]) for every pair j < l, most similar first (ties keep pair order)."""
    sim = means @ means.T                                  # (K, K)
    j, l = np.triu_indices(len(names), k=1)
    vals = sim[j, l]
    order = np.argsort(-vals, kind="stable")
    return [PairCosine(names[j[o]], names[l[o]], float(vals[o])) for o in order]


def _phase_report(phase: str, e: np.ndarray, names: Sequence[str], top: int) -> PhaseReport:
    pairs = pair_cosines(class_means(e), names)
    return PhaseReport(phase=phase, loo_top1=loo_top1(e), between_mean=float(np.mean([p.cosine for p in pairs])),
                       between_max=pairs[0].cosine, closest=pairs[:top], spread=spread(e))


def check_embeddings(emb: np.ndarray, class_names: Sequence[str], *,
                     protocols: Mapping[str, Sequence[str]] | None = None,
                     duplicate_threshold: float = DUPLICATE_COSINE, top_pairs: int = TOP_PAIRS,
                     ) -> tuple[list[PhaseReport], list[ProtocolReport], list[NearDuplicate]]:
    """The measures on an embedding array.

    Args:
        emb: (P=6, K, N_a, D) embeddings in ``PHASES`` order (normalised here).
        class_names: the K class names.
        protocols: protocol -> its unseen class names (each a subset of ``class_names``, at least 2).
        duplicate_threshold: class-mean cosine from which a pair is a near-duplicate.
        top_pairs: closest pairs kept per row.

    Returns:
        (rows for the six phases and ``all``, per-protocol rows, near-duplicate pairs).
    """
    names = list(class_names)
    P, K, N, D = emb.shape
    if P != len(PHASES) or K != len(names):
        raise ValueError(f"embeddings {emb.shape} do not match {len(PHASES)} phases x {len(names)} classes")
    if K < 2:
        raise ValueError(f"a text check needs at least 2 classes, got {K}")
    e = _normalize(np.asarray(emb, dtype=np.float64))                        # (P, K, N, D)
    pooled = e.transpose(1, 0, 2, 3).reshape(K, P * N, D)                    # (K, 6 N_a, D)
    per_phase = {p: e[i] for i, p in enumerate(PHASES)}
    per_phase[ALL] = pooled
    rows = [_phase_report(p, x, names, top_pairs) for p, x in per_phase.items()]

    index = {n: k for k, n in enumerate(names)}
    proto_rows = []
    for proto, unseen in (protocols or {}).items():
        unseen = list(unseen)
        missing = [n for n in unseen if n not in index]
        if missing:
            raise ValueError(f"protocol {proto!r}: unseen classes {missing} are not in the side information")
        if len(unseen) < 2:
            raise ValueError(f"protocol {proto!r}: needs at least 2 unseen classes, got {len(unseen)}")
        sel = [index[n] for n in unseen]
        means, maxes, closest = {}, {}, None
        for p, x in per_phase.items():
            pairs = pair_cosines(class_means(x[sel]), unseen)
            means[p] = float(np.mean([q.cosine for q in pairs]))
            maxes[p] = pairs[0].cosine
            closest = pairs[0]  # the last one kept is the pooled row's
        proto_rows.append(ProtocolReport(proto, unseen, means, maxes, closest))

    dups: dict[tuple[str, str], NearDuplicate] = {}
    for p in PHASES:
        for pair in pair_cosines(class_means(per_phase[p]), names):
            if pair.cosine < duplicate_threshold:
                break
            dups.setdefault((pair.a, pair.b), NearDuplicate(pair.a, pair.b, {})).cosines[p] = pair.cosine
    order = {(a, b): i for i, (a, b) in enumerate((names[j], names[l]) for j in range(K) for l in range(j + 1, K))}
    near = sorted(dups.values(), key=lambda d: order[(d.a, d.b)])
    return rows, proto_rows, near


def check_side_info(side_info: SideInformation, encoder: TextEncoder, *,
                    protocols: Mapping[str, Sequence[str]] | None = None,
                    duplicate_threshold: float = DUPLICATE_COSINE, top_pairs: int = TOP_PAIRS,
                    cache_dir: str | os.PathLike | None = None) -> TextCheck:
    """Embed every description of ``side_info`` with ``encoder`` and measure how well the text separates classes.

    Args:
        side_info: validated side information (K >= 2 classes).
        encoder: text encoder (e.g. ``get_text_encoder("minilm")``).
        protocols: protocol name -> its unseen class names; each gets a between-class cosine row.
        duplicate_threshold: class-mean cosine from which a pair of classes is reported as near-duplicate.
        top_pairs: closest pairs listed per row.
        cache_dir: optional embedding cache folder (``zeroskel.text.embed_cache``).
    """
    validate(side_info)
    names = side_info.class_names
    emb = build_class_text(side_info, encoder, names, cache_dir=cache_dir)  # (6, K, N_a, D), unit rows
    rows, proto_rows, near = check_embeddings(emb.double().numpy(), names, protocols=protocols,
                                              duplicate_threshold=duplicate_threshold, top_pairs=top_pairs)
    warnings = []
    if side_info.num_descriptions < 2:
        warnings.append(f"{side_info.num_descriptions} description per phase: leave-one-out needs at least 2")
    for d in near:
        where = ", ".join(f"{SHORT[p]} {c:.3f}" for p, c in d.cosines.items())
        warnings.append(f"near-duplicate classes {d.a!r} and {d.b!r}: class-mean cosine >= "
                        f"{duplicate_threshold:g} in {where}")
    K = len(names)
    return TextCheck(dataset=side_info.dataset, source=side_info.source, origin=side_info.origin,
                     version=side_info.version, encoder=encoder.id, num_classes=K,
                     num_descriptions=side_info.num_descriptions, chance=100.0 / K,
                     duplicate_threshold=duplicate_threshold, phases=rows, protocols=proto_rows,
                     near_duplicates=near, warnings=warnings)
