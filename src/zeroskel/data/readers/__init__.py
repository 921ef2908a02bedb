"""Dataset readers and the registry behind :func:`zeroskel.data.load_dataset`.

Each reader takes the dataset's root folder (as its official download unpacks) plus options and
returns a :class:`~zeroskel.data.sample.SkeletonDataset`. The NTU and PKU-MMD readers are imported
lazily, when first used.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zeroskel.data.layouts import UnknownNameError
from zeroskel.data.readers.kinect_v1 import (
    load_msr_action3d,
    load_nw_ucla,
    load_utd_mhad,
    load_utkinect,
)
from zeroskel.data.sample import LazyDataset, SkeletonDataset


def _ntu(version: int) -> Callable[..., SkeletonDataset]:
    def load(root: str | Path, **options: Any) -> SkeletonDataset:
        from zeroskel.data.readers.ntu import load_ntu

        return load_ntu(root, version, **options)

    return load


def _open_ntu(version: int) -> Callable[..., LazyDataset]:
    def open_(root: str | Path, **options: Any) -> LazyDataset:
        from zeroskel.data.readers.ntu import open_ntu

        options.pop("progress", None)
        return open_ntu(root, version, **options)

    return open_


def _pku(root: str | Path, **options: Any) -> SkeletonDataset:
    from zeroskel.data.readers.pku import load_pku_mmd

    return load_pku_mmd(root, **options)


READERS: dict[str, Callable[..., SkeletonDataset]] = {
    "utd-mhad": load_utd_mhad,
    "msr-action3d": load_msr_action3d,
    "utkinect": load_utkinect,
    "nw-ucla": load_nw_ucla,
    "ntu60": _ntu(60),
    "ntu120": _ntu(120),
    "pku-mmd": _pku,
}

# Readers that list a dataset without reading it (the others are read whole, then wrapped).
LAZY_READERS: dict[str, Callable[..., LazyDataset]] = {"ntu60": _open_ntu(60), "ntu120": _open_ntu(120)}

# Joint layout each dataset is read into.
DATASET_LAYOUTS: dict[str, str] = {
    "utd-mhad": "kinect20", "msr-action3d": "kinect20", "utkinect": "kinect20",
    "nw-ucla": "kinect20", "ntu60": "ntu25", "ntu120": "ntu25", "pku-mmd": "ntu25",
}


def list_datasets() -> list[str]:
    return list(READERS)


def check_dataset_name(name: str) -> str:
    if name not in READERS:
        raise UnknownNameError(f"unknown dataset {name!r}; known datasets: {', '.join(READERS)}")
    return name


def load_dataset(name: str, root: str | Path, **options: Any) -> SkeletonDataset:
    """Read dataset ``name`` from ``root``.

    Args:
        name: one of ``utd-mhad``, ``msr-action3d``, ``utkinect``, ``nw-ucla``, ``ntu60``,
            ``ntu120``, ``pku-mmd``.
        root: the dataset's folder.
        options: reader options (``strict`` for the Kinect v1 readers; ``missing_list``,
            ``progress`` for NTU; ``progress`` for PKU-MMD).
    """
    return READERS[check_dataset_name(name)](root, **options)


def open_dataset(name: str, root: str | Path, **options: Any) -> LazyDataset:
    """Dataset ``name`` as a :class:`LazyDataset` (read one sample at a time where the reader can:
    NTU 60/120; the small datasets and PKU-MMD are read whole and wrapped). Options as
    :func:`load_dataset`."""
    check_dataset_name(name)
    if name in LAZY_READERS:
        return LAZY_READERS[name](root, **options)
    return LazyDataset.from_dataset(load_dataset(name, root, **options))
