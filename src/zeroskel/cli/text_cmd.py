"""``zeroskel describe`` and ``zeroskel text embed|show``.

    zeroskel describe --classes utd-mhad --out utd.json --base-url http://localhost:8000/v1 --model qwen
    zeroskel describe --classes "sit to stand,stand to sit" --out si.json --dry-run
    zeroskel text check utd-mhad --json              # does the text tell the classes apart? (no skeletons)
    zeroskel text embed utd.json --encoder minilm --out utd-minilm.safetensors
    zeroskel text show utd-mhad --json
    zeroskel text template --classes "pour water,open door" --out my_classes.json   # to fill in by hand
    zeroskel text import-official Neuron/semantics --dataset ntu60 --out imported/ntu60
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from zeroskel.cli.errors import fail


def _class_names(spec: str) -> list[str]:
    """A dataset name (its classes), a file, or a comma-separated list."""
    from zeroskel.data.class_names import BY_DATASET
    from zeroskel.text.describe import read_class_list

    if spec in BY_DATASET and not Path(spec).exists():
        return list(BY_DATASET[spec])
    return read_class_list(spec)


def _describe(args: argparse.Namespace) -> int:
    from zeroskel.data.class_names import BY_DATASET
    from zeroskel.text import describe

    names = _class_names(args.classes)
    # --classes utd-mhad names the dataset too (for the prompt's context and the folds of the check)
    dataset = args.dataset or (args.classes if args.classes in BY_DATASET and not Path(args.classes).exists() else "")
    if args.dry_run:
        print(describe.dry_run_text(names, num_descriptions=args.num_descriptions, dataset=dataset,
                                    context=args.context))
        return 0
    try:
        config = describe.LLMConfig.from_env(args.base_url, args.model, args.api_key, max_retries=args.max_retries,
                                             backoff=args.backoff, temperature=args.temperature,
                                             timeout=args.timeout)
    except ValueError as e:
        return fail(e)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        si = describe.run_describe(names, args.out, config=config, num_descriptions=args.num_descriptions,
                                   cache_dir=args.cache_dir, dataset=dataset, context=args.context,
                                   max_reasks=args.max_reasks, log=log,
                                   warn=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    except (describe.LLMError, describe.DescribeError) as e:
        return fail(e, "answers so far are cached: rerun the same command to resume")
    print(f"wrote {args.out}: {len(si)} classes x {len(si.phases)} phases x {si.num_descriptions} descriptions")
    if not args.no_check:
        try:
            report = run_check(si, args.check_encoder, fold_protocols(dataset, si.class_names) if dataset else {})
        except (ValueError, OSError, ImportError) as e:
            print(f"zeroskel describe: text check skipped ({e}); run zeroskel text check {args.out}",
                  file=sys.stderr)
        else:
            print(report.format_text())
    return 0


def _load_side_info(spec: str, side_info_dir: str | None):
    from zeroskel.text.sideinfo import list_shipped, load_shipped, load_side_info

    if not Path(spec).exists() and spec in list_shipped(side_info_dir):
        return load_shipped(spec, directory=side_info_dir)
    return load_side_info(spec)


def _embed(args: argparse.Namespace) -> int:
    from zeroskel.text.class_text import ClassTextTable, build_class_text, save_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import SideInfoError

    try:
        si = _load_side_info(args.side_info, args.side_info_dir)
        encoder = get_text_encoder(args.encoder, device=args.device)
        names = si.class_names
        class_text = build_class_text(si, encoder, names, source=args.source, cache_dir=args.cache_dir,
                                      temporal=args.temporal)
    except (SideInfoError, ValueError, KeyError, FileNotFoundError, TypeError, ImportError) as e:
        return fail(e)
    temporal = encoder.temporal if isinstance(encoder, ClassTextTable) else (args.temporal or "phase")
    if args.source != "side-info":
        temporal = "phase"
    save_class_text(class_text, names, args.out, encoder_id=encoder.id, dataset=si.dataset, source=args.source,
                    temporal=temporal)
    print(f"wrote {args.out}: class_text {tuple(class_text.shape)} (phases, classes, descriptions, dim), "
          f"encoder {encoder.id}, temporal text {temporal}")
    return 0


def _template(args: argparse.Namespace) -> int:
    """A side-information file to fill in by hand (no LLM endpoint needed)."""
    from zeroskel.text.sideinfo import PHASE_HINTS, PHASES, save_side_info, template

    out = Path(args.out)
    if out.exists() and not args.force:
        return fail(f"{out} exists (hand-written descriptions?); choose another --out or pass --force")
    si = template(_class_names(args.classes), num_descriptions=args.num_descriptions, dataset=args.dataset)
    save_side_info(si, out)
    print(f"wrote {out}: {len(si)} classes x {len(PHASES)} phases x {si.num_descriptions} placeholder(s), "
          "each '<class>: <what the phase describes>'")
    print("replace every placeholder with a sentence about the action (the file works as is, as a class-name "
          "baseline); the phases:")
    for p in PHASES:
        print(f"  {p:<16} {PHASE_HINTS[p]}")
    print(f"then: zeroskel text check {out}   and   zeroskel predict MODEL CLIP --side-info {out}")
    return 0


# zeroskel dataset -> a protocol to show in the usage hint of import-official.
_IMPORT_PROTOCOLS = {"ntu60": "ntu60-55/5", "ntu120": "ntu120-110/10", "pku-mmd": "pku51-46/5"}


def _import_official(args: argparse.Namespace) -> int:
    """The official Neuron release (as shipped) -> OUT/side_info.json + OUT/class_text.safetensors."""
    from zeroskel.data.class_names import BY_DATASET
    from zeroskel.text.class_text import save_class_text
    from zeroskel.text.official import load_official_release, official_class_names
    from zeroskel.text.sideinfo import SideInfoError, save_side_info

    names = list(BY_DATASET[args.dataset])
    log = lambda line: print(f"zeroskel text import-official: {line}", file=sys.stderr)  # noqa: E731
    try:
        covered = names
        if args.dataset == "ntu60" and len(official_class_names(args.semantics, args.dataset)) == 120:
            covered = list(BY_DATASET["ntu120"])  # the NTU release covers NTU-120; NTU-60 is its first 60
        release = load_official_release(args.semantics, covered, dataset=args.dataset, keep=names,
                                        source=f"official Neuron release ({args.semantics})", log=log)
        if release.class_text is None:
            raise FileNotFoundError(f"{release.layout.root}: no feature tensors next to the JSON files")
    except (SideInfoError, ValueError, FileNotFoundError) as e:
        return fail(e)
    out = Path(args.out)
    si_path = save_side_info(release.side_info, out / "side_info.json")
    table = release.table()
    ct_path = save_class_text(release.class_text, names, out / "class_text.safetensors",
                              encoder_id=table.encoder_id, dataset=args.dataset, source="side-info",
                              temporal=release.temporal)
    K, N, D = release.class_text.shape[1:]
    print(f"read {release.layout.root} ({release.layout.prefix or 'no prefix'}): {K} classes x "
          f"{N} descriptions, {D}-d vectors, temporal text {release.temporal}")
    print(f"wrote {si_path}")
    print(f"wrote {ct_path}: class_text (6, {K}, {N}, {D}), id {table.id}")
    print("use them with:")
    print(f"  zeroskel run --protocol {_IMPORT_PROTOCOLS[args.dataset]} --data-root DATA --out RUN_DIR "
          f"text.side_info={si_path} text.encoder=precomputed:{ct_path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from zeroskel.text.sideinfo import PHASES, load_shipped

    si = load_shipped(args.dataset, directory=args.side_info_dir)
    classes = []
    for name in si.class_names:
        entry: dict = {"name": name, "counts": {p: len(si.texts(name, p)) for p in PHASES}}
        if args.texts:
            entry["texts"] = {p: si.texts(name, p) for p in PHASES}
        classes.append(entry)
    report = {"dataset": si.dataset or args.dataset, "source": si.source, "file": si.origin,
              "version": si.version, "history": si.history,
              "num_classes": len(si), "num_descriptions": si.num_descriptions, "phases": list(PHASES),
              "classes": classes}
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['dataset']}: {len(si)} classes, {si.num_descriptions} descriptions per phase "
          f"({si.source})")
    if si.version is not None or si.history:
        print(f"version {si.version if si.version is not None else '-'}")
        for entry in si.history:
            rest = ", ".join(f"{k}: {v}" for k, v in entry.items() if k != "version")
            print(f"  history: version {entry.get('version', '-')}" + (f" ({rest})" if rest else ""))
    for entry in classes:
        print(f"  {entry['name']}")
        if args.texts:
            for p in PHASES:
                for t in entry["texts"][p]:
                    print(f"    [{p}] {t}")
    return 0


# --- zeroskel text check -----------------------------------------------------------------------------------

_FOLD = re.compile(r".+-f\d+")  # the zero-shot folds of the small datasets: utd-f1..f5, msr-f1..f4, utk-f1..f2


def fold_protocols(dataset: str, class_names: list[str] | None = None) -> dict[str, list[str]]:
    """The fold protocols registered for ``dataset`` -> their unseen class names (only the folds whose unseen
    classes are all in ``class_names`` when given)."""
    from zeroskel.data.protocols import get_protocol, list_protocols

    folds = {}
    for name in list_protocols(dataset):
        unseen = get_protocol(name).as_dict()["unseen_names"]
        if _FOLD.fullmatch(name) and (class_names is None or all(n in class_names for n in unseen)):
            folds[name] = unseen
    return folds


def _check_protocols(args: argparse.Namespace, dataset: str, class_names: list[str]) -> dict[str, list[str]]:
    """{protocol: unseen class names} from --protocols, --protocol-family, or else the dataset's folds (those
    whose unseen classes the side information holds)."""
    from zeroskel.data.protocols import get_protocol, list_protocols

    if args.protocols:
        names = [n.strip() for n in args.protocols.split(",") if n.strip()]
    elif args.protocol_family:
        from zeroskel.bench.bench import protocol_family

        names = [n for n in list_protocols() if protocol_family(n) == args.protocol_family]
        if not names:
            families = sorted({protocol_family(n) for n in list_protocols()})
            raise ValueError(f"no protocol of family {args.protocol_family!r} (families: {', '.join(families)})")
    else:
        return fold_protocols(dataset, class_names)
    return {n: get_protocol(n).as_dict()["unseen_names"] for n in names}


def run_check(si, encoder_name: str, protocols: dict[str, list[str]] | None, *, device: str = "cpu",
              cache_dir: str | None = None, threshold: float | None = None):
    """Load the encoder and run ``zeroskel.text.diagnostics.check_side_info``."""
    from zeroskel.text.diagnostics import DUPLICATE_COSINE, check_side_info
    from zeroskel.text.encoders import get_text_encoder

    encoder = get_text_encoder(encoder_name, device=device)
    return check_side_info(si, encoder, protocols=protocols, cache_dir=cache_dir,
                           duplicate_threshold=DUPLICATE_COSINE if threshold is None else threshold)


def _check(args: argparse.Namespace) -> int:
    from zeroskel.data.protocols import UnknownNameError
    from zeroskel.text.sideinfo import SideInfoError, list_shipped

    try:
        si = _load_side_info(args.side_info, args.side_info_dir)
        shipped = not Path(args.side_info).exists() and args.side_info in list_shipped(args.side_info_dir)
        protocols = _check_protocols(args, args.side_info if shipped else si.dataset, si.class_names)
        report = run_check(si, args.encoder, protocols, device=args.device, cache_dir=args.cache_dir,
                           threshold=args.threshold)
    except (SideInfoError, UnknownNameError, ValueError, FileNotFoundError, ImportError) as e:
        return fail(e)
    print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if args.json else report.format_text())
    return 0


def _register_check(tsub: argparse._SubParsersAction) -> None:
    c = tsub.add_parser("check", help="how well the side information separates the classes (no skeletons)",
                        description="Label-free text diagnostics per phase: leave-one-out description -> class "
                                    "top-1, between-class cosine, within-class spread, the unseen classes of "
                                    "each protocol, and near-duplicate classes.")
    c.add_argument("side_info", help="side-information JSON, or a shipped dataset name (utd-mhad, msr-action3d, "
                                     "utkinect, nw-ucla)")
    c.add_argument("--encoder", default="minilm", help="text encoder name or path (default: minilm)")
    which = c.add_mutually_exclusive_group()
    which.add_argument("--protocols", help="comma-separated protocols whose unseen classes to compare "
                                           "(default: every fold protocol of the dataset, e.g. utd-f1..f5)")
    which.add_argument("--protocol-family", help="all protocols of a family: utd, msr, utk, ntu60-r, ...")
    c.add_argument("--threshold", type=float, help="class-mean cosine from which two classes are reported as "
                                                   "near-duplicates (default 0.9)")
    c.add_argument("--json", action="store_true", help="one JSON object with every number")
    c.add_argument("--cache-dir", help="embedding cache folder")
    c.add_argument("--device", default="cpu")
    c.add_argument("--side-info-dir", help="folder of shipped side information (default: the package's)")
    c.set_defaults(func=_check)


def register(subparsers: argparse._SubParsersAction) -> None:
    d = subparsers.add_parser("describe", help="generate side information with an OpenAI-compatible LLM",
                              description="Multi-turn side-information generation (resumable, cached).")
    d.add_argument("--classes", required=True,
                   help="dataset name, a file (JSON list or one name per line) or a comma-separated list")
    d.add_argument("--out", required=True, help="side-information JSON to write")
    d.add_argument("--dataset", default="", help="dataset name stored in the file and named in the prompt "
                                                 "(default: --classes when that is a dataset name)")
    d.add_argument("--context", default="", help="text about the recordings, the same for every class "
                                                  "(added to the system prompt)")
    d.add_argument("--base-url", help="endpoint base URL (default $ZEROSKEL_LLM_BASE_URL)")
    d.add_argument("--model", help="model name (default $ZEROSKEL_LLM_MODEL)")
    d.add_argument("--api-key", help="API key (default $OPENAI_API_KEY)")
    d.add_argument("--num-descriptions", type=int, default=10,
                   help="N_a descriptions per class and phase (default 10)")
    d.add_argument("--cache-dir", help="answer cache folder (default OUT.cache next to --out)")
    d.add_argument("--temperature", type=float, default=0.7)
    d.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS", help="seconds per HTTP request")
    d.add_argument("--max-retries", type=int, default=5,
                   help="retries of transient HTTP errors (5xx, 429, timeouts, a 200 that is not a chat completion)")
    d.add_argument("--backoff", type=float, default=1.0, help="first retry delay (s), doubled each retry")
    d.add_argument("--max-reasks", type=int, default=2, help="re-asks after a malformed answer")
    d.add_argument("--dry-run", action="store_true", help="print the prompts, call nothing")
    d.add_argument("--no-check", action="store_true", help="skip the text check printed at the end")
    d.add_argument("--check-encoder", default="minilm", help="text encoder of the final check (default minilm)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_describe)

    t = subparsers.add_parser("text", help="side information and text embeddings")
    tsub = t.add_subparsers(dest="text_command", metavar="SUBCOMMAND", required=True)
    _register_check(tsub)

    e = tsub.add_parser("embed", help="embed side information into a (6, K, N_a, D) class-text tensor")
    e.add_argument("side_info", help="side-information JSON, or a shipped dataset name")
    e.add_argument("--encoder", default="minilm", help="encoder name or path (see zeroskel.text.encoders)")
    e.add_argument("--out", required=True, help=".safetensors (tensor + metadata) or .pt file")
    e.add_argument("--source", default="side-info", choices=("side-info", "one-turn", "manual"))
    e.add_argument("--cache-dir", help="embedding cache folder")
    e.add_argument("--device", default="cpu")
    e.add_argument("--side-info-dir", help="folder of shipped side information (default: the package's)")
    e.add_argument("--temporal", choices=("phase", "cumulative"),
                   help="temporal texts: per phase, or cumulative (start, start+middle, start+middle+end) as the "
                        "official Neuron release (default: phase; a precomputed class-text table: its own)")
    e.set_defaults(func=_embed)
    _register_import_official(tsub)

    m = tsub.add_parser("template", help="write a side-information file to fill in by hand (no LLM needed)",
                        description="Write a valid side-information JSON whose descriptions are placeholders "
                                    "'<class>: <what the phase describes>', for you to replace with your own "
                                    "sentences (zeroskel describe writes them with an LLM instead).")
    m.add_argument("--classes", required=True,
                   help="dataset name, a file (JSON list or one name per line) or a comma-separated list")
    m.add_argument("--out", required=True, help="side-information JSON to write")
    m.add_argument("--num-descriptions", type=int, default=1, help="descriptions per class and phase (default 1)")
    m.add_argument("--dataset", default="", help="dataset name stored in the file")
    m.add_argument("--force", action="store_true", help="overwrite an existing --out")
    m.set_defaults(func=_template)

    s = tsub.add_parser("show", help="the shipped side information of a dataset")
    s.add_argument("dataset", help="utd-mhad, msr-action3d, utkinect or nw-ucla")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--texts", action="store_true", help="include the descriptions")
    s.add_argument("--side-info-dir", help="read from this folder instead of the package "
                                           "(also $ZEROSKEL_SIDE_INFO_DIR)")
    s.set_defaults(func=_show)


def _register_import_official(tsub: argparse._SubParsersAction) -> None:
    i = tsub.add_parser("import-official", help="import the official Neuron release's descriptions and vectors",
                        description="Read the official Neuron release as shipped (its semantics/ folder, "
                                    "semantics/ntu or semantics/pku) and write OUT_DIR/side_info.json and "
                                    "OUT_DIR/class_text.safetensors (the release's vectors, one per phase, class "
                                    "and description; temporal text cumulative).")
    i.add_argument("semantics", metavar="SEMANTICS_DIR", help="semantics/, semantics/ntu, semantics/pku, or a flat "
                                                              "folder with the JSON and tensor files")
    i.add_argument("--dataset", required=True, choices=("ntu60", "ntu120", "pku-mmd"))
    i.add_argument("--out", required=True, metavar="OUT_DIR", help="folder to write")
    i.set_defaults(func=_import_official)
