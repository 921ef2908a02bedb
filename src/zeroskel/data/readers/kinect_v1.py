"""Readers for the Kinect v1 (20-joint) datasets: UTD-MHAD, MSR Action3D, UTKinect-Action3D, NW-UCLA.

Every reader returns a :class:`SkeletonDataset` in the canonical ``kinect20`` joint order (the Kinect
SDK order), one person per sample: joints (1, T, 20, 3) float32 in metres.

A file that cannot be used (unreadable, truncated, malformed, all zeros, NaN, fewer than 2 frames,
unknown class) becomes a :class:`Skipped` entry naming the file and the reason, and a warning;
``strict=True`` raises ``ValueError`` instead. Nothing is dropped silently.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from zeroskel.data.class_names import BY_DATASET
from zeroskel.data.layouts import stored_order_permutation
from zeroskel.data.sample import SkeletonDataset, SkeletonSample, Skipped

T = TypeVar("T")

NUM_JOINTS = 20


class SampleError(ValueError):
    """A sample that cannot be used; the message names the file and the reason."""


def check_joints(joints: np.ndarray) -> str | None:
    """Why (M, T, V, 3) joints are unusable, or None when they are fine."""
    if joints.shape[1] == 0:
        return "no frames"
    if not np.isfinite(joints).all():
        return "contains NaN or infinite coordinates"
    if not np.any(joints):
        return "all joint coordinates are zero"
    if joints.shape[1] < 2:
        return f"only {joints.shape[1]} frame (need at least 2)"
    return None


def _text_lines(path: Path) -> list[str]:
    """The lines of a text file; SampleError naming the file when it is not text (not UTF-8)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except UnicodeDecodeError as e:
        raise SampleError(f"{path}: not a text file (byte {e.start} is not UTF-8: {e.reason})") from None
    except OSError as e:
        raise SampleError(f"{path}: cannot read ({e.strerror or e})") from None


def _find_files(root: Path, pattern: re.Pattern, what: str) -> list[Path]:
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{what}: data folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.is_file() and pattern.fullmatch(p.name))
    if not files:
        raise FileNotFoundError(f"{what}: no files matching {pattern.pattern!r} under {root}")
    return files


class _Collector:
    """Gathers samples and skipped entries; warns (or raises when strict) on each skip."""

    def __init__(self, dataset: str, strict: bool) -> None:
        self.dataset, self.strict = dataset, strict
        self.samples: list[SkeletonSample] = []
        self.skipped: list[Skipped] = []

    def skip(self, sample: str, reason: str, source: str | Path = "", *, _stacklevel: int = 3) -> None:
        if source:
            reason = f"{reason} ({source})"
        if self.strict:
            raise SampleError(f"{self.dataset}: {sample}: {reason}")
        warnings.warn(f"{self.dataset}: skipping {sample}: {reason}", stacklevel=_stacklevel)
        self.skipped.append(Skipped(sample, reason))

    def read(self, sample: str, path: Path, reader: Callable[[Path], T]) -> T | None:
        """``reader(path)``, or None after skipping ``sample`` with the reader's reason."""
        try:
            return reader(path)
        except SampleError as err:
            self.skip(sample, str(err).removeprefix(f"{path}: "), path, _stacklevel=4)
            return None

    def add(self, sample: SkeletonSample) -> None:
        reason = check_joints(sample.joints)
        if reason is not None:
            self.skip(sample.name, reason, sample.source)
        else:
            self.samples.append(sample)

    def dataset_of(self, name: str, root: Path) -> SkeletonDataset:
        return SkeletonDataset(name=name, class_names=list(BY_DATASET[name]), layout="kinect20",
                               samples=self.samples, skipped=self.skipped, root=str(root))


def _to_kinect20(stored: np.ndarray, order: str) -> np.ndarray:
    """(T, 20, 3) in a stored order -> (1, T, 20, 3) float32 in the kinect20 order."""
    perm = stored_order_permutation(order)
    return np.ascontiguousarray(stored[:, perm, :][None], dtype=np.float32)  # (1, T, V, 3)


