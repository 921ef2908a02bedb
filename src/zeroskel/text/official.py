"""Import of the official Neuron release's side information and precomputed text features.

The release ships, per dataset, six JSON files ``{class name: [10 strings]}``::

    spatial_cg.json  spatial_mg.json  spatial_fg.json     (coarse / mid / fine body structure)
    temporal_fp.json temporal_sp.json temporal_tp.json    (first / second / third phase)

and, per phase, a torch-saved float32 tensor of CLIP text features (C, 10, 768) named with the same stem
(``.pt`` or ``.tar``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch

from zeroskel.text.sideinfo import PHASES, SideInfoError, SideInformation, validate, write_json_atomic

# Our phase name -> the official file stem.
OFFICIAL_STEMS: dict[str, str] = {
    "spatial_coarse": "spatial_cg",
    "spatial_mid": "spatial_mg",
    "spatial_fine": "spatial_fg",
    "temporal_start": "temporal_fp",
    "temporal_middle": "temporal_sp",
    "temporal_end": "temporal_tp",
}
FEATURE_SUFFIXES: tuple[str, ...] = (".pt", ".tar", ".pth")


def _read_phase_json(path: Path) -> dict[str, list[str]]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SideInfoError(f"{path}: file not found (official layout needs "
                            f"{', '.join(s + '.json' for s in OFFICIAL_STEMS.values())})") from None
    except json.JSONDecodeError as e:
        raise SideInfoError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise SideInfoError(f"{path}: expected an object {{class name: [descriptions]}}")
    for name, texts in obj.items():
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise SideInfoError(f"{path}: class {name!r} must map to a list of strings")
    return obj


def load_official_side_info(directory: str | os.PathLike, class_names: Sequence[str] | None = None, *,
                            dataset: str = "", source: str = "official Neuron release") -> SideInformation:
    """Six official JSON files -> validated ``SideInformation``.

    Args:
        directory: folder holding ``spatial_cg.json`` ... ``temporal_tp.json``.
        class_names: class order (and classes required); default the key order of ``spatial_cg.json``.
    """
    directory = Path(directory)
    per_phase = {phase: _read_phase_json(directory / f"{stem}.json") for phase, stem in OFFICIAL_STEMS.items()}
    names = list(class_names) if class_names is not None else list(per_phase[PHASES[0]])
    classes: dict[str, dict[str, list[str]]] = {}
    for name in names:
        classes[name] = {}
        for phase, table in per_phase.items():
            if name not in table:
                raise SideInfoError(f"{directory / (OFFICIAL_STEMS[phase] + '.json')}: class {name!r} missing")
            classes[name][phase] = list(table[name])
    si = SideInformation(classes, dataset=dataset, source=source, origin=str(directory))
    return validate(si)


def _find_feature_file(directory: Path, stem: str) -> Path:
    for suffix in FEATURE_SUFFIXES:
        path = directory / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{directory}: no feature file {stem}{{{','.join(FEATURE_SUFFIXES)}}}")


def _load_tensor(path: Path) -> torch.Tensor:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):  # accept a one-tensor dict as well
        tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
        if len(tensors) != 1:
            raise ValueError(f"{path}: expected one tensor, found a dict with keys {list(obj)}")
        obj = tensors[0]
    if not isinstance(obj, torch.Tensor) or obj.dim() != 3:
        shape = tuple(obj.shape) if isinstance(obj, torch.Tensor) else type(obj).__name__
        raise ValueError(f"{path}: expected a (C, N_a, D) tensor, got {shape}")
    return obj.float()


def load_official_features(directory: str | os.PathLike, num_classes: int | None = None) -> torch.Tensor:
    """Six official feature tensors (C, N_a, D) -> one float32 tensor (6, C, N_a, D) in ``PHASES`` order."""
    directory = Path(directory)
    tensors = []
    for phase in PHASES:
        path = _find_feature_file(directory, OFFICIAL_STEMS[phase])
        t = _load_tensor(path)
        if tensors and t.shape != tensors[0].shape:
            raise ValueError(f"{path}: shape {tuple(t.shape)} differs from {OFFICIAL_STEMS[PHASES[0]]} "
                             f"{tuple(tensors[0].shape)}")
        if num_classes is not None and t.shape[0] != num_classes:
            raise ValueError(f"{path}: {t.shape[0]} classes, expected {num_classes}")
        tensors.append(t)
    return torch.stack(tensors)  # (6, C, N_a, D)


def save_official_layout(si: SideInformation, directory: str | os.PathLike,
                         features: torch.Tensor | None = None) -> Path:
    """Write ``si`` (and optional (6, C, N_a, D) ``features``) in the official layout (for exchange/tests)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i, phase in enumerate(PHASES):
        write_json_atomic({n: si.texts(n, phase) for n in si.class_names}, directory / f"{OFFICIAL_STEMS[phase]}.json")
        if features is not None:
            tmp = directory / f".{OFFICIAL_STEMS[phase]}.pt.tmp"
            torch.save(features[i].float().clone(), tmp)
            os.replace(tmp, directory / f"{OFFICIAL_STEMS[phase]}.pt")
    return directory
