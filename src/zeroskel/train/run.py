"""The main job: pre-train -> extract -> train -> evaluate, per seed, in one run directory.

    zeroskel run --protocol utd-f1 --data-root ../shared/data/utd_mhad --out runs/utd-f1 --seeds 3

Layout of a run directory::

    config.yaml          resolved config (every later step reads it)
    env.json             versions, device, threads
    log.txt              the log
    metrics.jsonl        one line per epoch of every training step (seed, step, epoch, ...), kept
                         across --resume
    run.lock             held (flock) by the process working on the run; names its pid and host
    metrics.json         the final numbers: mean, std and per-seed values
    text/                class-text tensor and the embedding cache
    seed<S>/encoder/     main encoder: best.safetensors (+ metadata), result.json
    seed<S>/val_encoder/d<K>/  encoder of validation draw K (its pseudo-seen classes, the training
                         subjects it does not hold out) + draw.json (classes, subjects, counts)
    seed<S>/features/    cached feature maps (float16); val_d<K>_{train,seen,unseen} per draw
    seed<S>/val_head/d<K>/  head of validation draw K: history.json (per-epoch validation metrics)
    seed<S>/val_head/choice.json  epoch fraction and calibration chosen from the draws' mean curve
    seed<S>/head/        final head: best.safetensors (+ metadata: classes, gamma, ...)
    seed<S>/eval.json    test metrics (branches, fused, every phase, either_branch); per_class.json,
                         confusion.json; health.json (Neuron: prototype health before/after training)

Honesty rules (see docs/protocols.md): the encoder is pre-trained on seen classes and its
checkpoint chosen on held-out seen-class clips of the train split; the head's epoch and the GZSL
calibration factor come from ``eval.val_draws`` draws of the validation protocol (seen classes
of the train split only, some held out as pseudo-unseen, one training subject held out per draw;
see ``zeroskel.train.selection``); the test split is touched once, by ``evaluate``.
"""
from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zeroskel.config import save_config, to_dict
from zeroskel.train import metrics as M
from zeroskel.train.features import extract_features, load_features, map_tensors
from zeroskel.train.head import BRANCHES, head_epochs, load_head, score_features, train_head
from zeroskel.train.io import load_tensors, read_json, save_tensors, write_json
from zeroskel.train.plan import Stage, StageClock
from zeroskel.train.pretrain import (clip_preprocessing, load_encoder, pretrain_encoder,
                                     supervised_accuracy, validation_seen)
from zeroskel.train.run_config import RunConfig, load_run_config
from zeroskel.train.runtime import (LOG, environment, is_main_process, resolve_device,
                                     setup_logging)
from zeroskel.train.selection import combine_draws, seen_margin, validation_metrics

STEPS = ("pretrain", "extract", "train", "evaluate")
_HELD_LOCKS: set[str] = set()  # run directories this process holds the lock of
MULTI_PERSON = {"ntu60", "ntu120", "pku-mmd"}


class RunError(RuntimeError):
    pass


