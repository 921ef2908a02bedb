"""``zeroskel bench``: grid resolution, overrides, dry runs of the shipped configs, result tables, and a
tiny grid on the real UTD-MHAD data (shared encoder trained once, rerun is a no-op)."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from zeroskel.cli.main import main
from zeroskel.config import ConfigError
from zeroskel.bench.bench import (CSV_COLUMNS, METHODS, dry_run, make_spec, method_config, parse_data_roots,
                                   protocol_dir, protocol_family, results_markdown, run_bench)
from zeroskel.models import create_model

REPO = Path(__file__).resolve().parents[2]
BENCH_CONFIGS = sorted((REPO / "configs" / "bench").glob("*.yaml"))


def test_method_table_builds_every_head():
    assert {"neuron", "neuron-paper", "neuron-global", "neuron-no-compression", "neuron-no-evolving",
            "neuron-no-memory", "neuron-no-granularity", "global_align", "cada_vae", "smie"} <= set(METHODS)
    for name, m in METHODS.items():
        head = create_model(m.head, variant=m.variant, feat_dim=16, text_dim=8, **m.options)
        assert head.feat_dim == 16, name
    cfg = create_model("neuron", variant="global", feat_dim=16, text_dim=8).config
    assert not (cfg.granularity_update or cfg.spatial_compression or cfg.phase_evolving or cfg.temporal_memory)
    off = {"neuron-no-compression": "spatial_compression", "neuron-no-evolving": "phase_evolving",
           "neuron-no-memory": "temporal_memory", "neuron-no-granularity": "granularity_update"}
    for name, switch in off.items():
        head = create_model("neuron", variant=METHODS[name].variant, feat_dim=16, text_dim=8, **METHODS[name].options)
        flags = {k: getattr(head.config, k) for k in off.values()}
        assert flags == {k: k != switch for k in off.values()}, name


def test_generative_peers_train_with_adam_and_their_text(tmp_path):
    spec = make_spec(methods="sa_dvae,synse,cada_vae-synse,cada_vae", protocols="utd-f1", seeds=1,
                     data_root="/d/utd", config=None)
    cfgs = {m: method_config(spec, m, "utd-f1", tmp_path) for m in spec.methods}
    assert cfgs["synse"].text.source == "pos" and cfgs["sa_dvae"].text.source == "side-info"
    for m in ("sa_dvae", "synse", "cada_vae-synse"):
        h = cfgs[m].head
        assert h.optimizer == "adam" and h.weight_decay == 0.0 and h.min_steps >= 1000 and not h.milestones, m
    assert cfgs["sa_dvae"].head.batch_size == 32 and cfgs["cada_vae-synse"].head.variant == "synse"
    assert cfgs["cada_vae"].head.variant == "paper" and cfgs["cada_vae"].head.optimizer == "sgd"


def test_spec_overrides_priorities(tmp_path):
    spec = make_spec(methods="neuron,cada_vae,global_align-manual", protocols="utd-f1,msr-f2", seeds=2,
                     data_root="utd-mhad=/d/utd,msr-action3d=/d/msr", config=None,
                     overrides=["head.epochs=3", "encoder.epochs=1", "cada_vae:head.options.latent_dim=16"])
    assert spec.seeds == [0, 1] and spec.data_roots == {"utd-mhad": "/d/utd", "msr-action3d": "/d/msr"}
    shared = tmp_path / "utd-f1" / "_shared"
    neuron = method_config(spec, "neuron", "utd-f1", shared)
    cada = method_config(spec, "cada_vae", "utd-f1", shared)
    manual = method_config(spec, "global_align-manual", "msr-f2", shared)
    assert neuron.head.name == "neuron" and neuron.head.lr == 0.1 and neuron.head.epochs == 3
    assert cada.head.name == "cada_vae" and cada.head.lr == 0.001 and cada.head.epochs == 3
    assert cada.head.options == {"latent_dim": 16} and neuron.head.options == {}
    assert manual.text.source == "manual" and manual.data.root == "/d/msr" and neuron.data.root == "/d/utd"
    assert neuron.encoder.epochs == 1 and neuron.seeds == [0, 1] and neuron.reuse == str(shared)
    # a global override beats the method table, a per-method one beats both
    spec = make_spec(methods="cada_vae,neuron", protocols="utd-f1", seeds=1, data_root="/d/utd", config=None,
                     overrides=["head.lr=0.05", "neuron:head.lr=0.2"])
    assert method_config(spec, "cada_vae", "utd-f1", shared).head.lr == 0.05
    assert method_config(spec, "neuron", "utd-f1", shared).head.lr == 0.2
    assert method_config(spec, "neuron", "utd-f1", shared).data.root == "/d/utd"
    # a method may not change what the shared encoder depends on
    spec = make_spec(methods="neuron", protocols="utd-f1", seeds=1, data_root="/d", config=None,
                     overrides=["neuron:encoder.epochs=5"])
    with pytest.raises(ConfigError, match="change encoder"):
        method_config(spec, "neuron", "utd-f1", shared)
    with pytest.raises(ConfigError, match="unknown method.*nope"):
        make_spec(methods="neuron,nope", protocols="utd-f1", seeds=1, data_root="/d", config=None)
    with pytest.raises(ConfigError, match="unknown config key"):
        make_spec(methods="neuron", protocols="utd-f1", seeds=1, data_root="/d", config=None,
                  overrides=["head.nope=1"])


def test_config_file_bench_section(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("bench:\n  methods: [smie, neuron]\n  protocols: utd-f2,utd-f3\n  seeds: 2\n"
                    "  method_overrides:\n    smie: {head.lr: 0.3, head.options.segments: 2}\n"
                    "encoder:\n  epochs: 7\n", encoding="utf-8")
    spec = make_spec(methods=None, protocols=None, seeds=None, data_root="/d", config=str(path))
    assert spec.methods == ["smie", "neuron"] and spec.protocols == ["utd-f2", "utd-f3"] and spec.seeds == [0, 1]
    smie = method_config(spec, "smie", "utd-f2", tmp_path / "s")
    assert smie.head.lr == 0.3 and smie.head.options == {"segments": 2} and smie.encoder.epochs == 7
    assert make_spec(methods="neuron", protocols="utd-f1", seeds=None, data_root="/d",
                     config=str(path)).seeds == [0, 1]
    path.write_text("bench:\n  folds: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown bench key"):
        make_spec(methods="neuron", protocols="utd-f1", seeds=1, data_root="/d", config=str(path))


def test_names_and_roots():
    assert protocol_family("utd-f3") == "utd" and protocol_family("msr-f1") == "msr"
    assert protocol_family("ntu60-r2") == "ntu60-r" and protocol_family("ntu60-55/5") == "ntu60-55/5"
    assert protocol_dir("ntu60-55/5") == "ntu60-55-5"
    assert parse_data_roots("/x/y") == ({}, "/x/y")
    assert parse_data_roots("ntu60=/a,pku-mmd=/b") == ({"ntu60": "/a", "pku-mmd": "/b"}, "")
    with pytest.raises(ConfigError, match="not dataset=PATH"):
        parse_data_roots("ntu60=/a,/b")


@pytest.mark.parametrize("path", BENCH_CONFIGS, ids=[p.stem for p in BENCH_CONFIGS])
def test_shipped_bench_configs_dry_run(path, tmp_path):
    assert BENCH_CONFIGS, "no configs/bench/*.yaml"
    roots = "ntu60=/d/ntu,ntu120=/d/ntu120,pku-mmd=/d/pku,utd-mhad=/d/utd,msr-action3d=/d/msr"
    spec = make_spec(methods=None, protocols=None, seeds=None, data_root=roots, config=str(path))
    plan, problems = dry_run(spec, tmp_path)
    assert problems == []
    assert plan[0].startswith(f"{len(spec.methods) * len(spec.protocols) * len(spec.seeds)} cells")
    if "ntu" in path.stem or "pku" in path.stem:  # the official recipe
        cfg = method_config(spec, "neuron", spec.protocols[0], tmp_path)
        assert (cfg.encoder.base_channels, cfg.encoder.epochs, cfg.head.epochs, cfg.head.min_steps) == (64, 140, 30, 0)
        assert cfg.data.num_person == 2
        assert method_config(spec, "cada_vae", spec.protocols[0], tmp_path).head.epochs == 100


def test_dry_run_reports_problems(tmp_path, capsys):
    spec = make_spec(methods="neuron,smie", protocols="utd-f1,ntu60-55/5,nope-f1", seeds=1,
                     data_root="utd-mhad=/d/utd", config=None, overrides=["smie:head.options.temporal=backwards"])
    plan, problems = dry_run(spec, tmp_path)
    text = "\n".join(problems)
    assert "no folder for ntu60" in text and "nope-f1" in text and "temporal must be one of" in text
    rc = main(["bench", "--methods", "neuron", "--protocols", "utd-f1", "--seeds", "1", "--data-root", "/d/utd",
               "--out", str(tmp_path / "b"), "--dry-run"])
    assert rc == 0 and "dry run: OK" in capsys.readouterr().out
    assert not (tmp_path / "b").exists()
    assert main(["bench", "--list-methods"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert {"neuron-no-memory", "sa_dvae", "synse", "cada_vae", "cada_vae-synse"} <= set(listed)
    assert "neuron-v1text" not in listed
    cfg = "configs/bench/kinect-issue11.yaml"  # its bench.variants are listed with the built-in methods
    assert main(["bench", "--list-methods", "--config", cfg]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert set(listed) < set(lines) and lines["neuron-v1text"].endswith(f"[{cfg}]")
    assert "{'text.side_info': 'benchmarks/text/v1'}" in lines["neuron-v1text"]
    assert lines["neuron"].split()[1] == "neuron/official" and "[" not in lines["neuron"].split("  ")[-1]


def test_results_markdown_mean_std():
    rows = [{"method": "m", "family": "utd", "zsl_fused": v, "gzsl_fused_S": 50.0, "gzsl_fused_U": 10.0,
             "gzsl_fused_H": 20.0, "seconds": 3.0, "encoder_seconds": 9.0} for v in (40.0, 60.0)]
    rows.append({"method": "m", "family": "msr", "zsl_fused": 10.0, "gzsl_fused_S": float("nan")})
    md = results_markdown(rows)
    assert "| utd | m | 2 | 50.0 +- 10.0 | 50.0 +- 0.0 | 10.0 +- 0.0 | 20.0 +- 0.0 | 3 | 9 |" in md
    assert "## msr" in md and "| msr | m | 1 | 10.0 +- 0.0 | n/a |" in md


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_config_file_variants(tmp_path):
    """bench.variants names a new method made from a known one: its overrides and options on top."""
    path = tmp_path / "b.yaml"
    path.write_text("bench:\n  variants:\n"
                    "    global_align-names: {like: global_align, overrides: {text.source: manual}}\n"
                    "    neuron-k3: {like: neuron-no-memory, options: {keep_schedule: [30, 20, 10]}, about: tiny}\n",
                    encoding="utf-8")
    spec = make_spec(methods="global_align,global_align-names,neuron-k3", protocols="utd-f1", seeds=1,
                     data_root="/d", config=str(path), overrides=["neuron-k3:head.lr=0.3"])
    assert method_config(spec, "global_align", "utd-f1", tmp_path).text.source == "side-info"
    assert method_config(spec, "global_align-names", "utd-f1", tmp_path).text.source == "manual"
    k3 = method_config(spec, "neuron-k3", "utd-f1", tmp_path)
    assert k3.head.name == "neuron" and k3.head.lr == 0.3
    assert k3.head.options == {"temporal_memory": False, "keep_schedule": [30, 20, 10]}
    assert spec.table["neuron-k3"].about == "tiny" and "neuron-k3" not in METHODS
    for given, seeds in ((2, [0, 1]), ("3", [0, 1, 2]), ("1,2", [1, 2]), ([4], [4])):
        assert make_spec(methods="neuron", protocols="utd-f1", seeds=given, data_root="/d",
                         config=None).seeds == seeds
    for given in ("0", "1,1", "-1,2", "a,b"):
        with pytest.raises(ConfigError, match="--seeds"):
            make_spec(methods="neuron", protocols="utd-f1", seeds=given, data_root="/d", config=None)
    bad = {"neuron: {like: global_align}": "already a method", "x: {like: nope}": "not a method",
           "x: {like: neuron, extra: 1}": "unknown key", "x/y: {like: neuron}": "letters, digits",
           "x: neuron": "expected"}
    for text, msg in bad.items():
        path.write_text("bench:\n  variants:\n    " + text + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=msg):
            make_spec(methods="neuron", protocols="utd-f1", seeds=1, data_root="/d", config=str(path))


def test_variant_cells_share_the_encoder_on_utd(utd_root, tmp_path):
    """A variant runs beside its base method on the same shared encoder (real UTD-MHAD clips)."""
    path = tmp_path / "b.yaml"
    path.write_text("bench:\n  variants:\n"
                    "    global_align-names: {like: global_align, overrides: {text.source: manual}}\n",
                    encoding="utf-8")
    out = tmp_path / "bench"
    spec = make_spec(methods="global_align,global_align-names", protocols="utd-f1", seeds=1,
                     data_root=f"utd-mhad={utd_root}", config=str(path), overrides=TINY)
    res = run_bench(spec, out, keep_going=False)
    assert res["failed"] == [] and len(res["ran"]) == 2
    rows = _read_csv(out / "results.csv")
    assert [(r["method"], r["text_source"], r["text_encoder"]) for r in rows] == [
        ("global_align", "side-info", "hashing:32"), ("global_align-names", "manual", "hashing:32")]
    assert rows[0]["zsl_fused"] != "" and rows[1]["zsl_fused"] != ""
    encoders = [p for p in out.rglob("best.safetensors") if "encoder" in p.parts]
    assert [p.relative_to(out).as_posix() for p in encoders] == ["utd-f1/_shared/seed0/encoder/best.safetensors"]
    saved = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert saved["variants"]["global_align-names"]["overrides"] == {"text.source": "manual"}

    # the grid grows by a seed given as a list: seed 1 trains its own encoder, seed 0 is kept
    more = make_spec(methods="global_align,global_align-names", protocols="utd-f1", seeds="1,",
                     data_root=f"utd-mhad={utd_root}", config=str(path), overrides=TINY)
    assert more.seeds == [1]
    res = run_bench(more, out, keep_going=False)
    assert res["failed"] == [] and len(res["ran"]) == 2 and res["skipped"] == []
    rows = _read_csv(out / "results.csv")
    assert [(r["method"], r["seed"]) for r in rows] == [("global_align", "0"), ("global_align", "1"),
                                                        ("global_align-names", "0"), ("global_align-names", "1")]
    assert (out / "utd-f1" / "_shared" / "seed1" / "encoder" / "best.safetensors").exists()
    from zeroskel.config import load_config
    from zeroskel.train.run_config import RunConfig
    assert load_config(RunConfig, out / "utd-f1" / "_shared" / "config.yaml").seeds == [0, 1]

    # benchmarks/bench_tables.py reads the cells back (tables and the merged CSV of every cell)
    import runpy
    tables_py = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_tables.py"
    tables = runpy.run_path(str(tables_py))
    assert tables["main"]([str(out), "--out", str(tmp_path / "t.md"), "--csv", str(tmp_path / "t.csv")]) == 0
    md = (tmp_path / "t.md").read_text(encoding="utf-8")
    assert "### utd: utd-f1; seeds 0, 1" in md and "| global_align-names | 2 |" in md
    cells = _read_csv(tmp_path / "t.csv")
    assert sorted((r["method"], r["seed"]) for r in cells) == [("global_align", "0"), ("global_align", "1"),
                                                              ("global_align-names", "0"),
                                                              ("global_align-names", "1")]
    assert all(r["bench_dir"] == "bench" and r["val_zsl_fused"] != "" for r in cells)
    paired, rows = tables["paired_table"], tables["read_rows"]([out])
    line = [x for x in paired(rows, [("global_align-names", "global_align")]).splitlines() if "| utd |" in x]
    assert len(line) == 1 and line[0].count("/2)") == 4   # four figures, each over the two seeds


TINY = ["encoder.base_channels=4", "encoder.epochs=1", "data.length=16", "extract.views=1", "head.epochs=2",
        "head.min_steps=0", "text.encoder=hashing:32", "progress=false", "eval.validation_encoder=shared",
        "cada_vae:head.options.feat_samples=20", "cada_vae:head.options.text_samples_unseen=20"]


@pytest.mark.slow
def test_tiny_grid_on_utd(utd_root, tmp_path):
    out = tmp_path / "bench"
    methods = "neuron,cada_vae,global_align-manual"
    spec = make_spec(methods=methods, protocols="utd-f1", seeds=1, data_root=f"utd-mhad={utd_root}",
                     config=None, overrides=TINY)
    res = run_bench(spec, out, keep_going=False)
    assert res["failed"] == [] and len(res["ran"]) == 3

    rows = _read_csv(out / "results.csv")
    assert [r["method"] for r in rows] == methods.split(",")
    assert list(rows[0]) == CSV_COLUMNS
    for r in rows:
        assert r["protocol"] == "utd-f1" and r["family"] == "utd" and r["seed"] == "0"
        for key in ("zsl_fused", "gzsl_fused_S", "gzsl_fused_U", "gzsl_fused_H"):
            assert 0.0 <= float(r[key]) <= 100.0
        assert float(r["seconds"]) > 0 and float(r["encoder_seconds"]) > 0
        assert int(r["num_test_unseen"]) > 0
    assert rows[0]["zsl_either_branch"] != "" and rows[1]["zsl_temporal"] == ""  # neuron has two branches
    assert rows[2]["text_source"] == "manual" and rows[1]["head"] == "cada_vae"
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "## utd" in md and all(f"| utd | {m} | 1 |" in md for m in methods.split(","))

    # benchmarks/bench_tables.py: the prototype health table covers the Neuron cell only
    import runpy
    tables = runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "bench_tables.py"))
    health = tables["health_tables"]([out])
    assert "| utd | neuron | 1 |" in health and "cada_vae" not in health

    # one encoder, trained once, in the shared run; the method runs hold heads only
    encoders = sorted(p.relative_to(out).as_posix() for p in out.rglob("best.safetensors") if "encoder" in p.parts)
    assert encoders == ["utd-f1/_shared/seed0/encoder/best.safetensors"]
    for m in methods.split(","):
        assert (out / "utd-f1" / m / "seed0" / "head" / "best.safetensors").exists()
        assert not (out / "utd-f1" / m / "seed0" / "features").exists()

    # the CADA-VAE head was saved after its second stage and reloads to a fitted classifier
    from zeroskel.train.head import load_head
    head, meta = load_head(out / "utd-f1" / "cada_vae" / "seed0" / "head" / "best.safetensors", "cpu")
    assert bool(head.fitted) and int(head.class_mask.sum()) == 27

    # rerun: nothing trains, the tables are rewritten identically
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}
    csv_before = (out / "results.csv").read_text(encoding="utf-8")
    rc = main(["bench", "--methods", methods, "--protocols", "utd-f1", "--seeds", "1",
               "--data-root", f"utd-mhad={utd_root}", "--out", str(out), *TINY])
    assert rc == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == stamps
    assert (out / "results.csv").read_text(encoding="utf-8") == csv_before

    # a lost evaluation is redone alone (no training), the rest skipped
    (out / "utd-f1" / "neuron" / "seed0" / "eval.json").unlink()
    res = run_bench(spec, out, keep_going=False)
    assert res["ran"] == [("neuron", "utd-f1", 0)] and len(res["skipped"]) == 2
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == stamps
    assert math.isclose(float(_read_csv(out / "results.csv")[0]["zsl_fused"]), float(rows[0]["zsl_fused"]))

    # changing a method's settings under the same --out is refused, not silently mixed
    other = make_spec(methods="neuron", protocols="utd-f1", seeds=1, data_root=f"utd-mhad={utd_root}",
                      config=None, overrides=TINY + ["head.lr=0.5"])
    (out / "utd-f1" / "neuron" / "seed0" / "eval.json").unlink()
    with pytest.raises(Exception, match="other settings"):
        run_bench(other, out, keep_going=False)


def test_bench_reuses_a_folder_written_before_keys_existed(utd_root, tmp_path):
    """A bench folder of an older zeroskel (its config.yaml files lack the keys added since) keeps its
    meaning: a grid that writes out the former values reuses its encoder; today's defaults are refused."""
    from helpers import QUICK, run_tiny_bench, strip_config_keys
    from zeroskel.train.run_config import BEFORE_KEY

    former = ["data.origin=first_center", "data.scale=none", "data.streams=[joint]", "data.crop_min=0.5",
              "data.max_rotation=0.3", "data.rotation_axes=xyz", "data.scale_jitter=0.0", "encoder.select=holdout",
              "eval.min_fraction=0.0", "eval.smooth_fraction=0.0", "head.neuron_options={}"]
    quick = [o for o in QUICK if not o.startswith("head.options")]  # Neuron's options; these are peers
    out = tmp_path / "bench"
    run_tiny_bench(utd_root, out, quick + former)
    for saved in out.rglob("config.yaml"):
        strip_config_keys(saved, BEFORE_KEY)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}

    grown = make_spec(methods="global_align,revise", protocols="utd-f1", seeds=1, data_root=f"utd-mhad={utd_root}",
                      config=None, overrides=quick + former)
    res = run_bench(grown, out, keep_going=False)
    assert res["failed"] == [] and res["ran"] == [("revise", "utd-f1", 0)]
    assert res["skipped"] == [("global_align", "utd-f1", 0)]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors") if p in stamps} == stamps

    today = make_spec(methods="jpose", protocols="utd-f1", seeds=1, data_root=f"utd-mhad={utd_root}",
                      config=None, overrides=quick)
    with pytest.raises(Exception, match=r"_shared holds a run with other settings \(data, encoder"):
        run_bench(today, out, keep_going=False)
