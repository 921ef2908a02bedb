"""Export the skeleton side of a bundle to ONNX, with the text side of a fixed vocabulary as arrays.

    zeroskel export runs/utd-f1/bundle --onnx model.onnx --classes "walk,sit down,wave"

writes

    model.onnx          x (N, 3, T, V, M) float32 -> embeddings (N, 2P, D) float32: encoder feature map,
                        then the head's per-phase projected features, L2-normalised (spatial phases
                        first, then temporal); N is dynamic
    model.text.npy      (2P, K, N_a, D) float32: the vocabulary's description embeddings, L2-normalised,
                        row r pairs with embedding row r
    model.classes.json  the K class names (in the order of the text array's axis 1)
    model.json          input layout and preprocessing settings, text encoder, scoring formula, and the
                        check result (max abs difference ONNX Runtime vs PyTorch)

Scoring with a dot product (what ``HeadOutput.fused_scores`` computes; ``model.json`` states which
of the two cases below the bundle's head uses):

    z = session.run(None, {"x": x})[0]                         # (N, 2P, D)
    t = np.load("model.text.npy")                              # (2P, K, N_a, D)
    cos = np.einsum("nrd,rkad->nrka", z, t)                    # cosine with every description
    cos = np.sort(cos, -1)[..., -topk:].mean(-1)               # mean of the top-k (topk = N_a: all)
    spatial, temporal = cos[:, P - 1], cos[:, 2 * P - 1]       # prediction "last": each branch's last phase
    # (prediction "mean": spatial, temporal = cos[:, :P].mean(1), cos[:, P:].mean(1))
    scores = (spatial + temporal) / 2                          # (N, K); argmax = predicted class

``x`` is a clip preprocessed as ``zeroskel.data.transforms.preprocess(train=False)`` does with the
settings in ``model.json`` (``ZeroShotRecognizer.prepare`` gives it). The exported graph keeps the
feature map in float32 (the recognizer rounds it to float16 to reproduce the run's cached features
exactly; the difference is far below a score's resolution for ranking).

Near-ties: the Neuron head keeps the top-k prototypes per joint, a discontinuous choice. When two
similarities of a clip are within float rounding of each other, ONNX Runtime and PyTorch (whose
convolutions round differently in the last bits) may keep different prototypes, and that clip's
embeddings differ by ~1e-3 instead of ~1e-7. The check therefore requires most check clips to match
within ``atol`` and every clip within ``NEAR_TIE_TOL``, and reports how many matched.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from zeroskel.train.io import atomic_path, write_json
from zeroskel.infer.recognizer import ZeroShotRecognizer

NEAR_TIE_TOL = 1e-2  # no clip may differ by more than this (a flipped near-tie moves scores ~1e-3)


class SkeletonEmbedder(torch.nn.Module):
    """Encoder feature map -> the head's projected phase embeddings: x (N, 3, T, V, M) -> (N, 2P, D).

    Args:
        encoder: a skeleton encoder with ``feature_map``.
        head: a zero-shot head with ``embed`` (the Neuron head).
    """

    def __init__(self, encoder: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        if not hasattr(head, "embed"):
            raise TypeError(f"{type(head).__name__} has no embed(): only heads that score by cosine against "
                            "per-phase embeddings (Neuron) can be exported")
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.embed(self.encoder.feature_map(x))  # (N, 2P, D)


@dataclass
class OnnxExport:
    """What ``export_onnx`` wrote and how close ONNX Runtime came to PyTorch."""

    onnx: Path
    text: Path
    classes: Path
    meta: Path
    max_abs_diff: float          # embeddings
    max_abs_score_diff: float    # fused scores from the dot-product formula vs the PyTorch head
    clips_within_atol: str       # e.g. "8/8": check clips whose embeddings matched within atol


def text_rows(head: torch.nn.Module, class_text: torch.Tensor) -> torch.Tensor:
    """(6, K, N_a, D) -> (2P, K, N_a, D) with row r the text the head scores embedding row r against."""
    p = head.num_phases
    index = getattr(head, "text_index", lambda branch, e: (0 if branch == "spatial" else p) + e)
    rows = [index("spatial", e) for e in range(p)] + [index("temporal", e) for e in range(p)]
    return class_text[rows].float().contiguous()


def scoring_rule(head: torch.nn.Module) -> tuple[str, int]:
    """(prediction, topk) of a head: which phases predict ("last" | "mean") and how many description
    cosines are averaged per class (0: all)."""
    cfg = getattr(head, "config", None)
    return getattr(cfg, "prediction", "mean"), int(getattr(cfg, "description_topk", 0))


def dot_product_scores(z: np.ndarray, text: np.ndarray, prediction: str = "last", topk: int = 0) -> np.ndarray:
    """The documented formula: embeddings (N, 2P, D), text (2P, K, N_a, D) -> fused scores (N, K)."""
    p = z.shape[1] // 2
    cos = np.einsum("nrd,rkad->nrka", z, text)  # (N, 2P, K, N_a)
    if 0 < topk < cos.shape[-1]:
        cos = np.sort(cos, axis=-1)[..., -topk:]
    cos = cos.mean(-1)  # (N, 2P, K)
    if prediction == "last":
        return (cos[:, p - 1] + cos[:, 2 * p - 1]) / 2
    return (cos[:, :p].mean(1) + cos[:, p:].mean(1)) / 2


def export_onnx(bundle_or_run: str | Path | ZeroShotRecognizer, out_path: str | Path, *,
                classes: Sequence[str] | None = None, side_information: Any = None, seed: int | None = None,
                opset: int = 17, atol: float = 1e-4, check_batch: int = 8) -> OnnxExport:
    """Write the ONNX model, the vocabulary's text arrays and a description file; check with ONNX Runtime.

    Args:
        bundle_or_run: a bundle folder, a run directory, or a loaded recognizer.
        out_path: the ``.onnx`` file; the other files go next to it (``<stem>.text.npy`` etc.).
        classes / side_information: the fixed vocabulary (default: the bundle's training vocabulary).
        seed: which seed of a run directory.
        opset: ONNX opset.
        atol: largest difference between ONNX Runtime and PyTorch for a clip to count as matching; the
            export fails (RuntimeError) unless most check clips match and none differs by more than
            ``NEAR_TIE_TOL`` (see the module docstring on near-ties).
        check_batch: batch size of the check (differs from the export batch to test the dynamic axis).
    """
    import onnxruntime as ort

    rec = bundle_or_run if isinstance(bundle_or_run, ZeroShotRecognizer) else \
        ZeroShotRecognizer.from_pretrained(bundle_or_run, seed=seed)
    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise ValueError(f"{out_path}: the output should end in .onnx")
    stem = out_path.with_suffix("")
    paths = {"text": Path(f"{stem}.text.npy"), "classes": Path(f"{stem}.classes.json"),
             "meta": Path(f"{stem}.json")}
    model = SkeletonEmbedder(rec.encoder, rec.head).cpu().eval()
    v = int(rec.info["input"]["num_joints"])
    shape = (rec.channels, rec.length, v, rec.num_person)
    g = torch.Generator().manual_seed(0)
    example = torch.randn(2, *shape, generator=g)  # (2, C, T, V, M)

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic
        torch.onnx.export(model, (example,), buf, dynamo=False, input_names=["x"], output_names=["embeddings"],
                          dynamic_axes={"x": {0: "N"}, "embeddings": {0: "N"}}, opset_version=opset)
    onnx_bytes = buf.getvalue()

    # check: ONNX Runtime vs PyTorch on a batch of another size
    x = torch.randn(check_batch, *shape, generator=g)
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (z_ort,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        z_pt = model(x).numpy()
        names, class_text = rec.class_text(classes, side_information=side_information)
        fm = rec.encoder.feature_map(x.to(rec.device))
        s_pt = rec.head(fm, class_text.to(rec.device)).fused_scores().cpu().numpy()
    text = text_rows(rec.head, class_text).cpu().numpy()  # (2P, K, N_a, D)
    if z_ort.shape != z_pt.shape:
        raise RuntimeError(f"ONNX export of {out_path.name}: output {z_ort.shape}, PyTorch {z_pt.shape}")
    per_clip = np.abs(z_ort - z_pt).reshape(len(z_pt), -1).max(1)  # (check_batch,)
    diff = float(per_clip.max())
    prediction, topk = scoring_rule(rec.head)
    score_diff = float(np.abs(dot_product_scores(z_ort, text, prediction, topk) - s_pt).max())
    within = int((per_clip <= atol).sum())
    # Neuron keeps the top-k prototypes per joint: where two similarities are within float rounding, the
    # two runtimes may keep different ones, and that clip differs by ~1e-3. Most clips must match.
    if within < (len(per_clip) + 1) // 2 or diff > NEAR_TIE_TOL:
        raise RuntimeError(f"ONNX export of {out_path.name} does not match PyTorch: max abs difference "
                           f"{diff:.2e} (embeddings), {score_diff:.2e} (scores); {within}/{len(per_clip)} "
                           f"clips within {atol:.0e}")

    with atomic_path(out_path) as tmp:
        tmp.write_bytes(onnx_bytes)
    with atomic_path(paths["text"]) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, text.astype(np.float32))
    write_json(paths["classes"], names)
    p = int(rec.head.num_phases)
    info = rec.info
    write_json(paths["meta"], {
        "onnx": out_path.name, "text": paths["text"].name, "classes": paths["classes"].name,
        "input": {"name": "x", "shape": ["N", *shape], "dtype": "float32",
                  "axes": "(N, 3 coordinates, T frames, V joints, M people)"},
        "output": {"name": "embeddings", "shape": ["N", 2 * p, int(z_pt.shape[-1])],
                   "rows": [f"spatial phase {e}" for e in range(p)] + [f"temporal phase {e}" for e in range(p)]},
        "layout": rec.layout, "preprocess": info["preprocess"], "coords": rec.coords,
        "text_encoder": info["text"], "vocabulary_size": len(names), "num_descriptions": int(text.shape[2]),
        "scoring": ("cos[n,r,k] = mean over the " + (f"top {topk}" if topk else "all") + " a of <z[n,r], t[r,k,a]>; "
                    + ("spatial = cos[:, P-1]; temporal = cos[:, 2P-1]" if prediction == "last" else
                       "spatial = mean_{r<P} cos; temporal = mean_{r>=P} cos") + "; scores = (spatial + temporal) / 2"),
        "prediction": prediction, "description_topk": topk,
        "check": {"onnxruntime": ort.__version__, "torch": torch.__version__, "batch": check_batch,
                  "max_abs_diff_embeddings": diff, "max_abs_diff_scores": score_diff,
                  "clips_within_atol": f"{within}/{len(per_clip)}", "atol": atol},
        "bundle": {k: info.get(k) for k in ("protocol", "dataset", "seed", "code_version")},
    })
    return OnnxExport(onnx=out_path, text=paths["text"], classes=paths["classes"], meta=paths["meta"],
                      max_abs_diff=diff, max_abs_score_diff=score_diff,
                      clips_within_atol=f"{within}/{len(per_clip)}")


__all__ = ["export_onnx", "OnnxExport", "SkeletonEmbedder", "text_rows", "dot_product_scores", "scoring_rule"]