class Run:
    """A run directory and the steps that fill it."""

    _in_worker = False  # True in a worker process of zeroskel.train.parallel
    _later_steps: tuple[str, ...] = ()  # the steps run_seed runs after the current one

    def __init__(self, run_dir: str | Path, cfg: RunConfig | None = None) -> None:
        self.dir = Path(run_dir)
        if cfg is None:
            path = self.dir / "config.yaml"
            if not path.exists():
                raise RunError(f"{self.dir}: not a run directory (no config.yaml); start one with "
                               "`zeroskel run`")
            cfg = load_run_config(path)
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        self._histories: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._clock: StageClock | None = None  # set by run(): the stage counter of its plan
        # held by train.parallel: the worker pool ((workers, threads), executor) and whether the
        # steps inside Run.run_seed keep it from one step to the next (parallel.kept_pool)
        self._pool: tuple[tuple[int, int], Any] | None = None
        self._keep_pool = False
        self._tb_writers: dict[tuple[int, str], Any] = {}  # per (seed, step): the TensorBoard writers opened
        self._draw_cache: dict[int, list] = {}  # per seed: its validation draws, computed once

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
            saved = load_run_config(cfg_path)
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
            with warnings.catch_warnings():  # the reader warns of each skipped sample; logged once below
                warnings.filterwarnings("ignore", message=r".*: skipping ", category=UserWarning)
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
    def temporal_text(self) -> str:
        """Which text fills the temporal class-text slots: the head's (``text.temporal=auto``) or the
        configured one; a precomputed class-text table brings its own."""
        from zeroskel.train.head import head_temporal_text

        mode = self.cfg.text.temporal
        if mode == "auto":
            mode = head_temporal_text(self.cfg)
        if mode not in ("phase", "cumulative"):
            raise RunError(f"text.temporal must be auto, phase or cumulative, got {mode!r}")
        return mode

    @cached_property
    def class_text(self) -> torch.Tensor:
        """(P, K_all, N_a, D) for every class of the dataset, cached in ``text/``."""
        from zeroskel.text.class_text import (ClassTextTable, build_class_text, load_class_text,
                                              save_class_text)
        from zeroskel.text.sideinfo import load_shipped, load_side_info

        path = self.dir / "text" / "class_text.safetensors"
        names = list(self.dataset.class_names)
        t = self.cfg.text
        if path.exists():
            tensor, meta = load_class_text(path)
            if meta.get("temporal") == self._text_mode() or t.encoder.startswith("precomputed:"):
                return tensor  # (a precomputed table brings its own mode)
        enc = self.text_encoder
        if isinstance(enc, ClassTextTable):
            if enc.temporal != self.temporal_text:
                LOG.warning("the precomputed class text %s holds %s temporal text; the head scores against %s "
                            "text (text.temporal=%s)", t.encoder, enc.temporal, self.temporal_text, t.temporal)
            si, mode = None, enc.temporal
        else:
            if not t.side_info:
                si = load_shipped(self.protocol.dataset, names)
            elif Path(t.side_info).is_dir():  # a folder of <dataset>.json files, like the shipped one
                si = load_shipped(self.protocol.dataset, names, directory=t.side_info)
            else:
                si = load_side_info(t.side_info, names)
            mode = self._text_mode()
        cache = t.cache_dir or str(self.dir / "text" / "cache")
        tensor = build_class_text(si, enc, names, source=t.source, cache_dir=cache,
                                  temporal=mode if si is not None else None)
        save_class_text(tensor, names, path, encoder_id=enc.id, source=t.source, temporal=mode)
        return tensor

    def _text_mode(self) -> str:
        """The temporal mode of the class text this run builds: the head's for side information, else
        ``phase`` (the other sources have one text per class, the same in every window)."""
        return self.temporal_text if self.cfg.text.source == "side-info" else "phase"

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
        for key in ("validation_encoder", "val_draws", "val_subjects"):
            if mine["eval"][key] != theirs["eval"][key]:
                raise RunError(f"reuse={self.cfg.reuse}: its eval.{key} differs")
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
        writers = self._tb_writers
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

        if self._in_worker:
            return  # a worker process (``jobs``): the main process writes what the stage returns

        if not getattr(self, "_jsonl_loaded", False):  # steps an earlier process ran (before --resume)
            self._jsonl_loaded = True
            path = self.dir / "metrics.jsonl"
            earlier: dict[tuple[int, str], list[dict[str, Any]]] = {}
            for line in (path.read_text(encoding="utf-8").splitlines() if path.exists() else []):
                try:
                    entry = json.loads(line)
                    key = (int(entry.pop("seed")), str(entry.pop("step")))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line this code did not write
                earlier.setdefault(key, []).append(entry)
            for key, hist in earlier.items():
                self._histories.setdefault(key, hist)  # this process's history of a step wins (it resumed it)
        lines = [json.dumps({"seed": s, "step": st, **h})
                 for (s, st), hist in sorted(self._histories.items()) for h in hist]
        atomic_write_text(self.dir / "metrics.jsonl", "\n".join(lines) + "\n")

    @contextmanager
    def locked(self):
        """Hold ``RUN_DIR/run.lock`` (an exclusive ``flock``, released by the OS even on kill -9) while
        working on the run; RunError naming the holder when another process has it (two processes
        training one run directory would overwrite each other's files). Re-entrant in one process."""
        key = str(self.dir.resolve())
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            fcntl = None
        if fcntl is None or key in _HELD_LOCKS or not is_main_process():
            yield
            return
        import os
        import socket

        path = self.dir / "run.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RunError(f"{self.dir} is in use by {holder} (lock {path}); wait for it to finish or "
                           "stop it, then run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        _HELD_LOCKS.add(key)
        try:
            yield
        finally:
            _HELD_LOCKS.discard(key)
            os.close(fd)

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
        """Main encoder (seen classes) and, unless shared, the validation encoders; side by side in
        worker processes when ``jobs`` allows (see :mod:`zeroskel.train.parallel`)."""
        from zeroskel.train.parallel import Job, run_jobs

        def work():
            # in a worker, an encoder's features are extracted as soon as it is trained, and the class
            # text is embedded by a worker that would otherwise wait, when the run goes on to those steps
            ahead = {"extract": "extract" in self._later_steps}
            d = self.encoder_dir(seed)
            trained = lambda out: (out / "result.json", out / "best.safetensors")  # pretrain_encoder's "done"
            jobs = [Job("encoder", "_pretrain_main", (seed,), trained(d / "encoder"), ahead)]
            if self.cfg.eval.validation_encoder == "separate":
                jobs += [Job(f"validation encoder d{v.draw}", "_pretrain_draw", (seed, v.draw),
                             trained(d / "val_encoder" / f"d{v.draw}"), ahead) for v in self._val_draws(seed)]
            if "train" in self._later_steps:
                jobs.append(Job("class text", "_class_text_job", (),
                                (self.dir / "text" / "class_text.safetensors",), background=True))
                jobs += self._heads_ahead(seed, [j.name for j in jobs])
            run_jobs(self, seed, jobs)
        self._timed(seed, "pretrain", work)

    def _heads_ahead(self, seed: int, encoders: list[str]) -> list:
        """Train-step jobs that workers run as soon as their inputs exist, when the run goes on to
        extract and train with worker processes: each validation head after its encoder, and the
        final head over its whole schedule (``_final_head_ahead``) after the main encoder, so that
        no worker waits for the other's last encoder (README job: the critical path was two
        validation encoders, a validation head and the final head, one after another)."""
        from zeroskel.train.parallel import Job, plan_workers

        if "extract" not in self._later_steps or plan_workers(
                self.cfg.jobs, self.cfg.num_threads, self.device, len(encoders))[0] == 1:
            return []
        d = self.seed_dir(seed)
        jobs = []
        if not (d / "val_head" / "choice.json").exists():
            for v in self._val_draws(seed):
                enc = f"validation encoder d{v.draw}"
                enc = enc if enc in encoders else "encoder"  # validation_encoder=shared: the main one
                jobs.append(Job(f"validation head d{v.draw}", "_val_head_draw", (seed, v.draw),
                                (d / "val_head" / f"d{v.draw}" / "history.json",), after=(enc, "class text")))
        if not (d / "head" / "result.json").exists():
            jobs.append(Job("final head", "_final_head_ahead", (seed,),
                            (d / "head_ahead" / "epochs.safetensors",), after=("encoder", "class text")))
        return jobs

    def _encoder_common(self, seed: int) -> dict[str, Any]:
        return dict(seed=seed, num_person=self.num_person, device=self.device, protocol=self.protocol.name)

    def _pretrain_main(self, seed: int, extract: bool = False) -> None:
        sp, d = self.splits, self.encoder_dir(seed)
        pretrain_encoder(self.cfg, self.dataset, fit_idx=np.setdiff1d(sp.train, sp.holdout), val_idx=sp.holdout,
                         classes=sp.seen, out_dir=d / "encoder", on_epoch=self._record(seed, "encoder"),
                         **self._encoder_common(seed))
        if extract:
            self._extract_sets(seed, "encoder")

    def _pretrain_draw(self, seed: int, draw: int, extract: bool = False) -> None:
        v = self._val_draws(seed)[draw]
        out = self.encoder_dir(seed) / "val_encoder" / f"d{v.draw}"
        self._check_draw(out, v)
        pretrain_encoder(self.cfg, self.dataset, fit_idx=v.val_train, val_idx=v.val_seen,
                         classes=v.val_seen_classes, out_dir=out,
                         on_epoch=self._record(seed, f"val_encoder/d{v.draw}"), **self._encoder_common(seed))
        if extract:
            self._extract_sets(seed, f"val_encoder/d{v.draw}")

    def _class_text_job(self) -> None:
        self.class_text  # built and cached in text/, where the train step reads it

    def _val_draws(self, seed: int):
        """The ``eval.val_draws`` draws of the validation protocol of ``seed``."""
        from zeroskel.data.protocols import validation_draw

        n, k = self.cfg.eval.val_draws, self.cfg.eval.val_subjects
        if n < 1 or k < 1:
            raise RunError(f"eval.val_draws and eval.val_subjects must be >= 1, got {n} and {k}")
        cache = self._draw_cache
        if seed not in cache:
            cache[seed] = [validation_draw(self.dataset, self.splits, split_seed=self.cfg.data.split_seed,
                                           seed=seed, draw=i, num_subjects=k) for i in range(n)]
        return cache[seed]

    def _check_draw(self, out: Path, v) -> None:
        """Record draw ``v`` in ``out/draw.json``; refuse a folder made for another draw (honesty:
        a validation model must never have trained on the draw's pseudo-unseen classes)."""
        path = out / "draw.json"
        want = v.describe()
        if path.exists():
            have = read_json(path)
            if have != want:
                raise RunError(f"{path}: made for another validation draw ({have.get('val_unseen_classes')} "
                               f"pseudo-unseen, subjects {have.get('held_out_subjects')}); delete {out} "
                               "to redo it")
            return
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, want)

    def _feature_sets(self, seed: int) -> dict[str, tuple[str, np.ndarray, bool]]:
        sp = self.splits
        sets = {
            "train": ("encoder", sp.train, True),
            "holdout": ("encoder", sp.holdout, False),
            "test_seen": ("encoder", sp.test_seen, False),
            "test_unseen": ("encoder", sp.test_unseen, False),
        }
        separate = self.cfg.eval.validation_encoder == "separate"
        for v in self._val_draws(seed):
            enc = f"val_encoder/d{v.draw}" if separate else "encoder"
            sets[f"val_d{v.draw}_train"] = (enc, v.val_train, True)
            sets[f"val_d{v.draw}_seen"] = (enc, v.val_seen, False)
            sets[f"val_d{v.draw}_unseen"] = (enc, v.val_unseen, False)
        return sets

    def extract(self, seed: int) -> None:
        @self._staged(seed, "features")
        def work():
            self._extract_sets(seed)
        self._timed(seed, "extract", work)

    def _extract_sets(self, seed: int, encoder: str | None = None) -> None:
        """The feature files of ``seed`` not yet written (only those of ``encoder``, if given)."""
        d = self.encoder_dir(seed)
        encoders: dict[str, tuple[torch.nn.Module, dict[str, Any]]] = {}
        for name, (enc, idx, aug) in self._feature_sets(seed).items():
            out = d / "features" / f"{name}.safetensors"
            if out.exists() or (encoder is not None and enc != encoder):
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
        """Validation heads (one per draw, side by side when ``jobs`` allows; choose epoch +
        calibration), then the final head."""
        from zeroskel.train.parallel import Job, run_jobs

        def work():
            d, cfg = self.seed_dir(seed), self.cfg
            choice_path = d / "val_head" / "choice.json"
            if not choice_path.exists():
                draws = self._val_draws(seed)
                self.class_text  # built (and cached in text/) once, before any worker reads it
                run_jobs(self, seed, [Job(f"validation head d{v.draw}", "_val_head_draw", (seed, v.draw),
                                          (d / "val_head" / f"d{v.draw}" / "history.json",)) for v in draws])
                histories = [self._val_head(seed, v) for v in draws]  # read back from history.json
                e = cfg.eval
                choice = combine_draws(histories, key="val_select", min_fraction=e.min_fraction,
                                       smooth_fraction=e.smooth_fraction, select_epoch=e.select_epoch)
                choice["draws"] = [v.describe() for v in draws]
                write_json(choice_path, choice)
            choice = read_json(choice_path)
            if not (d / "head" / "result.json").exists():
                self._final_head(seed, choice)
        self._timed(seed, "train", work)

    def _final_head_inputs(self, seed: int) -> dict[str, Any]:
        """What the final head trains on: the seen classes' train clips except the held-out ones,
        which stay unseen by both encoder and head and serve the calibration (``_transfer_gamma``)."""
        sp = self.splits
        tf, tl = self._features(seed, "train")
        keep = ~np.isin(self._feature_indices(seed, "train"), sp.holdout)
        rows = np.nonzero(keep)[0]  # train on these rows of the (memory-mapped) file
        meta = {**self._meta(), "seed": seed, "seen": list(map(int, sp.seen)), "unseen": list(map(int, sp.unseen))}
        return dict(feats=tf, labels=tl, classes=sp.seen, class_text=self.class_text, rows=rows, seed=seed,
                    device=self.device, meta=meta, evaluate=None, select=None)

    def _final_head_ahead(self, seed: int) -> None:
        """The final head over its whole schedule, every epoch's weights kept (``head_ahead/``), while
        the validation heads that choose its epoch are still training (a worker that would wait
        runs it; ``_final_head`` then takes the chosen epoch instead of training)."""
        import shutil

        out = self.seed_dir(seed) / "head_ahead"  # scheduled only while head/result.json is missing
        shutil.rmtree(out, ignore_errors=True)  # an interrupted one starts over (it keeps every epoch)
        train_head(self.cfg, out_dir=out, keep_epochs=out / "epochs.safetensors", **self._final_head_inputs(seed))
        (out / "state.pt").unlink(missing_ok=True)

    def _final_head(self, seed: int, choice: dict[str, Any]) -> None:
        """The final head, stopped at the epoch fraction ``choice`` (validation) picked: trained now,
        or taken from the epochs ``_final_head_ahead`` kept."""
        import shutil

        d, cfg = self.seed_dir(seed), self.cfg
        inputs = self._final_head_inputs(seed)
        total = head_epochs(cfg, len(inputs["rows"]))
        stop = max(0, min(total - 1, round(choice["fraction"] * total) - 1))
        kept = d / "head_ahead" / "epochs.safetensors"
        path = d / "head" / "best.safetensors"
        if kept.exists():
            stacked, meta = load_tensors(kept)
            history = meta.pop("history")
            if len(history) != total:
                raise RunError(f"{kept}: {len(history)} epochs kept, the final head has {total}; delete "
                               f"{kept.parent} and resume")
            (d / "head").mkdir(parents=True, exist_ok=True)
            meta.pop("seconds", None)
            history = history[: stop + 1]
            save_tensors(path, {k: v[stop].clone() for k, v in stacked.items()}, {**meta, "epoch": stop, "metrics": {
                k: v for k, v in history[-1].items() if isinstance(v, (int, float))}})
            self._record(seed, "head")(history)
            best_epoch, seconds = stop, float(sum(h["seconds"] for h in history))
        else:
            with self._stage(seed, "final head"):
                path, res = train_head(cfg, out_dir=d / "head", stop_after=stop,
                                       on_epoch=self._record(seed, "head"), **inputs)
            best_epoch, seconds, history = res.best_epoch, res.seconds, res.history
        gamma = self._transfer_gamma(seed, path, choice)
        write_json(d / "head" / "result.json", {"epoch": best_epoch, "epochs": total, "seconds": seconds,
                                                "gamma": gamma, "history": history})
        (d / "head" / "state.pt").unlink(missing_ok=True)
        shutil.rmtree(d / "head_ahead", ignore_errors=True)

    def _val_head_draw(self, seed: int, draw: int) -> None:
        self._val_head(seed, self._val_draws(seed)[draw])

    def _val_head(self, seed: int, v) -> list[dict[str, Any]]:
        """Train (or read back) the validation head of draw ``v``; its per-epoch history."""
        d, cfg = self.seed_dir(seed) / "val_head" / f"d{v.draw}", self.cfg
        done = d / "history.json"
        self._check_draw(d, v)
        if done.exists():
            return read_json(done)["history"]
        text = self.class_text
        vf, vl = self._features(seed, f"val_d{v.draw}_train")
        feats, labels = self._eval_sets(seed, f"val_d{v.draw}")
        vs, vu = list(v.val_seen_classes), list(v.val_unseen_classes)

        def evaluate(head) -> dict[str, float]:
            scores = score_features(head, feats, text, self.device)
            return validation_metrics(scores, labels, vs, vu, cfg.eval.gamma_grid, cfg.eval.select)

        _, res = train_head(cfg, feats=vf, labels=vl, classes=vs, class_text=text, out_dir=d,
                            seed=seed, device=self.device, meta={**self._meta(), "seed": seed},
                            evaluate=evaluate, select="val_select", candidates=vs + vu,
                            on_epoch=self._record(seed, f"val_head/d{v.draw}"))
        write_json(done, {"draw": v.describe(), "history": res.history})
        (d / "state.pt").unlink(missing_ok=True)
        return res.history

    def _feature_indices(self, seed: int, name: str) -> np.ndarray:
        tensors = map_tensors(self.encoder_dir(seed) / "features" / f"{name}.safetensors")
        return tensors["indices"].numpy().copy()

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
        @self._staged(seed, "test clips")
        def work():
            sp, d = self.splits, self.seed_dir(seed)
            head_path = d / "head" / "best.safetensors"
            if not head_path.exists():
                raise RunError(f"{head_path} missing: run `zeroskel train {self.dir}` first")
            head, meta = load_head(head_path, self.device)
            if meta.get("model") == "neuron":
                write_json(d / "health.json", self._health(seed, head, meta))
            feats, labels = self._eval_sets(seed, "test")
            scores = score_features(head, feats, self.class_text, self.device, phases=True)
            seen, unseen = list(map(int, sp.seen)), list(map(int, sp.unseen))
            names = self.dataset.class_names
            um = np.isin(labels, unseen)
            zsl, preds = {}, {}
            for b, s in scores.items():  # the branches, fused, and each phase of a branch
                preds[b] = M.predict(M.restrict(s[um], unseen), unseen)
                zsl[b] = M.top1(preds[b], labels[um])
            if "spatial" in preds and "temporal" in preds:
                # the official metric: a clip counts when the spatial or the temporal prediction is right
                either = (preds["spatial"] == labels[um]) | (preds["temporal"] == labels[um])
                zsl["either_branch"] = float(100.0 * either.mean())
            scores = {b: s for b, s in scores.items() if b in BRANCHES}
            gamma = meta.get("gamma", {})
            gz = {b: M.gzsl(s, labels, seen, unseen, float(gamma.get(b, 0.0))).as_dict()
                  for b, s in scores.items()}
            gpred = M.predict(
                np.where(np.isin(np.arange(len(names)), seen), -float(gamma.get("fused", 0.0)), 0.0)
                + scores["fused"], seen + unseen)
            result = {"seed": seed, "zsl": zsl, "gzsl": gz, "head_epoch": meta.get("epoch"),
                      "num_test_seen": int((~um).sum()), "num_test_unseen": int(um.sum())}
            if getattr(head, "gzsl_gating", False):  # SynSE's gate, fitted on the validation protocol
                from zeroskel.train.gating import run_gate

                gate = run_gate(self, seed, scores["fused"], labels, seen, unseen)
                if gate is not None:
                    result["gzsl_gating"] = gate
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

    def _health(self, seed: int, head: torch.nn.Module, meta: dict[str, Any]) -> dict[str, Any]:
        """Prototype health (``zeroskel.models.neuron.prototype_health``) of the final head and of the
        same head at initialisation, on the held-out seen-class clips of the train split."""
        from zeroskel.train.io import build_model
        from zeroskel.models.neuron import prototype_health

        feats, _ = self._features(seed, "holdout")
        torch.manual_seed(seed)  # train_head's initialisation
        init = build_model(meta).to(self.device)
        return {"clips": "holdout (seen classes, train split)",
                "before": prototype_health(init, feats[0]), "after": prototype_health(head, feats[0])}

    # ----------------------------------------------------------------------------- plan
    def plan(self, steps: tuple[str, ...] = STEPS) -> list[Stage]:
        """The stages ``run(steps)`` goes through, with their clips and epochs (as the steps compute
        them: encoder and head epochs stretched to ``min_steps`` updates)."""
        from zeroskel.train.runtime import scaled_epochs

        cfg, sp = self.cfg, self.splits
        n_fit = len(np.setdiff1d(sp.train, sp.holdout))
        enc_epochs = (lambda n: 0) if cfg.encoder.pretrained_only else (
            lambda n: scaled_epochs(cfg.encoder.epochs, cfg.encoder.min_steps, max(1, n // cfg.encoder.batch_size)))
        out: list[Stage] = []
        for seed in cfg.seeds:
            draws = self._val_draws(seed)
            if "pretrain" in steps:
                out.append(Stage(seed, "pretrain", "encoder", "encoder", n_fit, enc_epochs(n_fit)))
                if cfg.eval.validation_encoder == "separate":
                    out += [Stage(seed, "pretrain", f"validation encoder d{v.draw}", "encoder", len(v.val_train),
                                  enc_epochs(len(v.val_train))) for v in draws]
            if "extract" in steps:
                views = cfg.extract.views
                clips = sum(len(idx) * (views if aug else 1) for _, idx, aug in self._feature_sets(seed).values())
                out.append(Stage(seed, "extract", "features", "extract", clips))
            if "train" in steps:
                out += [Stage(seed, "train", f"validation head d{v.draw}", "head", len(v.val_train),
                              head_epochs(cfg, len(v.val_train))) for v in draws]
                out.append(Stage(seed, "train", "final head", "head", n_fit, head_epochs(cfg, n_fit), "up to"))
            if "evaluate" in steps:
                out.append(Stage(seed, "evaluate", "test clips", "evaluate", len(sp.test_seen) + len(sp.test_unseen)))
        return out

    @contextmanager
    def _stage(self, seed: int, name: str):
        """Log ``stage i/N ... ETA`` when ``run()`` planned this stage; time it for the ETA."""
        token = self._stage_started(seed, name)
        t0 = time.perf_counter()
        yield
        self._stage_finished(token, time.perf_counter() - t0)

    def _stage_started(self, seed: int, name: str) -> int | None:
        """Log the start of a planned stage; its index for ``_stage_finished`` (None: not planned).
        Split from ``_stage`` for the stages a worker process runs (``jobs``)."""
        i = self._clock.index(seed, name) if self._clock is not None else None
        if i is not None:
            LOG.info("%s", self._clock.start(i))
        return i

    def _stage_finished(self, token: int | None, seconds: float) -> None:
        if token is not None:
            self._clock.finish(token, seconds)

    def _staged(self, seed: int, name: str):
        """``_stage`` as a decorator of a step's ``work`` function."""
        def wrap(fn):
            def inner():
                with self._stage(seed, name):
                    return fn()
            return inner
        return wrap

    # ----------------------------------------------------------------------------- whole job
    def run_seed(self, seed: int, steps: tuple[str, ...] = STEPS) -> None:
        from zeroskel.train.parallel import kept_pool

        with kept_pool(self):  # one set of worker processes (jobs) for all the seed's steps
            for i, step in enumerate(steps):
                LOG.info("seed %d: %s", seed, step)
                self._later_steps = tuple(steps[i + 1:])  # what a step may prepare ahead (see pretrain)
                try:
                    getattr(self, step)(seed)
                finally:
                    self._later_steps = ()

    def run(self, steps: tuple[str, ...] = STEPS, *, summarize: bool = True) -> dict[str, Any]:
        with self.locked():
            return self._run_steps(steps, summarize=summarize)

    def _run_steps(self, steps: tuple[str, ...], *, summarize: bool) -> dict[str, Any]:
        main = is_main_process()
        setup_logging(self.dir / "log.txt" if main else None, verbose=main)
        t0 = time.perf_counter()
        stages = self.plan(steps)
        LOG.info("plan: %d seed(s), steps %s; %d stages", len(self.cfg.seeds), ", ".join(steps), len(stages))
        for st in stages:
            LOG.info("  seed %d %s: %s", st.seed, st.step, st.describe())
        self._clock = StageClock(stages)
        for seed in self.cfg.seeds:
            self.run_seed(seed, steps)
        if not summarize:
            return {}
        summary = self.summarize()
        LOG.info("done in %.1f s: ZSL fused %.1f +- %.1f, GZSL H %.1f", time.perf_counter() - t0,
                 summary["zsl"]["fused"]["mean"], summary["zsl"]["fused"]["std"],
                 summary["gzsl"]["fused"]["H"]["mean"])
        return summary

    def _summarize_health(self) -> dict[str, Any]:
        """Per-seed health.json files -> {before|after: {figure: {mean, std, values}}} (per phase lists
        summarised element-wise)."""
        per_seed = [read_json(p) for p in (self.seed_dir(s) / "health.json" for s in self.cfg.seeds) if p.exists()]
        if len(per_seed) != len(self.cfg.seeds):
            return {}
        out: dict[str, Any] = {}
        for when in ("before", "after"):
            out[when] = {}
            for key, first in per_seed[0][when].items():
                values = [h[when][key] for h in per_seed]
                if isinstance(first, list):
                    cols = [M.summarize([v[i] for v in values]) for i in range(len(first))]
                    out[when][key] = {"mean": [c["mean"] for c in cols], "std": [c["std"] for c in cols],
                                      "values": values}
                else:
                    out[when][key] = M.summarize(values)
        return out

    def encoder_supervised(self, seed: int) -> dict[str, Any]:
        """The encoder diagnostic of one seed: top-1 (%) of the main encoder's own classifier on the
        test split's seen-class clips and on the holdout, cached in ``seed<S>/encoder_supervised.json``,
        and ``val_seen`` (see :meth:`val_encoder_seen`) when the run trains validation encoders.

        A diagnostic of how good the frozen features are, never used for a choice (the encoder's
        checkpoint is chosen on the holdout during pre-training, so its holdout figure is optimistic).
        """
        path = self.seed_dir(seed) / "encoder_supervised.json"
        if path.exists():
            result = read_json(path)
        else:
            enc = self.encoder_dir(seed) / "encoder" / "best.safetensors"
            if not enc.exists():
                raise RunError(f"{enc} missing: run `zeroskel pretrain {self.dir}` first")
            sp = self.splits
            result = {name: supervised_accuracy(enc, self.dataset, idx, self.device)
                      for name, idx in (("test_seen", sp.test_seen), ("holdout", sp.holdout))}
            write_json(path, result)
        val_seen = self.val_encoder_seen(seed)
        return {**result, "val_seen": val_seen} if val_seen else result

    def val_encoder_seen(self, seed: int) -> dict[str, Any] | None:
        """Top-1 (%) of the validation encoders on the clips of the subject each draw held out (its
        pseudo-seen classes) after their last epoch, the mean over draws (``values`` per draw).

        The seen-class accuracy on people no encoder trained on, measured without the test split (the
        within-subject holdout overstates it by 10-25 points); the last epoch, because the draw's
        checkpoint epoch was chosen on these same clips. None without separate validation encoders.
        """
        if self.cfg.eval.validation_encoder != "separate":
            return None
        root = self.encoder_dir(seed) / "val_encoder"
        return validation_seen([root / f"d{k}" for k in range(self.cfg.eval.val_draws)])

    def summarize(self) -> dict[str, Any]:
        """``metrics.json``: mean, std and per-seed values of every metric, plus timings."""
        evals = []
        for seed in self.cfg.seeds:
            path = self.seed_dir(seed) / "eval.json"
            if not path.exists():
                raise RunError(f"{path} missing: run `zeroskel evaluate {self.dir}` first")
            evals.append(read_json(path))
        zsl = {k: M.summarize([e["zsl"][k] for e in evals]) for k in evals[0]["zsl"]}
        health = self._summarize_health()
        gzsl = {b: {m: M.summarize([e["gzsl"][b][m] for e in evals]) for m in ("S", "U", "H", "gamma")}
                for b in evals[0]["gzsl"]}
        sup = [self.encoder_supervised(seed) for seed in self.cfg.seeds]
        supervised = {k: M.summarize([s[k]["top1"] for s in sup]) for k in ("test_seen", "holdout", "val_seen")
                      if all(k in s for s in sup)}
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
            **({"health": health} if health else {}),
            "notes": {
                "fused": "one prediction per sample from the mean of both branches' prediction scores "
                         "(headline); a Neuron branch predicts with its last phase unless "
                         "head prediction=mean",
                "spatial_phase1": "spatial_phaseE / temporal_phaseE: ZSL of one phase of a branch",
                "either_branch": "the official Neuron metric: a sample counts if either branch's "
                                 "prediction is right (two guesses; not comparable to accuracy)",
                "health": "prototype health on held-out seen-class clips, before and after training "
                          "(see zeroskel.models.neuron.prototype_health)",
                "gamma": "calibration factor chosen on the validation protocol, never on test",
                "encoder.supervised": "top-1 of the encoder's own classifier on seen-class clips of the "
                                      "test split and of the holdout: a diagnostic, never used for a "
                                      "choice (the holdout also chose the encoder's epoch); val_seen: "
                                      "the validation encoders' top-1 on their held-out subject's "
                                      "pseudo-seen clips after the last epoch (cross-subject, no test "
                                      "clip read)",
            },
        }
        write_json(self.dir / "metrics.json", summary)
        return summary
