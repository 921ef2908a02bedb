"""Generate synthetic raw NTU RGB+D ``.skeleton`` files (scale tests and benchmarks only).

    python benchmarks/gen_ntu.py --out /tmp/ntu-fake --count 2000 [--version 60] [--seed 0]

Prints the files written, their size and the generation speed (MB/s, files/s). Re-running with the
same arguments rewrites the same bytes; ``--start`` skips names already written.
See :mod:`zeroskel.data.synthetic` for what the files hold.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from zeroskel.data.synthetic import generate_ntu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    p.add_argument("--count", type=int, required=True, help="number of files")
    p.add_argument("--version", type=int, default=60, choices=(60, 120))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="skip the first START names")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    paths = generate_ntu(args.out, args.count, version=args.version, seed=args.seed, start=args.start)
    seconds = time.perf_counter() - t0
    mb = sum(path.stat().st_size for path in paths) / 1e6
    print(json.dumps({"files": len(paths), "megabytes": round(mb, 1), "seconds": round(seconds, 2),
                      "mb_per_s": round(mb / max(seconds, 1e-9), 1),
                      "files_per_s": round(len(paths) / max(seconds, 1e-9), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
