"""Skeleton inputs for inference: arrays and files in any registered layout -> clips in the model's layout.

    clips = read_clips("walk.npz", layout="mediapipe33")        # a file may hold several clips
    joints, notes = prepare_joints(clips[0].joints, src_layout=clips[0].layout, dst_layout="kinect20",
                                   name=clips[0].name)          # (M, T, 20, 3), repaired and mapped

Accepted arrays: (T, V, C) for one person or (M, T, V, C), C = 3 (x, y, z). 2D input (C = 2) is
refused unless the model was trained on 2D keypoints (``coords="xy+score"``: pyskl-style x, y and a
confidence; a missing confidence is set to 1).

Files (``read_clips``):

- ``.npy``: one array.
- ``.npz``: the array ``joints`` (or the only array), and optionally a string ``layout``.
- ``.json``: a list of frames, each (V, C) or (M, V, C) (frames always come first; ``null`` marks a
  missing value), or an object ``{"joints": <that list of frames>, "layout": "coco17"}``.
- ``.csv``: one row per frame, V*3 columns (x, y, z of joint 0, then joint 1, ...), an optional
  header row; empty cells are missing values. One person.
- ``.skeleton``: an NTU RGB+D / Kinect v2 file (layout ``ntu25``, up to 2 people).
- ``.pkl`` / ``.pickle``: a pyskl / mmaction2 pickle; one clip per annotation (``keypoint`` (M, T, V, C),
  2D files with ``keypoint_score``). Read with ``zeroskel.data.formats.load_pickle_safely``: numpy arrays
  and plain values only, so a crafted pickle cannot run code (it is refused with a message).
- dataset files, read by the dataset readers (layout ``kinect20``): MSR Action3D
  ``*_skeleton3D.txt`` and UTD-MHAD ``*_skeleton.mat``.

The layout is, in order: the ``layout`` argument, the one the file names, the format's own (``ntu25``
for ``.skeleton``), or the model's layout when the joint count matches it. Anything else is an error:
the joint count alone is never used to guess a layout (and the recognizer refuses a ``layout``
argument that contradicts the file's). A nested list of numbers is one clip; several clips are given
as a list of arrays, paths or :class:`Clip` objects.

Bad input is refused with an error naming the clip (file and sample) and what is wrong, except for two
documented repairs, both reported as notes (and as a :class:`InputWarning` by the recognizer):

1. frames at the start or end of a clip in which every value is missing (NaN) are dropped (a tracker
   that has not found the person yet, or has lost them for good);
2. a joint missing (NaN) in at most ``max_gap`` consecutive frames (default 5) with valid values on
   both sides is filled by linear interpolation between them.

Any other missing value (a longer gap, a joint missing at the start or end of the clip, a person
missing in some frames but not all) is refused. Infinite values are refused, and so are arrays that are
not real numbers (booleans, complex numbers, strings, structured records).

Units: 3D joints are taken to be in metres (as the datasets store them). A clip whose body spans more
than ``MAX_BODY_EXTENT`` (10) units, median over its frames, is refused unless ``units`` says what it is:
``"mm"`` or ``"cm"`` converts to metres (a note says so), ``"m"`` uses the values as given. Millimetre
input read as metres changes the ranking without any other sign. A clip needs at least
``MIN_FRAMES`` (2) frames with a skeleton. An all-zero person-frame means "nobody there", as in the
datasets. Joints the input layout lacks are estimated from named neighbours (``map_layout``) and
reported as approximate.
"""
from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zeroskel.config import read_json_file
from zeroskel.data.formats import load_pickle_safely
from zeroskel.data.layouts import get_layout, list_layouts, map_layout

MIN_FRAMES = 2
DEFAULT_MAX_GAP = 5
MAX_BODY_EXTENT = 10.0  # metres: larger bodies are another unit (see the module docstring)
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
_KIND_NAMES = {"b": "booleans", "c": "complex numbers", "V": "structured records", "U": "strings",
               "S": "bytes", "O": "Python objects", "M": "dates", "m": "time spans"}
FILE_SUFFIXES = (".npy", ".npz", ".json", ".csv", ".skeleton", ".pkl", ".pickle", "_skeleton3D.txt",
                 "_skeleton.mat")


class InputError(ValueError):
    """Skeleton input that cannot be used; the message names the clip and what is wrong."""


