"""Official Shift-GCN checkpoint names -> ours: round trip through a synthetic official state dict."""
from __future__ import annotations

import pytest
import torch

from zeroskel.models import ShiftGCN, checkpoint_filter_fn, load_official_shiftgcn
from zeroskel.models.shift_ops import shift_in_index, shift_out_index


def to_official(model: ShiftGCN, prefix: str = "module.") -> dict[str, torch.Tensor]:
    """Our state dict written in the official naming, written independently of convert.py's table."""
    inverse = {
        "spatial.bn.": "gcn1.bn.", "spatial.down.conv.": "gcn1.down.0.", "spatial.down.bn.": "gcn1.down.1.",
        "temporal.bn_in.": "tcn1.bn.", "temporal.linear.": "tcn1.temporal_linear.",
        "temporal.bn_out.": "tcn1.bn2.", "residual.conv.": "residual.conv.", "residual.bn.": "residual.bn.",
    }
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if not key.startswith("units."):
            out[prefix + key] = value.clone()
            continue
        _, unit, rest = key.split(".", 2)
        head = f"{prefix}l{int(unit) + 1}."
        if rest == "spatial.linear.weight":
            out[head + "gcn1.Linear_weight"] = value.t().clone()  # (C_in, C_out)
        elif rest == "spatial.linear.bias":
            out[head + "gcn1.Linear_bias"] = value.view(1, 1, -1).clone()
        elif rest == "spatial.mask":
            out[head + "gcn1.Feature_Mask"] = value.unsqueeze(0).clone()  # (1, V, C_in)
        elif rest == "temporal.shift_in.offset":
            out[head + "tcn1.shift_in.ypos"] = value.clone()
            out[head + "tcn1.shift_in.xpos"] = torch.full_like(value, 1e-9)
        elif rest == "temporal.shift_out.offset":
            out[head + "tcn1.shift_out.ypos"] = value.clone()
            out[head + "tcn1.shift_out.xpos"] = torch.full_like(value, 1e-9)
        else:
            ours = next(p for p in inverse if rest.startswith(p))
            out[head + inverse[ours] + rest[len(ours):]] = value.clone()
    for i, unit in enumerate(model.units):
        sp = unit.spatial
        out[f"{prefix}l{i + 1}.gcn1.shift_in"] = shift_in_index(sp.num_joints, sp.in_channels)
        out[f"{prefix}l{i + 1}.gcn1.shift_out"] = shift_out_index(sp.num_joints, sp.out_channels)
    return out


def _trained_like(model: ShiftGCN) -> ShiftGCN:
    """Give every parameter and BN statistic a distinctive value."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if "running_var" in name else
                        torch.randn(t.shape, generator=g) * 0.3)
    return model.eval()


def test_official_round_trip_gives_identical_outputs(tmp_path):
    source = _trained_like(ShiftGCN(num_classes=6, num_joints=20, num_person=2, base_channels=8))
    official = to_official(source)
    assert "module.l1.gcn1.Linear_weight" in official and "module.l5.residual.conv.weight" in official
    assert official["module.l1.gcn1.Feature_Mask"].shape == (1, 20, 3)

    target = ShiftGCN(num_classes=6, num_joints=20, num_person=2, base_channels=8).eval()
    x = torch.randn(2, 3, 16, 20, 2)
    assert not torch.allclose(target(x), source(x))
    path = tmp_path / "shiftgcn_official.pt"
    torch.save({"state_dict": official}, path)
    load_official_shiftgcn(path, target)
    assert torch.equal(target(x), source(x))
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_native_state_dict_passes_through():
    source = _trained_like(ShiftGCN(num_classes=3, num_joints=20, num_person=1, base_channels=8))
    target = ShiftGCN(num_classes=3, num_joints=20, num_person=1, base_channels=8).eval()
    load_official_shiftgcn(source.state_dict(), target)
    x = torch.randn(1, 3, 8, 20, 1)
    assert torch.equal(target(x), source(x))


def test_missing_num_batches_tracked_is_filled():
    source = _trained_like(ShiftGCN(num_classes=3, num_joints=20, num_person=1, base_channels=8))
    official = {k: v for k, v in to_official(source, prefix="").items() if not k.endswith("num_batches_tracked")}
    target = ShiftGCN(num_classes=3, num_joints=20, num_person=1, base_channels=8).eval()
    load_official_shiftgcn(official, target)
    x = torch.randn(1, 3, 8, 20, 1)
    assert torch.equal(target(x), source(x))


def test_mismatch_lists_keys_and_shapes():
    official = to_official(ShiftGCN(num_classes=60, num_joints=25, num_person=2, base_channels=8))
    official["module.l3.gcn1.extra_thing"] = torch.zeros(2, 3)
    del official["module.l2.tcn1.bn2.weight"]
    target = ShiftGCN(num_classes=10, num_joints=20, num_person=2, base_channels=8)
    with pytest.raises(ValueError) as err:
        load_official_shiftgcn(official, target)
    msg = str(err.value)
    assert "fc.weight: checkpoint (60, 32) vs model (10, 32)" in msg
    assert "units.0.spatial.mask: checkpoint (25, 3) vs model (20, 3)" in msg
    assert "data_bn.weight: checkpoint (150,) vs model (120,)" in msg
    assert "missing in the checkpoint:\n  units.1.temporal.bn_out.weight (8,)" in msg
    assert "l3.gcn1.extra_thing (2, 3)" in msg


def test_ignore_classifier_keeps_our_head():
    source = _trained_like(ShiftGCN(num_classes=60, num_joints=20, num_person=1, base_channels=8))
    target = ShiftGCN(num_classes=5, num_joints=20, num_person=1, base_channels=8).eval()
    fc_before = target.fc.weight.detach().clone()
    load_official_shiftgcn(to_official(source), target, ignore_classifier=True)
    assert torch.equal(target.fc.weight, fc_before)
    x = torch.randn(2, 3, 8, 20, 1)
    assert torch.equal(target.feature_map(x), source.feature_map(x))


def test_non_strict_reports_missing_and_checkpoint_filter_fn_maps_names():
    model = ShiftGCN(num_classes=3, num_joints=20, num_person=1, base_channels=8)
    official = to_official(model, prefix="")
    mapped = checkpoint_filter_fn(official, model)
    assert set(mapped) == set(model.state_dict())
    assert mapped["units.0.spatial.linear.weight"].shape == (8, 3)
    del official["fc.bias"]
    result = load_official_shiftgcn(official, model, strict=False)
    assert result.missing_keys == ["fc.bias"]
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        load_official_shiftgcn("/nonexistent/nowhere.pt", model)
