"""``zeroskel bench``: methods x protocols x seeds on shared encoders, one results table.

    zeroskel bench --methods neuron,global_align,cada_vae,smie --protocols utd-f1,utd-f2,utd-f3 \
        --seeds 3 --data-root ../shared/data/utd_mhad --out runs/bench
    zeroskel bench ... --data-root utd-mhad=../shared/data/utd_mhad,msr-action3d=../shared/data/msr_action3d
    zeroskel bench --config configs/bench/ntu60.yaml --data-root ntu60=/data/ntu --out runs/ntu --dry-run
    zeroskel bench ... head.epochs=10 cada_vae:head.lr=0.002       # all methods / one method
    zeroskel bench --list-methods [--config configs/bench/kinect-issue11.yaml]   # + the file's variants

Writes OUT/results.csv (one row per method x protocol x seed, every metric) and OUT/results.md (mean
+- std per method and protocol family). Rerunning the same command skips finished cells.
"""
from __future__ import annotations

import argparse
import sys

from zeroskel.cli.errors import fail
from zeroskel.config import ConfigError


def cmd_bench(args: argparse.Namespace) -> int:
    from zeroskel.bench.bench import (METHODS, BenchError, dry_run, load_bench_config, make_spec,
                                      method_table, run_bench)
    from zeroskel.train.run import RunError

    if args.list_methods:  # with --config: its bench.variants too, after the built-in methods
        try:
            table = method_table(load_bench_config(args.config)[1].get("variants"),
                                 f"{args.config}: bench.variants")
        except (ConfigError, FileNotFoundError) as e:
            return fail(e)
        width = max(map(len, table))
        for name, m in table.items():
            extra = f" options {m.options}" if m.options else ""
            extra += f" {m.overrides}" if m.overrides else ""
            where = "" if name in METHODS else f"  [{args.config}]"
            print(f"{name:<{width}}  {m.head}/{m.variant}{extra}  {m.about}{where}")
        return 0
    if not args.out:
        return fail("--out is required (the bench directory)")
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    if args.quiet:
        overrides.append("progress=false")
    try:
        spec = make_spec(methods=args.methods, protocols=args.protocols, seeds=args.seeds,
                         data_root=args.data_root, config=args.config, overrides=overrides)
        if args.dry_run:
            plan, problems = dry_run(spec, args.out)
            print("\n".join(plan))
            for p in problems:
                print(f"problem: {p}", file=sys.stderr)
            print("dry run: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
            return 2 if problems else 0
        result = run_bench(spec, args.out, keep_going=not args.fail_fast)
    except (ConfigError, BenchError, RunError, FileNotFoundError, ValueError) as e:
        return fail(e)
    print(f"ran {len(result['ran'])} cell(s), {len(result['skipped'])} already done, "
          f"{len(result['failed'])} failed; results in {args.out}/results.csv and results.md")
    for cell, err in result["failed"]:
        print(f"  failed {'/'.join(map(str, cell))}: {err} (see {args.out}/bench.log)", file=sys.stderr)
    return 1 if result["failed"] else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="run methods x protocols x seeds, write a results table",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", help="comma-separated method names (--list-methods)")
    p.add_argument("--protocols", help="comma-separated protocol names (zeroskel protocols list)")
    p.add_argument("--seeds", help="number of seeds N (seeds 0..N-1), or a list of seeds: 1,2 (e.g. "
                   "the seeds another machine runs)")
    p.add_argument("--data-root", help="dataset folder, or dataset=PATH,dataset=PATH")
    p.add_argument("--out", help="bench directory")
    p.add_argument("--config", help="run config YAML, optionally with a bench: section")
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--dry-run", action="store_true", help="validate the grid and configs, run nothing")
    p.add_argument("--list-methods", action="store_true", help="print the method table (with --config: and "
                   "its bench.variants) and exit")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed cell")
    p.add_argument("--quiet", action="store_true", help="no progress bars or console log")
    p.add_argument("overrides", nargs="*", metavar="[method:]key=value", help="config overrides")
    p.set_defaults(func=cmd_bench)
