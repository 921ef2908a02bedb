"""An on-disk embedding cache keyed by encoder id and sha256 of the text.

Layout: ``<cache_dir>/<encoder id, made file-safe>-<hash>/shard-<n>-<random>.safetensors``; every shard holds one
tensor ``embeddings`` (N, D) and, in its metadata, the JSON list of the N text hashes and the encoder id.
New embeddings go into a new shard written atomically (temp file + os.replace), so concurrent or interrupted
writers never leave a half-written file; many small shards are merged into one by ``compact()``.

The cache is only a cache: a shard that cannot be read (truncated, corrupt, another encoder's) is
dropped with a warning naming it and its texts are embedded again; a cache folder that cannot be
written (read-only, a full disk) keeps the new embeddings in memory, with one warning.

    enc = CachedEncoder(get_text_encoder("minilm"), "~/.cache/zeroskel/text")
    enc.encode(texts)   # embeds only texts never seen before with this encoder
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from zeroskel.text.encoders import TextEncoder, _check_texts

COMPACT_AFTER = 32  # shards


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encoder_dirname(encoder_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id)[:60]
    return f"{safe}-{hashlib.sha256(encoder_id.encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """Embeddings of one encoder, on disk.

    Args:
        cache_dir: root folder (shared by encoders).
        encoder_id: the encoder's stable ``id``.
    """

    def __init__(self, cache_dir: str | os.PathLike, encoder_id: str):
        self.encoder_id = encoder_id
        self.dir = Path(cache_dir).expanduser() / _encoder_dirname(encoder_id)
        self._table: dict[str, torch.Tensor] = {}
        self._seen_shards: set[str] = set()
        self.read_only = False  # set when a write failed: new embeddings stay in memory
        self.reload()

    def _shards(self) -> list[Path]:
        return sorted(self.dir.glob("shard-*.safetensors")) if self.dir.is_dir() else []

    def reload(self) -> None:
        """Read shards written since the last read (by this or another process)."""
        for shard in self._shards():
            if shard.name in self._seen_shards:
                continue
            try:
                keys, emb = self._read_shard(shard)
            except ValueError as e:  # a bad shard is dropped: its texts are embedded again
                warnings.warn(f"text cache: dropping {shard}: {e}; its embeddings will be recomputed",
                              stacklevel=2)
                if not self.read_only:
                    shard.unlink(missing_ok=True)
                self._seen_shards.add(shard.name)
                continue
            for k, row in zip(keys, emb):
                self._table.setdefault(k, row)
            self._seen_shards.add(shard.name)

    def _read_shard(self, shard: Path) -> tuple[list[str], torch.Tensor]:
        """(text keys, embeddings (N, D)) of one shard; ValueError saying what is wrong with it."""
        try:
            with safe_open(str(shard), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("encoder_id") != self.encoder_id:
                    raise ValueError(f"written for encoder {meta.get('encoder_id')!r}, not {self.encoder_id!r}")
                keys = json.loads(meta["keys"])
                emb = f.get_tensor("embeddings")
        except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"unreadable, truncated or corrupt ({type(e).__name__}: {e})") from None
        if not isinstance(keys, list) or emb.dim() != 2 or emb.shape[0] != len(keys):
            raise ValueError(f"{emb.shape[0] if emb.dim() else 0} embeddings for "
                             f"{len(keys) if isinstance(keys, list) else 'no'} keys")
        if not torch.isfinite(emb).all():
            raise ValueError("holds non-finite embeddings")
        return keys, emb

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._table

    def get(self, text: str) -> torch.Tensor | None:
        return self._table.get(text_key(text))

    def _write_shard(self, keys: list[str], emb: torch.Tensor) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"shard-{len(self._shards()):06d}-{uuid.uuid4().hex[:8]}.safetensors"
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        try:
            save_file({"embeddings": emb.detach().float().cpu().contiguous()}, tmp,
                      metadata={"encoder_id": self.encoder_id, "keys": json.dumps(keys)})
            os.replace(tmp, self.dir / name)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._seen_shards.add(name)
        return self.dir / name

    def put(self, texts: Sequence[str], embeddings: torch.Tensor) -> None:
        """Store embeddings (N, D) of ``texts`` (already-cached texts are skipped)."""
        texts = _check_texts(texts)
        if embeddings.shape[0] != len(texts):
            raise ValueError(f"{len(texts)} texts but {embeddings.shape[0]} embeddings")
        keys, rows = [], []
        for t, row in zip(texts, embeddings):
            k = text_key(t)
            if k not in self._table and k not in keys:
                keys.append(k)
                rows.append(row)
        if not keys:
            return
        emb = torch.stack(rows).float()  # (n_new, D)
        for k, row in zip(keys, emb):
            self._table[k] = row
        if self.read_only:
            return
        try:
            self._write_shard(keys, emb)
            if len(self._shards()) > COMPACT_AFTER:
                self.compact()
        except OSError as e:
            self.read_only = True
            warnings.warn(f"text cache {self.dir} cannot be written ({e.strerror or e}); embeddings are kept "
                          "in memory for this process only", stacklevel=2)

    def compact(self) -> None:
        """Merge all shards into one (written before the old ones are removed)."""
        self.reload()
        old = self._shards()
        if len(old) <= 1:
            return
        keys = list(self._table)
        merged = self._write_shard(keys, torch.stack([self._table[k] for k in keys]))
        for shard in old:
            if shard != merged:
                shard.unlink(missing_ok=True)
        self._seen_shards = {merged.name}


class CachedEncoder:
    """Wraps a ``TextEncoder`` so that each distinct text is embedded once, ever, per encoder id.

    Args:
        encoder: the encoder to wrap.
        cache_dir: cache root folder.
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike):
        self.encoder = encoder
        self.id = encoder.id
        self.dim = encoder.dim
        self.cache = EmbeddingCache(cache_dir, encoder.id)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        texts = _check_texts(texts)
        self.cache.reload()
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))  # unique, in order
        if todo:
            self.cache.put(todo, self.encoder.encode(todo).float())
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self.cache.get(t) for t in texts]).clone()  # (N, D)

    def __repr__(self) -> str:
        return f"CachedEncoder({self.encoder!r}, dir={str(self.cache.dir)!r})"
