"""A torch ``Dataset`` of preprocessed clips: ``(x (C, T, V, M) float32, label int)``, C = 3 per stream.

Training randomness (crop, rotation) comes from a generator seeded by ``(seed, epoch, sample
index)``, so a run is reproducible whatever the worker count or order; call :meth:`set_epoch` at the
start of each epoch to get fresh augmentations. Evaluation clips are deterministic.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from zeroskel.data.layouts import Layout
from zeroskel.data.sample import SkeletonDataset, SkeletonSample
from zeroskel.data.transforms import Preprocessing, preprocess


class ClipDataset(Dataset):
    """Clips of selected samples.

    Args:
        samples: a :class:`SkeletonDataset` or a sequence of :class:`SkeletonSample`.
        indices: which samples (e.g. ``Splits.train``).
        length: frames per clip.
        train: random crop-and-resize and rotation when True; deterministic centre crop otherwise.
        num_person: people per clip (zero-padded).
        seed: base seed of the training randomness.
        align_view: rotate each clip to its body axes (shortcut for ``preprocessing.align_view``).
        layout: joint layout (taken from a SkeletonDataset, else inferred from the joint count).
        preprocessing: every preprocessing / augmentation choice (defaults when None).
    """

    def __init__(self, samples: SkeletonDataset | Sequence[SkeletonSample], indices: Sequence[int],
                 *, length: int = 64, train: bool, num_person: int, seed: int = 0,
                 align_view: bool = False, layout: str | Layout | None = None,
                 preprocessing: Preprocessing | None = None) -> None:
        if isinstance(samples, SkeletonDataset):
            layout = layout if layout is not None else samples.layout
            samples = samples.samples
        self.samples = samples
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= len(samples)):
            raise IndexError(f"ClipDataset: indices out of range for {len(samples)} samples")
        self.length, self.train, self.num_person = length, train, num_person
        self.seed, self.layout = seed, layout
        pre = preprocessing if preprocessing is not None else Preprocessing()
        if align_view and not pre.align_view:
            pre = Preprocessing(**{**pre.to_dict(), "align_view": True})
        self.preprocessing = pre
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def labels(self) -> np.ndarray:
        return np.array([self.samples[i].label for i in self.indices], dtype=np.int64)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        index = int(self.indices[i])
        sample = self.samples[index]
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.train else None
        x = preprocess(sample.joints, length=self.length, train=self.train, rng=rng,
                       num_person=self.num_person, layout=self.layout,
                       options=self.preprocessing, name=sample.name)
        return torch.from_numpy(x), int(sample.label)  # (C, T, V, M)
