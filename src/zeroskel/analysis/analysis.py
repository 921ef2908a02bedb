"""What a trained run learned: the numbers behind the Neuron paper's figures, for any run directory.

    zeroskel analyze runs/utd-f1 --out runs/utd-f1/analysis [--compare runs/utd-f1-nomem] [--seed 0]

For one seed of a run (default: its first) this reads the cached test features of the unseen
classes and the final head, and computes:

- per phase (the encoder's pooled feature map, then each spatial and temporal phase's projected
  feature from the head's ``extras``): a 2-D t-SNE (scikit-learn, fixed ``random_state``) and the
  compactness metrics silhouette (on the true labels), adjusted Rand index and Fowlkes-Mallows
  (true labels vs k-means at k = the number of unseen classes, ``n_init`` restarts, fixed seed) and
  Calinski-Harabasz (true labels), all on the features themselves (cf. the paper's Fig. 4);
- the temporal prototypes across phases (Neuron heads): a 2-D PCA of the test-set mean prototype
  at the start and after each phase, and their mean cosine similarity (per clip and prototype) to the
  previous phase and to the initial prototypes, for this run and the ``--compare`` run, each labelled
  with its ``temporal_memory`` setting (Fig. 5: with and without the memory gate);
- per-class ZSL accuracy (``per_class.json``) and, with ``--compare``, the per-class difference
  (this run minus the other), sorted (Fig. 6);
- the confusion matrix of the unseen classes (``confusion.json``) with class names;
- the training curves of every step in ``metrics.jsonl``.

:func:`analyze_run` writes the PNGs and ``analysis.json`` with every number behind them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from zeroskel.train.io import read_json, write_json

KMEANS_N_INIT = 10
SMALL_TSNE = 2000  # t-SNE of at most this many points runs single-threaded


@dataclass
class PhaseFeatures:
    """Per-phase features of one evaluation split of a run.

    Attributes:
        features: phase name -> (N, D) float64 array, in phase order ("encoder" first).
        labels: (N,) global class ids.
        class_names: every class of the dataset, in label order.
        prototypes: temporal-prototype statistics (Neuron heads; else None): ``initial`` (N_t, C),
            ``mean`` per phase (N_t, C) averaged over the clips, ``similarity_to_previous`` and
            ``similarity_to_initial`` per phase (mean cosine over clips and prototypes).
        temporal_memory: the head's memory-gate setting (None when the head has no such switch).
    """

    features: dict[str, np.ndarray]
    labels: np.ndarray
    class_names: list[str]
    prototypes: dict[str, Any] | None = None
    temporal_memory: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# --- reading a run -------------------------------------------------------------------------------

def run_seeds(run_dir: str | Path) -> list[int]:
    """Seeds with a trained head, in the run's order."""
    from zeroskel.train.run import Run

    run = Run(run_dir)
    return [s for s in run.cfg.seeds if (run.seed_dir(s) / "head" / "best.safetensors").exists()]


def _pick_seed(run_dir: Path, seed: int | None) -> int:
    seeds = run_seeds(run_dir)
    if not seeds:
        raise FileNotFoundError(f"{run_dir}: no seed has a trained head (seed<S>/head/best.safetensors); "
                                "finish the run first")
    if seed is None:
        return seeds[0]
    if seed not in seeds:
        raise FileNotFoundError(f"{run_dir}: seed {seed} has no trained head (seeds with one: {seeds})")
    return seed


def _class_text(run) -> torch.Tensor:
    from zeroskel.text.class_text import load_class_text

    path = run.dir / "text" / "class_text.safetensors"
    if path.exists():
        return load_class_text(path)[0]
    return run.class_text                                     # rebuilt from the run's config


def _phase_names(branch: str, count: int) -> list[str]:
    from zeroskel.text.sideinfo import SPATIAL_PHASES, TEMPORAL_PHASES

    names = SPATIAL_PHASES if branch == "spatial" else TEMPORAL_PHASES
    return list(names) if count == len(names) else [f"{branch}_{e + 1}" for e in range(count)]


