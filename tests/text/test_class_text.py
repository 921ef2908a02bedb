from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zeroskel.text.class_text import (
    ClassTextTable, build_class_embeddings, build_class_text, cumulative_phase_texts, load_class_text,
    load_precomputed_class_text, save_class_text, slot_texts,
)
from zeroskel.text.encoders import get_text_encoder
from zeroskel.text.sideinfo import PHASES, TEMPORAL_PHASES


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


# --- cumulative temporal text ------------------------------------------------------------------------------

def test_cumulative_phase_texts(side_info):
    slots = cumulative_phase_texts(side_info, "sit to stand")
    start, middle, end = (side_info.texts("sit to stand", p) for p in TEMPORAL_PHASES)
    assert [len(s) for s in slots] == [3, 3, 3]
    assert slots[0] == start
    assert slots[1][2] == "sit to stand temporal start variant 2 sit to stand temporal middle variant 2"
    assert slots[2] == [f"{s} {m} {e}" for s, m, e in zip(start, middle, end)]
    assert slot_texts(side_info, "sit to stand", "temporal_end", "cumulative") == slots[2]
    assert slot_texts(side_info, "sit to stand", "temporal_end") == end
    assert slot_texts(side_info, "sit to stand", "spatial_fine", "cumulative") == side_info.texts("sit to stand",
                                                                                                  "spatial_fine")
    with pytest.raises(ValueError, match="unknown temporal text mode 'prefix'"):
        slot_texts(side_info, "sit to stand", "temporal_end", "prefix")


def test_build_cumulative_minilm(side_info, minilm):
    """Spatial slots and temporal slot 0 as in phase mode; slots 1 and 2 embed the joined phase texts."""
    names = ["stand to sit", "right hand wave"]
    phase = build_class_text(side_info, minilm, names)
    cum = build_class_text(side_info, minilm, names, temporal="cumulative")
    assert cum.shape == phase.shape == (6, 2, 3, 384)
    assert torch.allclose(cum[:4], phase[:4], atol=1e-6)
    joined = cumulative_phase_texts(side_info, "right hand wave")
    for e, slot in enumerate((3, 4, 5)):
        expected = F.normalize(minilm.encode(joined[e]), dim=-1)  # (N_a, D)
        assert torch.allclose(cum[slot, 1], expected, atol=1e-5)
    assert (F.cosine_similarity(cum[5], phase[5], dim=-1) < 0.999).all()
    # one-text sources have nothing to accumulate
    manual = build_class_text(side_info, minilm, names, source="manual", temporal="cumulative")
    assert torch.equal(manual, build_class_text(side_info, minilm, names, source="manual"))
    with pytest.raises(ValueError, match="unknown temporal text mode"):
        build_class_text(side_info, minilm, names, temporal="windows")


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_save_load_temporal_mode(tmp_path, side_info, suffix):
    ct = build_class_text(side_info, get_text_encoder("hashing:8"), temporal="cumulative")
    path = save_class_text(ct, side_info.class_names, tmp_path / f"ct{suffix}", temporal="cumulative")
    assert load_class_text(path)[1]["temporal"] == "cumulative"
    default = save_class_text(ct, side_info.class_names, tmp_path / f"p{suffix}")
    assert load_class_text(default)[1]["temporal"] == "phase"
    with pytest.raises(ValueError, match="unknown temporal text mode"):
        save_class_text(ct, side_info.class_names, tmp_path / f"x{suffix}", temporal="stacked")
    old = tmp_path / "old.pt"  # written before the mode was recorded
    torch.save({"class_text": ct, "class_names": side_info.class_names}, old)
    assert load_class_text(old)[1]["temporal"] == "phase"


def test_precomputed_slot_table(tmp_path, side_info):
    """A class-text file is returned slot by slot, selected and ordered by name, normalised."""
    gen = torch.Generator().manual_seed(0)
    raw = torch.randn(6, 3, 3, 16, generator=gen)
    path = save_class_text(raw, side_info.class_names, tmp_path / "ct.safetensors", temporal="cumulative",
                           encoder_id="official:test")
    table = get_text_encoder(f"precomputed:{path}")
    assert isinstance(table, ClassTextTable) and table.temporal == "cumulative" and table.dim == 16
    assert table.encoder_id == "official:test" and table.id.startswith("precomputed-slots:")
    order = ["stand to sit", "right hand wave"]
    ct = build_class_text(side_info, table, order, cache_dir=tmp_path / "cache")
    assert torch.allclose(ct, F.normalize(raw[:, [2, 0]], dim=-1), atol=1e-6)
    assert not (tmp_path / "cache").exists()  # nothing is encoded
    assert torch.equal(build_class_text(None, table, order), ct)
    sub = build_class_text(side_info, table, order, phases=("temporal_end", "spatial_coarse"))
    assert torch.equal(sub, ct[[5, 0]])
    tensor, mode = load_precomputed_class_text(path, order)
    assert mode == "cumulative" and torch.equal(tensor, ct)
    with pytest.raises(ValueError, match=r"1 classes not in the precomputed class text: \['jump'\]"):
        load_precomputed_class_text(path, ["jump"])
    with pytest.raises(ValueError, match="holds cumulative temporal text, but phase was asked for"):
        load_precomputed_class_text(path, order, temporal="phase")
    same = ClassTextTable(raw, side_info.class_names, temporal="cumulative")
    assert same.id == table.id  # the id follows the content, not the file
    assert ClassTextTable(raw, side_info.class_names, temporal="phase").id != table.id
    with pytest.raises(ValueError, match="does not match 6 phases and 2 classes"):
        ClassTextTable(raw, ["a", "b"], temporal="phase")


def test_not_a_class_text_file(tmp_path):
    from safetensors.torch import save_file

    save_file({"weights": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ValueError, match="w.safetensors: not a class-text file"):
        load_class_text(tmp_path / "w.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(ValueError, match="junk.safetensors: not a readable class-text file"):
        get_text_encoder(f"precomputed:{tmp_path / 'junk.safetensors'}")
