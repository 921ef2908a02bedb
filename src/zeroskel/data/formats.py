"""The two preprocessed forms users already have: CTR-GCN ``.npz`` and the pyskl/mmaction2 pickle.

CTR-GCN ``.npz`` (e.g. ``NTU60_CS.npz``): ``x_train``/``x_test`` float32 (N, T, 150), per frame two
bodies x 25 joints x xyz, zero-padded in time (and a zero second body for one-person clips);
``y_train``/``y_test`` one-hot (N, K). Sample names are not stored: they are made up as
``<file stem>_<split>_<index>``. Reading trims trailing all-zero frames and drops an all-zero
second body. Members stored uncompressed (as ``np.savez`` writes them) are memory-mapped straight
from the zip, so a 7 GB NTU file is read one sample at a time.

pyskl/mmaction2 pickle: ``{"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir",
"label" (0-based), "keypoint" (M, T, V, C) float16, "total_frames", ...}]}``. 2D files (C=2) carry
``keypoint_score`` (M, T, V); they are read as (x, y, score).

Pickles are read by :func:`load_pickle_safely`, which builds only numpy arrays, dtypes and scalars
and plain values (dicts, lists, tuples, strings, bytes, numbers, booleans, None): a pickle that asks
for any other class or function (the way a crafted pickle runs code) is refused, before anything
it names is imported or called.
"""
from __future__ import annotations

import os
import pickle
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from zeroskel.data import class_names as _class_names
from zeroskel.data.readers.ntu import parse_ntu_name
from zeroskel.data.sample import SkeletonDataset, SkeletonSample, Skipped

NUM_BODIES = 2
NUM_JOINTS = 25

# Class names guessed from the class count when the caller gives none (all 25-joint datasets).
_NAMES_BY_COUNT: dict[int, tuple[str, tuple[str, ...]]] = {
    60: ("ntu60", _class_names.NTU60),
    120: ("ntu120", _class_names.NTU120),
    51: ("pku-mmd", _class_names.PKU_MMD),
}


# The only globals a pyskl pickle may name: numpy's array, dtype and scalar reconstructors (numpy 1
# and 2 module paths) and the helpers the standard pickle protocols use for them.
_PICKLE_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
})


class _Refused(pickle.UnpicklingError):
    pass


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise _Refused(
                f"refused to load {module}.{name}: zeroskel reads pickles holding only numpy arrays, "
                "dicts, lists, strings and numbers (a pickle naming other classes or functions can run "
                "code); convert the file to .npz or pyskl's plain form")
        return super().find_class(module, name)


