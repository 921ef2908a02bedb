"""Choosing the head's epoch and GZSL calibration from several validation draws.

Each draw of the validation protocol (:func:`zeroskel.data.protocols.validation_draw`) trains its
own validation head and records, after every epoch, the metrics of :func:`validation_metrics`
on that draw's ``val_seen`` + ``val_unseen`` clips. The draws' heads may run different numbers of
epochs (their training sets differ in size and the schedule stretches to ``head.min_steps``
updates), so the curves are compared at the same *fractions of training*:

1. ``G`` = the fewest epochs any draw ran; grid point ``i`` is the fraction ``(i + 1) / G``, and
   draw ``d`` (``E_d`` epochs) is read at its epoch ``round((i + 1) / G * E_d) - 1``.
2. The draws' selection metric is averaged at each grid point (the *mean curve*).
3. The early-epoch rule: the mean curve is smoothed with a centred moving average over
   ``smooth`` grid points (fewer at the ends), and grid points before ``min_fraction`` of training
   are never chosen.
4. The chosen fraction is the first maximum of the smoothed curve among the allowed points; the
   final head stops at the same fraction of its own schedule.
5. Calibration: each draw's best factor (and seen-vs-unseen score margin) at its epoch of the
   chosen fraction; the choice keeps their medians.

Nothing here reads test data: the inputs are validation histories only.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from zeroskel.train import metrics as M

BRANCHES = ("spatial", "temporal", "fused")


def seen_margin(scores: np.ndarray, seen: list[int], unseen: list[int]) -> float:
    """Median over clips of (best seen-class score - best unseen-class score)."""
    if len(scores) == 0:
        return float("nan")
    return float(np.median(scores[:, seen].max(1) - scores[:, unseen].max(1)))


def validation_metrics(scores: dict[str, np.ndarray], labels: np.ndarray, seen: list[int],
                       unseen: list[int], gamma_grid: int = 201,
                       select: str = "mean") -> dict[str, float]:
    """Validation ZSL, GZSL H, best calibration factor and margin per branch, and ``val_select``.

    Args:
        scores: branch -> (N, K) scores of the validation clips against every class.
        labels: (N,) global labels of the clips (pseudo-seen and pseudo-unseen).
        seen, unseen: the draw's pseudo-seen and pseudo-unseen classes.
        select: what ``val_select`` is: ``mean`` of fused ZSL and fused H, ``zsl`` or ``H``.
    """
    out: dict[str, float] = {}
    unseen_mask = np.isin(labels, unseen)
    for b, s in scores.items():
        pred = M.predict(M.restrict(s[unseen_mask], unseen), unseen)
        out[f"val_zsl_{b}"] = M.top1(pred, labels[unseen_mask])
        g = M.best_gamma(s, labels, seen, unseen, gamma_grid)
        out[f"val_gzsl_{b}_H"], out[f"val_gamma_{b}"] = g.H, g.gamma
        out[f"val_margin_{b}"] = seen_margin(s[np.isin(labels, seen)], seen, unseen)
    zsl, h = out["val_zsl_fused"], out["val_gzsl_fused_H"]
    if select == "mean":
        out["val_select"] = (zsl + h) / 2
    elif select == "zsl":
        out["val_select"] = zsl
    elif select == "H":
        out["val_select"] = h
    else:
        raise ValueError(f"eval.select must be 'mean', 'zsl' or 'H', got {select!r}")
    return out


def grid_epochs(num_epochs: Sequence[int]) -> np.ndarray:
    """(D, G) epoch of each draw at each grid fraction ``(i + 1) / G``, ``G = min(num_epochs)``."""
    if not num_epochs or min(num_epochs) < 1:
        raise ValueError(f"selection: every validation head needs at least one epoch, got {num_epochs}")
    g = min(num_epochs)
    frac = np.arange(1, g + 1) / g                                          # (G,)
    e = np.rint(frac[None, :] * np.asarray(num_epochs)[:, None]).astype(np.int64) - 1   # (D, G)
    return np.clip(e, 0, np.asarray(num_epochs)[:, None] - 1)


def smooth(curve: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` points (the ends average what they have)."""
    if window <= 1:
        return curve.astype(np.float64)
    half = window // 2
    out = np.empty(len(curve), dtype=np.float64)
    for i in range(len(curve)):
        out[i] = float(np.mean(curve[max(0, i - half):i + half + 1]))
    return out


