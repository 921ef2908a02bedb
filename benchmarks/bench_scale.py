"""NTU-sized runs on generated data: prepare, feature extraction and one head epoch at several sizes.

Each step runs in its own process, which samples its memory every 0.1 s (peak RSS = VmHWM, and the
peak of RssAnon = the process's own heap, without the file pages of memory maps that the OS can
drop) and writes one JSON file of figures into ``--results`` (default benchmarks/results/scale/).

    python benchmarks/gen_ntu.py --out /tmp/scale/raw56880 --count 56880
    python benchmarks/bench_scale.py subset  --raw /tmp/scale/raw56880 --count 2000 --out /tmp/scale/raw2000
    python benchmarks/bench_scale.py prepare --root /tmp/scale/raw2000 --cache /tmp/scale/c2000
    python benchmarks/bench_scale.py extract --cache /tmp/scale/c2000 --features /tmp/scale/f2000.safetensors
    python benchmarks/bench_scale.py fake-features --clips 56880 --features /tmp/scale/r56880.safetensors
    python benchmarks/bench_scale.py head --features /tmp/scale/r56880.safetensors
    python -m torch.distributed.run --standalone --nproc_per_node 2 benchmarks/bench_scale.py head ...
    python benchmarks/bench_scale.py table          # the markdown table of every result

Settings are the defaults below (encoder width 16, 64 frames, 2 people; the default Neuron head,
batch 64, text (6, 60, 4, 384)); the encoder keeps its random initial weights: the cost of a forward
does not depend on the weights.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "scale"
WIDTH, LENGTH, PEOPLE, BATCH = 16, 64, 2, 64          # encoder width, frames, people, batch size
TEXT_SHAPE = (6, 60, 4, 384)                           # class text (P, K, N_a, D)


class MemorySampler:
    """Peak VmRSS / RssAnon / RssFile of this process, sampled every ``every`` seconds."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak = every, {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        with open("/proc/self/status") as f:
            for line in f:
                key = line.split(":")[0]
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(line.split()[1]))  # kB

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def figures(self) -> dict[str, float]:
        use = resource.getrusage(resource.RUSAGE_SELF)
        with open("/proc/self/status") as f:  # VmHWM, not ru_maxrss: that one counts the parent's
            hwm = int(next(line for line in f if line.startswith("VmHWM:")).split()[1])  # kB
        return {"cpu_seconds": round(use.ru_utime + use.ru_stime, 1),  # this process's CPU time
                "peak_rss_mb": round(max(hwm, self.peak["VmRSS"]) / 1024, 1),
                "peak_anon_mb": round(self.peak["RssAnon"] / 1024, 1),
                "peak_file_mb": round(self.peak["RssFile"] / 1024, 1)}


def _size_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 1e6, 1)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def _raw_mb(root: Path) -> float:  # follows the links of a subset folder
    return round(sum(os.path.getsize(p) for p in root.rglob("*.skeleton")) / 1e6, 1)


def _save(results: Path, name: str, figures: dict) -> None:
    import torch

    figures = {**figures, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
               "device": "cpu", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps(figures))


# --------------------------------------------------------------------------------------------
# steps


def cmd_subset(args) -> None:
    """A folder of links to the first ``count`` files of a generated set (no copy)."""
    from zeroskel.data.synthetic import ntu_names

    args.out.mkdir(parents=True, exist_ok=True)
    for name in ntu_names(args.count):
        link = args.out / f"{name}.skeleton"
        if not link.exists():
            link.symlink_to((args.raw / f"{name}.skeleton").resolve())


def cmd_prepare(args) -> None:
    from zeroskel.data.cache import prepare_cache, read_manifest
    from zeroskel.data.readers import open_dataset

    with MemorySampler() as mem:
        t0 = time.perf_counter()
        prepare_cache(open_dataset("ntu60", args.root), args.cache, progress=not args.no_progress)
        seconds = time.perf_counter() - t0
    n = read_manifest(args.cache)["num_samples"]
    _save(args.results, f"prepare_{n}", {"step": "prepare", "clips": n, "seconds": round(seconds, 1),
                                         "clips_per_s": round(n / seconds, 1), **mem.figures(),
                                         "raw_mb": _raw_mb(args.root), "cache_mb": _size_mb(args.cache)})


def cmd_extract(args) -> None:
    import torch

    from zeroskel.data.cache import load_cache
    from zeroskel.train.features import extract_features
    from zeroskel.models import create_model

    torch.manual_seed(0)
    with MemorySampler() as mem:
        t0 = time.perf_counter()
        ds = load_cache(args.cache)
        load_seconds = time.perf_counter() - t0
        enc = create_model("shiftgcn", num_classes=60, num_joints=25, num_person=PEOPLE,
                           base_channels=args.width)
        args.features.unlink(missing_ok=True)
        t1 = time.perf_counter()
        n = min(args.clips or len(ds), len(ds))
        extract_features(enc, ds, range(n), args.features, views=1, train_aug=False,
                         length=LENGTH, num_person=PEOPLE, seed=0, batch_size=BATCH,
                         device=torch.device("cpu"), show_progress=not args.no_progress)
        seconds = time.perf_counter() - t1
    _save(args.results, f"extract_{n}", {"step": "extract", "clips": n, "width": args.width,
                                         "frames": LENGTH, "seconds": round(seconds, 1),
                                         "load_cache_seconds": round(load_seconds, 1),
                                         "clips_per_s": round(n / seconds, 1), **mem.figures(),
                                         "features_mb": _size_mb(args.features)})


