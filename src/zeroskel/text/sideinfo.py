"""Side information: per-class, per-phase lists of action descriptions (Neuron's semantic source).

Neuron describes every action class with six lists of N_a descriptions: three spatial granularities of
the body structure (coarse, mid, fine) and three temporal phases of the motion (start, middle, end).

On disk (``format: zeroskel-side-info/1``)::

    {"format": "zeroskel-side-info/1", "version": 2, "dataset": "utd-mhad", "source": "...", "num_descriptions": 5,
     "history": [{"version": 1, "source": "...", "num_descriptions": 5}],
     "classes": [{"name": "right hand wave", "spatial_coarse": [5 strings], ..., "temporal_end": [...],
                  "parts": {"head": "...", "hands": "...", "arms": "...", "torso": "...", "legs": "...",
                            "feet": "..."}}]}

``version`` (an int) and ``history`` (a list of objects, one per earlier version of the descriptions) are
optional; they are checked for type, kept on ``SideInformation`` and written back by ``save_side_info``.

A class may also carry ``"phrases": {"verb": str, "noun": str}`` (right after ``name``): the verb phrase
and the noun phrase of its label, as SynSE's part-of-speech split of the label (``"right hand knock on
door"`` -> verb ``"knock"``, noun ``"door, right hand"``; the noun phrase names the object or, without
one, the body part that acts). Optional, both non-empty strings; kept on ``SideInformation.phrases``
and read by the ``pos`` semantic source (``zeroskel.text.sources``).

``parts`` (optional, the last key of a class): one short description per body part (``PARTS``) of
what that part does in the action, for the part-level peers (STAR's six parts; PURLS's head / hands /
torso / legs are head, hands+arms, torso, legs+feet). Either every class has it or none.

Files shipped with the package live in ``zeroskel/text/side_info/<dataset>.json``.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from zeroskel.config import read_json_file

FORMAT = "zeroskel-side-info/1"
PHASES: tuple[str, ...] = (
    "spatial_coarse", "spatial_mid", "spatial_fine",
    "temporal_start", "temporal_middle", "temporal_end",
)
SPATIAL_PHASES: tuple[str, ...] = PHASES[:3]
TEMPORAL_PHASES: tuple[str, ...] = PHASES[3:]
PARTS: tuple[str, ...] = ("head", "hands", "arms", "torso", "legs", "feet")

# Overrides the directory that load_shipped / list_shipped read (tests, user-authored sets).
SIDE_INFO_DIR_ENV = "ZEROSKEL_SIDE_INFO_DIR"


class SideInfoError(ValueError):
    """Invalid side information; the message names the file, the class and the field."""


@dataclass
class SideInformation:
    """Ordered classes -> {phase: [N_a descriptions]}.

    Args:
        classes: class name -> phase -> list of descriptions, in class order.
        dataset: dataset the classes belong to (free text, e.g. ``utd-mhad``).
        source: where the descriptions came from (e.g. ``authored``, ``llm:gpt-4o``, ``official release``).
        version: revision number of the descriptions (optional).
        history: earlier revisions, e.g. ``[{"version": 1, "source": "...", "num_descriptions": 5}]``.
        parts: class name -> {part: description} for every part of ``PARTS`` (optional, all or no classes).
        phrases: class name -> {"verb": ..., "noun": ...}, the label's verb and noun phrases (optional).
    """

    classes: dict[str, dict[str, list[str]]]
    dataset: str = ""
    source: str = ""
    version: int | None = None
    history: list[dict] = field(default_factory=list)
    parts: dict[str, dict[str, str]] = field(default_factory=dict)  # class -> {part: text} (optional)
    phrases: dict[str, dict[str, str]] = field(default_factory=dict)  # class -> {"verb", "noun"} (optional)
    origin: str = field(default="<memory>", compare=False)  # file it was read from, for error messages

    @property
    def class_names(self) -> list[str]:
        return list(self.classes)

    @property
    def phases(self) -> tuple[str, ...]:
        return PHASES

    @property
    def num_descriptions(self) -> int:
        """N_a: the number of descriptions per class and phase (equal everywhere once validated)."""
        for per_phase in self.classes.values():
            for phase in PHASES:
                if phase in per_phase:
                    return len(per_phase[phase])
        return 0

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, class_name: object) -> bool:
        return class_name in self.classes

    def texts(self, class_name: str, phase: str) -> list[str]:
        """The N_a descriptions of one class in one phase."""
        if phase not in PHASES:
            raise KeyError(f"{self.origin}: unknown phase {phase!r} (expected one of {', '.join(PHASES)})")
        if class_name not in self.classes:
            raise KeyError(f"{self.origin}: class {class_name!r} not in side information")
        return list(self.classes[class_name][phase])

    def part_text(self, class_name: str, part: str) -> str:
        """The body-part description of one class (``part`` in ``PARTS``)."""
        if class_name not in self.parts:
            raise KeyError(f"{self.origin}: class {class_name!r} has no 'parts' descriptions")
        if part not in PARTS:
            raise KeyError(f"{self.origin}: unknown part {part!r} (expected one of {', '.join(PARTS)})")
        return self.parts[class_name][part]

    def subset(self, class_names: Iterable[str]) -> "SideInformation":
        """A copy holding only ``class_names``, in that order (every name must be present)."""
        names = list(class_names)
        missing = [n for n in names if n not in self.classes]
        if missing:
            raise SideInfoError(f"{self.origin}: classes missing from side information: {missing}")
        return SideInformation(
            {n: {p: list(self.classes[n][p]) for p in PHASES} for n in names},
            dataset=self.dataset, source=self.source, version=self.version,
            history=[dict(h) for h in self.history], origin=self.origin,
            parts={n: dict(self.parts[n]) for n in names if n in self.parts},
            phrases={n: dict(self.phrases[n]) for n in names if n in self.phrases},
        )

    def to_json(self) -> dict:
        obj: dict = {"format": FORMAT}
        if self.version is not None:
            obj["version"] = self.version
        obj.update(dataset=self.dataset, source=self.source, num_descriptions=self.num_descriptions)
        if self.history:
            obj["history"] = [dict(h) for h in self.history]
        obj["classes"] = [{"name": n, **({"phrases": dict(self.phrases[n])} if n in self.phrases else {}),
                           **{p: list(per[p]) for p in PHASES},
                           **({"parts": dict(self.parts[n])} if n in self.parts else {})}
                          for n, per in self.classes.items()]
        return obj

    @classmethod
    def from_json(cls, obj: object, origin: str = "<memory>") -> "SideInformation":
        """Parse the JSON object of a side-information file (structure only; see ``validate``)."""
        if not isinstance(obj, dict):
            raise SideInfoError(f"{origin}: expected a JSON object, got {type(obj).__name__}")
        fmt = obj.get("format")
        if fmt != FORMAT:
            raise SideInfoError(f"{origin}: field 'format' is {fmt!r}, expected {FORMAT!r}")
        entries = obj.get("classes")
        if not isinstance(entries, list):
            raise SideInfoError(f"{origin}: field 'classes' must be a list of class objects")
        classes: dict[str, dict[str, list[str]]] = {}
        parts: dict[str, dict[str, str]] = {}
        phrases: dict[str, dict[str, str]] = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise SideInfoError(f"{origin}: classes[{i}] must be an object with a string 'name'")
            name = entry["name"]
            if name in classes:
                raise SideInfoError(f"{origin}: class {name!r} appears twice")
            unknown = sorted(set(entry) - set(PHASES) - {"name", "phrases", "parts"})
            if unknown:
                raise SideInfoError(f"{origin}: class {name!r} has unknown fields {unknown} "
                                    f"(phases are {', '.join(PHASES)}; optional: phrases, parts)")
            if "phrases" in entry:
                phrases[name] = _check_phrases(entry["phrases"], f"{origin}: class {name!r} field 'phrases'")
            per_phase: dict[str, list[str]] = {}
            for phase in PHASES:
                if phase not in entry:
                    raise SideInfoError(f"{origin}: class {name!r} lacks field {phase!r}")
                texts = entry[phase]
                if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                    raise SideInfoError(f"{origin}: class {name!r} field {phase!r} must be a list of strings")
                per_phase[phase] = list(texts)
            classes[name] = per_phase
            if "parts" in entry:
                parts[name] = _read_parts(entry["parts"], name, origin)
        version, history = _read_revisions(obj, origin)
        si = cls(classes, dataset=str(obj.get("dataset", "")), source=str(obj.get("source", "")), version=version,
                 history=history, phrases=phrases, parts=parts, origin=origin)
        declared = obj.get("num_descriptions")
        if declared is not None and classes and declared != si.num_descriptions:
            raise SideInfoError(f"{origin}: field 'num_descriptions' is {declared} but class "
                                f"{si.class_names[0]!r} has {si.num_descriptions} descriptions")
        return si


def _read_parts(value: object, name: str, origin: str) -> dict[str, str]:
    """A class's ``parts`` object: exactly the keys of ``PARTS``, each a non-empty string."""
    if not isinstance(value, dict):
        raise SideInfoError(f"{origin}: class {name!r} field 'parts' must be an object {{part: text}}")
    if set(value) != set(PARTS):
        raise SideInfoError(f"{origin}: class {name!r} field 'parts' has keys {sorted(value)}, "
                            f"expected {', '.join(PARTS)}")
    for part in PARTS:
        if not isinstance(value[part], str) or not value[part].strip():
            raise SideInfoError(f"{origin}: class {name!r} field 'parts' entry {part!r} must be a non-empty string")
    return {part: value[part] for part in PARTS}