class InputWarning(UserWarning):
    """A documented repair or approximation applied to an input clip."""


@dataclass
class Clip:
    """One input clip as read, before layout mapping and repair.

    Args:
        name: where it came from (``file``, ``file#sample`` or a caller-given name).
        joints: (M, T, V, C) float array, C = 2 or 3, NaN for missing values.
        layout: the layout of the joints, or None when the input did not say (resolved later).
        coords: what the last axis holds: None (by its size: 3 = x, y, z; 2 = x, y) or ``xy+score``
            (2D keypoints and a confidence, as pyskl 2D files).
    """

    name: str
    joints: np.ndarray
    layout: str | None = None
    coords: str | None = None


# ----------------------------------------------------------------------------------------- arrays
def as_people_array(joints: Any, name: str) -> np.ndarray:
    """(T, V, C) or (M, T, V, C) -> float64 (M, T, V, C); InputError for any other shape or dtype."""
    try:
        raw = np.asarray(joints)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name}: joints are not a numeric array ({e})") from None
    if raw.dtype.kind not in "iuf":
        what = _KIND_NAMES.get(raw.dtype.kind, f"dtype {raw.dtype}")
        raise InputError(f"{name}: joints are not a numeric array: they are {what} (dtype {raw.dtype}); "
                         "expected real numbers (x, y, z coordinates)")
    arr = raw.astype(np.float64)
    if arr.ndim == 3:
        arr = arr[None]  # (1, T, V, C)
    if arr.ndim != 4:
        raise InputError(f"{name}: joints have shape {arr.shape}; expected (T, V, C) for one person "
                         "or (M, T, V, C), with C = 3 (x, y, z)")
    if arr.shape[-1] not in (2, 3):
        raise InputError(f"{name}: last axis has {arr.shape[-1]} values per joint; expected 3 (x, y, z)")
    if min(arr.shape[:3]) == 0:
        raise InputError(f"{name}: empty joints array of shape {arr.shape}")
    return arr


def _coords(arr: np.ndarray, coords: str, name: str, given: str | None = None) -> np.ndarray:
    """Match the coordinate channels the model was trained on (``given``: what the input holds)."""
    c = arr.shape[-1]
    if given == "xy+score" and c != 3:
        raise InputError(f"{name}: coords 'xy+score' need 3 values per joint, got {c}")
    if coords == "xyz":
        if c == 2 or given == "xy+score":
            raise InputError(f"{name}: 2D joints (last axis 2) but this model was trained on 3D joints "
                             "(x, y, z). Use 3D input: Kinect/mocap joints, MediaPipe world landmarks, or "
                             "2D keypoints lifted to 3D by a pose lifter")
        return arr
    if coords == "xy+score":
        if c == 2:  # no confidence given: full confidence where a value is present
            score = np.where(np.isnan(arr).any(-1, keepdims=True), np.nan, 1.0)
            return np.concatenate([arr, score], axis=-1)
        return arr
    raise InputError(f"{name}: model input coords {coords!r} unknown (expected 'xyz' or 'xy+score')")


def _frame_desc(frames: np.ndarray) -> str:
    frames = [int(f) for f in frames]
    shown = ", ".join(map(str, frames[:8]))
    return shown + (f", ... ({len(frames)} frames)" if len(frames) > 8 else "")


