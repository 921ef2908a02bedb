"""Preprocessing: one sample's joints (M, T, V, 3) -> a fixed-size float32 tensor (3, T, V, M).

Steps, in order:

1. People: keep the first ``num_person`` people (readers order them most active first) and pad with
   zeros for absent ones. A person's frame that is all zeros counts as absent and stays zero.
2. Frames: the valid range runs from the first to the last frame where anyone is present.
3. Centre: subtract the layout's origin joint(s) (a spine joint where the layout has one), taken from
   the first person's first valid frame, from every present joint (the whole clip moves together, so
   walking still moves).
4. View alignment (``align_view=True``): rotate so that the hips/shoulders axis (left -> right,
   averaged over the first person's frames) points along x and the spine (base -> top) along y.
5. Temporal sampling to ``length`` frames by linear interpolation. Training: a random crop of
   ``crop_min``..100% of the valid frames at a random start, resized to ``length``. Evaluation: the
   deterministic centre crop of ``eval_crop`` of the frames, resized (same input -> same output).
   Sequences shorter than ``length`` are resized up; any sequence of at least 2 frames works.
6. Training only: a small random rotation about each axis (uniform in +-``max_rotation`` radians).
"""
from __future__ import annotations

import numpy as np

from zeroskel.data.layouts import Layout, get_layout, layout_for_num_joints


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


def preprocess(joints: np.ndarray, *, length: int = 64, train: bool, rng: np.random.Generator | None = None,
               num_person: int = 2, layout: str | Layout | None = None, align_view: bool = False,
               crop_min: float = 0.5, eval_crop: float = 0.95, max_rotation: float = 0.3,
               name: str = "sample") -> np.ndarray:
    """Normalise and sample one clip.

    Args:
        joints: (M, T, V, 3) joints, M >= 1, T >= 2.
        length: output frames.
        train: random crop and rotation when True; deterministic centre crop when False.
        rng: random generator for training (a fresh unseeded one when None).
        num_person: people in the output (padded with zeros / truncated).
        layout: joint layout (inferred from V when None).
        align_view: rotate to the body's hip/shoulder and spine axes.
        crop_min: smallest training crop, as a fraction of the valid frames.
        eval_crop: centre-crop fraction at evaluation.
        max_rotation: training rotation bound per axis, radians.
        name: sample name for error messages.
    Returns:
        (3, length, V, num_person) float32.
    """
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

    # 3. centre on the origin joint(s) of the first present person-frame
    first = np.argwhere(present)[0]
    origin = joints[first[0], first[1], list(lay.origin)].mean(axis=0)  # (3,)
    joints = np.where(present[..., None, None], joints - origin, 0.0)

    # 4. view alignment
    if align_view:
        rot = view_alignment(joints, present, lay)
        if rot is not None:
            joints = joints @ rot.T

    # 5. temporal crop + resize
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        ratio = rng.uniform(crop_min, 1.0)
        span = float(np.clip(round(ratio * t), 2, t))
        start = float(rng.integers(0, int(t - span) + 1))
    else:
        span = float(np.clip(round(eval_crop * t), 2, t))
        start = (t - span) / 2.0
    out = resample(joints, start, span, length)  # (num_person, L, V, 3)
    alive = resample(present[..., None, None].astype(np.float64), start, span, length) > 0.5
    out = np.where(alive, out, 0.0)

    # 6. random rotation (training)
    if train and max_rotation > 0:
        rot = _rotation(*rng.uniform(-max_rotation, max_rotation, size=3))
        out = out @ rot.T

    return np.ascontiguousarray(out.transpose(3, 1, 2, 0), dtype=np.float32)  # (3, L, V, M)
