"""Step 2: run the frozen encoder once and cache its feature maps (float16).

The official Neuron code runs the frozen Shift-GCN at every training step of the head. The encoder
is frozen, so its output for a given input clip never changes: we compute it once per clip and
per augmented view (``extract.views`` random crops/rotations of each training clip, 1 deterministic
view of each evaluation clip) and the head then trains from this cache, drawing one of the views
of each clip per epoch. That keeps the augmentation the official recipe gets from re-running the
encoder, at a fraction of the cost (``benchmarks/bench_pipeline.py`` measures both).

File: ``features/<name>.safetensors`` with ``features`` float16 (views, N, C, T', V), ``labels``
int64 (N,) and ``indices`` int64 (N,) (dataset sample indices).

    zeroskel extract RUN_DIR --seed 0
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from zeroskel.data.clips import ClipDataset
from zeroskel.data.sample import SkeletonDataset
from zeroskel.data.transforms import Preprocessing
from zeroskel.train.io import CheckpointError, atomic_path, save_tensors
from zeroskel.train.runtime import LOG, progress


_ST_DTYPES = {torch.float16: ("F16", np.float16), torch.int64: ("I64", np.int64)}


class _FeatureWriter:
    """A safetensors file written in place: header first, then each batch at its offset.

    The file holds ``features`` float16 (views, N, C, T', V), then ``labels`` and ``indices`` int64
    (N,), laid out as :func:`safetensors.torch.save_file` would, so every safetensors reader opens
    it; memory stays one batch whatever N.
    """

    def __init__(self, path: Path, shapes: dict[str, tuple[torch.dtype, tuple[int, ...]]],
                 metadata: dict[str, str]) -> None:
        header: dict[str, Any] = {"__metadata__": metadata}
        self.offsets: dict[str, int] = {}
        pos = 0
        for name, (dtype, shape) in shapes.items():
            nbytes = int(np.prod(shape)) * np.dtype(_ST_DTYPES[dtype][1]).itemsize
            header[name] = {"dtype": _ST_DTYPES[dtype][0], "shape": list(shape),
                            "data_offsets": [pos, pos + nbytes]}
            self.offsets[name] = pos
            pos += nbytes
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 8)                       # 8-byte aligned data, as the spec asks
        self.start = 8 + len(text)
        self.f = open(path, "wb")
        self.f.write(struct.pack("<Q", len(text)) + text)
        self.f.truncate(self.start + pos)                     # preallocated (sparse)

    def write(self, name: str, byte_offset: int, tensor: torch.Tensor) -> None:
        self.f.seek(self.start + self.offsets[name] + byte_offset)
        self.f.write(tensor.contiguous().numpy().tobytes())

    def close(self) -> None:
        self.f.flush()
        self.f.close()


@torch.no_grad()
def extract_features(encoder: torch.nn.Module, dataset: SkeletonDataset, indices: Sequence[int],
                     out_path: Path, *, views: int, train_aug: bool, length: int, num_person: int,
                     align_view: bool = False, seed: int, batch_size: int, device: torch.device,
                     show_progress: bool = True, preprocessing: Preprocessing | None = None) -> Path:
    """Write the feature maps of ``indices`` to ``out_path`` (skipped when it already exists).

    ``preprocessing`` must be the encoder's (its checkpoint metadata; see
    :func:`zeroskel.train.pretrain.clip_preprocessing`); ``align_view`` is the older shortcut.
    Each batch goes straight to its place in the (atomically replaced) file, so memory stays one
    batch whatever the number of clips.
    """
    if out_path.exists():
        return out_path
    clips = ClipDataset(dataset, indices, length=length, train=train_aug, num_person=num_person,
                        seed=seed, align_view=align_view, layout=dataset.layout,
                        preprocessing=preprocessing)
    encoder.eval()
    n, num_views = len(clips), views if train_aug else 1
    labels = torch.from_numpy(clips.labels())
    writer = None
    shape: tuple[int, ...] = (num_views, n, 0)
    with atomic_path(out_path) as tmp:
        try:
            for view in range(num_views):
                clips.set_epoch(view)
                loader = DataLoader(clips, batch_size=batch_size, shuffle=False)
                done = 0
                for x, _ in progress(loader, enabled=show_progress,
                                     desc=f"extract {out_path.stem} view {view}"):
                    fm = encoder.feature_map(x.to(device)).to(torch.float16).cpu()  # (B, C, T', V)
                    if writer is None:  # the first batch tells the feature shape
                        shape = (num_views, n, *fm.shape[1:])
                        writer = _FeatureWriter(tmp, {
                            "features": (torch.float16, shape), "labels": (torch.int64, (n,)),
                            "indices": (torch.int64, (n,))},
                            {"zeroskel": json.dumps({"views": num_views, "train_aug": train_aug})})
                    per_clip = fm[0].numel() * 2
                    writer.write("features", (view * n + done) * per_clip, fm)
                    done += len(fm)
            if writer is None:  # no clips: an empty file of the old form
                save_tensors(tmp, {"features": torch.zeros(num_views, 0), "labels": labels,
                                   "indices": torch.as_tensor(clips.indices)},
                             {"views": num_views, "train_aug": train_aug})
            else:
                writer.write("labels", 0, labels)
                writer.write("indices", 0, torch.as_tensor(clips.indices, dtype=torch.int64))
        finally:
            if writer is not None:
                writer.close()
    LOG.info("extracted %s: %s", out_path.name, shape)
    return out_path


def load_features(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (views, N, C, T', V) float16, labels (N,)).

    The features are a read-only memory map of the file (pages load on access and the OS can drop
    them), so a feature file larger than RAM trains with bounded memory.
    """
    tensors = map_tensors(path)
    return tensors["features"], tensors["labels"].clone()


def map_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file as a copy-on-write memory map (no read up front)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt"):  # validates the header and the sizes
            pass
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable feature file, it is truncated or corrupt "
                              f"({type(e).__name__}: {e}); delete it and run `zeroskel extract` "
                              "again") from None
    dtypes = {"F16": np.float16, "F32": np.float32, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if info["dtype"] not in dtypes:
            raise CheckpointError(f"{path}: tensor {name} has dtype {info['dtype']}, expected one of "
                                  f"{', '.join(dtypes)}")
        if end == begin:
            out[name] = torch.from_numpy(np.zeros(shape, dtypes[info["dtype"]]))
            continue
        arr = np.memmap(path, dtype=dtypes[info["dtype"]], mode="c", offset=8 + size + begin,
                        shape=shape)
        out[name] = torch.from_numpy(arr)
    return out
