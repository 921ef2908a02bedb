from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zeroskel.text.class_text import build_class_embeddings, build_class_text, load_class_text, save_class_text
from zeroskel.text.encoders import get_text_encoder
from zeroskel.text.sideinfo import PHASES


def test_shape_norm_and_content(side_info, minilm, counting):
    enc = counting(minilm)
    order = ["stand to sit", "right hand wave"]
    ct = build_class_text(side_info, enc, order)
    assert ct.shape == (6, 2, 3, 384) and ct.dtype == torch.float32
    assert torch.allclose(ct.norm(dim=-1), torch.ones(6, 2, 3), atol=1e-5)
    text = side_info.texts("right hand wave", "temporal_middle")[2]
    expected = F.normalize(minilm.encode([text]), dim=-1)[0]
    assert torch.allclose(ct[PHASES.index("temporal_middle"), 1, 2], expected, atol=1e-5)
    assert enc.texts_encoded == 6 * 2 * 3  # one batch, every distinct text once
    assert torch.equal(build_class_text(side_info, minilm, order), ct)  # pure


def test_phases_sources_and_dedup(side_info, counting):
    enc = counting(get_text_encoder("hashing:32"))
    ct = build_class_text(side_info, enc, phases=("temporal_start", "spatial_coarse"))
    assert ct.shape == (2, 3, 3, 32)
    full = build_class_text(side_info, enc)
    assert torch.equal(ct[0], full[3]) and torch.equal(ct[1], full[0])
    enc.calls.clear()
    manual = build_class_text(side_info, enc, source="manual")
    assert manual.shape == (6, 3, 1, 32) and enc.calls == [side_info.class_names]  # 3 names, embedded once
    assert build_class_text(side_info, enc, source="one-turn").shape == (6, 3, 1, 32)
    with pytest.raises(ValueError, match="unknown phases"):
        build_class_text(side_info, enc, phases=("spatial_xl",))


def test_cache_dir(tmp_path, side_info, counting):
    enc = counting(get_text_encoder("hashing:32"))
    a = build_class_text(side_info, enc, cache_dir=tmp_path)
    b = build_class_text(side_info, enc, cache_dir=tmp_path)
    assert len(enc.calls) == 1 and torch.equal(a, b)


def test_class_embeddings(minilm):
    texts = [["wave hand", "waving a hand"], ["sit down"]]
    emb = build_class_embeddings(texts, minilm)
    assert emb.shape == (2, 384)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-5)
    e = F.normalize(minilm.encode(["wave hand", "waving a hand"]), dim=-1)
    assert torch.allclose(emb[0], F.normalize(e.mean(0), dim=0), atol=1e-5)
    with pytest.raises(ValueError, match="class 1 has no texts"):
        build_class_embeddings([["a"], []], minilm)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_save_load(tmp_path, side_info, suffix):
    enc = get_text_encoder("hashing:8")
    ct = build_class_text(side_info, enc)
    path = save_class_text(ct, side_info.class_names, tmp_path / f"ct{suffix}", encoder_id=enc.id, dataset="toy")
    back, meta = load_class_text(path)
    assert torch.equal(back, ct) and meta["class_names"] == side_info.class_names
    assert meta["encoder"] == "hashing:8" and meta["phases"] == list(PHASES)
    with pytest.raises(ValueError, match="does not match"):
        save_class_text(ct, ["one"], tmp_path / "bad.pt")
