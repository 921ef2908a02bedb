"""PKU-MMD phase I: long videos cut into action clips.

The release holds, per video (e.g. ``0002-L``, the number of the sequence and the view L/M/R):

- a skeleton file ``0002-L.txt``: one line per frame of 150 floats = 2 bodies x 25 joints x xyz
  (Kinect v2 / ``ntu25`` order), the second body all zeros when only one person is present;
- a label file ``0002-L.txt``: one line per action instance, ``label,start,end,confidence``
  (label 1..51). A clip is the frames ``start .. end-1`` of the video (Python slice order);
- the benchmark lists ``cross-subject.txt`` and ``cross-view.txt``: a ``Training videos:`` line
  followed by a comma-separated list of video ids, then a ``Validataion videos:`` line [sic] and its
  list. Every clip gets ``meta["xsub"]`` and ``meta["xview"]`` = ``"train"`` or ``"test"``.

Clips are named ``<video>_clipNN`` (NN = 1-based position in the label file). A body that is zero
over the whole clip is dropped (M=1 for one-person clips).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from zeroskel.data.class_names import PKU_MMD
from zeroskel.data.sample import SkeletonDataset, SkeletonSample, Skipped

NUM_VALUES = 150  # 2 bodies x 25 joints x xyz per frame
BENCHMARKS = {"xsub": "cross-subject.txt", "xview": "cross-view.txt"}

# Where the release's folders usually sit below the root (first match wins).
_SKELETON_DIRS = ("PKU_Skeleton_Renew", "skeleton", "Skeleton", "skeletons", "Data/skeleton",
                  "Data/PKU_Skeleton_Renew")
_LABEL_DIRS = ("Train_Label_PKU_final", "label", "Label", "labels", "Label/Train_Label_PKU_final",
               "Data/Label/Train_Label_PKU_final", "Data/label")
_SPLIT_DIRS = ("Split", "split", "splits", ".")

_VIDEO_RE = re.compile(r"^(\d{4})-([LMR])$")


def read_pku_skeleton(path: str | Path) -> np.ndarray:
    """Read one video's skeleton file into (2, T, 25, 3) float32."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != NUM_VALUES:
                raise ValueError(f"{path}: line {lineno}: {len(fields)} values, expected "
                                 f"{NUM_VALUES} (2 bodies x 25 joints x xyz)")
            try:
                rows.append([float(v) for v in fields])
            except ValueError:
                raise ValueError(f"{path}: line {lineno}: values are not numeric") from None
    if not rows:
        raise ValueError(f"{path}: no frames")
    data = np.asarray(rows, dtype=np.float32)  # (T, 150)
    if not np.isfinite(data).all():
        bad = int(np.nonzero(~np.isfinite(data).all(axis=1))[0][0]) + 1
        raise ValueError(f"{path}: frame {bad}: values are not finite (NaN/inf)")
    return data.reshape(len(rows), 2, 25, 3).transpose(1, 0, 2, 3).copy()  # (2, T, 25, 3)


def read_pku_labels(path: str | Path) -> list[tuple[int, int, int, float]]:
    """Read a label file into ``(label 1..51, start, end, confidence)`` rows."""
    path = Path(path)
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = [v.strip() for v in line.strip().rstrip(",").split(",")]
            if len(fields) != 4:
                raise ValueError(f"{path}: line {lineno}: expected label,start,end,confidence, "
                                 f"got {line.strip()!r}")
            try:
                label, start, end = (int(float(v)) for v in fields[:3])
                confidence = float(fields[3])
            except ValueError:
                raise ValueError(f"{path}: line {lineno}: values are not numeric: "
                                 f"{line.strip()!r}") from None
            out.append((label, start, end, confidence))
    return out