# --- UTD-MHAD ------------------------------------------------------------------------------------

_UTD_FILE = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat")
UTD_SUBJECTS, UTD_TRIALS = 8, 4  # s1..s8, t1..t4 (a file outside them is not from the release)


def read_utd_mhad_file(path: str | Path) -> np.ndarray:
    """One UTD-MHAD ``.mat`` file -> (1, T, 20, 3) float32 in kinect20 order."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(str(path))
    except Exception as err:  # scipy raises several types for truncated/corrupt files
        raise SampleError(f"{path}: cannot read MATLAB file ({type(err).__name__}: {err})") from err
    if "d_skel" not in mat:
        raise SampleError(f"{path}: no 'd_skel' variable (found {sorted(k for k in mat if not k.startswith('__'))})")
    skel = np.asarray(mat["d_skel"])
    if skel.ndim == 2 and skel.shape == (NUM_JOINTS, 3):
        skel = skel[:, :, None]
    if skel.ndim != 3 or skel.shape[:2] != (NUM_JOINTS, 3):
        raise SampleError(f"{path}: 'd_skel' has shape {skel.shape}, expected (20, 3, T)")
    return _to_kinect20(skel.transpose(2, 0, 1).astype(np.float64), "utd-mhad")  # (T, V, 3)


def load_utd_mhad(root: str | Path, *, strict: bool = False) -> SkeletonDataset:
    """UTD-MHAD skeletons: ``aA_sS_tT_skeleton.mat`` files anywhere under ``root``."""
    root = Path(root)
    out = _Collector("utd-mhad", strict)
    num_classes = len(BY_DATASET["utd-mhad"])
    for path in _find_files(root, _UTD_FILE, "utd-mhad"):
        a, s, t = (int(g) for g in _UTD_FILE.fullmatch(path.name).groups())
        name = f"a{a}_s{s}_t{t}"
        if not 1 <= a <= num_classes:
            out.skip(name, f"unknown class a{a} (UTD-MHAD has a1..a{num_classes})", path)
            continue
        if not 1 <= s <= UTD_SUBJECTS:
            out.skip(name, f"unknown subject s{s} (UTD-MHAD has s1..s{UTD_SUBJECTS})", path)
            continue
        if not 1 <= t <= UTD_TRIALS:
            out.skip(name, f"unknown trial t{t} (UTD-MHAD has t1..t{UTD_TRIALS})", path)
            continue
        joints = out.read(name, path, read_utd_mhad_file)
        if joints is None:
            continue
        out.add(SkeletonSample(name=name, joints=joints, label=a - 1, subject=s,
                               meta={"trial": t}, source=str(path)))
    return out.dataset_of("utd-mhad", root)


# --- MSR Action3D --------------------------------------------------------------------------------

_MSR_FILE = re.compile(r"a(\d+)_s(\d+)_e(\d+)_skeleton3D\.txt")


def read_msr_action3d_file(path: str | Path) -> np.ndarray:
    """One MSR Action3D ``_skeleton3D.txt`` file -> (1, T, 20, 3) float32 in kinect20 order."""
    path = Path(path)
    rows = []
    for lineno, line in enumerate(_text_lines(path), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise SampleError(f"{path}: line {lineno} has {len(fields)} fields, expected 4 "
                              "(x y z confidence)")
        try:
            rows.append([float(v) for v in fields])
        except ValueError:
            raise SampleError(f"{path}: line {lineno} is not numeric: {line.strip()!r}") from None
    if len(rows) % NUM_JOINTS:
        raise SampleError(f"{path}: {len(rows)} rows is not a multiple of 20 (truncated file?)")
    data = np.asarray(rows, dtype=np.float64).reshape(-1, NUM_JOINTS, 4)  # (T, V, xyzc)
    return _to_kinect20(data[..., :3], "msr-action3d")


def load_msr_action3d(root: str | Path, *, strict: bool = False) -> SkeletonDataset:
    """MSR Action3D skeletons: ``aAA_sSS_eEE_skeleton3D.txt`` files anywhere under ``root``."""
    root = Path(root)
    out = _Collector("msr-action3d", strict)
    num_classes = len(BY_DATASET["msr-action3d"])
    for path in _find_files(root, _MSR_FILE, "msr-action3d"):
        a, s, e = (int(g) for g in _MSR_FILE.fullmatch(path.name).groups())
        name = f"a{a:02d}_s{s:02d}_e{e:02d}"
        if not 1 <= a <= num_classes:
            out.skip(name, f"unknown class a{a:02d} (MSR Action3D has a01..a{num_classes})", path)
            continue
        joints = out.read(name, path, read_msr_action3d_file)
        if joints is None:
            continue
        out.add(SkeletonSample(name=name, joints=joints, label=a - 1,
                               subject=s, meta={"execution": e}, source=str(path)))
    return out.dataset_of("msr-action3d", root)


# --- UTKinect-Action3D ---------------------------------------------------------------------------

_UTK_RECORDING = re.compile(r"s(\d+)_e(\d+)")
_UTK_SEGMENT = re.compile(r"(\w+):\s*(\S+)\s+(\S+)")


def read_utkinect_labels(path: str | Path) -> list[tuple[str, str, float, float]]:
    """``actionLabel.txt`` -> ``(recording, action, start_frame, end_frame)``; NaN where absent."""
    path = Path(path)
    segments: list[tuple[str, str, float, float]] = []
    recording = None
    try:
        lines = _text_lines(path)
    except SampleError as e:
        raise ValueError(str(e)) from None
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if _UTK_RECORDING.fullmatch(line):
            recording = line
            continue
        m = _UTK_SEGMENT.fullmatch(line)
        if m is None or recording is None:
            raise ValueError(f"{path}: line {lineno} is neither 'sSS_eEE' nor "
                             f"'action: start end': {line!r}")
        try:
            start, end = float(m.group(2)), float(m.group(3))
        except ValueError:
            raise ValueError(f"{path}: line {lineno}: frame ids are not numbers: {line!r}") from None
        segments.append((recording, m.group(1), start, end))
    if not segments:
        raise ValueError(f"{path}: no action segments")
    return segments


def read_utkinect_joints(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``joints_sSS_eEE.txt`` -> (frame_ids (N,) int64, joints (N, 20, 3) float64 in SDK order)."""
    path = Path(path)
    ids, rows = [], []
    for lineno, line in enumerate(_text_lines(path), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 + 3 * NUM_JOINTS:
            raise SampleError(f"{path}: line {lineno} has {len(fields)} fields, expected 61 "
                              "(frame id + 20 x xyz; truncated file?)")
        try:
            frame_id = float(fields[0])
            rows.append([float(v) for v in fields[1:]])
        except ValueError:
            raise SampleError(f"{path}: line {lineno} is not numeric") from None
        if not np.isfinite(frame_id):
            raise SampleError(f"{path}: line {lineno}: frame id {fields[0]!r} is not a finite number")
        ids.append(int(frame_id))
    if not rows:
        raise SampleError(f"{path}: no frames")
    return np.asarray(ids, dtype=np.int64), np.asarray(rows).reshape(-1, NUM_JOINTS, 3)


def load_utkinect(root: str | Path, *, strict: bool = False) -> SkeletonDataset:
    """UTKinect-Action3D: ``joints/joints_sSS_eEE.txt`` cut into segments by ``actionLabel.txt``.

    A segment keeps the rows whose frame id lies in ``[start, end]`` (ids, not row numbers; a few ids
    repeat in the recordings and all such rows are kept, in file order).
    """
    root = Path(root)
    label_files = sorted(root.rglob("actionLabel.txt")) if root.exists() else []
    if not label_files:
        raise FileNotFoundError(f"utkinect: no actionLabel.txt under {root}")
    label_path = label_files[0]
    classes = list(BY_DATASET["utkinect"])
    out = _Collector("utkinect", strict)
    recordings: dict[str, tuple[np.ndarray, np.ndarray] | str] = {}
    for recording, action, start, end in read_utkinect_labels(label_path):
        name = f"{recording}_{action}"
        if action not in classes:
            out.skip(name, f"unknown class {action!r}", label_path)
            continue
        if not (np.isfinite(start) and np.isfinite(end)):
            out.skip(name, f"no segment (frame ids {start:g} {end:g})", label_path)
            continue
        if end < start:
            out.skip(name, f"end frame {end:g} before start frame {start:g}", label_path)
            continue
        if recording not in recordings:
            joints_path = label_path.parent / "joints" / f"joints_{recording}.txt"
            try:
                recordings[recording] = read_utkinect_joints(joints_path)
            except (OSError, SampleError) as err:
                recordings[recording] = f"cannot read joints file: {err}"
        rec = recordings[recording]
        if isinstance(rec, str):
            out.skip(name, rec)
            continue
        ids, frames = rec
        keep = (ids >= start) & (ids <= end)
        subject, execution = (int(g) for g in _UTK_RECORDING.fullmatch(recording).groups())
        out.add(SkeletonSample(
            name=name, joints=_to_kinect20(frames[keep], "sdk"), label=classes.index(action),
            subject=subject, source=str(label_path.parent / "joints" / f"joints_{recording}.txt"),
            meta={"execution": execution, "recording": recording,
                  "start_frame": int(start), "end_frame": int(end)},
        ))
    return out.dataset_of("utkinect", root)


# --- NW-UCLA -------------------------------------------------------------------------------------

_NWUCLA_FILE = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)\.json")
# file action id -> 0-based label (a07 and a10 are not in the release)
NWUCLA_ACTION_TO_LABEL: dict[int, int] = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 8: 6, 9: 7, 11: 8, 12: 9}


