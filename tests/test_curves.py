"""`logger=tensorboard`: the curves are read back from the event files, and a run killed after its
last checkpoint and resumed shows every step exactly once, with the resumed run's values."""
from __future__ import annotations

import pandas as pd
import pytest

from benchmark.config import compose_config, config_hash
from benchmark.run import train as train_module
from benchmark.run.train import train

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package is not installed (it comes with the test extra)")


def tiny(run_dir, *extra):
    return compose_config(["profile=smoke", "dataset=synthetic", f"run_dir={run_dir}", "logger=tensorboard",
                           "trainer.iterations=10", "trainer.checkpoint_every=4", "trainer.log_every=1",
                           "trainer.sample_every=5", "progress=false", "dataset.train_count=8",
                           "dataset.test_count=4", "dataset.size=64", *extra])


def read_events(run_dir):
    acc = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"),
                                             size_guidance={event_accumulator.SCALARS: 0,
                                                            event_accumulator.IMAGES: 0})
    return acc.Reload()


def raw_steps(run_dir, tag):
    """Every step recorded for `tag` in every event file, duplicates and all (no purging)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps = []
    for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return steps


class Killed(Exception):
    pass


def test_curves_hold_every_logged_value(tmp_path):
    train(tiny(tmp_path))
    acc = read_events(tmp_path)
    log = pd.read_csv(tmp_path / "train_log.csv")
    losses = [c for c in log.columns if c.startswith("loss_")]
    assert losses and set(losses) | {"learning_rate", "s_per_iteration"} <= set(acc.Tags()["scalars"])
    for name in losses:
        events = acc.Scalars(name)
        assert [e.step for e in events] == log["iteration"].tolist()
        assert [e.value for e in events] == pytest.approx(log[name].tolist(), rel=1e-6)
    assert [e.value for e in acc.Scalars("learning_rate")] == pytest.approx(log["lr"].tolist())
    assert [e.step for e in acc.Images("samples")] == [4, 9]  # after iterations 5 and 10


def test_killed_and_resumed_run_has_no_duplicate_step(tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    train(tiny(whole))

    interrupted = tmp_path / "interrupted"
    original = train_module.TrainStep.__call__

    def dies_at_seven(self, iteration, batch):
        if iteration == 7:  # steps 4, 5, 6 are logged but the last checkpoint is at 4
            raise Killed
        return original(self, iteration, batch)

    monkeypatch.setattr(train_module.TrainStep, "__call__", dies_at_seven)
    with pytest.raises(Killed):
        train(tiny(interrupted))
    monkeypatch.setattr(train_module.TrainStep, "__call__", original)
    assert raw_steps(interrupted, "loss_G_total") == list(range(7))
    train(tiny(interrupted))

    # The redone steps were written twice; TensorBoard's reader keeps the resumed session's.
    assert sorted(raw_steps(interrupted, "loss_G_total")) == sorted([*range(10), 4, 5, 6])
    resumed, reference = read_events(interrupted), read_events(whole)
    for name in reference.Tags()["scalars"]:
        if name == "s_per_iteration":  # timing, not a function of the seed
            continue
        got, want = resumed.Scalars(name), reference.Scalars(name)
        assert [e.step for e in got] == list(range(10)), name
        assert [e.value for e in got] == pytest.approx([e.value for e in want]), name


def test_logger_is_not_part_of_the_run_identity(tmp_path):
    assert config_hash(tiny(tmp_path)) == config_hash(tiny(tmp_path, "logger=csv"))


def test_unknown_logger_names_the_valid_ones(tmp_path):
    with pytest.raises(Exception, match="csv.*tensorboard"):
        tiny(tmp_path, "logger=visdom")
