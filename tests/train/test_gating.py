"""SynSE's GZSL gate: features, fit on validation draws, and a real run that reports it."""
from __future__ import annotations

import json

import numpy as np

from zeroskel.train.gating import gate_features, gated_gzsl, validation_gate, evaluate_gate

SEEN, UNSEEN = [0, 1, 2, 3], [4, 5]


def _draw(seed: int, n: int = 60, sharp: float = 4.0):
    """Probabilities over 6 classes: seen clips put their mass on seen classes (peaked on the true one),
    unseen clips spread it more evenly over the seen ones and peak on the true unseen class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, n)
    logits = rng.normal(0, 0.3, (n, 6))
    logits[np.arange(n), labels] += sharp
    logits[np.isin(labels, UNSEEN)] += np.array([0.8, 0.8, 0.8, 0.8, 0, 0]) - np.array([0, 0, 0, 0, 1.0, 1.0])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return {"scores": p, "labels": labels, "seen": SEEN, "unseen": UNSEEN}


def test_features_are_sorted_top_k_of_both_softmaxes():
    p = np.array([[0.1, 0.2, 0.3, 0.1, 0.2, 0.1]])
    x = gate_features(p, SEEN, UNSEEN, 2, 1.0)
    assert x.shape == (1, 4)
    assert np.allclose(x[0, :2], [2 / 3, 1 / 3]) and np.allclose(x[0, 2:], [3 / 7, 2 / 7])
    sharper = gate_features(p, SEEN, UNSEEN, 2, 0.5)[0, 2:]
    assert sharper[0] > x[0, 2]  # T < 1 sharpens the seen softmax


def test_gate_separates_seen_and_unseen_and_beats_either_extreme():
    draws = [_draw(0), _draw(1)]
    gate = validation_gate(draws, k=2)
    assert gate["temperature"] in range(1, 10) and 0.25 <= gate["threshold"] <= 0.74
    test = _draw(2, n=200)
    out = evaluate_gate(gate, test["scores"], test["labels"], SEEN, UNSEEN, 2)
    assert out["trained_on"] == "validation protocol" and out["H"] > 60
    all_seen = gated_gzsl(test["scores"], test["labels"], SEEN, UNSEEN, np.zeros(200), 0.5)
    all_unseen = gated_gzsl(test["scores"], test["labels"], SEEN, UNSEEN, np.ones(200), 0.5)
    assert all_seen["H"] == 0 and all_unseen["H"] == 0


def test_synse_run_reports_the_gate(utd_root, tmp_path):
    """A tiny real run with the synse head: eval.json holds calibrated stacking and the gate."""
    from helpers import QUICK

    from zeroskel.cli.main import main

    quick = [o for o in QUICK if not o.startswith("head.options")]
    out = tmp_path / "synse"
    assert main(["run", "--protocol", "utd-f1", "--data-root", str(utd_root), "--out", str(out), "--quiet", *quick,
                 "head.name=synse", "head.epochs=2", "text.source=pos", "head.optimizer=adam", "head.lr=0.001",
                 "head.options={latent_dim: 8, cycle: 10, cls_epochs: 5, text_samples_unseen: 20,"
                 " feat_samples: 10}"]) == 0
    ev = json.loads((out / "seed0" / "eval.json").read_text())
    gate = ev["gzsl_gating"]
    assert gate["trained_on"] == "validation protocol" and 0 <= gate["H"] <= 100
    assert set(ev["gzsl"]) == {"fused", "spatial"} and np.isfinite(ev["zsl"]["fused"])
