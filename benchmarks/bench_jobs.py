"""The README main job with its independent stages in worker processes (``jobs``) or one after another.

Each repeat runs ``zeroskel run`` once per ``--jobs`` value, in turn (round robin, so a change in the
machine's load hits every setting alike), as a fresh process, and measures its wall time and the
peak of the summed resident memory of the process and its workers (sampled from /proc every
0.2 s; ``/usr/bin/time`` would report the largest single process only). It also keeps the per-step
seconds (``seed<S>/timings.json``) and the run's ZSL / H, which must not depend on the setting.

    python benchmarks/bench_jobs.py --data-root ../shared/data/utd_mhad --out /tmp/bench_jobs --repeats 3
    python benchmarks/bench_jobs.py ... --jobs 0,1,3 -- encoder.epochs=60      # any run override after --

Writes ``benchmarks/results/<tag>.json`` and ``.md`` (``--results DIR``, ``--tag``): per setting the
median and every value of the wall time and peak memory, the per-step medians, and the ratio of
each setting's median wall time to the first setting's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tree_rss_kib(pid: int) -> int:
    """Summed resident memory (KiB) of ``pid`` and its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue  # the process ended meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        p = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(p)
        rss[p] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack += children.get(p, [])
    return total


def run_once(argv: list[str], log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak summed RSS in GB, exit code) of one command."""
    env = {k: v for k, v in os.environ.items() if k != "ZEROSKEL_JOBS"}  # jobs=0 means auto here
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.2)
    return time.perf_counter() - t0, peak / 1024 ** 2, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--protocol", default="utd-f1")
    ap.add_argument("--out", required=True, help="folder for the runs (one per setting and repeat)")
    ap.add_argument("--jobs", default="0,1", help="comma-separated jobs values; the first is the reference")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--tag", default="readme_job_jobs")
    ap.add_argument("overrides", nargs="*", help="run overrides (key=value), after --")
    args = ap.parse_args(argv)
    settings = [int(j) for j in args.jobs.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for r in range(args.repeats):
        for j in settings:
            run_dir = out / f"r{r}-jobs{j}"
            if run_dir.exists():
                raise SystemExit(f"{run_dir} exists: choose an empty --out")
            cmd = [sys.executable, "-m", "zeroskel", "run", "--protocol", args.protocol, "--data-root",
                   args.data_root, "--out", str(run_dir), "--quiet", f"jobs={j}", *args.overrides]
            wall, peak, code = run_once(cmd, out / f"r{r}-jobs{j}.log")
            if code != 0:
                raise SystemExit(f"run failed (exit {code}): see {out / f'r{r}-jobs{j}.log'}")
            m = json.loads((run_dir / "metrics.json").read_text())
            steps = json.loads((run_dir / "seed0" / "timings.json").read_text())
            row = {"repeat": r, "jobs": j, "wall_s": round(wall, 1), "peak_rss_gb": round(peak, 2),
                   "steps_s": {k: round(v, 1) for k, v in steps.items()},
                   "zsl_fused": m["zsl"]["fused"]["mean"], "gzsl_H": m["gzsl"]["fused"]["H"]["mean"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = []
    for j in settings:
        mine = [x for x in rows if x["jobs"] == j]
        walls = [x["wall_s"] for x in mine]
        summary.append({
            "jobs": j, "wall_s_median": statistics.median(walls), "wall_s": walls,
            "peak_rss_gb_median": statistics.median(x["peak_rss_gb"] for x in mine),
            "steps_s_median": {k: round(statistics.median(x["steps_s"][k] for x in mine), 1)
                               for k in mine[0]["steps_s"]},
            "zsl_fused": sorted({x["zsl_fused"] for x in mine}), "gzsl_H": sorted({x["gzsl_H"] for x in mine}),
        })
    ref = summary[0]["wall_s_median"]
    for s in summary:
        s["wall_vs_first"] = round(s["wall_s_median"] / ref, 3)
    import torch

    result = {"protocol": args.protocol, "overrides": args.overrides, "repeats": args.repeats,
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "torch": torch.__version__, "platform": platform.platform(), "settings": summary, "runs": rows}
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    (res / f"{args.tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"README main job ({args.protocol}{', ' + ' '.join(args.overrides) if args.overrides else ''}), "
             f"{args.repeats} repeat(s) per setting, round robin; {os.cpu_count()} CPUs, torch "
             f"{torch.__version__} ({torch.get_num_threads()} threads)", "",
             "| jobs | wall s (median) | every run | vs first | peak memory, summed (median) | "
             "pretrain | extract | train | evaluate | ZSL fused | GZSL H |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        st = s["steps_s_median"]
        lines.append(f"| {s['jobs']}{' (auto)' if s['jobs'] == 0 else ''} | {s['wall_s_median']:.1f} | "
                     f"{', '.join(f'{w:.1f}' for w in s['wall_s'])} | {s['wall_vs_first']:.2f}x | "
                     f"{s['peak_rss_gb_median']:.2f} GB | {st.get('pretrain', 0):.1f} | {st.get('extract', 0):.1f} | "
                     f"{st.get('train', 0):.1f} | {st.get('evaluate', 0):.1f} | "
                     f"{', '.join(f'{v:.1f}' for v in s['zsl_fused'])} | "
                     f"{', '.join(f'{v:.1f}' for v in s['gzsl_H'])} |")
    (res / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
