"""A self-contained model bundle exported from a run: everything inference needs, nothing else.

    zeroskel bundle runs/utd-f1                 # -> runs/utd-f1/bundle/ (``zeroskel run`` writes it too)
    rec = ZeroShotRecognizer.from_pretrained("runs/utd-f1/bundle")

Layout of a bundle directory::

    bundle.json              format, code version, protocol, model configs, layout, preprocessing,
                             text encoder, training vocabulary, calibration (see ``BUNDLE_FORMAT``)
    encoder.safetensors      skeleton encoder weights (+ the checkpoint's metadata)
    head.safetensors         zero-shot head weights (+ metadata)
    side_info.json           side information of the training vocabulary (zeroskel-side-info/1)
    class_text.safetensors   its text embeddings (6, K, N_a, D), as the run built them

A bundle is written atomically: into a temp folder next to the destination, then renamed over it (an
older bundle there is moved aside first and removed after), so a reader sees the old bundle or the
new one, never a mix. A writer killed between the two renames leaves no bundle but both folders
(``.bundle.*.tmp`` complete with its ``bundle.json``, ``.bundle.*.old/bundle``): the next write or load
puts the newest complete one back in place and removes the other leftovers (writers and recovery
hold an exclusive lock on the parent folder, so a live writer's temp folder is never touched). A write
that fails (a full disk) leaves the old bundle as it was and names the path.

Loading trusts nothing in the folder: ``bundle.json`` must be a JSON object with the expected fields,
file names in it must name files inside the bundle folder, a truncated or corrupt file, or model
settings that disagree with the weights, raise :class:`BundleError` naming the file and how to rebuild
the bundle.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zeroskel import __version__
from zeroskel.train.io import CheckpointError, load_tensors, read_json, save_tensors, write_error, write_json
from zeroskel.train.pretrain import clip_preprocessing

BUNDLE_FORMAT = "zeroskel-bundle/1"
BUNDLE_FILE = "bundle.json"
MIN_LENGTH = 4  # frames per preprocessed clip: the encoder's temporal stride (4) needs at least one step


class BundleError(RuntimeError):
    """A bundle or run directory that cannot be read or exported; the message names the path."""


@dataclass
class Bundle:
    """A bundle in memory.

    Args:
        info: the ``bundle.json`` content.
        encoder: (weights, metadata) of the skeleton encoder.
        head: (weights, metadata) of the zero-shot head.
        side_info: the training vocabulary's side information (a ``SideInformation``), or None.
        class_text: its (6, K, N_a, D) embeddings, or None.
        root: the folder it was read from (None when built from a run in memory).
    """

    info: dict[str, Any]
    encoder: tuple[dict[str, torch.Tensor], dict[str, Any]]
    head: tuple[dict[str, torch.Tensor], dict[str, Any]]
    side_info: Any = None
    class_text: torch.Tensor | None = None
    root: Path | None = None


def _seed_of(cfg, run_dir: Path, seed: int | None) -> int:
    if seed is not None:
        if not (run_dir / f"seed{seed}" / "head" / "best.safetensors").exists():
            raise BundleError(f"{run_dir}: seed {seed} has no trained head "
                              f"(seed{seed}/head/best.safetensors); seeds of this run: {list(cfg.seeds)}")
        return int(seed)
    for s in cfg.seeds:
        if (run_dir / f"seed{s}" / "head" / "best.safetensors").exists():
            return int(s)
    raise BundleError(f"{run_dir}: no trained head in any seed ({list(cfg.seeds)}); finish the run "
                      f"(`zeroskel run --out {run_dir} --resume`) first")


def bundle_from_run(run_dir: str | Path, *, seed: int | None = None) -> Bundle:
    """Collect a run's encoder, head, vocabulary and settings into a :class:`Bundle` (nothing written).

    Args:
        run_dir: a run directory (``config.yaml``, ``seed<S>/encoder``, ``seed<S>/head``).
        seed: which seed's models; default the first seed with a trained head.
    """
    from zeroskel.train.run_config import load_run_config
    from zeroskel.text.sideinfo import SideInfoError, load_shipped, load_side_info

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise BundleError(f"{run_dir}: not a run directory (no config.yaml)")
    cfg = load_run_config(run_dir / "config.yaml")
    seed = _seed_of(cfg, run_dir, seed)
    enc_root = Path(cfg.reuse) if cfg.reuse else run_dir  # encoders of a reusing run live there
    enc_path = enc_root / f"seed{seed}" / "encoder" / "best.safetensors"
    head_path = run_dir / f"seed{seed}" / "head" / "best.safetensors"
    if not enc_path.exists():
        raise BundleError(f"{enc_path} missing: the run's encoder was not trained")
    enc_w, enc_meta = load_tensors(enc_path)
    head_w, head_meta = load_tensors(head_path)

    names = list(head_meta["class_names"])
    t = cfg.text
    try:
        side_info = (load_side_info(t.side_info, names) if t.side_info
                     else load_shipped(head_meta["dataset"], names)).subset(names)
    except SideInfoError:  # e.g. a cache of a dataset without shipped side information
        side_info = None
    class_text, encoder_id = None, ""
    ct_path = run_dir / "text" / "class_text.safetensors"
    if ct_path.exists():
        from zeroskel.text.class_text import load_class_text

        class_text, ct_meta = load_class_text(ct_path)
        encoder_id = str(ct_meta.get("encoder", ""))
        if list(ct_meta.get("class_names", names)) != names:
            raise BundleError(f"{ct_path}: its classes differ from the head's training vocabulary")

    seen, unseen = [int(c) for c in head_meta.get("seen", [])], [int(c) for c in head_meta.get("unseen", [])]
    head_kwargs = dict(head_meta["model_kwargs"])
    info = {
        "format": BUNDLE_FORMAT,
        "code_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source_run": str(run_dir.resolve()),
        "seed": seed,
        "protocol": head_meta.get("protocol", cfg.protocol),
        "dataset": head_meta.get("dataset", ""),
        "encoder": {"file": "encoder.safetensors", "model": enc_meta["model"],
                    "model_kwargs": enc_meta["model_kwargs"], "epoch": enc_meta.get("epoch")},
        "head": {"file": "head.safetensors", "model": head_meta["model"], "model_kwargs": head_kwargs,
                 "epoch": head_meta.get("epoch")},
        "layout": head_meta.get("layout", enc_meta.get("layout")),
        "input": {"coords": "xyz", "num_joints": int(enc_meta["model_kwargs"]["num_joints"]),
                  "num_person": int(head_meta.get("num_person", enc_meta.get("num_person", 1)))},
        # the encoder's own preprocessing (origin, scale, view, streams, crops), from its checkpoint
        "preprocess": {**clip_preprocessing(enc_meta).to_dict(),
                       "length": int(head_meta.get("length", cfg.data.length)),
                       "num_person": int(head_meta.get("num_person", enc_meta.get("num_person", 1))),
                       "train": False, "feature_dtype": "float16"},
        "text": {"encoder": t.encoder, "encoder_id": encoder_id, "source": t.source,
                 "temporal": ct_meta.get("temporal", "phase") if class_text is not None else "phase",
                 "dim": int(head_kwargs.get("text_dim", class_text.shape[-1] if class_text is not None else 0)),
                 "side_info": "side_info.json" if side_info is not None else None,
                 "class_text": "class_text.safetensors" if class_text is not None else None},
        "vocabulary": {"class_names": names, "seen": seen, "unseen": unseen,
                       "seen_names": [names[c] for c in seen], "unseen_names": [names[c] for c in unseen]},
        "gamma": head_meta.get("gamma", {}),
        "notes": {
            "preprocess": "zeroskel.data.transforms.preprocess(train=False, options=Preprocessing."
                          "from_dict(preprocess)): `origin`, `scale` and `align_view` as named, the "
                          "deterministic centre crop of `eval_crop` of the frames resized to `length` by "
                          "linear interpolation, people padded/truncated to `num_person`, `streams` "
                          "stacked as channels (crop_min, max_rotation, rotation_axes, scale_jitter "
                          "were training-only augmentation)",
            "feature_dtype": "feature maps were cached as float16 in training and evaluation; the "
                             "recognizer rounds them the same way so its scores equal the run's",
            "gamma": "GZSL calibration chosen on the validation protocol: subtract from the scores "
                     "of seen (training) classes when they compete with new ones",
        },
    }
    return Bundle(info=info, encoder=(enc_w, enc_meta), head=(head_w, head_meta), side_info=side_info,
                  class_text=class_text, root=None)


def bundle_from_models(encoder: tuple[str, dict[str, Any]], head: tuple[str, dict[str, Any]], *, layout: str,
                       length: int, text_encoder: str, num_person: int = 1, align_view: bool = False,
                       preprocessing: Any = None,
                       text_source: str = "side-info", coords: str = "xyz", seed: int = 0) -> Bundle:
    """A bundle of freshly initialised models (no run, no training vocabulary): for latency benchmarks and
    for tests of the inference code, where the weights do not matter.

    Args:
        encoder / head: ``(registered model name, constructor kwargs)``.
        layout, length, num_person, align_view: the input and preprocessing settings.
        preprocessing: a :class:`zeroskel.data.transforms.Preprocessing` (its ``align_view`` wins);
            the encoder's ``in_channels`` must be its ``channels``.
        text_encoder: text encoder name (its id is checked when text is embedded).
        coords: ``xyz`` (3D joints) or ``xy+score`` (2D keypoints with a confidence).
        seed: torch seed of the initial weights.
    """
    from zeroskel.models import create_model
    from zeroskel.text.encoders import get_text_encoder

    from zeroskel.data.transforms import Preprocessing

    pre = preprocessing if preprocessing is not None else Preprocessing(align_view=align_view)
    torch.manual_seed(seed)
    enc, hd = create_model(encoder[0], **encoder[1]), create_model(head[0], **head[1])
    enc_id = get_text_encoder(text_encoder).id if text_encoder.startswith("hashing") else ""
    info = {
        "format": BUNDLE_FORMAT, "code_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source_run": None, "seed": seed, "protocol": None, "dataset": None,
        "encoder": {"file": "encoder.safetensors", "model": encoder[0], "model_kwargs": dict(encoder[1])},
        "head": {"file": "head.safetensors", "model": head[0], "model_kwargs": dict(head[1])},
        "layout": layout,
        "input": {"coords": coords, "num_joints": int(encoder[1]["num_joints"]), "num_person": num_person},
        "preprocess": {**pre.to_dict(), "length": length, "num_person": num_person, "train": False,
                       "feature_dtype": "float16"},
        "text": {"encoder": text_encoder, "encoder_id": enc_id, "source": text_source,
                 "dim": int(hd.text_dim), "side_info": None, "class_text": None},
        "vocabulary": {"class_names": [], "seen": [], "unseen": [], "seen_names": [], "unseen_names": []},
        "gamma": {},
        "notes": {"untrained": "freshly initialised weights (bundle_from_models)"},
    }
    meta = {"untrained": True, "code_version": __version__}
    return Bundle(info=info, encoder=(enc.state_dict(), {**meta, "model": encoder[0]}),
                  head=(hd.state_dict(), {**meta, "model": head[0]}))


def write_bundle(bundle: Bundle, out_dir: str | Path) -> Path:
    """Write ``bundle`` to ``out_dir`` atomically (see the module docstring). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(out_dir, e) from None
    with _parent_lock(out_dir):
        recover_bundle(out_dir, locked=True)
        try:
            _write_locked(bundle, out_dir)
        except OSError as e:
            if e.filename == str(out_dir):
                raise
            reason = os.strerror(e.errno) if e.errno else str(e)
            raise OSError(e.errno, f"cannot write bundle {out_dir}: {reason} (while writing {e.filename}; the "
                                   "previous bundle, if any, is unchanged; free space or choose another --out)",
                          str(out_dir)) from None
    return out_dir


