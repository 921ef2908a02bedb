from __future__ import annotations

import warnings

import numpy as np
import pytest

from zeroskel.data import get_layout, load_dataset
from zeroskel.data.transforms import preprocess, resample, view_alignment

K20 = get_layout("kinect20")


@pytest.fixture(scope="module")
def utd(utd_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset("utd-mhad", utd_root)


def test_eval_is_deterministic_and_shaped(utd):
    joints = utd.samples[0].joints  # (1, T, 20, 3)
    a = preprocess(joints, length=64, train=False, num_person=2)
    b = preprocess(joints.copy(), length=64, train=False, num_person=2,
                   rng=np.random.default_rng(123))
    assert a.shape == (3, 64, 20, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not a[..., 1].any()  # absent second person stays zero
    # centred: the spine joint of the first output frame is near the origin
    assert np.linalg.norm(a[:, 0, K20.center, 0]) < 0.05


def test_centre_on_spine_first_frame(utd):
    joints = utd.samples[5].joints
    out = preprocess(joints, length=joints.shape[1], train=False, num_person=1, eval_crop=1.0)
    # full-length, no crop: a pure translation by the first frame's spine joint
    expected = joints[0] - joints[0, 0, K20.center]
    np.testing.assert_allclose(out[..., 0].transpose(1, 2, 0), expected, atol=1e-5)


def test_train_random_but_reproducible(utd):
    joints = utd.samples[10].joints
    a = preprocess(joints, train=True, rng=np.random.default_rng(1), num_person=1)
    b = preprocess(joints, train=True, rng=np.random.default_rng(1), num_person=1)
    c = preprocess(joints, train=True, rng=np.random.default_rng(2), num_person=1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (3, 64, 20, 1)
    # a rotation plus crop keeps bone lengths (up to interpolation) close to the original ones
    e = preprocess(joints, train=False, num_person=1, eval_crop=1.0)
    bone = lambda x: np.linalg.norm(x[:, :, K20.index("left_elbow"), 0] - x[:, :, K20.index("left_shoulder"), 0], axis=0)
    assert abs(np.median(bone(a)) - np.median(bone(e))) < 0.02


def test_short_sequences_and_people():
    rng = np.random.default_rng(0)
    two = rng.normal(size=(1, 2, 25, 3))
    out = preprocess(two, length=64, train=False, num_person=2)
    assert out.shape == (3, 64, 25, 2)
    # resized up: first and last output frames equal the two (centred) input frames
    centred = two[0] - two[0, 0, 1]
    np.testing.assert_allclose(out[:, 0, :, 0].T, centred[0], atol=1e-5)
    np.testing.assert_allclose(out[:, -1, :, 0].T, centred[1], atol=1e-5)
    three = rng.normal(size=(3, 10, 25, 3))
    assert preprocess(three, train=True, num_person=2, rng=rng).shape == (3, 64, 25, 2)
    with pytest.raises(ValueError, match="need at least 2"):
        preprocess(rng.normal(size=(1, 1, 25, 3)), train=False)
    with pytest.raises(ValueError, match="need at least 2"):
        preprocess(np.zeros((1, 5, 25, 3)), train=False)
    with pytest.raises(ValueError, match="NaN"):
        preprocess(np.full((1, 5, 25, 3), np.nan), train=False)
    with pytest.raises(ValueError, match="shape \\(M, T, V, 3\\)"):
        preprocess(np.zeros((5, 25, 3)), train=False)


def test_zero_padded_frames_are_trimmed():
    rng = np.random.default_rng(0)
    x = np.zeros((2, 300, 25, 3))
    x[0, :40] = rng.normal(size=(40, 25, 3))
    x[1, 10:30] = rng.normal(size=(20, 25, 3))
    out = preprocess(x, length=40, train=False, num_person=2, eval_crop=1.0)
    np.testing.assert_allclose(out[:, :, :, 0].transpose(1, 2, 0), x[0, :40] - x[0, 0, 1], atol=1e-5)
    # second person only present in the middle: zeros outside, centred by the same origin inside
    assert not out[:, :10, :, 1].any() and not out[:, 30:, :, 1].any()
    np.testing.assert_allclose(out[:, 10:30, :, 1].transpose(1, 2, 0), x[1, 10:30] - x[0, 0, 1], atol=1e-5)


def test_view_alignment(utd):
    joints = utd.samples[0].joints.astype(np.float64)
    # rotate the whole clip by a large angle about y: alignment undoes it
    a = np.deg2rad(70)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    x1 = preprocess(joints, train=False, num_person=1, align_view=True)
    x2 = preprocess(joints @ rot.T, train=False, num_person=1, align_view=True)
    np.testing.assert_allclose(x1, x2, atol=1e-4)
    # after alignment the spine points along +y and the hips/shoulders axis along +x
    j = x1[..., 0].transpose(1, 2, 0)  # (T, V, 3)
    spine = (j[:, K20.index("shoulder_center")] - j[:, K20.index("hip_center")]).mean(0)
    across = (j[:, K20.index("right_shoulder")] - j[:, K20.index("left_shoulder")]).mean(0)
    assert spine[1] / np.linalg.norm(spine) > 0.99
    assert across[0] / np.linalg.norm(across) > 0.95
    assert view_alignment(np.zeros((1, 3, 20, 3)), np.ones((1, 3), bool), K20) is None


def test_resample_linear():
    x = np.arange(4, dtype=float).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(resample(x, 0, 4, 7).ravel(), np.linspace(0, 3, 7))
    np.testing.assert_allclose(resample(x, 1, 2, 3).ravel(), [1, 1.5, 2])


def test_layout_mismatch():
    with pytest.raises(ValueError, match="layout 'ntu25'"):
        preprocess(np.ones((1, 4, 20, 3)), train=False, layout="ntu25")


# --- preprocessing options (issue 13) -------------------------------------------------------------

from zeroskel.data.layouts import list_layouts  # noqa: E402
from zeroskel.data.transforms import Preprocessing  # noqa: E402


def _full(joints, opt, **kw):
    """Evaluation preprocessing of the whole clip at its own length (no crop): (M, T, V, C)."""
    x = preprocess(joints, length=joints.shape[1], train=False, num_person=joints.shape[0],
                   options=Preprocessing(**{**opt.to_dict(), "eval_crop": 1.0}), **kw)
    return x.transpose(3, 1, 2, 0)


def test_origin_options(utd):
    joints = utd.samples[3].joints.astype(np.float64)  # (1, T, 20, 3)
    lh, rh = K20.index("left_hip"), K20.index("right_hip")
    hip = joints[0, 0, [lh, rh]].mean(0)
    out = _full(joints, Preprocessing(origin="first_hip"))
    np.testing.assert_allclose(out[0], joints[0] - hip, atol=1e-5)  # one translation: motion kept
    out = _full(joints, Preprocessing(origin="frame_center"))
    np.testing.assert_allclose(out[0], joints[0] - joints[0][:, [K20.center]], atol=1e-5)
    assert np.abs(out[0, :, K20.center]).max() < 1e-6  # the centre joint sits at 0 in every frame
    np.testing.assert_allclose(_full(joints, Preprocessing(origin="none"))[0], joints[0], atol=1e-5)


def test_torso_scale_removes_units_and_body_size(utd):
    joints = utd.samples[7].joints.astype(np.float64)
    opt = Preprocessing(origin="first_hip", scale="torso")
    a = _full(joints, opt)
    # the first frame's torso (hip centre -> shoulder centre) has length 1
    torso = a[0, 0, K20.index("shoulder_center")] - a[0, 0, K20.index("hip_center")]
    assert abs(np.linalg.norm(torso) - 1.0) < 1e-5
    # the same clip in centimetres, shifted: identical after normalisation
    np.testing.assert_allclose(_full(joints * 100 + 7.0, opt), a, atol=1e-5)
    with pytest.raises(ValueError, match="torso length is zero"):
        preprocess(np.ones((1, 4, 20, 3)), train=False, options=opt, name="flat.npy")


def test_options_for_every_layout():
    rng = np.random.default_rng(0)
    for name in list_layouts():
        lay = get_layout(name)
        joints = rng.normal(size=(1, 12, lay.num_joints, 3))
        for origin in ("first_center", "first_hip", "frame_center", "none"):
            opt = Preprocessing(origin=origin, scale="torso", align_view=True,
                                streams=("joint", "bone", "motion", "bone_motion"))
            out = preprocess(joints, length=8, train=True, rng=rng, num_person=1, layout=name, options=opt)
            assert out.shape == (12, 8, lay.num_joints, 1) and np.isfinite(out).all(), (name, origin)
        # view alignment of a rotated clip gives the same output in every layout
        a = np.deg2rad(40)
        rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        opt = Preprocessing(origin="first_hip", scale="torso", align_view=True)
        np.testing.assert_allclose(preprocess(joints, train=False, layout=name, num_person=1, options=opt),
                                   preprocess(joints @ rot.T, train=False, layout=name, num_person=1,
                                              options=opt), atol=1e-4)


def test_streams(utd):
    joints = utd.samples[2].joints.astype(np.float64)
    opt = Preprocessing(origin="first_hip", streams=("joint", "bone", "motion", "bone_motion"))
    out = _full(joints, opt)[0]  # (T, V, 12)
    j, b, m, bm = out[..., 0:3], out[..., 3:6], out[..., 6:9], out[..., 9:12]
    np.testing.assert_allclose(j, _full(joints, Preprocessing(origin="first_hip"))[0], atol=1e-6)
    elbow, shoulder = K20.index("left_elbow"), K20.index("left_shoulder")
    assert K20.parents[elbow] == shoulder
    np.testing.assert_allclose(b[:, elbow], j[:, elbow] - j[:, shoulder], atol=1e-5)
    assert not b[:, K20.center].any()  # the root's bone is zero
    np.testing.assert_allclose(m[:-1], j[1:] - j[:-1], atol=1e-5)
    assert not m[-1].any()
    np.testing.assert_allclose(bm[:-1], b[1:] - b[:-1], atol=1e-5)
    # order follows the option; channels = 3 per stream
    two = preprocess(joints, train=False, num_person=1, options=Preprocessing(streams=("motion", "joint")))
    assert two.shape[0] == 6 and Preprocessing(streams=("motion", "joint")).channels == 6
    np.testing.assert_allclose(two[3:], preprocess(joints, train=False, num_person=1), atol=1e-6)


def test_motion_is_zero_where_a_person_is_absent():
    rng = np.random.default_rng(1)
    x = np.zeros((2, 20, 25, 3))
    x[0] = rng.normal(size=(20, 25, 3))
    x[1, 5:10] = rng.normal(size=(5, 25, 3))
    out = preprocess(x, length=20, train=False, num_person=2, eval_crop=1.0,
                     options=Preprocessing(streams=("motion",)))  # (3, T, V, M)
    assert not out[..., 1][:, :5].any() and not out[..., 1][:, 9:].any()
    assert out[..., 1][:, 5:9].any()


def test_training_rotation_about_vertical_axis_and_scale_jitter(utd):
    joints = utd.samples[4].joints
    base = Preprocessing(origin="first_hip", crop_min=1.0, max_rotation=0.26, rotation_axes="y")
    e = preprocess(joints, train=False, num_person=1, options=Preprocessing(origin="first_hip", eval_crop=1.0))
    a = preprocess(joints, train=True, rng=np.random.default_rng(3), num_person=1, options=base)
    # a rotation about y keeps every height (y) and every horizontal distance from the y axis
    np.testing.assert_allclose(a[1], e[1], atol=1e-5)
    np.testing.assert_allclose(np.hypot(a[0], a[2]), np.hypot(e[0], e[2]), atol=1e-5)
    assert not np.allclose(a[0], e[0], atol=1e-3)
    s = preprocess(joints, train=True, rng=np.random.default_rng(4), num_person=1,
                   options=Preprocessing(origin="first_hip", crop_min=1.0, max_rotation=0.0, scale_jitter=0.1))
    ratio = s[e != 0] / e[e != 0]
    assert np.allclose(ratio, ratio[0], atol=1e-4) and 0.9 <= ratio[0] <= 1.1 and abs(ratio[0] - 1) > 1e-4


def test_preprocessing_options_are_checked_and_round_trip():
    opt = Preprocessing(origin="first_hip", scale="torso", streams=("joint", "motion"), scale_jitter=0.1)
    assert Preprocessing.from_dict(opt.to_dict()) == opt
    assert Preprocessing.from_dict({"align_view": True, "length": 64}) == Preprocessing(align_view=True)
    for bad, match in ((dict(origin="hip"), "origin"), (dict(scale="height"), "scale"),
                       (dict(streams=("joint", "velocity")), "streams"), (dict(streams=()), "streams"),
                       (dict(rotation_axes="z"), "rotation_axes"), (dict(crop_min=0.0), "crop_min"),
                       (dict(scale_jitter=1.5), "scale_jitter")):
        with pytest.raises(ValueError, match=match):
            Preprocessing(**bad)
