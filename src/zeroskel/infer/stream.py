"""Sliding-window classification of a live skeleton stream.

    stream = StreamClassifier(rec, ["walk", "sit down", "wave"], window=64, hop=16)
    for frame in camera:                       # frame (V, 3) or (M, V, 3), in the stream's layout
        pred = stream.push(frame)
        if pred is not None:
            print(pred.end, pred.ranking[0])

The first prediction comes when ``window`` frames have arrived, then one every ``hop`` frames, each
over the last ``window`` frames. A window is classified exactly as ``recognizer.predict`` would
classify the same frames as one clip (same repairs of missing values, same layout mapping). A window
that cannot be classified (e.g. a joint missing for longer than ``max_gap`` frames) gives a
:class:`StreamPrediction` with an empty ranking and the reason in ``error``; the stream goes on.
"""
from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from zeroskel.infer.inputs import DEFAULT_MAX_GAP, Clip, InputError, InputWarning, resolve_layout
from zeroskel.infer.recognizer import Ranking, ZeroShotRecognizer


@dataclass
class StreamPrediction:
    """The classification of one window.

    Args:
        start: index of the window's first frame in the stream (0-based).
        end: index of its last frame.
        ranking: ``[(class, score), ...]`` best first (empty when ``error`` is set).
        notes: repairs and approximations applied to the window.
        error: why the window could not be classified, or None.
    """

    start: int
    end: int
    ranking: Ranking
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end,
                               "ranking": [{"class": c, "score": s} for c, s in self.ranking]}
        if self.notes:
            out["notes"] = list(self.notes)
        if self.error:
            out["error"] = self.error
        return out


class StreamClassifier:
    """Classify the last ``window`` frames every ``hop`` frames.

    Args:
        recognizer: a loaded :class:`ZeroShotRecognizer`.
        classes: class names (or the subset of ``side_information``); None with no side information:
            the bundle's training vocabulary.
        side_information: a ``SideInformation`` or side-information JSON file.
        window: frames per classified window (>= 2).
        hop: frames between two predictions (>= 1).
        layout: layout of the incoming frames (default: the model's).
        top_k: length of each ranking.
        max_gap: longest run of missing (NaN) frames of a joint that is interpolated.
        units: units of 3D frames (``m``, ``cm``, ``mm``; None: checked to look like metres).
    """

    def __init__(self, recognizer: ZeroShotRecognizer, classes: Sequence[str] | None = None, *,
                 side_information: Any = None, window: int = 64, hop: int = 16, layout: str | None = None,
                 top_k: int | None = 5, max_gap: int = DEFAULT_MAX_GAP, units: str | None = None) -> None:
        if window < 2:
            raise ValueError(f"window must be at least 2 frames, got {window}")
        if hop < 1:
            raise ValueError(f"hop must be at least 1 frame, got {hop}")
        self.recognizer, self.window, self.hop = recognizer, int(window), int(hop)
        if top_k is not None and top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 or None: all classes), got {top_k}")
        self.layout, self.top_k, self.max_gap, self.units = layout, top_k, max_gap, units
        self.classes = classes
        self.side_information = side_information
        recognizer.class_text(classes, side_information=side_information)  # embed the vocabulary once
        self.reset()

    def reset(self) -> None:
        """Forget the buffered frames (e.g. a new person or a camera cut)."""
        self.frames: deque[np.ndarray] = deque(maxlen=self.window)
        self.count = 0        # frames pushed so far
        self.since = 0        # frames since the last prediction
        self.shape: tuple[int, ...] | None = None

    def push(self, frame: Any) -> StreamPrediction | None:
        """Add one frame (V, C) or (M, V, C); returns a prediction when one is due, else None."""
        try:
            arr = np.asarray(frame, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"stream frame {self.count}: not a numeric array") from None
        if arr.ndim == 2:
            arr = arr[None]  # (1, V, C)
        if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
            raise InputError(f"stream frame {self.count}: shape {arr.shape}; expected (V, 3) or (M, V, 3)")
        if self.shape is None:  # the first frame: check what every later frame must match
            name = f"stream frame {self.count}"
            resolve_layout(arr.shape[1], given=self.layout, from_input=None,
                           model_layout=self.recognizer.layout, name=name)
            if arr.shape[-1] == 2 and self.recognizer.coords == "xyz":
                raise InputError(f"{name}: 2D joints (last axis 2) but this model was trained on 3D "
                                 "joints (x, y, z)")
            self.shape = arr.shape
        elif arr.shape != self.shape:
            raise InputError(f"stream frame {self.count}: shape {arr.shape} differs from the stream's "
                             f"{self.shape} (call reset() to start a new stream)")
        self.frames.append(arr)
        self.count += 1
        self.since += 1
        if len(self.frames) < self.window:
            return None
        if self.count > self.window and self.since < self.hop:
            return None
        self.since = 0
        return self._classify()

    def _classify(self) -> StreamPrediction:
        start, end = self.count - len(self.frames), self.count - 1
        joints = np.stack(self.frames, axis=1)  # (M, window, V, C)
        clip = Clip(f"stream frames {start}..{end}", joints, None)
        rec = self.recognizer
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", InputWarning)
                ranking = rec.predict(clip, self.classes, side_information=self.side_information,
                                      layout=self.layout, top_k=self.top_k, max_gap=self.max_gap,
                                      units=self.units)
        except InputError as e:
            return StreamPrediction(start, end, [], error=str(e))
        notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
        for w in caught:  # anything else is passed on
            if not issubclass(w.category, InputWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return StreamPrediction(start, end, ranking, notes=notes)


__all__ = ["StreamClassifier", "StreamPrediction"]
