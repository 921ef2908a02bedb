"""Side information + a text encoder -> per-phase, per-class text tensors ready for the model.

    si = load_shipped("utd-mhad")
    class_text = build_class_text(si, get_text_encoder("minilm"), si.class_names)   # (6, K, N_a, D)
    class_text = build_class_text(si, encoder, names, temporal="cumulative")        # official Neuron texts

Temporal text modes (``TEMPORAL_MODES``): ``phase`` pairs the three temporal slots with the start,
middle and end descriptions; ``cumulative`` (the official Neuron release) gives slot e the
concatenation of the phase texts up to e, description by description (``cumulative_phase_texts``).

A precomputed class-text table (``ClassTextTable``: a ``save_class_text`` file, or the official release
folder) holds one vector per (phase, class, description) slot; ``build_class_text`` returns its slots
directly (selected and ordered by class name) instead of encoding texts.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from zeroskel.text.embed_cache import CachedEncoder
from zeroskel.text.encoders import TextEncoder
from zeroskel.text.sideinfo import PHASES, TEMPORAL_PHASES, SideInformation, validate
from zeroskel.text.sources import SLOT_SOURCES, SOURCE_SLOTS, make_source, slot_source_texts

TEMPORAL_MODES: tuple[str, ...] = ("phase", "cumulative")
DEFAULT_TEMPORAL = "phase"


def _check_temporal(temporal: str, where: str = "temporal") -> str:
    if temporal not in TEMPORAL_MODES:
        raise ValueError(f"{where}: unknown temporal text mode {temporal!r} (expected {' or '.join(TEMPORAL_MODES)})")
    return temporal


def cumulative_phase_texts(side_info: SideInformation, class_name: str) -> list[list[str]]:
    """The cumulative temporal texts of one class: 3 lists (start, start+middle, start+middle+end) of N_a.

    Slot e, description i joins the phase texts start_i, middle_i, ... up to phase e with one space.
    """
    phases = [side_info.texts(class_name, p) for p in TEMPORAL_PHASES]  # 3 x N_a
    out: list[list[str]] = [list(phases[0])]
    for texts in phases[1:]:
        if len(texts) != len(out[-1]):
            raise ValueError(f"{side_info.origin}: class {class_name!r} has {len(out[-1])} and {len(texts)} "
                             "descriptions in two temporal phases")
        out.append([f"{prev} {t}" for prev, t in zip(out[-1], texts)])
    return out


def slot_texts(side_info: SideInformation, class_name: str, phase: str, temporal: str = DEFAULT_TEMPORAL) -> list[str]:
    """The N_a texts embedded into one (phase, class) slot under a temporal text mode."""
    if _check_temporal(temporal) == "cumulative" and phase in TEMPORAL_PHASES:
        return cumulative_phase_texts(side_info, class_name)[TEMPORAL_PHASES.index(phase)]
    return side_info.texts(class_name, phase)


def _encode_unique(texts: list[str], encoder: TextEncoder) -> torch.Tensor:
    """Encode each distinct text once; (N, D) in the order of ``texts``."""
    unique = list(dict.fromkeys(texts))
    index = {t: i for i, t in enumerate(unique)}
    emb = encoder.encode(unique).float()  # (U, D)
    if emb.dim() != 2 or emb.shape[0] != len(unique):
        raise ValueError(f"encoder {encoder.id!r} returned {tuple(emb.shape)} for {len(unique)} texts")
    return emb[torch.tensor([index[t] for t in texts], dtype=torch.long)]  # (N, D)


def build_class_text(side_info: SideInformation | None, encoder: "TextEncoder | ClassTextTable",
                     class_names: Sequence[str] | None = None, *, phases: Sequence[str] = PHASES,
                     source: str = "side-info", cache_dir: str | os.PathLike | None = None,
                     temporal: str | None = None) -> torch.Tensor:
    """Embed every description of every class and phase (or take them from a precomputed table).

    Args:
        side_info: side information holding (at least) ``class_names`` (may be None with a table).
        encoder: text encoder, or a ``ClassTextTable`` (then its slots are returned, no text is encoded).
        class_names: class order K (default: that of ``side_info``).
        phases: phases P, in order (default all six).
        source: ``side-info`` (full), ``one-turn`` or ``manual`` (see ``zeroskel.text.sources``).
        cache_dir: on-disk embedding cache (``zeroskel.text.embed_cache``); none by default.
        temporal: ``phase`` or ``cumulative`` temporal texts (see the module docstring); default
            ``phase``, or the table's own mode for a table (a different explicit mode is an error).
            One-text sources (``manual``, ``one-turn``) have no phases to accumulate: both modes embed
            their single text.

    Returns:
        float32 tensor (P, K, N_a, D), L2-normalised along D.
    """
    if side_info is None and class_names is None:
        raise ValueError("build_class_text: give side_info or class_names")
    names = list(class_names) if class_names is not None else side_info.class_names
    if source in SLOT_SOURCES:
        return _build_slot_text(side_info, encoder, names, source, cache_dir)
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"unknown phases {unknown} (expected some of {', '.join(PHASES)})")
    if isinstance(encoder, ClassTextTable):
        if source != "side-info":
            raise ValueError(f"{encoder.origin}: a precomputed class-text table holds the full side information's "
                             f"vectors, not source {source!r}")
        return encoder.select(names, phases=phases, temporal=temporal)
    temporal = _check_temporal(temporal or DEFAULT_TEMPORAL)
    if side_info is None:
        raise ValueError(f"build_class_text: encoder {encoder.id!r} needs side information")
    si = validate(make_source(source, side_info).subset(names))
    if source != "side-info":
        temporal = "phase"  # one text replicated to every phase: nothing to accumulate
    if cache_dir is not None:
        encoder = CachedEncoder(encoder, cache_dir)
    P, K, N = len(phases), len(names), si.num_descriptions
    texts = [t for p in phases for n in names for t in slot_texts(si, n, p, temporal)]  # P * K * N_a, phase-major
    emb = _encode_unique(texts, encoder)                                 # (P * K * N_a, D)
    emb = emb.reshape(P, K, N, emb.shape[-1])                            # (P, K, N_a, D)
    return F.normalize(emb, dim=-1).contiguous()


def _build_slot_text(side_info: SideInformation | None, encoder, names: list[str], source: str,
                     cache_dir: str | os.PathLike | None) -> torch.Tensor:
    """The (S, K, N_a, D) class text of a slot source (``parts``, ``purls``, ``pos``)."""
    if side_info is None or isinstance(encoder, ClassTextTable):
        raise ValueError(f"text source {source!r} needs side information and a text encoder "
                         "(not a precomputed class-text table)")
    si = validate(side_info.subset(names))
    per_class = [slot_source_texts(source, si, n) for n in names]        # K x S x N_a
    S, K, N = len(SOURCE_SLOTS[source]), len(names), len(per_class[0][0])
    if cache_dir is not None:
        encoder = CachedEncoder(encoder, cache_dir)
    texts = [t for s in range(S) for k in range(K) for t in per_class[k][s]]  # slot-major
    emb = _encode_unique(texts, encoder).reshape(S, K, N, -1)             # (S, K, N_a, D)
    return F.normalize(emb, dim=-1).contiguous()


def build_class_embeddings(texts_per_class: Sequence[Sequence[str]], encoder: TextEncoder) -> torch.Tensor:
    """One embedding per class, open_clip style: mean of the normalised embeddings of its texts, re-normalised.

    Args:
        texts_per_class: K lists of texts (any lengths >= 1).
        encoder: text encoder.

    Returns:
        float32 tensor (K, D), L2-normalised along D.
    """
    lengths = [len(texts) for texts in texts_per_class]
    for k, n in enumerate(lengths):
        if n == 0:
            raise ValueError(f"class {k} has no texts")
    flat = [t for texts in texts_per_class for t in texts]
    emb = F.normalize(_encode_unique(flat, encoder), dim=-1)                         # (sum N_k, D)
    means = torch.stack([chunk.mean(0) for chunk in torch.split(emb, lengths)])      # (K, D)
    return F.normalize(means, dim=-1)


def save_class_text(class_text: torch.Tensor, class_names: Sequence[str], path: str | os.PathLike, *,
                    encoder_id: str = "", phases: Sequence[str] | None = None, dataset: str = "",
                    source: str = "", temporal: str = DEFAULT_TEMPORAL) -> Path:
    """Write a (P, K, N_a, D) tensor with its class names and temporal text mode: ``.safetensors``
    (metadata) or ``.pt`` (dict). ``phases`` default: the slots of ``source`` (the six phases)."""
    path = Path(path)
    if phases is None:
        phases = SOURCE_SLOTS.get(source, PHASES)
    if class_text.dim() != 4 or class_text.shape[0] != len(phases) or class_text.shape[1] != len(class_names):
        raise ValueError(f"class_text {tuple(class_text.shape)} does not match {len(phases)} phases and "
                         f"{len(class_names)} classes")
    meta = {"class_names": list(class_names), "phases": list(phases), "encoder": encoder_id,
            "dataset": dataset, "source": source, "temporal": _check_temporal(temporal)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tensor = class_text.detach().float().cpu().contiguous()
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({"class_text": tensor}, str(tmp), metadata={k: json.dumps(v) for k, v in meta.items()})
    else:
        torch.save({"class_text": tensor, **meta}, tmp)
    os.replace(tmp, path)
    return path


def load_class_text(path: str | os.PathLike) -> tuple[torch.Tensor, dict]:
    """Read what ``save_class_text`` wrote: (tensor (P, K, N_a, D), metadata with ``class_names``,
    ``phases``, ``temporal`` (``phase`` for files written before the mode was recorded) etc.)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(path), framework="pt") as f:
                    if "class_text" not in f.keys():
                        raise ValueError(f"{path}: not a class-text file (no tensor 'class_text')")
                    meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
                    tensor = f.get_tensor("class_text")
            except SafetensorError as e:
                raise ValueError(f"SafetensorError: {e}") from None
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(obj, dict) or "class_text" not in obj:
                raise ValueError(f"{path}: not a class-text file (expected a dict with 'class_text')")
            tensor = obj.pop("class_text")
            meta = obj
    except FileNotFoundError:
        raise
    except Exception as e:  # a truncated or corrupt file: safetensors, torch and json raise several types
        if isinstance(e, ValueError) and str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable class-text file, it is truncated or corrupt "
                         f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); delete it and "
                         "rebuild it (`zeroskel text embed`, or rerun the run that wrote it)") from None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 4:
        raise ValueError(f"{path}: class_text is not a (P, K, N_a, D) tensor")
    meta.setdefault("temporal", DEFAULT_TEMPORAL)
    return tensor, meta


