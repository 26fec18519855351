"""Local runs side by side: `launcher.workers=k` runs k runs at once, each in its own process.

Why processes, one thread each, rather than one run with every core: the networks of the small
profiles are too small for torch's intra-op threads to keep two cores busy (the convolutions of
an 8-filter generator at 32² take tens to hundreds of microseconds, most of a step's time is
per-operation overhead), so one run on two threads leaves much of the second core idle, while
two single-threaded runs use both (the README's Numbers section has the measured ratio). A GPU
is one device: there `workers` stays 1 (the default everywhere).

Each worker calls what suite/jobs.py hands in (this module does not import it): `train_run`
and `score_run`, the two halves of `execute_run`, which every launcher calls, so a run trained
here is the run the store would hold from any launcher. The thread count is not part of a
run's identity, but it can change the bits: on a 2-core Intel Xeon with AMX, one and two threads
gave different weights (README, "What reproducible means"). What runs share is made once, by
one process: the segmentation evaluator by one worker while the others train
(jobs.run_in_workers_by_phase), the real images' FID statistics in the parent before scoring
(`reference_rows`), so no two workers write the same cache. A worker's failure is recorded in
its run's status and the other runs go on, as in the sequential loop.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm import tqdm

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def threads_per_worker(workers: int) -> int:
    """The cores of this machine (its affinity mask, as a SLURM or cgroup limit sets it) shared
    out between the workers, at least one each."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def _start_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_in_workers(tasks: list[tuple[str, Callable[[dict], object], dict]], workers: int, *,
                   progress: bool = True, what: str = "runs") -> dict[str, str]:
    """Run every (label, function, job payload) task in `workers` processes; the failed tasks'
    labels, each with its error line. The functions are module-level (pickled by name:
    jobs.train_run, jobs.score_run, jobs.ensure_evaluator_job).

    The payloads' own progress bars are switched off (k interleaved bars are unreadable); this
    process shows one bar over the tasks and a line as each one ends.
    """
    threads = threads_per_worker(workers)
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})  # read by spawned workers
    failures: dict[str, str] = {}
    try:
        context = multiprocessing.get_context("spawn")  # no forked torch state, same on every OS
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(function, {**payload, "progress": False}): label
                       for label, function, payload in tasks}
            bar = tqdm(total=len(futures), desc=f"{what} ({workers} at a time, {threads} thread(s) each)",
                       unit="task", disable=not progress)
            for future in as_completed(futures):
                label = futures[future]
                bar.update(1)
                try:
                    future.result()
                    tqdm.write(f"✓ {label}")
                except Exception as exc:  # one run's failure never stops the others
                    last = str(exc).splitlines()[-1] if str(exc) else ""
                    line = f"{label} failed: {type(exc).__name__}: {last}"
                    tqdm.write(line, file=sys.stderr)
                    failures[label] = line
            bar.close()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return failures
