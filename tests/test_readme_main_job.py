"""The README's main job, exactly as the README writes it (with the output folder moved to tmp).

Slow (a few minutes on 2 CPU cores): CI runs it in its `pytest -m slow` pass.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from zeroskel.cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[1]


def readme_main_job() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## The main job", 1)[1]
    m = re.search(r"```bash\n(zeroskel run [^\n]+)\n```", section)
    assert m, "README's main job section has no zeroskel run command"
    return shlex.split(m.group(1))


def test_readme_names_the_real_data_and_a_protocol():
    argv = readme_main_job()
    assert argv[:2] == ["zeroskel", "run"] and "--protocol" in argv and "--data-root" in argv


@pytest.mark.slow
def test_readme_main_job_runs(utd_root, tmp_path, monkeypatch):
    monkeypatch.delenv("ZEROSKEL_JOBS", raising=False)  # the README's defaults: jobs=auto (workers on 2+ threads)
    argv = readme_main_job()[1:]
    argv[argv.index("--data-root") + 1] = str(utd_root)
    argv[argv.index("--out") + 1] = str(tmp_path / "run")
    assert main(argv + ["--quiet"]) == 0
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("fused", "spatial", "temporal", "either_branch"):
        assert set(m["zsl"][key]) >= {"mean", "std", "values"}
    assert {"S", "U", "H"} <= set(m["gzsl"]["fused"])
    # a trained model: its encoder is far above chance (1/21) on the seen classes of new subjects,
    # and the zero-shot head above chance (1/6 on utd-f1) on the unseen ones
    assert m["encoder"]["supervised"]["test_seen"]["mean"] > 50.0
    assert m["zsl"]["fused"]["mean"] > 100.0 / 6
    assert (tmp_path / "run" / "bundle" / "bundle.json").exists()
    # the official Neuron head's phases, its prototype health and the encoder diagnostic are reported
    assert {"spatial_phase1", "temporal_phase3"} <= set(m["zsl"]) and {"before", "after"} <= set(m["health"])
    assert set(m["encoder"]["supervised"]) == {"test_seen", "holdout", "val_seen"}
    # (its wall time is a benchmark figure, measured on a quiet machine, not a test: README, BENCHMARKS.md)
