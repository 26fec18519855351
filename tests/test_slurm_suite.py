"""`launcher=slurm` end to end on the real one-node cluster of slurm/up.sh.

Why these two: the suite must run as SLURM jobs and be reported exactly like the local one
(and a second `benchmark run` must never submit a run twice); and the whole point of making
runs submitit-`Checkpointable` is that a run cut off by preemption or by its time limit is
requeued and ends with the *same weights* as a run that was never interrupted. The preemption
test compares every tensor with a reference run trained without interruption (one thread, like
the jobs, in a child process started beside the job). The
time limit (the same `checkpoint()` path, reached through the USR2 that comes before the limit)
is tested once, on two runs packed into one job (tests/test_packing.py): each resumes where it
stopped. A second time-limit test of a single run took 146 s of CI's serial SLURM chain to
check the same path again.

Timing facts of the local cluster these tests are built on (measured, see slurm/README.md):
slurmctld checks time limits every 30 s and sends the `--signal` up to 30 s *early* (when the
warning time falls before its next check), a requeued job starts again ~15 s later
(cred_expire=10), and preemption sends the job's USR2 first. So with a 1-minute limit and a
10 s signal delay every attempt trains ~35-45 s, and a run of ~80 s of work needs 2-3 attempts.
Jobs get `OMP_NUM_THREADS=1` from the shipped setup line and cpus_per_task=1: torch otherwise spins
two threads on a shared core, ~20x slower.
"""
from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from slurm_helpers import require_slurm

SUITE = ["ablations", "synthetic"]
TINY = ["profile=smoke", "progress=false", "dataset.train_count=16", "dataset.test_count=8",
        "dataset.size=64", "evaluation.segmenter.iterations=20", "evaluation.fid.enabled=false"]
# The shipped launcher=slurm defaults (its `setup` exports OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK),
# asked for one CPU and 1 GB a job as a user of a small node would: no `setup` override.
SLURM = ["launcher=slurm", "launcher.cpus_per_task=1", "launcher.mem_gb=1"]
TRAIN_SECONDS = 40  # work in the preempted run: its first checkpoint comes after ~4 s, the urgent job seconds later


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout.strip()