def load_pickle_safely(path: str | Path) -> Any:
    """Unpickle ``path`` allowing numpy arrays and plain values only (see the module docstring).

    Raises ``ValueError`` naming the file for a refused, truncated or corrupt pickle.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _PlainUnpickler(f).load()
    except _Refused as e:
        raise ValueError(f"{path}: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError,
            RecursionError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a readable pickle, truncated or corrupt "
                         f"({type(e).__name__}: {e})") from None


def _class_names_for(path: Path, num_classes: int, class_names: list[str] | None
                     ) -> tuple[str, list[str]]:
    if class_names is not None:
        if len(class_names) < num_classes:
            raise ValueError(f"{path}: labels go up to {num_classes - 1} but only "
                             f"{len(class_names)} class names were given")
        return path.stem, list(class_names)
    if num_classes in _NAMES_BY_COUNT:
        name, names = _NAMES_BY_COUNT[num_classes]
        return name, list(names)
    raise ValueError(f"{path}: {num_classes} classes match no known dataset (60, 120 or 51); "
                     f"pass class_names=")


def _atomic_target(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


# --------------------------------------------------------------------------------------------
# CTR-GCN .npz


def _npz_member(path: Path, key: str) -> np.ndarray:
    """Array ``key`` of an ``.npz``, memory-mapped when stored uncompressed, else loaded."""
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo(f"{key}.npy")
        except KeyError:
            raise KeyError(f"{path}: no array {key!r} (has {', '.join(zf.namelist())})") from None
        stored = info.compress_type == zipfile.ZIP_STORED
    if stored:
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)  # the zip local file header
            if local[:4] != b"PK\x03\x04":
                raise ValueError(f"{path}: corrupt zip header for {key}.npy")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # a newer header: let numpy read it
                stored = False
            offset = f.tell()
        if stored and not dtype.hasobject:
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                             order="F" if fortran else "C")
    with np.load(path, allow_pickle=False) as data:
        return data[key]


def read_ctrgcn_npz(path: str | Path, *, split: str = "train",
                    class_names: list[str] | None = None) -> SkeletonDataset:
    """Read one split of a CTR-GCN-style ``.npz`` (layout ``ntu25``).

    Args:
        path: the ``.npz`` file.
        split: ``"train"`` or ``"test"`` (arrays ``x_<split>``, ``y_<split>``).
        class_names: names in label order; default: NTU60 / NTU120 / PKU-MMD by class count.
    """
    path = Path(path)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    x = _npz_member(path, f"x_{split}")
    y = np.asarray(_npz_member(path, f"y_{split}"))
    if x.ndim != 3 or x.shape[2] != NUM_BODIES * NUM_JOINTS * 3:
        raise ValueError(f"{path}: x_{split} has shape {x.shape}, expected (N, T, 150)")
    if y.ndim == 2:
        num_classes = y.shape[1]
        labels = y.argmax(axis=1)
        if not np.allclose(y.sum(axis=1), 1):
            raise ValueError(f"{path}: y_{split} rows are not one-hot")
    elif y.ndim == 1:
        labels = y.astype(np.int64)
        num_classes = int(labels.max()) + 1 if len(labels) else 0
    else:
        raise ValueError(f"{path}: y_{split} has shape {y.shape}, expected (N, K) or (N,)")
    if len(labels) != len(x):
        raise ValueError(f"{path}: {len(x)} samples in x_{split} but {len(labels)} in y_{split}")
    name, names = _class_names_for(path, num_classes, class_names)
    samples: list[SkeletonSample] = []
    skipped: list[Skipped] = []
    for i in range(len(x)):
        sample = f"{path.stem}_{split}_{i:06d}"
        joints = np.asarray(x[i], dtype=np.float32)  # (T, 150)
        joints = joints.reshape(-1, NUM_BODIES, NUM_JOINTS, 3).transpose(1, 0, 2, 3)  # (2,T,V,3)
        if not np.isfinite(joints).all():
            skipped.append(Skipped(sample, f"{path}: x_{split}[{i}] has NaN/inf values"))
            continue
        frame_used = np.abs(joints).sum(axis=(0, 2, 3)) > 0  # (T,)
        if not frame_used.any():
            skipped.append(Skipped(sample, f"{path}: x_{split}[{i}] is all zeros"))
            continue
        last = int(np.nonzero(frame_used)[0][-1])
        joints = joints[:, : last + 1]  # trim the trailing zero padding
        if not np.abs(joints[1]).any():
            joints = joints[:1]  # (1, T, V, 3): the second body is padding
        samples.append(SkeletonSample(name=sample, joints=np.ascontiguousarray(joints),
                                      label=int(labels[i]), subject=-1,
                                      meta={"split": split, "index": i}, source=str(path)))
    return SkeletonDataset(name=name, class_names=names, layout="ntu25", samples=samples,
                           skipped=skipped, root=str(path))


def _ctrgcn_arrays(ds: SkeletonDataset, num_frames: int) -> None:
    for s in ds.samples:
        M, T, V, C = s.joints.shape
        if V != NUM_JOINTS or C != 3 or M > NUM_BODIES:
            raise ValueError(f"sample {s.name}: joints {s.joints.shape} do not fit the CTR-GCN "
                             f"form (at most 2 bodies x 25 joints x xyz)")
        if T > num_frames:
            raise ValueError(f"sample {s.name}: {T} frames, more than num_frames={num_frames}")


def _write_npy_member(zf: zipfile.ZipFile, key: str, shape: tuple[int, ...], dtype: np.dtype,
                      rows) -> None:
    """Stream an array into the zip as ``key.npy``, one row (first-axis slice) at a time."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}
    with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_2_0(f, header)
        for row in rows:
            f.write(np.ascontiguousarray(row, dtype=dtype).tobytes())


