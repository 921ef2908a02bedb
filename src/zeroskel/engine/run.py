"""The main job: pre-train -> extract -> train -> evaluate, per seed, in one run directory.

    zeroskel run --protocol utd-f1 --data-root ../shared/data/utd_mhad --out runs/utd-f1 --seeds 3

Layout of a run directory::

    config.yaml          resolved config (every later step reads it)
    env.json             versions, device, threads
    log.txt              the log
    metrics.jsonl        one line per epoch of every training step (seed, step, epoch, ...)
    metrics.json         the final numbers: mean, std and per-seed values
    text/                class-text tensor and the embedding cache
    seed<S>/encoder/     main encoder: best.safetensors (+ metadata), result.json
    seed<S>/val_encoder/ encoder of the validation protocol (pseudo-seen classes only)
    seed<S>/features/    cached feature maps (float16)
    seed<S>/val_head/    head trained on the validation protocol: epoch and calibration choice
    seed<S>/head/        final head: best.safetensors (+ metadata: classes, gamma, ...)
    seed<S>/eval.json    test metrics; per_class.json, confusion.json

Honesty rules (see docs/protocols.md): the encoder is pre-trained on seen classes and its
checkpoint chosen on held-out seen-class clips of the train split; the head's epoch and the GZSL
calibration factor come from the validation protocol (seen classes only, some held out as
pseudo-unseen); the test split is touched once, by ``evaluate``.
"""
from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zeroskel.config import load_config, save_config, to_dict
from zeroskel.engine import metrics as M
from zeroskel.engine.bundle import export_bundle
from zeroskel.engine.features import extract_features, load_features
from zeroskel.engine.head import head_epochs, load_head, score_features, train_head
from zeroskel.engine.io import load_tensors, read_json, save_tensors, write_json
from zeroskel.engine.pretrain import (clip_preprocessing, load_encoder, pretrain_encoder,
                                     supervised_accuracy)
from zeroskel.engine.run_config import RunConfig
from zeroskel.engine.runtime import (LOG, environment, is_main_process, resolve_device,
                                     setup_logging)

STEPS = ("pretrain", "extract", "train", "evaluate")
MULTI_PERSON = {"ntu60", "ntu120", "pku-mmd"}


class RunError(RuntimeError):
    pass


def seen_margin(scores: np.ndarray, seen: list[int], unseen: list[int]) -> float:
    """Median over clips of (best seen-class score - best unseen-class score)."""
    if len(scores) == 0:
        return float("nan")
    return float(np.median(scores[:, seen].max(1) - scores[:, unseen].max(1)))


