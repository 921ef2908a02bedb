"""Zero-shot protocols and the sample splits they induce.

A protocol (registry in ``protocols.json``, next to this module) names a dataset, a split rule (which
recordings train and which test) and the unseen classes (0-based); every other class is seen.

:func:`make_splits` turns a protocol and a loaded dataset into index arrays (sorted, int64, indices
into ``dataset.samples``):

- ``train``: seen-class samples of the train split.
- ``test_seen`` / ``test_unseen``: seen- / unseen-class samples of the test split (ZSL uses
  ``test_unseen``; GZSL uses both).

The **validation protocol** lets later stages choose epochs, calibration factors and thresholds
without touching test data. It uses the seen classes and the train split only:

1. A seeded random generator (``seed`` and a CRC32 of the protocol name) picks ``n`` of the seen
   classes as *pseudo-unseen* (``val_unseen_classes``), with ``n`` = the protocol's unseen count, but
   at most ``len(seen) - 2`` so that at least two *pseudo-seen* classes remain
   (``val_seen_classes``, the other seen classes).
2. ``holdout``: per seen class, a seeded random ~20% of that class's ``train`` samples (at least one
   when the class has two or more; never all of them).
3. ``val_train`` = ``train`` samples of pseudo-seen classes not in ``holdout`` (what a validation
   run trains on); ``val_seen`` = ``holdout`` samples of pseudo-seen classes (validation seen
   accuracy); ``val_unseen`` = all ``train`` samples of pseudo-unseen classes (validation zero-shot
   accuracy).

No test-split sample ever enters ``train``, ``holdout`` or a ``val_*`` set, and the same
``(dataset, protocol, seed)`` always gives the same splits.

:func:`validation_draw` is the validation protocol the engine uses (the ``val_*`` fields above are
the older, within-subject form, kept for ``zeroskel data summary``). It mirrors the test's
cross-subject shift and is drawn many times:

1. Pseudo-unseen classes: as in step 1 above, from a generator seeded by ``(split_seed, seed,
   draw)`` and the protocol name, so every run seed and every draw gets its own classes.
2. Held-out subjects: ``num_subjects`` of the train split's subjects, taken in turn from a
   permutation seeded by ``(split_seed, seed)`` (so the draws of one seed hold out different
   subjects while there are subjects left).
3. ``val_train`` = pseudo-seen ``train`` clips of the other subjects (what the validation encoder
   and head train on); ``val_seen`` = pseudo-seen ``train`` clips of the held-out subjects;
   ``val_unseen`` = pseudo-unseen ``train`` clips of every training subject (no validation model
   ever trains on a pseudo-unseen class, and all subjects give the most clips).

Without subject ids (or with too few training subjects) step 2 falls back to a stratified ~20% of
each pseudo-seen class's clips.

Split rules:

- ``xsub-odd``: odd subjects train, even subjects test (UTD-MHAD, MSR Action3D, UTKinect).
- ``ntu-xsub`` / ``ntu-xview`` / ``ntu-xset``: NTU's cross-subject (listed training performers),
  cross-view (cameras 2 and 3 train) and cross-setup (even setup ids train).
- ``pku-xsub`` / ``pku-xview``: the dataset's own lists, stored by the reader in ``meta["xsub"]`` /
  ``meta["xview"]`` as ``"train"`` or ``"test"``.
- ``nwucla-view``: views 1 and 2 train, view 3 tests.

Literature splits on the small datasets: ``utd-purls-22/5``, ``utd-purls-18/9``, ``utd-purls-14/13``,
``nwucla-purls-8/2``, ``nwucla-purls-5/5`` take PURLS's unseen classes (its supplementary Table 8) with
this project's sample split (PURLS does not document its own); each entry's ``note`` says so.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable

import numpy as np

from zeroskel.data.class_names import BY_DATASET
from zeroskel.data.layouts import UnknownNameError
from zeroskel.data.sample import SkeletonDataset, SkeletonSample

HOLDOUT_FRACTION = 0.2

NTU_XSUB_TRAIN_SUBJECTS: frozenset[int] = frozenset((
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89,
    91, 92, 93, 94, 95, 97, 98, 100, 103,
))


def _meta(sample: SkeletonSample, key: str):
    if key not in sample.meta:
        raise ValueError(f"sample {sample.name}: no meta[{key!r}], which the split rule needs")
    return sample.meta[key]


def _subject(sample: SkeletonSample) -> int:
    if sample.subject < 0:
        raise ValueError(f"sample {sample.name}: no subject id, which the split rule needs")
    return sample.subject


def _listed(sample: SkeletonSample, key: str) -> bool:
    value = _meta(sample, key)
    if value not in ("train", "test"):
        raise ValueError(f"sample {sample.name}: meta[{key!r}] is {value!r}, expected 'train' or 'test'")
    return value == "train"


# split rule name -> (sample -> True when in the train split)
SPLIT_RULES: dict[str, Callable[[SkeletonSample], bool]] = {
    "xsub-odd": lambda s: _subject(s) % 2 == 1,
    "ntu-xsub": lambda s: _subject(s) in NTU_XSUB_TRAIN_SUBJECTS,
    "ntu-xview": lambda s: int(_meta(s, "camera")) in (2, 3),
    "ntu-xset": lambda s: int(_meta(s, "setup")) % 2 == 0,
    "pku-xsub": lambda s: _listed(s, "xsub"),
    "pku-xview": lambda s: _listed(s, "xview"),
    "nwucla-view": lambda s: int(_meta(s, "view")) in (1, 2),
}


@dataclass(frozen=True)
class Protocol:
    name: str
    dataset: str
    split: str
    unseen: tuple[int, ...]
    note: str = ""     # where the protocol comes from, what differs from its source (``protocols show``)

    @property
    def num_classes(self) -> int:
        return len(BY_DATASET[self.dataset])

    @property
    def seen(self) -> tuple[int, ...]:
        unseen = set(self.unseen)
        return tuple(c for c in range(self.num_classes) if c not in unseen)

    def as_dict(self) -> dict:
        names = BY_DATASET[self.dataset]
        return {"name": self.name, "dataset": self.dataset, "split": self.split,
                "unseen": list(self.unseen), "seen": list(self.seen),
                "unseen_names": [names[c] for c in self.unseen],
                "seen_names": [names[c] for c in self.seen], **({"note": self.note} if self.note else {})}


@lru_cache(maxsize=1)
def _registry() -> dict[str, Protocol]:
    text = resources.files("zeroskel.data").joinpath("protocols.json").read_text()
    doc = json.loads(text)
    out = {}
    for name, entry in doc["protocols"].items():
        proto = Protocol(name=name, dataset=entry["dataset"], split=entry["split"],
                         unseen=tuple(sorted(int(c) for c in entry["unseen"])), note=str(entry.get("note", "")))
        if proto.dataset not in BY_DATASET or proto.split not in SPLIT_RULES:
            raise ValueError(f"protocols.json: {name}: unknown dataset or split rule")
        if not proto.unseen or proto.unseen[-1] >= proto.num_classes or proto.unseen[0] < 0:
            raise ValueError(f"protocols.json: {name}: unseen classes out of range")
        out[name] = proto
    return out


def list_protocols(dataset: str | None = None) -> list[str]:
    """Registered protocol names (of one dataset when given)."""
    return [n for n, p in _registry().items() if dataset is None or p.dataset == dataset]


def get_protocol(name: str | Protocol) -> Protocol:
    if isinstance(name, Protocol):
        return name
    try:
        return _registry()[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown protocol {name!r}; known protocols: {', '.join(_registry())}") from None


@dataclass
class Splits:
    """Index arrays (into ``dataset.samples``) and class lists of one protocol; see the module doc."""

    protocol: str
    train: np.ndarray
    holdout: np.ndarray
    val_train: np.ndarray
    val_seen: np.ndarray
    val_unseen: np.ndarray
    test_seen: np.ndarray
    test_unseen: np.ndarray
    seen: list[int] = field(default_factory=list)
    unseen: list[int] = field(default_factory=list)
    val_seen_classes: list[int] = field(default_factory=list)
    val_unseen_classes: list[int] = field(default_factory=list)

    INDEX_FIELDS = ("train", "holdout", "val_train", "val_seen", "val_unseen", "test_seen",
                    "test_unseen")

    def counts(self) -> dict[str, int]:
        return {k: int(len(getattr(self, k))) for k in self.INDEX_FIELDS}


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def _stratified_holdout(indices: np.ndarray, labels: np.ndarray, classes, rng: np.random.Generator) -> np.ndarray:
    """About HOLDOUT_FRACTION of each class's ``indices`` (at least one, never all), class by class."""
    picked = []
    for c in classes:
        members = indices[labels[indices] == c]
        if len(members) < 2:
            continue
        k = min(max(1, int(round(HOLDOUT_FRACTION * len(members)))), len(members) - 1)
        picked.append(rng.choice(members, size=k, replace=False))
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)


