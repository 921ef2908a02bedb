"""The in-memory types every reader produces.

A :class:`SkeletonSample` is one clip: ``joints`` of shape (M, T, V, 3) float32 (M people, T frames,
V joints in the dataset's layout, xyz in metres), a 0-based ``label``, the ``subject`` and the other
ids that sample splits need (``meta``: camera, setup, view, trial, replication, ...).

A :class:`SkeletonDataset` holds the samples, the class names in label order, the joint layout name
and what the reader skipped, with the reason (nothing is dropped silently).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class SkeletonSample:
    name: str                       # e.g. "a1_s1_t1" or "S001C001P001R001A001"
    joints: np.ndarray              # (M, T, V, 3) float32
    label: int                      # 0-based class index
    subject: int = -1               # performer id as the dataset numbers it (1-based)
    meta: dict[str, Any] = field(default_factory=dict)  # camera, setup, view, trial, ...
    source: str = ""                # file the sample came from

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[1])


@dataclass
class Skipped:
    sample: str                     # sample name or file path
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"sample": self.sample, "reason": self.reason}


@dataclass
class SkeletonDataset:
    name: str                       # registry name, e.g. "utd-mhad"
    class_names: list[str]
    layout: str                     # joint layout registry name, e.g. "kinect20"
    samples: list[SkeletonSample]
    skipped: list[Skipped] = field(default_factory=list)
    root: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=np.int64)


@dataclass
class LazyDataset:
    """A dataset read one sample at a time (``zeroskel data prepare`` of data larger than RAM).

    ``entries`` names the candidate samples in order (known without reading them, e.g. from file
    names); ``read(i)`` reads entry ``i`` and raises ``ValueError`` (naming the file) for one that
    cannot be used, which is then reported in ``skipped`` like the eager readers do. ``skipped``
    holds what was excluded before reading (e.g. a published missing-samples list).

    Args:
        name: registry name, e.g. ``ntu60``.
        class_names: class names in label order.
        layout: joint layout registry name.
        entries: candidate sample names.
        read: entry index -> :class:`SkeletonSample`.
        skipped: entries or files excluded before reading, with the reason.
        root: the dataset's folder.
    """

    name: str
    class_names: list[str]
    layout: str
    entries: list[str]
    read: Callable[[int], SkeletonSample]
    skipped: list[Skipped] = field(default_factory=list)
    root: str = ""

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_dataset(cls, dataset: SkeletonDataset) -> "LazyDataset":
        """A view of an in-memory dataset (its samples are already read)."""
        samples = dataset.samples
        return cls(name=dataset.name, class_names=list(dataset.class_names), layout=dataset.layout,
                   entries=[s.name for s in samples], read=samples.__getitem__,
                   skipped=list(dataset.skipped), root=str(dataset.root))

    def materialize(self) -> SkeletonDataset:
        """Read every entry into an in-memory :class:`SkeletonDataset`."""
        samples, skipped = [], list(self.skipped)
        for i, name in enumerate(self.entries):
            try:
                samples.append(self.read(i))
            except ValueError as err:
                skipped.append(Skipped(name, str(err)))
        return SkeletonDataset(name=self.name, class_names=list(self.class_names), layout=self.layout,
                               samples=samples, skipped=skipped, root=self.root)