def _check_phrases(value: object, where: str) -> dict[str, str]:
    """``{"verb": str, "noun": str}``, both non-empty; SideInfoError naming ``where`` otherwise."""
    if not isinstance(value, dict) or set(value) != {"verb", "noun"}:
        raise SideInfoError(f"{where} must be an object with exactly the keys 'verb' and 'noun', got {value!r}")
    for key in ("verb", "noun"):
        if not isinstance(value[key], str) or not value[key].strip():
            raise SideInfoError(f"{where}: {key!r} must be a non-empty string, got {value[key]!r}")
    return {"verb": value["verb"], "noun": value["noun"]}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Known fields of a history entry and their types; other fields are kept as they are.
_HISTORY_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "version": ("an int", _is_int),
    "source": ("a string", lambda v: isinstance(v, str)),
    "num_descriptions": ("an int", _is_int),
}


def _read_revisions(obj: dict, origin: str) -> tuple[int | None, list[dict]]:
    """The optional top-level ``version`` (int) and ``history`` (list of objects), type-checked."""
    version = obj.get("version")
    if version is not None and not _is_int(version):
        raise SideInfoError(f"{origin}: field 'version' must be an int, got {version!r}")
    history = obj.get("history")
    if history is None:
        return version, []
    if not isinstance(history, list):
        raise SideInfoError(f"{origin}: field 'history' must be a list of objects, got {type(history).__name__}")
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise SideInfoError(f"{origin}: history[{i}] must be an object, got {type(entry).__name__}")
        for key, (kind, ok) in _HISTORY_FIELDS.items():
            if key in entry and not ok(entry[key]):
                raise SideInfoError(f"{origin}: history[{i}] field {key!r} must be {kind}, got {entry[key]!r}")
    return version, [dict(entry) for entry in history]


