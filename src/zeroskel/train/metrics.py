"""Zero-shot metrics: ZSL top-1, GZSL S/U/H with calibrated stacking, either-branch, per class.

All functions take plain score matrices ``(N, K)`` over a list of candidate classes and labels that
are *global* class indices; nothing here knows about models.

- ZSL: candidates are the unseen classes only; top-1 accuracy over unseen-class samples.
- GZSL: candidates are all classes; calibrated stacking (Chao et al., 2016) subtracts ``gamma`` from
  the scores of seen classes before the arg-max. S = accuracy on seen-class samples, U = on
  unseen-class samples, H = 2SU / (S + U). Accuracies are per-sample averages (as the Neuron and
  SynSE evaluations compute them), in percent.
- Either-branch: the Neuron paper's metric, a sample counts when the spatial *or* the temporal
  branch's prediction is right. It is reported under that name, never as plain accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


def restrict(scores, classes: list[int] | np.ndarray) -> np.ndarray:
    """Scores over all K classes (N, K) -> scores over ``classes`` (N, len(classes))."""
    return _as_np(scores)[:, np.asarray(classes, dtype=np.int64)]


def predict(scores, candidates: list[int] | np.ndarray) -> np.ndarray:
    """Arg-max over ``candidates`` (the columns of ``scores``), returned as global class ids."""
    scores = _as_np(scores)
    candidates = np.asarray(candidates, dtype=np.int64)
    return candidates[np.argmax(scores, axis=1)]


def top1(pred: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    return float(100.0 * np.mean(np.asarray(pred) == labels))


def harmonic(s: float, u: float) -> float:
    return 0.0 if s + u == 0 else 2.0 * s * u / (s + u)


@dataclass
class GZSLResult:
    S: float
    U: float
    H: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"S": self.S, "U": self.U, "H": self.H, "gamma": self.gamma}


def gzsl(scores, labels, seen: list[int], unseen: list[int], gamma: float) -> GZSLResult:
    """GZSL with calibrated stacking; ``scores`` (N, K) has one column per global class id."""
    scores = _as_np(scores).astype(np.float64).copy()
    labels = np.asarray(labels)
    seen = np.asarray(seen, dtype=np.int64)
    unseen = np.asarray(unseen, dtype=np.int64)
    candidates = np.concatenate([seen, unseen])
    sub = scores[:, candidates]
    sub[:, : len(seen)] -= gamma
    pred = candidates[np.argmax(sub, axis=1)]
    is_seen = np.isin(labels, seen)
    s = top1(pred[is_seen], labels[is_seen])
    u = top1(pred[~is_seen], labels[~is_seen])
    return GZSLResult(S=s, U=u, H=harmonic(s, u), gamma=float(gamma))


def gamma_grid(scores, seen: list[int], unseen: list[int], num: int = 201) -> np.ndarray:
    """Candidate calibration factors: from 0 to the spread of the scores (where no seen class can win)."""
    scores = _as_np(scores)
    cols = np.concatenate([np.asarray(seen), np.asarray(unseen)]).astype(np.int64)
    spread = float(scores[:, cols].max() - scores[:, cols].min()) if scores.size else 0.0
    return np.linspace(0.0, max(spread, 1e-6), num)


def best_gamma(scores, labels, seen: list[int], unseen: list[int], num: int = 201) -> GZSLResult:
    """The calibration factor that maximises H on *validation* data (ties -> smallest gamma).

    Vectorised over the grid: with seen scores lowered by gamma, a sample is given to the unseen
    classes exactly when its best unseen score beats its best seen score minus gamma (seen wins
    ties, as in :func:`gzsl`), and the class within each group does not depend on gamma.
    """
    scores = _as_np(scores).astype(np.float64)
    labels = np.asarray(labels)
    seen_a = np.asarray(seen, dtype=np.int64)
    unseen_a = np.asarray(unseen, dtype=np.int64)
    grid = gamma_grid(scores, seen, unseen, num)
    s_best = scores[:, seen_a].max(1)
    u_best = scores[:, unseen_a].max(1)
    s_pred = seen_a[scores[:, seen_a].argmax(1)]
    u_pred = unseen_a[scores[:, unseen_a].argmax(1)]
    to_unseen = u_best[None, :] > s_best[None, :] - grid[:, None]          # (G, N)
    pred = np.where(to_unseen, u_pred[None, :], s_pred[None, :])           # (G, N)
    correct = pred == labels[None, :]
    is_seen = np.isin(labels, seen_a)
    S = 100.0 * correct[:, is_seen].mean(1) if is_seen.any() else np.full(len(grid), np.nan)
    U = 100.0 * correct[:, ~is_seen].mean(1) if (~is_seen).any() else np.full(len(grid), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        H = np.where(S + U > 0, 2 * S * U / (S + U), 0.0)
    i = int(np.nanargmax(H)) if np.isfinite(H).any() else 0
    return GZSLResult(S=float(S[i]), U=float(U[i]), H=float(H[i]), gamma=float(grid[i]))


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray, classes: list[int]) -> dict[int, float]:
    out = {}
    for c in classes:
        m = labels == c
        out[int(c)] = top1(pred[m], labels[m]) if m.any() else float("nan")
    return out


def confusion(pred: np.ndarray, labels: np.ndarray, classes: list[int]) -> np.ndarray:
    """Rows: true class, columns: predicted class, both in the order of ``classes``."""
    index = {int(c): i for i, c in enumerate(classes)}
    mat = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for p, y in zip(pred, labels):
        if int(y) in index and int(p) in index:
            mat[index[int(y)], index[int(p)]] += 1
    return mat


def summarize(values: list[float]) -> dict[str, object]:
    """``{"mean", "std", "values"}`` over seeds (population std, 0 for one value)."""
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()) if len(arr) else float("nan"),
        "std": float(arr.std()) if len(arr) else float("nan"),
        "values": [float(v) for v in arr],
    }
