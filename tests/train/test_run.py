"""The main job end to end on the real UTD-MHAD data, with a tiny encoder and head.

Checks the run directory contract, determinism on CPU, resume after an interruption, and that the
epoch/calibration choice never reads test data.
"""
from __future__ import annotations

import json

import pytest
import torch

from zeroskel.cli.main import main
from zeroskel.train import trainer
from zeroskel.train.io import load_tensors
from zeroskel.train.run import Run

from helpers import run_tiny as _run


@pytest.fixture(scope="module")
def tiny_run(utd_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "utd-f1"
    assert _run(utd_root, out) == 0
    return out


def test_run_directory_contract(tiny_run):
    m = json.loads((tiny_run / "metrics.json").read_text())
    for key in ("fused", "spatial", "temporal", "either_branch"):
        assert set(m["zsl"][key]) == {"mean", "std", "values"} and len(m["zsl"][key]["values"]) == 1
        assert 0.0 <= m["zsl"][key]["mean"] <= 100.0
    for key in ("S", "U", "H"):
        assert set(m["gzsl"]["fused"][key]) == {"mean", "std", "values"}
    assert m["protocol"] == "utd-f1" and m["seeds"] == [0]
    assert m["encoder"]["name"] == "shiftgcn" and m["text_encoder"] == "hashing:32"
    # the encoder diagnostic: its own classifier on the test split's seen clips and on the holdout
    sup = m["encoder"]["supervised"]
    ev_sup = json.loads((tiny_run / "seed0" / "encoder_supervised.json").read_text())
    for split in ("test_seen", "holdout"):
        assert set(sup[split]) == {"mean", "std", "values"} and 0.0 <= sup[split]["mean"] <= 100.0
        assert sup[split]["values"] == [ev_sup[split]["top1"]]
    assert ev_sup["holdout"]["num"] == 63
    # the holdout figure equals the one pre-training chose the checkpoint on
    enc = json.loads((tiny_run / "seed0" / "encoder" / "result.json").read_text())
    assert sup["holdout"]["values"][0] == pytest.approx(enc["best_val_acc"])
    # val_seen: the validation encoders on their held-out subject's clips after their last epoch
    draws = [json.loads((tiny_run / "seed0" / "val_encoder" / f"d{k}" / "result.json").read_text()) for k in (0, 1)]
    last = [d["history"][-1]["val_acc"] for d in draws]
    assert sup["val_seen"]["values"] == [pytest.approx(sum(last) / 2)]
    assert "val_seen" not in ev_sup                       # read from the encoders' records, not cached
    from zeroskel.analysis.analysis import read_encoder_supervised

    assert read_encoder_supervised(tiny_run, 0)["val_seen"] == sup["val_seen"]["values"][0]  # zeroskel analyze
    assert set(m["seconds"]) == {"pretrain", "extract", "train", "evaluate"}
    # either-branch counts a sample when either branch is right: never below either branch
    z = m["zsl"]
    assert z["either_branch"]["mean"] >= max(z["spatial"]["mean"], z["temporal"]["mean"])
    for name in ("config.yaml", "env.json", "log.txt", "metrics.jsonl"):
        assert (tiny_run / name).exists(), name
    lines = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert {x["step"] for x in lines} == {"encoder", "val_encoder/d0", "val_encoder/d1", "val_head/d0",
                                         "val_head/d1", "head"}
    weights, meta = load_tensors(tiny_run / "seed0" / "head" / "best.safetensors")
    assert meta["protocol"] == "utd-f1" and meta["layout"] == "kinect20"
    assert len(meta["class_names"]) == 27 and meta["text_encoder"] == "hashing:32"
    assert sorted(meta["unseen"]) == [2, 5, 6, 8, 12, 23] and "code_version" in meta
    per_class = json.loads((tiny_run / "seed0" / "per_class.json").read_text())
    assert len(per_class["zsl_fused"]) == 6
    conf = json.loads((tiny_run / "seed0" / "confusion.json").read_text())
    ev = json.loads((tiny_run / "seed0" / "eval.json").read_text())
    assert sum(map(sum, conf["zsl_fused"]["matrix"])) == ev["num_test_unseen"] > 0
    assert len(conf["gzsl_fused"]["classes"]) == 27


def _history(run_dir):
    """(seed, step, epoch, loss) of every line of a run's metrics.jsonl."""
    return [(x["seed"], x["step"], x["epoch"], x["loss"])
            for x in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())]


def _assert_same_metrics(a_dir, b_dir):
    a = json.loads((a_dir / "metrics.json").read_text())
    b = json.loads((b_dir / "metrics.json").read_text())
    assert a["zsl"] == b["zsl"] and a["gzsl"] == b["gzsl"]


