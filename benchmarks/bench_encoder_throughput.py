"""Encoder inference throughput: eager vs torch.compile, fp32 vs bf16, channels-last, per width and batch.

The frozen Shift-GCN's feature map (what ``zeroskel extract`` and the recognizer run) on random
2-person 64-frame NTU clips (B, 3, 64, 25, 2); weights are random (speed does not depend on them).
Variants:

- ``eager-fp32``: the plain model.
- ``eager-bf16``: weights and inputs in bfloat16.
- ``eager-fp32-cl``: conv weights in channels-last memory format (4-D tensors only).
- ``compile-fp32``, ``compile-bf16``: ``torch.compile`` (inductor; on CUDA with mode
  ``reduce-overhead``, i.e. CUDA graphs, which matter at small batches).

Each cell is the median clips/s of ``--repeats`` timed runs after a warm-up (compile time is
reported apart). The variants are timed round-robin, one run of each in turn, so on a shared machine
a change of load hits every variant alike and the ratios stay fair.

    python benchmarks/bench_encoder_throughput.py                  # CUDA when present, else CPU
    python benchmarks/bench_encoder_throughput.py --device cpu --widths 16,64 --batches 1,16,64

Defaults: on CUDA widths 16,64 and batches 1,2,4,...,256 (the full sweep); on CPU the short sweep
(batches 1,16,64; width 64 only up to batch 16, whose forward already takes seconds on one core).
Writes ``benchmarks/results/encoder_throughput_<device>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from zeroskel.models import create_model

RESULTS = Path(__file__).resolve().parent / "results"
FRAMES, JOINTS, PEOPLE = 64, 25, 2
VARIANTS = ("eager-fp32", "eager-bf16", "eager-fp32-cl", "compile-fp32", "compile-bf16")


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def build(variant: str, width: int, dev: torch.device):
    """(callable x -> feature map, input dtype, seconds spent compiling/warming up)."""
    torch.manual_seed(0)
    model = create_model("shiftgcn", num_classes=60, num_joints=JOINTS, num_person=PEOPLE,
                         base_channels=width).to(dev).eval()
    dtype = torch.bfloat16 if variant.endswith("bf16") else torch.float32
    model = model.to(dtype)
    if variant.endswith("-cl"):
        model = model.to(memory_format=torch.channels_last)
    fn = model.feature_map
    if variant.startswith("compile"):
        mode = "reduce-overhead" if dev.type == "cuda" else None
        fn = torch.compile(model.feature_map, mode=mode, dynamic=False)
    return fn, dtype


def run_once(fn, x: torch.Tensor, dev: torch.device, min_seconds: float) -> float:
    """clips/s of repeated forwards lasting at least ``min_seconds`` (at least one)."""
    n, t0 = 0, time.perf_counter()
    with torch.inference_mode():
        while True:
            fn(x)
            n += 1
            _sync(dev)
            if time.perf_counter() - t0 >= min_seconds:
                break
    return n * x.shape[0] / (time.perf_counter() - t0)


def bench(width: int, batch: int, dev: torch.device, variants: list[str], repeats: int,
          min_seconds: float) -> list[dict]:
    x32 = torch.randn(batch, 3, FRAMES, JOINTS, PEOPLE, device=dev)
    built, rows = {}, {}
    for v in variants:
        try:
            fn, dtype = build(v, width, dev)
            x = x32.to(dtype)
            t0 = time.perf_counter()
            with torch.inference_mode():  # warm-up (for compile: the compilation)
                for _ in range(3 if v.startswith("compile") else 1):
                    fn(x)
            _sync(dev)
            built[v] = (fn, x)
            rows[v] = {"width": width, "batch": batch, "variant": v, "rates": [],
                       "warmup_seconds": round(time.perf_counter() - t0, 2)}
        except Exception as e:  # a variant this machine cannot run (e.g. no compiler) is reported
            rows[v] = {"width": width, "batch": batch, "variant": v,
                       "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    for _ in range(repeats):  # round-robin: one timed run of each variant in turn
        for v, (fn, x) in built.items():
            rows[v]["rates"].append(run_once(fn, x, dev, min_seconds))
    for v, r in rows.items():
        if r.get("rates"):
            r["clips_per_s"] = round(statistics.median(r["rates"]), 2)
            r["rates"] = [round(q, 2) for q in r["rates"]]
    base = rows.get("eager-fp32", {}).get("clips_per_s")
    for r in rows.values():
        if base and r.get("clips_per_s"):
            r["vs_eager_fp32"] = round(r["clips_per_s"] / base, 2)
    return list(rows.values())


def to_markdown(result: dict) -> str:
    rows = result["rows"]
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]
    lines = [f"Encoder feature-map throughput, clips/s (median of {result['repeats']}), device "
             f"{result['device_name']}, {result['threads']} thread(s), torch {result['torch']}; "
             "in brackets: ratio to eager fp32.", "",
             "| width | batch | " + " | ".join(variants) + " |",
             "|---:|---:|" + "---:|" * len(variants)]
    cells = {(r["width"], r["batch"], r["variant"]): r for r in rows}
    for width in sorted({r["width"] for r in rows}):
        for batch in sorted({r["batch"] for r in rows if r["width"] == width}):
            out = []
            for v in variants:
                r = cells.get((width, batch, v), {})
                if "clips_per_s" in r:
                    out.append(f"{r['clips_per_s']:g} ({r.get('vs_eager_fp32', 1):.2f}x)")
                else:
                    out.append("error" if "error" in r else "")
            lines.append(f"| {width} | {batch} | " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when present)")
    p.add_argument("--widths", default="16,64")
    p.add_argument("--batches", default=None, help="comma list (default: by device, see above)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=None, help="per timed run (CPU 1, CUDA 0.5)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                       else ("cpu" if args.device == "auto" else args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    widths = [int(w) for w in args.widths.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    min_seconds = args.min_seconds if args.min_seconds is not None else (0.5 if dev.type == "cuda" else 1.0)
    rows = []
    for width in widths:
        if args.batches:
            batches = [int(b) for b in args.batches.split(",")]
        elif dev.type == "cuda":
            batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        else:
            batches = [1, 16, 64] if width <= 16 else [1, 16]
        for batch in batches:
            got = bench(width, batch, dev, variants, args.repeats, min_seconds)
            for r in got:
                print(json.dumps({k: v for k, v in r.items() if k != "rates"}), flush=True)
            rows += got
    result = {"device": dev.type,
              "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "frames": FRAMES, "people": PEOPLE, "repeats": args.repeats,
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"encoder_throughput_{dev.type}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
