"""Launching runs with submitit: locally, or as one SLURM job array per suite.

Jobs are `submitit.helpers.Checkpointable`: when SLURM signals a timeout or a preemption,
submitit requeues the same call, and `execute_run` resumes from the run's last checkpoint, so
a requeued run ends with the same weights as one that was never interrupted. The dataset's
segmentation evaluator is trained first as its own job; the array depends on it (afterok).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import submitit
from omegaconf import DictConfig, OmegaConf

from benchmark import atomic
from benchmark.config import job_payload
from benchmark.run.store import read_json
from benchmark.suite.jobs import ensure_evaluator_job, execute_run
from benchmark.suite.packing import packed_resources, runs_per_gpu, submit_packed
from benchmark.suite.plan import PlannedRun

SLURM_ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING",
                "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED", "PREEMPTED"}


class SlurmUnavailableError(RuntimeError):
    """launcher=slurm asked for, but there is no reachable SLURM cluster."""


class RunJob(submitit.helpers.Checkpointable):
    """One run as a requeueable job: `checkpoint()` resubmits the same call on timeout/preemption."""

    def __call__(self, cfg_dict: dict) -> dict:
        return execute_run(cfg_dict)


class EvaluatorJob(submitit.helpers.Checkpointable):
    def __call__(self, cfg_dict: dict) -> str | None:
        return ensure_evaluator_job(cfg_dict)


def check_slurm() -> None:
    """Fail before planning anything when sbatch is missing or the controller does not answer."""
    if shutil.which("sbatch") is None:
        raise SlurmUnavailableError("launcher=slurm but `sbatch` is not on PATH: install the SLURM client "
                                    "or bring up the local cluster with `slurm/up.sh` (see slurm/README.md)")
    try:
        subprocess.run(["sinfo", "-h"], check=True, capture_output=True, timeout=20)
    except (subprocess.SubprocessError, OSError) as exc:
        raise SlurmUnavailableError(f"launcher=slurm but the SLURM controller does not answer (`sinfo` "
                                    f"failed: {exc}): check slurmctld, or start `slurm/up.sh`") from exc


def slurm_executor(launcher: DictConfig, folder: Path, name: str) -> submitit.AutoExecutor:
    # max_num_timeout belongs to the executor's constructor, not to update_parameters
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm",
                                     slurm_max_num_timeout=int(launcher.get("max_num_timeout", 20)))
    params = {"timeout_min": int(launcher.timeout_min), "cpus_per_task": int(launcher.cpus_per_task),
              "mem_gb": launcher.mem_gb, "name": name,
              "slurm_array_parallelism": int(launcher.array_parallelism),
              "slurm_signal_delay_s": int(launcher.get("signal_delay_s", 90))}
    if int(launcher.gpus_per_node):
        params["gpus_per_node"] = int(launcher.gpus_per_node)
    for key in ("partition", "account", "qos"):
        if launcher.get(key):
            params[f"slurm_{key}"] = launcher[key]
    if launcher.get("additional_parameters"):
        params["slurm_additional_parameters"] = OmegaConf.to_container(launcher.additional_parameters)
    if launcher.get("setup"):
        params["slurm_setup"] = list(launcher.setup)
    executor.update_parameters(**params)
    return executor


def submit_slurm(base: DictConfig, runs: list[PlannedRun], *, suite: str) -> list[submitit.Job]:
    """Submit the evaluator job (if needed) and one job array of runs depending on it."""
    from benchmark.run.evaluate import evaluator_ready

    launcher = base.launcher
    folder = Path(launcher.folder)
    jobs: list[submitit.Job] = []
    dependency = None
    if not evaluator_ready(base):
        executor = slurm_executor(launcher, folder, f"{suite}-{base.dataset.name}-evaluator")
        job = executor.submit(EvaluatorJob(), job_payload(base))
        dependency = f"afterok:{job.job_id}"
        jobs.append(job)
    if runs:
        executor = slurm_executor(launcher, folder, f"{suite}-{base.dataset.name}")
        if dependency:
            extra = launcher.get("additional_parameters")  # an empty DictConfig is falsy
            extra = OmegaConf.to_container(extra) if extra else {}
            # kill-on-invalid-dep: if the evaluator job fails, SLURM cancels the array instead of
            # leaving it pending forever (DependencyNeverSatisfied), which would hang `run --wait`
            executor.update_parameters(slurm_additional_parameters={**extra, "dependency": dependency,
                                                                     "kill_on_invalid_dep": "yes"})
        k = runs_per_gpu(launcher)  # launcher.runs_per_gpu=k: k runs share one job (benchmark/suite/packing.py)
        if k > 1:
            executor.update_parameters(**packed_resources(launcher, k))
        with executor.batch():
            run_jobs = (submit_packed(executor, runs, k, job_payload) if k > 1 else
                        [executor.submit(RunJob(), job_payload(r.cfg)) for r in runs])
        for run, job in zip(runs, run_jobs):
            run.run_dir.mkdir(parents=True, exist_ok=True)
            atomic.write_json(run.run_dir / "slurm.json", {"job_id": job.job_id, "folder": str(folder),
                                                           "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")})
        jobs.extend(dict.fromkeys(run_jobs))  # a packed job once
    return jobs


def submit_local(base: DictConfig, runs: list[PlannedRun]) -> list[submitit.Job]:
    """submitit's local executor: each run in its own process, the evaluator first."""
    folder = Path(base.launcher.get("folder") or Path(base.store_dir) / "_local_logs")
    executor = submitit.AutoExecutor(folder=str(folder), cluster="local")
    executor.update_parameters(timeout_min=int(base.launcher.get("timeout_min", 24 * 60)))
    executor.submit(EvaluatorJob(), job_payload(base)).result()
    return [executor.submit(RunJob(), job_payload(r.cfg)) for r in runs]


def slurm_job_state(run_dir: Path) -> tuple[str | None, str | None]:
    """(job id, SLURM state) of the run's last submitted job; (None, None) if none.

    `squeue` first: it knows a job the moment it is submitted, while `sacct` lists it only once
    slurmdbd has the record (a second `benchmark run` right after the first would otherwise
    submit the same runs again). `sacct` then answers for jobs that have left the queue.
    """
    info = read_json(Path(run_dir) / "slurm.json")
    if not info:
        return None, None
    job_id = str(info["job_id"])
    return job_id, _first_state(["squeue", "-h", "-j", job_id, "-o", "%T"]) or _first_state(
        ["sacct", "-j", job_id, "-n", "-X", "-P", "-o", "State"], last=True)


def _first_state(cmd: list[str], *, last: bool = False) -> str | None:
    """First word of the first (or last) output line of a SLURM query; None when it says nothing."""
    try:
        lines = [line for line in subprocess.run(cmd, capture_output=True, text=True,
                                                 timeout=20).stdout.splitlines() if line.strip()]
    except (subprocess.SubprocessError, OSError):
        return None
    return (lines[-1] if last else lines[0]).split()[0] if lines else None  # "CANCELLED by 0"


def wait_for(jobs: list[submitit.Job], *, poll_s: float = 5.0, on_poll=None) -> None:
    """Block until every job has ended (done, failed or cancelled)."""
    while not all(job.done() for job in jobs):
        if on_poll:
            on_poll()
        time.sleep(poll_s)


def wait_for_runs(run_dirs: list[Path], *, poll_s: float = 5.0) -> None:
    """Block until none of these runs has a live SLURM job (jobs of an earlier submission)."""
    pending = list(run_dirs)
    while pending:
        pending = [d for d in pending if slurm_job_state(d)[1] in SLURM_ACTIVE]
        if pending:
            time.sleep(poll_s)
