"""Semantic sources for ablations and peers, all as ``SideInformation`` (six phases each).

- ``manual``: the class name only (one string per class, readable: ``sitDown`` -> ``sit down``),
  replicated to all six phases (N_a = 1).
- ``one-turn``: one description per class, as a single-turn LLM query would give: either a given
  ``{class: text}`` mapping (or JSON file), or the first ``spatial_coarse`` description of full side
  information; replicated to all six phases (N_a = 1).
- ``side-info``: the full multi-turn side information.
- ``pos``: the verb and noun phrases of each class (side-information field ``phrases``; SynSE's text):
  slot 0 (``spatial_coarse``) holds the verb phrase, slot 1 (``spatial_mid``) the noun phrase, slots
  2-5 the class name (N_a = 1). A class without phrases gets its readable name in slots 0 and 1, and
  the log names it.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

from zeroskel.text.sideinfo import PHASES, SideInfoError, SideInformation, validate

SOURCES: tuple[str, ...] = ("manual", "one-turn", "side-info", "pos")
LOG = logging.getLogger("zeroskel")


def humanize_class_name(name: str) -> str:
    """``sitDown`` -> ``sit down``, ``pick_up`` -> ``pick up`` (other names unchanged but stripped)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.strip())
    text = text.replace("_", " ")
    text = re.sub(r"\s+", " ", text)
    return text.lower() if text != name.strip() else text


def _replicate(texts: Mapping[str, str], *, dataset: str, source: str) -> SideInformation:
    classes = {name: {phase: [text] for phase in PHASES} for name, text in texts.items()}
    return validate(SideInformation(classes, dataset=dataset, source=source))


def _read_one_turn(descriptions: Mapping[str, str] | str | os.PathLike) -> tuple[dict[str, str], str]:
    if isinstance(descriptions, Mapping):
        return dict(descriptions), "<memory>"
    path = Path(descriptions)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SideInfoError(f"{path}: cannot read one-turn descriptions ({e})") from None
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise SideInfoError(f"{path}: expected a JSON object {{class name: description}}")
    return obj, str(path)


def make_source(name: str, side_info_or_names: SideInformation | Sequence[str], *,
                descriptions: Mapping[str, str] | str | os.PathLike | None = None) -> SideInformation:
    """Build the semantic source ``name`` for a set of classes.

    Args:
        name: ``manual``, ``one-turn``, ``side-info`` or ``pos``.
        side_info_or_names: full side information, or a list of class names (enough for ``manual``, and for
            ``one-turn`` when ``descriptions`` is given).
        descriptions: for ``one-turn``: ``{class: text}`` or a JSON file of it.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown semantic source {name!r} (expected one of {', '.join(SOURCES)})")
    si = side_info_or_names if isinstance(side_info_or_names, SideInformation) else None
    class_names = si.class_names if si is not None else list(side_info_or_names)
    dataset = si.dataset if si is not None else ""
    if name == "manual":
        return _replicate({n: humanize_class_name(n) for n in class_names}, dataset=dataset, source="manual")
    if name == "one-turn":
        if descriptions is not None:
            table, where = _read_one_turn(descriptions)
            missing = [n for n in class_names if n not in table]
            if missing:
                raise SideInfoError(f"{where}: one-turn descriptions missing for classes {missing}")
            return _replicate({n: table[n] for n in class_names}, dataset=dataset, source="one-turn")
        if si is None:
            raise ValueError("source 'one-turn' needs side information or a {class: description} mapping")
        return _replicate({n: si.texts(n, PHASES[0])[0] for n in class_names}, dataset=dataset,
                          source=f"one-turn (first {PHASES[0]} of {si.source or si.origin})")
    if name == "pos":
        return _pos(si, class_names, dataset)
    if si is None:
        raise ValueError("source 'side-info' needs side information, not class names")
    return si


def _pos(si: SideInformation | None, class_names: Sequence[str], dataset: str) -> SideInformation:
    """Verb phrase in slot 0, noun phrase in slot 1, the class name in the other four (N_a = 1)."""
    phrases = si.phrases if si is not None else {}
    missing = [n for n in class_names if n not in phrases]
    if missing:
        LOG.warning("text source pos: no verb/noun phrases for %d class(es) of %s (%s): their name stands "
                    "for both", len(missing), dataset or "the side information", ", ".join(missing))
    classes = {}
    for n in class_names:
        label = humanize_class_name(n)
        verb, noun = (phrases[n]["verb"], phrases[n]["noun"]) if n in phrases else (label, label)
        classes[n] = {p: [verb if i == 0 else noun if i == 1 else label] for i, p in enumerate(PHASES)}
    return validate(SideInformation(classes, dataset=dataset, source="pos (verb, noun, name x 4)"))
