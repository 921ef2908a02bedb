"""NTU RGB+D 60 / 120 raw ``.skeleton`` files.

File format (Kinect v2, text): line 1 the frame count; then per frame a body-count line (may be 0)
and per body one info line of 10 fields (bodyID, clipedEdges, handLeftConfidence, handLeftState,
handRightConfidence, handRightState, isResticted, leanX, leanY, trackingState), a joint-count line
(25) and 25 joint lines of 12 fields (x y z depthX depthY colorX colorY orientationW..Z
trackingState). Sample names are ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer, replication,
action; all 1-based).

Multi-body handling follows the standard pipeline users expect:

1. frames without any body are dropped;
2. bodies are separated by bodyID across the remaining frames;
3. when a file holds more than one body, noise bodies are discarded: too short (<= 11 frames),
   too wide for a person (per-frame x spread / y spread > 0.8 in most frames), or too many noisy
   joints (untracked / all-zero joints or frame-to-frame jumps, in more than half of the joint
   observations);
4. the two most active bodies are kept (motion energy = sum over joints and axes of the variance
   over time), ordered by first appearance; absent frames are filled with zeros;
5. frames where all kept bodies are zero are dropped.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zeroskel.data import class_names as _class_names
from zeroskel.data.sample import LazyDataset, SkeletonDataset, SkeletonSample, Skipped

NUM_JOINTS = 25
NUM_BODY_INFO_FIELDS = 10
NUM_JOINT_FIELDS = 12

# Noise-body thresholds (see the module docstring).
MIN_BODY_FRAMES = 11            # a body seen in <= this many frames is noise
SPREAD_RATIO = 0.8              # a frame is "wide" when x spread > SPREAD_RATIO * y spread
MAX_WIDE_FRACTION = 0.69754     # a body with a larger fraction of wide frames is noise
JITTER_METRES = 0.5             # a joint moving more than this between two frames is jittery
MAX_NOISY_JOINT_FRACTION = 0.5  # a body with more noisy joint observations than this is noise

NTU60_XSUB_TRAIN: frozenset[int] = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
NTU120_XSUB_TRAIN: frozenset[int] = NTU60_XSUB_TRAIN | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
     89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)
XVIEW_TRAIN_CAMERAS: frozenset[int] = frozenset((2, 3))
NTU60_MAX_SETUP = 17            # NTU60 = setups S001..S017, actions A001..A060

_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


class SkeletonFormatError(ValueError):
    """A ``.skeleton`` file that is truncated or malformed (the message names file and line)."""


@dataclass
class RawBody:
    """One body in one frame, as stored in the file."""

    body_id: str
    info: tuple[str, ...]           # the 10 fields of the body info line
    data: np.ndarray                # (25, 12) float64: the 12 fields of each joint line

    @property
    def xyz(self) -> np.ndarray:
        return self.data[:, 0:3]    # (25, 3)

    @property
    def tracking_state(self) -> np.ndarray:
        return self.data[:, 11].astype(np.int64)  # (25,)


def parse_ntu_name(name: str | Path) -> dict[str, int]:
    """Parse ``SsssCcccPpppRrrrAaaa`` (a name or a path, with or without ``.skeleton``).

    Returns ``dict(setup, camera, performer, replication, action)``, 1-based as in the name.
    """
    stem = Path(str(name)).name
    match = _NAME_RE.search(stem)
    if match is None:
        raise ValueError(f"{name}: not an NTU sample name (expected SsssCcccPpppRrrrAaaa)")
    setup, camera, performer, replication, action = (int(g) for g in match.groups())
    return dict(setup=setup, camera=camera, performer=performer, replication=replication,
                action=action)


def benchmark_splits(info: dict[str, int], version: int) -> dict[str, str]:
    """The NTU benchmark sides of one sample: ``{"xsub": ..., "xview"|"xset": ...}`` = train/test.

    NTU60 defines X-Sub and X-View; NTU120 defines X-Sub and X-Set (even setup ids train).
    """
    if version == 60:
        return {
            "xsub": "train" if info["performer"] in NTU60_XSUB_TRAIN else "test",
            "xview": "train" if info["camera"] in XVIEW_TRAIN_CAMERAS else "test",
        }
    if version == 120:
        return {
            "xsub": "train" if info["performer"] in NTU120_XSUB_TRAIN else "test",
            "xset": "train" if info["setup"] % 2 == 0 else "test",
        }
    raise ValueError(f"NTU version must be 60 or 120, got {version}")


def parse_skeleton_file(path: str | Path) -> list[list[RawBody]]:
    """Read a raw ``.skeleton`` file into per-frame lists of bodies (a frame may hold none).

    Raises :class:`SkeletonFormatError` naming the file, the line number and what was wrong.
    """
    path = Path(path)
    with open(path, encoding="utf-8", errors="strict") as f:
        lines = f.read().splitlines()
    pos = 0  # index of the next line to read (line number = pos + 1)

    def fail(reason: str, line: int | None = None) -> SkeletonFormatError:
        where = f"line {(pos if line is None else line) + 1}"
        return SkeletonFormatError(f"{path}: {where}: {reason}")

    def next_line(what: str) -> str:
        nonlocal pos
        if pos >= len(lines):
            raise fail(f"file ends early (truncated), expected {what}")
        text = lines[pos]
        pos += 1
        return text

    def read_int(what: str) -> int:
        text = next_line(what).strip()
        try:
            value = int(text)
        except ValueError:
            raise fail(f"expected {what} (an integer), got {text!r}", pos - 1) from None
        if value < 0:
            raise fail(f"negative {what}: {value}", pos - 1)
        return value

    num_frames = read_int("the frame count")
    frames: list[list[RawBody]] = []
    for t in range(num_frames):
        num_bodies = read_int(f"the body count of frame {t + 1}")
        bodies: list[RawBody] = []
        for b in range(num_bodies):
            info = tuple(next_line(f"the info line of body {b + 1} in frame {t + 1}").split())
            if len(info) != NUM_BODY_INFO_FIELDS:
                raise fail(f"body info line has {len(info)} fields, expected "
                           f"{NUM_BODY_INFO_FIELDS}", pos - 1)
            num_joints = read_int(f"the joint count of body {b + 1} in frame {t + 1}")
            if num_joints != NUM_JOINTS:
                raise fail(f"joint count is {num_joints}, expected {NUM_JOINTS}", pos - 1)
            start = pos
            if pos + NUM_JOINTS > len(lines):
                pos = len(lines)
                raise fail(f"file ends early (truncated) inside the joints of body {b + 1} in "
                           f"frame {t + 1}")
            rows = [lines[start + j].split() for j in range(NUM_JOINTS)]
            pos += NUM_JOINTS
            for j, row in enumerate(rows):
                if len(row) != NUM_JOINT_FIELDS:
                    raise fail(f"joint line has {len(row)} fields, expected {NUM_JOINT_FIELDS}",
                               start + j)
            try:
                data = np.array(rows, dtype=np.float64)  # (25, 12)
            except ValueError:
                bad = next(j for j, row in enumerate(rows) if not _all_floats(row))
                raise fail(f"joint line is not numeric: {' '.join(rows[bad])!r}",
                           start + bad) from None
            if not np.isfinite(data[:, :3]).all():
                bad = int(np.nonzero(~np.isfinite(data[:, :3]).all(axis=1))[0][0])
                raise fail("joint coordinates are not finite (NaN/inf)", start + bad)
            bodies.append(RawBody(body_id=info[0], info=info, data=data))
        frames.append(bodies)
    if any(line.strip() for line in lines[pos:]):
        raise fail(f"unexpected content after the {num_frames} declared frames")
    return frames


def _all_floats(row: list[str]) -> bool:
    try:
        [float(x) for x in row]
    except ValueError:
        return False
    return True


@dataclass
class _Track:
    """One body followed across the (non-empty) frames of a file."""

    body_id: str
    frames: list[int] = field(default_factory=list)        # frame indices, increasing
    xyz: list[np.ndarray] = field(default_factory=list)    # each (25, 3)
    state: list[np.ndarray] = field(default_factory=list)  # each (25,)

    def joints(self) -> np.ndarray:
        return np.stack(self.xyz)  # (t, 25, 3)

    def motion(self) -> float:
        return float(np.var(self.joints(), axis=0).sum())


def _noise_reason(track: _Track) -> str | None:
    """Why ``track`` is a noise body, or None if it looks like a person."""
    joints = track.joints()  # (t, 25, 3)
    if len(track.frames) <= MIN_BODY_FRAMES:
        return f"too short ({len(track.frames)} frames <= {MIN_BODY_FRAMES})"
    spread = joints.max(axis=1) - joints.min(axis=1)  # (t, 3): per-frame x/y/z extent
    wide = spread[:, 0] > SPREAD_RATIO * spread[:, 1]
    if wide.mean() > MAX_WIDE_FRACTION:
        return (f"too wide for a person (x/y spread > {SPREAD_RATIO} in "
                f"{wide.mean():.0%} of frames)")
    missing = (np.stack(track.state) == 0) | (np.abs(joints).sum(axis=2) == 0)  # (t, 25)
    jump = np.zeros_like(missing)
    jump[1:] = np.linalg.norm(np.diff(joints, axis=0), axis=2) > JITTER_METRES
    noisy = missing | jump
    if noisy.mean() > MAX_NOISY_JOINT_FRACTION:
        return f"too many noisy joints ({noisy.mean():.0%} missing or jittery)"
    return None


def _select_bodies(frames: list[list[RawBody]], max_people: int) -> tuple[np.ndarray, dict]:
    """Turn per-frame bodies into (M, T, 25, 3) following the module docstring's steps."""
    frames = [bodies for bodies in frames if bodies]  # 1. drop frames without bodies
    tracks: dict[str, _Track] = {}
    for t, bodies in enumerate(frames):  # 2. separate bodies by id
        for body in bodies:
            track = tracks.setdefault(body.body_id, _Track(body.body_id))
            if track.frames and track.frames[-1] == t:
                continue  # duplicate id in one frame: keep the first
            track.frames.append(t)
            track.xyz.append(body.xyz)
            track.state.append(body.tracking_state)
    candidates = list(tracks.values())
    noise: dict[str, str] = {}
    if len(candidates) > 1:  # 3. discard noise bodies (a lone body is the actor)
        for track in candidates:
            reason = _noise_reason(track)
            if reason is not None:
                noise[track.body_id] = reason
        kept = [tr for tr in candidates if tr.body_id not in noise]
        if not kept:  # everything looked noisy: keep the most active one rather than nothing
            kept = [max(candidates, key=_Track.motion)]
            noise.pop(kept[0].body_id)
        candidates = kept
    # 4. the most active bodies, then in order of first appearance
    chosen = sorted(candidates, key=_Track.motion, reverse=True)[:max_people]
    chosen.sort(key=lambda tr: tr.frames[0])
    out = np.zeros((len(chosen), len(frames), NUM_JOINTS, 3), dtype=np.float32)  # (M, T, V, 3)
    for m, track in enumerate(chosen):
        out[m, track.frames] = track.joints()
    present = np.abs(out).reshape(len(chosen), len(frames), -1).sum(axis=(0, 2)) > 0  # (T,)
    out = out[:, present]  # 5. drop frames where all kept bodies are zero
    info = {
        "num_bodies": len(tracks),
        "noise_bodies": {bid: reason for bid, reason in noise.items()},
        "dropped_bodies": len(tracks) - len(noise) - len(chosen),
    }
    return out, info


