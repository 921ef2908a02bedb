"""Joint layouts: names, bone edges, the centre joint, and mappings between layouts by joint name.

Registered layouts:

- ``ntu25``: Kinect v2 (NTU RGB+D, PKU-MMD), 25 joints in the NTU order.
- ``kinect20``: Kinect v1 (UTD-MHAD, MSR Action3D, UTKinect, NW-UCLA) in the Kinect SDK order. The
  readers permute the three stored orders into this one (``KINECT20_STORED_ORDERS``).
- ``coco17``, ``openpose18``, ``mediapipe33``: skeletons from 2D/3D pose estimators.

Joint names are shared across layouts (``left_shoulder`` means the same joint everywhere). Kinect v1
names that denote the same joint as a Kinect v2 one are aliases (``hip_center`` = ``spine_base``,
``spine`` = ``spine_mid``, ``shoulder_center`` = ``spine_shoulder``). :func:`map_layout` copies joints
the source has and interpolates the others from named neighbours, flagging those as approximate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class UnknownNameError(ValueError):
    """An unknown registry name (layout, dataset, protocol, split rule)."""


@dataclass(frozen=True)
class Layout:
    """A joint layout.

    Args:
        name: registry name.
        joints: joint names, in storage order.
        edges: bones as 0-based (child, parent) index pairs.
        center: index of the centre joint (a spine joint where the layout has one; the graph centre).
        left_hip, right_hip, left_shoulder, right_shoulder: indices used by view alignment.
        spine_base, spine_top: indices of the lower and upper spine points (where the layout has no
            such joint, the nearest named one; preprocessing uses them for the spine axis).
        origin: joints averaged to give the normalisation origin.
    """

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    left_hip: int
    right_hip: int
    left_shoulder: int
    right_shoulder: int
    spine_base: tuple[int, ...]
    spine_top: tuple[int, ...]
    origin: tuple[int, ...]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        """Each joint's parent in a spanning tree of ``edges`` rooted at ``center`` (the root is its
        own parent). Bones are child minus parent along this tree; see :func:`bone_parents`."""
        return bone_parents(self.num_joints, self.edges, self.center)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise UnknownNameError(f"layout {self.name!r} has no joint {joint!r}") from None


def bone_parents(num_joints: int, edges: tuple[tuple[int, int], ...], root: int) -> tuple[int, ...]:
    """Breadth-first spanning tree of the (undirected) ``edges`` from ``root``: parent per joint.

    Edges are visited in their listed order, so the tree is deterministic. Raises when the graph is
    not connected (a joint without a path to the root would have no bone).
    """
    neighbours: list[list[int]] = [[] for _ in range(num_joints)]
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parent = [-1] * num_joints
    parent[root] = root
    queue = [root]
    for j in queue:  # the list grows while iterating: a breadth-first queue
        for k in neighbours[j]:
            if parent[k] < 0:
                parent[k] = j
                queue.append(k)
    if min(parent) < 0:
        raise ValueError(f"joints {[j for j, p in enumerate(parent) if p < 0]} are not connected to "
                         f"joint {root} by the layout's edges")
    return tuple(parent)


# --- Joint orders --------------------------------------------------------------------------------

NTU25_JOINTS: tuple[str, ...] = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)

# Kinect SDK order (UTKinect, NW-UCLA): the canonical kinect20 order.
KINECT20_JOINTS: tuple[str, ...] = (
    "hip_center", "spine", "shoulder_center", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)

# The orders the Kinect v1 datasets store their joints in; readers permute them into KINECT20_JOINTS.
KINECT20_STORED_ORDERS: dict[str, tuple[str, ...]] = {
    "utd-mhad": (
        "head", "shoulder_center", "spine", "hip_center",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    ),
    "msr-action3d": (
        "left_shoulder", "right_shoulder", "shoulder_center", "spine",
        "left_hip", "right_hip", "hip_center",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot", "head",
    ),
    "sdk": KINECT20_JOINTS,
}

COCO17_JOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

OPENPOSE18_JOINTS: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

MEDIAPIPE33_JOINTS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)


def _edges(joints: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((joints.index(a), joints.index(b)) for a, b in pairs)


def _limbs(hand: bool, foot: bool) -> list[tuple[str, str]]:
    pairs = []
    for side in ("left", "right"):
        pairs += [(f"{side}_elbow", f"{side}_shoulder"), (f"{side}_wrist", f"{side}_elbow"),
                  (f"{side}_knee", f"{side}_hip"), (f"{side}_ankle", f"{side}_knee")]
        if hand:
            pairs.append((f"{side}_hand", f"{side}_wrist"))
        if foot:
            pairs.append((f"{side}_foot", f"{side}_ankle"))
    return pairs


# NTU edges: the 2s-AGCN / CTR-GCN / Shift-GCN variant (hand tip -> thumb -> hand).
_NTU25_EDGES = _edges(NTU25_JOINTS, _limbs(True, True) + [
    ("spine_mid", "spine_base"), ("spine_shoulder", "spine_mid"), ("neck", "spine_shoulder"),
    ("head", "neck"), ("left_shoulder", "spine_shoulder"), ("right_shoulder", "spine_shoulder"),
    ("left_hip", "spine_base"), ("right_hip", "spine_base"),
    ("left_hand_tip", "left_thumb"), ("left_thumb", "left_hand"),
    ("right_hand_tip", "right_thumb"), ("right_thumb", "right_hand"),
])

_KINECT20_EDGES = _edges(KINECT20_JOINTS, _limbs(True, True) + [
    ("spine", "hip_center"), ("shoulder_center", "spine"), ("head", "shoulder_center"),
    ("left_shoulder", "shoulder_center"), ("right_shoulder", "shoulder_center"),
    ("left_hip", "hip_center"), ("right_hip", "hip_center"),
])

_COCO17_EDGES = _edges(COCO17_JOINTS, _limbs(False, False) + [
    ("left_eye", "nose"), ("right_eye", "nose"), ("left_ear", "left_eye"), ("right_ear", "right_eye"),
    ("left_shoulder", "nose"), ("right_shoulder", "nose"),
    ("left_hip", "left_shoulder"), ("right_hip", "right_shoulder"),
])

_OPENPOSE18_EDGES = _edges(OPENPOSE18_JOINTS, _limbs(False, False) + [
    ("nose", "neck"), ("left_shoulder", "neck"), ("right_shoulder", "neck"),
    ("left_hip", "neck"), ("right_hip", "neck"),
    ("left_eye", "nose"), ("right_eye", "nose"), ("left_ear", "left_eye"), ("right_ear", "right_eye"),
])

_MEDIAPIPE33_EDGES = _edges(MEDIAPIPE33_JOINTS, _limbs(False, False) + [
    ("left_eye_inner", "nose"), ("left_eye", "left_eye_inner"), ("left_eye_outer", "left_eye"),
    ("left_ear", "left_eye_outer"), ("right_eye_inner", "nose"), ("right_eye", "right_eye_inner"),
    ("right_eye_outer", "right_eye"), ("right_ear", "right_eye_outer"),
    ("mouth_left", "nose"), ("mouth_right", "nose"),
    ("left_shoulder", "nose"), ("right_shoulder", "nose"), ("left_shoulder", "right_shoulder"), ("left_hip", "left_shoulder"),
    ("right_hip", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_pinky", "left_wrist"), ("left_index", "left_wrist"), ("left_thumb", "left_wrist"),
    ("right_pinky", "right_wrist"), ("right_index", "right_wrist"), ("right_thumb", "right_wrist"),
    ("left_heel", "left_ankle"), ("left_foot_index", "left_heel"),
    ("right_heel", "right_ankle"), ("right_foot_index", "right_heel"),
])


def _layout(name: str, joints: tuple[str, ...], edges, center: str, spine_base: tuple[str, ...],
            spine_top: tuple[str, ...], origin: tuple[str, ...]) -> Layout:
    ix = joints.index
    return Layout(
        name=name, joints=joints, edges=edges, center=ix(center),
        left_hip=ix("left_hip"), right_hip=ix("right_hip"),
        left_shoulder=ix("left_shoulder"), right_shoulder=ix("right_shoulder"),
        spine_base=tuple(ix(j) for j in spine_base), spine_top=tuple(ix(j) for j in spine_top),
        origin=tuple(ix(j) for j in origin),
    )


_HIPS = ("left_hip", "right_hip")
_SHOULDERS = ("left_shoulder", "right_shoulder")

LAYOUTS: dict[str, Layout] = {
    "ntu25": _layout("ntu25", NTU25_JOINTS, _NTU25_EDGES, "spine_mid",
                     ("spine_base",), ("spine_shoulder",), ("spine_mid",)),
    "kinect20": _layout("kinect20", KINECT20_JOINTS, _KINECT20_EDGES, "spine",
                        ("hip_center",), ("shoulder_center",), ("spine",)),
    "coco17": _layout("coco17", COCO17_JOINTS, _COCO17_EDGES, "nose", _HIPS, _SHOULDERS,
                      _HIPS + _SHOULDERS),
    "openpose18": _layout("openpose18", OPENPOSE18_JOINTS, _OPENPOSE18_EDGES, "neck", _HIPS,
                          ("neck",), _HIPS + ("neck",)),
    "mediapipe33": _layout("mediapipe33", MEDIAPIPE33_JOINTS, _MEDIAPIPE33_EDGES, "nose", _HIPS,
                           _SHOULDERS, _HIPS + _SHOULDERS),
}


def list_layouts() -> list[str]:
    return list(LAYOUTS)


def get_layout(name: str | Layout) -> Layout:
    """The registered layout called ``name`` (a :class:`Layout` passes through)."""
    if isinstance(name, Layout):
        return name
    try:
        return LAYOUTS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown joint layout {name!r}; known layouts: {', '.join(LAYOUTS)}") from None


def layout_for_num_joints(num_joints: int) -> Layout:
    """The registered layout with ``num_joints`` joints (joint counts are unique in the registry)."""
    for layout in LAYOUTS.values():
        if layout.num_joints == num_joints:
            return layout
    raise UnknownNameError(f"no registered layout has {num_joints} joints "
                           f"(known: {', '.join(f'{k}={v.num_joints}' for k, v in LAYOUTS.items())})")


# --- Mapping between layouts ---------------------------------------------------------------------

# Kinect v1 names for joints Kinect v2 names differently: same joint, copied exactly.
ALIASES: dict[str, str] = {
    "hip_center": "spine_base",
    "spine": "spine_mid",
    "shoulder_center": "spine_shoulder",
}

# How to estimate a joint the source lacks: candidate weighted sums of other joints, tried in order;
# the first whose inputs are all available (given or already estimated) is used.
_Rule = dict[str, float]
DERIVATIONS: dict[str, list[_Rule]] = {
    "spine_base": [{"left_hip": 0.5, "right_hip": 0.5}],
    "spine_shoulder": [{"left_shoulder": 0.5, "right_shoulder": 0.5}, {"neck": 1.0}],
    "head": [{"left_ear": 0.5, "right_ear": 0.5}, {"left_eye": 0.5, "right_eye": 0.5},
             {"nose": 1.0}],
    "neck": [{"spine_shoulder": 0.5, "head": 0.5}],
    "spine_mid": [{"spine_base": 0.5, "spine_shoulder": 0.5}],
    "nose": [{"head": 1.0}],
    "mouth_left": [{"nose": 1.0}],
    "mouth_right": [{"nose": 1.0}],
}
for _s in ("left", "right"):
    DERIVATIONS.update({
        # hand centre: between the index and pinky knuckles, else a quarter forearm past the wrist
        f"{_s}_hand": [{f"{_s}_index": 0.5, f"{_s}_pinky": 0.5},
                       {f"{_s}_wrist": 1.25, f"{_s}_elbow": -0.25}],
        f"{_s}_hand_tip": [{f"{_s}_index": 1.0}, {f"{_s}_hand": 1.75, f"{_s}_wrist": -0.75}],
        f"{_s}_thumb": [{f"{_s}_hand": 0.5, f"{_s}_wrist": 0.5}],
        f"{_s}_index": [{f"{_s}_hand_tip": 1.0}, {f"{_s}_hand": 1.0}],
        f"{_s}_pinky": [{f"{_s}_hand_tip": 1.0}, {f"{_s}_hand": 1.0}],
        f"{_s}_wrist": [{f"{_s}_hand": 1.0}],
        f"{_s}_foot": [{f"{_s}_foot_index": 1.0}, {f"{_s}_ankle": 1.0}],
        f"{_s}_foot_index": [{f"{_s}_foot": 1.0}, {f"{_s}_ankle": 1.0}],
        f"{_s}_heel": [{f"{_s}_ankle": 1.0}],
        f"{_s}_eye": [{"head": 1.0}],
        f"{_s}_eye_inner": [{f"{_s}_eye": 1.0}],
        f"{_s}_eye_outer": [{f"{_s}_eye": 1.0}],
        f"{_s}_ear": [{"head": 1.0}],
    })


def canonical(joint: str) -> str:
    """The shared name of a joint (Kinect v1 aliases resolved)."""
    return ALIASES.get(joint, joint)


def map_layout(joints: np.ndarray, src: str | Layout, dst: str | Layout
               ) -> tuple[np.ndarray, np.ndarray]:
    """Re-express joints of layout ``src`` in layout ``dst`` by joint name.

    Args:
        joints: (..., V_src, C) array; the joint axis is second to last.
        src, dst: layout names or :class:`Layout` objects.

    Returns:
        ``(mapped (..., V_dst, C), approximate (V_dst,) bool)``: a joint the source has is copied;
        one it lacks is estimated from named neighbours (see ``DERIVATIONS``) and flagged approximate.
    """
    src_l, dst_l = get_layout(src), get_layout(dst)
    joints = np.asarray(joints)
    if joints.ndim < 2 or joints.shape[-2] != src_l.num_joints:
        raise ValueError(f"map_layout: expected (..., {src_l.num_joints}, C) joints for layout "
                         f"{src_l.name!r}, got shape {joints.shape}")
    known: dict[str, np.ndarray] = {canonical(n): joints[..., i, :]
                                    for i, n in enumerate(src_l.joints)}
    exact = set(known)
    targets = [canonical(n) for n in dst_l.joints]
    for name in targets:
        if name not in known:
            _derive(name, known, set())
    mapped = np.stack([known[n] for n in targets], axis=-2)  # (..., V_dst, C)
    approximate = np.array([n not in exact for n in targets], dtype=bool)
    return mapped, approximate


def _derive(name: str, known: dict[str, np.ndarray], visiting: set[str]) -> np.ndarray:
    if name in known:
        return known[name]
    if name in visiting or name not in DERIVATIONS:
        raise ValueError(f"map_layout: cannot estimate joint {name!r} from the source layout")
    visiting = visiting | {name}
    for rule in DERIVATIONS[name]:
        try:
            parts = [(w, _derive(j, known, visiting)) for j, w in rule.items()]
        except ValueError:
            continue
        known[name] = sum(w * x for w, x in parts)
        return known[name]
    raise ValueError(f"map_layout: cannot estimate joint {name!r} from the source layout")


def stored_order_permutation(order: str) -> np.ndarray:
    """Indices ``perm`` such that ``stored[..., perm, :]`` is in the canonical kinect20 order."""
    try:
        names = KINECT20_STORED_ORDERS[order]
    except KeyError:
        raise UnknownNameError(f"unknown Kinect v1 joint order {order!r}; known: "
                               f"{', '.join(KINECT20_STORED_ORDERS)}") from None
    return np.array([names.index(j) for j in KINECT20_JOINTS], dtype=np.int64)


# --- Body parts ----------------------------------------------------------------------------------
# Six parts (STAR's head / hand / arm / hip / leg / foot, here head, hands, arms, torso, legs, feet):
# every joint of a layout is in exactly one part; names match the side information's ``parts`` keys.
# PURLS's four parts are unions of them (``PURLS_PARTS``: head, hands = hands + arms, torso,
# legs = legs + feet; its own NTU groups overlap at the shoulders and hips, ours do not).
BODY_PARTS: tuple[str, ...] = ("head", "hands", "arms", "torso", "legs", "feet")
PURLS_PARTS: dict[str, tuple[str, ...]] = {"head": ("head",), "hands": ("hands", "arms"),
                                           "torso": ("torso",), "legs": ("legs", "feet")}


def _both(*names: str) -> tuple[str, ...]:
    return tuple(f"{s}_{n}" for n in names for s in ("left", "right"))


_PART_JOINTS: dict[str, dict[str, tuple[str, ...]]] = {
    "ntu25": {"head": ("neck", "head", "spine_shoulder"),
              "hands": _both("hand", "hand_tip", "thumb"),
              "arms": _both("shoulder", "elbow", "wrist"),
              "torso": ("spine_base", "spine_mid"),
              "legs": _both("hip", "knee"),
              "feet": _both("ankle", "foot")},
    "kinect20": {"head": ("head", "shoulder_center"), "hands": _both("hand"),
                 "arms": _both("shoulder", "elbow", "wrist"), "torso": ("hip_center", "spine"),
                 "legs": _both("hip", "knee"), "feet": _both("ankle", "foot")},
    # pose-estimator layouts: no spine, so the hips are the torso and the legs are the knees;
    # the wrists are the hands where no hand joints exist
    "coco17": {"head": ("nose",) + _both("eye", "ear"), "hands": _both("wrist"),
               "arms": _both("shoulder", "elbow"), "torso": _both("hip"), "legs": _both("knee"),
               "feet": _both("ankle")},
    "openpose18": {"head": ("nose", "neck") + _both("eye", "ear"), "hands": _both("wrist"),
                   "arms": _both("shoulder", "elbow"), "torso": _both("hip"), "legs": _both("knee"),
                   "feet": _both("ankle")},
    "mediapipe33": {"head": ("nose", "mouth_left", "mouth_right")
                    + _both("eye_inner", "eye", "eye_outer", "ear"),
                    "hands": _both("pinky", "index", "thumb"), "arms": _both("shoulder", "elbow", "wrist"),
                    "torso": _both("hip"), "legs": _both("knee"), "feet": _both("ankle", "heel", "foot_index")},
}


def body_part_joints(layout: str | Layout, parts: str = "six") -> dict[str, tuple[int, ...]]:
    """Joint indices of each body part of ``layout``: ``parts="six"`` (``BODY_PARTS``, STAR) or
    ``"purls"`` (``PURLS_PARTS``). Every joint is in exactly one part; indices ascend."""
    lay = get_layout(layout)
    if lay.name not in _PART_JOINTS:
        raise UnknownNameError(f"layout {lay.name!r} has no body-part map; known: {', '.join(_PART_JOINTS)}")
    six = {p: tuple(sorted(lay.index(j) for j in _PART_JOINTS[lay.name][p])) for p in BODY_PARTS}
    if parts == "six":
        return six
    if parts == "purls":
        return {p: tuple(sorted(i for q in qs for i in six[q])) for p, qs in PURLS_PARTS.items()}
    raise ValueError(f"parts must be 'six' or 'purls', got {parts!r}")
