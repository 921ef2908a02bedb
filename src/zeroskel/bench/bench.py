"""The benchmark grid: methods x protocols x seeds on one shared encoder per protocol and seed.

    zeroskel bench --methods neuron,global_align,cada_vae,smie --protocols utd-f1,utd-f2 --seeds 3 \
        --data-root utd-mhad=../shared/data/utd_mhad --out runs/bench

Layout of a bench directory::

    bench.log                    the log of every bench invocation
    <protocol>/_shared/          a run directory that only pre-trains the encoders and caches the
                                 features (``pretrain``, ``extract``), once per seed
    <protocol>/<method>/         one run per method, ``reuse=<protocol>/_shared`` (``train``, ``evaluate``)
    results.csv                  one row per finished method x protocol x seed, every metric
    results.md                   mean +- std per method and protocol family (utd = utd-f1..f5, ...)

Protocol names with a ``/`` (``ntu60-55/5``) get a ``-`` in their folder name. Rerunning the same
command skips every finished cell (a cell is finished when its ``seed<S>/eval.json`` exists) and
rewrites the two result files; an interrupted cell resumes where its steps stopped.

Settings of a method run, lowest priority first: ``RunConfig`` defaults, the ``--config`` file, the
method's entry in ``METHODS`` (its head and the training settings it needs, e.g. CADA-VAE's small SGD
learning rate), the config file's ``bench.method_overrides.<method>``, the ``key=value`` overrides
given to every method, and ``<method>:key=value`` overrides for one method. The shared run takes the
file and the global overrides only; a method may change ``head.*`` and ``text.*`` (and run-time
settings such as ``device``), never what the shared encoder depends on (protocol, data, encoder,
extract, eval.validation_encoder, seeds).

A ``--config`` file is a run config (``configs/official_ntu.yaml``) with an optional top-level
``bench:`` section: ``methods``, ``protocols``, ``seeds`` (defaults for the command-line options) and
``method_overrides`` (``{method: {dotted.key: value}}``) and ``variants``: new method names made from a
known one, so that two settings of one head sit side by side on the same shared encoders, e.g. ::

    bench:
      variants:
        global_align-mpnet: {like: global_align, overrides: {text.encoder: mpnet}, about: "MPNet text"}
"""
from __future__ import annotations

import csv
import io
import math
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from zeroskel.config import ConfigError, atomic_write_text, merge, parse_overrides, save_config, to_dict
from zeroskel.train.io import read_json, write_json
from zeroskel.train.run import Run
from zeroskel.train.run_config import RunConfig, load_run_config
from zeroskel.train.runtime import LOG, setup_logging
from zeroskel.models.peers.sa_dvae import presets as sa_dvae_presets

__all__ = ["Method", "METHODS", "method_table", "BenchSpec", "BenchError", "load_bench_config", "method_config",
           "parse_data_roots", "protocol_family", "run_bench", "collect_results", "write_results",
           "dry_run", "CSV_COLUMNS"]


class BenchError(RuntimeError):
    pass


@dataclass(frozen=True)
class Method:
    """One row of the method table: which head, which variant and options, which other settings."""

    head: str
    variant: str = "official"
    options: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)   # dotted keys: head.lr, text.source, ...
    about: str = ""


_PEER_SGD = {"head.lr": 0.001, "head.weight_decay": 0.0}
_PEER_ADAM = {"head.optimizer": "adamw", "head.lr": 0.001, "head.weight_decay": 0.0}
_STAR_LAPTOP = {"num_prompts": 32, "prompt_dim": 128, "logit_scale": 10.0}


def _generative(lr: float, batch_size: int, **extra: Any) -> dict[str, Any]:
    """Training of the VAE-family peers: Adam at a constant lr, no weight decay, at least
    ``GENERATIVE_STEPS`` iterations (10 cycles of ``GENERATIVE_CYCLE``)."""
    return {"head.optimizer": "adam", "head.lr": lr, "head.weight_decay": 0.0, "head.milestones": [],
            "head.batch_size": batch_size, "head.epochs": 1, "head.min_steps": GENERATIVE_STEPS, **extra}


