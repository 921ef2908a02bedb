"""Import of the official Neuron release's side information and precomputed text features, as shipped.

The release (github cseeyangchen/Neuron, folder ``semantics/``) holds one folder per dataset family,
``ntu/`` (the 120 NTU RGB+D 120 classes; NTU-60 is their first 60) and ``pku/`` (PKU-MMD)::

    semantics/ntu/spatial/spatial_cg.json  spatial_mg.json  spatial_fg.json       {class name: [10 strings]}
    semantics/ntu/spatial/<prefix>_spatial_cg.tar  _mg.tar  _fg.tar               (C, 10, 768) float
    semantics/ntu/temporal/temporal_fp.json  temporal_sp.json  temporal_tp.json   first / second / third phase
    semantics/ntu/temporal/<prefix>_temporal_fp.tar  _fsp.tar  _fstp.tar          (C, 10, 768) float

with prefixes such as ``ntu120_gpt4omini_incontext`` and ``pkuv1_gpt4omini_incontext``. The JSON key
order is the label order, which is also the row order of the tensors. The temporal tensors are
CUMULATIVE: ``fsp`` embeds the first + second phase texts, ``fstp`` the first + second + third, so they fill
the temporal slots of temporal mode ``cumulative`` (``zeroskel.text.class_text``).

Accepted paths: ``semantics/`` (the dataset folder is chosen by ``dataset``), ``semantics/ntu``, or a flat
folder holding the six JSON files and the tensors side by side (named with or without a prefix; the older
``temporal_sp`` / ``temporal_tp`` tensor names are per-phase embeddings, temporal mode ``phase``).

    release = load_official_release("Neuron/semantics", BY_DATASET["ntu120"], dataset="ntu60",
                                    keep=BY_DATASET["ntu60"])
    release.side_info, release.class_text, release.temporal     # SideInformation, (6, 60, 10, 768), "cumulative"
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from zeroskel.config import read_json_file
from zeroskel.text.class_text import ClassTextTable
from zeroskel.text.sideinfo import PHASES, SideInfoError, SideInformation, validate, write_json_atomic

# Our phase name -> the official JSON stem.
OFFICIAL_STEMS: dict[str, str] = {
    "spatial_coarse": "spatial_cg",
    "spatial_mid": "spatial_mg",
    "spatial_fine": "spatial_fg",
    "temporal_start": "temporal_fp",
    "temporal_middle": "temporal_sp",
    "temporal_end": "temporal_tp",
}
# Temporal mode -> our phase name -> the tensor stem (after the optional ``<prefix>_``).
TENSOR_STEMS: dict[str, dict[str, str]] = {
    "cumulative": {**{p: OFFICIAL_STEMS[p] for p in PHASES[:3]}, "temporal_start": "temporal_fp",
                   "temporal_middle": "temporal_fsp", "temporal_end": "temporal_fstp"},
    "phase": dict(OFFICIAL_STEMS),
}
FEATURE_SUFFIXES: tuple[str, ...] = (".tar", ".pt", ".pth")
# zeroskel dataset -> the release folder that covers it.
RELEASE_FOLDERS: dict[str, str] = {"ntu60": "ntu", "ntu120": "ntu", "pku-mmd": "pku"}


@dataclass
class ReleaseLayout:
    """Where the files of one dataset's release are.

    Args:
        root: the dataset folder (``semantics/ntu``) or the flat folder.
        json_files: phase -> JSON file.
        tensor_files: phase -> tensor file (empty when the folder holds no tensors).
        temporal: temporal mode of the tensors (``cumulative`` for fsp/fstp, ``phase`` for sp/tp).
        prefix: the tensors' file-name prefix (``ntu120_gpt4omini_incontext``), "" when none.
    """

    root: Path
    json_files: dict[str, Path]
    tensor_files: dict[str, Path] = field(default_factory=dict)
    temporal: str = "cumulative"
    prefix: str = ""


@dataclass
class OfficialRelease:
    """One dataset's imported release: side information and the official vectors, in zeroskel's class order.

    Args:
        side_info: descriptions under zeroskel's class names (temporal phases = fp / sp / tp texts).
        class_text: (6, K, N_a, D) official vectors as shipped (not normalised), or None without tensors.
        temporal: temporal mode of ``class_text``.
        layout: the files read.
        notes: log lines about class-name matching.
    """

    side_info: SideInformation
    class_text: torch.Tensor | None
    temporal: str
    layout: ReleaseLayout
    notes: list[str] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return self.side_info.class_names

    def table(self) -> ClassTextTable:
        """The vectors as a ``ClassTextTable`` (what ``text.encoder=precomputed:...`` reads)."""
        if self.class_text is None:
            raise FileNotFoundError(f"{self.layout.root}: the release folder holds no feature tensors")
        return ClassTextTable(self.class_text, self.class_names, temporal=self.temporal, origin=str(self.layout.root),
                              encoder_id=f"official:{self.layout.prefix or self.layout.root.name}")


# ----------------------------------------------------------------------------------------- layout
def _dataset_folder(path: Path, dataset: str | None) -> Path:
    """``semantics/`` -> ``semantics/<ntu|pku>``; other folders unchanged."""
    subs = [d for d in sorted(set(RELEASE_FOLDERS.values())) if (path / d).is_dir()]
    if not subs or (path / "spatial").is_dir() or (path / "spatial_cg.json").is_file():
        return path
    if dataset:
        if dataset not in RELEASE_FOLDERS:
            raise ValueError(f"{path}: no release folder for dataset {dataset!r} "
                             f"(the release covers {', '.join(RELEASE_FOLDERS)})")
        sub = path / RELEASE_FOLDERS[dataset]
        if not sub.is_dir():
            raise FileNotFoundError(f"{path}: no folder {RELEASE_FOLDERS[dataset]}/ for dataset {dataset!r}")
        return sub
    if len(subs) == 1:
        return path / subs[0]
    raise ValueError(f"{path}: holds the releases {', '.join(s + '/' for s in subs)}; name the dataset "
                     f"(or give the path of one of them)")


def _find_tensor(folder: Path, stem: str) -> Path | None:
    pattern = re.compile(rf"^(?:(.+)_)?{re.escape(stem)}({'|'.join(re.escape(s) for s in FEATURE_SUFFIXES)})$")
    hits = sorted(p for p in folder.iterdir() if p.is_file() and pattern.match(p.name)) if folder.is_dir() else []
    if len(hits) > 1:
        raise ValueError(f"{folder}: several tensor files for {stem}: {', '.join(p.name for p in hits)}")
    return hits[0] if hits else None


def _prefix(path: Path, stem: str) -> str:
    name = path.name[: -len(path.suffix)]
    return name[: -len(stem)].rstrip("_")


def locate_release(path: str | os.PathLike, dataset: str | None = None) -> ReleaseLayout:
    """Find the JSON and tensor files of a release folder (see the module docstring for the layouts).

    Args:
        path: ``semantics/``, ``semantics/ntu`` (or ``pku``), or a flat folder.
        dataset: ``ntu60``, ``ntu120`` or ``pku-mmd`` (chooses the folder under ``semantics/``).
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such release folder")
    root = _dataset_folder(path, dataset)
    nested = (root / "spatial").is_dir() or (root / "temporal").is_dir()
    folder = {p: (root / p.split("_")[0]) if nested else root for p in PHASES}  # spatial/ or temporal/
    json_files = {p: folder[p] / f"{OFFICIAL_STEMS[p]}.json" for p in PHASES}
    found = {mode: {p: _find_tensor(folder[p], stem) for p, stem in stems.items()}
             for mode, stems in TENSOR_STEMS.items()}
    complete = [mode for mode, files in found.items() if all(files.values())]
    present = {f for files in found.values() for f in files.values() if f is not None}
    if len(complete) > 1:
        raise ValueError(f"{root}: holds both cumulative (temporal_fsp, temporal_fstp) and per-phase "
                         "(temporal_sp, temporal_tp) temporal tensors; keep one set")
    if not complete:
        if present:
            mode = max(found, key=lambda m: sum(f is not None for f in found[m].values()))
            missing = [stem for p, stem in TENSOR_STEMS[mode].items() if found[mode][p] is None]
            raise FileNotFoundError(f"{root}: incomplete release tensors: none for {', '.join(missing)} "
                                    f"(expected [<prefix>_]<stem>{{{','.join(FEATURE_SUFFIXES)}}})")
        return ReleaseLayout(root, json_files, {}, "cumulative", "")
    mode = complete[0]
    files = {p: found[mode][p] for p in PHASES}
    prefixes = {_prefix(files[p], TENSOR_STEMS[mode][p]) for p in PHASES}
    return ReleaseLayout(root, json_files, files, mode, prefixes.pop() if len(prefixes) == 1 else "")