def test_same_seed_same_numbers(utd_root, tiny_run, tmp_path):
    out = tmp_path / "again"
    assert _run(utd_root, out) == 0
    _assert_same_metrics(tiny_run, out)
    # metrics.jsonl keeps the whole history: the epochs of the first process and of the resumed one
    assert _history(out) == _history(tiny_run)
    wa, _ = load_tensors(tiny_run / "seed0" / "head" / "best.safetensors")
    wb, _ = load_tensors(out / "seed0" / "head" / "best.safetensors")
    assert all((wa[k] == wb[k]).all() for k in wa)


def test_resume_after_interrupt_gives_the_same_result(utd_root, tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "interrupted"
    real_save = trainer.save_state
    calls = {"n": 0}

    def crash_on_fourth_save(path, state):
        calls["n"] += 1
        real_save(path, state)
        if calls["n"] == 4:        # after the val encoder's 2nd epoch... mid-way through the run
            raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(trainer, "save_state", crash_on_fourth_save)
    assert _run(utd_root, out) == 130                     # Ctrl-C: exit 130 with the --resume hint
    monkeypatch.setattr(trainer, "save_state", real_save)
    assert not (out / "metrics.json").exists()
    assert _run(utd_root, out) == 2                       # exists: needs --resume
    assert main(["run", "--out", str(out), "--resume", "--quiet"]) == 0
    _assert_same_metrics(tiny_run, out)
    # metrics.jsonl keeps the whole history: the epochs of the first process and of the resumed one
    assert _history(out) == _history(tiny_run)


def test_choices_never_read_test_data(utd_root, tmp_path):
    out = tmp_path / "honest"
    assert _run(utd_root, out, "--steps", "pretrain,extract") == 0
    feats = out / "seed0" / "features"
    for name in ("test_seen", "test_unseen"):
        (feats / f"{name}.safetensors").unlink()
    # training (epoch and calibration choice included) works without any test features
    assert main(["train", str(out)]) == 0
    choice = json.loads((out / "seed0" / "val_head" / "choice.json").read_text())
    assert set(choice["gamma"]) == {"spatial", "temporal", "fused"}
    assert main(["evaluate", str(out)]) == 2              # test features are needed only here
    assert main(["extract", str(out)]) == 0
    assert main(["evaluate", str(out)]) == 0
    assert (out / "metrics.json").exists()


def test_choice_averages_the_validation_draws(tiny_run):
    from zeroskel.train.run import RunError
    from zeroskel.train.selection import combine_draws

    choice = json.loads((tiny_run / "seed0" / "val_head" / "choice.json").read_text())
    draws = choice["draws"]
    assert [d["draw"] for d in draws] == [0, 1]
    # each draw holds out its own training subject (odd ids) and draws its own pseudo-unseen classes
    held = [d["held_out_subjects"] for d in draws]
    assert held[0] != held[1] and all(len(h) == 1 and h[0] % 2 == 1 for h in held)
    assert draws[0]["val_unseen_classes"] != draws[1]["val_unseen_classes"]
    histories = []
    for d in draws:
        rec = json.loads((tiny_run / "seed0" / "val_head" / f"d{d['draw']}" / "history.json").read_text())
        assert rec["draw"] == d
        enc = json.loads((tiny_run / "seed0" / "val_encoder" / f"d{d['draw']}" / "draw.json").read_text())
        assert enc == d
        histories.append(rec["history"])
    cfg = Run(tiny_run).cfg.eval
    assert choice["rule"]["min_fraction"] == cfg.min_fraction == 0.25
    again = combine_draws(histories, min_fraction=cfg.min_fraction, smooth_fraction=cfg.smooth_fraction)
    assert again["fraction"] == choice["fraction"] and again["gamma"] == choice["gamma"]
    # a validation folder made for another draw is refused (its models may know the pseudo-unseen)
    run = Run(tiny_run)
    other = run._val_draws(1)[0]
    with pytest.raises(RunError, match="another validation draw"):
        run._check_draw(tiny_run / "seed0" / "val_encoder" / "d0", other)


def test_unknown_override_is_an_error(utd_root, tmp_path, capsys):
    assert _run(utd_root, tmp_path / "bad", "encoder.epoch=3") == 2
    assert "encoder.epoch" in capsys.readouterr().err


def test_step_on_missing_run_dir(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nothing")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_run_object_reads_saved_config(tiny_run):
    run = Run(tiny_run)
    assert run.cfg.encoder.base_channels == 4 and run.num_person == 1


def test_tensorboard_scalars(utd_root, tmp_path):
    pytest.importorskip("tensorboard", reason="the [tensorboard] extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    assert _run(utd_root, out, "tensorboard=true", "--steps", "pretrain") == 0
    acc = EventAccumulator(str(out / "tensorboard" / "seed0" / "encoder"))
    acc.Reload()
    assert {"loss", "val_acc", "lr"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("loss")] == [0, 1]


def test_plan_stage_counter_and_final_summary(tiny_run, tmp_path, capsys):
    import shutil

    log = (tiny_run / "log.txt").read_text()
    assert "plan: 1 seed(s), steps pretrain, extract, train, evaluate; 8 stages" in log
    assert all(f"stage {i}/8 (seed 0): " in log for i in range(1, 9))
    # the plan's epochs are those the steps ran (encoders stretched to min_steps, heads likewise)
    stages = {st.name: st for st in Run(tiny_run).plan()}
    seed = tiny_run / "seed0"
    assert stages["encoder"].epochs == json.loads((seed / "encoder" / "result.json").read_text())["epochs"]
    for d in (0, 1):
        enc = json.loads((seed / "val_encoder" / f"d{d}" / "result.json").read_text())
        head = json.loads((seed / "val_head" / f"d{d}" / "history.json").read_text())
        assert stages[f"validation encoder d{d}"].epochs == enc["epochs"]
        assert stages[f"validation head d{d}"].epochs == len(head["history"])
    assert stages["final head"].epochs == json.loads((seed / "head" / "result.json").read_text())["epochs"]
    # the summary of a (resumed, finished) run: chance level, bundle, next commands
    copy = tmp_path / "utd-f1"
    shutil.copytree(tiny_run, copy)
    capsys.readouterr()
    assert main(["run", "--out", str(copy), "--resume", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "chance         ZSL 16.67 (1 of 6 unseen classes)" in out
    assert f"bundle (the trained models): {copy / 'bundle'}" in out
    assert f"zeroskel predict {copy / 'bundle'} CLIP.npz" in out and f"zeroskel analyze {copy}" in out


def test_skipped_samples_are_logged_once_not_warned_too(msr_root, tmp_path, monkeypatch):
    import logging
    import warnings

    from zeroskel.config import merge
    from zeroskel.train.run_config import RunConfig
    from zeroskel.train.runtime import LOG

    # a handler of our own on the zeroskel logger: caplog reads the root, which other tests' logging
    # setups (propagation off, handlers) make count a record zero or two times
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    monkeypatch.setattr(LOG, "level", logging.INFO)
    LOG.addHandler(handler)
    try:
        run = Run(tmp_path, merge(RunConfig(), {"protocol": "msr-f1", "data": {"root": str(msr_root)}}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = run.dataset
    finally:
        LOG.removeHandler(handler)
    assert ds.skipped                                     # MSR Action3D has unreadable clips
    assert not [w for w in caught if "skipping" in str(w.message)]
    assert sum(r.getMessage().startswith("skipped ") for r in records) == len(ds.skipped)


def test_side_info_folder_gives_each_dataset_its_file(utd_root, msr_root, tmp_path):
    """``text.side_info`` may name a folder of ``<dataset>.json`` files (one bench variant over UTD-MHAD
    and MSR Action3D, e.g. benchmarks/text/v1): each run embeds its own dataset's file from it; a
    folder without that dataset's file is an error naming the file and what the folder holds."""
    from zeroskel.config import merge
    from zeroskel.text.class_text import build_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import SideInfoError, load_shipped, load_side_info
    from zeroskel.train.run_config import RunConfig

    folder = "benchmarks/text/v1"
    for protocol, root, dataset in (("utd-f1", utd_root, "utd-mhad"), ("msr-f1", msr_root, "msr-action3d")):
        cfg = merge(RunConfig(), {"protocol": protocol, "data": {"root": str(root)},
                                  "text": {"encoder": "hashing:32", "side_info": folder, "temporal": "phase"}})
        run = Run(tmp_path / protocol, cfg)
        names = list(run.dataset.class_names)
        v1 = load_side_info(f"{folder}/{dataset}.json", names)
        assert v1.num_descriptions == 5 and load_shipped(dataset).num_descriptions == 10  # the folder's file
        expected = build_class_text(v1, get_text_encoder("hashing:32"), names)
        assert torch.allclose(run.class_text, expected, atol=1e-6)
    (tmp_path / "only-msr").mkdir()
    (tmp_path / "only-msr" / "msr-action3d.json").write_text(open(f"{folder}/msr-action3d.json").read())
    cfg = merge(RunConfig(), {"protocol": "utd-f1", "data": {"root": str(utd_root)},
                              "text": {"encoder": "hashing:32", "side_info": str(tmp_path / "only-msr")}})
    with pytest.raises(SideInfoError, match=r"utd-mhad\.json: no side information in .*only-msr for "
                                            r"dataset 'utd-mhad' \(available: msr-action3d\)"):
        Run(tmp_path / "bad", cfg).class_text


def test_val_seen_only_from_trained_validation_encoders(tiny_run, tmp_path):
    """encoder.pretrained_only writes validation encoders without epochs: no val_seen, no error."""
    import shutil

    from zeroskel.train.run import Run

    assert len(Run(tiny_run).val_encoder_seen(0)["values"]) == 2
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    for k in (0, 1):
        (copy / "seed0" / "val_encoder" / f"d{k}" / "result.json").write_text(
            json.dumps({"best_epoch": -1, "note": "encoder.pretrained_only: no pre-training"}))
    assert Run(copy).val_encoder_seen(0) is None
    assert "val_seen" not in Run(copy).encoder_supervised(0)