def write_ctrgcn_npz(path: str | Path, train_ds: SkeletonDataset, test_ds: SkeletonDataset, *,
                     num_frames: int | None = None) -> Path:
    """Write a CTR-GCN-style ``.npz`` (uncompressed, so it can be memory-mapped back).

    Args:
        path: the output file (written atomically).
        train_ds / test_ds: the two splits (25-joint layout, at most 2 bodies).
        num_frames: padded length T; default ``max(300, longest sample)``.
    """
    path = Path(path)
    if train_ds.class_names != test_ds.class_names:
        raise ValueError("train and test datasets have different class names")
    longest = max((s.num_frames for s in train_ds.samples + test_ds.samples), default=0)
    T = num_frames if num_frames is not None else max(300, longest)
    num_classes = len(train_ds.class_names)
    for ds in (train_ds, test_ds):
        _ctrgcn_arrays(ds, T)

    def x_rows(ds: SkeletonDataset):
        for s in ds.samples:
            out = np.zeros((T, NUM_BODIES, NUM_JOINTS, 3), dtype=np.float32)  # (T, 2, V, 3)
            out[: s.num_frames, : s.joints.shape[0]] = np.transpose(s.joints, (1, 0, 2, 3))
            yield out.reshape(T, NUM_BODIES * NUM_JOINTS * 3)  # (T, 150)

    def y_rows(ds: SkeletonDataset):
        for s in ds.samples:
            if not 0 <= s.label < num_classes:
                raise ValueError(f"sample {s.name}: label {s.label} outside 0..{num_classes - 1}")
            yield np.eye(num_classes, dtype=np.float32)[s.label]

    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED,
                                                         allowZip64=True) as zf:
            for split, ds in (("train", train_ds), ("test", test_ds)):
                N = len(ds.samples)
                _write_npy_member(zf, f"x_{split}", (N, T, 150), np.float32, x_rows(ds))
                _write_npy_member(zf, f"y_{split}", (N, num_classes), np.float32, y_rows(ds))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------------------------
# pyskl / mmaction2 pickle


