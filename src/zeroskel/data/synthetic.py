"""Synthetic raw NTU RGB+D ``.skeleton`` files, for scale tests and benchmarks only.

Nothing here resembles real actions: each body is a rest pose of the 25 Kinect v2 joints that drifts
by a smoothed random walk (root and per-joint), with an arm swing whose speed depends on the action
id. What is realistic is the *shape of the data*: the per-line text format the NTU reader parses
(frame count; per frame a body count; per body a 10-field info line, ``25`` and 25 joint lines of 12
fields), 1 person (2 for the mutual actions A050-A060 / A106-A120), sometimes a short third "noise"
body the reader must discard, frame counts from about 30 to 300 (median about 75, as in NTU) and so
file sizes of the real ones (about 100-300 KB), and names ``SsssCcccPpppRrrrAaaa`` spread so that
any prefix of the sequence covers every action and many performers, cameras and setups.

Text is formatted by vectorised numpy: every field is fixed-width (right-aligned, space-padded), so
a body block is one row of a uint8 matrix and a file is assembled by one scatter.

    python benchmarks/gen_ntu.py --out /tmp/ntu-fake --count 2000
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUM_JOINTS = 25
FRAMES = (30, 300)  # frame-count range of NTU clips (median about 75)
MUTUAL_ACTIONS = frozenset(range(50, 61)) | frozenset(range(106, 121))  # two-person actions

# Rest pose of the NTU joint order (metres, x right, y up, relative to SpineBase).
_REST = np.array([
    [0.00, 0.00, 0.0], [0.00, 0.30, 0.0], [0.00, 0.57, 0.0], [0.00, 0.72, 0.0],   # spine, neck, head
    [-0.18, 0.50, 0.0], [-0.27, 0.25, 0.0], [-0.30, 0.02, 0.0], [-0.31, -0.06, 0.0],  # left arm
    [0.18, 0.50, 0.0], [0.27, 0.25, 0.0], [0.30, 0.02, 0.0], [0.31, -0.06, 0.0],      # right arm
    [-0.09, -0.02, 0.0], [-0.11, -0.45, 0.0], [-0.12, -0.85, 0.0], [-0.12, -0.92, 0.1],  # left leg
    [0.09, -0.02, 0.0], [0.11, -0.45, 0.0], [0.12, -0.85, 0.0], [0.12, -0.92, 0.1],      # right leg
    [0.00, 0.50, 0.0],                                                             # spine shoulder
    [-0.32, -0.13, 0.0], [-0.28, -0.08, 0.03], [0.32, -0.13, 0.0], [0.28, -0.08, 0.03],  # hand tips
])                                                                                 # (25, 3)
_RIGHT_ARM = np.array([9, 10, 11, 23, 24])     # joints moved by the action's swing
_SWING_WEIGHT = np.array([0.4, 0.8, 1.0, 1.0, 1.0])

# Kinect v2 projections (approximate): depth camera 512x424, colour camera 1920x1080.
_DEPTH_F, _COLOR_F = 365.0, 1081.0


@dataclass(frozen=True)
class _Field:
    """One fixed-width numeric field: ``int_digits`` before the point, ``decimals`` after."""

    int_digits: int
    decimals: int

    @property
    def width(self) -> int:  # a sign slot, the integer digits, the point and the decimals
        return 1 + self.int_digits + (1 + self.decimals if self.decimals else 0)


# x y z | depthX depthY | colorX colorY | orientation W X Y Z | trackingState
_JOINT_FIELDS = ([_Field(1, 7)] * 3 + [_Field(3, 4)] * 2 + [_Field(4, 3)] * 2 + [_Field(1, 7)] * 4
                 + [_Field(1, 0)])
# bodyID clipedEdges handLeftConfidence handLeftState handRightConfidence handRightState
# isResticted leanX leanY trackingState
_INFO_FIELDS = ([_Field(17, 0)] + [_Field(1, 0)] * 6 + [_Field(1, 7)] * 2 + [_Field(1, 0)])


def format_fixed(values: np.ndarray, fields: list[_Field]) -> np.ndarray:
    """Rows of numbers -> rows of ASCII text, one uint8 row per input row (no newline).

    ``values`` is (R, F) float64; field f is written right-aligned in ``fields[f].width`` bytes
    followed by one space (the last field by none), with ``decimals`` digits after the point and a
    ``-`` before the first digit of a negative value. Raises ValueError when a value does not fit.
    """
    values = np.asarray(values, dtype=np.float64)
    rows = values.shape[0]
    parts = []
    for f, spec in enumerate(fields):
        v = values[:, f]
        q = np.rint(np.abs(v) * 10.0 ** spec.decimals).astype(np.int64)  # (R,) scaled magnitude
        ndig = spec.int_digits + spec.decimals
        if (q >= 10 ** ndig).any():
            raise ValueError(f"field {f}: a value does not fit in {spec.int_digits} integer digits")
        powers = 10 ** np.arange(ndig - 1, -1, -1, dtype=np.int64)           # (ndig,)
        digits = (q[:, None] // powers[None, :]) % 10                         # (R, ndig)
        text = (digits + ord("0")).astype(np.uint8)
        # blank the leading zeros of the integer part (keep its last digit)
        significant = np.cumsum(digits[:, :spec.int_digits - 1] > 0, axis=1) > 0  # (R, int-1)
        text[:, :spec.int_digits - 1][~significant] = ord(" ")
        col = np.full((rows, spec.width + (f < len(fields) - 1)), ord(" "), dtype=np.uint8)
        col[:, 1:1 + spec.int_digits] = text[:, :spec.int_digits]
        if spec.decimals:
            col[:, 1 + spec.int_digits] = ord(".")
            col[:, 2 + spec.int_digits:spec.width] = text[:, spec.int_digits:]
        neg = (v < 0) & (q > 0)
        if neg.any():  # the sign goes just before the first printed integer digit
            first = spec.int_digits - 1 - significant.sum(axis=1)              # (R,) 0-based digit
            col[np.nonzero(neg)[0], first[neg]] = ord("-")                     # slot 0 = sign slot
        parts.append(col)
    return np.concatenate(parts, axis=1)


def ntu_names(count: int, version: int = 60) -> list[str]:
    """``count`` distinct sample names; any prefix covers every action, then many performers.

    Mixed radix over (action fastest, performer, camera, replication, setup), so the first clips
    span every action and the cross-subject / cross-view splits of both halves are non-empty.
    """
    actions, performers, setups = (60, 40, 17) if version == 60 else (120, 106, 32)
    capacity = actions * performers * 3 * 2 * setups
    if not 0 <= count <= capacity:
        raise ValueError(f"count must be in 0..{capacity} for NTU{version}, got {count}")
    i = np.arange(count)
    action = i % actions + 1
    i = i // actions
    performer = i % performers + 1
    i = i // performers
    camera = i % 3 + 1
    i = i // 3
    replication = i % 2 + 1
    setup = i // 2 + 1
    return [f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}"
            for s, c, p, r, a in zip(setup, camera, performer, replication, action)]


def _smooth_walk(rng: np.random.Generator, t: int, shape: tuple[int, ...], step: float,
                 pull: float) -> np.ndarray:
    """A mean-reverting random walk (t, *shape): x[k] = (1 - pull) x[k-1] + N(0, step)."""
    noise = rng.normal(0.0, step, size=(t, *shape))
    decay = (1.0 - pull) ** np.arange(t)                                       # (t,)
    # x[k] = sum_j decay[k-j] noise[j], computed by cumulative sums of rescaled noise
    scaled = noise / decay.reshape(-1, *[1] * len(shape))
    return np.cumsum(scaled, axis=0) * decay.reshape(-1, *[1] * len(shape))


def _body_xyz(rng: np.random.Generator, t: int, action: int, x0: float, z0: float) -> np.ndarray:
    """(t, 25, 3) joints of one body in camera space (metres)."""
    pull = 0.05
    root = _smooth_walk(rng, t, (3,), 0.004, pull) + np.array([x0, 0.1, z0])   # (t, 3)
    wobble = _smooth_walk(rng, t, (NUM_JOINTS, 3), 0.003, 0.1)                 # (t, 25, 3)
    pose = _REST[None] * rng.uniform(0.9, 1.1) + wobble                        # (t, 25, 3)
    phase = np.linspace(0.0, 2 * np.pi * (0.5 + (action % 7) * 0.3), t)        # (t,)
    swing = 0.25 * np.sin(phase + rng.uniform(0, 2 * np.pi))                   # (t,)
    pose[:, _RIGHT_ARM, 1] += swing[:, None] * _SWING_WEIGHT[None]
    pose[:, _RIGHT_ARM, 2] -= 0.5 * np.abs(swing)[:, None] * _SWING_WEIGHT[None]
    return pose + root[:, None, :]


def _joint_rows(rng: np.random.Generator, xyz: np.ndarray) -> np.ndarray:
    """(n, 25, 3) joints -> (n * 25, 12) joint-line values (projections, orientations, state)."""
    n = xyz.shape[0]
    x, y, z = xyz[..., 0], xyz[..., 1], np.maximum(xyz[..., 2], 0.5)
    quat = rng.normal(size=(1, NUM_JOINTS, 4)) + rng.normal(0.0, 0.05, size=(n, NUM_JOINTS, 4))
    quat /= np.linalg.norm(quat, axis=-1, keepdims=True)                        # (n, 25, 4)
    state = np.where(rng.random((n, NUM_JOINTS)) < 0.03, 1.0, 2.0)             # inferred / tracked
    out = np.empty((n, NUM_JOINTS, 12))
    out[..., 0:3] = xyz
    out[..., 3] = np.clip(256 + _DEPTH_F * x / z, 0, 511)
    out[..., 4] = np.clip(212 - _DEPTH_F * y / z, 0, 423)
    out[..., 5] = np.clip(960 + _COLOR_F * x / z, 0, 1919)
    out[..., 6] = np.clip(540 - _COLOR_F * y / z, 0, 1079)
    out[..., 7:11] = quat
    out[..., 11] = state
    return out.reshape(n * NUM_JOINTS, 12)


def skeleton_text(rng: np.random.Generator, name: str, frames: tuple[int, int] = FRAMES) -> bytes:
    """The bytes of one synthetic ``.skeleton`` file for sample ``name``.

    Args:
        rng: the file's random generator.
        name: its ``SsssCcccPpppRrrrAaaa`` name (the action and camera shape the content).
        frames: the (min, max) frame count; counts are log-normal around 75 clipped to this range.
    """
    action = int(name[17:20])
    camera = int(name[5:8])
    lo, hi = frames
    if not 30 <= lo <= hi:
        raise ValueError(f"frames must be (min, max) with 30 <= min <= max, got {frames}")
    t = int(np.clip(np.rint(rng.lognormal(np.log(75.0), 0.5)), lo, hi))       # frames
    people = 2 if action in MUTUAL_ACTIONS else 1
    z0 = 2.6 + 0.4 * camera + rng.uniform(-0.3, 0.3)
    bodies = [_body_xyz(rng, t, action, x0, z0)
              for x0 in ((-0.45, 0.45) if people == 2 else (rng.uniform(-0.3, 0.3),))]
    frames_of = [np.arange(t)] * people
    if rng.random() < 0.05:  # a short spurious body (<= 11 frames) the reader must drop as noise
        k = int(rng.integers(3, 11))
        start = int(rng.integers(0, t - k))
        noise = rng.normal(0.0, 0.3, size=(k, NUM_JOINTS, 3)) + np.array([1.5, 0.0, z0 + 1.0])
        bodies.append(noise)
        frames_of.append(np.arange(start, start + k))
    ids = rng.integers(72057594037000000, 72057594037999999, size=len(bodies))

    # one fixed-width block per (frame, body): info line, "25", 25 joint lines
    frame_idx = np.concatenate(frames_of)                                      # (n,)
    body_idx = np.concatenate([np.full(len(f), b) for b, f in enumerate(frames_of)])
    order = np.lexsort((body_idx, frame_idx))                                  # frame-major
    frame_idx, body_idx = frame_idx[order], body_idx[order]
    xyz = np.concatenate(bodies)[order]                                        # (n, 25, 3)
    n = len(order)
    info = np.zeros((n, 10))
    info[:, 0] = ids[body_idx]
    info[:, 2:6] = rng.integers(0, 2, size=(n, 4))
    info[:, 7:9] = rng.uniform(-0.3, 0.3, size=(n, 2))
    info[:, 9] = 2
    info_txt = format_fixed(info, _INFO_FIELDS)                                # (n, Wi)
    joint_txt = format_fixed(_joint_rows(rng, xyz), _JOINT_FIELDS)             # (n*25, Wj)
    wi, wj = info_txt.shape[1] + 1, joint_txt.shape[1] + 1
    block = np.empty((n, wi + 3 + NUM_JOINTS * wj), dtype=np.uint8)            # (n, L)
    block[:, :wi - 1] = info_txt
    block[:, wi - 1] = ord("\n")
    block[:, wi:wi + 3] = np.frombuffer(b"25\n", dtype=np.uint8)
    joints = np.empty((n * NUM_JOINTS, wj), dtype=np.uint8)
    joints[:, :-1] = joint_txt
    joints[:, -1] = ord("\n")
    block[:, wi + 3:] = joints.reshape(n, NUM_JOINTS * wj)

    # file = "T\n" + per frame: "B\n" + B blocks
    head = f"{t}\n".encode()
    per_frame = np.bincount(frame_idx, minlength=t)                            # (t,) bodies
    L = block.shape[1]
    frame_bytes = 2 + per_frame * L                                            # (t,)
    frame_start = len(head) + np.concatenate([[0], np.cumsum(frame_bytes)[:-1]])
    out = np.empty(len(head) + int(frame_bytes.sum()), dtype=np.uint8)
    out[:len(head)] = np.frombuffer(head, dtype=np.uint8)
    out[frame_start] = per_frame + ord("0")
    out[frame_start + 1] = ord("\n")
    slot = np.arange(n) - np.searchsorted(frame_idx, frame_idx)                # body slot in frame
    block_start = frame_start[frame_idx] + 2 + slot * L                        # (n,)
    out[block_start[:, None] + np.arange(L)[None, :]] = block
    return out.tobytes()


def generate_ntu(out_dir: str | Path, count: int, *, version: int = 60, seed: int = 0,
                 start: int = 0, frames: tuple[int, int] = FRAMES) -> list[Path]:
    """Write ``count`` synthetic ``.skeleton`` files into ``out_dir`` (NTU names, see the module).

    Args:
        out_dir: destination folder (created); files are written atomically (temp + rename).
        count: number of files.
        version: 60 or 120 (the name ranges: actions, performers, setups).
        seed: base seed; file i's content depends only on ``(seed, i)``.
        start: skip the first ``start`` names (to resume or to split the work).
        frames: the (min, max) frame count (tests use short clips to stay fast).
    """
    if version not in (60, 120):
        raise ValueError(f"NTU version must be 60 or 120, got {version}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ntu_names(count, version)
    paths = []
    for i in range(start, count):
        path = out_dir / f"{names[i]}.skeleton"
        rng = np.random.default_rng([seed, i])
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(skeleton_text(rng, names[i], frames))
        os.replace(tmp, path)
        paths.append(path)
    return paths
