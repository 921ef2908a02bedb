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
