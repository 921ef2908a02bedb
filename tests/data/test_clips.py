from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from zeroskel.data import load_dataset
from zeroskel.data.clips import ClipDataset


@pytest.fixture(scope="module")
def msr(msr_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset("msr-action3d", msr_root)


def test_eval_clips(msr):
    idx = np.arange(0, len(msr), 50)
    ds = ClipDataset(msr, idx, length=32, train=False, num_person=1)
    assert len(ds) == len(idx)
    x, y = ds[0]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (3, 32, 20, 1)
    assert y == msr.samples[idx[0]].label and isinstance(y, int)
    x2, _ = ds[0]
    assert torch.equal(x, x2)
    ds.set_epoch(3)
    assert torch.equal(ds[0][0], x)
    batch, labels = next(iter(DataLoader(ds, batch_size=4)))
    assert batch.shape == (4, 3, 32, 20, 1) and labels.tolist() == ds.labels()[:4].tolist()


def test_train_clips_reproducible_by_seed_epoch_index(msr):
    idx = [3, 7, 11]
    a = ClipDataset(msr, idx, train=True, num_person=2, seed=5)
    b = ClipDataset(msr.samples, idx, train=True, num_person=2, seed=5, layout="kinect20")
    assert a[1][0].shape == (3, 64, 20, 2)
    assert torch.equal(a[1][0], b[1][0])
    assert torch.equal(a[1][0], a[1][0])
    first = a[1][0]
    a.set_epoch(1)
    assert not torch.equal(a[1][0], first)
    b.set_epoch(1)
    assert torch.equal(a[1][0], b[1][0])
    c = ClipDataset(msr, idx, train=True, num_person=2, seed=6)
    assert not torch.equal(c[1][0], first)
    # the same sample index gives the same clip whatever its position in `indices`
    d = ClipDataset(msr, [7], train=True, num_person=2, seed=5)
    assert torch.equal(d[0][0], first)


def test_align_view_and_bad_indices(msr):
    plain = ClipDataset(msr, [0], train=False, num_person=1)[0][0]
    aligned = ClipDataset(msr, [0], train=False, num_person=1, align_view=True)[0][0]
    assert not torch.allclose(plain, aligned)
    with pytest.raises(IndexError):
        ClipDataset(msr, [len(msr)], train=False, num_person=1)
