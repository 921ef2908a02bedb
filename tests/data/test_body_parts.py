"""Body-part maps of every layout: each joint in exactly one part, and the parts the names say."""
from __future__ import annotations

import pytest

from zeroskel.data.layouts import BODY_PARTS, LAYOUTS, PURLS_PARTS, body_part_joints, get_layout


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_joint_in_exactly_one_part(name):
    layout = get_layout(name)
    for scheme, keys in (("six", BODY_PARTS), ("purls", tuple(PURLS_PARTS))):
        parts = body_part_joints(name, scheme)
        assert tuple(parts) == keys
        joints = [j for p in parts.values() for j in p]
        assert sorted(joints) == list(range(layout.num_joints)), (name, scheme)
        assert all(parts[p] for p in parts), f"{name}: an empty part"


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_parts_hold_the_joints_their_names_say(name):
    layout = get_layout(name)
    parts = {p: {layout.joints[i] for i in ix} for p, ix in body_part_joints(name).items()}
    assert {"left_shoulder", "right_shoulder", "left_elbow", "right_elbow"} <= parts["arms"]
    assert {"left_knee", "right_knee"} <= parts["legs"]
    assert {"left_ankle", "right_ankle"} <= parts["feet"]
    assert any(j in parts["head"] for j in ("head", "nose"))
    hands = "wrist" if name in ("coco17", "openpose18") else "hand" if name in ("ntu25", "kinect20") else "thumb"
    assert {f"left_{hands}", f"right_{hands}"} <= parts["hands"]


def test_ntu25_matches_star_groups_and_errors():
    # STAR's NTU groups (0-based): head [2,3,20], hand [7,11,21-24], arm [4,5,6,8,9,10], hip [0,1],
    # leg [12,13,16,17], foot [14,15,18,19]
    assert body_part_joints("ntu25") == {"head": (2, 3, 20), "hands": (7, 11, 21, 22, 23, 24),
                                         "arms": (4, 5, 6, 8, 9, 10), "torso": (0, 1),
                                         "legs": (12, 13, 16, 17), "feet": (14, 15, 18, 19)}
    assert body_part_joints("kinect20", "purls")["legs"] == (12, 13, 14, 15, 16, 17, 18, 19)
    with pytest.raises(ValueError, match="parts must be"):
        body_part_joints("kinect20", "seven")
    with pytest.raises(ValueError, match="unknown joint layout"):
        body_part_joints("nope")
