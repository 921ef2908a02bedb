"""Streaming ``prepare_cache``: bounded memory, resume after an interruption or a kill, NTU files.

Data: synthetic NTU ``.skeleton`` files (``zeroskel.data.synthetic``) and, for the memory test,
synthetic clips made in memory (so the test measures prepare, not the text parser).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zeroskel.cli.main import main as cli_main
from zeroskel.data import cache
from zeroskel.data.cache import load_cache, prepare_cache
from zeroskel.data.readers import open_dataset
from zeroskel.data.readers.ntu import load_ntu, open_ntu
from zeroskel.data.synthetic import generate_ntu

SRC = str(Path(__file__).resolve().parents[2] / "src")

# One subprocess per measurement: prepare N synthetic clips of (2, 150, 25, 3) float32 (90 KB each),
# streamed ("stream") or first read whole into RAM ("eager", the control), and print the peak RSS.
_MEASURE = r"""
import json, sys
import numpy as np
from zeroskel.data.cache import prepare_cache
from zeroskel.data.sample import LazyDataset, SkeletonSample
from zeroskel.data.synthetic import _body_xyz

n, out, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def read(i):
    rng = np.random.default_rng(i)
    joints = np.stack([_body_xyz(rng, 150, i % 60 + 1, x0, 3.0) for x0 in (-0.4, 0.4)])
    return SkeletonSample(name=f"clip{i:05d}", joints=joints.astype(np.float32), label=i % 60,
                          subject=i % 40 + 1, meta={"camera": i % 3 + 1}, source=f"memory:{i}")

lazy = LazyDataset("ntu60", [f"c{k}" for k in range(60)], "ntu25", [f"clip{i:05d}" for i in range(n)], read)
def hwm_kb():
    # VmHWM: this process's peak RSS (ru_maxrss would include the forking parent's, e.g. pytest's)
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])

