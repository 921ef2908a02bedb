"""Feature files written batch by batch and read back as memory maps; head training on row subsets."""
from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import load_file

from zeroskel.data.readers.ntu import load_ntu
from zeroskel.data.synthetic import generate_ntu
from zeroskel.train.features import extract_features, load_features, map_tensors
from zeroskel.train.head import train_head
from zeroskel.train.run_config import RunConfig
from zeroskel.models import create_model


def _mapped_from(tensor: torch.Tensor, path) -> bool:
    """True when the tensor's memory lies in a mapping of ``path`` (Linux /proc/self/maps)."""
    ptr = tensor.data_ptr()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == str(path):
                lo, hi = (int(v, 16) for v in parts[0].split("-"))
                if lo <= ptr < hi:
                    return True
    return False


def test_streamed_feature_file_equals_whole_batch_features(tmp_path):
    generate_ntu(tmp_path / "ntu", 10, seed=2, frames=(30, 40))
    ds = load_ntu(tmp_path / "ntu", 60, progress=False)
    torch.manual_seed(0)
    enc = create_model("shiftgcn", num_classes=60, num_joints=25, num_person=2, base_channels=4).eval()
    idx = [7, 1, 3, 8, 0]
    path = extract_features(enc, ds, idx, tmp_path / "f.safetensors", views=2, train_aug=True,
                            length=16, num_person=2, seed=0, batch_size=2, device=torch.device("cpu"),
                            show_progress=False)
    feats, labels = load_features(path)
    assert feats.shape == (2, 5, 16, 4, 25) and feats.dtype == torch.float16
    assert _mapped_from(feats, path)  # a memory map of the file, not a copy in RAM
    assert labels.tolist() == [ds.samples[i].label for i in idx]
    # a standard safetensors reader sees the same tensors
    plain = load_file(str(path))
    torch.testing.assert_close(plain["features"], feats, rtol=0, atol=0)
    assert plain["indices"].tolist() == idx
    # the same numbers as one whole batch per view
    from zeroskel.data.clips import ClipDataset
    clips = ClipDataset(ds, idx, length=16, train=True, num_person=2, seed=0, layout="ntu25")
    for view in range(2):
        clips.set_epoch(view)
        x = torch.stack([clips[i][0] for i in range(len(idx))])
        with torch.no_grad():
            want = enc.feature_map(x).to(torch.float16)
        torch.testing.assert_close(feats[view], want, rtol=1e-3, atol=1e-3)
    assert map_tensors(path)["indices"].tolist() == idx


def test_train_head_on_rows_equals_training_on_a_copy(tmp_path):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 40, 8, 4, 25, generator=g).to(torch.float16)  # (views, N, C, T', V)
    labels = torch.arange(40) % 4
    text = torch.randn(6, 6, 2, 16, generator=g)                           # (P, K, N_a, D)
    rows = np.array([i for i in range(40) if i % 5])                       # 32 clips
    cfg = RunConfig()
    cfg.head.epochs, cfg.head.min_steps, cfg.head.batch_size = 2, 0, 8
    cfg.head.options = {"num_spatial_protos": 4, "num_temporal_protos": 4, "keep_schedule": [3, 2, 1],
                        "hidden_dim": 8}
    cfg.progress = False
    common = dict(classes=[0, 1, 2, 3], class_text=text, seed=0, device=torch.device("cpu"), meta={},
                  evaluate=None, select=None)
    a, _ = train_head(cfg, feats=feats, labels=labels, rows=rows, out_dir=tmp_path / "a", **common)
    b, _ = train_head(cfg, feats=feats[:, rows], labels=labels[rows], out_dir=tmp_path / "b", **common)
    wa, wb = load_file(str(a)), load_file(str(b))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=k)


def test_train_head_keep_epochs_holds_the_weights_of_a_head_stopped_there(tmp_path):
    """``keep_epochs`` (the final head trained ahead of its epoch choice): the weights kept for epoch e
    are those of the same head trained with ``stop_after=e`` (the schedule spans the same epochs)."""
    from zeroskel.train.io import load_tensors

    g = torch.Generator().manual_seed(1)
    feats = torch.randn(1, 32, 8, 4, 25, generator=g).to(torch.float16)  # (views, N, C, T', V)
    labels = torch.arange(32) % 4
    text = torch.randn(6, 6, 2, 16, generator=g)                           # (P, K, N_a, D)
    cfg = RunConfig()
    cfg.head.epochs, cfg.head.min_steps, cfg.head.batch_size = 4, 0, 8
    cfg.head.options = {"num_spatial_protos": 4, "num_temporal_protos": 4, "keep_schedule": [3, 2, 1],
                        "hidden_dim": 8}
    cfg.progress = False
    common = dict(feats=feats, labels=labels, classes=[0, 1, 2, 3], class_text=text, seed=0,
                  device=torch.device("cpu"), meta={"note": "x"}, evaluate=None, select=None)
    kept, res = train_head(cfg, out_dir=tmp_path / "all", keep_epochs=tmp_path / "epochs.safetensors", **common)
    stacked, meta = load_tensors(kept)
    assert len(res.history) == 4 and len(meta["history"]) == 4 and meta["note"] == "x"
    assert not (tmp_path / "all" / "best.safetensors").exists()
    one, _ = train_head(cfg, out_dir=tmp_path / "stop", stop_after=1, **common)
    w, wmeta = load_tensors(one)
    assert wmeta["epoch"] == 1
    for k, v in w.items():
        assert stacked[k].shape == (4, *v.shape)
        torch.testing.assert_close(stacked[k][1], v, rtol=0, atol=0, msg=k)
    assert not torch.equal(stacked["spatial.prototypes"][1], stacked["spatial.prototypes"][3])