def make_splits(dataset: SkeletonDataset, protocol: str | Protocol, seed: int = 0) -> Splits:
    """The protocol's train/test sets and its validation protocol on ``dataset``.

    Args:
        dataset: the loaded dataset the protocol is defined on.
        protocol: protocol name or :class:`Protocol`.
        seed: seeds the pseudo-unseen class choice and the holdout.
    """
    proto = get_protocol(protocol)
    if dataset.name != proto.dataset:
        raise ValueError(f"protocol {proto.name} is defined on {proto.dataset}, "
                         f"not on dataset {dataset.name!r}")
    if dataset.num_classes != proto.num_classes:
        raise ValueError(f"protocol {proto.name} expects {proto.num_classes} classes, "
                         f"dataset {dataset.name} has {dataset.num_classes}")
    rule = SPLIT_RULES[proto.split]
    labels = dataset.labels()
    in_train = np.array([rule(s) for s in dataset.samples], dtype=bool)
    seen = np.array(proto.seen, dtype=np.int64)
    is_seen = np.isin(labels, seen)

    train = np.flatnonzero(in_train & is_seen)
    test_seen = np.flatnonzero(~in_train & is_seen)
    test_unseen = np.flatnonzero(~in_train & ~is_seen)

    # validation protocol: seen classes only, train split only
    rng = _rng(seed, proto.name)
    n_pseudo = max(1, min(len(proto.unseen), len(seen) - 2))
    pseudo_unseen = np.sort(rng.choice(seen, size=n_pseudo, replace=False))
    pseudo_seen = np.setdiff1d(seen, pseudo_unseen)

    holdout = np.sort(_stratified_holdout(train, labels, seen, rng))

    train_pseudo_seen = train[np.isin(labels[train], pseudo_seen)]
    return Splits(
        protocol=proto.name,
        train=train.astype(np.int64),
        holdout=holdout.astype(np.int64),
        val_train=np.setdiff1d(train_pseudo_seen, holdout).astype(np.int64),
        val_seen=np.intersect1d(train_pseudo_seen, holdout).astype(np.int64),
        val_unseen=train[np.isin(labels[train], pseudo_unseen)].astype(np.int64),
        test_seen=test_seen.astype(np.int64),
        test_unseen=test_unseen.astype(np.int64),
        seen=[int(c) for c in seen],
        unseen=list(proto.unseen),
        val_seen_classes=[int(c) for c in pseudo_seen],
        val_unseen_classes=[int(c) for c in pseudo_unseen],
    )


