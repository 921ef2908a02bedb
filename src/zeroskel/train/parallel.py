"""A seed's independent stages side by side, in worker processes (``jobs``).

The main encoder and the validation draws' encoders do not depend on each other, nor do the draws'
validation heads. On a CPU, small models use several threads poorly, so two such stages on one
thread each finish sooner than one after the other on two: the README main job with the defaults
before issue 13 took 176 s instead of 204 s on the 2-core machine (``benchmarks/bench_jobs.py``,
BENCHMARKS.md "Speed and memory"). A worker that finishes its encoder extracts that encoder's
feature maps at once, and one that would wait embeds the class text, when the run goes on to those
steps. Jobs name the jobs they wait for (``Job.after``), so a run that goes on to train also
starts each validation head as soon as its encoder is done, and the final head over its whole
schedule as soon as the main encoder is (``Run._heads_ahead``): three encoders on two workers
leave one worker idle while the other trains its second encoder, and that idle time now trains heads.

Each worker is a fresh (spawned) process with ``threads`` torch threads that rebuilds the
:class:`~zeroskel.train.run.Run` from its directory and config and runs one stage at a time, and
the pool is kept for the seed's next step; every stage writes its own files atomically, so an
interrupted job resumes as before, and a stage's result does not depend on which process ran it
(each seeds itself; only the thread count changes float rounding).

    zeroskel run --protocol utd-f1 --data-root ../shared/data/utd_mhad --out runs/utd-f1 jobs=1   # one at a time
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from zeroskel.train.runtime import LOG

ENV_JOBS = "ZEROSKEL_JOBS"      # what jobs=0 (auto) means, when set (the test suite sets 1)
_WORKER: dict[str, Any] = {}   # the worker process's Run


@dataclass
class Job:
    """One stage: ``Run.<method>(*args)``, logged as ``name``, done when every file of ``done`` exists.

    ``in_worker`` are keyword arguments added when a worker runs it (e.g. extract the encoder's
    features right after training it, while the other worker is still busy); a ``background`` job
    (e.g. embedding the class text) runs only beside others, in a worker that would idle otherwise.
    ``after`` names the jobs of the same call it waits for (a validation head waits for its encoder).
    """
    name: str
    method: str
    args: tuple
    done: tuple[Path, ...]
    in_worker: dict[str, Any] = field(default_factory=dict)
    background: bool = False
    after: tuple[str, ...] = ()

    def is_done(self) -> bool:
        return all(p.exists() for p in self.done)


def plan_workers(jobs: int, num_threads: int, device: torch.device, tasks: int) -> tuple[int, int]:
    """(worker processes, torch threads each) for ``tasks`` independent stages.

    Args:
        jobs: the run's ``jobs`` setting; 0 is auto: the ``ZEROSKEL_JOBS`` environment variable when
            set, else as many workers as threads allow (one thread or more each) on the CPU, and
            none on a GPU (its stages already run in parallel on the chip).
        num_threads: the run's ``num_threads`` (0: torch's default).
        device: the run's device.
        tasks: stages that could run side by side.
    Returns ``(1, threads)`` when the stages run in this process, one after another.
    """
    threads = num_threads if num_threads > 0 else torch.get_num_threads()
    if jobs < 0:
        raise ValueError(f"jobs must be >= 0 (0: auto), got {jobs}")
    if jobs == 0 and os.environ.get(ENV_JOBS, "").strip():
        value = os.environ[ENV_JOBS].strip()
        if not value.isdigit():
            raise ValueError(f"{ENV_JOBS} must be a number of worker processes (0: auto), got {value!r}")
        jobs = int(value)
    if jobs == 0:
        jobs = threads if device.type == "cpu" else 1
    if _distributed():
        jobs = 1  # torchrun: the processes already share every stage
    workers = max(1, min(jobs, tasks))
    if workers == 1:
        return 1, threads
    return workers, max(1, threads // workers)


def _distributed() -> bool:
    import torch.distributed as dist

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or (dist.is_available() and dist.is_initialized())


def _log_targets() -> tuple[str | None, bool]:
    """Where this process logs: (log file or None, whether to stderr), for the workers to do the same."""
    path, stream = None, False
    for h in LOG.handlers:
        if isinstance(h, logging.FileHandler):
            path = h.baseFilename
        elif isinstance(h, logging.StreamHandler):
            stream = True
    return path, stream


def _die_with_parent() -> None:
    """Linux: the kernel ends this worker when the main process dies (even by kill -9), so no orphan
    keeps writing into a run directory that a resumed run may be using."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the main process still terminates its workers on Ctrl-C and on errors


def _init_worker(run_dir: str, cfg: Any, threads: int, log_file: str | None, verbose: bool) -> None:
    import signal

    from zeroskel.train.run import Run
    from zeroskel.train.runtime import setup_logging

    # Ctrl-C in a terminal reaches every process of the group: the main process handles it (stops the
    # workers, names the --resume command); a worker would only print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    setup_logging(Path(log_file) if log_file else None, verbose=verbose)
    run = Run(run_dir, cfg)
    torch.set_num_threads(threads)
    run._in_worker = True  # the main process writes metrics.jsonl from the histories returned
    _WORKER["run"] = run


