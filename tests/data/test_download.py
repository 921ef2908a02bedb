"""Dataset download: a local HTTP server serves zips built from a few real UTD-MHAD files."""
from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from zeroskel.data.download import (
    SOURCES,
    DownloadError,
    download_dataset,
    load_checksums,
    verify_files,
)

FEW = ["a1_s1_t1_skeleton.mat", "a2_s3_t2_skeleton.mat", "a27_s8_t3_skeleton.mat"]


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (path -> bytes); honours ``Range: bytes=N-`` when ``ranges`` is set."""

    files: dict[str, bytes] = {}
    ranges = False
    log: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802
        self.log.append((self.path, self.headers.get("Range")))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if self.ranges and rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    Handler.files, Handler.ranges, Handler.log = {}, False, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Handler
    httpd.shutdown()
    httpd.server_close()


def real_files(utd_root: Path) -> dict[str, bytes]:
    return {f"Skeleton/{name}": (utd_root / "Skeleton" / name).read_bytes() for name in FEW}


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def sums_of(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_download_extract_verify(utd_root, server, tmp_path):
    base, handler = server
    files = real_files(utd_root)
    handler.files["/Skeleton.zip"] = make_zip(files)
    dest = tmp_path / "utd"
    root = download_dataset("utd-mhad", dest, url=f"{base}/Skeleton.zip", progress=False,
                            checksums=sums_of(files))
    assert root == dest
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data
    assert not (dest / "Skeleton.zip").exists() and not list(dest.glob(".*"))
    assert len(handler.log) == 1
    download_dataset("utd-mhad", dest, url=f"{base}/Skeleton.zip", progress=False,
                     checksums=sums_of(files))
    assert len(handler.log) == 1  # verified files already there: nothing fetched


def test_flat_archive_is_placed(utd_root, server, tmp_path):
    base, handler = server
    files = real_files(utd_root)
    handler.files["/Skeleton.zip"] = make_zip({Path(k).name: v for k, v in files.items()})
    dest = download_dataset("utd-mhad", tmp_path / "utd", url=f"{base}/Skeleton.zip",
                            progress=False, checksums=sums_of(files))
    assert (dest / "Skeleton" / FEW[0]).read_bytes() == files[f"Skeleton/{FEW[0]}"]


def test_corrupted_file_fails(utd_root, server, tmp_path):
    base, handler = server
    files = real_files(utd_root)
    sums = sums_of(files)
    bad = dict(files)
    data = bytearray(bad[f"Skeleton/{FEW[1]}"])
    data[200] ^= 0xFF
    bad[f"Skeleton/{FEW[1]}"] = bytes(data)
    handler.files["/Skeleton.zip"] = make_zip(bad)
    with pytest.raises(DownloadError, match=f"1 of 3 files failed verification: "
                                            f"Skeleton/{FEW[1]}: sha256"):
        download_dataset("utd-mhad", tmp_path / "utd", url=f"{base}/Skeleton.zip",
                         progress=False, checksums=sums)
    missing = {k: v for k, v in files.items() if FEW[2] not in k}
    handler.files["/Skeleton.zip"] = make_zip(missing)
    (tmp_path / "utd2").mkdir()
    with pytest.raises(DownloadError, match=f"Skeleton/{FEW[2]}: missing"):
        download_dataset("utd-mhad", tmp_path / "utd2", url=f"{base}/Skeleton.zip",
                         progress=False, checksums=sums)


def test_404(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match=r"downloading .*/nothing.zip failed: HTTP 404"):
        download_dataset("utd-mhad", tmp_path / "utd", url=f"{base}/nothing.zip",
                         progress=False, checksums={"Skeleton/x.mat": "0" * 64})
    assert not (tmp_path / "utd" / "Skeleton.zip").exists()


def test_resume_partial_download(utd_root, server, tmp_path):
    base, handler = server
    files = real_files(utd_root)
    blob = make_zip(files)
    handler.files["/Skeleton.zip"] = blob
    handler.ranges = True
    dest = tmp_path / "utd"
    dest.mkdir()
    (dest / "Skeleton.zip.part").write_bytes(blob[:1000])  # an interrupted earlier run
    download_dataset("utd-mhad", dest, url=f"{base}/Skeleton.zip", progress=False,
                     checksums=sums_of(files))
    assert handler.log == [("/Skeleton.zip", "bytes=1000-")]
    assert (dest / f"Skeleton/{FEW[0]}").read_bytes() == files[f"Skeleton/{FEW[0]}"]


def test_unsafe_archive_and_unknown_dataset(server, tmp_path):
    base, handler = server
    handler.files["/Skeleton.zip"] = make_zip({"../evil.mat": b"x"})
    with pytest.raises(DownloadError, match="unsafe path '../evil.mat'"):
        download_dataset("utd-mhad", tmp_path / "utd", url=f"{base}/Skeleton.zip",
                         progress=False, checksums={"Skeleton/x.mat": "0" * 64})
    assert not (tmp_path / "evil.mat").exists()
    with pytest.raises(DownloadError, match="no download source for dataset 'ntu60'"):
        download_dataset("ntu60", tmp_path / "ntu")


def test_shipped_manifest_matches_real_files(utd_root):
    sums = load_checksums("utd-mhad")
    assert len(sums) == 861 and all(k.startswith("Skeleton/") for k in sums)
    on_disk = {p.relative_to(utd_root).as_posix() for p in utd_root.glob("Skeleton/*.mat")}
    assert set(sums) == on_disk
    verify_files(utd_root, sums)
    assert SOURCES["utd-mhad"].url.endswith("/Skeleton.zip")
