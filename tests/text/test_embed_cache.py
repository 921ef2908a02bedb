from __future__ import annotations

import torch

from zeroskel.text import embed_cache
from zeroskel.text.embed_cache import CachedEncoder, EmbeddingCache, text_key
from zeroskel.text.encoders import get_text_encoder


def test_second_call_does_not_encode(tmp_path, minilm, counting):
    inner = counting(minilm)
    enc = CachedEncoder(inner, tmp_path)
    texts = ["wave hand", "sit down", "wave hand"]
    first = enc.encode(texts)
    assert inner.calls == [["wave hand", "sit down"]]  # duplicates embedded once
    assert torch.allclose(first, minilm.encode(texts), atol=1e-6)
    again = enc.encode(["sit down", "wave hand"])
    assert len(inner.calls) == 1 and torch.equal(again, first[[1, 0]])
    # a fresh process (new wrapper, same folder) reads the shards: still no call; only new texts are embedded
    inner2 = counting(minilm)
    enc2 = CachedEncoder(inner2, tmp_path)
    assert torch.equal(enc2.encode(texts), first)
    enc2.encode(["stand up", "wave hand"])
    assert inner2.calls == [["stand up"]]


def test_keyed_by_encoder_id(tmp_path, counting):
    a, b = counting(get_text_encoder("hashing:16")), counting(get_text_encoder("hashing:32"))
    CachedEncoder(a, tmp_path).encode(["x y"])
    out = CachedEncoder(b, tmp_path).encode(["x y"])
    assert len(b.calls) == 1 and out.shape == (1, 32)
    assert len(list(tmp_path.iterdir())) == 2  # one folder per encoder id


def test_shards_atomic_and_compact(tmp_path, monkeypatch):
    monkeypatch.setattr(embed_cache, "COMPACT_AFTER", 3)
    cache = EmbeddingCache(tmp_path, "toy:1")
    for i in range(5):
        cache.put([f"text {i}"], torch.full((1, 4), float(i)))
        assert len(list(cache.dir.glob("shard-*.safetensors"))) <= 3
    assert not list(cache.dir.glob(".tmp-*"))
    fresh = EmbeddingCache(tmp_path, "toy:1")
    assert len(fresh) == 5 and torch.equal(fresh.get("text 3"), torch.full((4,), 3.0))
    assert "text 9" not in fresh and fresh.get("text 9") is None
    assert text_key("a") != text_key("b") and len(text_key("a")) == 64