def repair_missing(joints: np.ndarray, *, name: str, layout_name: str | None = None,
                   max_gap: int = DEFAULT_MAX_GAP) -> tuple[np.ndarray, list[str]]:
    """Apply the two documented repairs to NaN values, or raise InputError naming what is missing.

    Args:
        joints: (M, T, V, C) with NaN for missing values.
        name: clip name for messages.
        layout_name: layout of ``joints`` (for joint names in messages).
        max_gap: longest run of missing frames a joint may have to be interpolated.
    Returns:
        (joints without NaN, notes).
    """
    if np.isinf(joints).any():
        m, t, v, _ = np.argwhere(np.isinf(joints))[0]
        raise InputError(f"{name}: infinite value at person {m}, frame {t}, joint {v}")
    missing = np.isnan(joints)
    if not missing.any():
        return joints, []
    notes: list[str] = []
    joint_names = get_layout(layout_name).joints if layout_name else None

    def jname(v: int) -> str:
        return f"joint {v} ({joint_names[v]})" if joint_names and v < len(joint_names) else f"joint {v}"

    # 1. drop all-missing frames at the start and end
    frame_missing = missing.all(axis=(0, 2, 3))  # (T,)
    if frame_missing.all():
        raise InputError(f"{name}: every value is missing (NaN)")
    first = int(np.argmax(~frame_missing))
    last = len(frame_missing) - 1 - int(np.argmax(~frame_missing[::-1]))
    if first > 0 or last < len(frame_missing) - 1:
        notes.append(f"dropped {first} leading and {len(frame_missing) - 1 - last} trailing frame(s) "
                     "with no values (NaN)")
        joints = joints[:, first:last + 1]
        missing = missing[:, first:last + 1]
    if not missing.any():
        return joints, notes

    # 2. interpolate short interior gaps, per person and joint (a joint's C values go missing together)
    joints = joints.copy()
    m_count, t_count, v_count, _ = joints.shape
    point_missing = missing.any(-1)  # (M, T, V)
    partial = missing.any(-1) & ~missing.all(-1)
    if partial.any():
        m, t, v = np.argwhere(partial)[0]
        raise InputError(f"{name}: person {m}, frame {first + t}, {jname(v)} has some coordinates "
                         "missing (NaN) and others not")
    filled = 0
    for m in range(m_count):
        for v in range(v_count):
            gaps = point_missing[m, :, v]
            if not gaps.any():
                continue
            t = 0
            while t < t_count:
                if not gaps[t]:
                    t += 1
                    continue
                start = t
                while t < t_count and gaps[t]:
                    t += 1
                end = t  # [start, end) missing
                where = f"{name}: person {m}, {jname(v)} missing (NaN) in frames " \
                        f"{_frame_desc(np.arange(start, end) + first)}"
                if start == 0 or end == t_count:
                    raise InputError(f"{where}, at the {'start' if start == 0 else 'end'} of the clip: "
                                     "nothing to interpolate from (only short gaps inside a clip are "
                                     "repaired)")
                if end - start > max_gap:
                    raise InputError(f"{where}: a gap of {end - start} frames, longer than max_gap="
                                     f"{max_gap} that may be interpolated")
                lo, hi = joints[m, start - 1, v], joints[m, end, v]
                w = (np.arange(start, end) - (start - 1)) / (end - (start - 1))  # (gap,)
                joints[m, start:end, v] = lo[None] * (1 - w[:, None]) + hi[None] * w[:, None]
                filled += end - start
    notes.append(f"interpolated {filled} missing joint position(s) in gaps of at most {max_gap} frames")
    return joints, notes


def resolve_layout(num_joints: int, *, given: str | None, from_input: str | None, model_layout: str,
                   name: str) -> str:
    """The layout of a clip with ``num_joints`` joints (see the module docstring for the order)."""
    for which, lay in (("layout argument", given), ("input", from_input)):
        if lay is None:
            continue
        try:
            layout = get_layout(lay)
        except ValueError as e:
            raise InputError(f"{name}: {e}") from None
        if layout.num_joints != num_joints:
            raise InputError(f"{name}: {num_joints} joints per frame, but layout {lay!r} (from the {which}) "
                             f"has {layout.num_joints}")
        return layout.name
    if num_joints == get_layout(model_layout).num_joints:
        return model_layout
    same = [n for n in list_layouts() if get_layout(n).num_joints == num_joints]
    hint = f" ({', '.join(same)} has {num_joints})" if same else ""
    raise InputError(f"{name}: {num_joints} joints per frame but the model's layout {model_layout!r} has "
                     f"{get_layout(model_layout).num_joints}; name the input layout with layout=... / "
                     f"--layout{hint}. Known layouts: {', '.join(list_layouts())}")


def body_extent(joints: np.ndarray) -> float:
    """Median over present person-frames of the diagonal of the joints' bounding box; (M, T, V, C)."""
    present = np.any(joints != 0, axis=(2, 3))  # (M, T)
    if not present.any():
        return 0.0
    frames = joints[present]  # (n, V, C)
    return float(np.median(np.linalg.norm(frames.max(1) - frames.min(1), axis=-1)))


