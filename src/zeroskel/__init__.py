"""zeroskel: zero-shot skeleton-based action recognition (Neuron, CVPR 2025, and peers).

The names most scripts need, at the top level::

    import zeroskel
    rec = zeroskel.ZeroShotRecognizer.from_pretrained("runs/utd-f1/bundle")
    ds = zeroskel.load_dataset("utd-mhad", "../shared/data/utd_mhad")
    print(zeroskel.list_models(), zeroskel.list_protocols("utd-mhad"))

They are loaded on first use (PEP 562), so ``import zeroskel`` stays fast and imports no torch; each
lives in the package named in ``_API`` (see ARCHITECTURE.md for the layout).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_API: dict[str, str] = {
    "ZeroShotRecognizer": "zeroskel.infer.recognizer",   # a trained bundle on users' clips
    "load_dataset": "zeroskel.data",                      # load_dataset(name, root) -> SkeletonDataset
    "list_datasets": "zeroskel.data",
    "create_model": "zeroskel.models",                    # create_model("shiftgcn", ...)
    "list_models": "zeroskel.models",
    "get_protocol": "zeroskel.data.protocols",
    "list_protocols": "zeroskel.data.protocols",
    "load_side_info": "zeroskel.text.sideinfo",           # load_side_info(path, class_names=None)
    "get_text_encoder": "zeroskel.text.encoders",         # get_text_encoder("minilm")
}

__all__ = ["__version__", *_API]

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time the names load lazily
    from zeroskel.data import list_datasets, load_dataset
    from zeroskel.data.protocols import get_protocol, list_protocols
    from zeroskel.infer.recognizer import ZeroShotRecognizer
    from zeroskel.models import create_model, list_models
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_side_info


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'zeroskel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