def read_nw_ucla_file(path: str | Path) -> tuple[np.ndarray, int]:
    """One NW-UCLA JSON file -> ((1, T, 20, 3) float32 kinect20 joints, 1-based label)."""
    path = Path(path)
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SampleError(f"{path}: cannot read JSON ({err})") from err
    if not isinstance(record, dict) or "skeletons" not in record or "label" not in record:
        raise SampleError(f"{path}: expected an object with 'skeletons' and 'label'")
    try:
        skel = np.asarray(record["skeletons"], dtype=np.float64)
    except (ValueError, TypeError):
        raise SampleError(f"{path}: 'skeletons' is not a [T][20][3] array of numbers") from None
    if skel.size == 0:
        skel = skel.reshape(0, NUM_JOINTS, 3)
    if skel.ndim != 3 or skel.shape[1:] != (NUM_JOINTS, 3):
        raise SampleError(f"{path}: 'skeletons' has shape {skel.shape}, expected (T, 20, 3)")
    label = record["label"]
    if not isinstance(label, int) or isinstance(label, bool):
        raise SampleError(f"{path}: 'label' is {label!r}, expected an integer 1..10")
    return _to_kinect20(skel, "sdk"), label


def load_nw_ucla(root: str | Path, *, strict: bool = False) -> SkeletonDataset:
    """NW-UCLA (JSON release): ``aAA_sSS_eEE_vVV.json`` files anywhere under ``root``."""
    root = Path(root)
    out = _Collector("nw-ucla", strict)
    for path in _find_files(root, _NWUCLA_FILE, "nw-ucla"):
        a, s, e, v = (int(g) for g in _NWUCLA_FILE.fullmatch(path.name).groups())
        name = f"a{a:02d}_s{s:02d}_e{e:02d}_v{v:02d}"
        if a not in NWUCLA_ACTION_TO_LABEL:
            out.skip(name, f"unknown class a{a:02d} (NW-UCLA has a01-a06, a08, a09, a11, a12)",
                     path)
            continue
        read = out.read(name, path, read_nw_ucla_file)
        if read is None:
            continue
        joints, label = read
        expected = NWUCLA_ACTION_TO_LABEL[a]
        if label - 1 != expected:
            out.skip(name, f"label {label} disagrees with file id a{a:02d} (expected {expected + 1})",
                     path)
            continue
        out.add(SkeletonSample(name=name, joints=joints,
                               label=expected, subject=s, meta={"execution": e, "view": v},
                               source=str(path)))
    return out.dataset_of("nw-ucla", root)
