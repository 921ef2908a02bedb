"""Helpers shared by the engine tests: the tiny settings of a real run on UTD-MHAD."""
from __future__ import annotations

from zeroskel.cli.main import main

TINY = [
    "encoder.base_channels=4", "encoder.epochs=2", "data.length=16", "extract.views=2",
    "head.epochs=3", "head.min_steps=0", "head.batch_size=32", "text.encoder=hashing:32",
    "head.options={num_spatial_protos: 8, num_temporal_protos: 8, keep_schedule: [6, 4, 2]}",
]


def fit_steps(head, fmap, text, labels, steps: int, lr: float = 1e-2, opt: str = "adam") -> list[float]:
    """``steps`` updates (Adam, or SGD with momentum 0.9) of a head on one batch in train mode; the loss
    before each update."""
    import torch

    params = [p for p in head.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=lr) if opt == "adam" else torch.optim.SGD(params, lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        head.train()
        loss = head.loss(head(fmap, text), labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
    return losses


def run_tiny(utd_root, out, *extra) -> int:
    """``zeroskel run`` on protocol utd-f1 with the tiny settings (about 20 s on 2 cores)."""
    return main(["run", "--protocol", "utd-f1", "--data-root", str(utd_root), "--out", str(out),
                 "--quiet", *TINY, *extra])

def run_tiny_bench(utd_root, out, overrides) -> None:
    """``zeroskel bench`` of global_align on utd-f1, seed 0, with ``overrides``; every cell must run."""
    from zeroskel.bench.bench import make_spec, run_bench

    spec = make_spec(methods="global_align", protocols="utd-f1", seeds=1, data_root=f"utd-mhad={utd_root}",
                     config=None, overrides=overrides)
    assert run_bench(spec, out, keep_going=False)["failed"] == []


def strip_config_keys(path, dotted_keys) -> None:
    """Rewrite a saved config.yaml as a zeroskel from before ``dotted_keys`` existed wrote it."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted in dotted_keys:
        *parents, key = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[key]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# A quick run: the encoder keeps its initial weights (pretrained_only, no checkpoint) and the head
# trains one epoch; every file a full run writes is there (bundle, test scores, checkpoints).
QUICK = [
    "encoder.base_channels=4", "encoder.pretrained_only=true", "data.length=16", "extract.views=1",
    "head.epochs=1", "head.min_steps=0", "text.encoder=hashing:32", "eval.validation_encoder=shared",
    "head.options={num_spatial_protos: 8, num_temporal_protos: 8, keep_schedule: [6, 4, 2], hidden_dim: 16}",
]

# Two quick runs sharing one encoder, the temporal memory gate on and off (analysis figures).
MEMORY_RUN = [
    "encoder.base_channels=4", "encoder.pretrained_only=true", "data.length=16", "extract.views=1",
    "head.epochs=2", "head.min_steps=0", "text.encoder=hashing:32", "eval.validation_encoder=shared",
]
MEMORY_HEAD = "num_spatial_protos: 8, num_temporal_protos: 8, keep_schedule: [6, 4, 2], hidden_dim: 32"
