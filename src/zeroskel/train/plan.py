"""The plan of a run (its stages, their clips and epochs) and a stage counter with an ETA.

``zeroskel run`` logs the plan before any work, e.g. for the README job (utd-f1, 1 seed)::

    plan: 1 seed(s), steps pretrain, extract, train, evaluate; 9 stages
      seed 0 pretrain: encoder (272 clips x 30 epochs)
      seed 0 pretrain: validation encoder d0 (165 clips x 30 epochs)
      ...
      seed 0 train: final head (272 clips x up to 100 epochs, stopped at the epoch chosen on validation)

and then, as each stage starts, ``stage 3/9 (seed 0): extract features (1234 clips); elapsed 2m41s,
ETA 1m05s``. The ETA charges each remaining stage its clips x epochs at the speed measured on the
finished stages of the same kind (encoder, head, extract); while a kind has not run yet its stages
are left out and the ETA reads ``ETA >= ...``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Stage:
    seed: int
    step: str          # pretrain | extract | train | evaluate
    name: str          # e.g. "encoder", "validation encoder d0", "final head"
    kind: str          # encoder | extract | head | evaluate: stages of one kind share a speed
    clips: int
    epochs: int = 1
    note: str = ""     # e.g. "up to" for the final head, which stops at the chosen epoch

    @property
    def units(self) -> int:  # the work of the stage, for the ETA: clips x epochs
        return max(1, self.clips) * max(1, self.epochs)

    def describe(self) -> str:
        if self.kind == "encoder" and self.epochs == 0:
            what = "encoder.checkpoint as is, no training"
        elif self.kind in ("encoder", "head"):
            what = f"{self.clips} clips x {self.note + ' ' if self.note else ''}{self.epochs} epochs"
        else:
            what = f"{self.clips} clip views" if self.kind == "extract" else f"{self.clips} clips"
        return f"{self.name} ({what})"


def format_seconds(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class StageClock:
    """Counts the stages of a plan and estimates the time left from the finished ones."""

    MIN_SECONDS = 1.0  # a stage faster than this was found done (resume): its speed is not counted

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}   # kind -> seconds of its measured stages
        self.units: dict[str, int] = {}       # kind -> units of its measured stages
        self.done: set[int] = set()

    def index(self, seed: int, name: str) -> int | None:
        for i, st in enumerate(self.stages):
            if st.seed == seed and st.name == name and i not in self.done:
                return i
        return None

    def eta(self, after: int) -> tuple[float, bool]:
        """(seconds for the stages after index ``after``, whether every one of them had a speed)."""
        total, complete = 0.0, True
        for st in self.stages[after + 1:]:
            if st.kind == "evaluate":
                continue  # seconds at most
            if self.units.get(st.kind):
                total += st.units * self.seconds[st.kind] / self.units[st.kind]
            else:
                complete = False
        return total, complete

    def start(self, i: int) -> str:
        st = self.stages[i]
        line = (f"stage {i + 1}/{len(self.stages)} (seed {st.seed}): {st.step} {st.describe()}; "
                f"elapsed {format_seconds(time.perf_counter() - self.t0)}")
        left, complete = self.eta(i - 1)  # this stage included
        if left > 0:
            line += f", ETA {'' if complete else '>= '}{format_seconds(left)}"
        return line

    def finish(self, i: int, seconds: float) -> None:
        self.done.add(i)
        st = self.stages[i]
        if seconds >= self.MIN_SECONDS:
            self.seconds[st.kind] = self.seconds.get(st.kind, 0.0) + seconds
            self.units[st.kind] = self.units.get(st.kind, 0) + st.units