@dataclass
class ValidationDraw:
    """One draw of the validation protocol (see :func:`validation_draw`)."""

    draw: int
    val_train: np.ndarray
    val_seen: np.ndarray
    val_unseen: np.ndarray
    val_seen_classes: list[int]
    val_unseen_classes: list[int]
    held_out_subjects: list[int]     # empty: clip-level holdout (no usable subject ids)

    INDEX_FIELDS = ("val_train", "val_seen", "val_unseen")

    def counts(self) -> dict[str, int]:
        return {k: int(len(getattr(self, k))) for k in self.INDEX_FIELDS}

    def describe(self) -> dict:
        return {"draw": self.draw, "val_seen_classes": self.val_seen_classes,
                "val_unseen_classes": self.val_unseen_classes,
                "held_out_subjects": self.held_out_subjects, "counts": self.counts()}


def validation_draw(dataset: SkeletonDataset, splits: Splits, *, split_seed: int = 0, seed: int = 0,
                    draw: int = 0, num_subjects: int = 1) -> ValidationDraw:
    """Draw ``draw`` of the cross-subject validation protocol of a run seed (module doc).

    Args:
        dataset: the dataset ``splits`` indexes.
        splits: :func:`make_splits` of the protocol (only ``train``, ``seen``, ``unseen`` are read).
        split_seed: the run's ``data.split_seed``.
        seed: the run seed; with ``split_seed`` and ``draw`` it fixes the pseudo-unseen classes.
        draw: index of the draw (0, 1, ...).
        num_subjects: training subjects held out for ``val_seen`` (at least 1).
    """
    if num_subjects < 1:
        raise ValueError(f"validation_draw: num_subjects must be >= 1, got {num_subjects}")
    if draw < 0:
        raise ValueError(f"validation_draw: draw must be >= 0, got {draw}")
    labels = dataset.labels()
    train = np.asarray(splits.train, dtype=np.int64)
    seen = np.asarray(splits.seen, dtype=np.int64)
    crc = zlib.crc32(splits.protocol.encode())
    rng = np.random.default_rng([int(split_seed), int(seed), int(draw), crc])
    n_pseudo = max(1, min(len(splits.unseen), len(seen) - 2))
    pseudo_unseen = np.sort(rng.choice(seen, size=n_pseudo, replace=False))
    pseudo_seen = np.setdiff1d(seen, pseudo_unseen)
    train_ps = train[np.isin(labels[train], pseudo_seen)]           # pseudo-seen train clips

    subjects = np.array([dataset.samples[i].subject for i in train], dtype=np.int64)
    uniq = np.unique(subjects)
    if len(uniq) > num_subjects and uniq.min() >= 0:
        # one permutation per (split_seed, seed): draw d holds out its next num_subjects subjects
        order = np.random.default_rng([int(split_seed), int(seed), crc]).permutation(uniq)
        start = draw * num_subjects
        held = sorted(int(order[(start + i) % len(order)]) for i in range(num_subjects))
        subj_ps = np.array([dataset.samples[i].subject for i in train_ps], dtype=np.int64)
        is_held = np.isin(subj_ps, held)
        val_seen, val_train = train_ps[is_held], train_ps[~is_held]
    else:
        held = []
        val_seen = _stratified_holdout(train_ps, labels, pseudo_seen, rng)
        val_train = np.setdiff1d(train_ps, val_seen)
    return ValidationDraw(
        draw=int(draw),
        val_train=np.sort(val_train).astype(np.int64),
        val_seen=np.sort(val_seen).astype(np.int64),
        val_unseen=train[np.isin(labels[train], pseudo_unseen)].astype(np.int64),
        val_seen_classes=[int(c) for c in pseudo_seen],
        val_unseen_classes=[int(c) for c in pseudo_unseen],
        held_out_subjects=held,
    )