# The codes train 10 cycles of 1700 iterations (SynSE) or 10 epochs of ~1250 (SA-DVAE on NTU-60); the
# small datasets' few hundred clips get 10 cycles of 100 iterations, the schedule's shape kept, and the
# learning rates x10 for the ~12-17x fewer iterations (SA-DVAE on utd-f1's validation draw: ZSL 40 at
# 3.4e-4 after 1000 iterations vs 26 at the published 3.4e-5 after 2000; BENCHMARKS.md). The second
# stage re-fits after every epoch on the validation protocol, so its classifier is lighter than the
# codes' 500 latents x 300 full-batch epochs: 200 text latents per unseen class, 50 skeleton latents
# per seen class, 50 epochs (same for the three heads).
GENERATIVE_CYCLE = 100
GENERATIVE_STEPS = 10 * GENERATIVE_CYCLE
_GEN_CLS = {"cycle": GENERATIVE_CYCLE, "cls_epochs": 50, "text_samples_unseen": 200, "feat_samples": 50}
_SA_DVAE_KINECT = sa_dvae_presets()["kinect"]["train"]   # lr, batch_size

METHODS: dict[str, Method] = {
    "neuron": Method("neuron", "official", about="Neuron, official-code behaviours with the laptop "
                                                 "head.neuron_options"),
    "neuron-exact": Method("neuron", "official", overrides={"head.neuron_options": {}},
                           about="Neuron, the official code's values exactly (logit scale 0.1, MLP width C)"),
    "neuron-v1": Method("neuron", "zeroskel-v1", about="Neuron as zeroskel had it before issue 11 "
                                                       "(GELU MLPs, linear gates, per-phase projections, mean prediction)"),
    "neuron-paper": Method("neuron", "paper", about="Neuron, the paper's text (top-alpha, disjoint windows)"),
    "neuron-global": Method("neuron", "global", about="Neuron with all four Table 6 switches off"),
    "neuron-no-compression": Method("neuron", "official", {"spatial_compression": False},
                                    about="Neuron without spatial compression (top-k masking)"),
    "neuron-no-evolving": Method("neuron", "official", {"phase_evolving": False},
                                 about="Neuron without phase-evolving prototypes"),
    "neuron-no-memory": Method("neuron", "official", {"temporal_memory": False},
                               about="Neuron without the gated temporal memory"),
    "neuron-no-granularity": Method("neuron", "official", {"granularity_update": False},
                                    about="Neuron without phase-specific (granularity) text"),
    "global_align": Method("global_align", "official",
                           about="DeViSE-style linear alignment, averaged side information"),
    "global_align-manual": Method("global_align", "official", overrides={"text.source": "manual"},
                                  about="DeViSE-style linear alignment, class names"),
    "global_align-one-turn": Method("global_align", "official", overrides={"text.source": "one-turn"},
                                    about="DeViSE-style linear alignment, one description per class"),
    "cada_vae": Method("cada_vae", "paper", overrides=dict(_PEER_SGD),
                       about="CADA-VAE (Schonfeld et al., CVPR 2019), the paper's model"),
    "cada_vae-synse": Method("cada_vae", "synse", dict(_GEN_CLS), overrides=_generative(1e-3, 64),
                             about="CADA-VAE as SynSE's repository ran it (the literature's rows): no "
                                   "distribution alignment, single-layer encoders, cyclical KL"),
    "synse": Method("synse", "official", dict(_GEN_CLS), overrides=_generative(1e-3, 64, **{"text.source": "pos"}),
                    about="SynSE (Gupta et al., ICIP 2021): verb and noun VAEs, side-information phrases"),
    "sa_dvae": Method("sa_dvae", "kinect", dict(_GEN_CLS), overrides=_generative(**_SA_DVAE_KINECT),
                      about="SA-DVAE (Li et al., ECCV 2024), preset kinect (ntu60-synse's sizes; lr x10)"),
    "smie": Method("smie", "official", overrides={"head.lr": 0.1},
                   about="SMIE (Zhou et al., ACM MM 2023)"),
    # description-level peers (zeroskel.models.peers.{purls,star,revise,jpose}); AdamW as their papers' Adam
    "purls": Method("purls", "official", overrides={**_PEER_ADAM, "text.source": "purls"},
                    about="PURLS (Zhu et al., CVPR 2024), per-candidate queries (the released code's "
                          "test-time leak fixed), body-part + temporal + global descriptions"),
    "star": Method("star", "official", dict(_STAR_LAPTOP), overrides={"head.lr": 0.01, "text.source": "parts"},
                   about="STAR (Chen et al., ACM MM 2024), six body parts, laptop widths (32 prompts x 128), "
                         "logit scale 10; part-label text alignment over the seen classes only"),
    "star-transductive": Method("star", "official", {**_STAR_LAPTOP, "align": "all"},
                                overrides={"head.lr": 0.01, "text.source": "parts"},
                                about="STAR as the official code: TRANSDUCTIVE, its alignment loss reads "
                                      "the unseen classes' text during training"),
    "revise": Method("revise", "official", overrides=dict(_PEER_ADAM),
                     about="ReViSE (Tsai et al., ICCV 2017; SynSE's skeleton version), averaged side information"),
    "revise-text": Method("revise", "official", {"detach_text": False}, overrides=dict(_PEER_ADAM),
                          about="ReViSE with the hinge also training the text transforms (the official code "
                                "detaches them)"),
    "jpose": Method("jpose", "official", overrides={**_PEER_ADAM, "text.source": "pos"},
                    about="JPoSE (Wray et al., ICCV 2019; SynSE's skeleton version), verb / noun phrases"),
}

