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
