"""Every setting of a run, with its default, in one visible place.

``zeroskel run`` resolves defaults <- ``--config FILE`` <- ``key=value`` overrides and saves the
result as ``RUN_DIR/config.yaml``; every later step reads that file.

Defaults are sized for a laptop CPU on the small Kinect v1 datasets (UTD-MHAD: the README's main
job runs in minutes on 2 cores). The paper-scale recipe lives in ``configs/official_ntu.yaml``.

Schedules scale with the dataset: the official head recipe is 30 epochs with steps at 4 and 20 on
NTU (about 600 updates per epoch). Small datasets have few updates per epoch, so the head trains
for at least ``head.min_steps`` updates: the number of epochs is stretched to
``max(epochs, ceil(min_steps / steps_per_epoch))`` and the learning-rate steps stay at the same
*fractions* of training (4/30 and 20/30). The encoder's schedule is scaled the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from zeroskel.config import load_saved_config
from zeroskel.data.transforms import Preprocessing


@dataclass
class DataConfig:
    # Input defaults (issue 13): origin at the first frame's hip midpoint, torso scale, joint + motion
    # streams, rotation about the vertical axis, scale jitter, 32 frames. With the encoder's batch 16 and
    # 60 epochs (EncoderConfig) they beat the former defaults (first_center, none, [joint], crop 0.5,
    # rotation 0.3 about xyz, 64 frames, batch 32, 30 epochs; configs/bench/kinect-issue11.yaml writes
    # them out) on the cross-subject seen-class figure and on the zero-shot validation draws of both
    # heads, utd-f1..f5 + msr-f1..f4 x seeds 0-1 (BENCHMARKS.md "Encoder recipe").
    root: str = ""                   # dataset folder (as the official download unpacks)
    cache: str = ""                  # optional prepared cache (zeroskel data prepare) used instead
    length: int = 32                 # frames per clip (T' = length / 4 feature frames)
    num_person: int = 0              # 0: 1 for Kinect v1 datasets, 2 for NTU / PKU-MMD
    align_view: bool = False         # rotate hips/shoulders onto the x axis (face the camera)
    origin: str = "first_hip"        # first_center (layout's spine joint, first frame) | first_hip
                                     # (hip midpoint, first frame) | frame_center (per frame) | none
    scale: str = "torso"             # none | torso (divide by the first frame's torso length)
    streams: list[str] = field(default_factory=lambda: ["joint", "motion"])  # as channels: joint, bone,
                                     # motion, bone_motion (3 channels each)
    crop_min: float = 0.8            # training: random temporal crop of crop_min..100% of frames
    eval_crop: float = 0.95          # evaluation: centre crop fraction
    max_rotation: float = 0.26       # training: random rotation bound (radians)
    rotation_axes: str = "y"         # xyz: about every axis | y: about the vertical axis only
    scale_jitter: float = 0.1        # training: random scale in 1 +- scale_jitter
    split_seed: int = 0              # seed of the validation protocol (pseudo-unseen classes)


@dataclass
class EncoderConfig:
    name: str = "shiftgcn"           # shiftgcn: one encoder reads all data.streams as channels |
                                     # shiftgcn_ensemble: one encoder per stream, fused (``fusion``)
    fusion: str = "mean"             # shiftgcn_ensemble feature maps: mean | concat (scores: mean)
    base_channels: int = 16          # 64 = the published Shift-GCN width (16: ~16x fewer FLOPs)
    epochs: int = 60
    min_steps: int = 0               # stretch epochs to at least this many updates (0: off)
    batch_size: int = 16
    optimizer: str = "sgd"           # sgd (the Shift-GCN paper's) | adamw
    lr: float = 0.1
    momentum: float = 0.9            # sgd only
    nesterov: bool = True            # sgd only
    weight_decay: float = 1e-4
    schedule: str = "step"           # step: lr x 0.1 at each milestone | cosine: to 0 at the end
    milestones: tuple[float, ...] = (0.6, 0.8)   # fractions of training (schedule step)
    warmup_epochs: int = 0
    label_smoothing: float = 0.0     # cross-entropy label smoothing
    dropout: float = 0.0
    select: str = "last"             # the epoch kept: last (the end of the schedule) | holdout (best
                                     # top-1 on the held-out seen clips, the earliest of equals; it
                                     # saturates near 100% early, before the learning rate decays:
                                     # BENCHMARKS.md "Which encoder epoch is kept")
    checkpoint: str = ""             # start from this checkpoint (ours or the official Shift-GCN)
    pretrained_only: bool = False    # use ``checkpoint`` as is, no pre-training


@dataclass
class ExtractConfig:
    views: int = 4                   # augmented views per training clip (1 = no augmentation)
    batch_size: int = 64


@dataclass
class HeadConfig:
    name: str = "neuron"
    variant: str = "official"        # official | paper | global (see zeroskel.models.neuron)
    options: dict = field(default_factory=dict)  # overrides of the head's own config fields
    # Applied to Neuron heads only, under ``options``: the laptop recipe's one departure from the
    # official values. The official 0.1 x cosine logits barely move a softmax in the few hundred
    # updates a small dataset gives (the head stays near chance on UTD-MHAD: BENCHMARKS.md,
    # validation figures of neuron vs neuron-exact); 10 x cosine learns. ``{}`` restores the
    # official values exactly (configs/official_ntu.yaml does).
    neuron_options: dict = field(default_factory=lambda: {"logit_scale": 10.0})
    epochs: int = 30
    min_steps: int = 300
    batch_size: int = 64
    optimizer: str = "sgd"           # sgd | adam | adamw (the VAE-family peers: adam)
    betas: tuple[float, ...] = (0.9, 0.999)   # adam / adamw
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "step"           # step | cosine
    milestones: tuple[float, ...] = (4 / 30, 20 / 30)


@dataclass
class TextConfig:
    encoder: str = "minilm"          # minilm | a local model path | clip:... | precomputed:PATH
    source: str = "side-info"        # side-info | one-turn | manual | pos (verb, noun phrases)
    side_info: str = ""              # JSON file, or a folder of <dataset>.json files (one setting for
                                     # several datasets); empty: the side information shipped for the dataset
    cache_dir: str = ""              # embedding cache; empty: RUN_DIR/text_cache
    temporal: str = "auto"           # temporal slots: cumulative (start; +middle; +end) | phase |
                                     # auto: what the head scores against (official Neuron: cumulative)


@dataclass
class EvalConfig:
    validation_encoder: str = "separate"   # separate: pre-train a second encoder on the
                                           # validation protocol's classes; shared: reuse the main one
    select_epoch: bool = True        # choose the head's epoch on the validation protocol
    val_draws: int = 2               # draws of the validation protocol per seed (each: its own
                                     # pseudo-unseen classes, held-out subject, encoder and head)
    val_subjects: int = 1            # training subjects each draw holds out for val_seen
    select: str = "mean"             # the epoch's criterion: mean of fused ZSL and H | zsl | H
    min_fraction: float = 0.25       # never choose the head's epoch before this fraction of training
    smooth_fraction: float = 0.2     # moving average of the draws' mean curve, fraction of training
                                     # (both decided on validation curves: BENCHMARKS.md)
    gamma_grid: int = 201
    gamma_transfer: str = "margin"   # margin: rescale the validation factor to the final head's
                                     # score scale (held-out seen clips); raw: use it as is


@dataclass
class RunConfig:
    protocol: str = "utd-f1"
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"             # auto | cpu | cuda | cuda:1
    num_threads: int = 0             # torch CPU threads (0: torch's default)
    jobs: int = 0                    # worker processes for a seed's independent stages (main and
                                     # validation encoders, validation heads); 0: auto (CPU: one
                                     # per thread, threads shared out; GPU, torchrun: 1); 1: in turn
    progress: bool = True
    tensorboard: bool = False
    reuse: str = ""                  # run directory whose encoders and feature caches to reuse
                                     # (same protocol, data and encoder settings; bench uses it)
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    text: TextConfig = field(default_factory=TextConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# Keys added after runs were already being saved, with the value that does what the code did before
# the key existed, where today's default differs (the value each key was added with, from the git
# history of this file; encoder.select: the best-holdout rule was the only one). A run directory's
# config.yaml holds every key of its time, so :func:`load_run_config` gives a key it lacks the value
# below, not today's default: an older run resumed, evaluated, bundled or reused by the bench keeps
# the inputs and rules its encoders were trained with.
BEFORE_KEY: dict[str, Any] = {
    "data.origin": "first_center",        # added at 90aea4c, default changed in issue 13
    "data.scale": "none",
    "data.streams": ["joint"],
    "data.crop_min": 0.5,
    "data.max_rotation": 0.3,
    "data.rotation_axes": "xyz",
    "data.scale_jitter": 0.0,
    "encoder.select": "holdout",          # added at 91f479b with default last
    "eval.min_fraction": 0.0,             # added at 83d9720 as 0.0, default changed later
    "eval.smooth_fraction": 0.0,
    "head.neuron_options": {},            # added at 513b155; before it Neuron heads had their own values
}


def load_run_config(path: str | os.PathLike) -> RunConfig:
    """A run's saved ``config.yaml``, with :data:`BEFORE_KEY` for the keys added since it was written."""
    return load_saved_config(RunConfig, path, BEFORE_KEY)


def preprocessing(data: DataConfig) -> Preprocessing:
    """The :class:`Preprocessing` a run's clips get (encoder training, extraction, the bundle)."""
    return Preprocessing(origin=data.origin, scale=data.scale, align_view=data.align_view,
                         streams=tuple(data.streams), crop_min=data.crop_min, eval_crop=data.eval_crop,
                         max_rotation=data.max_rotation, rotation_axes=data.rotation_axes,
                         scale_jitter=data.scale_jitter)
