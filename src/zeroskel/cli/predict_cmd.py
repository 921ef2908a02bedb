"""``zeroskel predict``, ``stream``, ``export`` and ``bundle``: use a trained model on your own skeletons.

    zeroskel bundle runs/utd-f1                                   # -> runs/utd-f1/bundle (run does it too)
    zeroskel predict runs/utd-f1/bundle clip.npz --classes "high arm wave,bend,golf swing"
    zeroskel predict MODEL a.skeleton b.json --side-info my_classes.json --layout ntu25 --top-k 3 --json
    tail -f frames.jsonl | zeroskel stream MODEL --classes "walk,sit down" --window 64 --hop 16
    zeroskel export MODEL --onnx model.onnx --classes "walk,sit down,wave"

MODEL is a bundle folder or a run directory. ``stream`` reads one frame per line from stdin, as JSON:
a list of joints ``[[x, y, z], ...]`` (V, 3), a list of people (M, V, 3), or ``{"joints": ...}``;
it prints one JSON line per prediction ``{"start", "end", "ranking": [{"class", "score"}, ...]}``.
Input formats, layouts and repairs of missing values: ``zeroskel.infer.inputs``.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings

from zeroskel.cli.errors import fail


def _classes(args: argparse.Namespace) -> list[str] | None:
    if not getattr(args, "classes", None):
        return None
    names = [c.strip() for c in args.classes.split(",") if c.strip()]
    if not names:
        raise ValueError("--classes: no class names (give them comma-separated)")
    return names


def _vocabulary(args: argparse.Namespace) -> dict:
    return {"classes": _classes(args), "side_information": getattr(args, "side_info", None)}


def _load(args: argparse.Namespace):
    from zeroskel.infer.recognizer import ZeroShotRecognizer

    return ZeroShotRecognizer.from_pretrained(args.model_dir, seed=getattr(args, "seed", None))


def _errors() -> tuple[type[Exception], ...]:
    # OSError: a file that cannot be read or written (its message names it: a full disk, a read-only folder)
    from zeroskel.infer.bundle import BundleError
    from zeroskel.infer.inputs import InputError

    return (BundleError, InputError, ValueError, OSError, KeyError)


def cmd_predict(args: argparse.Namespace) -> int:
    from zeroskel.infer.inputs import InputWarning, read_clips

    try:
        vocab = _vocabulary(args)
        if vocab["classes"] is None and vocab["side_information"] is None and not args.training_vocabulary:
            raise ValueError("give the vocabulary: --classes \"a,b,c\" or --side-info FILE "
                             "(or --training-vocabulary for the classes the model was trained on)")
        rec = _load(args)
        clips = [c for path in args.inputs for c in read_clips(path)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InputWarning)
            rankings = rec.predict_batch(clips, layout=args.layout, top_k=args.top_k, max_gap=args.max_gap,
                                         calibrate=args.calibrate, units=args.units, **vocab)
    except _errors() as e:
        return fail(e)
    notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    for w in caught:  # input notes and anything else (e.g. a text cache that could not be written)
        print(f"warning: {w.message}", file=sys.stderr)
    if args.json:
        for clip, ranking in zip(clips, rankings):
            print(json.dumps({"input": clip.name,
                              "ranking": [{"class": c, "score": round(s, 6)} for c, s in ranking],
                              "notes": [n for n in notes if n.startswith(f"{clip.name}: ")]},
                             allow_nan=False))  # scores are checked finite: never a bare NaN
        return 0
    for clip, ranking in zip(clips, rankings):
        print(clip.name)
        for i, (c, s) in enumerate(ranking, 1):
            print(f"  {i:2d}. {c:<40} {s:+.4f}")
    return 0


def _frame(line: str, n: int):
    from zeroskel.infer.inputs import InputError

    obj = json.loads(line)
    if isinstance(obj, dict):
        if "joints" not in obj:
            raise InputError(f"stdin line {n}: a JSON object needs a 'joints' field")
        obj = obj["joints"]
    import numpy as np

    def nan(x):
        return [nan(y) for y in x] if isinstance(x, list) else (float("nan") if x is None else x)
    return np.array(nan(obj), dtype=np.float64)


def cmd_stream(args: argparse.Namespace) -> int:
    from zeroskel.infer.inputs import InputError
    from zeroskel.infer.stream import StreamClassifier

    try:
        vocab = _vocabulary(args)
        if vocab["classes"] is None and vocab["side_information"] is None:
            raise ValueError("give the vocabulary: --classes \"a,b,c\" or --side-info FILE")
        stream = StreamClassifier(_load(args), window=args.window, hop=args.hop, layout=args.layout,
                                  top_k=args.top_k, max_gap=args.max_gap, units=args.units, **vocab)
    except _errors() as e:
        return fail(e)
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            pred = stream.push(_frame(line, n))
        except (json.JSONDecodeError, InputError, ValueError) as e:
            return fail(InputError(f"stdin line {n}: {e}"))
        if pred is not None:
            out = pred.as_dict()
            for entry in out.get("ranking", []):  # 6 decimals, as predict --json (not 17 digits)
                entry["score"] = round(entry["score"], 6)
            print(json.dumps(out), flush=True)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from zeroskel.infer.export_onnx import export_onnx

    try:
        out = export_onnx(args.model_dir, args.onnx, seed=args.seed, **_vocabulary(args))
    except (*_errors(), RuntimeError, ImportError) as e:
        return fail(e)
    print(f"wrote {out.onnx}, {out.text}, {out.classes}, {out.meta}")
    print(f"checked with ONNX Runtime: max abs difference {out.max_abs_diff:.2e} (embeddings), "
          f"{out.max_abs_score_diff:.2e} (scores); {out.clips_within_atol} check clips within 1e-4")
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from zeroskel.infer.bundle import export_bundle

    try:
        out = export_bundle(args.run_dir, args.out, seed=args.seed)
    except (*_errors(), RuntimeError) as e:
        return fail(e)
    print(f"wrote bundle {out}")
    return 0


def _vocab_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--classes", help="comma-separated class names, e.g. \"walk,sit down,wave\"")
    g.add_argument("--side-info", help="side-information JSON file (zeroskel describe, or by hand)")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (0 ranks all classes)")
    return value


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layout", help="joint layout of the input (default: the model's; zeroskel data layouts)")
    p.add_argument("--top-k", type=_count, default=5, help="classes per ranking (default 5; 0: all)")
    p.add_argument("--units", choices=("m", "cm", "mm"),
                   help="units of 3D input joints (default: metres, refused when the body looks larger "
                        "than 10 m); mm and cm are converted to metres")
    p.add_argument("--max-gap", type=int, default=5,
                   help="longest run of missing (NaN) frames of a joint that is interpolated (default 5)")
    p.add_argument("--seed", type=int, help="which seed of a run directory (default: its first)")


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("predict", help="rank class names for skeleton clips with a trained model",
                              description=__doc__, formatter_class=fmt)
    p.add_argument("model_dir", metavar="MODEL_DIR", help="bundle folder or run directory")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="skeleton files: .npy .npz .json .csv .skeleton .pkl")
    _vocab_args(p)
    p.add_argument("--training-vocabulary", action="store_true",
                   help="rank the classes the model was trained on (no --classes / --side-info)")
    _input_args(p)
    p.add_argument("--calibrate", action="store_true",
                   help="subtract the run's GZSL calibration from classes the model was trained on")
    p.add_argument("--json", action="store_true", help="one JSON line per clip")
    p.set_defaults(func=cmd_predict)

    s = subparsers.add_parser("stream", help="classify JSON-lines frames from stdin over a sliding window",
                              description=__doc__, formatter_class=fmt)
    s.add_argument("model_dir", metavar="MODEL_DIR", help="bundle folder or run directory")
    _vocab_args(s)
    s.add_argument("--window", type=int, default=64, help="frames per window (default 64)")
    s.add_argument("--hop", type=int, default=16, help="frames between predictions (default 16)")
    _input_args(s)
    s.set_defaults(func=cmd_stream)

    e = subparsers.add_parser("export", help="export the skeleton side to ONNX (+ text arrays)",
                              description=__doc__, formatter_class=fmt)
    e.add_argument("model_dir", metavar="MODEL_DIR", help="bundle folder or run directory")
    e.add_argument("--onnx", required=True, metavar="OUT.onnx", help="ONNX file to write")
    _vocab_args(e)
    e.add_argument("--seed", type=int, help="which seed of a run directory (default: its first)")
    e.set_defaults(func=cmd_export)

    b = subparsers.add_parser("bundle", help="export a run's models as a self-contained bundle folder",
                              description=__doc__, formatter_class=fmt)
    b.add_argument("run_dir", metavar="RUN_DIR", help="run directory made by `zeroskel run`")
    b.add_argument("--out", help="bundle folder (default RUN_DIR/bundle)")
    b.add_argument("--seed", type=int, help="which seed (default: the first with a trained head)")
    b.set_defaults(func=cmd_bundle)
