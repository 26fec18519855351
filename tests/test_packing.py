"""launcher.runs_per_gpu=k: k runs in one job, each resumable on its own (benchmark/suite/packing.py).

The grouping rules are checked here directly; the one SLURM test packs two runs of the
ablation suite into ONE job with a 1-minute limit, so the job is cut by its time limit and
requeued, and both runs must end finished, each having resumed from its own checkpoint (the
single-run requeue tests in test_slurm_suite.py show such a resume ends bit-identical).
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest
from omegaconf import OmegaConf

from benchmark.suite import packing


def test_pack_keeps_order_and_puts_the_rest_last():
    assert packing.pack([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert packing.pack([1, 2, 3], 1) == [[1], [2], [3]]
    assert packing.pack([1, 2], 4) == [[1, 2]]
    with pytest.raises(ValueError, match=">= 1"):
        packing.pack([1], 0)


def test_runs_per_gpu_is_read_and_checked_with_the_config():
    from benchmark.config import ConfigError, compose_config

    assert packing.runs_per_gpu(OmegaConf.create({})) == 1
    assert packing.runs_per_gpu(OmegaConf.create({"runs_per_gpu": 3})) == 3
    for bad in (0, -2, "two"):  # refused when the config is composed, before anything is planned
        with pytest.raises(ConfigError, match=r"launcher.runs_per_gpu=.*integer >= 1"):
            compose_config(["launcher=slurm", f"launcher.runs_per_gpu={bad}"])


def test_children_split_the_jobs_cpus_and_the_job_asks_for_k_runs_worth():
    assert packing.child_threads(8, 2) == 4 and packing.child_threads(2, 4) == 1
    launcher = OmegaConf.create({"cpus_per_task": 2, "mem_gb": 4})
    assert packing.packed_resources(launcher, 3) == {"cpus_per_task": 6, "mem_gb": 12.0}


def test_submit_packed_gives_each_run_its_groups_job():
    class Executor:
        def __init__(self):
            self.submitted = []

        def submit(self, fn, payload):
            self.submitted.append((type(fn).__name__, payload))
            return f"job{len(self.submitted)}"

    runs = [OmegaConf.create({"cfg": i}) for i in range(5)]
    executor = Executor()
    jobs = packing.submit_packed(executor, runs, 2, lambda cfg: cfg)
    assert jobs == ["job1", "job1", "job2", "job2", "job3"]
    assert [name for name, _ in executor.submitted] == ["PackedRunJob"] * 3
    assert [len(payload) for _, payload in executor.submitted] == [2, 2, 1]


@pytest.mark.slow
def test_a_failed_run_fails_alone_and_is_named(tmp_path):
    """A child whose run cannot start (its dataset is missing) is named in one error line."""
    from benchmark.config import compose_config, run_dir_of

    base = ["profile=smoke", "progress=false", f"store_dir={tmp_path / 'store'}"]
    broken = compose_config([*base, "dataset=cityscapes", f"data_root={tmp_path / 'nowhere'}"])
    with pytest.raises(packing.PackedRunsError, match=r"1 of 1 packed runs failed: .*cityscapes.*exit 1"):
        packing.run_packed([OmegaConf.to_container(broken, resolve=True)], cpus=1)
    assert str(run_dir_of(broken)).startswith(str(tmp_path / "store"))


# -- on the local SLURM cluster ------------------------------------------------------------------
SUITE = ["ablations", "synthetic"]
TINY = ["profile=smoke", "progress=false", "dataset.train_count=16", "dataset.test_count=8",
        "dataset.size=64", "evaluation.segmenter.iterations=20", "evaluation.fid.enabled=false"]
TRAIN_SECONDS = 75  # work per run at one thread: more than one 1-minute attempt can do (<= ~45 s; 35 finished in one)


def _sacct_states(job_id: str) -> list[str]:
    out = subprocess.run(["sacct", "-j", job_id, "-n", "-X", "-D", "-P", "-o", "State"],
                         capture_output=True, text=True, timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@pytest.mark.slurm
@pytest.mark.timeout(900)
def test_two_runs_share_one_job_and_each_resumes_after_its_time_limit(tmp_path):
    import pandas as pd
    import torch
    from slurm_helpers import require_slurm

    from benchmark.config import compose_config
    from benchmark.run.evaluate import ensure_segmenter, evaluation_hash
    from benchmark.run.store import run_state
    from benchmark.run.train import train
    from benchmark.suite.launcher import submit_slurm, wait_for, wait_for_runs
    from benchmark.suite.plan import plan

    require_slurm()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:  # calibrate the work to this machine, one thread like each child
        calib = compose_config(["dataset=synthetic", *TINY, f"run_dir={tmp_path / 'calibration'}",
                                "trainer.iterations=40", "trainer.checkpoint_every=40",
                                "trainer.sample_every=40"])
        train(calib)
        # The fast end of the calibration, not its median: it runs beside the other test workers,
        # and a rate measured under that load sized a run one 1-minute attempt could finish (its
        # env.json then had no restart count). The jobs may run alone on the node.
        speeds = pd.read_csv(tmp_path / "calibration" / "train_log.csv")["it_per_s"][10:]
        rate = float(speeds.quantile(0.9))
        every = max(10, int(rate * 4))
        iterations = every * max(6, round(rate * TRAIN_SECONDS / every))
        identity = [*TINY, f"store_dir={tmp_path / 'store'}", f"trainer.iterations={iterations}",
                    f"trainer.checkpoint_every={every}", f"trainer.sample_every={iterations}"]
        ensure_segmenter(compose_config(["dataset=synthetic", *identity]), progress=False)
    finally:
        torch.set_num_threads(threads)

    base, runs = plan(*SUITE, [*identity, "launcher=slurm", "launcher.cpus_per_task=1",
                               "launcher.mem_gb=1", "launcher.runs_per_gpu=2", "launcher.timeout_min=1",
                               "launcher.signal_delay_s=10", f"launcher.folder={tmp_path / 'logs'}"])
    runs = [r for r in runs if r.variant in ("cyclegan", "gan_only")]
    started = time.monotonic()
    jobs = submit_slurm(base, runs, suite="packing-test")
    try:
        assert len(jobs) == 1, "two runs, runs_per_gpu=2: one job"
        ids = {json.loads((r.run_dir / "slurm.json").read_text())["job_id"] for r in runs}
        assert ids == {jobs[0].job_id}
        wait_for(jobs, poll_s=2)
        # and until SLURM itself has no live state for the job: between a requeue and the next
        # attempt submitit has read it as done, and the scancel below then cut the job off
        wait_for_runs([r.run_dir for r in runs], poll_s=2)
    finally:
        subprocess.run(["scancel", jobs[0].job_id], capture_output=True, timeout=30)
    states = _sacct_states(jobs[0].job_id)
    assert len(states) >= 2 and "REQUEUED" in states[:-1] and states[-1] == "COMPLETED", states
    for run in runs:
        assert run_state(run.run_dir, evaluation_hash(run.cfg)).finished, (run.run_dir / "status.json").read_text()
        env = json.loads((run.run_dir / "env.json").read_text())
        assert int(env["slurm"]["restart_count"]) >= 1, env["slurm"]
        log = pd.read_csv(run.run_dir / "train_log.csv")
        assert list(log["iteration"]) == list(range(iterations)), "each run resumed where it stopped"
    print(f"packed: 2 runs in job {jobs[0].job_id}, {len(states)} attempts, "
          f"{time.monotonic() - started:.0f} s ({iterations} iterations each)")
