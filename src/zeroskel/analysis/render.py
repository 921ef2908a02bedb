"""Draw skeleton clips: an animated ``.gif`` or a ``.png`` strip of frames, bones from the layout.

    zeroskel show ../shared/data/utd_mhad/a1_s1_t1_skeleton.mat --out clip.gif
    zeroskel show clip.npy --layout ntu25 --out strip.png --frames 6 --3d

The front view plots x (right) against y (up), the camera-space axes of the Kinect datasets; with
``view3d`` each panel is a 3-D plot (x, depth z, y up). Every person of a multi-person clip is drawn
in its own colour; all-zero (absent) people and frames are left out.

Matplotlib runs headless (Agg); the GIF is written by matplotlib's PillowWriter.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zeroskel.data.layouts import Layout, get_layout, layout_for_num_joints

PERSON_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple")


@dataclass
class Clip:
    """A skeleton clip to draw: joints (M, T, V, 3), its layout and a title."""

    joints: np.ndarray
    layout: Layout
    title: str


# --- reading one file ----------------------------------------------------------------------------

_UTK_JOINTS = re.compile(r"joints_s\d+_e\d+\.txt")


def read_clip(path: str | os.PathLike, *, layout: str | None = None, dataset: str | None = None) -> Clip:
    """Read one skeleton file into a :class:`Clip`.

    Args:
        path: a UTD-MHAD ``.mat``, an MSR Action3D ``_skeleton3D.txt``, a UTKinect
            ``joints_sSS_eEE.txt``, an NW-UCLA ``.json``, an NTU ``.skeleton``, a PKU-MMD ``.txt``
            (with ``dataset="pku-mmd"``), or a ``.npy`` array (T, V, 3) / (M, T, V, 3).
        layout: joint layout of a ``.npy`` file (default: the layout with that many joints).
        dataset: force a reader (``utd-mhad``, ``msr-action3d``, ``utkinect``, ``nw-ucla``,
            ``ntu60``/``ntu120``, ``pku-mmd``) when the file name does not tell.
    """
    from zeroskel.data.readers import kinect_v1

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such skeleton file")
    name, suffix = path.name, path.suffix.lower()
    kind = dataset
    if kind is None:
        if suffix == ".npy":
            kind = "npy"
        elif suffix == ".mat":
            kind = "utd-mhad"
        elif suffix == ".skeleton":
            kind = "ntu60"
        elif suffix == ".json":
            kind = "nw-ucla"
        elif name.endswith("_skeleton3D.txt"):
            kind = "msr-action3d"
        elif _UTK_JOINTS.fullmatch(name):
            kind = "utkinect"
        else:
            raise ValueError(f"{path}: cannot tell the format from the file name; pass --dataset "
                             "(utd-mhad, msr-action3d, utkinect, nw-ucla, ntu60, pku-mmd) or use .npy "
                             "with --layout")
    if kind == "npy":
        joints = np.load(path, allow_pickle=False)
        if joints.ndim == 3:
            joints = joints[None]                                # (1, T, V, 3)
        if joints.ndim != 4 or joints.shape[-1] != 3:
            raise ValueError(f"{path}: array has shape {joints.shape}, expected (T, V, 3) or (M, T, V, 3)")
        lay = get_layout(layout) if layout else layout_for_num_joints(joints.shape[2])
        if lay.num_joints != joints.shape[2]:
            raise ValueError(f"{path}: {joints.shape[2]} joints, but layout {lay.name!r} has "
                             f"{lay.num_joints}")
    elif kind == "utd-mhad":
        joints, lay = kinect_v1.read_utd_mhad_file(path), get_layout("kinect20")
    elif kind == "msr-action3d":
        joints, lay = kinect_v1.read_msr_action3d_file(path), get_layout("kinect20")
    elif kind == "utkinect":
        _, raw = kinect_v1.read_utkinect_joints(path)            # whole recording, SDK order
        joints, lay = kinect_v1._to_kinect20(raw, "sdk"), get_layout("kinect20")
    elif kind == "nw-ucla":
        joints, lay = kinect_v1.read_nw_ucla_file(path)[0], get_layout("kinect20")
    elif kind in ("ntu60", "ntu120"):
        from zeroskel.data.readers.ntu import load_ntu_sample

        joints, lay = load_ntu_sample(path).joints, get_layout("ntu25")
    elif kind == "pku-mmd":
        from zeroskel.data.readers.pku import read_pku_skeleton

        joints, lay = read_pku_skeleton(path), get_layout("ntu25")
    else:
        raise ValueError(f"{path}: unknown dataset {kind!r} for a single file")
    joints = np.asarray(joints, dtype=np.float32)
    if joints.shape[1] == 0 or not np.isfinite(joints).all():
        raise ValueError(f"{path}: no frames, or NaN/infinite coordinates")
    action = _action_name(kind, name)
    return Clip(joints=joints, layout=lay, title=f"{name}: {action}" if action else name)


_ACTION_ID = {"utd-mhad": re.compile(r"a(\d+)_s\d+_t\d+"), "msr-action3d": re.compile(r"a(\d+)_s\d+_e\d+"),
              "ntu60": re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A(\d{3})"),
              "ntu120": re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A(\d{3})")}


def _action_name(kind: str, file_name: str) -> str | None:
    """The class name a file name encodes (UTD-MHAD, MSR Action3D, NTU), else None."""
    from zeroskel.data.class_names import BY_DATASET

    pattern = _ACTION_ID.get(kind)
    m = pattern.match(file_name) if pattern else None
    if m is None:
        return None
    names = BY_DATASET["ntu120" if kind.startswith("ntu") else kind]
    a = int(m.group(1))
    return names[a - 1] if 1 <= a <= len(names) else None


# --- drawing -------------------------------------------------------------------------------------

def _present(joints: np.ndarray) -> np.ndarray:
    """(M, T) bool: person m has a skeleton (not all zeros) in frame t."""
    return np.abs(joints).sum(axis=(2, 3)) > 0


def _limits(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(3, 2) min/max per axis over the present skeletons, padded to a square box in x-y."""
    pts = joints[present].reshape(-1, 3)                         # (n * V, 3)
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * 1.1
    return np.stack([centre - half, centre + half], 1)


