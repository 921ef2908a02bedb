"""``zeroskel protocols``: the registered zero-shot protocols.

    zeroskel protocols list [--dataset utd-mhad] [--json]
    zeroskel protocols show ntu60-55/5 --json
"""
from __future__ import annotations

import argparse
import json
import sys

from zeroskel.data.class_names import BY_DATASET
from zeroskel.data.layouts import UnknownNameError
from zeroskel.data.protocols import get_protocol, list_protocols
from zeroskel.data.readers import check_dataset_name

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("protocols", help="list and show zero-shot protocols")
    sub = parser.add_subparsers(dest="protocols_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), EXIT_USAGE)[1])

    p = sub.add_parser("list", help="list protocol names")
    p.add_argument("--dataset", default=None, help="only this dataset's protocols")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="show one protocol")
    p.add_argument("name", metavar="NAME", help="protocol name, e.g. ntu60-55/5")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    if args.dataset is not None:
        try:
            check_dataset_name(args.dataset)
        except UnknownNameError as err:
            print(f"zeroskel: error: {err}", file=sys.stderr)
            return EXIT_USAGE
    names = list_protocols(args.dataset)
    if args.json:
        print(json.dumps([get_protocol(n).as_dict() for n in names], indent=2))
        return 0
    for n in names:
        p = get_protocol(n)
        print(f"{n:15s} {p.dataset:13s} {p.split:10s} {len(p.seen)} seen / {len(p.unseen)} unseen")
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        proto = get_protocol(args.name)
    except UnknownNameError as err:
        print(f"zeroskel: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    info = proto.as_dict()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    names = BY_DATASET[proto.dataset]
    print(f"{proto.name}: dataset {proto.dataset}, split rule {proto.split}, "
          f"{len(proto.seen)} seen / {len(proto.unseen)} unseen classes")
    if proto.note:
        print(f"note: {proto.note}")
    print("unseen:")
    for c in proto.unseen:
        print(f"  {c:3d} {names[c]}")
    print("seen:")
    for c in proto.seen:
        print(f"  {c:3d} {names[c]}")
    return 0
