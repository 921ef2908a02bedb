"""Semantic sources for ablations and peers, all as ``SideInformation`` (six phases each).

- ``manual``: the class name only (one string per class, readable: ``sitDown`` -> ``sit down``),
  replicated to all six phases (N_a = 1).
- ``one-turn``: one description per class, as a single-turn LLM query would give: either a given
  ``{class: text}`` mapping (or JSON file), or the first ``spatial_coarse`` description of full side
  information; replicated to all six phases (N_a = 1).
- ``side-info``: the full multi-turn side information.

Slot sources for the description-level peers: the class text tensor gets other slots than the six
phases (``SOURCE_SLOTS``; every slot holds N_a texts, a single text repeated where there is one):

- ``parts`` (STAR): the six body-part descriptions (``PARTS``) and the class name; N_a = 1.
- ``purls`` (PURLS): head, hands (+ arms), torso, legs (+ feet) descriptions, the three temporal
  phases and a global description (the ``spatial_coarse`` whole-body descriptions); N_a of the side
  information.
- ``pos`` (JPoSE, SynSE): the class's verb phrase, noun phrase and four times its name (the six-slot
  layout SynSE's verb and noun VAEs read); N_a = 1. The phrases come from the side information's
  optional per-class ``phrases`` field, else from the class name (first word of ``ACTION_WORDS`` in
  it = verb, the rest = noun), with a warning naming the class.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

from zeroskel.config import read_json_file
from zeroskel.text.sideinfo import PARTS, PHASES, SideInfoError, SideInformation, validate

LOG = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("manual", "one-turn", "side-info", "parts", "purls", "pos")
SLOT_SOURCES: tuple[str, ...] = ("parts", "purls", "pos")  # slots of their own (SOURCE_SLOTS), not the 6 phases
SOURCE_SLOTS: dict[str, tuple[str, ...]] = {
    "manual": PHASES, "one-turn": PHASES, "side-info": PHASES,
    "parts": PARTS + ("name",),
    "purls": ("head", "hands", "torso", "legs", "temporal_start", "temporal_middle", "temporal_end", "global"),
    "pos": ("verb", "noun", "name", "name", "name", "name"),
}
# the PURLS slots that join two of our parts
_PURLS_JOIN = {"hands": ("hands", "arms"), "legs": ("legs", "feet")}
# words that are the verb of a class name (fallback verb / noun split of ``pos``)
ACTION_WORDS: frozenset[str] = frozenset(
    "wave swipe clap throw cross shoot draw boxing swing curl serve push knock catch pick jogging walking "
    "sit stand lunge squat hammer punch bend kick walk carry pull drop donning doffing pickup "
    "bowling".split())


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
    obj = read_json_file(path, SideInfoError, "one-turn descriptions")
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise SideInfoError(f"{path}: expected a JSON object {{class name: description}}")
    return obj, str(path)


def make_source(name: str, side_info_or_names: SideInformation | Sequence[str], *,
                descriptions: Mapping[str, str] | str | os.PathLike | None = None) -> SideInformation:
    """Build the semantic source ``name`` for a set of classes.

    Args:
        name: ``manual``, ``one-turn`` or ``side-info`` (the slot sources ``parts``, ``purls`` and
            ``pos`` return the side information itself; ``slot_source_texts`` gives their texts).
        side_info_or_names: full side information, or a list of class names (enough for ``manual``, and for
            ``one-turn`` when ``descriptions`` is given).
        descriptions: for ``one-turn``: ``{class: text}`` or a JSON file of it.
    """
    if name in SLOT_SOURCES:
        if isinstance(side_info_or_names, SideInformation):
            return side_info_or_names
        raise ValueError(f"source {name!r} needs side information, not class names")
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
    if si is None:
        raise ValueError("source 'side-info' needs side information, not class names")
    return si


def verb_noun(si: SideInformation | None, class_name: str) -> tuple[str, str, bool]:
    """(verb phrase, noun phrase, from_field) of a class: the side information's optional ``phrases``
    field, else a split of the readable class name (first word of ``ACTION_WORDS`` = verb, the rest =
    noun)."""
    if si is not None and class_name in si.phrases:
        entry = si.phrases[class_name]
        return entry["verb"], entry["noun"], True
    words = humanize_class_name(class_name).split()
    at = next((i for i, w in enumerate(words) if w.lower().strip("()") in ACTION_WORDS), 0)
    verb = words[at]
    noun = " ".join(words[:at] + words[at + 1:]) or verb
    return verb, noun, False


def source_slots(source: str) -> tuple[str, ...]:
    """The slot names of the class text a source gives (``PHASES`` for the phase sources)."""
    if source not in SOURCE_SLOTS:
        raise ValueError(f"unknown semantic source {source!r} (expected one of {', '.join(SOURCES)})")
    return SOURCE_SLOTS[source]


def slot_source_texts(source: str, si: SideInformation, class_name: str) -> list[list[str]]:
    """The texts of one class for a slot source (``parts``, ``purls``, ``pos``): one list per slot of
    ``source_slots(source)``, all of one length N_a."""
    if source in ("parts", "purls") and class_name not in si.parts:
        raise SideInfoError(f"{si.origin}: class {class_name!r} has no 'parts' descriptions, which text "
                            f"source {source!r} needs (add them to the side information)")
    name = humanize_class_name(class_name)
    if source == "parts":
        return [[si.part_text(class_name, p)] for p in PARTS] + [[name]]
    if source == "pos":
        verb, noun, found = verb_noun(si, class_name)
        if not found:
            LOG.warning("%s: class %r has no verb / noun phrases; using the name split %r / %r",
                     si.origin, class_name, verb, noun)
        return [[verb], [noun]] + [[name]] * 4
    if source == "purls":
        n = si.num_descriptions
        out = []
        for slot in SOURCE_SLOTS["purls"]:
            if slot in PHASES:
                out.append(si.texts(class_name, slot))
            elif slot == "global":
                out.append(si.texts(class_name, "spatial_coarse"))
            else:
                text = " ".join(si.part_text(class_name, p) for p in _PURLS_JOIN.get(slot, (slot,)))
                out.append([text] * n)
        return out
    raise ValueError(f"{source!r} is not a slot source (expected parts, purls or pos)")