@torch.no_grad()
def phase_features(run_dir: str | Path, seed: int | None = None, *, split: str = "test_unseen",
                   device: str = "cpu", batch_size: int = 128) -> PhaseFeatures:
    """Per-phase features of the cached ``split`` features of one seed, through the final head."""
    from zeroskel.train.features import load_features
    from zeroskel.train.head import load_head
    from zeroskel.train.run import Run

    run = Run(run_dir)
    seed = _pick_seed(run.dir, seed)
    dev = torch.device(device)
    head, meta = load_head(run.seed_dir(seed) / "head" / "best.safetensors", dev)
    feat_path = run.encoder_dir(seed) / "features" / f"{split}.safetensors"
    if not feat_path.exists():
        raise FileNotFoundError(f"{feat_path}: no cached features (run `zeroskel extract {run.dir}`)")
    fmap, labels = load_features(feat_path)
    fmap = fmap[0]                                            # (N, C, T', V): the single test view
    if len(fmap) == 0:
        raise ValueError(f"{feat_path}: the split has no clips")
    text = _class_text(run).to(dev)
    chunks: dict[str, list[np.ndarray]] = {"encoder": []}
    initial = getattr(getattr(head, "temporal", None), "prototypes", None)
    proto: dict[str, Any] | None = None
    for i in range(0, len(fmap), batch_size):
        x = fmap[i:i + batch_size].to(dev).float()            # (B, C, T', V)
        chunks["encoder"].append(x.mean(dim=(2, 3)).cpu().numpy())   # (B, C)
        ex = head(x, text).extras
        named: list[tuple[str, torch.Tensor]] = []
        for branch in ("spatial", "temporal"):
            zs = ex.get(f"{branch}_features") or []
            named += list(zip(_phase_names(branch, len(zs)), zs))
        if not named and "embedding" in ex:
            named = [("embedding", ex["embedding"])]
        for name, z in named:
            chunks.setdefault(name, []).append(z.float().cpu().numpy())    # (B, D)
        protos = ex.get("temporal_prototypes")
        if protos and initial is not None:
            proto = _accumulate_prototypes(proto, initial.detach().float(), protos)
    feats = {k: np.concatenate(v).astype(np.float64) for k, v in chunks.items()}
    if proto is not None:
        n = proto.pop("count")
        proto = {"initial": proto["initial"].numpy(),
                 "mean": [s.numpy() / n for s in proto["sum"]],
                 "similarity_to_previous": [float(s) / n for s in proto["prev"]],
                 "similarity_to_initial": [float(s) / n for s in proto["init"]],
                 "phases": ["initial"] + _phase_names("temporal", len(proto["sum"]))}
    config = getattr(head, "config", None)
    return PhaseFeatures(features=feats, labels=labels.numpy().astype(np.int64),
                         class_names=list(meta.get("class_names") or []), prototypes=proto,
                         temporal_memory=getattr(config, "temporal_memory", None),
                         meta={"run": str(run.dir), "seed": seed, "split": split,
                               "model": meta.get("model"),
                               "variant": meta.get("model_kwargs", {}).get("variant"),
                               "unseen": meta.get("unseen"), "seen": meta.get("seen")})


def _accumulate_prototypes(acc: dict[str, Any] | None, initial: torch.Tensor,
                           protos: Sequence[torch.Tensor]) -> dict[str, Any]:
    """Running sums over clips of the phase prototypes (B, N_t, C) and their cosine similarities."""
    import torch.nn.functional as F

    b = protos[0].shape[0]
    init = initial.to(protos[0].device).unsqueeze(0).expand(b, -1, -1)   # (B, N_t, C)
    if acc is None:
        acc = {"initial": initial.cpu(), "sum": [0.0] * len(protos), "prev": [0.0] * len(protos),
               "init": [0.0] * len(protos), "count": 0}
    previous = init
    for e, p in enumerate(protos):
        p = p.float()
        acc["sum"][e] = acc["sum"][e] + p.sum(0).cpu()                     # (N_t, C)
        acc["prev"][e] += float(F.cosine_similarity(p, previous, dim=-1).mean(1).sum())
        acc["init"][e] += float(F.cosine_similarity(p, init, dim=-1).mean(1).sum())
        previous = p
    acc["count"] += b
    return acc


# --- metrics -------------------------------------------------------------------------------------