class Run:
    """A run directory and the steps that fill it."""

    def __init__(self, run_dir: str | Path, cfg: RunConfig | None = None) -> None:
        self.dir = Path(run_dir)
        if cfg is None:
            path = self.dir / "config.yaml"
            if not path.exists():
                raise RunError(f"{self.dir}: not a run directory (no config.yaml); start one with "
                               "`zeroskel run`")
            cfg = load_config(RunConfig, path)
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        self._histories: dict[tuple[int, str], list[dict[str, Any]]] = {}

    # ----------------------------------------------------------------------------- creation
    @classmethod
    def create(cls, out: str | Path, cfg: RunConfig, *, resume: bool = False) -> "Run":
        """New run directory, or the existing one with ``resume`` (its saved config wins)."""
        out = Path(out)
        cfg_path = out / "config.yaml"
        if cfg_path.exists():
            if not resume:
                raise RunError(f"{out} already holds a run; pass --resume to continue it or choose "
                               "another --out")
            saved = load_config(RunConfig, cfg_path)
            if to_dict(saved) != to_dict(cfg):
                LOG.info("resuming %s with its saved config (the given options are ignored)", out)
            cfg = saved
        else:
            out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, cfg_path)
        run = cls(out, cfg)
        write_json(out / "env.json", environment())
        return run

    # ----------------------------------------------------------------------------- inputs
    @cached_property
    def protocol(self):
        from zeroskel.data.protocols import get_protocol

        return get_protocol(self.cfg.protocol)

    @cached_property
    def dataset(self):
        from zeroskel.data import load_dataset

        if self.cfg.data.cache:
            from zeroskel.data.cache import load_cache

            ds = load_cache(self.cfg.data.cache)
        else:
            if not self.cfg.data.root:
                raise RunError("no data: set --data-root (data.root) or data.cache")
            ds = load_dataset(self.protocol.dataset, self.cfg.data.root)
        if ds.name != self.protocol.dataset:
            raise RunError(f"protocol {self.protocol.name} is for {self.protocol.dataset}, "
                           f"but the data is {ds.name}")
        for s in ds.skipped:
            LOG.info("skipped %s: %s", s.sample, s.reason)
        return ds

    @cached_property
    def splits(self):
        from zeroskel.data.protocols import make_splits

        return make_splits(self.dataset, self.protocol, seed=self.cfg.data.split_seed)

    @property
    def num_person(self) -> int:
        if self.cfg.data.num_person > 0:
            return self.cfg.data.num_person
        return 2 if self.protocol.dataset in MULTI_PERSON else 1

    @cached_property
    def text_encoder(self):
        from zeroskel.text.encoders import get_text_encoder

        return get_text_encoder(self.cfg.text.encoder, device=str(self.device))

    @cached_property
    def class_text(self) -> torch.Tensor:
        """(P, K_all, N_a, D) for every class of the dataset, cached in ``text/``."""
        from zeroskel.text.class_text import build_class_text, load_class_text, save_class_text
        from zeroskel.text.sideinfo import load_shipped, load_side_info

        path = self.dir / "text" / "class_text.safetensors"
        names = list(self.dataset.class_names)
        if path.exists():
            tensor, _ = load_class_text(path)
            return tensor
        t = self.cfg.text
        si = (load_side_info(t.side_info, names) if t.side_info
              else load_shipped(self.protocol.dataset, names))
        cache = t.cache_dir or str(self.dir / "text" / "cache")
        tensor = build_class_text(si, self.text_encoder, names, source=t.source, cache_dir=cache)
        save_class_text(tensor, names, path, encoder_id=self.text_encoder.id, source=t.source)
        return tensor

    def seed_dir(self, seed: int) -> Path:
        return self.dir / f"seed{seed}"

    def encoder_dir(self, seed: int) -> Path:
        """Where encoders and feature caches live: this run, or the run named by ``reuse``."""
        if not self.cfg.reuse:
            return self.seed_dir(seed)
        other = Run(self.cfg.reuse)
        mine, theirs = to_dict(self.cfg), to_dict(other.cfg)
        for key in ("protocol", "data", "encoder", "extract"):
            if mine[key] != theirs[key]:
                raise RunError(f"reuse={self.cfg.reuse}: its {key} settings differ from this run's")
        if mine["eval"]["validation_encoder"] != theirs["eval"]["validation_encoder"]:
            raise RunError(f"reuse={self.cfg.reuse}: its eval.validation_encoder differs")
        return other.seed_dir(seed)

    def _meta(self) -> dict[str, Any]:
        return {"protocol": self.protocol.name, "dataset": self.protocol.dataset,
                "layout": self.dataset.layout, "class_names": list(self.dataset.class_names),
                "text_encoder": self.cfg.text.encoder, "text_source": self.cfg.text.source,
                "length": self.cfg.data.length, "num_person": self.num_person,
                "align_view": self.cfg.data.align_view}

    def _record(self, seed: int, step: str):
        def on_epoch(history: list[dict[str, Any]]) -> None:
            self._histories[(seed, step)] = list(history)
            self._write_jsonl()
            if self.cfg.tensorboard and is_main_process():
                self._tensorboard(seed, step, history[-1])
        return on_epoch

    def _tensorboard(self, seed: int, step: str, entry: dict[str, Any]) -> None:
        """Scalars of one epoch under ``RUN_DIR/tensorboard/seed<S>/<step>`` (tensorboard=true)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise RunError("tensorboard=true needs the tensorboard package: "
                           "pip install 'zeroskel[tensorboard]'") from e
        key = (seed, step)
        writers = self.__dict__.setdefault("_tb_writers", {})
        if key not in writers:
            writers[key] = SummaryWriter(str(self.dir / "tensorboard" / f"seed{seed}" / step))
        w = writers[key]
        for name, value in entry.items():
            if name != "epoch" and isinstance(value, (int, float)):
                w.add_scalar(name, value, entry["epoch"])
        w.flush()

    def _write_jsonl(self) -> None:
        import json

        from zeroskel.config import atomic_write_text

        lines = [json.dumps({"seed": s, "step": st, **h})
                 for (s, st), hist in sorted(self._histories.items()) for h in hist]
        atomic_write_text(self.dir / "metrics.jsonl", "\n".join(lines) + "\n")

    def _timed(self, seed: int, step: str, fn):
        path = self.seed_dir(seed) / "timings.json"
        timings = read_json(path) if path.exists() else {}
        t0 = time.perf_counter()
        out = fn()
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - t0
        write_json(path, timings)
        return out

    # ----------------------------------------------------------------------------- steps
    def pretrain(self, seed: int) -> None:
        """Main encoder (seen classes) and, unless shared, the validation encoder."""
        def work():
            sp, d = self.splits, self.encoder_dir(seed)
            fit_idx = np.setdiff1d(sp.train, sp.holdout)
            common = dict(seed=seed, num_person=self.num_person, device=self.device,
                          protocol=self.protocol.name)
            pretrain_encoder(self.cfg, self.dataset, fit_idx=fit_idx, val_idx=sp.holdout,
                             classes=sp.seen, out_dir=d / "encoder",
                             on_epoch=self._record(seed, "encoder"), **common)
            if self.cfg.eval.validation_encoder == "separate":
                pretrain_encoder(self.cfg, self.dataset, fit_idx=sp.val_train, val_idx=sp.val_seen,
                                 classes=sp.val_seen_classes, out_dir=d / "val_encoder",
                                 on_epoch=self._record(seed, "val_encoder"), **common)
        self._timed(seed, "pretrain", work)

    def _feature_sets(self, seed: int) -> dict[str, tuple[str, np.ndarray, bool]]:
        sp = self.splits
        val_enc = "val_encoder" if self.cfg.eval.validation_encoder == "separate" else "encoder"
        return {
            "train": ("encoder", sp.train, True),
            "holdout": ("encoder", sp.holdout, False),
            "test_seen": ("encoder", sp.test_seen, False),
            "test_unseen": ("encoder", sp.test_unseen, False),
            "val_train": (val_enc, sp.val_train, True),
            "val_seen": (val_enc, sp.val_seen, False),
            "val_unseen": (val_enc, sp.val_unseen, False),
        }

    def extract(self, seed: int) -> None:
        def work():
            d = self.encoder_dir(seed)
            encoders: dict[str, tuple[torch.nn.Module, dict[str, Any]]] = {}
            for name, (enc, idx, aug) in self._feature_sets(seed).items():
                out = d / "features" / f"{name}.safetensors"
                if out.exists():
                    continue
                if enc not in encoders:
                    path = d / enc / "best.safetensors"
                    if not path.exists():
                        raise RunError(f"{path} missing: run `zeroskel pretrain {self.dir}` first")
                    encoders[enc] = load_encoder(path, self.device)
                extract_features(encoders[enc][0], self.dataset, idx, out,
                                 views=self.cfg.extract.views, train_aug=aug,
                                 length=self.cfg.data.length, num_person=self.num_person,
                                 preprocessing=clip_preprocessing(encoders[enc][1]), seed=seed,
                                 batch_size=self.cfg.extract.batch_size, device=self.device,
                                 show_progress=self.cfg.progress)
        self._timed(seed, "extract", work)

    def _features(self, seed: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.encoder_dir(seed) / "features" / f"{name}.safetensors"
        if not path.exists():
            raise RunError(f"{path} missing: run `zeroskel extract {self.dir}` first")
        return load_features(path)

    def _eval_sets(self, seed: int, prefix: str) -> tuple[torch.Tensor, np.ndarray]:
        fs, ls = self._features(seed, f"{prefix}_seen")
        fu, lu = self._features(seed, f"{prefix}_unseen")
        return torch.cat([fs[0], fu[0]]), torch.cat([ls, lu]).numpy()

    def train(self, seed: int) -> None:
        """Validation head (choose epoch + calibration), then the final head."""
        def work():
            sp, d, cfg = self.splits, self.seed_dir(seed), self.cfg
            text = self.class_text
            meta = {**self._meta(), "seed": seed}
            choice_path = d / "val_head" / "choice.json"
            if not choice_path.exists():
                vf, vl = self._features(seed, "val_train")
                feats, labels = self._eval_sets(seed, "val")
                vs, vu = list(sp.val_seen_classes), list(sp.val_unseen_classes)

                def evaluate(head) -> dict[str, float]:
                    scores = score_features(head, feats, text, self.device)
                    out: dict[str, float] = {}
                    unseen_mask = np.isin(labels, vu)
                    for b, s in scores.items():
                        pred = M.predict(M.restrict(s[unseen_mask], vu), vu)
                        out[f"val_zsl_{b}"] = M.top1(pred, labels[unseen_mask])
                        g = M.best_gamma(s, labels, vs, vu, cfg.eval.gamma_grid)
                        out[f"val_gzsl_{b}_H"], out[f"val_gamma_{b}"] = g.H, g.gamma
                        out[f"val_margin_{b}"] = seen_margin(s[np.isin(labels, vs)], vs, vu)
                    # the epoch is chosen for both settings at once: ZSL accuracy and GZSL H
                    out["val_select"] = (out["val_zsl_fused"] + out["val_gzsl_fused_H"]) / 2
                    return out

                _, res = train_head(cfg, feats=vf, labels=vl, classes=vs, class_text=text,
                                    out_dir=d / "val_head", seed=seed, device=self.device,
                                    meta=meta, evaluate=evaluate, select="val_select",
                                    candidates=vs + vu,
                                    on_epoch=self._record(seed, "val_head"))
                total = head_epochs(cfg, vf.shape[1])
                best = res.best_epoch if cfg.eval.select_epoch else total - 1
                chosen = res.history[best]
                write_json(choice_path, {
                    "epoch": best, "epochs": total, "fraction": (best + 1) / total,
                    "gamma": {b: chosen[f"val_gamma_{b}"] for b in ("spatial", "temporal", "fused")
                              if f"val_gamma_{b}" in chosen},
                    "margin": {b: chosen[f"val_margin_{b}"] for b in ("spatial", "temporal", "fused")
                               if f"val_margin_{b}" in chosen},
                    "val_metrics": {k: v for k, v in chosen.items() if k.startswith("val_")},
                    "history": res.history,
                })
                (d / "val_head" / "state.pt").unlink(missing_ok=True)
            choice = read_json(choice_path)
            if not (d / "head" / "result.json").exists():
                # the final head trains on the seen classes' train clips except the held-out ones,
                # which stay unseen by both encoder and head and serve the calibration below
                tf, tl = self._features(seed, "train")
                keep = ~np.isin(self._feature_indices(seed, "train"), sp.holdout)
                tf, tl = tf[:, torch.from_numpy(keep)], tl[torch.from_numpy(keep)]
                total = head_epochs(cfg, tf.shape[1])
                stop = max(0, min(total - 1, round(choice["fraction"] * total) - 1))
                path, res = train_head(cfg, feats=tf, labels=tl, classes=sp.seen, class_text=text,
                                       out_dir=d / "head", seed=seed, device=self.device,
                                       meta={**meta, "seen": list(map(int, sp.seen)),
                                             "unseen": list(map(int, sp.unseen))},
                                       evaluate=None, select=None, stop_after=stop,
                                       on_epoch=self._record(seed, "head"))
                gamma = self._transfer_gamma(seed, path, choice)
                write_json(d / "head" / "result.json", {"epoch": res.best_epoch, "epochs": total,
                                                        "seconds": res.seconds, "gamma": gamma,
                                                        "history": res.history})
                (d / "head" / "state.pt").unlink(missing_ok=True)
        self._timed(seed, "train", work)

    def _feature_indices(self, seed: int, name: str) -> np.ndarray:
        tensors, _ = load_tensors(self.encoder_dir(seed) / "features" / f"{name}.safetensors")
        return tensors["indices"].numpy()

    def _transfer_gamma(self, seed: int, head_path: Path, choice: dict[str, Any]) -> dict[str, Any]:
        """The GZSL calibration factor of the final head, from the validation protocol's.

        ``eval.gamma_transfer=raw`` uses the validation factor as is. ``margin`` (default) rescales
        it by how far the final head's seen-class scores lead its unseen-class scores on held-out
        seen clips, relative to the same lead of the validation head on its seen clips (medians):
        two heads trained on different classes and data score on different scales. Neither reads
        test data; the factors are written into the head checkpoint.
        """
        sp = self.splits
        val_gamma = dict(choice["gamma"])
        gamma = dict(val_gamma)
        margins: dict[str, float] = {}
        if self.cfg.eval.gamma_transfer == "margin":
            head, _ = load_head(head_path, self.device)
            feats, _ = self._features(seed, "holdout")
            scores = score_features(head, feats[0], self.class_text, self.device)
            seen, unseen = list(map(int, sp.seen)), list(map(int, sp.unseen))
            for b, s in scores.items():
                margins[b] = seen_margin(s, seen, unseen)
                ref = choice.get("margin", {}).get(b)
                if ref is not None and ref > 0 and margins[b] > 0 and b in gamma:
                    gamma[b] = val_gamma[b] * margins[b] / ref
        elif self.cfg.eval.gamma_transfer != "raw":
            raise RunError(f"eval.gamma_transfer must be 'margin' or 'raw', got "
                           f"{self.cfg.eval.gamma_transfer!r}")
        weights, meta = load_tensors(head_path)
        meta.update({"gamma": gamma, "gamma_validation": val_gamma, "holdout_margin": margins,
                     "gamma_transfer": self.cfg.eval.gamma_transfer})
        save_tensors(head_path, weights, meta)
        return {"gamma": gamma, "validation": val_gamma, "holdout_margin": margins}

    def evaluate(self, seed: int) -> dict[str, Any]:
        """Test metrics of one seed (the only step that reads the test split)."""
        def work():
            sp, d = self.splits, self.seed_dir(seed)
            head_path = d / "head" / "best.safetensors"
            if not head_path.exists():
                raise RunError(f"{head_path} missing: run `zeroskel train {self.dir}` first")
            head, meta = load_head(head_path, self.device)
            feats, labels = self._eval_sets(seed, "test")
            scores = score_features(head, feats, self.class_text, self.device)
            seen, unseen = list(map(int, sp.seen)), list(map(int, sp.unseen))
            names = self.dataset.class_names
            um = np.isin(labels, unseen)
            zsl, preds = {}, {}
            for b, s in scores.items():
                preds[b] = M.predict(M.restrict(s[um], unseen), unseen)
                zsl[b] = M.top1(preds[b], labels[um])
            if "spatial" in preds and "temporal" in preds:
                either = (preds["spatial"] == labels[um]) | (preds["temporal"] == labels[um])
                zsl["either_branch"] = float(100.0 * either.mean())
            gamma = meta.get("gamma", {})
            gz = {b: M.gzsl(s, labels, seen, unseen, float(gamma.get(b, 0.0))).as_dict()
                  for b, s in scores.items()}
            gpred = M.predict(
                np.where(np.isin(np.arange(len(names)), seen), -float(gamma.get("fused", 0.0)), 0.0)
                + scores["fused"], seen + unseen)
            result = {"seed": seed, "zsl": zsl, "gzsl": gz, "head_epoch": meta.get("epoch"),
                      "num_test_seen": int((~um).sum()), "num_test_unseen": int(um.sum())}
            write_json(d / "eval.json", result)
            write_json(d / "per_class.json", {
                "zsl_fused": {names[c]: a for c, a in
                              M.per_class_accuracy(preds["fused"], labels[um], unseen).items()},
                "gzsl_fused": {names[c]: a for c, a in
                               M.per_class_accuracy(gpred, labels, seen + unseen).items()},
            })
            write_json(d / "confusion.json", {
                "zsl_fused": {"classes": [names[c] for c in unseen],
                              "matrix": M.confusion(preds["fused"], labels[um], unseen)},
                "gzsl_fused": {"classes": [names[c] for c in seen + unseen],
                               "matrix": M.confusion(gpred, labels, seen + unseen)},
            })
            np.savez_compressed(d / "test_scores.npz", labels=labels,
                                **{f"scores_{b}": s for b, s in scores.items()})
            return result
        return self._timed(seed, "evaluate", work)

    # ----------------------------------------------------------------------------- whole job
    def run_seed(self, seed: int, steps: tuple[str, ...] = STEPS) -> None:
        for step in steps:
            LOG.info("seed %d: %s", seed, step)
            getattr(self, step)(seed)

    def run(self, steps: tuple[str, ...] = STEPS, *, summarize: bool = True) -> dict[str, Any]:
        main = is_main_process()
        setup_logging(self.dir / "log.txt" if main else None, verbose=main)
        t0 = time.perf_counter()
        for seed in self.cfg.seeds:
            self.run_seed(seed, steps)
        if not summarize:
            return {}
        summary = self.summarize()
        LOG.info("done in %.1f s: ZSL fused %.1f +- %.1f, GZSL H %.1f", time.perf_counter() - t0,
                 summary["zsl"]["fused"]["mean"], summary["zsl"]["fused"]["std"],
                 summary["gzsl"]["fused"]["H"]["mean"])
        export_bundle(self.dir)
        return summary

    def encoder_supervised(self, seed: int) -> dict[str, Any]:
        """The encoder diagnostic of one seed: top-1 (%) of the main encoder's own classifier on the
        test split's seen-class clips and on the holdout, cached in ``seed<S>/encoder_supervised.json``.

        A diagnostic of how good the frozen features are, never used for a choice (the encoder's
        checkpoint is chosen on the holdout during pre-training, so its holdout figure is optimistic).
        """
        path = self.seed_dir(seed) / "encoder_supervised.json"
        if path.exists():
            return read_json(path)
        enc = self.encoder_dir(seed) / "encoder" / "best.safetensors"
        if not enc.exists():
            raise RunError(f"{enc} missing: run `zeroskel pretrain {self.dir}` first")
        sp = self.splits
        result = {name: supervised_accuracy(enc, self.dataset, idx, self.device)
                  for name, idx in (("test_seen", sp.test_seen), ("holdout", sp.holdout))}
        write_json(path, result)
        return result

    def summarize(self) -> dict[str, Any]:
        """``metrics.json``: mean, std and per-seed values of every metric, plus timings."""
        evals = []
        for seed in self.cfg.seeds:
            path = self.seed_dir(seed) / "eval.json"
            if not path.exists():
                raise RunError(f"{path} missing: run `zeroskel evaluate {self.dir}` first")
            evals.append(read_json(path))
        zsl = {k: M.summarize([e["zsl"][k] for e in evals]) for k in evals[0]["zsl"]}
        gzsl = {b: {m: M.summarize([e["gzsl"][b][m] for e in evals]) for m in ("S", "U", "H", "gamma")}
                for b in evals[0]["gzsl"]}
        sup = [self.encoder_supervised(seed) for seed in self.cfg.seeds]
        supervised = {k: M.summarize([s[k]["top1"] for s in sup]) for k in ("test_seen", "holdout")}
        seconds: dict[str, float] = {}
        for seed in self.cfg.seeds:
            path = self.seed_dir(seed) / "timings.json"
            for k, v in (read_json(path) if path.exists() else {}).items():
                seconds[k] = seconds.get(k, 0.0) + v
        summary = {
            "protocol": self.protocol.name, "dataset": self.protocol.dataset,
            "method": self.cfg.head.name, "variant": self.cfg.head.variant,
            "encoder": {"name": self.cfg.encoder.name, "width": self.cfg.encoder.base_channels,
                        "streams": list(self.cfg.data.streams), "supervised": supervised},
            "encoder_width": self.cfg.encoder.base_channels,
            "text_encoder": self.cfg.text.encoder, "text_source": self.cfg.text.source,
            "seeds": list(self.cfg.seeds), "zsl": zsl, "gzsl": gzsl, "seconds": seconds,
            "notes": {
                "fused": "one prediction per sample from the mean of both branches' scores (headline)",
                "either_branch": "the Neuron paper's metric: a sample counts if either branch is right",
                "gamma": "calibration factor chosen on the validation protocol, never on test",
                "encoder.supervised": "top-1 of the encoder's own classifier on seen-class clips of the "
                                      "test split and of the holdout: a diagnostic, never used for a "
                                      "choice (the holdout also chose the encoder's epoch)",
            },
        }
        write_json(self.dir / "metrics.json", summary)
        return summary
