"""A seed's independent stages in worker processes (``jobs``): the same run, resumable, errors kept."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from zeroskel.cli.main import main
from zeroskel.train.parallel import plan_workers

from helpers import run_tiny

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_plan_workers(monkeypatch):
    monkeypatch.delenv("ZEROSKEL_JOBS", raising=False)
    assert plan_workers(0, 2, CPU, 3) == (2, 1)       # auto: a worker per thread
    assert plan_workers(0, 8, CPU, 2) == (2, 4)       # no more workers than stages; threads shared out
    assert plan_workers(0, 4, CPU, 3) == (3, 1)
    assert plan_workers(0, 1, CPU, 3) == (1, 1)       # one thread: one stage after another
    assert plan_workers(1, 8, CPU, 3) == (1, 8)
    assert plan_workers(0, 8, CUDA, 3) == (1, 8)      # a GPU: in turn
    assert plan_workers(3, 2, CPU, 3) == (3, 1)       # asked for: oversubscribed, one thread each
    assert plan_workers(2, 2, CPU, 1) == (1, 2)       # one stage left (a resumed run)
    monkeypatch.setenv("ZEROSKEL_JOBS", "1")
    assert plan_workers(0, 2, CPU, 3) == (1, 2)       # the environment decides what auto is
    assert plan_workers(2, 2, CPU, 3) == (2, 1)       # an explicit setting wins
    monkeypatch.setenv("ZEROSKEL_JOBS", "two")
    with pytest.raises(ValueError, match="ZEROSKEL_JOBS"):
        plan_workers(0, 2, CPU, 3)
    with pytest.raises(ValueError, match="jobs must be >= 0"):
        plan_workers(-1, 2, CPU, 3)


def _lines(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def in_turn(utd_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("jobs") / "in-turn"
    assert run_tiny(utd_root, out, "num_threads=1") == 0   # one thread: the workers' thread count
    return out


def test_workers_give_the_same_run(utd_root, in_turn, tmp_path):
    out = tmp_path / "workers"
    assert run_tiny(utd_root, out, "num_threads=2", "jobs=2") == 0
    log = (out / "log.txt").read_text()
    # the encoders, then each validation head as soon as its encoder is done, and the final head
    # over its whole schedule in a worker that would wait; the train step takes the chosen epoch
    assert "6 stages side by side: 2 worker processes, 1 thread(s) each (jobs=2)" in log
    assert log.index("stage 5/8 (seed 0): train validation head d0") < log.index("seed 0: extract")
    assert log.index("stage 7/8 (seed 0): train final head") < log.index("seed 0: extract")
    assert not (out / "seed0" / "head_ahead").exists()
    res = json.loads((out / "seed0" / "head" / "result.json").read_text())
    assert res["epoch"] == len(res["history"]) - 1 < res["epochs"] or res["epoch"] == res["epochs"] - 1
    assert all(f"stage {i}/8 (seed 0): " in log for i in range(1, 9))
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (in_turn, out))
    assert a["zsl"] == b["zsl"] and a["gzsl"] == b["gzsl"] and a["encoder"] == b["encoder"]
    # every epoch of every stage reaches metrics.jsonl (the workers return their histories)
    la, lb = _lines(in_turn), _lines(out)
    assert [(x["step"], x["epoch"]) for x in la] == [(x["step"], x["epoch"]) for x in lb]
    assert [x["loss"] for x in lb] == pytest.approx([x["loss"] for x in la], rel=1e-4)
    # the workers extracted each encoder's features as it finished, and embedded the class text
    feats = sorted(p.name for p in (out / "seed0" / "features").glob("*.safetensors"))
    assert feats == sorted(p.name for p in (in_turn / "seed0" / "features").glob("*.safetensors"))
    assert (out / "text" / "class_text.safetensors").exists()
    from zeroskel.train.io import load_tensors

    for d in ("head", "val_head/d0", "val_head/d1"):
        wa, _ = load_tensors(in_turn / "seed0" / d / "best.safetensors")
        wb, _ = load_tensors(out / "seed0" / d / "best.safetensors")
        assert all(torch.allclose(wa[k], wb[k], atol=1e-4) for k in wa), d


def test_workers_resume_and_report_errors(utd_root, in_turn, tmp_path, capsys):
    out = tmp_path / "steps"
    assert run_tiny(utd_root, out, "num_threads=2", "jobs=2", "--steps", "pretrain") == 0
    # a stage a worker runs can fail: its error reaches the command line, as from this process
    d1 = out / "seed0" / "val_encoder" / "d1"
    draw = json.loads((d1 / "draw.json").read_text())
    (d1 / "draw.json").write_text(json.dumps({**draw, "held_out_subjects": [99]}))
    (d1 / "result.json").unlink()                        # not done: sent to a worker
    (out / "seed0" / "encoder" / "result.json").unlink()  # two pending stages: workers again
    capsys.readouterr()
    assert main(["run", "--out", str(out), "--resume", "--quiet"]) == 2
    assert "another validation draw" in capsys.readouterr().err
    # mended, the resumed run finishes every stage; the encoders (each trained by a worker on one
    # thread, the main one before the error) are those of the uninterrupted one-thread run
    (d1 / "draw.json").write_text(json.dumps(draw))
    (out / "seed0" / "val_encoder" / "d0" / "result.json").unlink()  # two pending: workers again
    assert main(["run", "--out", str(out), "--resume", "--quiet"]) == 0
    assert (out / "metrics.json").exists()
    assert [(x["step"], x["epoch"]) for x in _lines(out)] == [(x["step"], x["epoch"]) for x in _lines(in_turn)]
    from zeroskel.train.io import load_tensors

    for enc in ("encoder", "val_encoder/d0", "val_encoder/d1"):
        wa, _ = load_tensors(in_turn / "seed0" / enc / "best.safetensors")
        wb, _ = load_tensors(out / "seed0" / enc / "best.safetensors")
        assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-5) for k in wa), enc
    # a step called on its own (zeroskel pretrain RUN_DIR) stops its workers when it returns
    from zeroskel.train.run import Run

    for enc in ("encoder", "val_encoder/d0"):
        (out / "seed0" / enc / "result.json").unlink()
    run = Run(out)
    run.pretrain(0)
    assert run._pool is None and (out / "seed0" / "encoder" / "result.json").exists()


def test_a_dead_worker_stops_the_run_with_a_message(utd_root, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from helpers import TINY

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "zeroskel.cli.main", "run", "--protocol", "utd-f1",
                             "--data-root", str(utd_root), "--out", str(out), "--quiet", *TINY,
                             "encoder.epochs=500", "num_threads=2", "jobs=2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.time() + 120
        while not (out / "seed0" / "encoder" / "state.pt").exists() and time.time() < deadline \
                and proc.poll() is None:
            time.sleep(0.2)  # the workers are training
        workers = []
        for d in Path("/proc").iterdir():                # the run's worker processes (not its resource tracker)
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == proc.pid and b"spawn_main" in (d / "cmdline").read_bytes():
                    workers.append(int(d.name))
            except (OSError, ValueError, IndexError):
                continue
        assert workers
        os.kill(workers[0], signal.SIGKILL)               # as the kernel's out-of-memory killer would
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)                     # fails instead of waiting for the dead worker
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 2 and "Traceback" not in err
    assert "a worker process of" in err and "died" in err and "--resume" in err
    assert (out / "seed0" / "encoder" / "state.pt").exists()   # finished epochs kept
