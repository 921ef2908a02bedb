"""The ``parts`` field of the side information and the slot sources built on it (parts, purls, pos)."""
from __future__ import annotations

import json

import pytest
import torch

from zeroskel.text.class_text import build_class_text, load_class_text, save_class_text
from zeroskel.text.encoders import get_text_encoder
from zeroskel.text.sideinfo import (PARTS, SideInfoError, SideInformation, load_shipped, load_side_info,
                                    save_side_info, validate)
from zeroskel.text.sources import SOURCE_SLOTS, slot_source_texts, source_slots, verb_noun

SHIPPED = {"utd-mhad": 27, "msr-action3d": 20, "utkinect": 10, "nw-ucla": 10}


def _with_parts(si: SideInformation) -> SideInformation:
    si.parts = {n: {p: f"{n} {p} moves" for p in PARTS} for n in si.class_names}
    return si


def test_parts_roundtrip_last_key_and_errors(tmp_path, side_info):
    path = save_side_info(_with_parts(side_info), tmp_path / "si.json")
    obj = json.loads(path.read_text())
    assert all(list(c)[-1] == "parts" and list(c["parts"]) == list(PARTS) for c in obj["classes"])
    back = load_side_info(path)
    assert back.parts == side_info.parts and back.part_text("sit to stand", "legs") == "sit to stand legs moves"
    assert back.subset(["stand to sit"]).parts == {"stand to sit": side_info.parts["stand to sit"]}
    obj["classes"][1]["parts"].pop("feet")
    path.write_text(json.dumps(obj))
    with pytest.raises(SideInfoError, match=r"si.json: class 'sit to stand' field 'parts' has keys"):
        load_side_info(path)
    obj["classes"][1].pop("parts")
    path.write_text(json.dumps(obj))
    with pytest.raises(SideInfoError, match=r"'parts' is given for some classes but not for \['sit to stand'\]"):
        load_side_info(path)
    obj["classes"][0]["parts"]["head"] = " "
    obj["classes"][1]["parts"] = dict(obj["classes"][0]["parts"])
    path.write_text(json.dumps(obj))
    with pytest.raises(SideInfoError, match="entry 'head' must be a non-empty string"):
        load_side_info(path)


@pytest.mark.parametrize("dataset", list(SHIPPED))
def test_shipped_parts_are_complete_and_discriminative(dataset):
    si = validate(load_shipped(dataset))
    assert len(si.parts) == SHIPPED[dataset] == len(si)
    # classes differ: no two classes share all six part descriptions, and each part text is short
    combos = {tuple(si.parts[n][p] for p in PARTS) for n in si.class_names}
    assert len(combos) == len(si)
    assert all(2 <= len(si.parts[n][p].split()) <= 30 for n in si.class_names for p in PARTS)


def test_slot_sources_shapes_and_content(side_info, counting):
    si = _with_parts(side_info)
    enc = counting(get_text_encoder("hashing:32"))
    parts = build_class_text(si, enc, source="parts")
    assert parts.shape == (7, 3, 1, 32) and source_slots("parts") == PARTS + ("name",)
    purls = build_class_text(si, enc, source="purls")
    assert purls.shape == (8, 3, 3, 32)
    full = build_class_text(si, enc)
    assert torch.equal(purls[4:7], full[3:6])                       # the temporal phases
    assert torch.equal(purls[7], full[0])                           # global = whole-body descriptions
    hands = slot_source_texts("purls", si, "sit to stand")[1]
    assert hands == ["sit to stand hands moves sit to stand arms moves"] * 3
    pos = build_class_text(si, enc, source="pos")
    assert pos.shape == (6, 3, 1, 32)
    with pytest.raises(SideInfoError, match="has no 'parts' descriptions"):
        build_class_text(side_info.__class__(side_info.classes), enc, source="parts")
    assert verb_noun(None, "right hand wave") == ("wave", "right hand", False)
    assert verb_noun(None, "sitDown") == ("sit", "down", False)
    assert verb_noun(None, "walk") == ("walk", "walk", False)


def test_verb_noun_reads_a_field_when_present(side_info):
    side_info.phrases = {"right hand wave": {"verb": "wave", "noun": "right hand"}}
    assert verb_noun(side_info, "right hand wave") == ("wave", "right hand", True)
    assert verb_noun(side_info, "stand to sit")[2] is False


def test_slot_class_text_saves_its_slot_names(tmp_path, side_info):
    si = _with_parts(side_info)
    ct = build_class_text(si, get_text_encoder("hashing:16"), source="purls")
    path = save_class_text(ct, si.class_names, tmp_path / "ct.safetensors", source="purls")
    tensor, meta = load_class_text(path)
    assert torch.equal(tensor, ct) and meta["phases"] == list(SOURCE_SLOTS["purls"])
