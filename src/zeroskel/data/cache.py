"""A prepared, memory-mappable cache of a whole dataset.

Layout of a finished cache folder::

    joints.f16      every sample's joints, float16, C order, concatenated in sample order
    index.npy       int64 (N, 6): offset (in values), M, T, V, label, subject
    index.json      per sample: name, meta, source (same order)
    manifest.json   format, dataset, class names, layout, skipped, counts, and the size and sha256
                    of each file above; written last, so its presence marks a finished cache

:func:`load_cache` returns samples whose ``joints`` are float16 ``np.memmap`` views of shape
(M, T, V, 3), so an NTU-sized dataset never sits in RAM.

Preparing streams the samples in two passes (memory bounded by the index, whatever the dataset
size; a :class:`~zeroskel.data.sample.LazyDataset` reads one sample at a time). Pass 1 reads every
sample for its shape, label and meta and commits them chunk by chunk (``partial/index_NNNNN.json``).
Pass 2 preallocates the joints file at its final size, reads the samples again and fills it chunk by
chunk; a chunk is committed by a small ``chunk_NNNNN.done`` file written after its data is flushed.
An interrupted run (a kill, a full disk) resumes from the committed chunks of either pass if the
plan, i.e. the dataset's entry names and the chunk size, is unchanged. Re-running on a finished
cache of the same dataset is a no-op.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from zeroskel.config import sha256_file
from zeroskel.data.sample import LazyDataset, SkeletonDataset, SkeletonSample, Skipped

FORMAT = "zeroskel-cache/1"
JOINTS_FILE = "joints.f16"
INDEX_NPY = "index.npy"
INDEX_JSON = "index.json"
MANIFEST = "manifest.json"
PARTIAL = "partial"
PLAN = "plan.json"
_FLOAT16_MAX = float(np.finfo(np.float16).max)


class CacheError(RuntimeError):
    """A cache folder that is missing, unfinished, corrupt or does not match its manifest."""


# --------------------------------------------------------------------------------------------
# small file helpers


def _named(path: Path, err: OSError) -> OSError:
    """``err`` with a message naming ``path`` (a full disk, a read-only folder)."""
    if err.filename == str(path):
        return err
    return OSError(err.errno, f"cannot write {path}: {err.strerror or err} (free space or choose another "
                              "folder; run the command again to resume)", str(path))


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _named(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise _named(path, e) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    _write_atomic(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def _json_safe(value: Any, where: str) -> Any:
    """``value`` with numpy scalars/arrays made plain; anything else unserialisable is an error."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, where) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"{where}: {type(value).__name__} value cannot be stored in the cache index")


def _names_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()


class _LogProgress:
    """Progress as plain lines (``desc: done/total (pct), elapsed, ETA``) about every 5% of the
    work, for a run whose stderr is a log file rather than a terminal."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.next = total, desc, 0, 0.05
        self.t0 = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        frac = self.done / max(self.total, 1)
        if frac >= self.next or self.done == self.total:
            elapsed = time.monotonic() - self.t0
            eta = elapsed * (1 - frac) / max(frac, 1e-9)
            print(f"{self.desc}: {self.done}/{self.total} ({frac:.0%}), {elapsed / 60:.1f} min, "
                  f"ETA {eta / 60:.1f} min", file=sys.stderr, flush=True)
            self.next = frac + 0.05

    def __enter__(self) -> "_LogProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar (with ETA) on a terminal, ETA lines in a log, nothing when not ``enabled``."""
    from tqdm import tqdm

    if enabled and not sys.stderr.isatty():
        return _LogProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled)


# --------------------------------------------------------------------------------------------
# prepare


def _check_joints(name: str, joints: np.ndarray) -> list[int]:
    """The shape of a sample's joints as a list; ValueError naming the sample when unusable."""
    if joints.ndim != 4 or joints.shape[-1] != 3:
        raise ValueError(f"sample {name}: joints have shape {joints.shape}, expected (M, T, V, 3)")
    return [int(d) for d in joints.shape]


def _finished(out_dir: Path, dataset: LazyDataset) -> bool:
    """True when ``out_dir`` already holds a finished cache of this dataset (same entries)."""
    try:
        manifest = read_manifest(out_dir)
    except CacheError:
        return False
    for name, entry in manifest["files"].items():
        path = out_dir / name
        if not path.is_file() or path.stat().st_size != entry["size"]:
            return False
    return (manifest["dataset"] == dataset.name
            and manifest.get("entries_sha256") == _names_digest(dataset.entries)
            and manifest["class_names"] == list(dataset.class_names)
            and manifest["layout"] == dataset.layout)


def _write_chunk(joints_path: Path, samples: list[SkeletonSample], offset: int) -> None:
    """Write ``samples`` as float16 into the preallocated joints file, starting at ``offset``."""
    parts = []
    for s in samples:
        joints = np.asarray(s.joints)
        if not np.isfinite(joints).all():
            raise ValueError(f"sample {s.name}: joints have NaN/inf values")
        if np.abs(joints).max(initial=0) > _FLOAT16_MAX:
            raise ValueError(f"sample {s.name}: joints exceed the float16 range")
        parts.append(joints.astype(np.float16).ravel())
    data = np.concatenate(parts) if parts else np.zeros(0, np.float16)
    try:
        with open(joints_path, "r+b") as f:
            f.seek(offset * 2)  # float16 = 2 bytes
            f.write(data.tobytes())
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:  # the chunk stays uncommitted (no .done file): a rerun writes it again
        raise _named(joints_path, e) from None