def _write_locked(bundle: Bundle, out_dir: Path) -> None:
    from zeroskel.text.sideinfo import save_side_info

    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        save_tensors(tmp / "encoder.safetensors", *bundle.encoder)
        save_tensors(tmp / "head.safetensors", *bundle.head)
        if bundle.side_info is not None:
            save_side_info(bundle.side_info, tmp / "side_info.json")
        if bundle.class_text is not None:
            from zeroskel.text.class_text import save_class_text

            save_class_text(bundle.class_text, bundle.info["vocabulary"]["class_names"],
                            tmp / "class_text.safetensors", encoder_id=bundle.info["text"]["encoder_id"],
                            dataset=bundle.info.get("dataset", ""), source=bundle.info["text"]["source"],
                            temporal=bundle.info["text"].get("temporal", "phase"))
        write_json(tmp / BUNDLE_FILE, bundle.info)
        old = None
        if out_dir.exists():
            if not (out_dir / BUNDLE_FILE).exists() and any(out_dir.iterdir()):
                raise BundleError(f"{out_dir}: exists and is not a bundle; choose another output folder")
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".old"))
            os.replace(out_dir, old / "bundle")
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _parent_lock(out_dir: Path):
    """An exclusive ``flock`` on the bundle's parent folder (writers and recovery), where available."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    try:
        fd = os.open(out_dir.parent, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _leftovers(out_dir: Path) -> tuple[list[Path], list[Path]]:
    """(temp folders, moved-aside folders) a writer of ``out_dir`` left next to it."""
    if not out_dir.parent.is_dir():
        return [], []
    tmps, olds = [], []
    for p in out_dir.parent.glob(f".{out_dir.name}.*"):
        if p.is_dir() and p.name.endswith(".tmp"):
            tmps.append(p)
        elif p.is_dir() and p.name.endswith(".old"):
            olds.append(p)
    return tmps, olds


def recover_bundle(out_dir: str | Path, *, locked: bool = False) -> str | None:
    """Repair what a killed writer left: put the newest complete bundle in place when ``out_dir`` is
    missing, then remove the leftover temp folders. Returns what was done (None: nothing)."""
    out_dir = Path(out_dir)
    tmps, olds = _leftovers(out_dir)
    if not tmps and not olds:
        return None
    if not locked:
        with _parent_lock(out_dir):
            return recover_bundle(out_dir, locked=True)
    done = []
    if not out_dir.exists():
        # a complete new bundle (bundle.json is written last) wins over the moved-aside old one
        pool = ([p for p in tmps if (p / BUNDLE_FILE).is_file()]
                or [p / "bundle" for p in olds if (p / "bundle" / BUNDLE_FILE).is_file()])
        if pool:
            best = max(pool, key=lambda p: (p / BUNDLE_FILE).stat().st_mtime)
            try:
                os.replace(best, out_dir)
                done.append(f"restored {out_dir} from {best}")
            except OSError:  # a read-only folder: leave everything as it is
                return None
    for p in tmps + olds:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {p}")
    return "; ".join(done) or None


def export_bundle(run_dir: str | Path, out_dir: str | Path | None = None, *, seed: int | None = None) -> Path:
    """Export a run's models as a bundle folder (default ``RUN_DIR/bundle/``). Returns the folder."""
    run_dir = Path(run_dir)
    return write_bundle(bundle_from_run(run_dir, seed=seed),
                        Path(out_dir) if out_dir is not None else run_dir / "bundle")


