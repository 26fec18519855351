"""The store never writes into a user's folder, honours the umask, and names bad input early
(issue 17): repro 7 (run_dir= at a user's folder), a store made under umask 002, a foreign or
hand-edited config.yaml, a failed `benchmark train` in status.json, a 1-image test split."""
from __future__ import annotations

import json
import os
import stat

import pytest
import yaml
from tiny_datasets import file_overrides, make_dataset

from benchmark.cli import main
from benchmark.config import compose_config

SMALL = ["profile=smoke", "progress=false", "dataset.train_count=4", "dataset.test_count=3",
         "dataset.size=64", "trainer.iterations=2", "trainer.checkpoint_every=2", "trainer.sample_every=2",
         "evaluation.fid.enabled=false", "evaluation.segmenter.iterations=2"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- repro 7: a user's folder -----------------------------------------------------------------------
def test_run_dir_at_a_users_folder_is_refused_and_left_alone(tmp_path, capsys):
    user = tmp_path / "P"
    user.mkdir()
    (user / "config.yaml").write_text("my: settings\n")
    (user / "train_log.csv").write_text("a,b\n")
    assert main(["train", *SMALL, f"store_dir={tmp_path / 'S'}", f"run_dir={user}"]) == 2
    line = one_error_line(capsys)
    assert "config.yaml is not a run config" in line and "use another run_dir=" in line, line
    assert sorted(p.name for p in user.iterdir()) == ["config.yaml", "train_log.csv"]
    assert (user / "config.yaml").read_text() == "my: settings\n" and (user / "train_log.csv").read_text() == "a,b\n"
    (user / "config.yaml").unlink()  # a folder of the user's files, no config at all
    assert main(["train", *SMALL, f"store_dir={tmp_path / 'S'}", f"run_dir={user}"]) == 2
    line = one_error_line(capsys)
    assert "did not make (it holds train_log.csv)" in line, line
    assert sorted(p.name for p in user.iterdir()) == ["train_log.csv"]


def test_an_empty_folder_and_a_run_of_the_same_config_are_written(tmp_path, capsys):
    run = tmp_path / "empty"
    run.mkdir()
    args = ["train", *SMALL, f"store_dir={tmp_path / 'S'}", f"run_dir={run}"]
    assert main(args) == 0
    assert main(args) == 0, "its own run: found finished"
    assert "trained 2/2" in capsys.readouterr().out


# -- config.yaml: malformed, foreign, edited by hand ------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("seed: [0\n", "is not a readable run config"),
    ("seed: 0\nmodel: {name: cyclegan}\n", "is not a run config of this benchmark (no device"),
])
def test_a_malformed_or_foreign_config_yaml_is_one_line(tmp_path, capsys, text, words):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(text)
    assert main(["evaluate", str(run)]) == 2
    assert words in one_error_line(capsys)
    assert main(["train", *SMALL, f"store_dir={tmp_path / 'S'}", f"run_dir={run}"]) == 2
    assert words in one_error_line(capsys)
    assert (run / "config.yaml").read_text() == text


def test_hand_edits_to_config_yaml_are_refused_with_the_difference(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", *SMALL, f"store_dir={tmp_path / 'S'}", f"run_dir={run}"]
    assert main(args) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["trainer"]["lr"] = 0.1
    edited = yaml.safe_dump(config)
    (run / "config.yaml").write_text(edited)
    assert main(args) == 2
    line = one_error_line(capsys)
    assert "config.yaml differs from the config asked for (trainer.lr: 0.1 != 0.0002)" in line, line
    assert (run / "config.yaml").read_text() == edited, "never silently reverted"
    assert "failed" not in (run / "status.json").read_text(), "a refusal is not this run's failure"


# -- the umask ---------------------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_store_made_under_umask_002_is_group_readable(tmp_path):
    from benchmark.run.train import train

    previous = os.umask(0o002)
    try:
        train(compose_config([*SMALL, f"store_dir={tmp_path / 'S'}"]))
    finally:
        os.umask(previous)
    files = [p for p in (tmp_path / "S").rglob("*") if p.is_file()]
    assert {"config.yaml", "env.json", "checkpoint.pt", "status.json", "train_log.csv"} <= {p.name for p in files}
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert all(mode == 0o664 for mode in modes.values()), modes


# -- status.json after a failed `benchmark train` -----------------------------------------------------
def test_a_failed_train_records_failed_with_the_error(tmp_path, capsys):
    root = make_dataset(tmp_path / "cityscapes", train=12, val=3)
    broken = root / "train" / "1.png"  # not among the label maps sampled when the dataset opens
    broken.write_bytes(broken.read_bytes()[:120])  # header intact, pixels cut off
    run = tmp_path / "run"
    assert main(["train", *file_overrides(root, f"store_dir={tmp_path / 'S'}", f"run_dir={run}",
                                           "trainer.iterations=12", "trainer.checkpoint_every=12")]) == 2
    assert "1.png" in one_error_line(capsys)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and "1.png" in status["error"], status


# -- the preflight: every split big enough for scoring -----------------------------------------------
def test_a_one_image_test_split_stops_before_training(tmp_path, capsys):
    root = make_dataset(tmp_path / "cityscapes", train=4, val=1)
    run = tmp_path / "run"
    overrides = [o for o in file_overrides(root, f"store_dir={tmp_path / 'S'}", f"run_dir={run}")
                 if not o.startswith("evaluation.fid.enabled")]
    assert main(["train", *overrides]) == 2
    line = one_error_line(capsys)
    assert "the val split has 1 photo image" in line and "FID/KID need at least 2" in line, line
    assert not (run / "checkpoint.pt").exists()
    suite = [o for o in overrides if not o.startswith(("dataset=", "run_dir="))]
    assert main(["run", "ablations", "cityscapes", *suite, f"results_dir={tmp_path / 'r'}"]) == 2
    assert "FID/KID need at least 2" in one_error_line(capsys)
    assert not list((tmp_path / "S").rglob("checkpoint.pt")), "no run trained"


def test_max_images_below_two_is_named(tmp_path, capsys):
    root = make_dataset(tmp_path / "cityscapes", train=4, val=3)
    overrides = [o for o in file_overrides(root, f"store_dir={tmp_path / 'S'}", "evaluation.max_images=1")
                 if not o.startswith("evaluation.fid.enabled")]
    assert main(["train", *overrides]) == 2
    assert "(evaluation.max_images=1)" in one_error_line(capsys)
