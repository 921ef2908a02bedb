"""benchmarks/text_skeleton_agreement.py: skeleton vs text class geometry on the seen classes of a fold."""
from __future__ import annotations

import runpy
from pathlib import Path

import torch
from safetensors.torch import save_file

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "text_skeleton_agreement.py"


def _features(path: Path, centroids: torch.Tensor, classes: list[int], per_class: int = 3) -> None:
    """A bench feature cache (views, N, C, T, V) whose clips of class k average to centroids[k]."""
    g = torch.Generator().manual_seed(0)
    x, y = [], []
    for k in classes:
        noise = torch.randn(per_class, centroids.shape[1], 2, 3, generator=g) * 0.01
        noise -= noise.mean(0, keepdim=True)                       # the clips' mean is the centroid
        x.append(centroids[k][None, :, None, None] + noise)        # (per_class, C, T=2, V=3)
        y += [k] * per_class
    feats = torch.cat(x)[None]                                       # (1, N, C, T, V)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"features": feats, "labels": torch.tensor(y), "indices": torch.arange(len(y))}, str(path))


def test_rho_is_one_when_the_features_mirror_the_text_and_lower_when_shuffled(tmp_path):
    from zeroskel.text.class_text import build_class_text
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_shipped

    mod = runpy.run_path(str(SCRIPT))
    si = load_shipped("utd-mhad")
    text = build_class_text(si, get_text_encoder("hashing:64"), si.class_names)     # (6, K, N_a, D)
    seen = [k for k in range(27) if k not in (0, 5, 10, 15, 20)]
    mirror, shuffled = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    means = torch.nn.functional.normalize(text.mean(dim=(0, 2)), dim=-1)              # (K, D): the "all" column
    _features(mirror, means, seen)
    perm = torch.randperm(27, generator=torch.Generator().manual_seed(1))
    _features(shuffled, means[perm], seen)
    rho = mod["agreement"](mirror, text)
    assert len(rho) == 7 and abs(rho[-1] - 1.0) < 1e-6 and all(-1 <= r <= 1 for r in rho)
    assert mod["agreement"](shuffled, text)[-1] < 0.5

    # the command line reads FOLD/_shared/seedS/features/train.safetensors of each bench folder
    bench = tmp_path / "bench"
    _features(bench / "utd-f1" / "_shared" / "seed0" / "features" / "train.safetensors", means, seen)
    out = tmp_path / "t.md"
    assert mod["main"]([str(bench), "--text", "v1=benchmarks/text/v1", "--text", "v2=shipped",
                        "--encoder", "hashing:64", "--out", str(out)]) == 0
    table = out.read_text(encoding="utf-8")
    assert "| utd-f1 | v1 |" in table and "| utd | v1 | 1 |" in table and "| utd | v2 | 1 |" in table
    v2 = [line for line in table.splitlines() if line.startswith("| utd-f1 | v2 |")][0]
    assert v2.rstrip(" |").endswith("1.00")                          # the shipped text's own geometry