def load_bundle(path: str | Path, *, seed: int | None = None) -> Bundle:
    """A bundle folder, or a run directory (its ``bundle/`` when present and of the asked seed, else the
    run's checkpoints read in place)."""
    path = Path(path)
    if (path / "config.yaml").exists() and not (path / BUNDLE_FILE).exists():
        recover_bundle(path / "bundle")
        inner = path / "bundle" / BUNDLE_FILE
        if inner.exists() and (seed is None or _read_info(inner, _rebuild_hint(path)).get("seed") == seed):
            return load_bundle(path / "bundle")
        return bundle_from_run(path, seed=seed)
    recover_bundle(path)
    info_path = path / BUNDLE_FILE
    if not info_path.exists():
        hint = ""
        if (path.parent / "config.yaml").exists():
            hint = f"; rebuild it with `zeroskel bundle {path.parent}`"
        raise BundleError(f"{path}: neither a bundle (no {BUNDLE_FILE}) nor a run directory (no config.yaml)"
                          f"{hint}")
    rebuild = _rebuild_hint(path)
    info = _read_info(info_path, rebuild)
    if seed is not None and info.get("seed") != seed:
        raise BundleError(f"{path}: bundle of seed {info.get('seed')}, not {seed}")

    def load(rel: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        try:
            return load_tensors(_inside(path, rel, info_path), rebuild=rebuild)
        except (CheckpointError, FileNotFoundError) as e:
            raise BundleError(f"{e}" if str(path) in str(e) else f"{path / rel}: {e}") from None

    encoder, head = load(info["encoder"]["file"]), load(info["head"]["file"])
    side_info = class_text = None
    if (path / "side_info.json").exists():
        from zeroskel.text.sideinfo import SideInfoError, load_side_info

        try:
            side_info = load_side_info(path / "side_info.json")
        except (SideInfoError, ValueError, OSError, RecursionError) as e:
            raise BundleError(f"{path / 'side_info.json'}: cannot read ({e}); {rebuild}") from None
    if info["text"].get("class_text"):
        ct_path = _inside(path, info["text"]["class_text"], info_path)
        if ct_path.exists():
            from zeroskel.text.class_text import load_class_text

            try:
                class_text, _ = load_class_text(ct_path)
            except (ValueError, OSError) as e:
                raise BundleError(f"{e}; {rebuild}" if str(ct_path) in str(e) else f"{ct_path}: {e}") from None
    return Bundle(info=info, encoder=encoder, head=head, side_info=side_info, class_text=class_text, root=path)


def _rebuild_hint(path: Path) -> str:
    """How to rebuild the bundle at ``path`` (from the run it came from, when known)."""
    run = None
    try:
        info = json.loads((path / BUNDLE_FILE).read_text(encoding="utf-8"))
        run = info.get("source_run") if isinstance(info, dict) else None
    except (OSError, ValueError, RecursionError):
        pass
    if not isinstance(run, str) or not run:
        run = str(path.parent) if (path.parent / "config.yaml").exists() else "RUN_DIR"
    return f"rebuild the bundle with `zeroskel bundle {run} --out {path}`"


# bundle.json: field -> type; nested fields checked by _read_info
_INFO_FIELDS = {"format": str, "encoder": dict, "head": dict, "layout": str, "preprocess": dict, "text": dict,
                "vocabulary": dict}


def _read_info(info_path: Path, rebuild: str) -> dict[str, Any]:
    """``bundle.json``, checked to be an object with the fields loading needs (BundleError otherwise)."""
    try:
        info = read_json(info_path)
    except (ValueError, RecursionError) as e:
        raise BundleError(f"{info_path}: not valid JSON ({str(e) or type(e).__name__}); {rebuild}") from None
    except OSError as e:
        raise BundleError(f"{info_path}: cannot read ({e.strerror or e})") from None

    def bad(what: str) -> BundleError:
        return BundleError(f"{info_path}: {what}; {rebuild}")

    if not isinstance(info, dict):
        raise bad(f"expected a JSON object, got a {type(info).__name__}")
    if "format" in info and info["format"] != BUNDLE_FORMAT:
        raise BundleError(f"{info_path}: format {info['format']!r}, expected {BUNDLE_FORMAT!r}")
    for key, typ in _INFO_FIELDS.items():
        if key not in info:
            raise bad(f"missing the field {key!r}")
        if not isinstance(info[key], typ):
            raise bad(f"field {key!r} should be a {typ.__name__}, got {type(info[key]).__name__}")
    for part in ("encoder", "head"):
        spec = info[part]
        if not isinstance(spec.get("file"), str) or not isinstance(spec.get("model"), str) \
                or not isinstance(spec.get("model_kwargs"), dict):
            raise bad(f"{part!r} needs 'file' and 'model' (strings) and 'model_kwargs' (an object)")
    pre = info["preprocess"]
    for key in ("length", "num_person"):
        value = pre.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"preprocess.{key} should be a whole number, got {value!r}")
    if pre["length"] < MIN_LENGTH:
        raise bad(f"preprocess.length is {pre['length']}; clips need at least {MIN_LENGTH} frames")
    if pre["num_person"] < 1:
        raise bad(f"preprocess.num_person is {pre['num_person']}; it should be at least 1")
    if "align_view" not in pre:
        raise bad("preprocess needs 'align_view'")
    text = info["text"]
    if not isinstance(text.get("encoder"), str) or isinstance(text.get("dim"), bool) \
            or not isinstance(text.get("dim"), int):
        raise bad("text needs 'encoder' (a string) and 'dim' (a whole number)")
    if not isinstance(info["vocabulary"].get("class_names"), list):
        raise bad("vocabulary needs 'class_names' (a list)")
    return info


