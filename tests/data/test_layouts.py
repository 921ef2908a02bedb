from __future__ import annotations

import numpy as np
import pytest

from zeroskel.data.layouts import (
    KINECT20_JOINTS,
    KINECT20_STORED_ORDERS,
    NTU25_JOINTS,
    UnknownNameError,
    get_layout,
    layout_for_num_joints,
    list_layouts,
    map_layout,
    stored_order_permutation,
)


def test_registry_shapes_and_edges():
    assert list_layouts() == ["ntu25", "kinect20", "coco17", "openpose18", "mediapipe33"]
    sizes = {"ntu25": 25, "kinect20": 20, "coco17": 17, "openpose18": 18, "mediapipe33": 33}
    for name, v in sizes.items():
        lay = get_layout(name)
        assert lay.num_joints == v and len(set(lay.joints)) == v
        assert 0 <= lay.center < v
        # a tree: V-1 edges, all joints connected
        if name in ("ntu25", "kinect20", "coco17", "openpose18"):
            assert len(lay.edges) == v - 1
        seen = {lay.center}
        adj = {i: set() for i in range(v)}
        for a, b in lay.edges:
            adj[a].add(b), adj[b].add(a)
        stack = [lay.center]
        while stack:
            for n in adj[stack.pop()] - seen:
                seen.add(n), stack.append(n)
        assert seen == set(range(v)), name
        assert layout_for_num_joints(v) is lay


def test_ntu25_edges_match_reference():
    # 2s-AGCN / CTR-GCN / Shift-GCN edges, 1-based, from the dataset facts
    ref = {(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
           (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
           (20, 19), (22, 23), (23, 8), (24, 25), (25, 12)}
    ours = {frozenset((a + 1, b + 1)) for a, b in get_layout("ntu25").edges}
    assert ours == {frozenset(e) for e in ref}
    assert get_layout("ntu25").joints[get_layout("ntu25").center] == "spine_mid"


def test_unknown_layout():
    with pytest.raises(UnknownNameError, match="unknown joint layout 'bogus'"):
        get_layout("bogus")
    with pytest.raises(UnknownNameError):
        layout_for_num_joints(7)


def test_stored_orders_permute_to_sdk_order():
    for order, names in KINECT20_STORED_ORDERS.items():
        perm = stored_order_permutation(order)
        assert [names[i] for i in perm] == list(KINECT20_JOINTS)
    with pytest.raises(UnknownNameError):
        stored_order_permutation("kinect-v3")


def test_kinect20_ntu25_round_trip_and_flags():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 20, 3))
    y, approx = map_layout(x, "kinect20", "ntu25")
    assert y.shape == (2, 7, 25, 3)
    flagged = {NTU25_JOINTS[i] for i in np.flatnonzero(approx)}
    assert flagged == {"neck", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb"}
    k = get_layout("kinect20")
    n = get_layout("ntu25")
    # aliases copy exactly
    np.testing.assert_array_equal(y[..., n.index("spine_shoulder"), :], x[..., k.index("shoulder_center"), :])
    np.testing.assert_array_equal(y[..., n.index("spine_base"), :], x[..., k.index("hip_center"), :])
    # neck halfway between shoulder centre and head
    np.testing.assert_allclose(y[..., n.index("neck"), :],
                               (x[..., k.index("shoulder_center"), :] + x[..., k.index("head"), :]) / 2)
    back, approx_back = map_layout(y, "ntu25", "kinect20")
    np.testing.assert_array_equal(back, x)
    assert not approx_back.any()


def test_ntu25_to_kinect20_to_ntu25_keeps_exact_joints():
    x = np.random.default_rng(1).normal(size=(5, 25, 3))
    k, _ = map_layout(x, "ntu25", "kinect20")
    y, approx = map_layout(k, "kinect20", "ntu25")
    np.testing.assert_array_equal(y[:, ~approx], x[:, ~approx])


def test_coco17_to_ntu25():
    coco = get_layout("coco17")
    x = np.random.default_rng(2).normal(size=(4, 17, 2))  # 2D keypoints work too
    y, approx = map_layout(x, "coco17", "ntu25")
    n = get_layout("ntu25")
    assert y.shape == (4, 25, 2)
    exact = {NTU25_JOINTS[i] for i in np.flatnonzero(~approx)}
    assert exact == {f"{s}_{j}" for s in ("left", "right")
                     for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
    np.testing.assert_allclose(
        y[:, n.index("spine_base")], (x[:, coco.index("left_hip")] + x[:, coco.index("right_hip")]) / 2)
    np.testing.assert_allclose(
        y[:, n.index("head")], (x[:, coco.index("left_ear")] + x[:, coco.index("right_ear")]) / 2)
    assert np.isfinite(y).all()


@pytest.mark.parametrize("src", ["openpose18", "mediapipe33", "coco17", "kinect20", "ntu25"])
@pytest.mark.parametrize("dst", ["ntu25", "kinect20", "coco17", "openpose18", "mediapipe33"])
def test_every_pair_maps(src, dst):
    s, d = get_layout(src), get_layout(dst)
    x = np.random.default_rng(3).normal(size=(3, s.num_joints, 3))
    y, approx = map_layout(x, src, dst)
    assert y.shape == (3, d.num_joints, 3) and approx.shape == (d.num_joints,)
    assert np.isfinite(y).all()
    if src == dst:
        np.testing.assert_array_equal(y, x)
        assert not approx.any()


def test_map_layout_rejects_wrong_joint_count():
    with pytest.raises(ValueError, match="expected \\(\\.\\.\\., 20, C\\)"):
        map_layout(np.zeros((3, 25, 3)), "kinect20", "ntu25")


def test_bone_parents_form_a_tree_along_the_edges():
    from zeroskel.data.layouts import bone_parents, list_layouts

    for name in list_layouts():
        lay = get_layout(name)
        parents = lay.parents
        edges = {frozenset(e) for e in lay.edges}
        assert parents[lay.center] == lay.center
        for j, p in enumerate(parents):
            if j != lay.center:
                assert frozenset((j, p)) in edges, (name, lay.joints[j])
                seen, k = set(), j
                while k != lay.center:  # every joint reaches the root without a cycle
                    assert k not in seen
                    seen.add(k)
                    k = parents[k]
    k20 = get_layout("kinect20")
    assert k20.joints[k20.parents[k20.index("left_hand")]] == "left_wrist"
    with pytest.raises(ValueError, match="not connected"):
        bone_parents(3, ((0, 1),), 0)
