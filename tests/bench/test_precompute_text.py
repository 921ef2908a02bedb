"""benchmarks/precompute_text.py: the table a GPU machine without the text-encoder wheels looks texts up in."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "precompute_text.py"


def _precompute(*args: str) -> None:
    runpy.run_path(str(SCRIPT))["main"](list(args))


def test_table_holds_the_version1_rows_a_bench_variant_reads(utd_root, tmp_path):
    """With ``--side-info-dirs benchmarks/text/v1`` the table also holds the version-1 descriptions: a run
    with ``text.side_info=benchmarks/text/v1`` and ``text.encoder=precomputed:TABLE`` gets the same class
    text as the encoder itself gives; a table without them fails on the first missing text."""
    from zeroskel.config import merge
    from zeroskel.text.class_text import build_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_side_info
    from zeroskel.train.run import Run
    from zeroskel.train.run_config import RunConfig

    table, plain = tmp_path / "texts.pt", tmp_path / "plain.pt"
    _precompute("--datasets", "utd-mhad", "--encoder", "hashing:16", "--side-info-dirs", "benchmarks/text/v1",
                "--out", str(table))
    _precompute("--datasets", "utd-mhad", "--encoder", "hashing:16", "--out", str(plain))

    def run(path: Path, name: str) -> Run:
        cfg = merge(RunConfig(), {"protocol": "utd-f1", "data": {"root": str(utd_root)},
                                  "text": {"encoder": f"precomputed:{path}", "side_info": "benchmarks/text/v1"}})
        return Run(tmp_path / name, cfg)

    r = run(table, "run")
    got = r.class_text  # (6, K, N_a, D); the official Neuron's cumulative temporal slots
    names = list(r.dataset.class_names)
    v1 = load_side_info("benchmarks/text/v1/utd-mhad.json", names)
    expected = build_class_text(v1, get_text_encoder("hashing:16"), names, temporal="cumulative")
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-6)
    with pytest.raises(KeyError, match=r"plain\.pt: 810 texts have no precomputed feature, e\.g\. \"Standing"):
        run(plain, "plain").class_text  # 810 = 27 classes x 6 phases x 5 version-1 descriptions


def test_table_covers_every_text_source_the_peers_read(tmp_path):
    """The table holds the texts of every source of the shipped files, the slot sources too (body parts
    for STAR, PURLS's slots, verb / noun phrases for SynSE and JPoSE): a GPU bench of the peers looks
    them up instead of failing on the first missing text (as a table of the phase sources alone did)."""
    from zeroskel.text.class_text import build_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_shipped
    from zeroskel.text.sources import SOURCES

    table = tmp_path / "texts.pt"
    _precompute("--datasets", "utd-mhad,msr-action3d", "--encoder", "hashing:16", "--out", str(table))
    looked_up, computed = get_text_encoder(f"precomputed:{table}"), get_text_encoder("hashing:16")
    for dataset in ("utd-mhad", "msr-action3d"):
        si = load_shipped(dataset)
        for source in SOURCES:
            a = build_class_text(si, looked_up, si.class_names, source=source)
            assert torch.allclose(a, build_class_text(si, computed, si.class_names, source=source), atol=1e-6)