def _inside(root: Path, rel: Any, info_path: Path) -> Path:
    """``root / rel``, refused unless it names a file inside ``root`` (no absolute paths, no ``..``)."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise BundleError(f"{info_path}: file {rel!r} is not a file name inside the bundle folder")
    target = (root / rel).resolve()
    if root.resolve() not in target.parents:
        raise BundleError(f"{info_path}: file {rel!r} points outside the bundle folder ({target})")
    return root / rel


def build_models(bundle: Bundle, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, torch.nn.Module]:
    """(encoder, head) of a bundle, in eval mode, frozen, on ``device``."""
    from zeroskel.train.io import model_from_weights

    models = []
    for part in ("encoder", "head"):
        try:
            models.append(model_from_weights(bundle.info[part], getattr(bundle, part)[0], device, frozen=True))
        except CheckpointError as e:
            where = bundle.root / BUNDLE_FILE if bundle.root is not None else "bundle"
            file = bundle.info[part].get("file", part)
            raise BundleError(f"{where}: the {part} settings disagree with the weights in {file}: {e}"
                              + (f"; {_rebuild_hint(bundle.root)}" if bundle.root is not None else "")) from None
    encoder, head = models
    return encoder, head


__all__ = ["BUNDLE_FORMAT", "Bundle", "BundleError", "bundle_from_run", "bundle_from_models", "write_bundle",
           "export_bundle", "load_bundle", "build_models", "recover_bundle", "MIN_LENGTH"]
