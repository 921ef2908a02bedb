"""Pipeline benchmark: per-step wall time and peak memory of the main job, and the head's training
throughput from the feature cache versus running the frozen encoder at every step (as the official
Neuron code does), measured in the same process on the same run.

    python benchmarks/bench_pipeline.py --data-root ../shared/data/utd_mhad --out /tmp/bench_pipeline
    python benchmarks/bench_pipeline.py --run-dir runs/utd-f1 --skip-run      # throughput only
    python benchmarks/bench_pipeline.py ... --device cuda                     # the GPU version

Writes ``benchmarks/results/pipeline_<device>.json`` and ``.md`` (or ``--results DIR``). Times are
medians of ``--repeats`` runs of ``--steps`` training steps each, after one warm-up run.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from zeroskel.config import merge
from zeroskel.data.clips import ClipDataset
from zeroskel.train.head import head_kwargs
from zeroskel.train.io import build_model
from zeroskel.train.pretrain import load_encoder
from zeroskel.train.run import STEPS, Run
from zeroskel.train.run_config import RunConfig, preprocessing


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_main_job(args: argparse.Namespace) -> tuple[Run, list[dict]]:
    cfg = merge(RunConfig(), {"protocol": args.protocol, "device": args.device, "progress": False,
                              "data": {"root": args.data_root}})
    run = Run.create(args.out, cfg, resume=True)
    rows = []
    for step in STEPS:
        t0 = time.perf_counter()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        getattr(run, step)(0)
        row = {"step": step, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}
        if torch.cuda.is_available() and run.device.type == "cuda":
            row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        rows.append(row)
        print(f"{step:<9} {row['seconds']:8.1f} s   peak RSS {row['peak_rss_mb']:8.0f} MB", flush=True)
    run.summarize()
    return run, rows


def head_throughput(run: Run, steps: int, repeats: int) -> dict:
    """Clips/s of head training steps: from cached features vs encoder forward + head step."""
    sp, cfg, dev = run.splits, run.cfg, run.device
    seed_dir = run.encoder_dir(0)
    encoder, _ = load_encoder(seed_dir / "encoder" / "best.safetensors", dev)
    feats, labels = run._features(0, "train")                      # (views, N, C, T', V)
    text = run.class_text[:, list(map(int, sp.seen))].to(dev)
    label_map = torch.full((run.class_text.shape[1],), -1, dtype=torch.long)
    label_map[list(map(int, sp.seen))] = torch.arange(len(sp.seen))
    meta = {"model": cfg.head.name,
            "model_kwargs": head_kwargs(cfg, int(feats.shape[2]), int(run.class_text.shape[-1]))}
    bs = cfg.head.batch_size
    clips = ClipDataset(run.dataset, sp.train, length=cfg.data.length, train=True,
                        num_person=run.num_person, seed=0, layout=run.dataset.layout,
                        preprocessing=preprocessing(cfg.data))
    loader = torch.utils.data.DataLoader(clips, batch_size=bs, shuffle=True, drop_last=True)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def timed(from_cache: bool) -> float:
        torch.manual_seed(0)
        head = build_model(meta).to(dev)
        opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)
        it = iter(loader)
        n = 0
        sync()
        t0 = time.perf_counter()
        for i in range(steps):
            if from_cache:
                idx = torch.randint(0, feats.shape[1], (bs,))
                view = torch.randint(0, feats.shape[0], (bs,))
                x, y = feats[view, idx].float().to(dev), label_map[labels[idx]].to(dev)
            else:
                try:
                    clip, lab = next(it)
                except StopIteration:
                    it = iter(loader)
                    clip, lab = next(it)
                with torch.no_grad():
                    x = encoder.feature_map(clip.to(dev))           # the frozen encoder, every step
                y = label_map[lab].to(dev)
            loss = head.loss(head(x, text), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += len(y)
        sync()
        return n / (time.perf_counter() - t0)

    out = {}
    for name, flag in (("cache", True), ("encoder_every_step", False)):
        timed(flag)                                                  # warm-up
        rates = [timed(flag) for _ in range(repeats)]
        out[name] = {"clips_per_s_median": statistics.median(rates), "runs": rates}
    out["speedup"] = out["cache"]["clips_per_s_median"] / out["encoder_every_step"]["clips_per_s_median"]
    out["steps"], out["batch_size"], out["repeats"] = steps, bs, repeats
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data/utd_mhad")
    ap.add_argument("--protocol", default="utd-f1")
    ap.add_argument("--out", default="/tmp/zeroskel_bench_pipeline", help="run directory for the main job")
    ap.add_argument("--run-dir", help="an existing run to measure throughput on (with --skip-run)")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--results", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()

    report: dict = {"machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                                "torch": torch.__version__, "threads": torch.get_num_threads(),
                                "device": args.device,
                                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}}
    if args.skip_run:
        run = Run(args.run_dir or args.out)
    else:
        t0 = time.perf_counter()
        run, rows = run_main_job(args)
        report["main_job"] = {"protocol": args.protocol, "steps": rows,
                              "total_seconds": time.perf_counter() - t0,
                              "metrics": json.loads((run.dir / "metrics.json").read_text())["zsl"]["fused"]}
    report["head_throughput"] = head_throughput(run, args.steps, args.repeats)
    t = report["head_throughput"]
    print(f"head training: {t['cache']['clips_per_s_median']:.0f} clips/s from the cache, "
          f"{t['encoder_every_step']['clips_per_s_median']:.0f} clips/s running the encoder "
          f"every step ({t['speedup']:.1f}x)")

    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    tag = "gpu" if args.device.startswith("cuda") else "cpu"
    (res / f"pipeline_{tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Pipeline benchmark ({tag})", "", f"Machine: {report['machine']}", ""]
    if "main_job" in report:
        lines += ["| step | wall s | peak RSS MB |", "|---|---|---|"]
        lines += [f"| {r['step']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |" for r in report["main_job"]["steps"]]
        lines += [f"| total | {report['main_job']['total_seconds']:.1f} | |", ""]
    lines += [f"Head training throughput (median of {t['repeats']} x {t['steps']} steps, batch {t['batch_size']}): "
              f"{t['cache']['clips_per_s_median']:.0f} clips/s from the feature cache, "
              f"{t['encoder_every_step']['clips_per_s_median']:.0f} clips/s running the frozen encoder every "
              f"step; ratio {t['speedup']:.1f}x (same process, same run).", ""]
    (res / f"pipeline_{tag}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
