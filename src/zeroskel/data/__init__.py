"""Skeleton data: sample types, joint layouts, dataset readers, preprocessing, zero-shot protocols.

    from zeroskel.data import load_dataset, make_splits
    ds = load_dataset("utd-mhad", "../shared/data/utd_mhad")
    splits = make_splits(ds, "utd-f1", seed=0)

The torch ``ClipDataset`` lives in :mod:`zeroskel.data.clips` (imported on its own, so that reading
data does not need torch).
"""
from __future__ import annotations

from zeroskel.data.layouts import Layout, UnknownNameError, get_layout, list_layouts, map_layout
from zeroskel.data.protocols import (Protocol, Splits, ValidationDraw, get_protocol, list_protocols,
                                      make_splits, validation_draw)
from zeroskel.data.readers import list_datasets, load_dataset
from zeroskel.data.sample import SkeletonDataset, SkeletonSample, Skipped

__all__ = [
    "Layout", "Protocol", "SkeletonDataset", "SkeletonSample", "Skipped", "Splits",
    "UnknownNameError", "get_layout", "get_protocol", "list_datasets", "list_layouts",
    "ValidationDraw", "list_protocols", "load_dataset", "make_splits", "map_layout",
    "validation_draw",
]
