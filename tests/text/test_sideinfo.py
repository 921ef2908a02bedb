from __future__ import annotations

import json

import pytest

from zeroskel.text.sideinfo import (
    FORMAT, PHASES, SIDE_INFO_DIR_ENV, SideInfoError, SideInformation, list_shipped, load_shipped, load_side_info,
    save_side_info, validate,
)

SHIPPED = ["utd-mhad", "msr-action3d", "utkinect", "nw-ucla"]


def _write(tmp_path, obj, name="si.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_phases_order():
    assert PHASES == ("spatial_coarse", "spatial_mid", "spatial_fine",
                      "temporal_start", "temporal_middle", "temporal_end")


def test_save_load_roundtrip(tmp_path, side_info):
    path = save_side_info(side_info, tmp_path / "sub" / "toy.json")
    obj = json.loads(path.read_text())
    assert obj["format"] == FORMAT and obj["num_descriptions"] == 3 and obj["dataset"] == "toy"
    assert [c["name"] for c in obj["classes"]] == side_info.class_names
    back = load_side_info(path)
    assert back.classes == side_info.classes and back.source == "test" and back.origin == str(path)
    assert [p.name for p in path.parent.iterdir()] == ["toy.json"]  # no temp files left behind


def test_texts_and_subset(side_info):
    assert side_info.texts("sit to stand", "temporal_end")[1] == "sit to stand temporal end variant 1"
    sub = side_info.subset(["stand to sit", "right hand wave"])
    assert sub.class_names == ["stand to sit", "right hand wave"] and sub.num_descriptions == 3
    with pytest.raises(SideInfoError, match="jump"):
        side_info.subset(["jump"])
    with pytest.raises(KeyError, match="spatial_xl"):
        side_info.texts("sit to stand", "spatial_xl")


@pytest.mark.parametrize("mutate, match", [
    (lambda o: o["classes"][1].__setitem__("spatial_mid", ["a", "b"]), r"'sit to stand'.*'spatial_mid'.*2 descr"),
    (lambda o: o["classes"][2]["temporal_start"].__setitem__(0, "   "), r"'stand to sit'.*'temporal_start'.*empty"),
    (lambda o: o["classes"][0].__setitem__("spatial_extra", ["x"] * 3), r"'right hand wave'.*unknown.*spatial_extra"),
    (lambda o: o["classes"][0].pop("temporal_end"), r"'right hand wave'.*lacks.*'temporal_end'"),
    (lambda o: o.__setitem__("format", "other/2"), r"'format'"),
    (lambda o: o.__setitem__("num_descriptions", 7), r"num_descriptions"),
    (lambda o: o["classes"].append(dict(o["classes"][0])), r"twice"),
    (lambda o: o["classes"][1].__setitem__("phrases", {"verb": "stand up"}), r"'sit to stand'.*'phrases'.*'noun'"),
    (lambda o: o["classes"][1].__setitem__("phrases", {"verb": " ", "noun": "chair"}),
     r"'sit to stand'.*'phrases'.*'verb'.*non-empty"),
    (lambda o: o["classes"][0].__setitem__("phrases", "wave"), r"'right hand wave'.*'phrases'"),
    # version and history
    (lambda o: o.__setitem__("version", "2"), r"'version' must be an int, got '2'"),
    (lambda o: o.__setitem__("version", True), r"'version' must be an int"),
    (lambda o: o.__setitem__("history", {"version": 1}), r"'history' must be a list of objects, got dict"),
    (lambda o: o.__setitem__("history", ["v1"]), r"history\[0\] must be an object"),
    (lambda o: o.__setitem__("history", [{"version": 1}, {"version": "1"}]), r"history\[1\] field 'version'"),
    (lambda o: o.__setitem__("history", [{"source": 3}]), r"history\[0\] field 'source' must be a string"),
    (lambda o: o.__setitem__("history", [{"num_descriptions": 2.5}]), r"history\[0\] field 'num_descriptions'"),
])
def test_validation_errors_name_file_class_field(tmp_path, side_info, mutate, match):
    obj = side_info.to_json()
    mutate(obj)
    path = _write(tmp_path, obj)
    with pytest.raises(SideInfoError, match=match) as info:
        load_side_info(path)
    assert str(path) in str(info.value)


def test_phrases_round_trip_after_the_name(tmp_path, side_info):
    side_info.phrases = {"sit to stand": {"verb": "stand up", "noun": "chair"}}
    obj = side_info.to_json()
    assert list(obj["classes"][1])[:2] == ["name", "phrases"] and "phrases" not in obj["classes"][0]
    path = _write(tmp_path, obj)
    back = load_side_info(path)
    assert back.phrases == side_info.phrases
    assert back.subset(["stand to sit", "sit to stand"]).phrases == side_info.phrases
    assert back.subset(["stand to sit"]).phrases == {}
    side_info.phrases = {"jump": {"verb": "jump", "noun": "legs"}}
    with pytest.raises(SideInfoError, match="'jump', which has no descriptions"):
        validate(side_info)


def test_required_classes_and_min_descriptions(tmp_path, side_info):
    path = save_side_info(side_info, tmp_path / "toy.json")
    with pytest.raises(SideInfoError, match=r"missing.*'jump'"):
        load_side_info(path, ["sit to stand", "jump"])
    with pytest.raises(SideInfoError, match="at least 5"):
        load_side_info(path, min_descriptions=5)


def test_bad_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SideInfoError, match="bad.json: not valid JSON"):
        load_side_info(bad)
    with pytest.raises(SideInfoError, match="not found"):
        load_side_info(tmp_path / "nope.json")


