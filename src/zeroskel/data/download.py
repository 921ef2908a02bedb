"""Download a dataset from its official source and verify it against a shipped checksum manifest.

Only datasets whose owners publish a direct download are listed (UTD-MHAD). The archive is streamed
with ``urllib`` to ``<dest>/<archive>.part`` (an interrupted download resumes with an HTTP Range
request when the server allows it, else starts over) and renamed into place when complete. It is
then unpacked into a staging folder, the expected files are moved to their places under ``dest``,
and each is checked against ``zeroskel/data/checksums/<dataset>.json`` ({relative path: sha256}).
A mismatch or a missing file raises :class:`DownloadError` naming the file.

Nothing here runs on its own: downloading happens only when a user asks for it.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from zeroskel.config import sha256_file


@dataclass(frozen=True)
class DownloadSource:
    url: str            # official download address
    archive: str        # file name of the archive
    checksums: str      # manifest file in zeroskel/data/checksums
    note: str           # where the address comes from, and terms


SOURCES: dict[str, DownloadSource] = {
    "utd-mhad": DownloadSource(
        url="https://www.utdallas.edu/~kehtar/UTD-MAD/Skeleton.zip",
        archive="Skeleton.zip",
        checksums="utd-mhad.json",
        note="The Skeleton.zip link of the official UTD-MHAD page "
             "(https://www.utdallas.edu/~kehtar/UTD-MHAD.html, University of Texas at Dallas); "
             "unpacks to Skeleton/aA_sS_tT_skeleton.mat. Research use; cite Chen et al., "
             "ICIP 2015.",
    ),
}


class DownloadError(RuntimeError):
    """A download that failed, or files that do not match the checksum manifest."""


def load_checksums(name: str) -> dict[str, str]:
    """The shipped checksum manifest of dataset ``name``: {relative path: sha256}."""
    source = _source(name)
    text = resources.files("zeroskel.data").joinpath("checksums", source.checksums).read_text(
        encoding="utf-8")
    return json.loads(text)


def _source(name: str) -> DownloadSource:
    if name not in SOURCES:
        raise DownloadError(f"no download source for dataset {name!r}; downloadable: "
                            f"{', '.join(SOURCES)} (the others must be requested from their "
                            f"owners)")
    return SOURCES[name]


def verify_files(root: str | Path, checksums: dict[str, str]) -> None:
    """Check each file of ``checksums`` under ``root``; :class:`DownloadError` names bad ones."""
    root = Path(root)
    problems = []
    for rel, expected in sorted(checksums.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif (actual := sha256_file(path)) != expected:
            problems.append(f"{rel}: sha256 {actual} does not match the expected {expected}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                          if len(problems) > 5 else "")
        raise DownloadError(f"{root}: {len(problems)} of {len(checksums)} files failed "
                            f"verification: {shown}")


def _fetch(url: str, target: Path, *, progress: bool, timeout: float) -> None:
    """Stream ``url`` to ``target`` via ``target.part``, resuming a partial download if possible."""
    from tqdm import tqdm

    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "zeroskel"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the partial file does not fit the server's: start over
            part.unlink()
            return _fetch(url, target, progress=progress, timeout=timeout)
        raise DownloadError(f"downloading {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"downloading {url} failed: {getattr(err, 'reason', err)}") from None
    with response:
        resumed = have and response.status == 206
        length = response.headers.get("Content-Length")
        total = int(length) + (have if resumed else 0) if length is not None else None
        bar = tqdm(total=total, initial=have if resumed else 0, unit="B", unit_scale=True,
                   desc=target.name, disable=not progress or not sys.stderr.isatty())
        with bar, open(part, "ab" if resumed else "wb") as f:
            while block := response.read(1 << 16):
                f.write(block)
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"downloading {url} stopped early: {size} of {total} bytes (run "
                            f"again to resume)")
    os.replace(part, target)


def _extract(archive: Path, dest: Path, checksums: dict[str, str]) -> None:
    """Unpack ``archive`` and move the files of ``checksums`` to ``dest / <relative path>``.

    A file is found at its relative path inside the archive or, failing that, by its file name
    (archives sometimes lack or rename the top folder).
    """
    staging = Path(tempfile.mkdtemp(dir=dest, prefix=".extract-"))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    parts = PurePosixPath(member).parts
                    if member.startswith(("/", "\\")) or ".." in parts or ":" in member:
                        raise DownloadError(f"{archive}: unsafe path {member!r} in the archive")
                zf.extractall(staging)
        except zipfile.BadZipFile as err:
            archive.unlink(missing_ok=True)
            raise DownloadError(f"{archive}: not a valid zip archive ({err}); removed it, run "
                                f"again to download it anew") from None
        by_name: dict[str, Path] = {}
        for path in staging.rglob("*"):
            if path.is_file():
                by_name.setdefault(path.name, path)
        for rel in checksums:
            found = staging / rel
            if not found.is_file():
                found = by_name.get(PurePosixPath(rel).name)
            if found is None or not found.is_file():
                continue  # reported as missing by the verification
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(found, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_dataset(name: str, dest: str | Path, *, url: str | None = None,
                     progress: bool = True, checksums: dict[str, str] | None = None,
                     keep_archive: bool = False, timeout: float = 60.0) -> Path:
    """Download, unpack and verify dataset ``name`` into ``dest``; returns its root (``dest``).

    Args:
        name: a dataset with a public download (``utd-mhad``).
        dest: folder to put the dataset in (created); pass it as ``--root`` afterwards.
        url: another address for the same archive (a mirror); default the official one.
        progress: show a progress bar (only on a terminal).
        checksums: {relative path: sha256} to verify against; default the shipped manifest.
        keep_archive: keep the downloaded archive after a successful verification.
        timeout: seconds to wait for the server.

    Already present, verified files make this a no-op.
    """
    source = _source(name)
    sums = checksums if checksums is not None else load_checksums(name)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        verify_files(dest, sums)
        return dest  # already there
    except DownloadError:
        pass
    archive = dest / source.archive
    if not archive.is_file():
        _fetch(url or source.url, archive, progress=progress, timeout=timeout)
    _extract(archive, dest, sums)
    verify_files(dest, sums)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return dest