# What the shared encoder run depends on; a method may not change it.
SHARED_KEYS = ("protocol", "seeds", "data", "encoder", "extract")

CSV_COLUMNS = (
    ["method", "protocol", "family", "dataset", "seed", "head", "variant", "text_source", "text_encoder"]
    + [f"zsl_{k}" for k in ("fused", "spatial", "temporal", "either_branch")]
    + [f"zsl_{b}_phase{e}" for b in ("spatial", "temporal") for e in (1, 2, 3)]
    + [f"gzsl_{b}_{m}" for b in ("fused", "spatial", "temporal") for m in ("S", "U", "H", "gamma")]
    + [f"gzsl_gating_{m}" for m in ("S", "U", "H")]   # SynSE's gate (generative peers; validation protocol)
    + ["head_epoch", "num_test_seen", "num_test_unseen", "seconds", "encoder_seconds"]
)


# ----------------------------------------------------------------------------- configuration
@dataclass
class BenchSpec:
    """A resolved benchmark grid."""

    methods: list[str]
    protocols: list[str]
    seeds: list[int]
    base: RunConfig                                   # file <- global overrides (no protocol yet)
    method_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # nested, per method
    table: dict[str, Method] = field(default_factory=lambda: dict(METHODS))    # METHODS + bench.variants
    data_roots: dict[str, str] = field(default_factory=dict)                   # dataset -> folder
    default_root: str = ""


