"""Zero-shot recognition with a trained bundle: your skeletons, your class names.

    from zeroskel.infer.recognizer import ZeroShotRecognizer

    rec = ZeroShotRecognizer.from_pretrained("runs/utd-f1/bundle")        # or the run directory
    rec.predict(joints, classes=["high arm wave", "bend", "golf swing"])  # joints (T, V, 3), kinect20
    # -> [("golf swing", 0.41), ("high arm wave", 0.33), ("bend", 0.12)]
    rec.predict("clip.npz", side_information="my_classes.json", layout="mediapipe33", top_k=3)
    rec.predict_batch([clip_a, clip_b, "file.pkl"], classes=names)       # one ranking per clip

Scores are what the run's evaluation computes: the clip is preprocessed as in evaluation
(``bundle.json`` ``preprocess``), the encoder's feature map is rounded to float16 as the run's
feature cache stores it, and the head scores every class: per phase, the mean over the class's N_a
descriptions of the cosine between the projected clip feature and the description embedding; the
phases of a branch are averaged, then the two branches (``HeadOutput.fused_scores``). Scores lie in
[-1, 1]; higher is better. They rank classes; they are not probabilities. A clip whose feature map does
not fit in float16 is scored from its float32 feature map instead, and a clip whose scores are not
finite is refused (``InputError`` naming it) rather than ranked; 3D joints are checked to be metres
(``units``, see ``zeroskel.infer.inputs``).

Vocabulary:

- ``classes=[names]``: each name is the only description of its class, in all six phases (the
  ``manual`` source of ``zeroskel.text.sources``; ``sitDown`` reads as "sit down").
- ``side_information=``: a ``SideInformation`` or a ``zeroskel-side-info/1`` JSON file (from
  ``zeroskel describe`` or written by hand) used with the full ``side-info`` source; with ``classes`` as
  well, only those classes of it.
- neither: the training vocabulary of the bundle, with the embeddings the run computed.

Text embeddings are cached in memory per vocabulary and on disk per text (``EmbeddingCache``) under
``cache_dir`` (default: ``<bundle>/text_cache`` when the bundle folder is writable, else
``$ZEROSKEL_CACHE_DIR/text``, ``$XDG_CACHE_HOME/zeroskel/text`` or ``~/.cache/zeroskel/text``). The disk
cache is optional: when it cannot be written (a read-only or full disk) the embeddings are kept in
memory with a warning, and a corrupt cache file is dropped and rebuilt.

``calibrate=True`` subtracts the run's GZSL calibration factor (``bundle.json`` ``gamma``, chosen on the
validation protocol) from the scores of classes the model was trained on, when they compete with
classes it never saw.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from zeroskel.data.transforms import Preprocessing
from zeroskel.infer.bundle import Bundle, BundleError, build_models, load_bundle
from zeroskel.infer.inputs import DEFAULT_MAX_GAP, Clip, InputError, clip_notes, prepare_joints, to_clips

Ranking = list[tuple[str, float]]
BRANCHES = ("fused", "spatial", "temporal")


def default_cache_dir(bundle_root: Path | None) -> Path:
    """Where text embeddings are cached on disk (see the module docstring)."""
    if bundle_root is not None and os.access(bundle_root, os.W_OK):
        return bundle_root / "text_cache"
    base = os.environ.get("ZEROSKEL_CACHE_DIR")
    if base:
        return Path(base) / "text"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zeroskel" / "text"


class ZeroShotRecognizer:
    """A bundle's encoder and head, ready to score clips against any vocabulary.

    Args:
        bundle: the loaded :class:`Bundle`.
        device: torch device.
        text_encoder: a text encoder object or name to use instead of the bundle's (its id must match
            the bundle's, e.g. the same model folder on another machine).
        cache_dir: on-disk text-embedding cache (see the module docstring for the default).
        batch_size: clips per forward pass.
    """

    def __init__(self, bundle: Bundle, *, device: str | torch.device = "cpu", text_encoder: Any = None,
                 cache_dir: str | Path | None = None, batch_size: int = 64) -> None:
        self.bundle = bundle
        self.info = bundle.info
        self.device = torch.device(device)
        self.encoder, self.head = build_models(bundle, self.device)
        self.layout: str = self.info["layout"]
        self.coords: str = self.info.get("input", {}).get("coords", "xyz")
        pre = self.info["preprocess"]
        self.length, self.num_person = int(pre["length"]), int(pre["num_person"])
        # the encoder's preprocessing; bundles from before it was stored: the defaults + align_view
        self.preprocessing = Preprocessing.from_dict(pre)
        self.align_view = self.preprocessing.align_view
        self.channels = self.preprocessing.channels
        self.round_features = pre.get("feature_dtype", "float16") == "float16"
        self.batch_size = int(batch_size)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(bundle.root)
        self._text_encoder = text_encoder
        self._text_cache: dict[str, tuple[list[str], torch.Tensor]] = {}

    @classmethod
    def from_pretrained(cls, path: str | Path, *, seed: int | None = None, **kwargs: Any) -> "ZeroShotRecognizer":
        """Load a bundle folder, or a run directory (its ``bundle/``, else its checkpoints in place)."""
        return cls(load_bundle(path, seed=seed), **kwargs)

    # ---------------------------------------------------------------------------------- vocabulary
    @property
    def training_classes(self) -> list[str]:
        return list(self.info["vocabulary"]["class_names"])

    @property
    def text_encoder(self):
        """The bundle's text encoder (built on first use), checked against the bundle's id and dim."""
        from zeroskel.text.encoders import get_text_encoder

        enc = self._text_encoder
        if enc is None or isinstance(enc, (str, Path)):
            spec = str(enc) if enc is not None else self.info["text"]["encoder"]
            try:
                enc = get_text_encoder(spec, device=str(self.device))
            except (ValueError, FileNotFoundError, ImportError) as e:
                raise BundleError(f"cannot load the bundle's text encoder {spec!r} ({e}); pass "
                                  "text_encoder= with the same model (same id) on this machine") from None
            self._text_encoder = enc
        want_id, want_dim = self.info["text"].get("encoder_id"), int(self.info["text"]["dim"])
        if want_id and enc.id != want_id:
            raise BundleError(f"text encoder {enc.id!r} is not the one the model was trained with "
                              f"({want_id!r}); its embeddings would not match the head")
        if enc.dim != want_dim:
            raise BundleError(f"text encoder {enc.id!r} gives {enc.dim}-d embeddings; the head expects {want_dim}")
        return enc

    def class_text(self, classes: Sequence[str] | None = None, *, side_information: Any = None,
                   source: str | None = None) -> tuple[list[str], torch.Tensor]:
        """(class names, text tensor (6, K, N_a, D)) of a vocabulary (see the module docstring).

        Args:
            classes: class names (plain names, or the subset of ``side_information`` to use).
            side_information: a ``SideInformation`` or a path to a side-information JSON file.
            source: override the semantic source (``manual`` | ``one-turn`` | ``side-info``).
        """
        from zeroskel.text.class_text import build_class_text
        from zeroskel.text.sideinfo import SideInformation, load_side_info
        from zeroskel.text.sources import make_source

        if classes is not None:
            if isinstance(classes, str):
                raise TypeError("classes must be a list of names, not one string (split \"a,b\" first)")
            classes = [str(c).strip() for c in classes]
            if not classes or any(not c for c in classes):
                raise ValueError("classes: give at least one non-empty class name")
            if len(set(classes)) != len(classes):
                dup = sorted({c for c in classes if classes.count(c) > 1})
                raise ValueError(f"classes: duplicate names {dup}")
        if side_information is None and classes is None:
            if self.bundle.class_text is None:
                raise BundleError("this bundle holds no training-vocabulary embeddings; pass classes=")
            return self.training_classes, self.bundle.class_text
        if side_information is not None:
            si = side_information if isinstance(side_information, SideInformation) else load_side_info(side_information)
            names = classes if classes is not None else si.class_names
            si = si.subset(names)
            src = source or "side-info"
        else:
            names = list(classes)
            si = make_source("manual", names)
            src = source or "manual"
        temporal = getattr(self.head, "temporal_text", "phase")  # the text the head's temporal phases expect
        key = hashlib.sha256(json.dumps([src, names, si.to_json(), temporal], sort_keys=True).encode()).hexdigest()
        if key not in self._text_cache:
            tensor = build_class_text(si, self.text_encoder, names, source=src, cache_dir=self.cache_dir,
                                      temporal=temporal)
            self._text_cache[key] = (names, tensor)
        return self._text_cache[key]

    # ---------------------------------------------------------------------------------- skeletons
    def prepare(self, clip: Clip, *, layout: str | None = None, max_gap: int = DEFAULT_MAX_GAP,
                warn: bool = True, units: str | None = None) -> tuple[np.ndarray, list[str]]:
        """One clip -> (preprocessed (C, T, V, M) float32, notes): repair, map to the model's layout,
        normalise as the encoder's training clips were, stack the input streams."""
        from zeroskel.data.transforms import preprocess

        if layout is not None and clip.layout is not None and layout != clip.layout:
            raise InputError(f"{clip.name}: the file says layout {clip.layout!r} but {layout!r} was given")
        joints, notes = prepare_joints(clip.joints, dst_layout=self.layout, src_layout=layout,
                                       layout_hint=clip.layout, coords=self.coords, input_coords=clip.coords,
                                       max_gap=max_gap, name=clip.name, units=units)
        if joints.shape[0] > self.num_person:
            notes.append(f"{joints.shape[0]} people in the clip; the model reads the first {self.num_person}")
        notes = clip_notes(clip.name, notes, warn=warn)
        try:
            x = preprocess(joints, length=self.length, train=False, num_person=self.num_person,
                           layout=self.layout, options=self.preprocessing, name=clip.name)
        except ValueError as e:
            raise InputError(str(e)) from None
        return x, notes

    @torch.no_grad()
    def embed(self, x: torch.Tensor | np.ndarray, *, round_features: bool | None = None) -> torch.Tensor:
        """Preprocessed clips (N, C, T, V, M) -> feature maps (N, C, T', V) as the head reads them."""
        x = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        fm = self.encoder.feature_map(x)  # (N, C, T', V)
        rnd = self.round_features if round_features is None else round_features
        if not rnd:
            return fm
        rounded = fm.to(torch.float16).float()
        fits = torch.isfinite(rounded).flatten(1).all(1) | ~torch.isfinite(fm).flatten(1).all(1)  # (N,)
        return torch.where(fits[:, None, None, None], rounded, fm)  # float32 where float16 overflows

    @torch.no_grad()
    def score(self, clips: Any, classes: Sequence[str] | None = None, *, side_information: Any = None,
              layout: str | None = None, max_gap: int = DEFAULT_MAX_GAP, source: str | None = None,
              calibrate: bool = False, warn: bool = True,
              units: str | None = None) -> tuple[list[str], dict[str, np.ndarray], list[Clip]]:
        """Scores of every clip against every class.

        Returns ``(class names, {"fused", "spatial", "temporal"} -> (N, K) float32, clips)`` (a branch
        the head lacks is absent); ``clips`` are the inputs as read (a file may hold several).
        """
        names, text = self.class_text(classes, side_information=side_information, source=source)
        items = to_clips(clips)
        if not items:
            raise InputError("no clips given")
        xs = [self.prepare(c, layout=layout, max_gap=max_gap, warn=warn, units=units)[0] for c in items]
        text = text.to(self.device)
        out: dict[str, list[np.ndarray]] = {b: [] for b in BRANCHES}
        for i in range(0, len(xs), self.batch_size):
            batch = torch.from_numpy(np.stack(xs[i:i + self.batch_size]))  # (B, C, T, V, M)
            o = self.head(self.embed(batch), text)
            out["fused"].append(o.fused_scores().float().cpu().numpy())
            for b in ("spatial", "temporal"):
                s = o.branch_scores(b)
                if s is not None:
                    out[b].append(s.float().cpu().numpy())
        scores = {b: np.concatenate(v) for b, v in out.items() if v}
        for b, s in scores.items():
            bad = ~np.isfinite(s).all(1)  # (N,)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                big = float(np.abs(xs[i]).max())
                raise InputError(f"{items[i].name}: the model gives non-finite ({b}) scores for this clip "
                                 f"(largest preprocessed coordinate {big:.3g}); check its units (--units) "
                                 "and values")
        if calibrate:
            scores = {b: s - self._seen_penalty(names, b)[None] for b, s in scores.items()}
        return names, scores, items

    def _seen_penalty(self, names: Sequence[str], branch: str) -> np.ndarray:
        gamma = float(self.info.get("gamma", {}).get(branch, 0.0))
        seen = set(self.info["vocabulary"].get("seen_names", []))
        return np.array([gamma if n in seen else 0.0 for n in names], dtype=np.float32)

    # ---------------------------------------------------------------------------------- predictions
    def predict_batch(self, clips: Any, classes: Sequence[str] | None = None, *, side_information: Any = None,
                      layout: str | None = None, top_k: int | None = 5, branch: str = "fused",
                      max_gap: int = DEFAULT_MAX_GAP, calibrate: bool = False,
                      source: str | None = None, units: str | None = None) -> list[Ranking]:
        """One ranking ``[(class, score), ...]`` (best first, ``top_k`` long; None: all) per clip.

        ``clips``: arrays (T, V, C) / (M, T, V, C), file paths (a file may hold several clips, each
        giving one ranking, in file order) or :class:`Clip` objects.
        """
        _check_top_k(top_k)
        names, scores, _ = self.score(clips, classes, side_information=side_information, layout=layout,
                                      max_gap=max_gap, calibrate=calibrate, source=source, units=units)
        if branch not in scores:
            raise ValueError(f"branch {branch!r} not available (have {', '.join(scores)})")
        return [rank(row, names, top_k) for row in scores[branch]]

    def predict(self, joints: Any, classes: Sequence[str] | None = None, *, side_information: Any = None,
                layout: str | None = None, top_k: int | None = 5, branch: str = "fused",
                max_gap: int = DEFAULT_MAX_GAP, calibrate: bool = False, source: str | None = None,
                units: str | None = None) -> Ranking:
        """The ranking ``[(class, score), ...]`` of one clip: an array (T, V, C) / (M, T, V, C), a file
        holding one clip, or a :class:`Clip`."""
        items = to_clips(joints)
        if len(items) != 1:
            raise InputError(f"{items[0].name if items else 'input'}: holds {len(items)} clips; use "
                             "predict_batch for several")
        return self.predict_batch(items, classes, side_information=side_information, layout=layout,
                                  top_k=top_k, branch=branch, max_gap=max_gap, calibrate=calibrate,
                                  source=source, units=units)[0]


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0):
        raise ValueError(f"top_k must be a whole number >= 0 (0 or None: all classes), got {top_k!r}")


def rank(scores: np.ndarray, names: Sequence[str], top_k: int | None = 5) -> Ranking:
    """Classes by descending score (ties: vocabulary order), the first ``top_k`` (None or 0: all)."""
    _check_top_k(top_k)
    order = np.argsort(-np.asarray(scores), kind="stable")
    if top_k:
        order = order[:top_k]
    return [(names[i], float(scores[i])) for i in order]


__all__ = ["ZeroShotRecognizer", "Ranking", "rank", "default_cache_dir"]