def apply_units(joints: np.ndarray, units: str | None, *, name: str) -> tuple[np.ndarray, list[str]]:
    """Check (``units=None``) or convert 3D joints to metres; see the module docstring."""
    if units is not None and units not in UNITS:
        raise InputError(f"{name}: units {units!r} unknown; use one of {', '.join(UNITS)}")
    if units is None:
        extent = body_extent(joints)
        if extent > MAX_BODY_EXTENT:
            guess = ("millimetres" if 200 <= extent <= 5000 else "centimetres" if 20 <= extent < 200
                     else "not metres")
            raise InputError(f"{name}: the skeleton spans {extent:.4g} units (median over frames), but a body "
                             f"in metres spans about 0.5 to 2.5, so these look like {guess}. Say the units: "
                             "--units mm / units='mm' (or cm) converts to metres, --units m uses the values "
                             "as they are")
        return joints, []
    if units == "m":
        return joints, []
    return joints * UNITS[units], [f"converted from {units} to metres (x {UNITS[units]:g})"]


def prepare_joints(joints: Any, *, dst_layout: str, src_layout: str | None = None,
                   layout_hint: str | None = None, coords: str = "xyz", input_coords: str | None = None,
                   max_gap: int = DEFAULT_MAX_GAP, name: str = "clip",
                   units: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Check, repair and map one clip into the model's layout.

    Args:
        joints: (T, V, C) or (M, T, V, C) array, NaN for missing values.
        dst_layout: the model's layout.
        src_layout: the caller's layout for the input (wins over ``layout_hint``).
        layout_hint: the layout the input itself declares (a file's ``layout`` field).
        coords: what the model was trained on: ``xyz`` (3D) or ``xy+score`` (2D keypoints).
        input_coords: what the input holds when its size does not say (``xy+score``), else None.
        max_gap: longest NaN gap (frames) that is interpolated.
        name: clip name for messages.
        units: ``m`` | ``cm`` | ``mm`` for 3D joints, or None (check that they look like metres).
    Returns:
        ``(joints (M, T, V_model, 3) float32, notes)``.
    """
    arr = _coords(as_people_array(joints, name), coords, name, input_coords)
    layout = resolve_layout(arr.shape[2], given=src_layout, from_input=layout_hint,
                            model_layout=dst_layout, name=name)
    arr, notes = repair_missing(arr, name=name, layout_name=layout, max_gap=max_gap)
    present = np.any(arr != 0, axis=(2, 3))  # (M, T): an all-zero person-frame is "nobody"
    frames = int(present.any(axis=0).sum())
    if frames < MIN_FRAMES:
        raise InputError(f"{name}: {frames} frame(s) with a skeleton, need at least {MIN_FRAMES}")
    if coords == "xyz":
        arr, unit_notes = apply_units(arr, units, name=name)
        notes += unit_notes
    elif units is not None:
        raise InputError(f"{name}: units apply to 3D joints; this model reads 2D keypoints")
    if layout != get_layout(dst_layout).name:
        arr, approximate = map_layout(arr, layout, dst_layout)  # (M, T, V_model, C)
        if approximate.any():
            joints_est = [get_layout(dst_layout).joints[i] for i in np.flatnonzero(approximate)]
            notes.append(f"mapped {layout} -> {dst_layout}: {len(joints_est)} joint(s) estimated from "
                         f"neighbours (approximate): {', '.join(joints_est)}")
        # a person-frame that was absent stays absent (estimates of zeros are zeros already)
        arr = np.where(present[..., None, None], arr, 0.0)
    return np.ascontiguousarray(arr, dtype=np.float32), notes


# ------------------------------------------------------------------------------------------ files
def _json_array(obj: Any, name: str) -> np.ndarray:
    def nan(x: Any) -> Any:
        if x is None:
            return float("nan")
        if isinstance(x, list):
            return [nan(y) for y in x]
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise TypeError(type(x).__name__)
        return x
    try:
        return np.array(nan(obj), dtype=np.float64)
    except RecursionError:
        raise InputError(f"{name}: JSON nested too deeply to be frames of joints") from None
    except (TypeError, ValueError):
        raise InputError(f"{name}: joints are not a regular nested list of numbers (ragged frames, "
                         "or non-numeric values)") from None


def _read_json(path: Path) -> list[Clip]:
    obj = read_json_file(path, InputError, "frames of joints")
    layout = None
    if isinstance(obj, dict):
        if "joints" not in obj:
            raise InputError(f"{path}: a JSON object needs a 'joints' field (has {', '.join(obj) or 'none'})")
        layout = obj.get("layout")
        if layout is not None and not isinstance(layout, str):
            raise InputError(f"{path}: 'layout' must be a string, got {layout!r}")
        obj = obj["joints"]
    if not isinstance(obj, list) or not obj:
        raise InputError(f"{path}: expected a non-empty list of frames")
    arr = _json_array(obj, str(path))
    if arr.ndim == 4:
        arr = arr.transpose(1, 0, 2, 3)  # frames of (M, V, C): (T, M, V, C) -> (M, T, V, C)
    return [Clip(str(path), arr, layout)]


def _read_csv(path: Path) -> list[Clip]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise InputError(f"{path}: empty CSV file")

    def number(cell: str) -> float:
        cell = cell.strip()
        if cell == "" or cell.lower() in ("nan", "na", "null"):
            return float("nan")
        return float(cell)

    try:
        [number(c) for c in rows[0]]
    except ValueError:
        rows = rows[1:]  # a header row
    width = len(rows[0]) if rows else 0
    if width == 0 or width % 3:
        raise InputError(f"{path}: {width} columns per row; expected V*3 (x, y, z of each joint)")
    data = []
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InputError(f"{path}: row {i + 1} has {len(row)} columns, the first has {width}")
        try:
            data.append([number(c) for c in row])
        except ValueError:
            raise InputError(f"{path}: row {i + 1} has a value that is not a number") from None
    arr = np.array(data, dtype=np.float64).reshape(len(data), width // 3, 3)  # (T, V, 3)
    return [Clip(str(path), arr, None)]


def _read_npz(path: Path) -> list[Clip]:
    with np.load(path, allow_pickle=False) as data:
        keys = list(data.keys())
        layout = None
        if "layout" in keys:
            value = np.asarray(data["layout"]).reshape(-1)
            if value.size != 1 or value.dtype.kind not in "US":
                raise InputError(f"{path}: 'layout' must be one string (a layout name such as 'ntu25'), "
                                 f"got an array of {value.size} {value.dtype} value(s)")
            layout = str(value[0])
            keys.remove("layout")
        if "joints" in keys:
            arr = data["joints"]
        elif len(keys) == 1:
            arr = data[keys[0]]
        else:
            raise InputError(f"{path}: expected an array named 'joints' or a single array, found "
                             f"{', '.join(keys) or 'none'}")
    return [Clip(str(path), as_people_array(arr, str(path)), layout)]


def _read_skeleton(path: Path) -> list[Clip]:
    from zeroskel.data.readers.ntu import _NAME_RE, _select_bodies, load_ntu_sample, parse_skeleton_file

    if _NAME_RE.search(path.name):
        sample = load_ntu_sample(path, max_people=2)
        return [Clip(f"{path}", sample.joints.astype(np.float64), "ntu25")]
    # a Kinect v2 file under another name: same body selection, no NTU metadata
    frames = parse_skeleton_file(path)
    if not any(frames):
        raise InputError(f"{path}: no body in any of its {len(frames)} frames")
    joints, _ = _select_bodies(frames, 2)
    return [Clip(str(path), joints.astype(np.float64), "ntu25")]


def _read_pyskl(path: Path) -> list[Clip]:
    data = load_pickle_safely(path)  # numpy arrays and plain values only: nothing in it runs
    annotations = data.get("annotations") if isinstance(data, dict) else data
    if not isinstance(annotations, list) or not annotations:
        raise InputError(f"{path}: not a pyskl pickle (expected a dict with a non-empty 'annotations' list)")
    clips = []
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict) or "keypoint" not in ann:
            raise InputError(f"{path}: annotation {i} has no 'keypoint' array")
        sample = f"{path}#{ann.get('frame_dir', i)}"
        kp = np.asarray(ann["keypoint"])
        if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
            raise InputError(f"{sample}: keypoint has shape {kp.shape}, expected (M, T, V, 2 or 3)")
        kp = as_people_array(kp, sample)
        if kp.shape[-1] == 2 and ann.get("keypoint_score") is not None:
            score = np.asarray(ann["keypoint_score"])
            if score.dtype.kind not in "iuf":
                raise InputError(f"{sample}: keypoint_score is not an array of real numbers (dtype {score.dtype})")
            score = score.astype(np.float64)
            if score.shape != kp.shape[:-1]:
                raise InputError(f"{sample}: keypoint_score has shape {score.shape}, expected {kp.shape[:-1]}")
            kp = np.concatenate([kp, score[..., None]], axis=-1)  # (M, T, V, 3) = x, y, score
            clips.append(Clip(sample, kp, None, coords="xy+score"))
            continue
        clips.append(Clip(sample, kp, None))
    return clips


def _read_kinect_v1(path: Path) -> list[Clip]:
    from zeroskel.data.readers.kinect_v1 import read_msr_action3d_file, read_utd_mhad_file

    if path.name.endswith("_skeleton3D.txt"):
        return [Clip(str(path), read_msr_action3d_file(path).astype(np.float64), "kinect20")]
    if path.name.endswith("_skeleton.mat"):
        return [Clip(str(path), read_utd_mhad_file(path).astype(np.float64), "kinect20")]
    raise InputError(f"{path}: a {path.suffix} file is read only as an MSR Action3D *_skeleton3D.txt or "
                     "UTD-MHAD *_skeleton.mat file; save other joints as .npy, .npz, .json or .csv")


def _read_npy(path: Path) -> list[Clip]:
    return [Clip(str(path), as_people_array(np.load(path, allow_pickle=False), str(path)), None)]


_READERS = {".npy": _read_npy,
            ".npz": _read_npz, ".json": _read_json, ".csv": _read_csv, ".skeleton": _read_skeleton,
            ".pkl": _read_pyskl, ".pickle": _read_pyskl, ".txt": _read_kinect_v1, ".mat": _read_kinect_v1}


def read_clips(path: str | Path) -> list[Clip]:
    """Read the clip(s) of one file (see the module docstring for the formats)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise InputError(f"{path}: unsupported input file type {suffix or '(none)'!r}; supported: "
                         f"{', '.join(FILE_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        clips = _READERS[suffix](path)
    except InputError:
        raise
    except (ValueError, OSError, KeyError, EOFError, TypeError, IndexError, RecursionError) as e:
        msg = str(e) or type(e).__name__
        if "allow_pickle" in msg:  # numpy's hint to unpickle the file is not advice to follow
            msg = ("not a numeric array file: it is damaged, not numpy at all, or holds Python objects, "
                   "which are never unpickled; save the joints as a plain float array")
        raise InputError(msg if msg.startswith(str(path)) else f"{path}: cannot read ({msg})") from None
    return clips


def to_clips(inputs: Any | Sequence[Any], *, names: Sequence[str] | None = None) -> list[Clip]:
    """Arrays, paths and :class:`Clip` objects -> a flat list of clips (a file may give several)."""
    if isinstance(inputs, (str, Path, Clip, np.ndarray)) or _is_nested_numbers(inputs):
        inputs = [inputs]
    clips: list[Clip] = []
    for i, item in enumerate(inputs):
        if isinstance(item, Clip):
            clips.append(item)
        elif isinstance(item, (str, Path)):
            clips.extend(read_clips(item))
        else:
            name = names[i] if names is not None else f"clip {i}"
            clips.append(Clip(name, item, None))
    return clips


def _is_nested_numbers(obj: Any) -> bool:
    while isinstance(obj, (list, tuple)) and obj:
        obj = obj[0]
    return isinstance(obj, (int, float, np.number))


def clip_notes(clip_name: str, notes: Sequence[str], *, warn: bool = True) -> list[str]:
    """``notes`` prefixed with the clip name; also issued as :class:`InputWarning` when ``warn``."""
    out = [f"{clip_name}: {note}" for note in notes]
    if warn:
        for text in out:
            warnings.warn(text, InputWarning, stacklevel=3)
    return out


__all__ = ["Clip", "InputError", "InputWarning", "MIN_FRAMES", "DEFAULT_MAX_GAP", "FILE_SUFFIXES", "UNITS",
           "MAX_BODY_EXTENT", "body_extent", "apply_units",
           "read_clips", "to_clips", "prepare_joints", "repair_missing", "resolve_layout",
           "as_people_array", "clip_notes"]
