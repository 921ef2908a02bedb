"""The ``zeroskel`` command.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its subcommands; a subcommand sets ``func`` (a callable taking
the parsed ``argparse.Namespace`` and returning an exit code).

    zeroskel --help
    zeroskel --debug text embed side_info.json --out t.safetensors   # a traceback with the error

Errors: one line ``zeroskel: error: ...`` and exit 2 (``zeroskel.cli.errors``); ``--debug`` anywhere
on the command line (or ``ZEROSKEL_DEBUG=1``) shows the traceback too.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from zeroskel import __version__
from zeroskel.cli import errors

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

# One example per command, shown at the end of its --help (tests/cli/test_cli_errors.py checks every command has one).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "data": ("zeroskel data summary utd-mhad --root ../shared/data/utd_mhad",),
    "data summary": ("zeroskel data summary utd-mhad --root ../shared/data/utd_mhad --protocol utd-f1",
                     "zeroskel data summary msr-action3d --root ../shared/data/msr_action3d --json"),
    "data layouts": ("zeroskel data layouts", "zeroskel data layouts kinect20 --json"),
    "data prepare": ("zeroskel data prepare ntu60 --root ~/data/nturgbd_skeletons --out ~/data/ntu60-cache",),
    "data download": ("zeroskel data download utd-mhad --dest ~/data",),
    "protocols": ("zeroskel protocols list --dataset utd-mhad",),
    "protocols list": ("zeroskel protocols list --dataset utd-mhad", "zeroskel protocols list --json"),
    "protocols show": ("zeroskel protocols show utd-f1",),
    "describe": ("zeroskel describe --classes \"sit to stand,stand to sit\" --out si.json --dry-run",
                 "zeroskel describe --classes utd-mhad --out utd.json --base-url http://localhost:8000/v1 "
                 "--model qwen"),
    "text": ("zeroskel text show utd-mhad --texts | head",),
    "text check": ("zeroskel text check utd-mhad", "zeroskel text check my_classes.json --json"),
    "text embed": ("zeroskel text embed utd-mhad --encoder minilm --out utd-minilm.safetensors",),
    "text import-official": ("zeroskel text import-official Neuron/semantics/ntu --dataset ntu60 --out imported/ntu60",),
    "text show": ("zeroskel text show utd-mhad", "zeroskel text show utd-mhad --texts --json"),
    "text template": ("zeroskel text template --classes \"pour water,open door\" --out my_classes.json",),
    "run": ("zeroskel run --protocol utd-f1 --data-root ../shared/data/utd_mhad --out runs/utd-f1",
            "zeroskel run --out runs/utd-f1 --resume"),
    "pretrain": ("zeroskel pretrain runs/utd-f1 --seed 0",),
    "extract": ("zeroskel extract runs/utd-f1",),
    "train": ("zeroskel train runs/utd-f1",),
    "evaluate": ("zeroskel evaluate runs/utd-f1",),
    "bench": ("zeroskel bench --methods neuron,global_align --protocols utd-f1 --data-root "
              "../shared/data/utd_mhad --out runs/bench",),
    "analyze": ("zeroskel analyze runs/utd-f1 --out runs/utd-f1/analysis",),
    "show": ("zeroskel show ../shared/data/utd_mhad/Skeleton/a1_s1_t1_skeleton.mat --out clip.gif",),
    "predict": ("zeroskel predict runs/utd-f1/bundle clip.npz --classes \"wave,sit down,jump\"",),
    "stream": ("my_tracker | zeroskel stream runs/utd-f1/bundle --classes \"walk,sit down\" --window 64",),
    "export": ("zeroskel export runs/utd-f1/bundle --onnx model.onnx --classes \"walk,sit down,wave\"",),
    "bundle": ("zeroskel bundle runs/utd-f1",),
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's default (wrapped description), with the ``example:`` epilog kept line by line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("example"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every command and subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


def _add_examples(parser: argparse.ArgumentParser) -> None:
    for path, sub in subcommands(parser):
        lines = EXAMPLES.get(" ".join(path))
        if not lines:
            continue
        sub.epilog = ("example:\n" if len(lines) == 1 else "examples:\n") + "".join(f"  {x}\n" for x in lines)
        if sub.formatter_class is argparse.HelpFormatter:
            sub.formatter_class = _HelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeroskel",
        description="Zero-shot skeleton-based action recognition (Neuron and peers).",
        epilog="example:\n  zeroskel run --protocol utd-f1 --data-root ../shared/data/utd_mhad --out runs/utd-f1\n"
               "  zeroskel predict runs/utd-f1/bundle clip.npz --classes \"wave,sit down,jump\"\n"
               "  zeroskel COMMAND --help      (each command's options and examples)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zeroskel {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also anywhere after the command)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    _add_examples(parser)
    return parser


def _interrupted(args: argparse.Namespace | None) -> int:
    hint, command = "", getattr(args, "command", None)
    if command == "run" and getattr(args, "out", None):
        hint = f"; finished epochs are kept: continue with `zeroskel run --out {args.out} --resume`"
    elif command in ("pretrain", "extract", "train", "evaluate"):
        hint = f"; finished epochs are kept: rerun `zeroskel {command} {args.run_dir}` to continue"
    print(f"\nzeroskel: interrupted{hint}", file=sys.stderr)
    return errors.EXIT_INTERRUPTED


def _broken_pipe() -> int:
    # the reader went away (`... | head`): stop quietly; point stdout at /dev/null so that the
    # interpreter's final flush does not report the same broken pipe again
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured by a test)
        pass
    return errors.EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere before a `--` (argparse alone would take it only before the command)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end] or os.environ.get("ZEROSKEL_DEBUG", "") not in ("", "0")
    argv = [a for i, a in enumerate(argv) if not (a == "--debug" and i < end)]
    errors.DEBUG = debug
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help()
            return 2
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return code
    except KeyboardInterrupt:
        if debug:
            raise
        return _interrupted(args)
    except BrokenPipeError:
        return _broken_pipe()
    except errors.user_error_types() as e:
        return errors.fail(e)


if __name__ == "__main__":
    sys.exit(main())
