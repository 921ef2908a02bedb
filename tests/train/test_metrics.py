"""Zero-shot metrics against hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from zeroskel.train import metrics as M


def test_zsl_predicts_only_among_candidates():
    # 4 classes; unseen = [1, 3]; class 0 has the highest score but is not a candidate.
    scores = np.array([[0.9, 0.2, 0.1, 0.3],
                       [0.9, 0.5, 0.1, 0.3]])
    pred = M.predict(M.restrict(scores, [1, 3]), [1, 3])
    assert pred.tolist() == [3, 1]
    assert M.top1(pred, np.array([3, 3])) == 50.0


def test_gzsl_calibrated_stacking_moves_predictions_to_unseen():
    seen, unseen = [0, 1], [2]
    scores = np.array([[0.6, 0.1, 0.5],    # label 2 (unseen): seen wins unless gamma > 0.1
                       [0.9, 0.1, 0.5],    # label 0 (seen): stays seen while gamma < 0.4
                       [0.2, 0.7, 0.1]])   # label 1 (seen)
    labels = np.array([2, 0, 1])
    r0 = M.gzsl(scores, labels, seen, unseen, gamma=0.0)
    assert (r0.S, r0.U) == (100.0, 0.0) and r0.H == 0.0
    r = M.gzsl(scores, labels, seen, unseen, gamma=0.2)
    assert (r.S, r.U) == (100.0, 100.0) and r.H == pytest.approx(100.0)
    r_big = M.gzsl(scores, labels, seen, unseen, gamma=0.7)
    assert r_big.U == 100.0 and r_big.S == 0.0
    best = M.best_gamma(scores, labels, seen, unseen, num=101)
    assert best.H == pytest.approx(100.0) and 0.1 < best.gamma < 0.4


def test_harmonic_and_summary():
    assert M.harmonic(50.0, 100.0) == pytest.approx(2 * 50 * 100 / 150)
    s = M.summarize([1.0, 3.0])
    assert s == {"mean": 2.0, "std": 1.0, "values": [1.0, 3.0]}


def test_per_class_and_confusion():
    pred = np.array([1, 1, 3, 3])
    labels = np.array([1, 3, 3, 3])
    pc = M.per_class_accuracy(pred, labels, [1, 3])
    assert pc == {1: 100.0, 3: pytest.approx(200 / 3)}
    cm = M.confusion(pred, labels, [1, 3])
    assert cm.tolist() == [[1, 0], [1, 2]]


def test_vectorised_best_gamma_matches_the_loop():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(60, 7))
    labels = rng.integers(0, 7, size=60)
    seen, unseen = [0, 2, 3, 5], [1, 4, 6]
    best = M.best_gamma(scores, labels, seen, unseen, num=51)
    loop = max((M.gzsl(scores, labels, seen, unseen, float(g))
                for g in M.gamma_grid(scores, seen, unseen, 51)), key=lambda r: r.H)
    assert best.H == pytest.approx(loop.H) and best.gamma == pytest.approx(loop.gamma)
    assert (best.S, best.U) == (pytest.approx(loop.S), pytest.approx(loop.U))
