"""``zeroskel run`` (the whole job) and its steps ``pretrain``, ``extract``, ``train``, ``evaluate``.

    zeroskel run --protocol utd-f1 --data-root ../shared/data/utd_mhad --out runs/utd-f1 --seeds 3
    zeroskel run ... encoder.epochs=10 head.variant=paper      # dotted overrides
    zeroskel run --out runs/utd-f1 --resume                    # continue an interrupted run
    zeroskel evaluate runs/utd-f1                              # one step on a run directory
"""
from __future__ import annotations

import argparse
import json

from zeroskel.cli.errors import fail
from zeroskel.config import ConfigError, load_config, merge

# The steps of a run, in order (zeroskel.train.run.STEPS; named here so that `zeroskel --help` does not
# import torch: tests/cli/test_cli_errors.py checks the two agree).
STEPS = ("pretrain", "extract", "train", "evaluate")


def _resolve_config(args: argparse.Namespace):
    from zeroskel.train.run_config import RunConfig

    cfg = load_config(RunConfig, args.config, args.overrides)
    updates: dict = {}
    if args.protocol:
        updates["protocol"] = args.protocol
    if args.data_root:
        updates.setdefault("data", {})["root"] = args.data_root
    if args.seeds is not None:
        updates["seeds"] = list(range(args.seeds))
    if args.device:
        updates["device"] = args.device
    if args.quiet:
        updates["progress"] = False
    return merge(cfg, updates) if updates else cfg


def cmd_run(args: argparse.Namespace) -> int:
    from zeroskel.infer.bundle import MIN_LENGTH, export_bundle
    from zeroskel.train.run import Run, RunError
    from zeroskel.train.runtime import init_distributed

    rank, world = init_distributed()             # (0, 1) unless started by torchrun
    try:
        cfg = _resolve_config(args)
        if not args.resume and not (args.protocol or args.config):
            raise ConfigError("--protocol (or --config) is required for a new run")
        if not args.resume:  # a typo'd protocol is refused before anything is written to --out
            from zeroskel.data.protocols import get_protocol

            get_protocol(cfg.protocol)
        steps = tuple(s for s in args.steps.split(",") if s) if args.steps else STEPS
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise ConfigError(f"unknown step(s) {unknown}; steps are {', '.join(STEPS)}")
        if cfg.data.length < MIN_LENGTH:
            raise ConfigError(f"data.length={cfg.data.length}: clips need at least {MIN_LENGTH} frames "
                              "(the encoder's temporal stride)")
        if world > 1:
            # process 0 creates (or checks) the run directory; the others then open it
            import torch.distributed as dist

            run = Run.create(args.out, cfg, resume=args.resume) if rank == 0 else None
            dist.barrier()
            run = run or Run.create(args.out, cfg, resume=True)
        else:
            run = Run.create(args.out, cfg, resume=args.resume)
        if "evaluate" not in steps:
            run.run(steps, summarize=False)
            print(f"ran {', '.join(steps)} in {args.out}")
            return 0
        summary = run.run(steps)
        bundle = export_bundle(run.dir) if rank == 0 else None  # the trained models for `zeroskel predict`
    except (ConfigError, RunError, OSError, ValueError) as e:
        return fail(e)
    if rank != 0:
        return 0
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        z, g = summary["zsl"], summary["gzsl"]["fused"]
        print(f"{summary['protocol']} ({len(summary['seeds'])} seed(s)), results in {args.out}/metrics.json")
        for k in ("fused", "spatial", "temporal", "either_branch"):
            if k in z:
                print(f"  ZSL {k:<14} {z[k]['mean']:6.2f} +- {z[k]['std']:.2f}")
        print(f"  GZSL fused     S {g['S']['mean']:.2f}  U {g['U']['mean']:.2f}  H {g['H']['mean']:.2f}")
        sup = summary.get("encoder", {}).get("supervised") if isinstance(summary.get("encoder"), dict) else None
        if sup:
            print(f"  encoder supervised (seen classes, diagnostic): test {sup['test_seen']['mean']:.2f}  "
                  f"holdout {sup['holdout']['mean']:.2f}"
                  + (f"  validation subjects {sup['val_seen']['mean']:.2f}" if "val_seen" in sup else ""))
        unseen = len(run.protocol.unseen)
        print(f"  chance         ZSL {100 / unseen:.2f} (1 of {unseen} unseen classes)")
        print(f"bundle (the trained models): {bundle}")
        print("next:")
        print(f"  zeroskel predict {bundle} CLIP.npz --classes \"wave,sit down,jump\"   # your clips, any class names")
        print(f"  zeroskel analyze {args.out} --out {args.out}/analysis                 # what the model learned")
    return 0


def _step(name: str):
    def cmd(args: argparse.Namespace) -> int:
        from zeroskel.train.run import Run, RunError
        from zeroskel.train.runtime import setup_logging

        try:
            run = Run(args.run_dir)
            setup_logging(run.dir / "log.txt")
            seeds = [args.seed] if args.seed is not None else list(run.cfg.seeds)
            with run.locked():
                for seed in seeds:
                    out = getattr(run, name)(seed)
            if name == "evaluate":
                summary = run.summarize() if args.seed is None else out
                print(json.dumps(summary, indent=2))
        except (RunError, OSError, ValueError) as e:
            return fail(e)
        return 0
    return cmd


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="pre-train, extract, train and evaluate (the main job)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", help="zero-shot protocol (zeroskel protocols list)")
    p.add_argument("--data-root", help="dataset folder")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--seeds", type=int, help="number of seeds (0..N-1)")
    p.add_argument("--config", help="YAML config file")
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--steps", help=f"comma-separated subset of {','.join(STEPS)} (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print metrics.json")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.set_defaults(func=cmd_run)
    helps = {"pretrain": "pre-train the encoder(s) of a run", "extract": "cache feature maps",
             "train": "train the head(s)", "evaluate": "evaluate on the test split, write metrics"}
    for name in STEPS:
        q = subparsers.add_parser(name, help=helps[name])
        q.add_argument("run_dir", help="run directory made by `zeroskel run`")
        q.add_argument("--seed", type=int, help="one seed (default: all seeds of the run)")
        q.set_defaults(func=_step(name))
