"""Issue 13 end to end on real UTD-MHAD data: preprocessing options and input streams travel from the
config through pre-training, the feature cache and the bundle, so the recognizer preprocesses a user's
clip exactly as the run did; the multi-stream ensemble and the optimiser options train."""
from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import QUICK

from zeroskel.cli.main import main
from zeroskel.config import load_config
from zeroskel.data import load_dataset, make_splits
from zeroskel.data.clips import ClipDataset
from zeroskel.data.transforms import Preprocessing
from zeroskel.train.io import load_tensors, read_json
from zeroskel.train.pretrain import pretrain_encoder, supervised_accuracy
from zeroskel.infer.recognizer import ZeroShotRecognizer
from zeroskel.infer.inputs import to_clips
from zeroskel.train.run_config import RunConfig, preprocessing
from zeroskel.text.sideinfo import load_shipped

PRE = ["data.origin=first_hip", "data.scale=torso", "data.align_view=true",
       "data.streams=[joint,bone,motion]", "data.eval_crop=0.9"]


@pytest.fixture(scope="module")
def utd(utd_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset("utd-mhad", utd_root)
    return ds, make_splits(ds, "utd-f1", seed=0)


@pytest.fixture(scope="module")
def stream_run(utd_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("streams") / "utd-f1"
    assert main(["run", "--protocol", "utd-f1", "--data-root", str(utd_root), "--out", str(out), "--quiet",
                 *QUICK, *PRE, "encoder.name=shiftgcn_ensemble", "encoder.fusion=concat"]) == 0
    return out


def test_bundle_carries_the_preprocessing(stream_run, utd):
    expected = replace(preprocessing(RunConfig().data), origin="first_hip", scale="torso", align_view=True,
                       streams=("joint", "bone", "motion"), eval_crop=0.9)
    _, enc_meta = load_tensors(stream_run / "seed0" / "encoder" / "best.safetensors")
    assert Preprocessing.from_dict(enc_meta["preprocessing"]) == expected
    assert enc_meta["model"] == "shiftgcn_ensemble" and enc_meta["model_kwargs"]["num_streams"] == 3
    info = json.loads((stream_run / "bundle" / "bundle.json").read_text())
    assert Preprocessing.from_dict(info["preprocess"]) == expected
    assert info["preprocess"]["streams"] == ["joint", "bone", "motion"] and info["preprocess"]["length"] == 16
    # the cached features were made with the same preprocessing: 3 members x 16 channels, concatenated
    feats, _ = load_tensors(stream_run / "seed0" / "features" / "test_unseen.safetensors")
    assert feats["features"].shape[2] == 3 * 16
    m = json.loads((stream_run / "metrics.json").read_text())
    assert m["encoder"]["streams"] == ["joint", "bone", "motion"]


def test_recognizer_reproduces_the_runs_scores(stream_run, utd, tmp_path):
    ds, sp = utd
    rec = ZeroShotRecognizer.from_pretrained(stream_run / "bundle", cache_dir=tmp_path)
    assert rec.preprocessing.streams == ("joint", "bone", "motion") and rec.channels == 9
    # a user's clip is prepared exactly as the run's evaluation clips were
    cfg = load_config(RunConfig, stream_run / "config.yaml")
    x, _ = rec.prepare(to_clips(ds.samples[sp.test_unseen[0]].joints)[0])
    ref = ClipDataset(ds, sp.test_unseen[:1], length=16, train=False, num_person=1,
                      preprocessing=preprocessing(cfg.data))[0][0]
    assert ref.shape == (9, 16, 20, 1)
    np.testing.assert_array_equal(x, ref.numpy())
    saved = np.load(stream_run / "seed0" / "test_scores.npz")
    clips = [ds.samples[i].joints for i in sp.test_unseen]
    names = [ds.class_names[c] for c in sp.unseen]
    _, scores, _ = rec.score(clips, side_information=load_shipped("utd-mhad"), classes=names)
    np.testing.assert_array_equal(scores["fused"], saved["scores_fused"][len(sp.test_seen):][:, sp.unseen])


def test_ensemble_pretrains_with_adamw_cosine_and_label_smoothing(utd, tmp_path):
    ds, sp = utd
    cfg = load_config(RunConfig, None, [
        "encoder.name=shiftgcn_ensemble", "encoder.base_channels=4", "encoder.epochs=2", "data.length=16",
        "data.streams=[joint,motion]", "data.origin=first_hip", "data.scale=torso", "data.rotation_axes=y",
        "data.scale_jitter=0.1", "encoder.optimizer=adamw", "encoder.lr=0.002", "encoder.weight_decay=0.01",
        "encoder.schedule=cosine", "encoder.label_smoothing=0.1", "progress=false"])
    fit_idx = np.setdiff1d(sp.train, sp.holdout)[:64]
    path = pretrain_encoder(cfg, ds, fit_idx=fit_idx, val_idx=sp.holdout, classes=sp.seen,
                            out_dir=tmp_path / "enc", seed=0, num_person=1, device=torch.device("cpu"),
                            protocol="utd-f1")
    res = read_json(tmp_path / "enc" / "result.json")
    assert res["epochs"] == 2 and len(res["history"]) == 2
    lrs = [h["lr"] for h in res["history"]]
    assert lrs[0] == pytest.approx(0.002) and lrs[1] == pytest.approx(0.001)  # cosine, 2 epochs
    # the diagnostic re-evaluates the saved checkpoint on the holdout: the number pre-training chose on
    sup = supervised_accuracy(path, ds, sp.holdout, torch.device("cpu"))
    assert sup["num"] == len(sp.holdout) and sup["top1"] == pytest.approx(res["best_val_acc"])
    with pytest.raises(ValueError, match="encoder's classes"):
        supervised_accuracy(path, ds, sp.test_unseen, torch.device("cpu"))


@pytest.mark.parametrize("select", ["holdout", "last"])
def test_encoder_select_keeps_the_chosen_epoch(utd, tmp_path, select):
    """``encoder.select``: ``holdout`` keeps the earliest epoch of best holdout top-1, ``last`` the end of
    the schedule; the saved weights are that epoch's (their holdout top-1 is the history's)."""
    ds, sp = utd
    cfg = load_config(RunConfig, None, [
        "encoder.base_channels=4", "encoder.epochs=4", "data.length=16", f"encoder.select={select}",
        "progress=false"])
    fit_idx = np.setdiff1d(sp.train, sp.holdout)[:64]
    path = pretrain_encoder(cfg, ds, fit_idx=fit_idx, val_idx=sp.holdout, classes=sp.seen,
                            out_dir=tmp_path / "enc", seed=0, num_person=1, device=torch.device("cpu"),
                            protocol="utd-f1")
    res = read_json(tmp_path / "enc" / "result.json")
    if select == "last":  # the holdout is read every 5th epoch and after the last only
        assert [("val_acc" in h) for h in res["history"]] == [False, False, False, True]
        accs = [h.get("val_acc") for h in res["history"]]
    else:
        accs = [h["val_acc"] for h in res["history"]]
    want = accs.index(max(accs)) if select == "holdout" else len(accs) - 1
    _, meta = load_tensors(path)
    assert res["select"] == select and res["best_epoch"] == want and meta["epoch"] == want
    assert res["best_val_acc"] == pytest.approx(accs[want])
    sup = supervised_accuracy(path, ds, sp.holdout, torch.device("cpu"))
    assert sup["top1"] == pytest.approx(accs[want])


def test_encoder_select_rejects_unknown(utd, tmp_path):
    ds, sp = utd
    cfg = load_config(RunConfig, None, ["encoder.base_channels=4", "encoder.epochs=1", "data.length=16",
                                        "encoder.select=best", "progress=false"])
    with pytest.raises(ValueError, match="encoder.select"):
        pretrain_encoder(cfg, ds, fit_idx=sp.train[:16], val_idx=sp.holdout, classes=sp.seen,
                         out_dir=tmp_path / "enc", seed=0, num_person=1, device=torch.device("cpu"),
                         protocol="utd-f1")
