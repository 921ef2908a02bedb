"""The ``zeroskel`` command.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its subcommands; a subcommand sets ``func`` (a callable taking
the parsed ``argparse.Namespace`` and returning an exit code).

    zeroskel --help
"""
from __future__ import annotations

import argparse
import importlib
import sys

from zeroskel import __version__

# Command-group modules, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "zeroskel.cli.data_cmd",
    "zeroskel.cli.protocols_cmd",
    "zeroskel.cli.text_cmd",
    "zeroskel.cli.run_cmd",
    "zeroskel.cli.bench_cmd",
    "zeroskel.cli.analyze_cmd",
    "zeroskel.cli.predict_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeroskel",
        description="Zero-shot skeleton-based action recognition (Neuron and peers).",
    )
    parser.add_argument("--version", action="version", version=f"zeroskel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
