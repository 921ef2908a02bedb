"""Collect finished cells of a ``zeroskel bench`` folder into results.csv / results.md without
running anything (for grids run as several parallel processes, one per protocol).

    python benchmarks/collect_bench.py --out runs/bench --methods neuron,neuron-global \
        --protocols utd-f1,utd-f2,utd-f3,utd-f4,utd-f5 --seeds 3
    python benchmarks/collect_bench.py --out runs/gpu/s1 --config configs/bench/kinect-issue11.yaml \
        --methods global_align-mpnet,neuron --protocols utd-f1 --seeds 1,2   # a file's bench.variants
"""
from __future__ import annotations

import argparse

from zeroskel.bench.bench import collect_results, make_spec, write_results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--methods", required=True)
    ap.add_argument("--protocols", required=True)
    ap.add_argument("--seeds", required=True, help="a count N (0..N-1) or a list: 1,2")
    ap.add_argument("--config", help="bench config whose bench.variants the methods name")
    args = ap.parse_args()
    spec = make_spec(methods=args.methods, protocols=args.protocols, seeds=args.seeds,
                     data_root=None, config=args.config)
    rows = collect_results(spec, args.out)
    write_results(rows, args.out, spec)
    expected = len(spec.methods) * len(spec.protocols) * len(spec.seeds)
    print(f"{len(rows)} of {expected} cells finished -> {args.out}/results.csv, results.md")


if __name__ == "__main__":
    main()
