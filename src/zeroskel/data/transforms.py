"""Preprocessing: one sample's joints (M, T, V, 3) -> a fixed-size float32 tensor (C, T, V, M).

Steps, in order (every choice is a field of :class:`Preprocessing`; the defaults reproduce the
original pipeline, so existing runs and bundles preprocess as before):

1. People: keep the first ``num_person`` people (readers order them most active first) and pad with
   zeros for absent ones. A person's frame that is all zeros counts as absent and stays zero.
2. Frames: the valid range runs from the first to the last frame where anyone is present.
3. Origin (``origin``): ``first_center`` subtracts the layout's origin joint(s) (a spine joint where
   the layout has one) of the first person's first valid frame; ``first_hip`` the midpoint of the
   two hips of that frame (the same body point in every layout). Either way the whole clip moves
   together, so global motion (walking, jumping) is kept. ``frame_center`` subtracts each person's
   own origin joint(s) in every frame (global motion removed); ``none`` leaves the coordinates.
4. Scale (``scale``): ``torso`` divides by the torso length (spine base to spine top, i.e. hip
   centre to shoulder centre) of the first person's first valid frame, so a child, a tall adult and
   a tracker in centimetres all give torsos of length 1; ``none`` keeps the units.
5. View alignment (``align_view``): rotate so that the hips/shoulders axis (left -> right,
   averaged over the first person's frames) points along x and the spine (base -> top) along y: the
   body faces the camera, as NTU pipelines do.
6. Temporal sampling to ``length`` frames by linear interpolation (this also removes frame-rate
   differences between setups). Training: a random crop of ``crop_min``..100% of the valid frames at
   a random start, resized to ``length``. Evaluation: the deterministic centre crop of
   ``eval_crop`` of the frames, resized (same input -> same output). Sequences shorter than
   ``length`` are resized up; any sequence of at least 2 frames works.
7. Training only: a random rotation, uniform in +-``max_rotation`` radians about each axis
   (``rotation_axes="xyz"``) or about the vertical axis only (``"y"``), and a random overall scale
   uniform in 1 +- ``scale_jitter``.
8. Streams (``streams``), stacked as channels in the given order, 3 each: ``joint`` (positions),
   ``bone`` (joint minus its parent along the layout's tree, :attr:`Layout.parents`), ``motion``
   (joint positions of the next frame minus this frame's; zero at the last frame and wherever a
   person is absent in either frame) and ``bone_motion`` (the same for bones).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from zeroskel.data.layouts import Layout, get_layout, layout_for_num_joints


ORIGINS = ("first_center", "first_hip", "frame_center", "none")
SCALES = ("none", "torso")
STREAMS = ("joint", "bone", "motion", "bone_motion")
ROTATION_AXES = ("xyz", "y")


@dataclass(frozen=True)
class Preprocessing:
    """Every preprocessing and augmentation choice (see the module docstring for the steps).

    Args:
        origin: first_center | first_hip | frame_center | none.
        scale: none | torso.
        align_view: rotate the body to face the camera (hips/shoulders along x, spine along y).
        streams: input streams stacked as channels (3 per stream): joint, bone, motion, bone_motion.
        crop_min: smallest training crop, as a fraction of the valid frames.
        eval_crop: centre-crop fraction at evaluation.
        max_rotation: training rotation bound, radians.
        rotation_axes: xyz (about every axis) | y (about the vertical axis only).
        scale_jitter: training scale factor drawn uniformly in 1 +- scale_jitter (0: off).
    """

    origin: str = "first_center"
    scale: str = "none"
    align_view: bool = False
    streams: tuple[str, ...] = ("joint",)
    crop_min: float = 0.5
    eval_crop: float = 0.95
    max_rotation: float = 0.3
    rotation_axes: str = "xyz"
    scale_jitter: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "streams", tuple(str(x) for x in self.streams))
        for value, allowed, what in ((self.origin, ORIGINS, "origin"), (self.scale, SCALES, "scale"),
                                     (self.rotation_axes, ROTATION_AXES, "rotation_axes")):
            if value not in allowed:
                raise ValueError(f"preprocessing {what} must be one of {', '.join(allowed)}, got {value!r}")
        bad = [x for x in self.streams if x not in STREAMS]
        if bad or not self.streams or len(set(self.streams)) != len(self.streams):
            raise ValueError(f"preprocessing streams must be distinct names from {', '.join(STREAMS)}, "
                             f"got {list(self.streams)}")
        if not (0 < self.crop_min <= 1 and 0 < self.eval_crop <= 1):
            raise ValueError(f"preprocessing crop_min and eval_crop must be in (0, 1], got "
                             f"{self.crop_min}, {self.eval_crop}")
        if not 0 <= self.scale_jitter < 1:
            raise ValueError(f"preprocessing scale_jitter must be in [0, 1), got {self.scale_jitter}")

    @property
    def channels(self) -> int:
        """Input channels of the encoder: 3 per stream."""
        return 3 * len(self.streams)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["streams"] = list(self.streams)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Preprocessing":
        """From :meth:`to_dict` output (or any dict with a subset of the fields; others default).
        Unknown keys are ignored, so metadata may carry more (e.g. ``length``)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def view_alignment(joints: np.ndarray, present: np.ndarray, layout: Layout) -> np.ndarray | None:
    """The 3x3 rotation taking the first person's body axes to x (left->right) and y (spine up).

    Args:
        joints: (M, T, V, 3) centred joints.
        present: (M, T) bool, which person-frames hold a skeleton.
    Returns None when the axes are degenerate (e.g. all joints at one point).
    """
    body = joints[0][present[0]]  # (T0, V, 3)
    if len(body) == 0:
        return None
    def mean(ix) -> np.ndarray:
        return body[:, list(ix)].mean(axis=(0, 1))
    across = (mean([layout.right_hip]) - mean([layout.left_hip])
              + mean([layout.right_shoulder]) - mean([layout.left_shoulder]))
    up = mean(layout.spine_top) - mean(layout.spine_base)
    if np.linalg.norm(up) < 1e-8:
        return None
    y = up / np.linalg.norm(up)
    x = across - across.dot(y) * y
    if np.linalg.norm(x) < 1e-8:
        return None
    x = x / np.linalg.norm(x)
    z = np.cross(x, y)
    return np.stack([x, y, z])  # rows: new axes; new = R @ old


