"""Models: the registry, the Shift-GCN encoder (pure PyTorch), zero-shot heads and checkpoint converters.

``create_model(name, **kwargs)`` builds any registered model (``list_models()``): ``shiftgcn`` (the
encoder, ``zeroskel.models.shiftgcn``) and ``neuron`` (the Neuron head, ``zeroskel.models.neuron``);
peer heads register themselves with ``@register_model`` and subclass ``ZeroShotHead``.
This package takes V, M and dimensions as constructor arguments and imports nothing from
``zeroskel.data``, ``zeroskel.text`` or the packages above them.
"""
from __future__ import annotations

from .convert import checkpoint_filter_fn, load_official_shiftgcn
from .heads import HeadOutput, ZeroShotHead, mean_cosine_scores
from .neuron import NeuronConfig, NeuronHead, temporal_windows
from .registry import create_model, is_model, list_models, model_entrypoint, model_tiny_kwargs, register_model
from .shift_ops import TemporalShift, spatial_shift, temporal_shift
from .shiftgcn import ShiftGCN

__all__ = [
    "register_model", "create_model", "list_models", "model_entrypoint", "is_model", "model_tiny_kwargs",
    "ShiftGCN", "TemporalShift", "spatial_shift", "temporal_shift",
    "checkpoint_filter_fn", "load_official_shiftgcn",
    "HeadOutput", "ZeroShotHead", "mean_cosine_scores",
    "NeuronConfig", "NeuronHead", "temporal_windows",
]
from . import peers  # noqa: E402,F401  (registers the peer heads)