def is_class_text_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``save_class_text`` file (not a string-keyed ``save_precomputed`` table)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix == ".safetensors":
        return True
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - anything torch cannot read safely is not ours
        return False
    return isinstance(obj, dict) and "class_text" in obj


class ClassTextTable:
    """Precomputed class text: one vector per (phase, class, description) slot, selected by class name.

    Unlike a string-keyed table, two slots holding the same string may hold different vectors (the
    official Neuron release has such strings), so nothing is looked up by text.

    Args:
        tensor: (P, K, N_a, D) float vectors (normalised on selection).
        class_names: the K class names, in tensor order.
        temporal: the temporal text mode the temporal slots were embedded in.
        phases: the P phases, in tensor order.
        origin: file or folder it came from (for messages).
        encoder_id: what made the vectors (informational).
    """

    def __init__(self, tensor: torch.Tensor, class_names: Sequence[str], *, temporal: str,
                 phases: Sequence[str] = PHASES, origin: str = "<memory>", encoder_id: str = ""):
        names = list(class_names)
        if tensor.dim() != 4 or tensor.shape[0] != len(phases) or tensor.shape[1] != len(names):
            raise ValueError(f"{origin}: class text {tuple(tensor.shape)} does not match {len(phases)} phases "
                             f"and {len(names)} classes")
        if not tensor.is_floating_point():
            raise ValueError(f"{origin}: class text has dtype {tensor.dtype}, expected floats")
        if len(set(names)) != len(names):
            raise ValueError(f"{origin}: class names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        unknown = [p for p in phases if p not in PHASES]
        if unknown:
            raise ValueError(f"{origin}: unknown phases {unknown}")
        self.tensor = tensor.detach().float().cpu().contiguous()
        self.class_names = names
        self.phases = list(phases)
        self.temporal = _check_temporal(temporal, origin)
        self.origin = origin
        self.encoder_id = encoder_id
        self.dim = int(tensor.shape[-1])
        h = hashlib.sha256(json.dumps([names, self.phases, self.temporal]).encode())
        h.update(self.tensor.numpy().tobytes())
        self.id = f"precomputed-slots:{h.hexdigest()[:12]}"

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "ClassTextTable":
        """Read a ``save_class_text`` file."""
        tensor, meta = load_class_text(path)
        if "class_names" not in meta:
            raise ValueError(f"{path}: class-text file without class names")
        return cls(tensor, meta["class_names"], temporal=meta.get("temporal", DEFAULT_TEMPORAL),
                   phases=meta.get("phases", PHASES), origin=str(path), encoder_id=str(meta.get("encoder", "")))

    def select(self, class_names: Sequence[str], *, phases: Sequence[str] = PHASES,
               temporal: str | None = None) -> torch.Tensor:
        """(P, K, N_a, D) for ``class_names`` in that order, L2-normalised along D.

        Args:
            class_names: classes to take (each must be in the table).
            phases: phases to take, in order.
            temporal: the temporal mode the caller expects (None: the table's); a mismatch is an error.
        """
        if temporal is not None and _check_temporal(temporal) != self.temporal:
            raise ValueError(f"{self.origin}: holds {self.temporal} temporal text, but {temporal} was asked for "
                             f"(use temporal={self.temporal!r}, or embed the side information with an encoder)")
        index = {n: i for i, n in enumerate(self.class_names)}
        names = list(class_names)
        missing = [n for n in names if n not in index]
        if missing:
            more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            raise ValueError(f"{self.origin}: {len(missing)} classes not in the precomputed class text: "
                             f"{missing[:8]}{more} (it holds {len(self.class_names)} classes, e.g. "
                             f"{self.class_names[:3]})")
        gone = [p for p in phases if p not in self.phases]
        if gone:
            raise ValueError(f"{self.origin}: phases not in the precomputed class text: {gone}")
        out = self.tensor[[self.phases.index(p) for p in phases]]   # (P, K_all, N_a, D)
        out = out[:, [index[n] for n in names]]                     # (P, K, N_a, D)
        return F.normalize(out, dim=-1).contiguous()

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        raise TypeError(f"{self.origin}: a precomputed class-text table has one vector per (phase, class, "
                        "description) slot, not per text; use build_class_text or load_precomputed_class_text")

    def __repr__(self) -> str:
        return (f"ClassTextTable(id={self.id!r}, classes={len(self.class_names)}, shape={tuple(self.tensor.shape)}, "
                f"temporal={self.temporal!r})")


def load_precomputed_class_text(path: str | os.PathLike, class_names: Sequence[str], *,
                                temporal: str | None = None) -> tuple[torch.Tensor, str]:
    """A ``save_class_text`` file (or an official release folder) -> (class text (6, K, N_a, D), temporal mode).

    Args:
        path: the class-text file, or a folder in the official Neuron release layout.
        class_names: classes to take, in order.
        temporal: expected temporal mode (None: accept the table's).
    """
    table = load_class_text_table(path)
    return table.select(class_names, temporal=temporal), table.temporal


def load_class_text_table(path: str | os.PathLike) -> ClassTextTable:
    """A ``ClassTextTable`` from a ``save_class_text`` file or an official release folder."""
    path = Path(path)
    if path.is_dir():
        from zeroskel.text.official import load_official_table

        return load_official_table(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such class-text file or release folder")
    return ClassTextTable.from_file(path)