def _sacct_states(job_id: str) -> list[str]:
    """Every accounting record of the job (-D: also the attempts it was requeued from)."""
    out = _run("sacct", "-j", job_id, "-n", "-X", "-D", "-P", "-o", "State")
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _wait(what: str, predicate, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(1)


@pytest.fixture
def cancel_on_exit():
    """Job ids to scancel when the test ends, so a failed test leaves no job on the node."""
    ids: list[str] = []
    yield ids
    if ids:
        subprocess.run(["scancel", *ids], check=False, capture_output=True, timeout=30)


def _weights(run_dir: Path) -> dict:
    import torch

    return torch.load(Path(run_dir) / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]


def _assert_identical(a: dict, b: dict) -> None:
    import torch

    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


# -- 1. the suite through `benchmark run ... launcher=slurm` -------------------------------------
@pytest.mark.slurm
@pytest.mark.timeout(900)
def test_suite_on_slurm_submits_once_waits_and_reports(tmp_path, capsys, cancel_on_exit):
    from benchmark.cli import main

    require_slurm()
    args = [*SUITE, *TINY, *SLURM, f"store_dir={tmp_path / 'store'}", f"results_dir={tmp_path / 'results'}",
            "trainer.iterations=12", "trainer.sample_every=12", "trainer.checkpoint_every=6",
            "launcher.timeout_min=10", f"launcher.folder={tmp_path / 'slurm_logs'}"]
    started = time.monotonic()

    # Without --wait: returns once submitted, with the ids (the evaluator job, then the array).
    assert main(["run", *args]) == 0
    out = capsys.readouterr().out
    ids = re.findall(r"submitted job (\S+)", out)
    cancel_on_exit.extend(ids)
    assert "5 of 5 runs to do" in out and len(ids) == 6, out
    assert time.monotonic() - started < 120

    # A second run while those jobs live submits nothing: every run is shown as queued.
    assert main(["run", *args]) == 0
    out = capsys.readouterr().out
    assert "0 of 5 runs to do" in out and "submitted job" not in out, out
    assert out.count("queued") == 5, out

    # --wait blocks until the jobs of the first submission ended, then reports.
    assert main(["run", *args, "--wait", "--poll", "2"]) == 0
    out = capsys.readouterr().out
    assert "report of 5/5 finished runs" in out, out
    waited = time.monotonic() - started

    results = tmp_path / "results" / "ablations" / "synthetic"
    for table in ("table4", "table5"):
        for ext in ("md", "tex", "csv"):
            assert (results / f"{table}.{ext}").is_file(), f"{table}.{ext}"
    pngs = [p.name for p in results.glob("*.png")]
    assert any(p.startswith("bars_") for p in pngs) and "losses.png" in pngs, pngs
    metrics = sorted((tmp_path / "store").glob("synthetic/*/seed0-*/metrics.json"))
    assert len(metrics) == 5
    for path in metrics:
        slurm = json.loads((path.parent / "slurm.json").read_text())
        assert str(slurm["job_id"]).split("_")[0] == ids[1].split("_")[0]  # one array for the suite
        env = json.loads((path.parent / "env.json").read_text())
        assert env["slurm"]["job_id"], "trained inside a SLURM job"
        assert set(json.loads(path.read_text())["directions"]) == {"photo2labels", "labels2photo"}

    assert main(["status", *args]) == 0
    assert capsys.readouterr().out.count("| done") == 5

    ckpts = {p: p.stat().st_mtime_ns for p in (tmp_path / "store").glob("synthetic/*/*/checkpoint.pt")}
    assert main(["run", *args]) == 0
    out = capsys.readouterr().out
    assert "0 of 5 runs to do" in out and "submitted job" not in out, out
    assert len(re.findall(r"^done ", out, flags=re.M)) == 5, out
    assert {p: p.stat().st_mtime_ns for p in ckpts} == ckpts
    print(f"suite on SLURM: submitted, waited and reported in {waited:.0f} s")


# -- 2. requeue on preemption (the time limit: tests/test_packing.py) ------------------------------------------

@pytest.fixture(scope="module")
def requeue_setup(tmp_path_factory):
    """A run sized to ~TRAIN_SECONDS of work here, a store whose evaluator is already trained.

    The iteration count is calibrated on this machine (one thread, like the jobs), so a fast
    CI runner still trains long enough to be preempted after its first checkpoint; it is part
    of the run's identity, so the requeued run and the reference share it.
    """
    import pandas as pd

    from benchmark.config import compose_config
    from benchmark.run.evaluate import ensure_segmenter
    from benchmark.run.train import train

    require_slurm()
    root = tmp_path_factory.mktemp("requeue")
    with _one_thread():
        calib = compose_config(["dataset=synthetic", *TINY, f"run_dir={root / 'calibration'}",
                                "trainer.iterations=60", "trainer.checkpoint_every=60",
                                "trainer.sample_every=60"])
        train(calib)
        rate = statistics.median(pd.read_csv(root / "calibration" / "train_log.csv")["it_per_s"][10:])
        every = max(10, int(rate * 4))                      # a checkpoint every ~4 s of work
        iterations = every * max(8, round(rate * TRAIN_SECONDS / every))
        store = root / "store"
        identity = [*TINY, f"store_dir={store}", f"trainer.iterations={iterations}",
                    f"trainer.checkpoint_every={every}", f"trainer.sample_every={iterations}"]
        ensure_segmenter(compose_config(["dataset=synthetic", *identity]), progress=False)
    print(f"calibrated: {rate:.1f} it/s -> {iterations} iterations, checkpoint every {every}")
    return {"root": root, "identity": identity, "iterations": iterations}


class _one_thread:
    """torch on one thread inside the block, like the jobs (OMP_NUM_THREADS=1)."""

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


def _start_reference(setup) -> subprocess.Popen:
    """The same run trained without interruption, in a child process on one thread (like the
    jobs), started beside the SLURM job: the test waits on the queue anyway, and trained after
    the job it added the whole run (80 s then) to CI's serial SLURM chain."""
    import os
    import sys

    overrides = ["dataset=synthetic", *setup["identity"], "model=cyclegan",
                 f"run_dir={setup['root'] / 'reference'}"]
    return subprocess.Popen([sys.executable, "-m", "benchmark", "train", *overrides],  # as a user would
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _reference_weights(setup, reference: subprocess.Popen) -> dict:
    _, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, f"the reference run failed:\n{err[-2000:]}"
    return _weights(setup["root"] / "reference")


def _submit_one_run(setup, name: str, launcher: list[str]):
    """submit_slurm with a one-run plan: the cyclegan variant of the suite, in its own run_dir."""
    from benchmark.suite.launcher import submit_slurm
    from benchmark.suite.plan import plan

    overrides = [*setup["identity"], *SLURM, *launcher, f"run_dir={setup['root'] / name}",
                 f"launcher.folder={setup['root'] / (name + '_logs')}"]
    base, runs = plan(*SUITE, overrides)
    runs = [r for r in runs if r.variant == "cyclegan"]
    jobs = submit_slurm(base, runs, suite="requeue-test")
    assert len(jobs) == 1, "the evaluator is trained already: only the run is submitted"
    return runs[0], jobs[0]


def _assert_finished_after_requeue(run, job, log_word: str) -> None:
    from benchmark.run.evaluate import evaluation_hash
    from benchmark.run.store import run_state
    from benchmark.suite.launcher import wait_for

    wait_for([job], poll_s=2)
    assert run_state(run.run_dir, evaluation_hash(run.cfg)).finished, \
        (run.run_dir / "status.json").read_text()
    states = _sacct_states(job.job_id)
    assert len(states) >= 2 and {"REQUEUED", "PREEMPTED"} & set(states[:-1]), states
    env = json.loads((run.run_dir / "env.json").read_text())
    assert int(env["slurm"]["restart_count"]) >= 1, env["slurm"]
    log = (Path(job.paths.stdout).read_text())
    assert f"this job is {log_word}" in log and "Requeued job" in log, log[-2000:]


@pytest.mark.slurm
@pytest.mark.timeout(900)
def test_preempted_run_is_requeued_and_ends_identical(requeue_setup, cancel_on_exit):
    _wait("an empty queue (the urgent job needs the whole node)",
          lambda: not _run("squeue", "-h", "-o", "%i"), timeout_s=120)
    started = time.monotonic()
    run, job = _submit_one_run(requeue_setup, "preempted",
                               ["launcher.partition=debug", "launcher.timeout_min=30"])
    cancel_on_exit.append(job.job_id)
    reference = _start_reference(requeue_setup)
    try:
        _wait("the run's first checkpoint", lambda: (run.run_dir / "checkpoint.pt").is_file(), timeout_s=180)
        urgent = _run("sbatch", "--parsable", "-p", "urgent", "-c", "2", "-o", "/dev/null", "--wrap", "sleep 15")
        cancel_on_exit.append(urgent)
        _assert_finished_after_requeue(run, job, "preempted")
        assert _sacct_states(urgent) == ["COMPLETED"]
        _assert_identical(_weights(run.run_dir), _reference_weights(requeue_setup, reference))
    finally:
        reference.kill()  # a no-op once it has ended; a failed test leaves no training behind
    print(f"preemption requeue: {len(_sacct_states(job.job_id))} attempts, "
          f"{time.monotonic() - started:.0f} s")