def _index_pass(dataset: LazyDataset, partial: Path, chunk_size: int, progress: bool
                ) -> list[dict[str, Any]]:
    """Pass 1: read every entry once, keep its index row (shape, label, ...), drop its joints.

    Each chunk of entries is committed as ``index_NNNNN.json``; a rerun reuses committed chunks.
    Entries the reader rejects (``ValueError``) become ``{"skipped": reason}`` rows.
    """
    rows: list[dict[str, Any]] = []
    n = len(dataset.entries)
    with _progress(n, f"index {dataset.name}", progress) as bar:
        for c, lo in enumerate(range(0, n, chunk_size)):
            hi = min(lo + chunk_size, n)
            path = partial / f"index_{c:05d}.json"
            chunk = None
            if path.is_file():
                try:
                    chunk = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    chunk = None
            if not isinstance(chunk, list) or len(chunk) != hi - lo:
                chunk = []
                for i in range(lo, hi):
                    try:
                        s = dataset.read(i)
                    except ValueError as err:  # the reader's verdict: skipped, as the eager readers do
                        chunk.append({"name": dataset.entries[i], "skipped": str(err)})
                        continue
                    chunk.append({"entry": i, "name": s.name,
                                  "shape": _check_joints(s.name, np.asarray(s.joints)),
                                  "label": int(s.label), "subject": int(s.subject),
                                  "meta": _json_safe(s.meta, f"sample {s.name}: meta"),
                                  "source": str(s.source)})
                    del s  # only the index row stays in memory
                _write_json(path, chunk)
            rows.extend(chunk)
            bar.update(hi - lo)
    return rows


