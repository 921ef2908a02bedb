"""Matplotlib figures of a run's analysis (headless: the Agg backend), saved as PNG.

Each function takes the numbers :mod:`zeroskel.analysis.analysis` computed (the same ones written to
``analysis.json``) and writes one figure; every figure has a title, axis labels and class names at
a readable size.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

FONT = 10
DPI = 100


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path with ``path``'s suffix next to it; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)                                  # mkstemp makes it owner-only
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_figure(fig, path: str | os.PathLike, dpi: int = DPI) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def _class_colours(n: int) -> list:
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def _grid(n: int, cols: int) -> tuple[int, int]:
    cols = min(cols, n)
    return (n + cols - 1) // cols, cols


# --- per-phase t-SNE -----------------------------------------------------------------------------

def plot_tsne(embeddings: dict[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str],
              metrics: dict[str, dict[str, Any]], path: str | os.PathLike, *, title: str,
              cols: int = 4, dpi: int = DPI) -> Path:
    """One t-SNE panel per phase, points coloured by class; the panel title carries the metrics.

    Args:
        embeddings: phase -> (N, 2) t-SNE coordinates.
        labels: (N,) class ids; ``class_names[id]`` names them.
        metrics: phase -> clustering metrics (silhouette, ari, fmi).
        cols: panels per row; the class legend takes a free panel, else goes below.
    """
    phases = list(embeddings)
    classes = sorted(set(int(c) for c in labels))
    colours = dict(zip(classes, _class_colours(len(classes))))
    rows, cols = _grid(len(phases), cols)
    free = rows * cols - len(phases)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.5 * rows + (0 if free else 0.7)),
                             squeeze=False)
    for ax in axes.flat[len(phases):]:
        ax.axis("off")
    for ax, phase in zip(axes.flat, phases):
        xy = embeddings[phase]
        for c in classes:
            sel = labels == c
            ax.scatter(xy[sel, 0], xy[sel, 1], s=12, color=colours[c], label=class_names[c],
                       alpha=0.85, edgecolors="none")
        m = metrics.get(phase, {})
        ax.set_title(f"{phase}\nsil {_fmt(m.get('silhouette'))}  ARI {_fmt(m.get('ari'))}  "
                     f"FMI {_fmt(m.get('fmi'))}", fontsize=FONT)
        ax.set_xlabel("t-SNE 1", fontsize=FONT - 1)
        ax.set_ylabel("t-SNE 2", fontsize=FONT - 1)
        ax.tick_params(labelsize=FONT - 2)
    handles, names = axes.flat[0].get_legend_handles_labels()
    if free:
        spare = axes.flat[len(phases)]
        spare.legend(handles, names, loc="center", fontsize=FONT, frameon=False, markerscale=1.6,
                     title="class", title_fontsize=FONT)
        fig.suptitle(title, fontsize=FONT + 2)
        fig.tight_layout()
    else:
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 4), fontsize=FONT,
                   frameon=False, markerscale=1.6)
        fig.suptitle(title, fontsize=FONT + 2)
        fig.tight_layout(rect=(0, 0.04 * ((len(names) + 3) // 4) / rows, 1, 1))
    return save_figure(fig, path, dpi)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def plot_clustering(metrics: dict[str, dict[str, Any]], path: str | os.PathLike, *, title: str,
                    dpi: int = DPI) -> Path:
    """Silhouette, ARI, FMI (left) and Calinski-Harabasz (right) per phase."""
    phases = list(metrics)
    x = np.arange(len(phases))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for key, marker in (("silhouette", "o"), ("ari", "s"), ("fmi", "^")):
        a.plot(x, [_nan(metrics[p].get(key)) for p in phases], marker=marker, label=key)
    a.set_ylabel("score", fontsize=FONT)
    a.set_title("silhouette, ARI, FMI (k-means at k = #classes)", fontsize=FONT)
    a.legend(fontsize=FONT - 1)
    b.bar(x, [_nan(metrics[p].get("calinski_harabasz")) for p in phases], color="tab:gray")
    b.set_ylabel("Calinski-Harabasz index", fontsize=FONT)
    b.set_title("Calinski-Harabasz (higher: more compact)", fontsize=FONT)
    for ax in (a, b):
        ax.set_xticks(x, phases, rotation=30, ha="right", fontsize=FONT - 1)
        ax.set_xlabel("phase", fontsize=FONT)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=FONT + 2)
    fig.tight_layout()
    return save_figure(fig, path, dpi)


def _nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


# --- temporal prototypes -------------------------------------------------------------------------

def plot_prototypes(runs: list[dict[str, Any]], path: str | os.PathLike, *, title: str,
                    dpi: int = DPI) -> Path:
    """Per run: a 2-D PCA of the temporal prototypes at each phase (lines follow each prototype);
    last panel: their mean cosine similarity to the previous phase and to the initial prototypes.

    Args:
        runs: one dict per run with ``label``, ``phases`` (names, "initial" first), ``pca``
            (phase -> (N_t, 2)), ``similarity_to_previous`` and ``similarity_to_initial``
            (one value per phase after the initial one).
    """
    n = len(runs)
    fig, axes = plt.subplots(1, n + 1, figsize=(4.6 * (n + 1), 4.3), squeeze=False)
    axes = axes[0]
    for ax, r in zip(axes, runs):
        phases = r["phases"]
        cmap = plt.get_cmap("viridis")
        pts = np.stack([np.asarray(r["pca"][p]) for p in phases])   # (phases, N_t, 2)
        for j in range(pts.shape[1]):
            ax.plot(pts[:, j, 0], pts[:, j, 1], color="0.75", lw=0.6, zorder=1)
        for i, p in enumerate(phases):
            ax.scatter(pts[i, :, 0], pts[i, :, 1], s=12, color=cmap(i / max(1, len(phases) - 1)),
                       label=p, zorder=2)
        ax.set_title(r["label"], fontsize=FONT)
        ax.set_xlabel("PC 1", fontsize=FONT)
        ax.set_ylabel("PC 2", fontsize=FONT)
        ax.legend(fontsize=FONT - 2, loc="best")
        ax.tick_params(labelsize=FONT - 2)
    ax = axes[-1]
    for r, colour in zip(runs, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        names = r["phases"][1:]
        x = np.arange(len(names))
        ax.plot(x, r["similarity_to_previous"], "-", color=colour, marker="o",
                label=f"{r['label']}: vs previous phase")
        ax.plot(x, r["similarity_to_initial"], "--", color=colour, marker="s",
                label=f"{r['label']}: vs initial")
        ax.set_xticks(x, names, fontsize=FONT - 2)
    ax.set_xlabel("phase", fontsize=FONT)
    ax.set_ylabel("mean cosine similarity", fontsize=FONT)
    ax.set_title("prototype continuity (solid: vs previous, dashed: vs initial)", fontsize=FONT - 1)
    ax.legend(fontsize=FONT - 2, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=FONT + 2)
    fig.tight_layout()
    return save_figure(fig, path, dpi)


# --- per-class accuracy, confusion, curves --------------------------------------------------------

def plot_per_class(acc: dict[str, float], path: str | os.PathLike, *, title: str,
                   other: dict[str, float] | None = None,
                   labels: tuple[str, str] = ("this run", "other"), dpi: int = DPI) -> Path:
    """Horizontal bars of per-class accuracy (%), optionally beside a second run's."""
    names = list(acc)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.5))
    h = 0.4 if other is not None else 0.7
    ax.barh(y - (h / 2 if other is not None else 0), [acc[c] for c in names], height=h,
            label=labels[0], color="tab:blue")
    if other is not None:
        ax.barh(y + h / 2, [other.get(c, np.nan) for c in names], height=h, label=labels[1],
                color="tab:orange")
        ax.legend(fontsize=FONT - 1, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.2 / (len(names) + 4)),
                  ncol=2, frameon=False)
    ax.set_yticks(y, names, fontsize=FONT)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("top-1 accuracy (%)", fontsize=FONT)
    ax.set_ylabel("class", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi)


