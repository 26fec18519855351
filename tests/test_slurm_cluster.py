"""The single-node cluster of slurm/up.sh does what the launcher relies on.

Why these cluster tests: submitit must get a result back (sbatch + sacct), a cancelled job must end as
CANCELLED instead of hanging (the reason slurmdbd is part of the cluster), and two 1-CPU jobs must
run side by side on the 2-CPU node (CR_Core). That a job in `urgent` requeues a job in `debug`
(the preemption path that `Checkpointable` runs resume from) is tested with a real run, which
must also end with the same weights, in tests/test_slurm_suite.py. The first test checks
the skip-or-fail rule of `require_slurm` itself, without a cluster.
Jobs call only stdlib functions, so the job's Python needs nothing from this test module.
"""
from __future__ import annotations

import operator
import subprocess
import time
from pathlib import Path

import pytest
import slurm_helpers
import submitit
from slurm_helpers import require_slurm
from submitit.core.utils import UncompletedJobError


@pytest.fixture(scope="module")
def cluster() -> None:
    require_slurm()


def slurm_test(test):
    """Marks a test that submits to the real cluster: `slurm` marker, 120 s cap, cluster gate."""
    return pytest.mark.slurm(pytest.mark.timeout(120)(pytest.mark.usefixtures("cluster")(test)))


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_require_slurm_skips_outside_ci_and_fails_in_ci(monkeypatch, ci, outcome) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(slurm_helpers.shutil, "which", lambda name: None)
    slurm_helpers.slurm_problem.cache_clear()
    try:
        with pytest.raises(outcome, match="sbatch. is not on PATH.*slurm/up.sh"):
            require_slurm()
    finally:
        slurm_helpers.slurm_problem.cache_clear()


def _executor(folder: Path) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(slurm_partition="debug", cpus_per_task=1, mem_gb=1, timeout_min=5)
    return executor


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout.strip()


def _squeue_state(job_id: str) -> str:
    """Live state from the controller ('' once the job left the queue: squeue then exits 1)."""
    proc = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True,
                          text=True, timeout=30)
    return proc.stdout.strip()


def _wait(what: str, predicate, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.5)


def _wait_for_empty_queue() -> None:
    """Tests that fill the node need it to themselves; skip (not fail) when others' jobs hold it."""
    try:
        _wait("an empty queue", lambda: not _run("squeue", "-h", "-o", "%i"), timeout_s=60)
    except AssertionError:
        pytest.skip("other jobs keep the node busy: " + _run("squeue", "-h", "-o", "%i %P %T"))


def _sacct_states(job_id: str) -> list[str]:
    """Every accounting record of the job (-D: also the runs it was requeued from)."""
    out = _run("sacct", "-j", job_id, "-n", "-X", "-D", "-P", "-o", "State")
    return [line.split()[0] for line in out.splitlines() if line]


@slurm_test
def test_submitit_job_returns_result_and_is_accounted(tmp_path: Path) -> None:
    job = _executor(tmp_path).submit(operator.mul, 6, 7)
    assert job.result() == 42
    # job.state is cached by submitit's watcher; force a fresh sacct read.
    _wait("submitit to read COMPLETED", lambda: job.get_info(mode="force").get("State") == "COMPLETED")
    _wait("sacct to record the job as COMPLETED", lambda: _sacct_states(job.job_id) == ["COMPLETED"])


@slurm_test
def test_cancelled_job_ends_cancelled_without_hanging(tmp_path: Path) -> None:
    job = _executor(tmp_path).submit(time.sleep, 600)
    try:
        _wait("the job to start", lambda: _squeue_state(job.job_id) == "RUNNING")
    finally:
        job.cancel(check=True)
    _wait("job.state to become CANCELLED", lambda: job.state.startswith("CANCELLED"), timeout_s=90)
    with pytest.raises(UncompletedJobError):
        job.result()


@slurm_test
def test_two_one_cpu_jobs_run_side_by_side(tmp_path: Path) -> None:
    _wait_for_empty_queue()
    jobs = _executor(tmp_path).map_array(time.sleep, [300, 300])
    try:
        _wait("both jobs RUNNING at once",
              lambda: all(_squeue_state(j.job_id) == "RUNNING" for j in jobs))
    finally:
        for job in jobs:
            job.cancel(check=False)


