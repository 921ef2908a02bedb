"""``zeroskel analyze`` (figures of what a run learned) and ``zeroskel show`` (draw a skeleton clip).

    zeroskel analyze runs/utd-f1 --out runs/utd-f1/analysis
    zeroskel analyze runs/utd-f1 --out figs --compare runs/utd-f1-nomem --seed 0
    zeroskel show ../shared/data/utd_mhad/Skeleton/a1_s1_t1_skeleton.mat --out clip.gif
    zeroskel show clip.npy --layout ntu25 --out strip.png --frames 6 --3d
"""
from __future__ import annotations

import argparse
from pathlib import Path

from zeroskel.cli.errors import fail


MISSING = "needs matplotlib and scikit-learn: pip install 'zeroskel[analysis]'"


def cmd_analyze(args: argparse.Namespace) -> int:
    from zeroskel.analysis.analysis import analyze_run
    from zeroskel.train.run import RunError

    try:
        result = analyze_run(args.run_dir, args.out, compare=args.compare, seed=args.seed,
                             device=args.device, dpi=args.dpi)
    except ModuleNotFoundError as e:
        return fail(e, MISSING)
    except (RunError, FileNotFoundError, KeyError, ValueError) as e:
        return fail(e)
    out = Path(args.out)
    print(f"analysis of {args.run_dir} (seed {result['seed']}) in {out}:")
    for name in result["figures"].values():
        print(f"  {out / name}")
    print(f"  {out / 'analysis.json'}")
    sup = result.get("encoder_supervised")
    if sup:
        print(f"  encoder supervised top-1 (seen classes, diagnostic): test {sup['test_seen']:.1f}%, "
              f"holdout {sup['holdout']:.1f}%"
              + (f", validation subjects {sup['val_seen']:.1f}%" if "val_seen" in sup else ""))
    phases = result["clustering"]["phases"]
    print(f"  k-means k = {result['clustering']['k']}; per phase: silhouette / ARI / FMI / CH")
    for ph, m in phases.items():
        vals = [m[k] for k in ("silhouette", "ari", "fmi", "calinski_harabasz")]
        print(f"    {ph:<16} " + "  ".join("  n/a" if v is None else f"{v:6.3f}" for v in vals))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from zeroskel.data.layouts import UnknownNameError
    from zeroskel.analysis.render import read_clip, render_clip

    try:
        clip = read_clip(args.file, layout=args.layout, dataset=args.dataset)
        if args.title:
            clip.title = args.title
        path = render_clip(clip, args.out, frames=args.frames, fps=args.fps,
                           max_frames=args.max_frames, view3d=args.view3d)
    except ModuleNotFoundError as e:
        return fail(e, "needs matplotlib: pip install 'zeroskel[analysis]'")
    except (FileNotFoundError, UnknownNameError, ValueError) as e:
        return fail(e)
    m, t, v, _ = clip.joints.shape
    print(f"{path}: {args.file} ({m} person(s), {t} frames, {v} joints, layout {clip.layout.name})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("analyze", help="figures and numbers of what a run learned",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="a finished run directory (zeroskel run)")
    p.add_argument("--out", required=True, help="folder for the PNGs and analysis.json")
    p.add_argument("--compare", help="a second run of the same protocol (per-class difference, "
                                     "prototypes with/without memory)")
    p.add_argument("--seed", type=int, help="which seed (default: the run's first)")
    p.add_argument("--device", default="cpu", help="where the head runs (default: cpu)")
    p.add_argument("--dpi", type=int, default=100, help="PNG resolution (default 100)")
    p.set_defaults(func=cmd_analyze)

    q = subparsers.add_parser("show", help="draw a skeleton clip as a GIF or a PNG frame strip")
    q.add_argument("file", help="UTD .mat, MSR _skeleton3D.txt, UTKinect joints_*.txt, NW-UCLA .json, "
                                "NTU .skeleton, or .npy (T, V, 3) / (M, T, V, 3)")
    q.add_argument("--out", required=True, help="clip.gif (animation) or strip.png (frames)")
    q.add_argument("--layout", help="joint layout of a .npy file (default: by joint count)")
    q.add_argument("--dataset", help="reader to use when the file name does not tell "
                                     "(e.g. pku-mmd for a PKU-MMD .txt)")
    q.add_argument("--frames", type=int, default=8, help="frames in a PNG strip (default 8)")
    q.add_argument("--fps", type=int, default=15, help="GIF frames per second (default 15)")
    q.add_argument("--max-frames", type=int, default=120, help="at most this many GIF frames")
    q.add_argument("--3d", dest="view3d", action="store_true", help="3-D view instead of the front view")
    q.add_argument("--title", help="title (default: the file name)")
    q.set_defaults(func=cmd_show)