def validate(si: SideInformation, class_names: Sequence[str] | None = None, *,
             min_descriptions: int = 1, origin: str | None = None) -> SideInformation:
    """Check ``si`` and return it; raise ``SideInfoError`` naming file, class and field otherwise.

    Args:
        si: the side information.
        class_names: classes that must be present (default: those in ``si``).
        min_descriptions: smallest allowed N_a.
        origin: file name used in messages (default ``si.origin``).
    """
    where = origin or si.origin
    if not si.classes:
        raise SideInfoError(f"{where}: no classes")
    _read_revisions({"version": si.version, "history": si.history}, where)
    missing = [n for n in (class_names or []) if n not in si.classes]
    if missing:
        raise SideInfoError(f"{where}: classes missing: {missing}")
    for name in si.phrases:
        if name not in si.classes:
            raise SideInfoError(f"{where}: phrases given for class {name!r}, which has no descriptions")
        _check_phrases(si.phrases[name], f"{where}: class {name!r} field 'phrases'")
    expected = si.num_descriptions
    first = si.class_names[0]
    for name, per_phase in si.classes.items():
        unknown = sorted(set(per_phase) - set(PHASES))
        if unknown:
            raise SideInfoError(f"{where}: class {name!r} has unknown phases {unknown}")
        for phase in PHASES:
            if phase not in per_phase:
                raise SideInfoError(f"{where}: class {name!r} lacks field {phase!r}")
            texts = per_phase[phase]
            if len(texts) != expected:
                raise SideInfoError(f"{where}: class {name!r} field {phase!r} has {len(texts)} descriptions, "
                                    f"expected {expected} (as class {first!r} field {PHASES[0]!r})")
            for i, text in enumerate(texts):
                if not isinstance(text, str) or not text.strip():
                    raise SideInfoError(f"{where}: class {name!r} field {phase!r} description {i} is empty")
    if si.parts:
        lacking = [n for n in si.classes if n not in si.parts]
        if lacking:
            raise SideInfoError(f"{where}: field 'parts' is given for some classes but not for {lacking}")
        for name in si.parts:
            if name not in si.classes:
                raise SideInfoError(f"{where}: field 'parts' names class {name!r}, which has no descriptions")
            _read_parts(si.parts[name], name, where)
    if expected < min_descriptions:
        raise SideInfoError(f"{where}: {expected} descriptions per phase, at least {min_descriptions} required")
    return si


