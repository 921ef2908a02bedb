"""Side information + a text encoder -> per-phase, per-class text tensors ready for the model.

    si = load_shipped("utd-mhad")
    class_text = build_class_text(si, get_text_encoder("minilm"), si.class_names)   # (6, K, N_a, D)
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from zeroskel.text.embed_cache import CachedEncoder
from zeroskel.text.encoders import TextEncoder
from zeroskel.text.sideinfo import PHASES, SideInformation, validate
from zeroskel.text.sources import make_source


def _encode_unique(texts: list[str], encoder: TextEncoder) -> torch.Tensor:
    """Encode each distinct text once; (N, D) in the order of ``texts``."""
    unique = list(dict.fromkeys(texts))
    index = {t: i for i, t in enumerate(unique)}
    emb = encoder.encode(unique).float()  # (U, D)
    if emb.dim() != 2 or emb.shape[0] != len(unique):
        raise ValueError(f"encoder {encoder.id!r} returned {tuple(emb.shape)} for {len(unique)} texts")
    return emb[torch.tensor([index[t] for t in texts], dtype=torch.long)]  # (N, D)


def build_class_text(side_info: SideInformation, encoder: TextEncoder, class_names: Sequence[str] | None = None,
                     *, phases: Sequence[str] = PHASES, source: str = "side-info",
                     cache_dir: str | os.PathLike | None = None) -> torch.Tensor:
    """Embed every description of every class and phase.

    Args:
        side_info: side information holding (at least) ``class_names``.
        encoder: text encoder.
        class_names: class order K (default: that of ``side_info``).
        phases: phases P, in order (default all six).
        source: ``side-info`` (full), ``one-turn`` or ``manual`` (see ``zeroskel.text.sources``).
        cache_dir: on-disk embedding cache (``zeroskel.text.embed_cache``); none by default.

    Returns:
        float32 tensor (P, K, N_a, D), L2-normalised along D.
    """
    names = list(class_names) if class_names is not None else side_info.class_names
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"unknown phases {unknown} (expected some of {', '.join(PHASES)})")
    si = validate(make_source(source, side_info).subset(names))
    if cache_dir is not None:
        encoder = CachedEncoder(encoder, cache_dir)
    P, K, N = len(phases), len(names), si.num_descriptions
    texts = [t for p in phases for n in names for t in si.texts(n, p)]  # P * K * N_a, phase-major
    emb = _encode_unique(texts, encoder)                                 # (P * K * N_a, D)
    emb = emb.reshape(P, K, N, emb.shape[-1])                            # (P, K, N_a, D)
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
                    encoder_id: str = "", phases: Sequence[str] = PHASES, dataset: str = "",
                    source: str = "") -> Path:
    """Write a (P, K, N_a, D) tensor with its class names: ``.safetensors`` (metadata) or ``.pt`` (dict)."""
    path = Path(path)
    if class_text.dim() != 4 or class_text.shape[0] != len(phases) or class_text.shape[1] != len(class_names):
        raise ValueError(f"class_text {tuple(class_text.shape)} does not match {len(phases)} phases and "
                         f"{len(class_names)} classes")
    meta = {"class_names": list(class_names), "phases": list(phases), "encoder": encoder_id,
            "dataset": dataset, "source": source}
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
    """Read what ``save_class_text`` wrote: (tensor (P, K, N_a, D), metadata with ``class_names`` etc.)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(path), framework="pt") as f:
                    meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
                    tensor = f.get_tensor("class_text")
            except SafetensorError as e:
                raise ValueError(f"SafetensorError: {e}") from None
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            tensor = obj.pop("class_text")
            meta = obj
    except FileNotFoundError:
        raise
    except Exception as e:  # a truncated or corrupt file: safetensors, torch and json raise several types
        raise ValueError(f"{path}: not a readable class-text file, it is truncated or corrupt "
                         f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); delete it and "
                         "rebuild it (`zeroskel text embed`, or rerun the run that wrote it)") from None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 4:
        raise ValueError(f"{path}: class_text is not a (P, K, N_a, D) tensor")
    return tensor, meta
