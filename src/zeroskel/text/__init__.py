"""Side information (Neuron's multi-granularity action descriptions), LLM generation, text encoders,
an embedding cache and the per-class text tensors the models consume.

    from zeroskel.text import load_shipped, get_text_encoder, build_class_text
    si = load_shipped("utd-mhad")
    class_text = build_class_text(si, get_text_encoder("minilm"), si.class_names)   # (6, K, N_a, 384)

This package never imports ``zeroskel.data``: class names come in as plain lists.
"""
from __future__ import annotations

from zeroskel.text.class_text import (
    TEMPORAL_MODES, ClassTextTable, build_class_embeddings, build_class_text, cumulative_phase_texts, load_class_text,
    load_precomputed_class_text, save_class_text,
)
from zeroskel.text.embed_cache import CachedEncoder, EmbeddingCache
from zeroskel.text.encoders import DEFAULT_ENCODER, TextEncoder, get_text_encoder, list_text_encoders
from zeroskel.text.sideinfo import (
    PHASES, SPATIAL_PHASES, TEMPORAL_PHASES, SideInfoError, SideInformation, list_shipped, load_shipped,
    load_side_info, save_side_info, validate,
)
from zeroskel.text.sources import SOURCES, make_source
from zeroskel.text.diagnostics import TextCheck, check_side_info

__all__ = [
    "check_side_info", "TextCheck",
    "PHASES", "SPATIAL_PHASES", "TEMPORAL_PHASES", "SOURCES", "DEFAULT_ENCODER",
    "SideInformation", "SideInfoError", "load_side_info", "save_side_info", "validate", "load_shipped",
    "list_shipped", "make_source", "TextEncoder", "get_text_encoder", "list_text_encoders", "EmbeddingCache",
    "CachedEncoder", "build_class_text", "build_class_embeddings", "save_class_text", "load_class_text",
    "TEMPORAL_MODES", "ClassTextTable", "cumulative_phase_texts", "load_precomputed_class_text",
]