def load_ntu_sample(path: str | Path, *, max_people: int = 2, version: int | None = None
                    ) -> SkeletonSample:
    """Read one ``.skeleton`` file into a :class:`SkeletonSample` (layout ``ntu25``).

    Args:
        path: the ``SsssCcccPpppRrrrAaaa.skeleton`` file.
        max_people: at most this many bodies are kept (the most active ones).
        version: 60 or 120 to add the benchmark sides (``meta["xsub"]``, ``"xview"``/``"xset"``);
            None infers 60 for setups <= 17 and 120 otherwise.

    Raises :class:`SkeletonFormatError` for a malformed file and ``ValueError`` for a file
    without any body or with fewer than 2 frames left.
    """
    path = Path(path)
    info = parse_ntu_name(path)
    frames = parse_skeleton_file(path)
    if not any(frames):
        raise ValueError(f"{path}: no body in any of its {len(frames)} frames (empty sample)")
    joints, body_info = _select_bodies(frames, max_people)
    if joints.shape[1] < 2:
        raise ValueError(f"{path}: only {joints.shape[1]} frame(s) with a body left")
    if version is None:
        version = 60 if info["setup"] <= NTU60_MAX_SETUP else 120
    meta = {
        "setup": info["setup"], "camera": info["camera"], "performer": info["performer"],
        "replication": info["replication"],
        **benchmark_splits(info, version),
        "num_bodies": body_info["num_bodies"],
    }
    if body_info["noise_bodies"]:
        meta["noise_bodies"] = body_info["noise_bodies"]
    name = _NAME_RE.search(path.name).group(0)
    return SkeletonSample(name=name, joints=joints, label=info["action"] - 1,
                          subject=info["performer"], meta=meta, source=str(path))