def cmd_fake_features(args) -> None:
    """A feature file of the extract format holding random values (for head epochs at sizes whose
    extraction does not fit the time on this CPU); written batch by batch, like extract."""
    import torch

    from zeroskel.train.features import _FeatureWriter
    from zeroskel.train.io import atomic_path

    n, shape = args.clips, (4 * args.width, LENGTH // 4, 25)   # (C', T', V) of the encoder
    g = torch.Generator().manual_seed(0)
    with atomic_path(args.features) as tmp:
        w = _FeatureWriter(tmp, {"features": (torch.float16, (1, n, *shape)),
                                 "labels": (torch.int64, (n,)), "indices": (torch.int64, (n,))},
                           {"zeroskel": json.dumps({"views": 1, "train_aug": False, "random": True})})
        per_clip = 2 * shape[0] * shape[1] * shape[2]
        for lo in range(0, n, 1024):
            hi = min(lo + 1024, n)
            w.write("features", lo * per_clip,
                    torch.rand((hi - lo, *shape), generator=g).to(torch.float16))
        w.write("labels", 0, torch.arange(n) % 60)
        w.write("indices", 0, torch.arange(n))
        w.close()


def cmd_head(args) -> None:
    import torch

    from zeroskel.train.features import load_features
    from zeroskel.train.head import train_head
    from zeroskel.train.run_config import RunConfig
    from zeroskel.train.runtime import init_distributed

    rank, world = init_distributed()
    cfg = RunConfig()
    cfg.head.epochs, cfg.head.min_steps, cfg.progress = 1, 0, not args.no_progress and rank == 0
    text = torch.nn.functional.normalize(torch.randn(TEXT_SHAPE, generator=torch.Generator().manual_seed(0)), dim=-1)
    out = args.work / f"head_w{world}_r{rank}"
    for f in ("state.pt", "best.safetensors"):
        (out / f).unlink(missing_ok=True)
    with MemorySampler() as mem:
        feats, labels = load_features(args.features)
        t0 = time.perf_counter()
        train_head(cfg, feats=feats, labels=labels, classes=list(range(60)), class_text=text,
                   out_dir=out, seed=0, device=torch.device("cpu"), meta={}, evaluate=None, select=None)
        seconds = time.perf_counter() - t0
    n = int(feats.shape[1])
    figures = mem.figures()
    if world > 1:  # CPU time of all the processes together
        import torch.distributed as dist

        total = torch.tensor([figures["cpu_seconds"]], dtype=torch.float64)
        dist.all_reduce(total)
        figures["cpu_seconds"] = round(float(total), 1)
    if rank == 0:
        tag = (f"head_{n}" if world == 1 else f"head_{n}_ddp{world}") + args.tag
        _save(args.results, tag, {"step": "head epoch", "clips": n, "processes": world,
                                  "batch": cfg.head.batch_size, "seconds": round(seconds, 1),
                                  "clips_per_s": round(n / seconds, 1), **figures,
                                  "features_mb": _size_mb(args.features)})


def cmd_table(args) -> None:
    """Markdown: one row per (step, processes, clips), medians over repeated runs."""
    import statistics

    groups: dict[tuple, list[dict]] = {}
    for p in sorted(args.results.glob("*.json")):
        r = json.loads(p.read_text())
        groups.setdefault((r["step"], r.get("processes", 1), r["clips"]), []).append(r)
    print("| step | clips | runs | wall s | clips/s (wall) | CPU s | clips per CPU s | peak RSS MB "
          "| peak anon MB | on disk MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = {"prepare": 0, "extract": 1, "head epoch": 2}

    def med(rows, key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.median(values), 1) if values else None

    for (step, procs, clips), rows in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 9),
                                                                           kv[0][1], kv[0][2])):
        cpu = med(rows, "cpu_seconds")
        disk = rows[0].get("cache_mb", rows[0].get("features_mb", ""))
        name = step + (f" ({procs} proc)" if procs > 1 else "")
        print(f"| {name} | {clips:,} | {len(rows)} | {med(rows, 'seconds')} | {med(rows, 'clips_per_s')} "
              f"| {cpu if cpu is not None else '-'} | {round(clips / cpu) if cpu else '-'} "
              f"| {med(rows, 'peak_rss_mb')} | {med(rows, 'peak_anon_mb')} | {disk} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON figures")
    p.add_argument("--no-progress", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("subset")
    s.add_argument("--raw", type=Path, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.set_defaults(func=cmd_subset)
    s = sub.add_parser("prepare")
    s.add_argument("--root", type=Path, required=True)
    s.add_argument("--cache", type=Path, required=True)
    s.set_defaults(func=cmd_prepare)
    s = sub.add_parser("extract")
    s.add_argument("--cache", type=Path, required=True)
    s.add_argument("--features", type=Path, required=True)
    s.add_argument("--width", type=int, default=WIDTH)
    s.add_argument("--clips", type=int, default=0, help="only the first CLIPS clips (0: all)")
    s.set_defaults(func=cmd_extract)
    s = sub.add_parser("fake-features")
    s.add_argument("--clips", type=int, required=True)
    s.add_argument("--features", type=Path, required=True)
    s.add_argument("--width", type=int, default=WIDTH)
    s.set_defaults(func=cmd_fake_features)
    s = sub.add_parser("head")
    s.add_argument("--features", type=Path, required=True)
    s.add_argument("--work", type=Path, default=Path("/tmp/zeroskel-bench-scale"))
    s.add_argument("--tag", default="", help="suffix of the results file (repeated runs)")
    s.set_defaults(func=cmd_head)
    s = sub.add_parser("table")
    s.set_defaults(func=cmd_table)
    args = p.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
