"""Several runs in one GPU job: `launcher.runs_per_gpu=k`.

At batch size 1 the paper's step cannot fill a GPU: kernels are small and the launch queue
runs dry. A lab with few GPUs therefore runs k trainings side by side on one device. This module
packs a suite's runs into groups of k and runs each group as ONE SLURM job whose k child
processes share the job's device (and split its CPUs). Each child is `execute_run` on its own
run directory, so everything that makes a single run safe holds for each of the k:

* a run resumes from its own checkpoint: when SLURM signals a timeout or a preemption, the job
  (a submitit Checkpointable) is requeued with the same group, every child is killed with the
  job, and on restart each child resumes where its own checkpoint left it;
* a finished run is skipped on restart (its metrics exist), a failed one fails alone: the others
  of its group run to the end, then the job reports which ones failed.

Hand-written: submitit runs one callable per job; it has no "k processes per task" mode, and
SLURM's own `--ntasks` would split the GPU request, not share it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import submitit

T = TypeVar("T")


class PackedRunsError(RuntimeError):
    """One or more runs of a packed job failed; the others finished."""


def runs_per_gpu(launcher) -> int:
    """launcher.runs_per_gpu (default 1). Its range (an integer >= 1) is checked with every other
    value when the config is composed (benchmark/config_rules.py)."""
    return int(launcher.get("runs_per_gpu", 1))


def pack(items: Sequence[T], k: int) -> list[list[T]]:
    """Consecutive groups of at most k, in order (the last one may be shorter)."""
    if k < 1:
        raise ValueError(f"pack size must be >= 1, got {k}")
    return [list(items[i:i + k]) for i in range(0, len(items), k)]


def child_threads(cpus: int, k: int) -> int:
    """Torch threads of each of k children in a job of `cpus` CPUs (at least 1)."""
    return max(1, int(cpus) // max(1, k))


class PackedRunJob(submitit.helpers.Checkpointable):
    """k runs as one requeueable job: a child process per run, all on the job's device."""

    def __call__(self, cfg_dicts: list[dict]) -> list[dict]:
        return run_packed(cfg_dicts)


def run_packed(cfg_dicts: list[dict], *, cpus: int | None = None) -> list[dict]:
    """Run every config in its own process at once; wait for all; raise if any failed."""
    cpus = cpus or int(os.environ.get("SLURM_CPUS_PER_TASK") or os.cpu_count() or 1)
    threads = child_threads(cpus, len(cfg_dicts))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory(prefix="packed-runs-") as tmp:
        children = []
        for i, cfg in enumerate(cfg_dicts):
            spec, out = Path(tmp) / f"run{i}.json", Path(tmp) / f"result{i}.json"
            spec.write_text(json.dumps(cfg))
            children.append((cfg, out, subprocess.Popen(
                [sys.executable, "-m", "benchmark.suite.packing", str(spec), str(out)], env=env)))
        results, failed = [], []
        for cfg, out, proc in children:
            code = proc.wait()
            if code == 0 and out.exists():
                results.append(json.loads(out.read_text()))
            else:
                failed.append(f"{_run_name(cfg)} (exit {code})")
    if failed:
        raise PackedRunsError(f"{len(failed)} of {len(cfg_dicts)} packed runs failed: {', '.join(failed)}; "
                              "the others finished -- see each run's status.json, then run the suite again")
    return results


def _run_name(cfg: dict) -> str:
    from omegaconf import OmegaConf

    from benchmark.config import run_dir_of

    try:
        return str(run_dir_of(OmegaConf.create(cfg)))
    except Exception:  # noqa: BLE001 -- a name for an error message, never the error itself
        return str((cfg.get("model") or {}).get("name", "run"))


def _child(spec: str, out: str) -> int:
    """One packed run: `python -m benchmark.suite.packing SPEC.json RESULT.json`."""
    from benchmark.suite.jobs import execute_run

    # SLURM's USR2 (time limit near, preemption) is the parent's to handle: it requeues the
    # whole job, which ends this process too; this run then resumes from its own checkpoint.
    if hasattr(signal, "SIGUSR2"):
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    metrics = execute_run(json.loads(Path(spec).read_text()))
    Path(out).write_text(json.dumps(metrics, default=str))
    return 0


def packed_resources(launcher, k: int) -> dict:
    """A packed job asks for k runs' CPUs and memory, and the same GPUs (they share them)."""
    return {"cpus_per_task": int(launcher.cpus_per_task) * k, "mem_gb": float(launcher.mem_gb) * k}


def submit_packed(executor, runs: list, k: int, payload) -> list:
    """Submit `runs` in groups of k (call inside `executor.batch()`); returns, per run, the job
    that holds it (a group's runs share one job id, which status/wait read per run)."""
    groups = pack(runs, k)
    group_jobs = [executor.submit(PackedRunJob(), [payload(r.cfg) for r in group]) for group in groups]
    return [job for group, job in zip(groups, group_jobs) for _ in group]


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:3]))