def resample(joints: np.ndarray, start: float, span: float, length: int) -> np.ndarray:
    """Linear interpolation of (M, T, V, C) at ``length`` points over frames [start, start+span-1]."""
    t = joints.shape[1]
    pos = np.linspace(start, start + span - 1, length)
    pos = np.clip(pos, 0, t - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo)[None, :, None, None]  # (1, L, 1, 1)
    return joints[:, lo] * (1 - w) + joints[:, hi] * w


def _streams(out: np.ndarray, alive: np.ndarray, parents: tuple[int, ...],
             names: tuple[str, ...]) -> np.ndarray:
    """(M, L, V, 3) joints + (M, L, 1, 1) presence -> (M, L, V, 3 * len(names)) stacked streams."""
    joints = out
    bones = out - out[:, :, list(parents)]  # the root is its own parent: a zero bone

    def motion(x: np.ndarray) -> np.ndarray:
        d = np.zeros_like(x)
        d[:, :-1] = x[:, 1:] - x[:, :-1]
        both = alive[:, :-1] & alive[:, 1:]  # (M, L-1, 1, 1): a person present in both frames
        d[:, :-1] = np.where(both, d[:, :-1], 0.0)
        return d

    make = {"joint": lambda: joints, "bone": lambda: bones, "motion": lambda: motion(joints),
            "bone_motion": lambda: motion(bones)}
    return np.concatenate([make[n]() for n in names], axis=-1)


