"""A timm-style model registry.

Models register a factory function with ``@register_model``; ``create_model(name, **kwargs)`` calls it.
A registration may also carry ``tiny_kwargs``: the keyword arguments of a very small instance, used by the
CPU test matrix over every registered model (``tests/models/test_registry.py``).

    @register_model
    def shiftgcn(**kwargs) -> ShiftGCN: ...

    @register_model(tiny_kwargs=dict(num_classes=5, num_joints=20, base_channels=8))
    def shiftgcn(**kwargs) -> ShiftGCN: ...
"""
from __future__ import annotations

import fnmatch
from typing import Any, Callable

__all__ = ["register_model", "create_model", "list_models", "model_entrypoint", "is_model", "model_tiny_kwargs"]

_ENTRYPOINTS: dict[str, Callable[..., Any]] = {}
_TINY_KWARGS: dict[str, dict[str, Any]] = {}


def register_model(fn: Callable[..., Any] | None = None, *, name: str | None = None,
                   tiny_kwargs: dict[str, Any] | None = None):
    """Register a model factory under its function name (or ``name``); usable bare or with arguments.

    Args:
        fn: the factory (when used bare as ``@register_model``).
        name: registered name; defaults to ``fn.__name__``.
        tiny_kwargs: keyword arguments that build a very small instance, for the test matrix.
    """

    def _register(f: Callable[..., Any]) -> Callable[..., Any]:
        key = name or f.__name__
        if key in _ENTRYPOINTS and _ENTRYPOINTS[key] is not f:
            raise ValueError(f"model {key!r} is already registered (by {_ENTRYPOINTS[key].__module__})")
        _ENTRYPOINTS[key] = f
        _TINY_KWARGS[key] = dict(tiny_kwargs or {})
        return f

    if fn is not None:
        return _register(fn)
    return _register


def is_model(name: str) -> bool:
    return name in _ENTRYPOINTS


def model_entrypoint(name: str) -> Callable[..., Any]:
    """The factory registered as ``name``; KeyError listing the registered names otherwise."""
    if name not in _ENTRYPOINTS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(list_models()) or '(none)'}")
    return _ENTRYPOINTS[name]


def model_tiny_kwargs(name: str) -> dict[str, Any]:
    """Keyword arguments that build a very small ``name`` (empty if none were registered)."""
    model_entrypoint(name)
    return dict(_TINY_KWARGS[name])


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted; optionally filtered by a shell-style ``pattern``."""
    names = sorted(_ENTRYPOINTS)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the model registered as ``name`` with ``kwargs``."""
    return model_entrypoint(name)(**kwargs)
