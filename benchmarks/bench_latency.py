"""CPU inference latency and throughput of a zero-shot recognizer: PyTorch and ONNX Runtime.

    python benchmarks/bench_latency.py                          # default architecture, untrained weights
    python benchmarks/bench_latency.py --model runs/utd-f1/bundle --threads 2

Measures, on the CPU, for clips of ``--frames`` raw frames scored against ``--classes`` class names:

- latency per clip at batch 1 (median over ``--repeats`` runs): preprocessing (numpy), the model
  (encoder + head up to the projected features, then scoring), and the whole ``predict`` path;
- throughput at batch 64 (clips per second, median over ``--repeats`` runs of a whole batch).

Both for PyTorch (the recognizer) and for ONNX Runtime (the exported skeleton side, scored with the
documented dot product). Latency does not depend on the weights, so without ``--model`` the default
architecture of ``zeroskel run`` (RunConfig's Shift-GCN width and Neuron head options, MiniLM-sized 384-d text,
kinect20, 64 frames) is built with fresh weights. Results go to ``benchmarks/results/latency.json`` and
``latency.md`` (``--out`` changes the stem).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from zeroskel.infer.bundle import bundle_from_models, load_bundle
from zeroskel.infer.export_onnx import SkeletonEmbedder, dot_product_scores, text_rows
from zeroskel.infer.inputs import Clip
from zeroskel.infer.recognizer import ZeroShotRecognizer
from zeroskel.train.run_config import RunConfig

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_recognizer(args: argparse.Namespace) -> ZeroShotRecognizer:
    if args.model:
        return ZeroShotRecognizer(load_bundle(args.model), batch_size=64)
    from zeroskel.data.layouts import get_layout

    v = get_layout(args.layout).num_joints
    bundle = bundle_from_models(
        ("shiftgcn", {"num_classes": 20, "num_joints": v, "num_person": 1,
                      "base_channels": args.base_channels, "dropout": 0.0}),
        ("neuron", {"variant": "official", "feat_dim": 4 * args.base_channels, "text_dim": args.text_dim,
                    **RunConfig().head.neuron_options}),
        layout=args.layout, length=args.length, text_encoder=f"hashing:{args.text_dim}")
    return ZeroShotRecognizer(bundle, batch_size=64)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="bundle folder or run directory (default: untrained default architecture)")
    p.add_argument("--base-channels", type=int, default=RunConfig().encoder.base_channels,
                   help="encoder width without --model")
    p.add_argument("--text-dim", type=int, default=384, help="text dimension without --model")
    p.add_argument("--layout", default="kinect20", help="layout without --model")
    p.add_argument("--length", type=int, default=64, help="clip length without --model")
    p.add_argument("--frames", type=int, default=80, help="raw frames per input clip")
    p.add_argument("--classes", type=int, default=10, help="vocabulary size")
    p.add_argument("--batch", type=int, default=64, help="throughput batch size")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (median)")
    p.add_argument("--threads", type=int, default=0, help="torch / ONNX Runtime threads (0: default)")
    p.add_argument("--out", default=str(RESULTS / "latency"), help="output stem (.json and .md)")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    import onnxruntime as ort

    rec = build_recognizer(args)
    names = [f"action number {i}" for i in range(args.classes)]
    _, class_text = rec.class_text(names)
    text = text_rows(rec.head, class_text).numpy()  # (2P, K, N_a, D)
    v = int(rec.info["input"]["num_joints"])
    rng = np.random.default_rng(0)
    raw = [Clip(f"clip {i}", rng.normal(size=(1, args.frames, v, 3)) * 0.3 + np.array([0, 1, 3]))
           for i in range(args.batch)]
    x1 = torch.from_numpy(rec.prepare(raw[0], warn=False)[0][None])  # (1, 3, T, V, M)
    xb = torch.from_numpy(np.stack([rec.prepare(c, warn=False)[0] for c in raw]))  # (B, 3, T, V, M)
    ct = class_text.to(rec.device)

    def torch_model(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return rec.head(rec.embed(x), ct).fused_scores().numpy()

    x1n, xbn = x1.numpy(), xb.numpy()
    rows = {}

    def measure(label: str, fn1, fnb) -> None:
        lat = timed(fn1, args.repeats * 3)
        thr = timed(fnb, args.repeats)
        rows[f"{label} model + scoring"] = {"latency_ms": 1e3 * lat, "batch_ms": 1e3 * thr,
                                            "throughput_clips_per_s": args.batch / thr,
                                            "end_to_end_latency_ms": 1e3 * (lat + pre)}

    pre = timed(lambda: rec.prepare(raw[0], warn=False), args.repeats * 3)
    rows["preprocess (numpy), per clip"] = {"latency_ms": 1e3 * pre}
    measure("PyTorch", lambda: torch_model(x1), lambda: torch_model(xb))
    e2e = timed(lambda: rec.predict(raw[0], names, top_k=5), args.repeats * 3)
    rows["PyTorch recognizer.predict (one clip, all steps)"] = {"latency_ms": 1e3 * e2e}

    # ONNX Runtime session of the exported skeleton side
    embedder = SkeletonEmbedder(rec.encoder, rec.head).eval()
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting threads
    if args.threads > 0:
        opts.intra_op_num_threads = args.threads
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "m.onnx"
        torch.onnx.export(embedder, (xb[:2],), str(path), dynamo=False, input_names=["x"],
                          output_names=["embeddings"], dynamic_axes={"x": {0: "N"}, "embeddings": {0: "N"}},
                          opset_version=17)
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def onnx_model(x: np.ndarray) -> np.ndarray:
        return dot_product_scores(session.run(None, {"x": x})[0], text)

    measure("ONNX Runtime", lambda: onnx_model(x1n), lambda: onnx_model(xbn))

    diff = float(np.abs(onnx_model(xbn) - torch_model(xb)).max())
    result = {
        "benchmark": "bench_latency", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "model": args.model or "untrained default architecture",
        "encoder": rec.info["encoder"], "head": rec.info["head"]["model"],
        "layout": rec.layout, "length": rec.length, "raw_frames": args.frames, "classes": args.classes,
        "batch": args.batch, "repeats": args.repeats,
        "threads": {"torch": torch.get_num_threads(), "onnxruntime": args.threads or "default"},
        "cpu": cpu_name(), "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
        "torch": torch.__version__, "onnxruntime": ort.__version__,
        "max_abs_score_diff_onnx_vs_torch": diff,
        "results": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Inference latency ({result['date']})", "",
             f"CPU: {result['cpu']} ({result['cpu_count']} cores visible), torch threads "
             f"{result['threads']['torch']}; torch {result['torch']}, onnxruntime {result['onnxruntime']}.",
             f"Model: {result['model']} ({rec.info['encoder']['model']} width "
             f"{rec.info['encoder']['model_kwargs'].get('base_channels')}, {result['head']} head), layout "
             f"{rec.layout}, {rec.length} frames, {args.classes} classes. Medians of {args.repeats} runs "
             f"(x3 for batch 1).", "",
             "| what | batch 1 latency (ms) | batch %d (ms) | throughput (clips/s) |" % args.batch,
             "| --- | ---: | ---: | ---: |"]
    def cell(r: dict, key: str, fmt: str) -> str:
        return format(r[key], fmt) if key in r else "-"

    for k, r in rows.items():
        lines.append(f"| {k} | {cell(r, 'latency_ms', '.2f')} | {cell(r, 'batch_ms', '.1f')} | "
                     f"{cell(r, 'throughput_clips_per_s', '.0f')} |")
    lines += ["", f"ONNX Runtime vs PyTorch, max abs score difference: {diff:.1e}.", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