def load_bench_config(path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bench config file -> (run config mapping, ``bench:`` section)."""
    if not path:
        return {}, {}
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    bench = data.pop("bench", None) or {}
    if not isinstance(bench, dict):
        raise ConfigError(f"{path}: 'bench' must be a mapping")
    unknown = sorted(set(bench) - {"methods", "protocols", "seeds", "method_overrides", "variants"})
    if unknown:
        raise ConfigError(f"{path}: unknown bench key(s) {', '.join(unknown)}; "
                          "known: methods, protocols, seeds, method_overrides, variants")
    return data, bench


def method_table(variants: Any, where: str = "bench.variants") -> dict[str, Method]:
    """``METHODS`` plus the config file's ``bench.variants``: ``{name: {like: METHOD, overrides:
    {dotted.key: value}, options: {...}, about: str}}``; a variant's overrides and head options go on
    top of the method it is like."""
    table = dict(METHODS)
    if not variants:
        return table
    if not isinstance(variants, dict):
        raise ConfigError(f"{where} must map name -> {{like: METHOD, overrides: {{key: value}}}}")
    for name, entry in variants.items():
        name = str(name)
        if name in METHODS:
            raise ConfigError(f"{where}: {name!r} is already a method; give the variant another name")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
            raise ConfigError(f"{where}: {name!r} may hold letters, digits and _ . + - only (it names a folder)")
        if not isinstance(entry, dict) or "like" not in entry:
            raise ConfigError(f"{where}.{name}: expected {{like: METHOD, overrides: {{key: value}}}}")
        extra = sorted(set(entry) - {"like", "overrides", "options", "about"})
        if extra:
            raise ConfigError(f"{where}.{name}: unknown key(s) {', '.join(extra)}; known: like, overrides, "
                              "options, about")
        base = METHODS.get(str(entry["like"]))
        if base is None:
            raise ConfigError(f"{where}.{name}: like={entry['like']!r} is not a method; known: {', '.join(METHODS)}")
        overrides, options = entry.get("overrides") or {}, entry.get("options") or {}
        if not isinstance(overrides, dict) or not isinstance(options, dict):
            raise ConfigError(f"{where}.{name}: overrides and options must be mappings")
        table[name] = Method(base.head, base.variant, {**base.options, **options},
                             {**base.overrides, **overrides},
                             about=str(entry.get("about") or f"{entry['like']} with {overrides or options}"))
    return table


def _as_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    raise ConfigError(f"{what}: expected a comma-separated string or a list, got {value!r}")


def _dotted_to_nested(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return nested


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_update(dst[k], v)
        else:
            dst[k] = v
    return dst


def parse_data_roots(value: str | None) -> tuple[dict[str, str], str]:
    """``PATH`` or ``dataset=PATH,dataset=PATH`` -> ({dataset: PATH}, default PATH)."""
    if not value:
        return {}, ""
    if "=" not in value:
        return {}, value
    roots: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise ConfigError(f"--data-root: {item!r} is not dataset=PATH (mixing a bare path with "
                              "dataset=PATH entries is ambiguous)")
        name, path = item.split("=", 1)
        roots[name.strip()] = path.strip()
    return roots, ""


def make_spec(*, methods: str | Sequence[str] | None, protocols: str | Sequence[str] | None,
              seeds: int | str | Sequence[int] | None, data_root: str | None, config: str | None,
              overrides: Sequence[str] = ()) -> BenchSpec:
    """Resolve the command line (and the config file's ``bench:`` section) into a BenchSpec."""
    run_data, bench = load_bench_config(config)
    global_ov = [o for o in overrides if not _is_method_override(o)]
    method_ov = [o for o in overrides if _is_method_override(o)]
    try:
        base = merge(RunConfig(), run_data)
    except ConfigError as e:
        raise ConfigError(f"{config}: {e}") from None
    if global_ov:
        base = merge(base, parse_overrides(global_ov))
    table = method_table(bench.get("variants"), f"{config}: bench.variants")
    names = _as_list(methods, "--methods") or _as_list(bench.get("methods"), "bench.methods")
    protos = _as_list(protocols, "--protocols") or _as_list(bench.get("protocols"), "bench.protocols")
    if not names:
        raise ConfigError("no methods: pass --methods (known: " + ", ".join(table) + ")")
    if not protos:
        raise ConfigError("no protocols: pass --protocols (zeroskel protocols list)")
    unknown = [m for m in names if m not in table]
    if unknown:
        raise ConfigError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(table)}")
    if len(set(names)) != len(names) or len(set(protos)) != len(protos):
        raise ConfigError("--methods and --protocols must not repeat a name")
    seed_list = _seed_list(seeds if seeds is not None else bench.get("seeds"), list(base.seeds))
    per_method: dict[str, dict[str, Any]] = {}
    file_mo = bench.get("method_overrides") or {}
    if not isinstance(file_mo, dict):
        raise ConfigError(f"{config}: bench.method_overrides must map method -> {{key: value}}")
    for m, flat in file_mo.items():
        if m not in table:
            raise ConfigError(f"{config}: bench.method_overrides names unknown method {m!r}")
        per_method[m] = _deep_update(per_method.get(m, {}), _dotted_to_nested(dict(flat or {})))
    cli_mo: dict[str, dict[str, Any]] = {}
    for o in method_ov:
        m, rest = o.split(":", 1)
        if m not in table:
            raise ConfigError(f"override {o!r} names unknown method {m!r}")
        cli_mo.setdefault(m, []).append(rest)  # type: ignore[arg-type]
    roots, default_root = parse_data_roots(data_root)
    if not roots and not default_root and base.data.root:
        default_root = base.data.root
    spec = BenchSpec(methods=names, protocols=protos, seeds=seed_list, base=base, method_overrides={},
                     table=table, data_roots=roots, default_root=default_root)
    for m in names:
        nested = per_method.get(m, {})
        # the global overrides beat the file's per-method ones; the CLI's per-method ones beat both
        if global_ov:
            again = {k: v for k, v in parse_overrides(global_ov).items() if k not in SHARED_KEYS}
            nested = _deep_update(nested, again)
        if m in cli_mo:
            nested = _deep_update(nested, parse_overrides(cli_mo[m]))  # type: ignore[arg-type]
        spec.method_overrides[m] = nested
    return spec