def test_save_refuses_invalid(tmp_path, side_info):
    side_info.classes["sit to stand"]["spatial_fine"] = ["only one"]
    with pytest.raises(SideInfoError, match="spatial_fine"):
        save_side_info(side_info, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_load_shipped_override(tmp_path, monkeypatch, make_si):
    save_side_info(make_si(["walk", "carry"], n=5, dataset="mini"), tmp_path / "mini.json")
    assert list_shipped(tmp_path) == ["mini"]
    si = load_shipped("mini", directory=tmp_path)
    assert si.class_names == ["walk", "carry"] and si.num_descriptions == 5
    monkeypatch.setenv(SIDE_INFO_DIR_ENV, str(tmp_path))
    assert load_shipped("mini").classes == si.classes
    with pytest.raises(SideInfoError, match=r"'other'.*available: mini"):
        load_shipped("other")


def test_validate_in_memory_object():
    si = SideInformation({"a": {p: ["x"] for p in PHASES}, "b": {p: ["y", "z"] for p in PHASES}})
    with pytest.raises(SideInfoError, match=r"<memory>: class 'b'"):
        validate(si)


@pytest.mark.parametrize("dataset", SHIPPED)
def test_shipped_side_info(dataset):
    """The authored files in the package: every class of the dataset, in label order, N_a >= 5."""
    from zeroskel.data.class_names import BY_DATASET

    assert dataset in list_shipped()
    si = load_shipped(dataset)
    assert si.class_names == list(BY_DATASET[dataset])
    assert si.num_descriptions >= 5
    validate(si, list(BY_DATASET[dataset]), min_descriptions=5)
    for name in si.class_names:  # descriptions within a class and phase are distinct
        for phase in PHASES:
            texts = si.texts(name, phase)
            assert len(set(texts)) == len(texts), (dataset, name, phase)


def test_version_and_history_roundtrip(tmp_path, side_info):
    history = [{"version": 1, "source": "authored, 5 variants", "num_descriptions": 5, "note": "kept as is"}]
    side_info.version, side_info.history = 2, history
    path = save_side_info(side_info, tmp_path / "v2.json")
    obj = json.loads(path.read_text())
    assert obj["version"] == 2 and obj["history"] == history
    back = load_side_info(path)
    assert back.version == 2 and back.history == history
    assert back.subset(["stand to sit"]).history == history and back.subset(["stand to sit"]).version == 2
    save_side_info(back, tmp_path / "again.json")  # written back unchanged
    assert json.loads((tmp_path / "again.json").read_text()) == obj


def test_without_version_nothing_is_written(tmp_path, side_info):
    obj = json.loads(save_side_info(side_info, tmp_path / "v.json").read_text())
    assert "version" not in obj and "history" not in obj
    back = load_side_info(tmp_path / "v.json")
    assert back.version is None and back.history == []


def test_save_refuses_bad_version(tmp_path, side_info):
    side_info.version = 2.0
    with pytest.raises(SideInfoError, match="'version' must be an int"):
        save_side_info(side_info, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