def clustering_metrics(features: np.ndarray, labels: np.ndarray, *, k: int | None = None,
                       seed: int = 0, n_init: int = KMEANS_N_INIT) -> dict[str, Any]:
    """Compactness of ``features`` (N, D) under the true ``labels``.

    silhouette and Calinski-Harabasz use the true labels; ARI and FMI compare the true labels with
    k-means (``k`` clusters, default the number of classes present; ``n_init`` restarts,
    ``random_state=seed``). A metric that is undefined (a single class, or as many classes as
    points) is None.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import (adjusted_rand_score, calinski_harabasz_score, fowlkes_mallows_score,
                                 silhouette_score)

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    n_classes = len(np.unique(y))
    k = int(k or n_classes)
    out: dict[str, Any] = {"n": int(len(x)), "num_classes": n_classes, "k": k, "silhouette": None,
                           "calinski_harabasz": None, "ari": None, "fmi": None}
    if 2 <= n_classes <= len(x) - 1:
        out["silhouette"] = float(silhouette_score(x, y))
        out["calinski_harabasz"] = float(calinski_harabasz_score(x, y))
    if 1 <= k <= len(x):
        clusters = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
        out["ari"] = float(adjusted_rand_score(y, clusters))
        out["fmi"] = float(fowlkes_mallows_score(y, clusters))
    return out


def tsne_2d(features: np.ndarray, *, seed: int = 0,
            perplexity: float | None = None) -> tuple[np.ndarray, float]:
    """(N, 2) t-SNE of ``features`` (PCA init, ``random_state=seed``) and the perplexity used
    (default min(30, (N - 1) / 3))."""
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float64)
    if len(x) < 3:
        raise ValueError(f"t-SNE needs at least 3 points, got {len(x)}")
    from threadpoolctl import threadpool_limits

    perp = float(perplexity if perplexity is not None else min(30.0, max(1.0, (len(x) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perp, init="pca", learning_rate="auto", random_state=seed)
    # small inputs run several times faster on one thread (no OpenMP start-up and contention)
    with threadpool_limits(1 if len(x) <= SMALL_TSNE else None):
        xy = tsne.fit_transform(x)
    return xy, perp


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(N, 2) projection of ``x`` (N, D) onto its first two principal components."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def prototype_summary(pf: PhaseFeatures, label: str) -> dict[str, Any]:
    """A run's temporal-prototype trajectory: PCA of [initial, phase 1, ...] mean prototypes jointly."""
    p = pf.prototypes
    stack = np.stack([p["initial"]] + p["mean"])               # (1 + P, N_t, C)
    xy = pca_2d(stack.reshape(-1, stack.shape[-1])).reshape(stack.shape[0], stack.shape[1], 2)
    return {"label": label, "run": pf.meta["run"], "seed": pf.meta["seed"],
            "temporal_memory": pf.temporal_memory, "phases": p["phases"],
            "similarity_to_previous": p["similarity_to_previous"],
            "similarity_to_initial": p["similarity_to_initial"],
            "pca": {name: xy[i].tolist() for i, name in enumerate(p["phases"])}}


def read_per_class(run_dir: str | Path, seed: int, key: str = "zsl_fused") -> dict[str, float]:
    """Per-class accuracy (%) of one seed, from ``seed<S>/per_class.json``."""
    path = Path(run_dir) / f"seed{seed}" / "per_class.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run `zeroskel evaluate {run_dir}` first")
    data = read_json(path)
    if key not in data:
        raise KeyError(f"{path}: no {key!r} entry (has {sorted(data)})")
    return {k: float(v) for k, v in data[key].items()}


def per_class_difference(this: dict[str, float], other: dict[str, float]) -> list[dict[str, Any]]:
    """Per-class ``this - other`` for the classes both have, sorted from largest gain to largest loss
    (ties by class name)."""
    common = [c for c in this if c in other]
    if not common:
        raise ValueError("the two runs share no class (different protocols?)")
    rows = [{"class": c, "this": this[c], "other": other[c], "diff": this[c] - other[c]} for c in common]
    return sorted(rows, key=lambda r: (-r["diff"], r["class"]))


def read_confusion(run_dir: str | Path, seed: int, key: str = "zsl_fused") -> dict[str, Any]:
    path = Path(run_dir) / f"seed{seed}" / "confusion.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run `zeroskel evaluate {run_dir}` first")
    return read_json(path)[key]


