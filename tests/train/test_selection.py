"""Epoch and calibration choice from several validation draws (zeroskel.train.selection)."""
from __future__ import annotations

import numpy as np
import pytest

from zeroskel.train.selection import (choose_index, combine_draws, grid_epochs, smooth,
                                       validation_metrics, window_points)


def _history(select, gamma=None, margin=None):
    gamma = gamma or [0.1] * len(select)
    margin = margin or [0.2] * len(select)
    return [{"epoch": e, "loss": 1.0, "val_select": v, "val_zsl_fused": v, "val_gzsl_fused_H": v,
             "val_gamma_fused": g, "val_margin_fused": m}
            for e, (v, g, m) in enumerate(zip(select, gamma, margin))]


def test_grid_epochs_aligns_draws_by_fraction_of_training():
    # G = 4 points at 1/4 .. 4/4; the 6-epoch draw is read at round(6 * f) - 1 (numpy rounds half to even)
    np.testing.assert_array_equal(grid_epochs([4, 6]), [[0, 1, 2, 3], [1, 2, 3, 5]])
    np.testing.assert_array_equal(grid_epochs([3]), [[0, 1, 2]])
    with pytest.raises(ValueError, match="at least one epoch"):
        grid_epochs([3, 0])


def test_average_over_draws_picks_the_hand_computed_epoch():
    a = _history([10, 50, 20, 30], gamma=[0.0, 0.5, 0.2, 0.3], margin=[1, 2, 3, 4])
    b = _history([40, 10, 35, 10, 60, 20], gamma=[0.0, 0.1, 0.9, 0.7, 0.4, 0.2], margin=[1, 2, 3, 4, 5, 6])
    # by hand: b at grid fractions 1/4..4/4 is epochs 1, 2, 3, 5 -> 10, 35, 10, 20
    # mean curve (a + b) / 2 = [10, 42.5, 15, 25] -> grid point 1 (fraction 0.5); a's epoch 1, b's 2
    ch = combine_draws([a, b])
    assert ch["curve"]["mean"] == [10.0, 42.5, 15.0, 25.0]
    assert ch["epoch"] == 1 and ch["fraction"] == 0.5 and ch["draw_epochs"] == [1, 2]
    # calibration: median (of two: mean) of each draw's factor at its own epoch
    assert ch["gamma"] == {"fused": pytest.approx((0.5 + 0.9) / 2)}
    assert ch["margin"] == {"fused": pytest.approx((2 + 3) / 2)}
    assert ch["val_metrics"]["val_select"] == pytest.approx(42.5)
    # a single draw would have picked b's best epoch (4, fraction 5/6); the mean curve does not
    assert combine_draws([b])["epoch"] == 4
    assert combine_draws([a, b], select_epoch=False)["fraction"] == 1.0


def test_early_epoch_rules():
    # a lucky first epoch, then a steady plateau: the raw argmax takes epoch 0
    curve = np.array([60, 20, 30, 45, 50, 52, 51, 50, 49, 50], dtype=float)
    assert choose_index(curve) == 0
    assert choose_index(curve, min_fraction=0.3) == 5           # fractions (i + 1) / 10 >= 0.3
    # smoothing over 3 points: epoch 0 averages (60 + 20) / 2 = 40, the plateau ~51
    np.testing.assert_allclose(smooth(curve, 3)[:2], [40.0, (60 + 20 + 30) / 3])
    assert choose_index(curve, window=3) == 5
    assert choose_index(curve, min_fraction=2.0) == 9           # nothing allowed: the last epoch
    assert window_points(10, 0.0) == 1 and window_points(10, 0.3) == 3 and window_points(10, 0.2) == 3
    h = _history(curve.tolist())
    assert combine_draws([h], min_fraction=0.3)["epoch"] == 5
    ch = combine_draws([h], smooth_fraction=0.3)
    assert ch["epoch"] == 5 and ch["rule"]["window"] == 3


def test_validation_metrics_on_known_scores():
    # 4 clips: classes 0, 1 pseudo-seen; 2, 3 pseudo-unseen
    labels = np.array([0, 1, 2, 3])
    s = np.array([[0.9, 0.1, 0.5, 0.0],       # seen, right
                  [0.2, 0.8, 0.1, 0.0],       # seen, right
                  [0.9, 0.0, 0.6, 0.1],       # unseen, right among unseen, beaten by a seen class
                  [0.0, 0.1, 0.7, 0.2]])      # unseen, wrong among unseen (2 instead of 3)
    out = validation_metrics({"fused": s}, labels, [0, 1], [2, 3], gamma_grid=201)
    assert out["val_zsl_fused"] == 50.0
    # gamma just above 0.3 lifts clip 2 to its unseen class without losing a seen clip: S 100, U 50
    assert out["val_gzsl_fused_H"] == pytest.approx(2 * 100 * 50 / 150)
    assert 0.3 < out["val_gamma_fused"] <= 0.4          # smallest such factor on the grid
    assert out["val_select"] == pytest.approx((50.0 + out["val_gzsl_fused_H"]) / 2)
    assert validation_metrics({"fused": s}, labels, [0, 1], [2, 3], select="zsl")["val_select"] == 50.0
    with pytest.raises(ValueError, match="eval.select"):
        validation_metrics({"fused": s}, labels, [0, 1], [2, 3], select="acc")


def test_configs_without_the_new_fields_still_load(tmp_path):
    from zeroskel.config import load_config
    from zeroskel.train.run_config import RunConfig

    path = tmp_path / "config.yaml"     # an eval section as written before validation draws
    path.write_text("protocol: utd-f1\neval:\n  validation_encoder: separate\n  select_epoch: true\n"
                    "  gamma_grid: 201\n  gamma_transfer: margin\n")
    e = load_config(RunConfig, path).eval
    assert (e.val_draws, e.val_subjects, e.select, e.min_fraction, e.smooth_fraction) == (2, 1, "mean", 0.25, 0.2)