def _plain(value: Any) -> Any:
    """Meta values kept from an annotation: plain scalars, strings and small tuples."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)) and len(value) <= 8 and all(
            isinstance(v, (str, int, float, bool, np.generic)) for v in value):
        return [v.item() if isinstance(v, np.generic) else v for v in value]
    return _SKIP


_SKIP = object()
_ANNOTATION_ARRAYS = {"frame_dir", "label", "keypoint", "keypoint_score", "total_frames"}


def read_pyskl(path: str | Path, *, split: str | None = None,
               class_names: list[str] | None = None, layout: str = "ntu25") -> SkeletonDataset:
    """Read a pyskl/mmaction2 skeleton pickle.

    Args:
        path: the ``.pkl`` file.
        split: keep only the ``frame_dir`` names of ``data["split"][split]`` (e.g. ``xsub_train``);
            None keeps all. Every sample's ``meta["splits"]`` lists the splits it belongs to.
        class_names: names in label order; default: NTU60 / NTU120 / PKU-MMD by class count.
        layout: joint layout of the keypoints (``ntu25`` for 3D NTU, ``coco17`` for 2D HRNet).
    """
    path = Path(path)
    data = load_pickle_safely(path)
    if not isinstance(data, dict) or "annotations" not in data:
        raise ValueError(f"{path}: not a pyskl pickle (expected a dict with 'split' and "
                         f"'annotations')")
    split_lists: dict[str, list[str]] = data.get("split", {}) or {}
    if split is not None and split not in split_lists:
        raise KeyError(f"{path}: no split {split!r} (has {', '.join(split_lists) or 'none'})")
    member: dict[str, list[str]] = {}
    for split_name, frame_dirs in split_lists.items():
        for fd in frame_dirs:
            member.setdefault(fd, []).append(split_name)
    keep = set(split_lists[split]) if split is not None else None
    annotations = data["annotations"]
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise ValueError(f"{path}: 'annotations' must be a list of dicts")
    for i, a in enumerate(annotations):
        label = a.get("label")
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
            raise ValueError(f"{path}: annotation {i} ({a.get('frame_dir', '?')}) has label {label!r}, "
                             "expected an integer >= 0")
    num_classes = max((int(a["label"]) for a in annotations), default=-1) + 1
    name, names = _class_names_for(path, num_classes, class_names)

    samples: list[SkeletonSample] = []
    skipped: list[Skipped] = []
    for i, ann in enumerate(annotations):
        frame_dir = str(ann.get("frame_dir", f"{path.stem}_{i:06d}"))
        if keep is not None and frame_dir not in keep:
            continue
        raw = np.asarray(ann.get("keypoint"))
        if raw.dtype.kind not in "iuf":
            skipped.append(Skipped(frame_dir, f"{path}: keypoint is not an array of real numbers "
                                              f"(dtype {raw.dtype})"))
            continue
        kp = raw.astype(np.float32)
        if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
            skipped.append(Skipped(frame_dir, f"{path}: keypoint has shape {kp.shape}, expected "
                                              f"(M, T, V, 2 or 3)"))
            continue
        meta: dict[str, Any] = {"splits": member.get(frame_dir, [])}
        if kp.shape[-1] == 2:  # 2D: (x, y, score)
            score = ann.get("keypoint_score")
            score = (np.asarray(score, dtype=np.float32) if score is not None
                     else np.zeros(kp.shape[:-1], dtype=np.float32))
            kp = np.concatenate([kp, score[..., None]], axis=-1)  # (M, T, V, 3)
            meta["coords"] = "xy+score"
        M, T, V, _ = kp.shape
        if T < 1 or M < 1:
            skipped.append(Skipped(frame_dir, f"{path}: empty keypoint array {kp.shape}"))
            continue
        if not np.isfinite(kp).all():
            skipped.append(Skipped(frame_dir, f"{path}: keypoint has NaN/inf values"))
            continue
        if "total_frames" in ann and int(ann["total_frames"]) != T:
            skipped.append(Skipped(frame_dir, f"{path}: total_frames={ann['total_frames']} but "
                                              f"keypoint has {T} frames"))
            continue
        for key, value in ann.items():
            if key not in _ANNOTATION_ARRAYS and (plain := _plain(value)) is not _SKIP:
                meta[key] = plain
        subject = -1
        try:
            info = parse_ntu_name(frame_dir)
        except ValueError:
            pass
        else:
            subject = info["performer"]
            meta.update(setup=info["setup"], camera=info["camera"],
                        replication=info["replication"])
        samples.append(SkeletonSample(name=frame_dir, joints=kp, label=int(ann["label"]),
                                      subject=subject, meta=meta, source=str(path)))
    return SkeletonDataset(name=name, class_names=names, layout=layout, samples=samples,
                           skipped=skipped, root=str(path))


def write_pyskl(path: str | Path, dataset: SkeletonDataset, splits: dict[str, list[str]]) -> Path:
    """Write ``dataset`` as a pyskl/mmaction2 pickle (keypoints float16, written atomically).

    Args:
        path: the output ``.pkl``.
        dataset: the samples (``frame_dir`` = sample name).
        splits: split name -> sample names, e.g. ``{"xsub_train": [...], "xsub_val": [...]}``.
    """
    path = Path(path)
    names = {s.name for s in dataset.samples}
    for split_name, members in splits.items():
        unknown = [m for m in members if m not in names]
        if unknown:
            raise ValueError(f"split {split_name!r} names {len(unknown)} samples not in the "
                             f"dataset, e.g. {unknown[0]!r}")
    annotations = []
    for s in dataset.samples:
        kp = np.asarray(s.joints)
        if np.abs(kp).max(initial=0) > np.finfo(np.float16).max:
            raise ValueError(f"sample {s.name}: values exceed the float16 range")
        annotations.append({"frame_dir": s.name, "label": int(s.label),
                            "keypoint": kp.astype(np.float16),  # (M, T, V, C)
                            "total_frames": int(kp.shape[1])})
    payload = {"split": {k: list(v) for k, v in splits.items()}, "annotations": annotations}
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=4)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["read_ctrgcn_npz", "write_ctrgcn_npz", "read_pyskl", "write_pyskl", "load_pickle_safely"]