def plot_per_class_difference(rows: list[dict[str, Any]], path: str | os.PathLike, *, title: str,
                              xlabel: str, dpi: int = DPI) -> Path:
    """Sorted per-class accuracy differences (``rows``: class, diff), positive in green."""
    names = [r["class"] for r in rows]
    diffs = np.array([r["diff"] for r in rows], dtype=float)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.5))
    ax.barh(y, diffs, color=np.where(diffs >= 0, "tab:green", "tab:red"))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, names, fontsize=FONT)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel("class", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi)


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], path: str | os.PathLike, *,
                   title: str, dpi: int = DPI) -> Path:
    """Row-normalised confusion matrix (colour) with the counts written in each cell."""
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    k = len(classes)
    size = max(4.5, 0.55 * k + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=FONT - 2,
                            color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=FONT - 1)
    ax.set_yticks(range(k), classes, fontsize=FONT - 1)
    ax.set_xlabel("predicted class", fontsize=FONT)
    ax.set_ylabel("true class", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    return save_figure(fig, path, dpi)


def plot_curves(curves: dict[str, dict[str, list[float]]], path: str | os.PathLike, *, title: str,
                dpi: int = DPI) -> Path:
    """One panel per training step: loss (left axis) and validation metrics in % (right axis)."""
    steps = list(curves)
    rows, cols = _grid(len(steps), 2)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(steps):]:
        ax.axis("off")
    for ax, step in zip(axes.flat, steps):
        c = curves[step]
        epochs = np.asarray(c["epoch"]) + 1
        ax.plot(epochs, c["loss"], color="black", marker=".", label="loss")
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=FONT)
        ax.set_ylabel("training loss", fontsize=FONT)
        ax.set_title(step, fontsize=FONT)
        metrics = [k for k in c if k.startswith("val_") and "gamma" not in k]
        if metrics:
            right = ax.twinx()
            for k in metrics:
                right.plot(epochs, c[k], marker=".", label=k)
            right.set_ylabel("validation metric (%)", fontsize=FONT)
            lines = ax.get_legend_handles_labels()
            more = right.get_legend_handles_labels()
            right.legend(lines[0] + more[0], lines[1] + more[1], fontsize=FONT - 3, loc="best")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=FONT + 2)
    fig.tight_layout()
    return save_figure(fig, path, dpi)