def read_encoder_supervised(run_dir: str | Path, seed: int) -> dict[str, Any] | None:
    """``encoder.supervised`` of one seed: top-1 (%) of the encoder's own classifier on the test
    split's seen-class clips and on the holdout, and of the validation encoders on their held-out
    subjects (``val_seen``, from metrics.json) (a diagnostic; None for runs made before it existed)."""
    path = Path(run_dir) / f"seed{seed}" / "encoder_supervised.json"
    if not path.exists():
        return None
    d = read_json(path)
    out = {"metric": "top-1 (%) of the encoder's classifier on seen-class clips (diagnostic)",
           **{k: d[k]["top1"] for k in ("test_seen", "holdout") if k in d}}
    metrics = Path(run_dir) / "metrics.json"
    if metrics.exists():
        m = read_json(metrics)
        val_seen = m.get("encoder", {}).get("supervised", {}).get("val_seen")
        if val_seen and seed in m.get("seeds", []):
            out["val_seen"] = val_seen["values"][m["seeds"].index(seed)]
    return out


def training_curves(run_dir: str | Path, seed: int) -> dict[str, dict[str, list[float]]]:
    """``metrics.jsonl`` of one seed: step -> {"epoch": [...], "loss": [...], "lr": [...], val_*}."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: not a finished run?")
    curves: dict[str, dict[str, list[float]]] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {lineno} is not JSON ({err})") from None
        if rec.get("seed") != seed:
            continue
        c = curves.setdefault(rec["step"], {})
        for k, v in rec.items():
            if k in ("seed", "step", "seconds") or not isinstance(v, (int, float)):
                continue
            c.setdefault(k, []).append(float(v))
    return curves


# --- the whole analysis --------------------------------------------------------------------------

def _label(run_dir: Path, pf: PhaseFeatures | None) -> str:
    if pf is None or pf.temporal_memory is None:
        return run_dir.name
    return f"{run_dir.name} (memory {'on' if pf.temporal_memory else 'off'})"


def analyze_run(run_dir: str | Path, out_dir: str | Path, *, compare: str | Path | None = None,
                seed: int | None = None, device: str = "cpu", random_state: int = 0,
                dpi: int = 100) -> dict[str, Any]:
    """Write the figures and ``analysis.json`` of one seed of ``run_dir`` into ``out_dir``.

    Args:
        run_dir: a finished run directory.
        out_dir: where the PNGs and ``analysis.json`` go.
        compare: a second run (same protocol) for the per-class difference and the prototype plot.
        seed: which seed (default: the run's first with a trained head; ``compare`` uses the same
            seed when it has it, else its own first).
        device: where the head runs.
        random_state: seed of t-SNE and k-means.
        dpi: resolution of the PNGs.
    """
    from zeroskel.analysis import figures

    run_dir, out = Path(run_dir), Path(out_dir)
    seed = _pick_seed(run_dir, seed)
    pf = phase_features(run_dir, seed, device=device)
    names = pf.class_names
    label = _label(run_dir, pf)
    unseen = sorted(set(int(c) for c in pf.labels))

    # a second run
    other_pf, other_seed, other_label = None, None, None
    if compare is not None:
        compare = Path(compare)
        other_seeds = run_seeds(compare)
        other_seed = seed if seed in other_seeds else _pick_seed(compare, None)
        other_pf = phase_features(compare, other_seed, device=device)
        if other_pf.class_names != names:
            raise ValueError(f"{compare}: its classes differ from {run_dir}'s (another dataset?)")
        other_label = _label(compare, other_pf)
        if other_label == label:
            label, other_label = f"{label} [this]", f"{other_label} [compare]"
    result: dict[str, Any] = {
        "format": "zeroskel-analysis/1", "run": str(run_dir), "seed": seed, "split": "test_unseen",
        "model": pf.meta["model"], "variant": pf.meta["variant"], "temporal_memory": pf.temporal_memory,
        "compare": None if compare is None else {"run": str(compare), "seed": other_seed,
                                                 "temporal_memory": other_pf.temporal_memory},
        "unseen_classes": [names[c] for c in unseen], "num_clips": int(len(pf.labels)), "figures": {},
    }
    figs = result["figures"]

    # per-phase compactness and t-SNE
    k = len(unseen)
    metrics = {ph: clustering_metrics(x, pf.labels, k=k, seed=random_state) for ph, x in pf.features.items()}
    result["clustering"] = {
        "k": k, "k_rule": "k-means with k = number of unseen classes in the split",
        "kmeans": {"n_init": KMEANS_N_INIT, "random_state": random_state},
        "space": "encoder: mean-pooled feature map; phases: the head's projected, L2-normalised "
                 "phase features; silhouette and Calinski-Harabasz use the true labels, ARI and "
                 "FMI compare the true labels with the k-means clusters",
        "phases": metrics,
    }
    embeddings, perplexity = {}, None
    for ph, x in pf.features.items():
        embeddings[ph], perplexity = tsne_2d(x, seed=random_state)
    result["tsne"] = {"perplexity": perplexity, "random_state": random_state, "init": "pca",
                      "labels": pf.labels.tolist(),
                      "phases": {ph: xy.round(4).tolist() for ph, xy in embeddings.items()}}
    figs["tsne"] = figures.plot_tsne(
        embeddings, pf.labels, names, metrics, out / "tsne.png", dpi=dpi,
        title=f"t-SNE of unseen-class test features per phase: {label}").name
    figs["clustering"] = figures.plot_clustering(
        metrics, out / "clustering.png", dpi=dpi, title=f"Feature compactness per phase: {label}").name

    # temporal prototypes, with and without memory when the second run has the other setting
    protos = [prototype_summary(p, lab) for p, lab in ((pf, label), (other_pf, other_label))
              if p is not None and p.prototypes is not None]
    if protos:
        protos.sort(key=lambda r: r["temporal_memory"] is False)   # memory on first
        settings = sorted({r["temporal_memory"] for r in protos if r["temporal_memory"] is not None})
        result["temporal_prototypes"] = {
            "note": "PCA of the test-set mean temporal prototypes at the start and after each phase "
                    "(fitted per run); similarities are mean cosines over clips and prototypes",
            "memory_settings": settings, "runs": protos}
        title = ("Temporal prototypes across phases, with and without the memory gate"
                 if len(settings) == 2 else "Temporal prototypes across phases")
        figs["prototypes"] = figures.plot_prototypes(protos, out / "prototypes.png", title=title,
                                                     dpi=dpi).name

    # prototype health (Neuron heads): written by `evaluate` as seed<S>/health.json
    health_runs = []
    for rdir, rseed, rlabel in ((run_dir, seed, label), (compare, other_seed, other_label)):
        path = None if rdir is None else Path(rdir) / f"seed{rseed}" / "health.json"
        if path is not None and path.exists():
            health_runs.append({"label": rlabel, **read_json(path)})
    if health_runs:
        result["health"] = {"note": "prototype health on held-out seen-class clips, before and after "
                                    "training (zeroskel.models.neuron.prototype_health)",
                            "runs": health_runs}
        figs["health"] = figures.plot_health(health_runs, out / "health.png", dpi=dpi,
                                             title=f"Prototype health per phase: {label}").name

    # per-class accuracy and the difference to the second run
    acc = read_per_class(run_dir, seed)
    result["per_class"] = {"metric": "ZSL top-1 of the fused scores (%)", "this": acc}
    other_acc = read_per_class(compare, other_seed) if compare is not None else None
    figs["per_class"] = figures.plot_per_class(
        acc, out / "per_class.png", other=other_acc, labels=(label, other_label or ""), dpi=dpi,
        title=f"Per-class ZSL accuracy (unseen classes): {label}"
              + (f" vs {other_label}" if other_acc else "")).name
    if other_acc is not None:
        rows = per_class_difference(acc, other_acc)
        result["per_class"].update({"other": other_acc, "other_run": str(compare),
                                    "other_seed": other_seed, "difference": rows})
        figs["per_class_difference"] = figures.plot_per_class_difference(
            rows, out / "per_class_difference.png", dpi=dpi,
            title=f"Per-class accuracy difference, sorted\n{label} minus {other_label}",
            xlabel="accuracy difference (percentage points)").name

    # confusion of the unseen classes
    conf = read_confusion(run_dir, seed)
    result["confusion"] = {"scores": "fused, ZSL (unseen classes only)", **conf}
    figs["confusion"] = figures.plot_confusion(
        np.asarray(conf["matrix"]), conf["classes"], out / "confusion.png", dpi=dpi,
        title=f"Unseen-class confusion (ZSL, fused): {label}").name

    # the encoder diagnostic (its own classifier on seen-class clips)
    result["encoder_supervised"] = read_encoder_supervised(run_dir, seed)

    # training curves
    curves = training_curves(run_dir, seed)
    result["curves"] = curves
    if curves:
        figs["curves"] = figures.plot_curves(
            curves, out / "curves.png", dpi=dpi, title=f"Training curves (seed {seed}): {run_dir.name}").name
    write_json(out / "analysis.json", result)
    return result