def _frame_ids(num_frames: int, count: int) -> np.ndarray:
    return np.unique(np.linspace(0, num_frames - 1, min(count, num_frames)).round().astype(int))


def _setup_axes(ax, lim: np.ndarray, view3d: bool) -> None:
    if view3d:
        ax.set_xlim(*lim[0]), ax.set_ylim(*lim[2]), ax.set_zlim(*lim[1])
        ax.set_xlabel("x (m)"), ax.set_ylabel("z (m)"), ax.set_zlabel("y (m)")
        ax.view_init(elev=15, azim=-70)
    else:
        ax.set_xlim(*lim[0]), ax.set_ylim(*lim[1])
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)"), ax.set_ylabel("y (m)")


def _draw_frame(ax, clip: Clip, t: int, present: np.ndarray, view3d: bool) -> list:
    """Bones and joints of every present person in frame ``t``; returns the artists."""
    artists = []
    for m in range(clip.joints.shape[0]):
        if not present[m, t]:
            continue
        j = clip.joints[m, t]                                    # (V, 3)
        colour = PERSON_COLOURS[m % len(PERSON_COLOURS)]
        for a, b in clip.layout.edges:
            if view3d:
                artists += ax.plot([j[a, 0], j[b, 0]], [j[a, 2], j[b, 2]], [j[a, 1], j[b, 1]],
                                   color=colour, lw=2)
            else:
                artists += ax.plot([j[a, 0], j[b, 0]], [j[a, 1], j[b, 1]], color=colour, lw=2)
        if view3d:
            artists.append(ax.scatter(j[:, 0], j[:, 2], j[:, 1], color=colour, s=8))
        else:
            artists.append(ax.scatter(j[:, 0], j[:, 1], color=colour, s=10, zorder=3))
    return artists


def render_strip(clip: Clip, out: str | os.PathLike, *, frames: int = 8, view3d: bool = False,
                 dpi: int = 80) -> Path:
    """A PNG with ``frames`` evenly spaced frames of the clip side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zeroskel.analysis.figures import atomic_output

    present = _present(clip.joints)
    keep = np.nonzero(present.any(0))[0]                         # frames with someone in them
    if keep.size == 0:
        raise ValueError(f"{clip.title}: every frame is empty (all-zero joints)")
    ids = keep[_frame_ids(len(keep), frames)]
    lim = _limits(clip.joints, present)
    kw = {"projection": "3d"} if view3d else {}
    fig = plt.figure(figsize=(2.2 * len(ids), 3.0))
    for i, t in enumerate(ids):
        ax = fig.add_subplot(1, len(ids), i + 1, **kw)
        _draw_frame(ax, clip, int(t), present, view3d)
        _setup_axes(ax, lim, view3d)
        ax.set_title(f"frame {t + 1}/{clip.joints.shape[1]}", fontsize=9)
        ax.tick_params(labelsize=7)
        if i > 0 and not view3d:
            ax.set_ylabel("")
    fig.suptitle(f"{clip.title} ({clip.layout.name})", fontsize=11)
    fig.tight_layout()
    out = Path(out)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return out


def render_gif(clip: Clip, out: str | os.PathLike, *, fps: int = 15, max_frames: int = 120,
               view3d: bool = False, dpi: int = 80) -> Path:
    """An animated GIF of the clip (at most ``max_frames`` frames, evenly subsampled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    from zeroskel.analysis.figures import atomic_output

    present = _present(clip.joints)
    keep = np.nonzero(present.any(0))[0]
    if keep.size == 0:
        raise ValueError(f"{clip.title}: every frame is empty (all-zero joints)")
    ids = keep[_frame_ids(len(keep), max_frames)]
    lim = _limits(clip.joints, present)
    fig = plt.figure(figsize=(4.0, 4.4))
    ax = fig.add_subplot(1, 1, 1, **({"projection": "3d"} if view3d else {}))

    def update(i: int) -> list:
        ax.cla()
        _setup_axes(ax, lim, view3d)
        t = int(ids[i])
        ax.set_title(f"{clip.title}\nframe {t + 1}/{clip.joints.shape[1]}", fontsize=10)
        return _draw_frame(ax, clip, t, present, view3d)

    anim = FuncAnimation(fig, update, frames=len(ids), blit=False)
    out = Path(out)
    with atomic_output(out) as tmp:
        anim.save(str(tmp), writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)
    return out


def render_clip(clip: Clip, out: str | os.PathLike, **options) -> Path:
    """``.gif``: an animation (``fps``, ``max_frames``); ``.png``: a strip (``frames``)."""
    suffix = Path(out).suffix.lower()
    view3d = options.pop("view3d", False)
    if suffix == ".gif":
        options.pop("frames", None)
        return render_gif(clip, out, view3d=view3d, **options)
    if suffix == ".png":
        options.pop("fps", None), options.pop("max_frames", None)
        return render_strip(clip, out, view3d=view3d, **options)
    raise ValueError(f"{out}: output must end in .gif (animation) or .png (frame strip)")