def read_split_list(path: str | Path) -> dict[str, str]:
    """Read a benchmark list into ``{video_id: "train" | "test"}``.

    Accepts the release's ``Validataion videos:`` spelling as well as ``Validation``/``Testing``.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    sides: dict[str, str] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        head, colon, rest = line.partition(":")
        key = head.strip().lower()
        if colon and key.startswith("train"):
            current, line = "train", rest
        elif colon and (key.startswith("valid") or key.startswith("test")):
            current, line = "test", rest
        ids = [v.strip() for v in line.split(",") if v.strip()]
        if ids and current is None:
            raise ValueError(f"{path}: line {lineno}: video ids before a 'Training videos:' "
                             f"or 'Validation videos:' header")
        for vid in ids:
            if vid in sides and sides[vid] != current:
                raise ValueError(f"{path}: line {lineno}: video {vid} is listed as both "
                                 f"training and validation")
            sides[vid] = current
    if not sides:
        raise ValueError(f"{path}: no video ids found")
    return sides


def _find_dir(root: Path, given: str | Path | None, candidates: tuple[str, ...], what: str,
              probe: str) -> Path:
    if given is not None:
        path = Path(given)
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise FileNotFoundError(f"PKU-MMD {what} folder {path} does not exist")
        return path
    for name in candidates:
        path = root / name
        if path.is_dir() and any(path.glob(probe)):
            return path
    raise FileNotFoundError(
        f"PKU-MMD {what} folder not found under {root} (tried {', '.join(candidates)}); "
        f"pass it explicitly")


def load_pku_mmd(root: str | Path, *, skeleton_dir: str | Path | None = None,
                 label_dir: str | Path | None = None, split_dir: str | Path | None = None,
                 progress: bool = True) -> SkeletonDataset:
    """Load PKU-MMD phase I as action clips (layout ``ntu25``, 51 classes).

    Args:
        root: the dataset folder.
        skeleton_dir: folder of per-video skeleton files (default: found below ``root``).
        label_dir: folder of per-video label files (default: found below ``root``).
        split_dir: folder holding ``cross-subject.txt`` and ``cross-view.txt`` (default: found
            below ``root``).
        progress: show a progress bar (only on a terminal).
    """
    from tqdm import tqdm

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"PKU-MMD root {root} is not a folder")
    skel_dir = _find_dir(root, skeleton_dir, _SKELETON_DIRS, "skeleton", "*.txt")
    lab_dir = _find_dir(root, label_dir, _LABEL_DIRS, "label", "*.txt")
    spl_dir = _find_dir(root, split_dir, _SPLIT_DIRS, "split", "cross-*.txt")
    splits = {}
    for key, filename in BENCHMARKS.items():
        if not (spl_dir / filename).is_file():
            raise FileNotFoundError(f"PKU-MMD benchmark list {spl_dir / filename} not found")
        splits[key] = read_split_list(spl_dir / filename)

    samples: list[SkeletonSample] = []
    skipped: list[Skipped] = []
    label_files = sorted(p for p in lab_dir.glob("*.txt") if _VIDEO_RE.match(p.stem))
    if not label_files:
        raise FileNotFoundError(f"no label files named like 0002-L.txt in {lab_dir}")
    bar = tqdm(label_files, desc="pku-mmd", unit="video",
               disable=not progress or not sys.stderr.isatty())
    for label_path in bar:
        video = label_path.stem
        skel_path = skel_dir / label_path.name
        if not skel_path.is_file():
            skipped.append(Skipped(video, f"skeleton file {skel_path} not found"))
            continue
        try:
            rows = read_pku_labels(label_path)
            joints = read_pku_skeleton(skel_path)  # (2, T, 25, 3)
        except ValueError as err:
            skipped.append(Skipped(video, str(err)))
            continue
        num_frames = joints.shape[1]
        sides = {key: lists.get(video) for key, lists in splits.items()}
        for i, (label, start, end, confidence) in enumerate(rows, start=1):
            name = f"{video}_clip{i:02d}"
            where = f"{label_path}: clip {i} ({label},{start},{end})"
            if not 1 <= label <= len(PKU_MMD):
                skipped.append(Skipped(name, f"{where}: label {label} is not in 1..51"))
                continue
            if not 0 <= start < end:
                skipped.append(Skipped(name, f"{where}: start/end out of order"))
                continue
            if end > num_frames:
                skipped.append(Skipped(name, f"{where}: ends after the {num_frames} frames of "
                                             f"{skel_path.name}"))
                continue
            if end - start < 2:
                skipped.append(Skipped(name, f"{where}: fewer than 2 frames"))
                continue
            clip = joints[:, start:end]  # (2, T, 25, 3)
            present = np.abs(clip).reshape(2, -1).sum(axis=1) > 0  # (2,)
            if not present.any():
                skipped.append(Skipped(name, f"{where}: no skeleton in the clip (all zeros)"))
                continue
            missing_sides = [k for k, v in sides.items() if v is None]
            if missing_sides:
                skipped.append(Skipped(name, f"video {video} is in no list of "
                                             f"{', '.join(BENCHMARKS[k] for k in missing_sides)}"))
                continue
            meta = {"video": video, "sequence": int(video[:4]), "view": video[-1],
                    "clip": i, "start": start, "end": end, "confidence": confidence, **sides}
            samples.append(SkeletonSample(name=name, joints=np.ascontiguousarray(clip[present]),
                                          label=label - 1, subject=-1, meta=meta,
                                          source=str(skel_path)))
    return SkeletonDataset(name="pku-mmd", class_names=list(PKU_MMD), layout="ntu25",
                           samples=samples, skipped=skipped, root=str(root))