def _seed_list(value: Any, default: list[int]) -> list[int]:
    """``--seeds``: a count N (seeds 0..N-1), or an explicit list (``1,2`` or ``[1, 2]``)."""
    if value is None:
        return default
    try:
        if isinstance(value, (list, tuple)):
            seeds = [int(v) for v in value]
        elif isinstance(value, str) and "," in value:
            seeds = [int(v) for v in value.split(",") if v.strip()]
        else:
            seeds = list(range(int(value)))
    except (TypeError, ValueError):
        raise ConfigError(f"--seeds: expected a count N or a list like 1,2, got {value!r}") from None
    if not seeds:
        raise ConfigError("--seeds must be >= 1")
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: seeds must be distinct and >= 0, got {value!r}")
    return seeds


def _is_method_override(item: str) -> bool:
    key = item.split("=", 1)[0]
    return ":" in key


def protocol_dir(protocol: str) -> str:
    return protocol.replace("/", "-")


def protocol_family(protocol: str) -> str:
    """``utd-f3`` -> ``utd``, ``ntu60-r2`` -> ``ntu60-r``; other protocols are their own family."""
    m = re.fullmatch(r"(.+)-([fr])\d+", protocol)
    if not m:
        return protocol
    return m.group(1) if m.group(2) == "f" else f"{m.group(1)}-r"


def _dataset_of(protocol: str) -> str:
    from zeroskel.data.protocols import get_protocol

    try:
        return get_protocol(protocol).dataset
    except (KeyError, ValueError) as e:
        raise ConfigError(f"unknown protocol {protocol!r}: {e}") from None


def shared_config(spec: BenchSpec, protocol: str) -> RunConfig:
    """The config of ``<protocol>/_shared``: encoders and feature caches only."""
    dataset = _dataset_of(protocol)
    root = spec.data_roots.get(dataset, spec.default_root)
    if spec.data_roots and dataset not in spec.data_roots and not spec.base.data.cache:
        raise ConfigError(f"--data-root names no folder for {dataset} (protocol {protocol}); "
                          f"given: {', '.join(spec.data_roots)}")
    return merge(spec.base, {"protocol": protocol, "seeds": list(spec.seeds), "reuse": "",
                             "data": {"root": root}})


def method_config(spec: BenchSpec, method: str, protocol: str, shared_dir: str | Path) -> RunConfig:
    """The config of ``<protocol>/<method>``: the shared config plus the method's head settings."""
    base = shared_config(spec, protocol)
    entry = spec.table[method]
    updates = _deep_update({"head": {"name": entry.head, "variant": entry.variant,
                                     "options": dict(entry.options)}},
                           _dotted_to_nested(dict(entry.overrides)))
    updates = _deep_update(updates, spec.method_overrides.get(method, {}))
    if "head" in updates and "options" in updates["head"]:
        updates["head"]["options"] = {**entry.options, **updates["head"]["options"]}
    cfg = merge(base, updates)
    cfg = merge(cfg, {"reuse": str(shared_dir)})
    mine, theirs = to_dict(cfg), to_dict(base)
    changed = [k for k in SHARED_KEYS if mine[k] != theirs[k]]
    if mine["eval"]["validation_encoder"] != theirs["eval"]["validation_encoder"]:
        changed.append("eval.validation_encoder")
    if changed:
        raise ConfigError(f"method {method}: its overrides change {', '.join(changed)}, which the shared "
                          "encoder run fixes; set them for every method instead")
    return cfg


