"""Encoder benchmark (issue 13): encoder training throughput, and what the feature cache saves.

For each width (16 = the laptop default, 64 = the published Shift-GCN) and device (the CPU, and a
GPU when one is available):

- ``train``: clips/s of encoder training steps (forward, cross-entropy, backward, SGD step) on
  pre-made batches of real UTD-MHAD clips with the run's preprocessing and streams, so the number is
  the model's cost; ``train_with_data`` adds the per-clip preprocessing of a DataLoader (0 workers),
  the cost a run pays on top.
- ``head_ratio``: clips/s of Neuron head training steps from cached feature maps vs running the
  frozen encoder forward at every step (as the official Neuron code does), and their ratio.
- ``train_by_shift`` (``--shift-paths``): training clips/s with each implementation of the temporal
  shift (``conv``: the CPU default, a depthwise convolution; ``gather``: the index path CUDA uses),
  timed round-robin in the same process, same weights and batches, so their ratio is fair on a
  shared machine.

Times are medians of ``--repeats`` runs of ``--steps`` steps after one warm-up run; weights are
random (speed does not depend on them).

    python benchmarks/bench_encoder.py --data-root ../shared/data/utd_mhad --threads 1
    python benchmarks/bench_encoder.py ... --widths 16,64 --devices cpu,cuda --set data.streams=[joint,motion]
    python benchmarks/bench_encoder.py ... --widths 16 --shift-paths conv,gather --threads 2

Writes ``benchmarks/results/encoder_<tag>.json`` and ``.md`` (``--results DIR``).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from zeroskel.config import load_config
from zeroskel.data import load_dataset
from zeroskel.data.clips import ClipDataset
from zeroskel.data.protocols import make_splits
from zeroskel.models import shift_ops
from zeroskel.train.head import head_kwargs
from zeroskel.train.io import build_model
from zeroskel.train.pretrain import encoder_kwargs
from zeroskel.train.run_config import RunConfig, preprocessing


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _median_rate(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    rates = [fn() for _ in range(repeats)]
    return statistics.median(rates), rates


SHIFT_PATHS = {"conv": shift_ops.temporal_shift_conv, "gather": shift_ops.temporal_shift_gather}


def _shift_round_robin(train, paths: list[str], repeats: int) -> dict[str, dict]:
    """Training clips/s with each temporal-shift path, one timed run of each in turn."""
    default = shift_ops.temporal_shift
    rates: dict[str, list[float]] = {p: [] for p in paths}
    try:
        for rep in range(repeats + 1):  # the first round warms up
            for p in paths:
                shift_ops.temporal_shift = SHIFT_PATHS[p]  # what TemporalShift.forward calls
                r = train()
                if rep:
                    rates[p].append(r)
    finally:
        shift_ops.temporal_shift = default
    return {p: {"median": statistics.median(v), "runs": v} for p, v in rates.items()}


def bench_width(cfg: RunConfig, ds, sp, width: int, dev: torch.device, steps: int, repeats: int,
                shift_paths: list[str] | None = None) -> dict:
    cfg.encoder.base_channels = width
    seen = list(map(int, sp.seen))
    lay_v = ds.samples[0].joints.shape[2]
    torch.manual_seed(0)
    enc = build_model({"model": cfg.encoder.name,
                       "model_kwargs": encoder_kwargs(cfg, len(seen), lay_v, 1)}).to(dev)
    bs = cfg.encoder.batch_size
    clips = ClipDataset(ds, sp.train, length=cfg.data.length, train=True, num_person=1, seed=0,
                        layout=ds.layout, preprocessing=preprocessing(cfg.data))
    label_map = torch.full((ds.num_classes,), 0, dtype=torch.long)
    label_map[seen] = torch.arange(len(seen))
    loader = torch.utils.data.DataLoader(clips, batch_size=bs, shuffle=True, drop_last=True)
    batches = [(x.to(dev), label_map[y].to(dev)) for _, (x, y) in zip(range(4), loader)]  # pre-made
    opt = torch.optim.SGD(enc.parameters(), lr=0.01, momentum=0.9)

    def train(with_data: bool) -> float:
        enc.train()
        it = iter(loader)
        _sync(dev)
        t0 = time.perf_counter()
        n = 0
        for i in range(steps):
            if with_data:
                try:
                    x, y = next(it)
                except StopIteration:
                    it = iter(loader)
                    x, y = next(it)
                x, y = x.to(dev), label_map[y].to(dev)
            else:
                x, y = batches[i % len(batches)]
            loss = torch.nn.functional.cross_entropy(enc(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += len(y)
        _sync(dev)
        return n / (time.perf_counter() - t0)

    out: dict = {"width": width, "device": str(dev), "batch_size": bs, "length": cfg.data.length,
                 "streams": list(cfg.data.streams),
                 "params_M": sum(p.numel() for p in enc.parameters()) / 1e6}
    out["train_clips_per_s"], _ = _median_rate(lambda: train(False), repeats)
    out["train_with_data_clips_per_s"], _ = _median_rate(lambda: train(True), repeats)
    if shift_paths:
        out["train_by_shift"] = _shift_round_robin(lambda: train(False), shift_paths, repeats)

    # the head: from the cache vs the frozen encoder every step
    enc.eval()
    with torch.no_grad():
        fmap = torch.cat([enc.feature_map(x) for x, _ in batches]).to(torch.float16)  # (B*4, C, T', V)
    ys = torch.cat([y for _, y in batches])
    text = torch.nn.functional.normalize(torch.randn(6, len(seen), 4, 384), dim=-1).to(dev)
    hb = cfg.head.batch_size
    head = build_model({"model": cfg.head.name,
                        "model_kwargs": head_kwargs(cfg, int(fmap.shape[1]), 384)}).to(dev)
    hopt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)

    def head_steps(from_cache: bool) -> float:
        g = torch.Generator().manual_seed(0)
        _sync(dev)
        t0 = time.perf_counter()
        n = 0
        for _ in range(steps):
            idx = torch.randint(0, len(ys), (hb,), generator=g)
            if from_cache:
                x = fmap[idx].float()
            else:
                clip = torch.cat([b[0] for b in batches])[idx]
                with torch.no_grad():
                    x = enc.feature_map(clip)
            loss = head.loss(head(x, text), ys[idx])
            hopt.zero_grad()
            loss.backward()
            hopt.step()
            n += hb
        _sync(dev)
        return n / (time.perf_counter() - t0)

    out["head_from_cache_clips_per_s"], _ = _median_rate(lambda: head_steps(True), repeats)
    out["head_encoder_every_step_clips_per_s"], _ = _median_rate(lambda: head_steps(False), repeats)
    out["head_ratio"] = out["head_from_cache_clips_per_s"] / out["head_encoder_every_step_clips_per_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data/utd_mhad")
    ap.add_argument("--protocol", default="utd-f1")
    ap.add_argument("--widths", default="16,64")
    ap.add_argument("--devices", default="cpu,cuda", help="cuda is skipped when no GPU is available")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--set", nargs="*", default=[], help="run-config overrides (data.streams=..., ...)")
    ap.add_argument("--shift-paths", default="", help="also time training with each temporal-shift "
                    "path, e.g. conv,gather (round-robin)")
    ap.add_argument("--tag", default="", help="results file name: encoder_<tag>.json (default: devices)")
    ap.add_argument("--results", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cfg = load_config(RunConfig, None, list(args.set))
    ds = load_dataset("utd-mhad", args.data_root)
    sp = make_splits(ds, args.protocol, seed=0)
    devices = [d for d in args.devices.split(",") if d == "cpu" or torch.cuda.is_available()]
    rows = []
    for d in devices:
        for w in map(int, args.widths.split(",")):
            paths = [p for p in args.shift_paths.split(",") if p]
            unknown = sorted(set(paths) - set(SHIFT_PATHS))
            if unknown:
                ap.error(f"--shift-paths: unknown {unknown}; known: {sorted(SHIFT_PATHS)}")
            r = bench_width(cfg, ds, sp, w, torch.device(d), args.steps, args.repeats, paths)
            rows.append(r)
            for p, v in r.get("train_by_shift", {}).items():
                print(f"{d} width {w}: train with the {p} temporal shift {v['median']:.1f} clips/s", flush=True)
            print(f"{d} width {w}: train {r['train_clips_per_s']:.1f} clips/s "
                  f"({r['train_with_data_clips_per_s']:.1f} with preprocessing); head from cache "
                  f"{r['head_from_cache_clips_per_s']:.0f} vs encoder every step "
                  f"{r['head_encoder_every_step_clips_per_s']:.0f} clips/s ({r['head_ratio']:.1f}x)", flush=True)
    machine = {"platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
               "threads": torch.get_num_threads(),
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    report = {"machine": machine, "overrides": args.set, "steps": args.steps, "repeats": args.repeats,
              "rows": rows}
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    tag = args.tag or "_".join(devices)
    (res / f"encoder_{tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Encoder benchmark ({tag})", "", f"Machine: {machine}; overrides {args.set}", "",
             "| device | width | params (M) | train clips/s | + preprocessing | head from cache | "
             "head, encoder every step | ratio |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['device']} | {r['width']} | {r['params_M']:.2f} | {r['train_clips_per_s']:.1f} | "
              f"{r['train_with_data_clips_per_s']:.1f} | {r['head_from_cache_clips_per_s']:.0f} | "
              f"{r['head_encoder_every_step_clips_per_s']:.0f} | {r['head_ratio']:.1f}x |" for r in rows]
    shift_rows = [(r, p, v) for r in rows for p, v in r.get("train_by_shift", {}).items()]
    if shift_rows:
        lines += ["", "Temporal-shift paths (training clips/s, medians of round-robin runs):", "",
                  "| device | width | path | train clips/s | ratio to the first path |", "|---|---|---|---|---|"]
        for r, p, v in shift_rows:
            first = next(iter(r["train_by_shift"].values()))["median"]
            lines.append(f"| {r['device']} | {r['width']} | {p} | {v['median']:.1f} | {v['median'] / first:.2f} |")
    (res / f"encoder_{tag}.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
