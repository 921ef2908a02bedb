"""How the ``zeroskel`` command reports a failure.

A library error (bad input, side information, checkpoint, bundle, protocol, data, config, run, bench,
LLM) or a file that cannot be read or written becomes one line on stderr and exit status 2::

    zeroskel: error: missing.json: no such side-information file

``--debug`` (anywhere on the command line, or ``ZEROSKEL_DEBUG=1``) prints the traceback first.
Anything else is a bug and keeps Python's traceback. Ctrl-C exits 130 with one line, a closed pipe
(``zeroskel text show utd-mhad --texts | head``) exits quietly.
"""
from __future__ import annotations

import sys
import traceback

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130      # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 141      # 128 + SIGPIPE, as `yes | head` reports it

# Set by zeroskel.cli.main from --debug / $ZEROSKEL_DEBUG.
DEBUG = False

# The library's own error classes that do not derive from ValueError (those that do, such as
# ConfigError, SideInfoError, CheckpointError, InputError and UnknownNameError, are caught as
# ValueError). They are looked up in sys.modules: a class whose module was never imported cannot
# have been raised, and importing it here would load torch for `zeroskel --help`.
RUNTIME_ERRORS: tuple[tuple[str, str], ...] = (
    ("zeroskel.train.run", "RunError"),
    ("zeroskel.infer.bundle", "BundleError"),
    ("zeroskel.bench.bench", "BenchError"),
    ("zeroskel.data.cache", "CacheError"),
    ("zeroskel.data.download", "DownloadError"),
    ("zeroskel.text.describe", "LLMError"),
    ("zeroskel.text.describe", "DescribeError"),
    ("yaml", "YAMLError"),  # a config file read elsewhere than zeroskel.config (which names the file)
)
# ValueError: bad values, files and names (the library's ValueError subclasses included);
# OSError: a file that cannot be read or written (its message names it); KeyError: a name that is
# not in a table; ImportError: an optional dependency that is not installed.
BUILTIN_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, KeyError, ImportError)


def user_error_types() -> tuple[type[BaseException], ...]:
    loaded = [getattr(sys.modules[m], name) for m, name in RUNTIME_ERRORS if m in sys.modules]
    return (*BUILTIN_ERRORS, *loaded)


def one_line(error: BaseException | str) -> str:
    """The message of ``error`` on one line (a KeyError's message without its quotes)."""
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    else:
        text = str(error) or type(error).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def fail(error: BaseException | str, hint: str = "") -> int:
    """Print ``zeroskel: error: <message>[; hint]`` on stderr (the traceback first under --debug) and
    return the exit status 2."""
    if DEBUG and isinstance(error, BaseException):
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    message = one_line(error)
    print(f"zeroskel: error: {message}" + (f"; {hint}" if hint else ""), file=sys.stderr)
    return EXIT_ERROR