before = hwm_kb()
data = lazy.materialize() if mode == "eager" else lazy
prepare_cache(data, out, progress=False, chunk_size=32)
print(json.dumps({"before_kb": before, "peak_kb": hwm_kb()}))
"""


def _peak_mb(n: int, out: Path, mode: str) -> float:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(n), str(out), mode], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out / "manifest.json").is_file()
    return got["peak_kb"] / 1024


def test_peak_rss_does_not_grow_with_clip_count(tmp_path):
    small = _peak_mb(200, tmp_path / "s200", "stream")
    large = _peak_mb(800, tmp_path / "s800", "stream")
    eager = _peak_mb(800, tmp_path / "e800", "eager")
    joints_growth_mb = 600 * 2 * 150 * 25 * 3 * 4 / 2**20  # 600 more clips in float32: ~51 MB
    # streamed: grows by the index only (about 1 KB per clip here), far below the clips' size
    assert large - small < 0.1 * joints_growth_mb, (small, large)
    # the control shows the measurement sees clips held in RAM
    assert eager - large > 0.5 * joints_growth_mb, (large, eager)
    a = load_cache(tmp_path / "s800", verify=True)
    b = load_cache(tmp_path / "e800", verify=True)
    assert len(a) == 800 and (tmp_path / "s800" / "joints.f16").read_bytes() == \
        (tmp_path / "e800" / "joints.f16").read_bytes()
    assert [s.name for s in a.samples] == [s.name for s in b.samples]


@pytest.fixture(scope="module")
def ntu_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntu")
    generate_ntu(root, 60, seed=1, frames=(30, 40))
    (root / "S001C001P001R001A999.skeleton").write_text("1\n0\n")  # not an NTU60 action: skipped
    (root / "S001C002P001R001A001.skeleton").write_text("2\n0\n0\n")  # no body: skipped when read
    return root


def test_streamed_ntu_cache_matches_eager_reader(ntu_root, tmp_path, capsys):
    assert cli_main(["data", "prepare", "ntu60", "--root", str(ntu_root), "--out",
                     str(tmp_path / "c"), "--no-progress"]) == 0
    assert "60 samples cached" in capsys.readouterr().out
    cached = load_cache(tmp_path / "c", verify=True)
    eager = load_ntu(ntu_root, 60, progress=False)
    assert [s.name for s in cached.samples] == [s.name for s in eager.samples]
    for got, want in zip(cached.samples, eager.samples):
        assert got.label == want.label and got.subject == want.subject and got.meta == want.meta
        np.testing.assert_allclose(got.joints.astype(np.float32), want.joints, atol=2e-3)
    reasons = {k.sample: k.reason for k in cached.skipped}
    assert "no body" in reasons["S001C002P001R001A001"]
    assert len(cached.skipped) == len(eager.skipped) == 2


@pytest.mark.parametrize("fail_at", [20, 82])  # during pass 1 (index), during pass 2 (write)
def test_resume_after_interruption_in_either_pass(ntu_root, tmp_path, fail_at):
    clean = prepare_cache(open_ntu(ntu_root), tmp_path / "clean", progress=False, chunk_size=16)
    lazy = open_ntu(ntu_root)
    real_read, calls = lazy.read, []

    def flaky(i):
        calls.append(i)
        if len(calls) == fail_at:
            raise KeyboardInterrupt("simulated kill")
        return real_read(i)

    lazy.read = flaky
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        prepare_cache(lazy, out, progress=False, chunk_size=16)
    assert not (out / "manifest.json").exists()
    committed = sorted(p.name for p in (out / "partial").iterdir())
    calls.clear()
    lazy.read = lambda i: (calls.append(i), real_read(i))[1]
    prepare_cache(lazy, out, progress=False, chunk_size=16)
    n = 61  # 60 generated + the bodiless file (read, then skipped)
    if fail_at == 20:   # index chunk 0 (16 entries) was committed: pass 1 reads 45, pass 2 all 60
        assert "index_00000.json" in committed and len(calls) == (n - 16) + 60
    else:               # pass 1 done (61 reads), chunk 0 (16) of pass 2 committed: 44 more reads
        assert "chunk_00000.done" in committed and len(calls) == 60 - 16
    for name in ("joints.f16", "index.npy", "index.json"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()


def test_resume_after_sigkill(ntu_root, tmp_path):
    """A real kill -9 in the middle of pass 2, then a rerun: the same bytes as a clean run."""
    out = tmp_path / "killed"
    script = (f"import time\nfrom zeroskel.data import cache\nfrom zeroskel.data.readers.ntu import open_ntu\n"
              f"real = cache._write_chunk\n"
              f"def slow(*a):\n    real(*a)\n    time.sleep(0.5)\n"
              f"cache._write_chunk = slow\n"
              f"cache.prepare_cache(open_ntu({str(ntu_root)!r}), {str(out)!r}, progress=False, chunk_size=8)\n")
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.time() + 120
        while not (out / "partial" / "chunk_00001.done").exists():
            assert proc.poll() is None and time.time() < deadline, "prepare ended before the kill"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "manifest.json").exists()
    prepare_cache(open_dataset("ntu60", ntu_root), out, progress=False, chunk_size=8)
    clean = prepare_cache(open_ntu(ntu_root), tmp_path / "clean", progress=False, chunk_size=8)
    for name in ("joints.f16", "index.npy", "index.json"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()
    assert len(load_cache(out, verify=True)) == 60


def test_progress_lines_with_eta_in_a_log(ntu_root, tmp_path, capsys):
    prepare_cache(open_ntu(ntu_root), tmp_path / "c", progress=True, chunk_size=16)
    err = capsys.readouterr().err  # not a terminal here: plain lines instead of a bar
    assert "index ntu60: 61/61 (100%)" in err and "write ntu60: 60/60 (100%)" in err
    assert err.count("ETA") >= 8  # a line a chunk here (each chunk is more than 5%)