# --- prototype health ----------------------------------------------------------------------------
HEALTH_PANELS = (
    ("temporal_attention_entropy", "temporal attention entropy / log L\n(1 = uniform over the window)"),
    ("temporal_prototype_cosine", "temporal prototypes: mean pairwise cosine\n(1 = collapsed into one)"),
    ("spatial_prototype_cosine", "spatial prototypes: mean pairwise cosine\n(1 = collapsed into one)"),
    ("spatial_kept_fraction", "spatial prototypes kept by some joint\n(fraction of N_s)"),
)


def plot_health(runs: list[dict[str, Any]], path: str | os.PathLike, *, title: str, dpi: int = DPI) -> Path:
    """Prototype health per phase: one panel per figure, a line per (run, before/after training).

    ``runs``: ``[{"label": str, "before": {...}, "after": {...}}]`` with the lists of
    ``zeroskel.models.neuron.prototype_health`` (one value per phase).
    """
    fig, axes = plt.subplots(1, len(HEALTH_PANELS), figsize=(4.2 * len(HEALTH_PANELS), 3.6), squeeze=False)
    colours = _class_colours(max(len(runs), 1))
    for ax, (key, ylabel) in zip(axes.flat, HEALTH_PANELS):
        for colour, run in zip(colours, runs):
            for when, style in (("before", "--"), ("after", "-")):
                values = run.get(when, {}).get(key)
                if values is None:
                    continue
                ax.plot(np.arange(1, len(values) + 1), values, style, marker="o", color=colour,
                        label=f"{run['label']}, {when} training")
        ax.set_xlabel("phase", fontsize=FONT)
        ax.set_ylabel(ylabel, fontsize=FONT - 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=FONT - 3, loc="best")
    fig.suptitle(title, fontsize=FONT + 2)
    fig.tight_layout()
    return save_figure(fig, path, dpi)