def choose_index(curve: np.ndarray, *, min_fraction: float = 0.0, window: int = 1) -> int:
    """Grid index chosen from a mean validation curve (steps 3-4 of the module doc)."""
    g = len(curve)
    if g == 0:
        raise ValueError("selection: empty validation curve")
    sm = smooth(np.nan_to_num(np.asarray(curve, dtype=np.float64), nan=-np.inf), window)
    frac = np.arange(1, g + 1) / g
    allowed = frac >= min_fraction - 1e-9
    if not allowed.any():
        return g - 1
    sm = np.where(allowed, sm, -np.inf)
    return int(np.argmax(sm))


def window_points(num_points: int, smooth_fraction: float) -> int:
    """Moving-average window (odd, >= 1) covering about ``smooth_fraction`` of the grid."""
    w = int(round(smooth_fraction * num_points))
    return max(1, w if w % 2 == 1 else w + 1)


def combine_draws(histories: Sequence[Sequence[dict[str, Any]]], *, key: str = "val_select",
                  min_fraction: float = 0.0, smooth_fraction: float = 0.0,
                  select_epoch: bool = True) -> dict[str, Any]:
    """The choice (fraction of training, calibration) from the draws' per-epoch histories.

    Args:
        histories: per draw, the validation head's per-epoch metrics (``val_*`` keys of
            :func:`validation_metrics`), one entry per epoch from the first.
        key: the metric whose mean curve picks the fraction.
        min_fraction: never choose before this fraction of training.
        smooth_fraction: width of the moving average, as a fraction of the grid (0: none).
        select_epoch: ``False`` takes the last epoch (no selection).
    """
    lens = [len(h) for h in histories]
    epochs = grid_epochs(lens)                                             # (D, G)
    g = epochs.shape[1]
    curves = np.array([[histories[d][e][key] for e in epochs[d]] for d in range(len(histories))],
                      dtype=np.float64)                                    # (D, G)
    mean = curves.mean(0)                                                  # (G,)
    window = window_points(g, smooth_fraction)
    i = choose_index(mean, min_fraction=min_fraction, window=window) if select_epoch else g - 1
    picked = [histories[d][int(epochs[d, i])] for d in range(len(histories))]
    gamma, margin = {}, {}
    for b in BRANCHES:
        if all(f"val_gamma_{b}" in p for p in picked):
            gamma[b] = float(np.median([p[f"val_gamma_{b}"] for p in picked]))
        if all(f"val_margin_{b}" in p for p in picked):
            margin[b] = float(np.median([p[f"val_margin_{b}"] for p in picked]))
    names = sorted({k for p in picked for k in p if k.startswith("val_")})
    val_metrics = {k: float(np.mean([p[k] for p in picked])) for k in names
                   if all(isinstance(p.get(k), (int, float)) for p in picked)}
    return {
        "epoch": i, "epochs": g, "fraction": (i + 1) / g,
        "gamma": gamma, "margin": margin, "val_metrics": val_metrics,
        "rule": {"key": key, "min_fraction": min_fraction, "smooth_fraction": smooth_fraction,
                 "window": window, "select_epoch": select_epoch},
        "draw_epochs": [int(epochs[d, i]) for d in range(len(histories))],
        "draw_num_epochs": lens,
        "curve": {"mean": mean.tolist(), "smoothed": smooth(mean, window).tolist()},
    }