# ----------------------------------------------------------------------------------------- JSON
def _read_phase_json(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        raise SideInfoError(f"{path}: file not found (the release needs "
                            f"{', '.join(s + '.json' for s in OFFICIAL_STEMS.values())})")
    obj = read_json_file(path, SideInfoError, "descriptions")
    if not isinstance(obj, dict):
        raise SideInfoError(f"{path}: expected an object {{class name: [descriptions]}}")
    for name, texts in obj.items():
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise SideInfoError(f"{path}: class {name!r} must map to a list of strings")
    return obj


def _read_tables(layout: ReleaseLayout, *, same_order: bool) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """The release's class names (``spatial_cg.json`` key order) and phase -> {class: texts}."""
    tables = {p: _read_phase_json(layout.json_files[p]) for p in PHASES}
    names = list(tables[PHASES[0]])
    for p in PHASES[1:]:
        keys = list(tables[p])
        if set(keys) != set(names):
            missing = [n for n in names if n not in tables[p]]
            extra = [k for k in keys if k not in tables[PHASES[0]]]
            raise SideInfoError(f"{layout.json_files[p]}: classes differ from {layout.json_files[PHASES[0]].name}: "
                                f"missing {missing}, extra {extra}")
        if same_order and keys != names:
            raise SideInfoError(f"{layout.json_files[p]}: lists the classes in another order than "
                                f"{layout.json_files[PHASES[0]].name}; the tensor rows follow the JSON order")
    return names, tables


def official_class_names(path: str | os.PathLike, dataset: str | None = None) -> list[str]:
    """The release's class names, in its label order (the keys of ``spatial_cg.json``)."""
    layout = locate_release(path, dataset)
    return list(_read_phase_json(layout.json_files[PHASES[0]]))


# ----------------------------------------------------------------------------------------- names
def _name_key(name: str) -> str:
    """Case and punctuation folded: ``Nod head / Bow.`` -> ``nod head bow``."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.casefold()).split())


def match_class_names(release_names: Sequence[str], class_names: Sequence[str], *,
                      where: str = "release") -> tuple[list[int], list[str]]:
    """For each of ``class_names`` (zeroskel's, in label order) the index of its release class.

    Names match exactly, then with case and punctuation folded; names left over are resolved by position
    when both lists have the same length and every name matched so far sits at its own position.

    Returns:
        (indices into ``release_names``, log lines naming every name that did not match exactly).
    """
    release_names, class_names = list(release_names), list(class_names)
    exact = {n: i for i, n in enumerate(release_names)}
    folded: dict[str, list[int]] = {}
    for i, n in enumerate(release_names):
        folded.setdefault(_name_key(n), []).append(i)
    index: list[int | None] = []
    notes: list[str] = []
    for name in class_names:
        if name in exact:
            index.append(exact[name])
            continue
        hits = folded.get(_name_key(name), [])
        if len(hits) == 1:
            index.append(hits[0])
            notes.append(f"{where}: class {release_names[hits[0]]!r} taken as {name!r} (case/punctuation differ)")
        else:
            index.append(None)
    taken = [i for i in index if i is not None]
    twice = sorted({release_names[i] for i in taken if taken.count(i) > 1})
    if twice:
        raise SideInfoError(f"{where}: release classes {twice} match more than one of zeroskel's names")
    left = [k for k, i in enumerate(index) if i is None]
    if left:
        misplaced = [class_names[k] for k, i in enumerate(index) if i is not None and i != k]
        if len(release_names) != len(class_names) or misplaced:
            unused = [n for i, n in enumerate(release_names) if i not in set(index)]
            why = (f"counts differ ({len(release_names)} in the release, {len(class_names)} expected)"
                   if len(release_names) != len(class_names) else
                   f"the release orders classes differently (e.g. {misplaced[0]!r})")
            raise SideInfoError(f"{where}: classes not found in the release: {[class_names[k] for k in left]}; "
                                f"release classes not matched: {unused}; cannot resolve by order: {why}")
        notes.append(f"{where}: {len(left)} class names do not match; resolved by order (both lists have "
                     f"{len(class_names)} classes in label order)")
        for k in left:
            index[k] = k
            notes.append(f"{where}: class {k}: release {release_names[k]!r} taken as {class_names[k]!r} (by order)")
    return [int(i) for i in index], notes


# ----------------------------------------------------------------------------------------- tensors
def _load_tensor(path: Path, shape: tuple[int, int] | None = None) -> torch.Tensor:
    """One release tensor (C, N_a, D), float; ``shape`` checks (C, N_a)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - unsafe or corrupt files: one message naming the file
        raise ValueError(f"{path}: cannot be read as a tensor file with weights_only=True "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(obj, torch.Tensor):
        raise ValueError(f"{path}: expected a float tensor (C, N_a, D), found a {type(obj).__name__}")
    if not obj.is_floating_point() or obj.dim() != 3:
        raise ValueError(f"{path}: expected a float tensor (C, N_a, D), got {obj.dtype} {tuple(obj.shape)}")
    if shape is not None and tuple(obj.shape[:2]) != shape:
        raise ValueError(f"{path}: shape {tuple(obj.shape)}, expected ({shape[0]}, {shape[1]}, D) "
                         f"({shape[0]} classes x {shape[1]} descriptions, as in the JSON files)")
    if not torch.isfinite(obj).all():
        raise ValueError(f"{path}: holds NaN or infinite values")
    return obj.float()


def _load_features(layout: ReleaseLayout, shape: tuple[int, int] | None) -> torch.Tensor:
    tensors: list[torch.Tensor] = []
    for phase in PHASES:
        path = layout.tensor_files[phase]
        t = _load_tensor(path, shape)
        if tensors and t.shape != tensors[0].shape:
            raise ValueError(f"{path}: shape {tuple(t.shape)} differs from {layout.tensor_files[PHASES[0]].name} "
                             f"{tuple(tensors[0].shape)}")
        tensors.append(t)
    return torch.stack(tensors)  # (6, C, N_a, D)


def load_official_features(path: str | os.PathLike, num_classes: int | None = None, *,
                           dataset: str | None = None) -> torch.Tensor:
    """The six release tensors -> one float32 (6, C, N_a, D) in ``PHASES`` order and release class order.

    The temporal slots hold what the files hold: cumulative texts for fsp/fstp (see ``locate_release``).
    """
    layout = locate_release(path, dataset)
    if not layout.tensor_files:
        raise FileNotFoundError(f"{layout.root}: no release tensors ([<prefix>_]spatial_cg.tar ... "
                                f"[<prefix>_]temporal_fstp.tar)")
    feats = _load_features(layout, None)
    if num_classes is not None and feats.shape[1] != num_classes:
        raise ValueError(f"{layout.tensor_files[PHASES[0]]}: {feats.shape[1]} classes, expected {num_classes}")
    return feats


# ----------------------------------------------------------------------------------------- import
def load_official_release(path: str | os.PathLike, class_names: Sequence[str] | None = None, *,
                          dataset: str = "", keep: Sequence[str] | None = None, features: bool = True,
                          source: str = "official Neuron release",
                          log: Callable[[str], None] | None = None) -> OfficialRelease:
    """Read one dataset's release: descriptions and vectors under zeroskel's class names.

    Args:
        path: ``semantics/``, ``semantics/<ntu|pku>`` or a flat folder.
        class_names: zeroskel's names of the classes the release covers, in label order (e.g. NTU-120's
            120 for the ``ntu`` folder); matched by ``match_class_names``. None: the release's own names.
        dataset: ``ntu60``, ``ntu120`` or ``pku-mmd`` (folder choice, stored in the side information).
        keep: the classes to return, in order (default all of ``class_names``); NTU-60 keeps 60 of 120.
        features: read the tensors when the folder has them (False: the descriptions only).
        source: the side information's ``source`` field.
        log: called with each name-matching note.
    """
    layout = locate_release(path, dataset or None)
    want_tensors = features and bool(layout.tensor_files)
    release_names, tables = _read_tables(layout, same_order=want_tensors)
    names = list(class_names) if class_names is not None else list(release_names)
    index, notes = match_class_names(release_names, names, where=str(layout.root))
    for line in notes:
        if log is not None:
            log(line)
    keep = list(keep) if keep is not None else names
    position = {n: k for k, n in enumerate(names)}
    missing = [n for n in keep if n not in position]
    if missing:
        raise SideInfoError(f"{layout.root}: classes to keep are not among the release's: {missing}")
    rows = [index[position[n]] for n in keep]
    classes = {n: {p: list(tables[p][release_names[r]]) for p in PHASES} for n, r in zip(keep, rows)}
    si = validate(SideInformation(classes, dataset=dataset, source=source, origin=str(layout.root)))
    class_text = None
    if want_tensors:
        feats = _load_features(layout, (len(release_names), si.num_descriptions))  # (6, C, N_a, D)
        class_text = feats[:, rows].contiguous()                                     # (6, K, N_a, D)
    return OfficialRelease(si, class_text, layout.temporal, layout, notes)


def load_official_side_info(path: str | os.PathLike, class_names: Sequence[str] | None = None, *,
                            dataset: str = "", source: str = "official Neuron release") -> SideInformation:
    """The release's six JSON files -> validated ``SideInformation`` (names as in the release).

    Args:
        path: ``semantics/<ntu|pku>``, ``semantics/`` with ``dataset``, or a flat folder.
        class_names: class order (and classes required, by exact name); default the release order.
    """
    layout = locate_release(path, dataset or None)
    release_names, tables = _read_tables(layout, same_order=False)
    names = list(class_names) if class_names is not None else release_names
    for name in names:
        if name not in tables[PHASES[0]]:
            raise SideInfoError(f"{layout.json_files[PHASES[0]]}: class {name!r} missing")
    classes = {n: {p: list(tables[p][n]) for p in PHASES} for n in names}
    return validate(SideInformation(classes, dataset=dataset, source=source, origin=str(layout.root)))


def load_official_table(path: str | os.PathLike, dataset: str | None = None) -> ClassTextTable:
    """A release folder -> ``ClassTextTable`` under the release's own class names (``precomputed:<folder>``)."""
    return load_official_release(path, dataset=dataset or "").table()


def save_official_layout(si: SideInformation, directory: str | os.PathLike, features: torch.Tensor | None = None,
                         *, prefix: str = "zeroskel", temporal: str = "cumulative") -> Path:
    """Write ``si`` (and optional (6, C, N_a, D) ``features``) as one dataset folder of the release
    (``spatial/``, ``temporal/``; tensors named ``<prefix>_<stem>.tar``) for exchange and tests.

    ``features``' temporal slots must hold ``temporal``-mode vectors (cumulative: fp, fsp, fstp).
    """
    directory = Path(directory)
    stems = TENSOR_STEMS[temporal]
    for i, phase in enumerate(PHASES):
        folder = directory / ("spatial" if phase.startswith("spatial") else "temporal")
        write_json_atomic({n: si.texts(n, phase) for n in si.class_names}, folder / f"{OFFICIAL_STEMS[phase]}.json")
        if features is not None:
            name = f"{prefix}_{stems[phase]}.tar" if prefix else f"{stems[phase]}.tar"
            tmp = folder / f".{name}.tmp"
            torch.save(features[i].float().clone(), tmp)
            os.replace(tmp, folder / name)
    return directory