def preprocess(joints: np.ndarray, *, length: int = 64, train: bool, rng: np.random.Generator | None = None,
               num_person: int = 2, layout: str | Layout | None = None, align_view: bool | None = None,
               crop_min: float | None = None, eval_crop: float | None = None,
               max_rotation: float | None = None, options: Preprocessing | None = None,
               name: str = "sample") -> np.ndarray:
    """Normalise and sample one clip.

    Args:
        joints: (M, T, V, 3) joints, M >= 1, T >= 2.
        length: output frames.
        train: random crop and augmentation when True; deterministic centre crop when False.
        rng: random generator for training (a fresh unseeded one when None).
        num_person: people in the output (padded with zeros / truncated).
        layout: joint layout (inferred from V when None).
        options: every preprocessing choice (:class:`Preprocessing`; its defaults when None).
        align_view, crop_min, eval_crop, max_rotation: shortcuts that override the same fields of
            ``options`` when given.
        name: sample name for error messages.
    Returns:
        (3 * len(options.streams), length, V, num_person) float32.
    """
    opt = options if options is not None else Preprocessing()
    overrides = {k: v for k, v in (("align_view", align_view), ("crop_min", crop_min),
                                   ("eval_crop", eval_crop), ("max_rotation", max_rotation))
                 if v is not None}
    if overrides:
        opt = Preprocessing(**{**opt.to_dict(), **overrides})
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[-1] != 3:
        raise ValueError(f"{name}: expected joints of shape (M, T, V, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError(f"{name}: joints contain NaN or infinite values")
    lay = layout_for_num_joints(joints.shape[2]) if layout is None else get_layout(layout)
    if joints.shape[2] != lay.num_joints:
        raise ValueError(f"{name}: {joints.shape[2]} joints do not match layout {lay.name!r} "
                         f"({lay.num_joints} joints)")

    # 1. people: (M, T, V, 3) -> (num_person, T, V, 3)
    m, t, v, _ = joints.shape
    if m >= num_person:
        joints = joints[:num_person].copy()
    else:
        joints = np.concatenate([joints, np.zeros((num_person - m, t, v, 3))], axis=0)
    present = np.any(joints != 0, axis=(2, 3))  # (num_person, T)

    # 2. valid frame range
    frames = np.flatnonzero(present.any(axis=0))
    if len(frames) < 2:
        raise ValueError(f"{name}: {len(frames)} frame(s) with a skeleton, need at least 2")
    joints, present = joints[:, frames[0]:frames[-1] + 1], present[:, frames[0]:frames[-1] + 1]
    t = joints.shape[1]
    mask = present[..., None, None]  # (num_person, T, 1, 1)

    # 3. origin, from the first present person-frame (or per frame)
    first = np.argwhere(present)[0]
    first_frame = joints[first[0], first[1]]  # (V, 3)
    if opt.origin == "first_center":
        joints = np.where(mask, joints - first_frame[list(lay.origin)].mean(axis=0), 0.0)
    elif opt.origin == "first_hip":
        hip = first_frame[[lay.left_hip, lay.right_hip]].mean(axis=0)  # (3,)
        joints = np.where(mask, joints - hip, 0.0)
    elif opt.origin == "frame_center":
        centre = joints[:, :, list(lay.origin)].mean(axis=2, keepdims=True)  # (num_person, T, 1, 3)
        joints = np.where(mask, joints - centre, 0.0)

    # 4. scale by the first frame's torso length
    if opt.scale == "torso":
        torso = np.linalg.norm(first_frame[list(lay.spine_top)].mean(axis=0)
                               - first_frame[list(lay.spine_base)].mean(axis=0))
        if torso < 1e-8:
            raise ValueError(f"{name}: torso length is zero in the first frame (spine base and top "
                             "coincide); cannot scale by it (use scale none)")
        joints = joints / torso

    # 5. view alignment
    if opt.align_view:
        rot = view_alignment(joints, present, lay)
        if rot is not None:
            joints = joints @ rot.T

    # 6. temporal crop + resize
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        ratio = rng.uniform(opt.crop_min, 1.0)
        span = float(np.clip(round(ratio * t), 2, t))
        start = float(rng.integers(0, int(t - span) + 1))
    else:
        span = float(np.clip(round(opt.eval_crop * t), 2, t))
        start = (t - span) / 2.0
    out = resample(joints, start, span, length)  # (num_person, L, V, 3)
    alive = resample(present[..., None, None].astype(np.float64), start, span, length) > 0.5
    out = np.where(alive, out, 0.0)

    # 7. random rotation and scale (training)
    if train and opt.max_rotation > 0:
        if opt.rotation_axes == "xyz":
            rot = _rotation(*rng.uniform(-opt.max_rotation, opt.max_rotation, size=3))
        else:
            rot = _rotation(0.0, rng.uniform(-opt.max_rotation, opt.max_rotation), 0.0)
        out = out @ rot.T
    if train and opt.scale_jitter > 0:
        out = out * rng.uniform(1 - opt.scale_jitter, 1 + opt.scale_jitter)

    # 8. streams, stacked as channels
    if opt.streams != ("joint",):
        out = _streams(out, alive, lay.parents, opt.streams)  # (num_person, L, V, 3S)
    return np.ascontiguousarray(out.transpose(3, 1, 2, 0), dtype=np.float32)  # (C, L, V, M)