def read_missing_list(missing_list: str | Path | Iterable[str]) -> set[str]:
    """Sample names from a published "missing skeletons" list (one name per line)."""
    if isinstance(missing_list, (str, Path)):
        path = Path(missing_list)
        with open(path, encoding="utf-8") as f:
            entries: Iterable[str] = f.read().splitlines()
    else:
        entries = missing_list
    names = set()
    for entry in entries:
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        match = _NAME_RE.search(entry)
        names.add(match.group(0) if match else entry)
    return names


def open_ntu(root: str | Path, version: int = 60, *,
             missing_list: str | Path | Iterable[str] | None = None,
             max_people: int = 2) -> LazyDataset:
    """NTU RGB+D 60 or 120 as a :class:`LazyDataset`: the files are listed now, read on demand.

    Which files are entries follows :func:`load_ntu` (same arguments); names that are not NTU names,
    outside the version, duplicates or on the missing list are in ``skipped`` already.
    """
    if version not in (60, 120):
        raise ValueError(f"NTU version must be 60 or 120, got {version}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"NTU root {root} is not a folder")
    files = sorted(root.rglob("*.skeleton"), key=lambda p: p.name)
    if not files:
        raise FileNotFoundError(f"no *.skeleton files under {root}")
    missing = read_missing_list(missing_list) if missing_list is not None else set()
    names = _class_names.NTU60 if version == 60 else _class_names.NTU120
    entries: list[str] = []
    paths: list[Path] = []
    skipped: list[Skipped] = []
    outside = 0
    seen: set[str] = set()
    for path in files:
        try:
            info = parse_ntu_name(path)
        except ValueError as err:
            skipped.append(Skipped(str(path), str(err)))
            continue
        name = _NAME_RE.search(path.name).group(0)
        if version == 60 and (info["setup"] > NTU60_MAX_SETUP or info["action"] > 60):
            outside += 1
            continue
        if not 1 <= info["action"] <= len(names):
            skipped.append(Skipped(name, f"{path}: action A{info['action']:03d} is not one of "
                                         f"the {len(names)} NTU{version} classes"))
            continue
        if name in seen:
            skipped.append(Skipped(name, f"{path}: duplicate of a sample already read"))
            continue
        seen.add(name)
        if name in missing:
            skipped.append(Skipped(name, "listed as a sample with missing skeletons"))
            continue
        entries.append(name)
        paths.append(path)
    if outside:
        skipped.append(Skipped(str(root), f"{outside} files of the NTU120 extension (setup > "
                                          f"{NTU60_MAX_SETUP}) are not part of NTU60"))

    def read(i: int) -> SkeletonSample:
        return load_ntu_sample(paths[i], max_people=max_people, version=version)

    return LazyDataset(name=f"ntu{version}", class_names=list(names), layout="ntu25",
                       entries=entries, read=read, skipped=skipped, root=str(root))


def load_ntu(root: str | Path, version: int = 60, *,
             missing_list: str | Path | Iterable[str] | None = None, progress: bool = True,
             max_people: int = 2) -> SkeletonDataset:
    """Load NTU RGB+D 60 or 120 from the ``*.skeleton`` files under ``root`` (searched recursively).

    Everything is read into RAM; ``zeroskel data prepare`` streams :func:`open_ntu` instead.

    Args:
        root: folder holding the raw ``.skeleton`` files (any depth).
        version: 60 (setups S001-S017, 60 classes) or 120 (all setups, 120 classes). With 60, files
            of the NTU120 extension found under ``root`` are reported once in ``skipped``.
        missing_list: the dataset's "samples with missing skeletons" list (a text file, one name a
            line, or the names): those samples are reported in ``skipped`` and not read.
        progress: show a progress bar (only on a terminal).
        max_people: the number of bodies kept per sample.
    """
    from tqdm import tqdm

    lazy = open_ntu(root, version, missing_list=missing_list, max_people=max_people)
    samples: list[SkeletonSample] = []
    skipped = list(lazy.skipped)
    bar = tqdm(range(len(lazy)), desc=f"ntu{version}", unit="file",
               disable=not progress or not sys.stderr.isatty())
    for i in bar:
        try:
            samples.append(lazy.read(i))
        except ValueError as err:  # includes SkeletonFormatError
            skipped.append(Skipped(lazy.entries[i], str(err)))
    return SkeletonDataset(name=lazy.name, class_names=lazy.class_names, layout=lazy.layout,
                           samples=samples, skipped=skipped, root=lazy.root)
