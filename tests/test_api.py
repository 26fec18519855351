"""`benchmark.api` and `python -m benchmark`: the suite from a notebook, on a tiny ablation suite."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from benchmark import api
from benchmark.config import ConfigError
from benchmark.report.runs import LONG_COLUMNS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The ablation suite on the synthetic scenes, as small as it runs (~10 s on 2 busy cores)."""
    root = tmp_path_factory.mktemp("api")
    overrides = [f"store_dir={root / 'store'}", f"results_dir={root / 'results'}", "progress=false",
                 "profile=smoke", "dataset.train_count=8", "dataset.test_count=4", "dataset.size=32",
                 "data.load_size=36", "data.crop_size=32", "trainer.iterations=2", "trainer.sample_every=2",
                 "trainer.checkpoint_every=2", "evaluation.segmenter.iterations=4",
                 "evaluation.fid.enabled=false"]
    before = api.status("ablations", "synthetic", overrides)
    assert api.run("ablations", "synthetic", overrides) == 0
    return root, overrides, before


def test_status_is_one_row_per_planned_run(tiny):
    _, overrides, before = tiny
    assert list(before.columns) == api.STATUS_COLUMNS
    assert before.variant.tolist() == ["cycle_only", "gan_only", "gan_forward", "gan_backward", "cyclegan"]
    assert set(before.state) == {"pending"}
    after = api.status("ablations", "synthetic", overrides)
    assert set(after.state) == {"done"} and after.config_hash.tolist() == before.config_hash.tolist()


def test_results_is_the_reports_long_frame(tiny):
    root, overrides, _ = tiny
    frame = api.results("ablations", "synthetic", overrides)
    assert list(frame.columns) == LONG_COLUMNS
    assert set(frame.variant) == {"cycle_only", "gan_only", "gan_forward", "gan_backward", "cyclegan"}
    assert {"per_pixel_acc", "per_class_acc", "class_iou"} <= set(frame.metric)
    assert set(frame.direction) == {"photo2labels", "labels2photo"}
    assert frame.config_hash.notna().all() and frame.commit.notna().all()
    written = pd.read_csv(root / "results" / "ablations" / "synthetic" / "scores_long.csv")
    keys = ["variant", "seed", "direction", "metric"]
    mine, theirs = frame.sort_values(keys).reset_index(drop=True), written.sort_values(keys).reset_index(drop=True)
    same = keys + ["config_hash", "commit"]
    assert mine[same].astype(str).equals(theirs[same].astype(str))
    assert mine.value.to_numpy() == pytest.approx(theirs.value.to_numpy())


def test_describe_gives_the_planned_runs_identity(tiny):
    _, overrides, before = tiny
    described = api.describe(["dataset=synthetic", *overrides, "model=cyclegan", "seed=0"])
    assert set(described) == {"networks", "config", "config_hash"}
    assert set(described["networks"]) == {"G", "F", "D_X", "D_Y"}
    assert described["config_hash"] == before.set_index("variant").config_hash["cyclegan"]


def test_bad_input_raises_instead_of_returning_2():
    with pytest.raises(ConfigError, match="unknown suite 'nosuch'"):
        api.run("nosuch", "synthetic")


def test_python_dash_m_benchmark(tiny):
    _, overrides, _ = tiny
    done = subprocess.run([sys.executable, "-m", "benchmark", "status", "ablations", "synthetic", *overrides],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("| done") == 5, done.stdout


def test_strict_rerun_trains_nothing_and_exits_0(tiny, capsys):
    root, overrides, _ = tiny
    checkpoints = {p: p.stat().st_mtime_ns for p in (root / "store").glob("synthetic/*/*/checkpoint.pt")}
    assert len(checkpoints) == 5
    assert api.run("ablations", "synthetic", overrides, strict=True) == 0
    assert "0 of 5 runs to do" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == checkpoints
