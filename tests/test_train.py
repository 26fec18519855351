"""Training: schedule, run directory contents, exact resume, and bad input that loses nothing."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from benchmark.config import compose_config
from benchmark.run.checkpoint import load_checkpoint
from benchmark.run.train import (
    CHECKPOINT,
    CheckpointMismatchError,
    NonFiniteLossError,
    iteration_budget,
    linear_decay,
    train,
)
from models.cyclegan import CycleGANFamily


def smoke(run_dir, *extra):
    return compose_config(["profile=smoke", "dataset=synthetic", f"run_dir={run_dir}",
                           "trainer.iterations=8", "trainer.checkpoint_every=4",
                           "trainer.sample_every=4", "progress=false", "dataset.train_count=8",
                           "dataset.test_count=4", "dataset.size=64", *extra])


def weights(run_dir):
    return load_checkpoint(run_dir / CHECKPOINT)  # the weights-only loader training itself uses


def test_linear_decay_schedule_values():
    f = linear_decay(decay_start=100, total=200)
    assert [f(s) for s in (0, 50, 100, 150, 199, 200)] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.01, 0.0])


def test_iteration_budget_paper_epochs_and_fractions():
    paper = compose_config(["profile=paper", "dataset=cityscapes"]).trainer
    assert iteration_budget(paper, 2975) == (200 * 2975, 100 * 2975)
    smoke_t = compose_config(["profile=smoke"]).trainer
    assert iteration_budget(smoke_t, 10) == (120, 60)


def test_lr_follows_the_schedule_during_training(tmp_path):
    train(smoke(tmp_path, "trainer.decay_fraction=0.5"))
    import pandas as pd

    lr = pd.read_csv(tmp_path / "train_log.csv")["lr"].tolist()
    assert lr[:5] == pytest.approx([2e-4] * 5)
    assert lr[5:] == pytest.approx([2e-4 * 0.75, 2e-4 * 0.5, 2e-4 * 0.25])


def test_run_directory_holds_everything(tmp_path):
    result = train(smoke(tmp_path))
    assert result["iteration"] == 8
    for name in ("config.yaml", "env.json", "train_log.csv", "status.json", CHECKPOINT):
        assert (tmp_path / name).is_file(), name
    env = json.loads((tmp_path / "env.json").read_text())
    assert {"commit", "dirty", "versions", "device", "config_hash"} <= set(env)
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "trained"
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["iter_0000004.png", "iter_0000008.png"]
    import pandas as pd

    log = pd.read_csv(tmp_path / "train_log.csv")
    assert log["iteration"].tolist() == list(range(8))
    assert {"loss_G_gan_y", "loss_F_gan_x", "loss_forward_cycle", "loss_backward_cycle",
            "loss_D_X", "loss_D_Y"} <= set(log.columns)
    ckpt = weights(tmp_path)
    assert ckpt["iteration"] == 8 and set(ckpt["training"]["optimizers"]) == {"G", "D"}


def test_stopped_and_resumed_run_ends_with_identical_weights(tmp_path):
    train(smoke(tmp_path / "straight"))
    train(smoke(tmp_path / "resumed"), stop_after=4)
    assert weights(tmp_path / "resumed")["iteration"] == 4
    again = train(smoke(tmp_path / "resumed"))
    assert again["resumed_from"] == 4
    a, b = weights(tmp_path / "straight")["model"], weights(tmp_path / "resumed")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    import pandas as pd

    log = pd.read_csv(tmp_path / "resumed" / "train_log.csv")
    assert log["iteration"].tolist() == list(range(8)), "resumed log must not repeat iterations"


@pytest.mark.slow
def test_killed_process_resumes_exactly(tmp_path):
    """SIGKILL a real `benchmark train` process mid-run; the same command finishes it exactly."""
    args = ["profile=smoke", "dataset=synthetic", "trainer.iterations=40", "trainer.checkpoint_every=5",
            "trainer.sample_every=40", "progress=false", "dataset.train_count=8", "dataset.test_count=4",
            "dataset.size=64"]
    cmd = [sys.executable, "-m", "benchmark.cli", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = tmp_path / "straight"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the OMP_NUM_THREADS=1 subprocesses
    try:
        train(compose_config([*args, f"run_dir={straight}"]))
    finally:
        torch.set_num_threads(threads)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, f"run_dir={killed}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # Kill once the first checkpoint is written and recorded (status.json follows the save), so
    # the process is past it, in the iterations after: a condition, not a machine-speed guess.
    deadline = time.time() + 120

    def past_first_checkpoint() -> bool:
        try:
            return json.loads((killed / "status.json").read_text()).get("iteration", 0) >= 5
        except (OSError, ValueError):
            return False

    while time.time() < deadline and not past_first_checkpoint():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reached = weights(killed)["iteration"]
    assert 5 <= reached < 40, f"kill came too late to test anything (iteration {reached})"
    subprocess.run([*cmd, f"run_dir={killed}"], check=True, env=env, capture_output=True)
    a, b = weights(straight)["model"], weights(killed)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_of_another_config_is_refused(tmp_path):
    train(smoke(tmp_path), stop_after=4)
    with pytest.raises(CheckpointMismatchError, match=r"model.lambda_forward: 10.0 != 5.0"):
        train(smoke(tmp_path, "model.lambda_forward=5.0"))
    assert weights(tmp_path)["iteration"] == 4


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = CycleGANFamily.train_step
    calls = {"n": 0}

    def exploding(self, x, y):
        calls["n"] += 1
        out = real(self, x, y)
        return {**out, "loss_D_Y": float("nan")} if calls["n"] == 6 else out

    monkeypatch.setattr(CycleGANFamily, "train_step", exploding)
    with pytest.raises(NonFiniteLossError, match="iteration 5"):
        train(smoke(tmp_path))
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and status["iteration"] == 5
    assert weights(tmp_path)["iteration"] == 4


def test_disk_full_while_saving_keeps_previous_checkpoint(tmp_path, monkeypatch):
    saves = {"n": 0}
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        saves["n"] += 1
        if saves["n"] == 2:
            with open(f, "wb") as fh:
                fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=r"disk full: .* the previous checkpoint .*checkpoint.pt is intact"):
        train(smoke(tmp_path))
    assert weights(tmp_path)["iteration"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("extra", [["trainer.precision=bf16"], ["trainer.channels_last=true"]])
def test_mixed_precision_and_channels_last_train(tmp_path, extra):
    result = train(smoke(tmp_path, "trainer.iterations=2", *extra))
    assert result["iteration"] == 2


@pytest.mark.parametrize("preset,nets", [("cyclegan", {"G", "F", "D_X", "D_Y"}), ("cycle_only", {"G", "F"})])
def test_describe_json_lists_built_networks(preset, nets, capsys):
    from benchmark.cli import main

    assert main(["describe", f"model={preset}", "profile=paper", "dataset=cityscapes", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["networks"]) == nets
    assert out["networks"]["G"] == 7_837_699  # 6 blocks at 128², 64 filters
    if "D_Y" in nets:
        assert out["networks"]["D_Y"] == 2_764_737
    assert out["config"]["dataset"]["x_domain"] == "photo"


def test_unknown_model_lists_valid_names(capsys):
    from benchmark.cli import main

    assert main(["train", "model=nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cyclegan" in err and "gan_forward" in err