def load_side_info(path: str | os.PathLike, class_names: Sequence[str] | None = None, *,
                   min_descriptions: int = 1) -> SideInformation:
    """Read and validate a side-information JSON file."""
    path = Path(path)
    obj = read_json_file(path, SideInfoError, "side information")
    si = SideInformation.from_json(obj, origin=str(path))
    return validate(si, class_names, min_descriptions=min_descriptions)


def write_json_atomic(obj: object, path: str | os.PathLike) -> Path:
    """Write ``obj`` as JSON to ``path`` through a temp file in the same directory + os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_side_info(si: SideInformation, path: str | os.PathLike) -> Path:
    """Validate ``si`` and write it atomically to ``path``."""
    validate(si, origin=str(path))
    return write_json_atomic(si.to_json(), path)


def from_mapping(classes: Mapping[str, Mapping[str, Sequence[str]]], *, dataset: str = "",
                 source: str = "") -> SideInformation:
    """Build (and validate) side information from ``{class: {phase: [texts]}}``."""
    si = SideInformation({n: {p: list(t) for p, t in per.items()} for n, per in classes.items()},
                         dataset=dataset, source=source)
    return validate(si)


# What each phase's descriptions say (the template's placeholders; zeroskel.text.prompts asks an LLM the same).
PHASE_HINTS: dict[str, str] = {
    "spatial_coarse": "whole body - which limbs act, which stay still, which side, what the trunk and legs do",
    "spatial_mid": "limb segments - how upper arms, forearms, thighs and shanks bend, rotate or extend",
    "spatial_fine": "hands, wrists, feet and head - the path each traces, its extent and speed, any contact",
    "temporal_start": "start of the motion - which part moves first, in which direction",
    "temporal_middle": "middle of the motion, its main stroke - direction, path shape, extent, speed",
    "temporal_end": "end of the motion - how the movement specific to it finishes",
}


def template(class_names: Sequence[str], *, num_descriptions: int = 1, dataset: str = "") -> SideInformation:
    """Side information to fill in by hand (no LLM needed): every class and phase holds
    ``num_descriptions`` placeholders ``"<class>: <what this phase describes>"``.

    The placeholders are valid side information (a run or ``text check`` accepts the file as is, as
    a class-name baseline); replace them with sentences about the action.
    """
    names = [str(n).strip() for n in class_names]
    if not names or not all(names):
        raise SideInfoError("template: give at least one class name, none empty")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SideInfoError(f"template: classes appear twice: {dupes}")
    if num_descriptions < 1:
        raise SideInfoError(f"template: num_descriptions must be >= 1, got {num_descriptions}")
    classes = {n: {p: [f"{n}: {PHASE_HINTS[p]}" + (f" ({i + 1})" if num_descriptions > 1 else "")
                       for i in range(num_descriptions)] for p in PHASES} for n in names}
    return validate(SideInformation(classes, dataset=dataset, source="template (to edit by hand)",
                                    origin="<template>"))


def _shipped_dir(directory: str | os.PathLike | None = None):
    if directory is not None:
        return Path(directory)
    if os.environ.get(SIDE_INFO_DIR_ENV):
        return Path(os.environ[SIDE_INFO_DIR_ENV])
    return resources.files("zeroskel.text") / "side_info"


def list_shipped(directory: str | os.PathLike | None = None) -> list[str]:
    """Datasets with shipped side information (the ``<dataset>.json`` stems), sorted."""
    root = _shipped_dir(directory)
    if not root.is_dir():
        return []
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json"))


def load_shipped(dataset: str, class_names: Sequence[str] | None = None, *,
                 directory: str | os.PathLike | None = None) -> SideInformation:
    """The side information shipped for ``dataset`` (validated).

    Args:
        dataset: e.g. ``utd-mhad``, ``msr-action3d``, ``utkinect``, ``nw-ucla``.
        class_names: classes that must be present.
        directory: read from here instead of the package (also ``$ZEROSKEL_SIDE_INFO_DIR``).
    """
    root = _shipped_dir(directory)
    res = root / f"{dataset}.json"
    if not res.is_file():
        available = list_shipped(directory)
        where = "shipped" if directory is None else f"in {directory}"
        raise SideInfoError(f"{res}: no side information {where} for dataset {dataset!r} "
                            f"(available: {', '.join(available) or 'none'})")
    with resources.as_file(res) as path:
        return load_side_info(path, class_names)
