"""The package layering of ARCHITECTURE.md, checked on the source: every ``import`` (module level or
inside a function, absolute or relative) of every module under ``src/zeroskel`` is parsed with ``ast``
and must point down the dependency order

    cli -> bench, analysis, infer -> train -> models, data, text -> config

(``zeroskel/__init__.py`` is the lazy top-level API and may import any package but ``cli``;
``zeroskel/__main__.py`` starts the CLI)."""
from __future__ import annotations

import ast
from pathlib import Path

import zeroskel

SRC = Path(zeroskel.__file__).resolve().parent

# package -> packages it may import (besides itself and the top-level ``zeroskel`` for __version__)
BASE = {"config"}
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "data": BASE,
    "text": BASE,
    "models": BASE,
    "train": BASE | {"data", "text", "models"},
    "infer": BASE | {"data", "text", "models", "train"},
    "bench": BASE | {"data", "text", "models", "train"},
    "analysis": BASE | {"data", "text", "models", "train"},
    "cli": BASE | {"data", "text", "models", "train", "infer", "bench", "analysis"},
    "__init__": BASE | {"data", "text", "models", "train", "infer", "bench", "analysis"},
    "__main__": {"cli"},
}


def _package_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_packages(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, first component under zeroskel) of every zeroskel import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module_parts = ["zeroskel", *path.relative_to(root).with_suffix("").parts]
    if module_parts[-1] == "__init__":
        module_parts = module_parts[:-1]
        here = module_parts
    else:
        here = module_parts[:-1]                       # the package a relative import starts from
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            if names[0] == "zeroskel":                 # from zeroskel import x: x may be a package
                names = [f"zeroskel.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "zeroskel" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def _violations(root: Path = SRC) -> list[str]:
    packages = set(ALLOWED)
    bad = []
    for path in sorted(root.rglob("*.py")):
        pkg = _package_of(path, root)
        assert pkg in ALLOWED, f"{path}: package {pkg!r} is missing from the layering (ARCHITECTURE.md)"
        for line, target in _imported_packages(path, root):
            if target not in packages:                 # a name of the top-level API (e.g. __version__)
                continue
            if target != pkg and target not in ALLOWED[pkg]:
                bad.append(f"{path.relative_to(root)}:{line}: {pkg} imports {target}")
    return bad


def test_imports_point_down_the_layers():
    assert _violations() == []


def test_the_check_sees_function_level_and_relative_imports(tmp_path):
    # the checker itself can fail: a forbidden edge written inside a function, and a relative one
    fake = tmp_path / "zeroskel"
    for pkg, text in {"models": "def f():\n    from zeroskel.train import run\n",
                      "data": "from ..infer import bundle\n", "train": "import zeroskel.cli.main\n"}.items():
        (fake / pkg).mkdir(parents=True)
        (fake / pkg / "m.py").write_text(text)
    assert sorted(_violations(fake)) == ["data/m.py:1: data imports infer", "models/m.py:2: models imports train",
                                     "train/m.py:1: train imports cli"]