# ----------------------------------------------------------------------------- running
def _cell_done(method_dir: Path, seed: int) -> bool:
    return (method_dir / f"seed{seed}" / "eval.json").exists()


def _open_run(path: Path, cfg: RunConfig) -> Run:
    """The run in ``path`` with ``cfg``; a saved config that differs is an error (not silently reused)."""
    saved = path / "config.yaml"
    if saved.exists():
        old = load_run_config(saved)
        a, b = to_dict(old), to_dict(cfg)
        # display, where the bench folder lives now, and which seeds (a grid may grow by seeds)
        for key in ("progress", "reuse", "seeds"):
            a.pop(key, None), b.pop(key, None)
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise BenchError(f"{path} holds a run with other settings ({', '.join(diff)} differ); "
                             "use another --out or remove it")
    run = Run.create(path, cfg, resume=True)
    run.cfg.progress, run.cfg.reuse = cfg.progress, cfg.reuse
    seeds = sorted(set(run.cfg.seeds) | set(cfg.seeds))
    if seeds != list(run.cfg.seeds):
        run.cfg.seeds = seeds
        save_config(run.cfg, path / "config.yaml")
    return run


def run_bench(spec: BenchSpec, out: str | Path, *, keep_going: bool = True) -> dict[str, Any]:
    """Run every unfinished cell of the grid, then write ``results.csv`` and ``results.md``.

    Returns ``{"ran": [(method, protocol, seed)], "skipped": [...], "failed": [(cell, error)]}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(out / "bench.log", verbose=spec.base.progress)
    ran, skipped, failed = [], [], []
    text_encoders: dict[str, Any] = {}
    for protocol in spec.protocols:
        pdir = out / protocol_dir(protocol)
        shared_dir = pdir / "_shared"
        cfgs = {m: method_config(spec, m, protocol, shared_dir) for m in spec.methods}
        shared: Run | None = None
        for seed in spec.seeds:
            pending = [m for m in spec.methods if not _cell_done(pdir / m, seed)]
            skipped += [(m, protocol, seed) for m in spec.methods if m not in pending]
            if not pending:
                continue
            try:
                if shared is None:
                    shared = _open_run(shared_dir, shared_config(spec, protocol))
                LOG.info("bench %s seed %d: shared encoder", protocol, seed)
                shared.run_seed(seed, ("pretrain", "extract"))
            except Exception as e:  # noqa: BLE001 - one failed protocol must not end the grid
                if not keep_going:
                    raise
                LOG.error("bench %s seed %d: shared encoder failed:\n%s", protocol, seed, traceback.format_exc())
                failed += [((m, protocol, seed), f"shared encoder: {e}") for m in pending]
                continue
            for m in pending:
                cell = (m, protocol, seed)
                try:
                    run = _open_run(pdir / m, cfgs[m])
                    _share_inputs(run, shared, text_encoders)
                    LOG.info("bench %s seed %d: %s", protocol, seed, m)
                    run.run_seed(seed, ("train", "evaluate"))
                    ran.append(cell)
                except Exception as e:  # noqa: BLE001
                    if not keep_going:
                        raise
                    LOG.error("bench %s seed %d: %s failed:\n%s", protocol, seed, m, traceback.format_exc())
                    failed.append((cell, f"{type(e).__name__}: {e}"))
    rows = collect_results(spec, out)
    write_results(rows, out, spec)
    write_json(out / "bench.json", spec_summary(spec))
    return {"ran": ran, "skipped": skipped, "failed": failed, "rows": rows}


def _share_inputs(run: Run, shared: Run, text_encoders: dict[str, Any]) -> None:
    """Give a method run the shared run's loaded dataset and splits (same protocol and data settings)
    and one text encoder per encoder name, instead of loading them again."""
    for attr in ("protocol", "dataset", "splits"):
        run.__dict__[attr] = getattr(shared, attr)
    name = run.cfg.text.encoder
    if name not in text_encoders:
        text_encoders[name] = run.text_encoder
    run.__dict__["text_encoder"] = text_encoders[name]


# ----------------------------------------------------------------------------- results
def _seconds(path: Path, steps: Sequence[str]) -> float:
    if not path.exists():
        return float("nan")
    t = read_json(path)
    return float(sum(t.get(s, 0.0) for s in steps))


def collect_results(spec: BenchSpec, out: str | Path) -> list[dict[str, Any]]:
    """One row per finished cell of the grid, in grid order; seeds finished by an earlier run of the
    same folder (``--seeds 1`` now, ``--seeds 1,2`` later) count too."""
    out = Path(out)
    rows = []
    for protocol in spec.protocols:
        pdir = out / protocol_dir(protocol)
        for m in spec.methods:
            found = {int(p.parent.name[4:]) for p in (pdir / m).glob("seed*/eval.json")
                     if p.parent.name[4:].isdigit()}
            cfg = None  # the method run's config, read once for all its seeds
            for seed in sorted(set(spec.seeds) | found):
                path = pdir / m / f"seed{seed}" / "eval.json"
                if not path.exists():
                    continue
                ev = read_json(path)
                cfg = cfg or load_run_config(pdir / m / "config.yaml")
                row: dict[str, Any] = {
                    "method": m, "protocol": protocol, "family": protocol_family(protocol),
                    "dataset": _dataset_of(protocol), "seed": seed, "head": cfg.head.name,
                    "variant": cfg.head.variant, "text_source": cfg.text.source, "text_encoder": cfg.text.encoder,
                    "head_epoch": ev.get("head_epoch"), "num_test_seen": ev.get("num_test_seen"),
                    "num_test_unseen": ev.get("num_test_unseen"),
                    "seconds": _seconds(pdir / m / f"seed{seed}" / "timings.json", ("train", "evaluate")),
                    "encoder_seconds": _seconds(pdir / "_shared" / f"seed{seed}" / "timings.json",
                                                ("pretrain", "extract")),
                }
                for k, v in ev.get("zsl", {}).items():
                    row[f"zsl_{k}"] = v
                for b, g in ev.get("gzsl", {}).items():
                    for k, v in g.items():
                        row[f"gzsl_{b}_{k}"] = v
                for k in ("S", "U", "H"):
                    if "gzsl_gating" in ev:
                        row[f"gzsl_gating_{k}"] = ev["gzsl_gating"][k]
                rows.append(row)
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return float("nan"), float("nan")
    mean = sum(vals) / len(vals)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))


def results_markdown(rows: list[dict[str, Any]], spec: BenchSpec | None = None) -> str:
    """Mean +- std (population, over folds and seeds) per method and protocol family."""
    methods = list(dict.fromkeys([r["method"] for r in rows]))
    families = list(dict.fromkeys([r["family"] for r in rows]))
    lines = ["# Benchmark results", ""]
    if spec is not None:
        lines += [f"Methods: {', '.join(spec.methods)}. Protocols: {', '.join(spec.protocols)}. "
                  f"Seeds: {', '.join(map(str, spec.seeds))}.", ""]
    lines += ["Mean +- std over every protocol of the family and every seed (population std). ZSL: "
              "top-1 on unseen-class test clips among the unseen classes (fused score). GZSL: "
              "calibrated stacking with the factor chosen on the validation protocol; S, U, H in %. "
              "Time: head training + evaluation per cell (the shared encoder's pre-training and "
              "feature extraction, paid once per protocol and seed, in its own column).", ""]
    header = "| family | method | cells | ZSL fused | GZSL S | GZSL U | GZSL H | head s/cell | encoder s/cell |"
    for fam in families:
        lines += [f"## {fam}", "", header, "|" + "---|" * 9]
        for m in methods:
            sel = [r for r in rows if r["family"] == fam and r["method"] == m]
            if not sel:
                continue
            cells = [f"{fam}", m, str(len(sel))]
            for key in ("zsl_fused", "gzsl_fused_S", "gzsl_fused_U", "gzsl_fused_H"):
                mean, std = _mean_std([r.get(key) for r in sel])
                cells.append("n/a" if math.isnan(mean) else f"{mean:.1f} +- {std:.1f}")
            for key in ("seconds", "encoder_seconds"):
                mean, _ = _mean_std([r.get(key) for r in sel])
                cells.append("n/a" if math.isnan(mean) else f"{mean:.0f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if not rows:
        lines.append("(no finished cells)")
    return "\n".join(lines) + "\n"


def write_results(rows: list[dict[str, Any]], out: str | Path, spec: BenchSpec | None = None) -> None:
    out = Path(out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _fmt(r.get(k)) for k in CSV_COLUMNS})
    atomic_write_text(out / "results.csv", buf.getvalue())
    atomic_write_text(out / "results.md", results_markdown(rows, spec))


# ----------------------------------------------------------------------------- dry run
def dry_run(spec: BenchSpec, out: str | Path) -> tuple[list[str], list[str]]:
    """Check the grid without data: protocols, methods, per-method configs, heads buildable, text
    sources, data folders. Returns (plan lines, problems)."""
    from zeroskel.models import create_model, is_model
    from zeroskel.text.sources import SOURCES

    out = Path(out)
    plan, problems = [], []
    for protocol in spec.protocols:
        try:
            dataset = _dataset_of(protocol)
            shared = shared_config(spec, protocol)
        except ConfigError as e:
            problems.append(str(e))
            continue
        root = shared.data.cache or shared.data.root
        if not root:
            problems.append(f"{protocol}: no data folder for {dataset} (--data-root {dataset}=PATH)")
        elif not Path(root).exists():
            plan.append(f"  note: {root} (data for {protocol}) does not exist here")
        if shared.text.side_info and not Path(shared.text.side_info).exists():
            plan.append(f"  note: text.side_info {shared.text.side_info} does not exist here")
        pdir = out / protocol_dir(protocol)
        plan.append(f"{protocol} ({dataset}): shared encoder {pdir / '_shared'} "
                    f"[{shared.encoder.name} width {shared.encoder.base_channels}, "
                    f"{shared.encoder.epochs} epochs, seeds {spec.seeds}]")
        for m in spec.methods:
            try:
                cfg = method_config(spec, m, protocol, pdir / "_shared")
            except ConfigError as e:
                problems.append(str(e))
                continue
            h = cfg.head
            if not is_model(h.name):
                problems.append(f"method {m}: head {h.name!r} is not a registered model")
                continue
            if cfg.text.source not in SOURCES:
                problems.append(f"method {m}: text.source {cfg.text.source!r} not in {', '.join(SOURCES)}")
            try:
                create_model(h.name, variant=h.variant, feat_dim=4 * cfg.encoder.base_channels, text_dim=32,
                             **dict(h.options))
            except (TypeError, ValueError) as e:
                problems.append(f"method {m}: head {h.name} (variant {h.variant}, options {h.options}) "
                                f"does not build: {e}")
                continue
            done = sum(_cell_done(pdir / m, s) for s in spec.seeds)
            plan.append(f"  {m}: head {h.name}/{h.variant} options {dict(h.options)} lr {h.lr} "
                        f"epochs {h.epochs} text {cfg.text.encoder}/{cfg.text.source} "
                        f"[{done}/{len(spec.seeds)} seeds done]")
    cells = len(spec.methods) * len(spec.protocols) * len(spec.seeds)
    plan.insert(0, f"{cells} cells: {len(spec.methods)} methods x {len(spec.protocols)} protocols x "
                   f"{len(spec.seeds)} seeds -> {out}")
    return plan, problems


def spec_summary(spec: BenchSpec) -> dict[str, Any]:
    return {"methods": spec.methods, "protocols": spec.protocols, "seeds": spec.seeds,
            "base": to_dict(spec.base), "method_overrides": spec.method_overrides,
            "variants": {m: {"head": spec.table[m].head, "variant": spec.table[m].variant,
                             "options": spec.table[m].options, "overrides": spec.table[m].overrides,
                             "about": spec.table[m].about} for m in spec.methods if m not in METHODS},
            "data_roots": spec.data_roots, "default_root": spec.default_root}

