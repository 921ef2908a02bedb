"""Import of the official Neuron release, laid out exactly as github cseeyangchen/Neuron ships ``semantics/``.

The release is built here in a temp dir (same folder and file names, JSON like the release, small tensors
written with torch.save); nothing binary is committed.
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from zeroskel.text.class_text import ClassTextTable, build_class_text
from zeroskel.text.encoders import PrecomputedEncoder, get_text_encoder, save_precomputed
from zeroskel.text.official import (
    OFFICIAL_STEMS, load_official_features, load_official_release, load_official_side_info, locate_release,
    match_class_names, official_class_names,
)
from zeroskel.text.sideinfo import PHASES, SideInfoError

CLASSES = ["drink water", "eat meal", "brush teeth", "brush hair"]
PREFIX = "ntu120_gpt4omini_incontext"
# Release tensor stem per slot: spatial cg/mg/fg, then the CUMULATIVE temporal fp, fsp, fstp.
SLOT_STEMS = ["spatial_cg", "spatial_mg", "spatial_fg", "temporal_fp", "temporal_fsp", "temporal_fstp"]


def write_release(semantics, classes=CLASSES, n=3, dim=8, *, folder="ntu", prefix=PREFIX, texts=None, seed=0):
    """``semantics/<folder>/{spatial,temporal}/`` as shipped; returns {tensor stem: (C, n, dim) tensor}."""
    root = semantics / folder
    gen = torch.Generator().manual_seed(seed)
    feats = {}
    for phase, stem in OFFICIAL_STEMS.items():
        sub = root / ("spatial" if phase.startswith("spatial") else "temporal")
        sub.mkdir(parents=True, exist_ok=True)
        table = texts[stem] if texts else {c: [f"{stem}: {c}, description {i}." for i in range(n)] for c in classes}
        (sub / f"{stem}.json").write_text(json.dumps(table, indent=4), encoding="utf-8")
    for stem in SLOT_STEMS:
        sub = root / ("spatial" if stem.startswith("spatial") else "temporal")
        feats[stem] = torch.randn(len(classes), n, dim, generator=gen)
        torch.save(feats[stem], sub / (f"{prefix}_{stem}.tar" if prefix else f"{stem}.tar"))
    return feats


def test_layout_paths_and_cumulative_slots(tmp_path):
    """semantics/, semantics/ntu and a flat folder read the same; fp/fsp/fstp fill temporal slots 0/1/2."""
    feats = write_release(tmp_path / "semantics")
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (tmp_path / "semantics" / "ntu").rglob("*.*"):
        (flat / f.name).write_bytes(f.read_bytes())
    for path, dataset in ((tmp_path / "semantics", "ntu60"), (tmp_path / "semantics" / "ntu", None), (flat, None)):
        layout = locate_release(path, dataset)
        assert layout.temporal == "cumulative" and layout.prefix == PREFIX
        assert layout.tensor_files["temporal_middle"].name == f"{PREFIX}_temporal_fsp.tar"
        release = load_official_release(path, dataset=dataset or "")
        assert release.class_names == CLASSES and release.temporal == "cumulative"
        assert release.class_text.shape == (6, 4, 3, 8) and release.class_text.dtype == torch.float32
        for slot, stem in enumerate(SLOT_STEMS):
            assert torch.equal(release.class_text[slot], feats[stem]), stem
        assert release.side_info.texts("eat meal", "temporal_middle")[2] == "temporal_sp: eat meal, description 2."
    stacked = load_official_features(tmp_path / "semantics", 4, dataset="ntu120")
    assert torch.equal(stacked[PHASES.index("temporal_end")], feats["temporal_fstp"])


def test_table_through_build_class_text(tmp_path):
    """``precomputed:<release>`` is a per-slot table: build_class_text returns its slots, normalised, by name."""
    feats = write_release(tmp_path / "semantics")
    enc = get_text_encoder(f"precomputed:{tmp_path / 'semantics' / 'ntu'}")
    assert isinstance(enc, ClassTextTable) and enc.temporal == "cumulative" and enc.dim == 8
    order = ["brush hair", "drink water"]
    si = load_official_side_info(tmp_path / "semantics" / "ntu")
    ct = build_class_text(si, enc, order)
    assert ct.shape == (6, 2, 3, 8)
    for slot, stem in enumerate(SLOT_STEMS):
        assert torch.allclose(ct[slot], F.normalize(feats[stem][[3, 0]], dim=-1), atol=1e-6)
    assert torch.equal(build_class_text(si, enc, order, temporal="cumulative"), ct)
    with pytest.raises(ValueError, match="holds cumulative temporal text, but phase"):
        build_class_text(si, enc, order, temporal="phase")
    with pytest.raises(ValueError, match="not source 'manual'"):
        build_class_text(si, enc, order, source="manual")
    with pytest.raises(TypeError, match="one vector per"):
        enc.encode(["drink water"])


def test_shared_string_keeps_one_vector_per_slot(tmp_path):
    """Two classes with the same description but different vectors: both vectors survive (a text-keyed table
    would give the second class the first one's vector)."""
    texts = {stem: {c: [f"{stem}: {c}, description {i}." for i in range(3)] for c in CLASSES}
             for stem in OFFICIAL_STEMS.values()}
    texts["spatial_mg"]["eat meal"][1] = texts["spatial_mg"]["drink water"][1] = "hand moves to mouth, elbow bends"
    feats = write_release(tmp_path / "semantics", texts=texts)
    release = load_official_release(tmp_path / "semantics" / "ntu")
    ct = build_class_text(release.side_info, release.table(), CLASSES)
    mg = PHASES.index("spatial_mid")
    assert torch.allclose(ct[mg, 1, 1], F.normalize(feats["spatial_mg"][1, 1], dim=-1), atol=1e-6)
    assert torch.allclose(ct[mg, 0, 1], F.normalize(feats["spatial_mg"][0, 1], dim=-1), atol=1e-6)
    assert not torch.allclose(ct[mg, 0, 1], ct[mg, 1, 1])
    # the same vectors as a string table collapse the shared string to one vector
    si = release.side_info
    strings = [t for p in PHASES for c in CLASSES for t in si.texts(c, p)]
    table = save_precomputed(strings, release.class_text.reshape(-1, 8), tmp_path / "strings.pt")
    by_string = build_class_text(si, PrecomputedEncoder(table), CLASSES)
    assert torch.equal(by_string[mg, 0, 1], by_string[mg, 1, 1])
    assert (by_string != ct).any(dim=-1).sum().item() == 1  # exactly the one shared slot differs


def test_old_flat_layout_is_per_phase(tmp_path):
    """The older flat layout (``temporal_sp.pt``, ``temporal_tp.pt``) holds per-phase vectors."""
    gen = torch.Generator().manual_seed(1)
    for phase, stem in OFFICIAL_STEMS.items():
        (tmp_path / f"{stem}.json").write_text(json.dumps({c: [f"{stem} {c} {i}" for i in range(2)] for c in CLASSES}))
        torch.save(torch.randn(4, 2, 5, generator=gen), tmp_path / f"{stem}.pt")
    layout = locate_release(tmp_path)
    assert layout.temporal == "phase" and layout.prefix == ""
    assert layout.tensor_files["temporal_end"].name == "temporal_tp.pt"
    assert get_text_encoder(f"precomputed:{tmp_path}").temporal == "phase"
    torch.save(torch.zeros(4, 2, 5), tmp_path / "temporal_fsp.pt")
    torch.save(torch.zeros(4, 2, 5), tmp_path / "temporal_fstp.pt")
    with pytest.raises(ValueError, match="both cumulative .* and per-phase"):
        locate_release(tmp_path)


def test_pick_dataset_folder(tmp_path):
    write_release(tmp_path / "semantics", folder="ntu", prefix=PREFIX)
    write_release(tmp_path / "semantics", ["bow", "clapping"], folder="pku", prefix="pkuv1_gpt4omini_incontext")
    assert official_class_names(tmp_path / "semantics", "pku-mmd") == ["bow", "clapping"]
    assert locate_release(tmp_path / "semantics", "pku-mmd").prefix == "pkuv1_gpt4omini_incontext"
    assert official_class_names(tmp_path / "semantics", "ntu60") == CLASSES
    with pytest.raises(ValueError, match="ntu/, pku/; name the dataset"):
        locate_release(tmp_path / "semantics")
    with pytest.raises(ValueError, match="no release folder for dataset 'utd-mhad'"):
        locate_release(tmp_path / "semantics", "utd-mhad")


def test_name_matching():
    release = ["drink water", "Eat Meal.", "brush  teeth", "wield a knife"]
    ours = ["drink water", "eat meal", "brush teeth", "wield knife"]
    index, notes = match_class_names(release, ours, where="rel")
    assert index == [0, 1, 2, 3]
    assert "rel: class 'Eat Meal.' taken as 'eat meal' (case/punctuation differ)" in notes
    assert any("resolved by order" in n for n in notes)
    assert "rel: class 3: release 'wield a knife' taken as 'wield knife' (by order)" in notes
    assert not any("'drink water'" in n for n in notes)
    assert match_class_names(list(reversed(ours)), ours) == ([3, 2, 1, 0], [])  # by name, any order
    with pytest.raises(SideInfoError, match=r"not found in the release: \['wield knife'\].*counts differ"):
        match_class_names(release[:3] + ["x", "y"], ours)
    with pytest.raises(SideInfoError, match="orders classes differently"):
        match_class_names(["eat meal", "drink water", "brush teeth", "sneeze"], ours)


def test_keep_subset_in_our_order(tmp_path):
    """NTU-60 from the NTU-120 release: the classes to keep, in zeroskel's order, under zeroskel's names."""
    feats = write_release(tmp_path / "semantics")
    ours = ["drink water", "eat meal", "brush teeth", "brush one's hair"]
    lines = []
    release = load_official_release(tmp_path / "semantics", ours, dataset="ntu60",
                                    keep=["brush one's hair", "eat meal"], log=lines.append)
    assert release.class_names == ["brush one's hair", "eat meal"] and release.side_info.dataset == "ntu60"
    assert torch.equal(release.class_text[0], feats["spatial_cg"][[3, 1]])
    assert release.side_info.texts("brush one's hair", "spatial_fine")[0] == "spatial_fg: brush hair, description 0."
    assert any("'brush hair' taken as \"brush one's hair\" (by order)" in line for line in lines)
    with pytest.raises(SideInfoError, match="classes to keep are not among"):
        load_official_release(tmp_path / "semantics", ours, dataset="ntu60", keep=["jump"])


@pytest.mark.parametrize("bad, message", [
    (lambda: {"features": torch.zeros(4, 3, 8)}, "found a dict"),
    (lambda: torch.zeros(4, 3, 8, dtype=torch.int64), "expected a float tensor .* torch.int64"),
    (lambda: torch.zeros(4, 3), r"got torch.float32 \(4, 3\)"),
    (lambda: torch.zeros(4, 2, 8), r"shape \(4, 2, 8\), expected \(4, 3, D\)"),
    (lambda: torch.zeros(5, 3, 8), r"shape \(5, 3, 8\), expected \(4, 3, D\)"),
    (lambda: torch.full((4, 3, 8), float("nan")), "NaN"),
    (lambda: [1, 2, 3], "found a list"),
])
def test_bad_tensors_name_the_file(tmp_path, bad, message):
    write_release(tmp_path / "semantics")
    path = tmp_path / "semantics" / "ntu" / "temporal" / f"{PREFIX}_temporal_fsp.tar"
    torch.save(bad(), path)
    with pytest.raises(ValueError, match=f"{PREFIX}_temporal_fsp.tar: .*{message}"):
        load_official_release(tmp_path / "semantics" / "ntu")


def test_unsafe_pickle_refused(tmp_path):
    write_release(tmp_path / "semantics")
    path = tmp_path / "semantics" / "ntu" / "spatial" / f"{PREFIX}_spatial_mg.tar"
    torch.save({"opaque": torch.nn.Linear(2, 2)}, path)  # needs full unpickling
    with pytest.raises(ValueError, match=f"{PREFIX}_spatial_mg.tar: cannot be read as a tensor file with weights_only"):
        load_official_release(tmp_path / "semantics" / "ntu")


def test_missing_and_inconsistent_files(tmp_path):
    write_release(tmp_path / "semantics")
    ntu = tmp_path / "semantics" / "ntu"
    (ntu / "temporal" / f"{PREFIX}_temporal_fstp.tar").unlink()
    with pytest.raises(FileNotFoundError, match="incomplete release tensors: none for temporal_fstp"):
        locate_release(ntu)
    write_release(tmp_path / "semantics")
    table = json.loads((ntu / "temporal" / "temporal_sp.json").read_text())
    reordered = dict(reversed(list(table.items())))
    (ntu / "temporal" / "temporal_sp.json").write_text(json.dumps(reordered))
    with pytest.raises(SideInfoError, match="temporal_sp.json: lists the classes in another order"):
        load_official_release(ntu)
    assert load_official_side_info(ntu).class_names == CLASSES  # descriptions alone do not depend on the order
    del reordered["eat meal"]
    (ntu / "temporal" / "temporal_sp.json").write_text(json.dumps(reordered))
    with pytest.raises(SideInfoError, match=r"temporal_sp.json: classes differ .* missing \['eat meal'\]"):
        load_official_release(ntu)
    (ntu / "spatial" / "spatial_fg.json").unlink()
    with pytest.raises(SideInfoError, match="spatial_fg.json: file not found"):
        load_official_side_info(ntu)


def test_side_info_only(tmp_path):
    """JSON files without tensors still import as side information."""
    write_release(tmp_path / "semantics")
    for f in (tmp_path / "semantics").rglob("*.tar"):
        f.unlink()
    si = load_official_side_info(tmp_path / "semantics" / "ntu", ["brush teeth", "drink water"], dataset="ntu60")
    assert si.class_names == ["brush teeth", "drink water"] and si.num_descriptions == 3
    release = load_official_release(tmp_path / "semantics" / "ntu")
    assert release.class_text is None
    with pytest.raises(FileNotFoundError, match="holds no feature tensors"):
        release.table()
    with pytest.raises(SideInfoError, match="class 'jump' missing"):
        load_official_side_info(tmp_path / "semantics" / "ntu", ["jump"])


def test_one_release_class_for_two_names():
    with pytest.raises(SideInfoError, match=r"release classes \['Eat meal'\] match more than one"):
        match_class_names(["Eat meal", "drink water"], ["eat meal", "eat-meal"])
