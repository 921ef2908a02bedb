"""``zeroskel data``: inspect, prepare and download skeleton datasets.

    zeroskel data summary utd-mhad --root ../shared/data/utd_mhad --json --protocol utd-f1
    zeroskel data layouts kinect20
    zeroskel data prepare ntu60 --root ~/data/nturgbd_skeletons --out ~/data/ntu60-cache
    zeroskel data download utd-mhad --dest ~/data
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from zeroskel.data.layouts import UnknownNameError
from zeroskel.data.readers import check_dataset_name, list_datasets, load_dataset

EXIT_USAGE = 2
EXIT_ERROR = 2  # one exit status for every error (zeroskel.cli.errors)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="inspect, prepare and download skeleton datasets")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), EXIT_USAGE)[1])
    datasets = ", ".join(list_datasets())

    p = sub.add_parser("summary", help="read a dataset and print what it holds")
    p.add_argument("dataset", metavar="DATASET", help=f"one of: {datasets}")
    p.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    p.add_argument("--protocol", default=None, help="also count the protocol's splits")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation protocol")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_summary)

    p = sub.add_parser("layouts", help="list joint layouts, or show one")
    p.add_argument("name", nargs="?", default=None, metavar="NAME", help="layout to show")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_layouts)

    p = sub.add_parser("prepare", help="write a memory-mappable cache of a dataset")
    p.add_argument("dataset", metavar="DATASET", help=f"one of: {datasets}")
    p.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    p.add_argument("--out", required=True, type=Path, help="cache folder to write")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("download", help="download a dataset from its official source")
    p.add_argument("dataset", metavar="DATASET", help=f"one of: {datasets}")
    p.add_argument("--dest", required=True, type=Path, help="folder to download into")
    p.add_argument("--url", default=None, help="download from this URL instead")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_download)


def _error(message: str, code: int) -> int:
    print(f"zeroskel: error: {message}", file=sys.stderr)
    return code


def summarize(dataset, protocol: str | None = None, seed: int = 0) -> dict:
    """The JSON-able summary ``zeroskel data summary`` prints."""
    frames = np.array([s.num_frames for s in dataset.samples]) if dataset.samples else np.zeros(1)
    counts = np.bincount(dataset.labels(), minlength=dataset.num_classes) if dataset.samples \
        else np.zeros(dataset.num_classes, dtype=int)
    out = {
        "dataset": dataset.name,
        "root": dataset.root,
        "num_samples": len(dataset),
        "num_classes": dataset.num_classes,
        "class_names": list(dataset.class_names),
        "layout": dataset.layout,
        "samples_per_class": [int(c) for c in counts],
        "frames": {"min": int(frames.min()), "median": float(np.median(frames)),
                   "max": int(frames.max())},
        "skipped": [s.as_dict() for s in dataset.skipped],
    }
    if protocol is not None:
        from zeroskel.data.protocols import make_splits, validation_draw

        splits = make_splits(dataset, protocol, seed=seed)
        out.update({"protocol": splits.protocol, "seed": seed, **splits.counts(),
                    "seen": splits.seen, "unseen": splits.unseen,
                    "val_seen_classes": splits.val_seen_classes,
                    "val_unseen_classes": splits.val_unseen_classes,
                    # the cross-subject draws `zeroskel run` uses (run seed 0, the default 2 draws)
                    "validation_draws": [validation_draw(dataset, splits, split_seed=seed, seed=0,
                                                         draw=k).describe() for k in range(2)]})
    return out


def _print_readable(s: dict) -> None:
    print(f"{s['dataset']}: {s['num_samples']} samples, {s['num_classes']} classes, "
          f"layout {s['layout']} (from {s['root']})")
    f = s["frames"]
    print(f"frames per sample: min {f['min']}, median {f['median']:g}, max {f['max']}")
    for i, (name, n) in enumerate(zip(s["class_names"], s["samples_per_class"])):
        print(f"  {i:3d} {name}: {n}")
    print(f"skipped: {len(s['skipped'])}")
    for sk in s["skipped"]:
        print(f"  {sk['sample']}: {sk['reason']}")
    if "protocol" in s:
        print(f"protocol {s['protocol']} (seed {s['seed']}): unseen classes {s['unseen']}")
        for key in ("train", "holdout", "val_train", "val_seen", "val_unseen", "test_seen",
                    "test_unseen"):
            print(f"  {key}: {s[key]}")
        print(f"  validation pseudo-unseen classes: {s['val_unseen_classes']}")
        for v in s["validation_draws"]:
            c = v["counts"]
            print(f"  run seed 0, validation draw {v['draw']}: held-out subjects "
                  f"{v['held_out_subjects']}, pseudo-unseen {v['val_unseen_classes']}, val_train "
                  f"{c['val_train']}, val_seen {c['val_seen']}, val_unseen {c['val_unseen']}")


def _summary(args: argparse.Namespace) -> int:
    try:
        check_dataset_name(args.dataset)
        if args.protocol is not None:
            from zeroskel.data.protocols import get_protocol

            get_protocol(args.protocol)
    except UnknownNameError as err:
        return _error(str(err), EXIT_USAGE)
    try:
        with warnings.catch_warnings():
            # every skip is reported in the output's "skipped" list
            warnings.simplefilter("ignore")
            dataset = load_dataset(args.dataset, args.root)
        summary = summarize(dataset, args.protocol, args.seed)
    except (FileNotFoundError, ValueError) as err:
        return _error(str(err), EXIT_ERROR)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_readable(summary)
    return 0


def _layouts(args: argparse.Namespace) -> int:
    from zeroskel.data.layouts import get_layout, list_layouts

    try:
        layouts = [get_layout(args.name)] if args.name else [get_layout(n) for n in list_layouts()]
    except UnknownNameError as err:
        return _error(str(err), EXIT_USAGE)
    info = [{"name": lay.name, "num_joints": lay.num_joints, "joints": list(lay.joints),
             "edges": [list(e) for e in lay.edges], "center": lay.center} for lay in layouts]
    if args.json:
        print(json.dumps(info[0] if args.name else info, indent=2))
    elif args.name:
        lay = layouts[0]
        print(f"{lay.name}: {lay.num_joints} joints, centre {lay.joints[lay.center]}")
        for i, j in enumerate(lay.joints):
            print(f"  {i:2d} {j}")
    else:
        for lay in layouts:
            print(f"{lay.name:12s} {lay.num_joints} joints, centre {lay.joints[lay.center]}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    try:
        check_dataset_name(args.dataset)
    except UnknownNameError as err:
        return _error(str(err), EXIT_USAGE)
    from zeroskel.data.cache import prepare_cache, read_manifest
    from zeroskel.data.readers import open_dataset

    try:
        # NTU is streamed (two passes, memory bounded by the index); the small datasets are read whole
        dataset = open_dataset(args.dataset, args.root)
        out = prepare_cache(dataset, args.out, progress=not args.no_progress)
        manifest = read_manifest(out)
    except (OSError, ValueError, RuntimeError) as err:
        return _error(str(err), EXIT_ERROR)
    print(f"{args.dataset}: {manifest['num_samples']} samples cached in {out} "
          f"({len(manifest['skipped'])} skipped)")
    return 0


def _download(args: argparse.Namespace) -> int:
    try:
        check_dataset_name(args.dataset)
    except UnknownNameError as err:
        return _error(str(err), EXIT_USAGE)
    from zeroskel.data.download import download_dataset

    try:
        path = download_dataset(args.dataset, args.dest, url=args.url,
                                progress=not args.no_progress)
    except (OSError, ValueError, RuntimeError) as err:
        return _error(str(err), EXIT_ERROR)
    print(f"{args.dataset}: downloaded to {path}")
    return 0