History = dict[tuple[int, str], list[dict[str, Any]]]  # (seed, step) -> per-epoch metrics, as Run keeps them


def _work(method: str, args: tuple, kwargs: dict[str, Any]) -> tuple[History, float]:
    run = _WORKER["run"]
    run._histories.clear()
    t0 = time.perf_counter()
    getattr(run, method)(*args, **kwargs)
    return dict(run._histories), time.perf_counter() - t0


def run_jobs(run: Any, seed: int, jobs: list[Job]) -> None:
    """Run ``jobs`` (stages of ``seed``) in worker processes when ``run.cfg.jobs`` allows, else here.

    Stages already done (``Job.is_done``) are not sent to a worker. A worker that comes free takes
    the first job in list order whose ``after`` jobs are done, a ``background`` one only when no
    other is ready; without workers the jobs run in list order (background ones not at all). The
    workers' per-epoch histories reach ``metrics.jsonl`` as each stage ends. Ctrl-C (or any error)
    stops the workers; their finished epochs are kept. A worker that dies (killed, out of memory)
    ends the run with a RunError naming ``--resume`` instead of a wait for its result.
    """
    names = {j.name for j in jobs}
    for j in jobs:
        unknown = [a for a in j.after if a not in names]
        if unknown:
            raise ValueError(f"job {j.name!r} waits for jobs not in this call: {unknown}")
    pending = [j for j in jobs if not j.is_done()]
    workers, threads = plan_workers(run.cfg.jobs, run.cfg.num_threads, run.device,
                                    sum(not j.background for j in pending))
    for j in jobs:
        if j.background or (workers > 1 and j in pending):
            continue
        with run._stage(seed, j.name):  # one after another, or done already (a resumed run)
            getattr(run, j.method)(*j.args)
    if workers == 1:
        return
    LOG.info("%d stages side by side: %d worker processes, %d thread(s) each (jobs=%d)",
             sum(not j.background for j in pending), workers, threads, run.cfg.jobs)
    pool = _pool(run, workers, threads)
    finished = {j.name for j in jobs if j not in pending}
    waiting = list(pending)
    running: dict[Any, tuple[Job, int | None]] = {}   # future -> (job, its stage token)
    try:
        while waiting or running:
            ready = [j for j in waiting if all(a in finished for a in j.after)]
            ready = [j for j in ready if not j.background] or ready
            while ready and len(running) < workers:
                j = ready.pop(0)
                waiting.remove(j)
                running[pool.submit(_work, j.method, j.args, j.in_worker)] = (j, run._stage_started(seed, j.name))
            if not running:
                raise RuntimeError(f"jobs wait for each other: {[j.name for j in waiting]}")
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                j, token = running.pop(fut)
                histories, seconds = fut.result()
                run._histories.update(histories)
                run._write_jsonl()
                run._stage_finished(token, seconds)
                finished.add(j.name)
        if not run._keep_pool:
            close_pool(run)  # a step called on its own (zeroskel pretrain RUN_DIR): no next step
    except BrokenProcessPool:
        close_pool(run, terminate=True)
        from zeroskel.train.run import RunError

        raise RunError(f"a worker process of {run.dir} died (killed, or out of memory?); finished epochs "
                       f"are kept: continue with `zeroskel run --out {run.dir} --resume`, with jobs=1 to "
                       "run one stage at a time in this process") from None
    except BaseException:
        close_pool(run, terminate=True)
        raise


@contextmanager
def kept_pool(run: Any):
    """Keep the run's worker pool from one ``run_jobs`` to the next inside (``Run.run_seed``: a
    spawned worker takes about 2 s to import torch and load the dataset); stopped at the end, and
    terminated when the block fails or is interrupted."""
    run._keep_pool = True
    try:
        yield
    except BaseException:
        close_pool(run, terminate=True)
        raise
    finally:
        run._keep_pool = False
        close_pool(run)


def _pool(run: Any, workers: int, threads: int):
    """The run's worker pool of ``workers`` processes with ``threads`` threads each (the one held,
    if it has that shape)."""
    key = (workers, threads)
    held = run._pool
    if held is not None and held[0] == key:
        return held[1]
    close_pool(run)
    log_file, verbose = _log_targets()
    # a pool of spawned processes (fork after torch's thread pools start can deadlock); unlike
    # multiprocessing.Pool, it fails (BrokenProcessPool) instead of waiting forever when a worker dies
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(str(run.dir), run.cfg, threads, log_file, verbose))
    run._pool = (key, pool)
    return pool


def close_pool(run: Any, *, terminate: bool = False) -> None:
    """Stop the run's worker processes, if any (``terminate``: without waiting for their work)."""
    held, run._pool = run._pool, None
    if held is None:
        return
    pool = held[1]
    if terminate:
        procs = getattr(pool, "_processes", None) or {}  # pid -> Process (the executor's own table)
        for proc in list(procs.values()):
            proc.terminate()  # stop work in progress (its last finished epoch is saved)
    pool.shutdown(wait=True, cancel_futures=True)
