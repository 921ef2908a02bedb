from __future__ import annotations

import json

import pytest

from zeroskel.text.sideinfo import PHASES, SideInfoError
from zeroskel.text.sources import SOURCES, humanize_class_name, make_source, slot_source_texts


def test_humanize():
    assert humanize_class_name("sitDown") == "sit down"
    assert humanize_class_name("waveHands") == "wave hands"
    assert humanize_class_name("right hand draw circle (clockwise)") == "right hand draw circle (clockwise)"
    assert humanize_class_name("make OK sign") == "make OK sign"


def test_manual_from_names_and_side_info(side_info):
    m = make_source("manual", ["sitDown", "walk"])
    assert m.class_names == ["sitDown", "walk"] and m.num_descriptions == 1
    assert all(m.texts("sitDown", p) == ["sit down"] for p in PHASES)
    m2 = make_source("manual", side_info)
    assert m2.class_names == side_info.class_names and m2.dataset == "toy"
    assert m2.texts("sit to stand", "temporal_end") == ["sit to stand"]


def test_one_turn(tmp_path, side_info):
    o = make_source("one-turn", side_info)
    assert o.num_descriptions == 1
    assert all(o.texts("stand to sit", p) == ["stand to sit spatial coarse variant 0"] for p in PHASES)
    table = {"walk": "a person walks forward", "carry": "a person walks holding a box"}
    path = tmp_path / "one_turn.json"
    path.write_text(json.dumps(table))
    for given in (table, path, str(path)):
        o2 = make_source("one-turn", ["carry", "walk"], descriptions=given)
        assert o2.class_names == ["carry", "walk"]
        assert o2.texts("walk", "temporal_middle") == ["a person walks forward"]
    with pytest.raises(SideInfoError, match=r"one_turn.json.*\['jump'\]"):
        make_source("one-turn", ["walk", "jump"], descriptions=path)
    with pytest.raises(ValueError, match="needs side information"):
        make_source("one-turn", ["walk"])


def test_side_info_and_unknown(side_info):
    assert SOURCES == ("manual", "one-turn", "side-info", "parts", "purls", "pos")
    assert make_source("side-info", side_info) is side_info
    with pytest.raises(ValueError, match="needs side information"):
        make_source("side-info", ["walk"])
    with pytest.raises(ValueError, match="unknown semantic source 'llm'"):
        make_source("llm", side_info)


def test_pos_source_reads_phrases_and_logs_the_fallback(side_info, caplog):
    side_info.phrases = {"sit to stand": {"verb": "stand up", "noun": "chair"}}
    assert make_source("pos", side_info) is side_info  # a slot source: its texts come from slot_source_texts
    with caplog.at_level("WARNING", logger="zeroskel"):
        texts = {n: slot_source_texts("pos", side_info, n) for n in side_info.class_names}
    assert texts["sit to stand"] == [["stand up"], ["chair"]] + [["sit to stand"]] * 4
    # no phrases: the name split (verb = its action word), and the log names the class
    assert texts["stand to sit"][:2] == [["stand"], ["to sit"]] and texts["stand to sit"][2:] == [["stand to sit"]] * 4
    assert "'stand to sit' has no verb / noun phrases" in caplog.text and "'sit to stand' has no" not in caplog.text


def test_pos_source_on_every_shipped_dataset():
    from zeroskel.text.sideinfo import list_shipped, load_shipped

    for dataset in ("utd-mhad", "msr-action3d", "utkinect", "nw-ucla"):
        assert dataset in list_shipped()
        si = load_shipped(dataset)
        assert set(si.phrases) == set(si.class_names), dataset
        pairs = {tuple(t[0] for t in slot_source_texts("pos", si, n)[:2]) for n in si.class_names}
        assert len(pairs) == len(si.class_names), f"{dataset}: two classes share a (verb, noun) pair"
