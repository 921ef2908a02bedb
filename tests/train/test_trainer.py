"""The training loop's optimisers and schedules: SGD + milestones (unchanged), AdamW, cosine,
warm-up, and bit-identical resume with each."""
from __future__ import annotations

import math

import pytest
import torch

from zeroskel.train.trainer import SGDConfig, fit, make_optimizer


def _cfg(**kw) -> SGDConfig:
    base = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, epochs=10, milestones=(0.6, 0.8))
    return SGDConfig(**{**base, **kw})


def _lrs(cfg: SGDConfig) -> list[float]:
    opt, sched = make_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    out = []
    for _ in range(cfg.epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_step_schedule_is_unchanged():
    lrs = _lrs(_cfg())
    assert lrs[:6] == pytest.approx([0.1] * 6) and lrs[6:8] == pytest.approx([0.01] * 2)
    assert lrs[8:] == pytest.approx([0.001] * 2)
    opt, _ = make_optimizer([torch.nn.Parameter(torch.zeros(1))], _cfg())
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["nesterov"]


def test_cosine_schedule_with_warmup():
    lrs = _lrs(_cfg(schedule="cosine"))
    assert lrs == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * e / 10)) for e in range(10)])
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] > 0
    warm = _lrs(_cfg(schedule="cosine", warmup_epochs=2))
    assert warm[0] == pytest.approx(0.05) and warm[1] == pytest.approx(0.1)
    assert warm[2] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0 / 8)))


def test_adamw_and_bad_names():
    opt, _ = make_optimizer([torch.nn.Parameter(torch.zeros(1))], _cfg(optimizer="adamw", lr=2e-3,
                                                                      weight_decay=0.01))
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["weight_decay"] == 0.01
    opt, _ = make_optimizer([torch.nn.Parameter(torch.zeros(1))], _cfg(optimizer="adam", lr=1e-4,
                                                                      weight_decay=0.0, betas=(0.5, 0.9)))
    assert type(opt) is torch.optim.Adam and opt.defaults["betas"] == (0.5, 0.9)
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam, adamw"):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], _cfg(optimizer="lamb"))
    with pytest.raises(ValueError, match="schedule must be one of step, cosine"):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], _cfg(schedule="linear"))


def _train(tmp_path, cfg: SGDConfig, stop_after=None) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    data = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    labels = (data[:, 0] > 0).long() + (data[:, 1] > 0).long()

    def batches(epoch: int):
        g = torch.Generator().manual_seed(epoch)
        perm = torch.randperm(64, generator=g)
        return [(data[perm[i:i + 16]], labels[perm[i:i + 16]]) for i in range(0, 64, 16)]

    def step(batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)

    fit(model, sgd=cfg, batches=batches, step=step, evaluate=None, state_path=tmp_path / "state.pt",
        seed=0, stop_after=stop_after, show_progress=False)
    return model


@pytest.mark.parametrize("kind", [dict(), dict(optimizer="adamw", lr=2e-3, weight_decay=0.01, schedule="cosine")])
def test_resume_is_bit_identical(tmp_path, kind):
    cfg = _cfg(epochs=6, **kind)
    whole = _train(tmp_path / "a", cfg)
    _train(tmp_path / "b", cfg, stop_after=2)        # interrupted after epoch 3 of 6
    resumed = _train(tmp_path / "b", cfg)            # picks up from the saved state
    for p, q in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


def test_resume_message_counts_epochs_from_one(tmp_path, caplog, monkeypatch):
    import logging

    from zeroskel.train.runtime import LOG

    monkeypatch.setattr(LOG, "propagate", True)  # an earlier run's setup_logging turned it off; caplog reads the root

    cfg = _cfg(epochs=4)
    _train(tmp_path, cfg, stop_after=1)              # epochs 1 and 2 of 4 done (0-based 0 and 1)
    with caplog.at_level(logging.INFO, logger="zeroskel"):
        _train(tmp_path, cfg)
    assert "epochs 1-2 of 4 done, resuming at epoch 3" in caplog.text
