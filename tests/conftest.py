"""Shared test fixtures.

Real data lives outside the repo, in ``../shared/data`` next to the checkout (override with the
``ZEROSKEL_DATA`` environment variable). It is research-use data: tests read it from there and never
copy it into the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs' independent stages in this process, one after another (jobs=auto would start worker processes,
# which do not see a test's monkeypatches); tests of the worker processes set jobs themselves.
os.environ.setdefault("ZEROSKEL_JOBS", "1")
DATA_ROOT = Path(os.environ.get("ZEROSKEL_DATA", REPO_ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"real data not found at {path} (set ZEROSKEL_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    return _require(DATA_ROOT)


@pytest.fixture(scope="session")
def utd_root() -> Path:
    return _require(DATA_ROOT / "utd_mhad")


@pytest.fixture(scope="session")
def msr_root() -> Path:
    return _require(DATA_ROOT / "msr_action3d")


@pytest.fixture(scope="session")
def utk_root() -> Path:
    return _require(DATA_ROOT / "utkinect")


# Shared test helpers (tests/helpers.py) importable from any test module.
import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def quick_run(utd_root, tmp_path_factory):
    """One quick real run on UTD-MHAD utd-f1 (helpers.QUICK), shared read-only by the tests that need
    a trained run directory and its bundle."""
    from helpers import QUICK

    from zeroskel.cli.main import main

    out = tmp_path_factory.mktemp("quick") / "utd-f1"
    assert main(["run", "--protocol", "utd-f1", "--data-root", str(utd_root), "--out", str(out),
                 "--quiet", *QUICK]) == 0
    return out


@pytest.fixture(scope="session")
def memory_runs(utd_root, tmp_path_factory):
    """Two real runs sharing one encoder: the memory gate on (``a``) and off (``b``)."""
    from helpers import MEMORY_HEAD, MEMORY_RUN

    from zeroskel.cli.main import main

    root = tmp_path_factory.mktemp("analysis")
    a, b = root / "mem_on", root / "mem_off"
    base = ["run", "--protocol", "utd-f1", "--data-root", str(utd_root), "--quiet"]
    assert main([*base, "--out", str(a), *MEMORY_RUN, f"head.options={{{MEMORY_HEAD}}}"]) == 0
    assert main([*base, "--out", str(b), *MEMORY_RUN, f"reuse={a}",
                 f"head.options={{{MEMORY_HEAD}, temporal_memory: false}}"]) == 0
    return a, b


@pytest.fixture(autouse=True)
def _zeroskel_log_isolated():
    """Each test starts with the ``zeroskel`` logger propagating (so ``caplog`` sees it) and without the
    handlers an earlier run's ``setup_logging`` left; the ones a test adds are closed after it."""
    import logging

    log = logging.getLogger("zeroskel")
    before = list(log.handlers)
    for h in before:
        if getattr(h, "_zeroskel", False):
            log.removeHandler(h)
            h.close()
    log.propagate = True
    yield
    for h in list(log.handlers):
        if getattr(h, "_zeroskel", False):
            log.removeHandler(h)
            h.close()
    log.propagate = True
