"""Start-up cost of the package: `import zeroskel`, `zeroskel --help`, and what a first API call loads.

    python benchmarks/import_time.py                      # 7 runs each, results/import_time.{json,md}
    python benchmarks/import_time.py --runs 11 --out import_time_laptop

Each figure is the median wall time of ``--runs`` fresh interpreters (``python -c ...`` as a
subprocess, so nothing is cached in-process; the OS file cache is warmed by one discarded run
first). Also recorded: whether torch was imported, and the bare interpreter (``python -c pass``) as
the floor every command pays.
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

RESULTS = Path(__file__).resolve().parent / "results"
SRC = Path(__file__).resolve().parents[1] / "src"

_HELP = ("import sys, contextlib, io\nfrom zeroskel.cli.main import main\n"
         "try:\n    with contextlib.redirect_stdout(io.StringIO()): main({argv})\n"
         "except SystemExit:\n    pass\nprint('torch' in sys.modules)")

# name -> Python code run in a fresh interpreter; each prints whether torch got imported
CASES: dict[str, str] = {
    "python -c pass": "import sys; print('torch' in sys.modules)",
    "import zeroskel": "import sys, zeroskel; print('torch' in sys.modules)",
    "zeroskel --help": _HELP.format(argv="['--help']"),
    "zeroskel run --help": _HELP.format(argv="['run', '--help']"),
    "zeroskel.ZeroShotRecognizer": "import sys, zeroskel; zeroskel.ZeroShotRecognizer; print('torch' in sys.modules)",
}


def time_case(code: str, runs: int) -> tuple[float, list[float], bool]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    times, torch_loaded = [], False
    for i in range(runs + 1):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        dt = time.perf_counter() - t0
        torch_loaded = out.stdout.strip().splitlines()[-1] == "True"
        if i:  # the first run warms the file cache
            times.append(dt)
    return statistics.median(times), times, torch_loaded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="timed runs per case (default 7)")
    ap.add_argument("--out", default="import_time", help="stem of results/<stem>.json and .md")
    args = ap.parse_args()
    rows = []
    for name, code in CASES.items():
        median, times, torch_loaded = time_case(code, args.runs)
        rows.append({"case": name, "median_s": round(median, 3), "runs_s": [round(t, 3) for t in times],
                     "torch_imported": torch_loaded})
        print(f"{name:<30} median {median:6.3f} s  torch imported: {torch_loaded}")
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "runs": args.runs, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"env": env, "rows": rows}, indent=2) + "\n")
    lines = [f"Import time, median of {args.runs} fresh interpreters (python {env['python']}, "
             f"{env['machine']}, {env['cpus']} CPUs, {env['date']})", "",
             "| case | median (s) | torch imported |", "| --- | --- | --- |"]
    lines += [f"| `{r['case']}` | {r['median_s']:.3f} | {'yes' if r['torch_imported'] else 'no'} |" for r in rows]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / args.out}.json and .md")


if __name__ == "__main__":
    main()
