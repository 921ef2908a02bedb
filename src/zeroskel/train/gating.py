"""SynSE's GZSL gating model (Gupta et al., ICIP 2021; also SA-DVAE's), trained on the validation protocol.

The gate decides, per clip, whether it belongs to a seen or an unseen class; a "seen" clip is then
classified among the seen classes, an "unseen" one among the unseen classes. SynSE's gate is a
logistic regression (C = 1) on two sorted top-k probability vectors, k = the number of unseen
classes: the zero-shot classifier's softmax over the unseen classes, and the encoder's seen-class
classifier's softmax at temperature T; T (1..9) and the decision threshold (0.25..0.74) are picked on
held-out validation samples.

Here both distributions come from the head's own scores over seen + unseen classes (the engine does
not cache the encoder's classifier logits): p_u = softmax over the unseen columns of log-scores,
p_s = softmax over the seen columns of log-scores / T (for the generative heads the scores are
their classifier's probabilities, so log-scores are its logits up to a constant). The gate is
trained on the validation protocol only: each draw's validation head (its best epoch, saved as
``val_head/d<K>/best.safetensors``) scores that draw's held-out seen clips (label "seen") and
pseudo-unseen clips (label "unseen"); T and the threshold are picked by the mean H when the gate
fitted on one draw is applied to the other (with one draw: on the draw itself); the final gate is
fitted on every draw. The test split is only scored by the finished gate. Reported as
``gzsl_gating`` (eval.json), next to calibrated stacking.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from zeroskel.train import metrics as M

__all__ = ["gate_features", "fit_gate", "gated_gzsl", "validation_gate", "evaluate_gate", "run_gate",
           "TEMPERATURES", "THRESHOLDS"]

TEMPERATURES = tuple(range(1, 10))
THRESHOLDS = tuple(np.round(np.arange(0.25, 0.75, 0.01), 2))


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def _log(scores: np.ndarray) -> np.ndarray:
    """Log of probability scores; other scores (cosines) are used as logits as they are."""
    s = np.asarray(scores, dtype=np.float64)
    return np.log(np.clip(s, 1e-12, None)) if s.min() >= 0 else s


def gate_features(scores: np.ndarray, seen: Sequence[int], unseen: Sequence[int], k: int,
                  temperature: float) -> np.ndarray:
    """scores (N, K_all) -> (N, 2k): sorted top-k of the unseen softmax and of the seen softmax at T."""
    logits = _log(scores)
    p_u = np.sort(_softmax(logits[:, list(unseen)]), axis=1)[:, ::-1][:, :k]  # (N, k)
    p_s = np.sort(_softmax(logits[:, list(seen)] / temperature), axis=1)[:, ::-1][:, :k]  # (N, k)
    return np.concatenate([p_u, p_s], axis=1)


def fit_gate(x: np.ndarray, is_unseen: np.ndarray):
    """Logistic regression (C = 1, as SynSE) predicting "unseen"."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=1000).fit(x, is_unseen.astype(int))


def gated_gzsl(scores: np.ndarray, labels: np.ndarray, seen: Sequence[int], unseen: Sequence[int],
               p_unseen: np.ndarray, threshold: float) -> dict[str, float]:
    """S, U, H of the gated prediction: arg-max over the unseen classes where p_unseen > threshold,
    over the seen classes elsewhere."""
    pred = np.where(p_unseen > threshold, M.predict(M.restrict(scores, unseen), unseen),
                    M.predict(M.restrict(scores, seen), seen))
    sm, um = np.isin(labels, seen), np.isin(labels, unseen)
    s, u = M.top1(pred[sm], labels[sm]), M.top1(pred[um], labels[um])
    return {"S": s, "U": u, "H": M.harmonic(s, u)}


def validation_gate(draws: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Choose T and the threshold and fit the gate on the validation draws.

    Args:
        draws: per draw ``{"scores": (N, K_all), "labels": (N,), "seen": [...], "unseen": [...]}`` (the
            draw's validation head on its held-out seen and pseudo-unseen clips).
        k: top-k width (the smallest unseen count among the draws and the test protocol).
    Returns ``{"temperature", "threshold", "model", "validation_H"}``.
    """
    def data(d, t):
        x = gate_features(d["scores"], d["seen"], d["unseen"], k, t)
        return x, np.isin(d["labels"], d["unseen"])

    best = (-1.0, 1, 0.5)
    for t in TEMPERATURES:
        pairs = [(a, b) for a in range(len(draws)) for b in range(len(draws)) if a != b] or [(0, 0)]
        per_thr = np.zeros(len(THRESHOLDS))
        for a, b in pairs:
            xa, ya = data(draws[a], t)
            if ya.all() or not ya.any():
                continue
            gate = fit_gate(xa, ya)
            xb, _ = data(draws[b], t)
            p = gate.predict_proba(xb)[:, 1]
            d = draws[b]
            per_thr += [gated_gzsl(d["scores"], d["labels"], d["seen"], d["unseen"], p, th)["H"]
                        for th in THRESHOLDS]
        per_thr /= len(pairs)
        i = int(np.argmax(per_thr))
        if per_thr[i] > best[0]:
            best = (float(per_thr[i]), t, float(THRESHOLDS[i]))
    h, t, th = best
    xs, ys = zip(*(data(d, t) for d in draws))
    return {"temperature": t, "threshold": th, "validation_H": h,
            "model": fit_gate(np.concatenate(xs), np.concatenate(ys))}


def evaluate_gate(gate: dict[str, Any], scores: np.ndarray, labels: np.ndarray, seen: Sequence[int],
                  unseen: Sequence[int], k: int) -> dict[str, Any]:
    """The fitted gate on (test) scores: S, U, H plus the gate's settings."""
    x = gate_features(scores, seen, unseen, k, gate["temperature"])
    p = gate["model"].predict_proba(x)[:, 1]
    out = gated_gzsl(scores, labels, seen, unseen, p, gate["threshold"])
    return {**out, "temperature": gate["temperature"], "threshold": gate["threshold"],
            "validation_H": gate["validation_H"], "k": k, "trained_on": "validation protocol"}


def run_gate(run, seed: int, scores: np.ndarray, labels: np.ndarray, seen: Sequence[int],
             unseen: Sequence[int]) -> dict[str, Any] | None:
    """The gate of a run's seed: fitted on its validation draws' heads, applied to the test ``scores``
    (fused, (N, K_all)). None when no draw has a saved validation head."""
    from zeroskel.train.head import load_head, score_features

    draws = []
    for v in run._val_draws(seed):
        path = run.seed_dir(seed) / "val_head" / f"d{v.draw}" / "best.safetensors"
        if not path.exists():
            continue
        head, _ = load_head(path, run.device)
        feats, lab = run._eval_sets(seed, f"val_d{v.draw}")
        s = score_features(head, feats, run.class_text, run.device)["fused"]
        draws.append({"scores": s, "labels": lab, "seen": list(map(int, v.val_seen_classes)),
                      "unseen": list(map(int, v.val_unseen_classes))})
    if not draws:
        return None
    k = min([len(unseen)] + [len(d["unseen"]) for d in draws])
    return evaluate_gate(validation_gate(draws, k), scores, labels, seen, unseen, k)
