from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from zeroskel.text.class_text import build_class_text
from zeroskel.text.encoders import get_text_encoder
from zeroskel.text.official import OFFICIAL_STEMS, load_official_features, load_official_side_info
from zeroskel.text.sideinfo import PHASES, SideInfoError

CLASSES = ["high arm wave", "horizontal arm wave", "hammer"]


def _write_release(root, n=10, dim=768, suffix=".tar", classes=CLASSES):
    """Six {class: [n strings]} JSON files and six (C, n, dim) tensors, as the release lays them out."""
    gen = torch.Generator().manual_seed(0)
    feats = {}
    for phase, stem in OFFICIAL_STEMS.items():
        table = {c: [f"{stem} of {c}, person {i}" for i in range(n)] for c in classes}
        (root / f"{stem}.json").write_text(json.dumps(table), encoding="utf-8")
        feats[phase] = torch.randn(len(classes), n, dim, generator=gen)
        torch.save(feats[phase], root / f"{stem}{suffix}")
    return feats


def test_import_side_info(tmp_path):
    _write_release(tmp_path)
    si = load_official_side_info(tmp_path, dataset="msr-action3d")
    assert si.class_names == CLASSES and si.num_descriptions == 10 and si.dataset == "msr-action3d"
    assert si.texts("hammer", "spatial_mid")[3] == "spatial_mg of hammer, person 3"
    assert si.texts("hammer", "temporal_end")[0] == "temporal_tp of hammer, person 0"
    reordered = load_official_side_info(tmp_path, ["hammer", "high arm wave"])
    assert reordered.class_names == ["hammer", "high arm wave"]


def test_import_errors_name_file_and_class(tmp_path):
    _write_release(tmp_path)
    with pytest.raises(SideInfoError, match=r"spatial_cg.json: class 'draw x' missing"):
        load_official_side_info(tmp_path, ["draw x"])
    table = json.loads((tmp_path / "temporal_sp.json").read_text())
    table["hammer"] = table["hammer"][:4]
    (tmp_path / "temporal_sp.json").write_text(json.dumps(table))
    with pytest.raises(SideInfoError, match=r"'hammer'.*'temporal_middle'.*4 descriptions"):
        load_official_side_info(tmp_path)
    (tmp_path / "spatial_fg.json").unlink()
    with pytest.raises(SideInfoError, match="spatial_fg.json: file not found"):
        load_official_side_info(tmp_path)


@pytest.mark.parametrize("suffix", [".tar", ".pt"])
def test_import_features(tmp_path, suffix):
    feats = _write_release(tmp_path, suffix=suffix)
    stacked = load_official_features(tmp_path, num_classes=3)
    assert stacked.shape == (6, 3, 10, 768) and stacked.dtype == torch.float32
    for i, phase in enumerate(PHASES):
        assert torch.equal(stacked[i], feats[phase])
    with pytest.raises(ValueError, match="3 classes, expected 4"):
        load_official_features(tmp_path, num_classes=4)


def test_feature_shape_mismatch(tmp_path):
    _write_release(tmp_path)
    torch.save(torch.zeros(3, 9, 768), tmp_path / "temporal_tp.tar")
    with pytest.raises(ValueError, match=r"temporal_tp.tar: shape \(3, 9, 768\)"):
        load_official_features(tmp_path)


def test_precomputed_encoder_from_release(tmp_path):
    """side info + 'precomputed:<release dir>' reproduces the release tensors, normalised, in our order."""
    feats = _write_release(tmp_path, n=4, dim=32, suffix=".pt")
    si = load_official_side_info(tmp_path)
    enc = get_text_encoder(f"precomputed:{tmp_path}")
    assert enc.dim == 32 and enc.id.startswith("precomputed:")
    order = ["hammer", "high arm wave"]
    class_text = build_class_text(si, enc, order)
    assert class_text.shape == (6, 2, 4, 32)
    for i, phase in enumerate(PHASES):
        expected = F.normalize(feats[phase][[2, 0]], dim=-1)
        assert torch.allclose(class_text[i], expected, atol=1e-6)
    with pytest.raises(KeyError, match="no precomputed feature"):
        enc.encode(["an unseen text"])