def prepare_cache(dataset: SkeletonDataset | LazyDataset, out_dir: str | Path, *,
                  progress: bool = True, chunk_size: int = 512) -> Path:
    """Write ``dataset`` into a memory-mappable cache folder (see the module docstring).

    Two passes over the samples, so memory stays bounded by the index whatever the dataset size:
    pass 1 reads each sample to learn its shape (the index), pass 2 reads it again and writes its
    joints into the preallocated ``joints.f16``. Both passes commit chunk by chunk under
    ``partial/``, so a killed run resumes where it stopped.

    Args:
        dataset: the samples to store (any layout; joints (M, T, V, 3)); a :class:`LazyDataset`
            (e.g. :func:`zeroskel.data.readers.open_dataset`) is read one sample at a time.
        out_dir: the cache folder (created).
        progress: show progress bars with an ETA (only on a terminal).
        chunk_size: samples per committed chunk (the unit an interrupted run resumes from).

    Returns the cache folder. A finished cache of the same dataset is left untouched.
    """
    if isinstance(dataset, SkeletonDataset):
        dataset = LazyDataset.from_dataset(dataset)
    out_dir = Path(out_dir)
    if _finished(out_dir, dataset):
        return out_dir
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # an old, different cache is no longer finished

    partial = out_dir / PARTIAL
    plan = {"format": FORMAT, "dataset": dataset.name, "num_entries": len(dataset.entries),
            "entries_sha256": _names_digest(dataset.entries), "chunk_size": chunk_size}
    old_plan = None
    if (partial / PLAN).is_file():
        try:
            old_plan = json.loads((partial / PLAN).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old_plan = None
    if old_plan != plan:
        shutil.rmtree(partial, ignore_errors=True)
        try:
            partial.mkdir(parents=True)
        except OSError as e:
            raise _named(partial, e) from None
        _write_json(partial / PLAN, plan)

    # pass 1: the index (shapes, labels, meta) of every usable sample
    rows = _index_pass(dataset, partial, chunk_size, progress)
    kept = [r for r in rows if "skipped" not in r]
    skipped = list(dataset.skipped) + [Skipped(r["name"], r["skipped"]) for r in rows
                                       if "skipped" in r]
    sizes = np.array([int(np.prod(r["shape"])) for r in kept], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # (N + 1,) in values
    total = int(offsets[-1])

    # pass 2: preallocate the joints file once, then fill it chunk by chunk
    joints_path = partial / JOINTS_FILE
    if not joints_path.is_file() or joints_path.stat().st_size != total * 2:
        for done in partial.glob("chunk_*.done"):
            done.unlink()
        try:
            with open(joints_path, "wb") as f:
                f.truncate(total * 2)  # preallocated (sparse), float16
        except OSError as e:
            raise _named(joints_path, e) from None
    with _progress(len(kept), f"write {dataset.name}", progress) as bar:
        for c, lo in enumerate(range(0, len(kept), chunk_size)):
            hi = min(lo + chunk_size, len(kept))
            done = partial / f"chunk_{c:05d}.done"
            if not done.is_file():
                samples = []
                for r in kept[lo:hi]:
                    s = dataset.read(r["entry"])
                    if _check_joints(s.name, np.asarray(s.joints)) != r["shape"]:
                        raise ValueError(f"sample {s.name}: shape changed between the two passes "
                                         f"({r['shape']} then {list(s.joints.shape)}); is the "
                                         f"dataset folder being modified?")
                    samples.append(s)
                _write_chunk(joints_path, samples, int(offsets[lo]))
                del samples
                _write_json(done, {"chunk": c, "samples": [lo, hi]})
            bar.update(hi - lo)

    # finish: index, then move the joints into place, then the manifest (last)
    index = np.zeros((len(kept), 6), dtype=np.int64)  # offset, M, T, V, label, subject
    for i, r in enumerate(kept):
        index[i] = [offsets[i], *r["shape"][:3], r["label"], r["subject"]]
    _write_atomic(out_dir / INDEX_NPY, _npy_bytes(index))
    _write_json(out_dir / INDEX_JSON, [{"name": r["name"], "meta": r["meta"], "source": r["source"]}
                                       for r in kept])
    os.replace(joints_path, out_dir / JOINTS_FILE)
    files = {}
    for name in (JOINTS_FILE, INDEX_NPY, INDEX_JSON):
        path = out_dir / name
        files[name] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = {
        "format": FORMAT,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "layout": dataset.layout,
        "root": str(dataset.root),
        "num_samples": len(kept),
        "total_values": total,
        "names_sha256": _names_digest([r["name"] for r in kept]),
        "entries_sha256": plan["entries_sha256"],
        "skipped": [k.as_dict() for k in skipped],
        "files": files,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _write_json(out_dir / MANIFEST, manifest)
    shutil.rmtree(partial, ignore_errors=True)
    return out_dir


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# load


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished cache; :class:`CacheError` if missing or corrupt."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise CacheError(f"{Path(out_dir)}: no finished cache here ({MANIFEST} is missing; run "
                         f"`zeroskel data prepare`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CacheError(f"{path}: corrupt manifest ({err}); delete the folder and prepare "
                         f"again") from None
    required = ("format", "dataset", "class_names", "layout", "num_samples", "names_sha256",
                "skipped", "files")
    missing = [k for k in required if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise CacheError(f"{path}: corrupt manifest (missing {', '.join(missing)})")
    if manifest["format"] != FORMAT:
        raise CacheError(f"{path}: cache format {manifest['format']!r}, this version reads "
                         f"{FORMAT!r}; prepare it again")
    files = manifest["files"]
    if not isinstance(files, dict) or any(
            not isinstance(files.get(n), dict) or "size" not in files[n] or "sha256" not in files[n]
            for n in (JOINTS_FILE, INDEX_NPY, INDEX_JSON)):
        raise CacheError(f"{path}: corrupt manifest (file entries incomplete)")
    return manifest


def load_cache(out_dir: str | Path, *, verify: bool = False) -> SkeletonDataset:
    """Open a finished cache: samples hold float16 memmap views (M, T, V, 3) of ``joints.f16``.

    Args:
        out_dir: the cache folder written by :func:`prepare_cache`.
        verify: also check each file's sha256 (reads everything once); sizes are always checked.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    for name, entry in manifest["files"].items():
        path = out_dir / name
        if not path.is_file():
            raise CacheError(f"{out_dir}: {name} is missing")
        size = path.stat().st_size
        if size != entry["size"]:
            raise CacheError(f"{path}: size {size} bytes, the manifest says {entry['size']}")
        if verify and sha256_file(path) != entry["sha256"]:
            raise CacheError(f"{path}: checksum does not match the manifest (corrupt file)")
    index = np.load(out_dir / INDEX_NPY, allow_pickle=False)  # (N, 6)
    entries = json.loads((out_dir / INDEX_JSON).read_text(encoding="utf-8"))
    n = manifest["num_samples"]
    if index.shape != (n, 6) or len(entries) != n:
        raise CacheError(f"{out_dir}: index holds {len(index)}/{len(entries)} samples, the "
                         f"manifest says {n}")
    total = (out_dir / JOINTS_FILE).stat().st_size // 2
    flat = (np.memmap(out_dir / JOINTS_FILE, dtype=np.float16, mode="r", shape=(total,))
            if total else np.zeros(0, np.float16))
    samples = []
    for (offset, M, T, V, label, subject), entry in zip(index.tolist(), entries):
        size = M * T * V * 3
        if offset + size > total:
            raise CacheError(f"{out_dir}: sample {entry['name']} lies beyond the end of "
                             f"{JOINTS_FILE}")
        joints = flat[offset: offset + size].reshape(M, T, V, 3)  # (M, T, V, 3) float16 view
        samples.append(SkeletonSample(name=entry["name"], joints=joints, label=label,
                                      subject=subject, meta=entry["meta"],
                                      source=entry["source"]))
    return SkeletonDataset(name=manifest["dataset"], class_names=manifest["class_names"],
                           layout=manifest["layout"], samples=samples,
                           skipped=[Skipped(k["sample"], k["reason"]) for k in manifest["skipped"]],
                           root=manifest.get("root", ""))
