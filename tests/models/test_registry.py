"""CPU test matrix over every registered model (timm style), and the registry itself."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import zeroskel.models.registry as registry
from zeroskel.models import ZeroShotHead, create_model, list_models, model_entrypoint, model_tiny_kwargs, register_model


def test_builtin_models_are_registered():
    assert {"shiftgcn", "neuron"} <= set(list_models())
    assert list_models("shift*") == ["shiftgcn", "shiftgcn_ensemble"]


def _inputs(model):
    """Tiny inputs and a (forward, loss) pair for an encoder or a zero-shot head."""
    torch.manual_seed(0)
    if isinstance(model, ZeroShotHead):
        fmap = torch.relu(torch.randn(3, model.feat_dim, 8, 20))
        text = F.normalize(torch.randn(2 * model.num_phases, 4, 3, model.text_dim), dim=-1)
        labels = torch.tensor([0, 3, 1])
        return (fmap, text), lambda out: model.loss(out, labels), lambda out: out.fused_scores()
    if hasattr(model, "feature_map"):  # skeleton encoder
        x = torch.randn(3, model.in_channels, 16, model.num_joints, model.num_person)
        labels = torch.tensor([0, 1, 2]) % model.num_classes
        return (x,), lambda out: F.cross_entropy(out, labels), lambda out: out
    raise TypeError(f"test matrix does not know how to feed {type(model).__name__}: make it a ZeroShotHead or "
                    "an encoder with feature_map, num_joints, num_person, in_channels, num_classes")


class _Traceable(torch.nn.Module):
    def __init__(self, model, to_tensor):
        super().__init__()
        self.model, self.to_tensor = model, to_tensor

    def forward(self, *args):
        return self.to_tensor(self.model(*args))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_backward_trace(name):
    torch.manual_seed(0)
    model = create_model(name, **model_tiny_kwargs(name))
    args, loss_fn, to_tensor = _inputs(model)
    model.train()
    loss = loss_fn(model(*args))
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(torch.isfinite(g).all() for g in grads if g is not None)

    model.eval()
    with torch.no_grad():
        ref = to_tensor(model(*args))
        assert torch.isfinite(ref).all()
        traced = torch.jit.trace(_Traceable(model, to_tensor), args, check_trace=False)
        assert torch.allclose(traced(*args), ref, atol=1e-5)


def test_register_lookup_and_errors(monkeypatch):
    monkeypatch.setattr(registry, "_ENTRYPOINTS", dict(registry._ENTRYPOINTS))
    monkeypatch.setattr(registry, "_TINY_KWARGS", dict(registry._TINY_KWARGS))

    @register_model
    def toy_linear(dim: int = 3) -> torch.nn.Module:
        return torch.nn.Linear(dim, dim)

    @register_model(name="toy_other", tiny_kwargs={"dim": 2})
    def _builder(dim: int = 3) -> torch.nn.Module:
        return torch.nn.Linear(dim, 1)

    assert model_entrypoint("toy_linear") is toy_linear
    assert create_model("toy_linear", dim=5).in_features == 5
    assert model_tiny_kwargs("toy_other") == {"dim": 2} and model_tiny_kwargs("toy_linear") == {}
    assert {"toy_linear", "toy_other"} <= set(list_models("toy*"))
    with pytest.raises(KeyError, match="unknown model 'nope'; registered models: .*shiftgcn"):
        create_model("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_model(name="toy_linear")(lambda: None)
