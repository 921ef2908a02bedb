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

from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import DataLoader

from zeroskel.data.clips import ClipDataset
from zeroskel.data.sample import SkeletonDataset
from zeroskel.data.transforms import Preprocessing
from zeroskel.train.io import load_tensors, save_tensors
from zeroskel.train.runtime import LOG, progress


@torch.no_grad()
def extract_features(encoder: torch.nn.Module, dataset: SkeletonDataset, indices: Sequence[int],
                     out_path: Path, *, views: int, train_aug: bool, length: int, num_person: int,
                     align_view: bool = False, seed: int, batch_size: int, device: torch.device,
                     show_progress: bool = True, preprocessing: Preprocessing | None = None) -> Path:
    """Write the feature maps of ``indices`` to ``out_path`` (skipped when it already exists).

    ``preprocessing`` must be the encoder's (its checkpoint metadata; see
    :func:`zeroskel.train.pretrain.clip_preprocessing`); ``align_view`` is the older shortcut.
    """
    if out_path.exists():
        return out_path
    clips = ClipDataset(dataset, indices, length=length, train=train_aug, num_person=num_person,
                        seed=seed, align_view=align_view, layout=dataset.layout,
                        preprocessing=preprocessing)
    encoder.eval()
    per_view = []
    for view in range(views if train_aug else 1):
        clips.set_epoch(view)
        loader = DataLoader(clips, batch_size=batch_size, shuffle=False)
        chunks = []
        for x, _ in progress(loader, enabled=show_progress, desc=f"extract {out_path.stem} view {view}"):
            fm = encoder.feature_map(x.to(device))           # (B, C, T', V)
            chunks.append(fm.to(torch.float16).cpu())
        per_view.append(torch.cat(chunks) if chunks else torch.zeros(0))
    feats = torch.stack(per_view)                             # (views, N, C, T', V)
    labels = torch.from_numpy(clips.labels())
    save_tensors(out_path, {"features": feats, "labels": labels,
                            "indices": torch.as_tensor(clips.indices)},
                 {"views": len(per_view), "train_aug": train_aug})
    LOG.info("extracted %s: %s", out_path.name, tuple(feats.shape))
    return out_path


def load_features(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (views, N, C, T', V) float16, labels (N,))."""
    tensors, _ = load_tensors(path)
    return tensors["features"], tensors["labels"]
