"""`benchmark run/status/report` on the local launcher, end to end on the embedded default."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmark.cli import main

pytestmark = pytest.mark.xdist_group("smoke_suite")  # one worker trains conftest's smoke_suite once


@pytest.fixture
def suite_store(smoke_suite):
    """The finished smoke ablation suite (conftest.py), shared with the browser test."""
    return smoke_suite


def test_suite_writes_both_tables_and_all_plots(suite_store):
    root, _ = suite_store
    out = root / "results" / "ablations" / "synthetic"
    for table in ("table4", "table5"):
        for ext in ("md", "tex", "csv"):
            assert (out / f"{table}.{ext}").is_file(), f"{table}.{ext}"
    csv = pd.read_csv(out / "table4.csv", comment="#")
    assert len(csv) >= 5
    header = (out / "table4.md").read_text()
    for key in ("commit", "dataset", "resolution", "evaluator", "seeds", "profile"):
        assert key in header, key
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert any(p.startswith("bars_") for p in pngs) and "losses.png" in pngs
    assert any(p.startswith("samples_") for p in pngs) and any(p.startswith("per_class_iou") for p in pngs)


def test_every_run_has_metrics_for_both_directions(suite_store):
    root, _ = suite_store
    metrics = sorted((root / "store").glob("synthetic/*/seed0-*/metrics.json"))
    assert len(metrics) == 5
    for path in metrics:
        m = json.loads(path.read_text())
        assert set(m["directions"]) == {"photo2labels", "labels2photo"}
        assert 0.0 <= m["directions"]["photo2labels"]["per_pixel_acc"] <= 1.0
        assert "disabled" in m["directions"]["labels2photo"]["unavailable"]["fid"]  # FID off in this suite
        n = len(list((path.parent / "test" / "photo2labels").glob("*.png")))
        assert n == m["directions"]["photo2labels"]["num_images"] == 8


def test_rerun_trains_nothing(suite_store, capsys):
    root, args = suite_store
    ckpts = {p: p.stat().st_mtime_ns for p in (root / "store").glob("synthetic/*/*/checkpoint.pt")}
    assert main(["run", "ablations", "synthetic", "profile=smoke", *args]) == 0
    assert "0 of 5 runs to do" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in ckpts} == ckpts


def test_status_shows_done(suite_store, capsys):
    root, args = suite_store
    assert main(["status", "ablations", "synthetic", "profile=smoke", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("| done") == 5


def test_failed_run_does_not_stop_the_others_and_retries_stop(tmp_path, monkeypatch, capsys):
    import benchmark.run.train as train_mod

    real = train_mod.train

    def broken_for_gan_only(cfg, run_dir=None, **kw):
        if cfg.model.name == "gan_only":
            raise RuntimeError("synthetic failure for the test")
        return real(cfg, run_dir, **kw)

    monkeypatch.setattr(train_mod, "train", broken_for_gan_only)
    args = ["profile=smoke", f"store_dir={tmp_path / 's'}", f"results_dir={tmp_path / 'r'}", "progress=false",
            "dataset.train_count=8", "dataset.test_count=4", "dataset.size=64", "trainer.iterations=4",
            "trainer.checkpoint_every=4", "trainer.sample_every=4", "evaluation.segmenter.iterations=5",
            "evaluation.fid.enabled=false", "launcher.max_retries=1"]
    assert main(["run", "ablations", "synthetic", *args]) == 1
    capsys.readouterr()
    assert main(["status", "ablations", "synthetic", *args]) == 1
    status = capsys.readouterr().out
    assert status.count("| done") == 4 and "synthetic failure for the test" in status
    assert main(["run", "ablations", "synthetic", *args]) == 1  # retried once more
    capsys.readouterr()
    # out of retries: left alone, and still a non-zero exit (a run of the suite gave up)
    assert main(["run", "ablations", "synthetic", *args]) == 1
    assert "gave up  gan_only seed 0 after 2 failures" in capsys.readouterr().out


def test_unknown_suite_and_dataset_list_valid_names(capsys):
    assert main(["run", "nope", "synthetic"]) == 2
    assert "ablations" in capsys.readouterr().err
    assert main(["run", "ablations", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "cityscapes" in err and "synthetic" in err


def test_second_run_of_the_same_suite_refuses(tmp_path, capsys):
    from benchmark.config import compose_config
    from benchmark.run.store import exclusive
    from benchmark.suite.jobs import suite_lock_path

    base = compose_config(["dataset=synthetic", f"store_dir={tmp_path}"])
    with exclusive(suite_lock_path(base, "ablations", "synthetic"), "the first run"):
        assert main(["run", "ablations", "synthetic", f"store_dir={tmp_path}", "progress=false"]) == 2
    assert "already running" in capsys.readouterr().err


def test_store_from_a_newer_version_is_refused(tmp_path, capsys):
    (tmp_path / "store.json").write_text(json.dumps({"format": 99}))
    assert main(["run", "ablations", "synthetic", f"store_dir={tmp_path}"]) == 2
    assert "format 99" in capsys.readouterr().err


def test_runs_are_done_seed_by_seed(tmp_path):
    """A suite stopped part-way holds whole seeds of every variant, not all seeds of the first."""
    from benchmark.suite.jobs import runs_to_do
    from benchmark.suite.plan import plan

    _, runs = plan("ablations", "synthetic", ["profile=smoke", "seeds=2", f"store_dir={tmp_path}"])
    todo, _ = runs_to_do(runs, max_retries=2)
    assert [r.seed for r in todo] == [0] * 5 + [1] * 5
    assert [r.variant for r in todo[:5]] == [r.variant for r in todo[5:]] == [r.variant for r in runs[::2]]


def test_workers_train_the_runs_the_sequential_loop_trains(tmp_path, capsys):
    """launcher.workers=2: the evaluator and the runs' training go to two worker processes, then
    the scoring; each run has its metrics, and a run comes out as the in-process trainer makes
    it (the same weights)."""
    import torch

    from benchmark.run.checkpoint import load_checkpoint
    from benchmark.run.train import train
    from benchmark.suite.plan import plan

    tiny = ["profile=smoke", "progress=false", "dataset.train_count=8", "dataset.test_count=4", "dataset.size=64",
            "trainer.iterations=4", "trainer.checkpoint_every=4", "trainer.sample_every=4",
            "evaluation.segmenter.iterations=5", "evaluation.fid.enabled=false", f"store_dir={tmp_path / 's'}"]
    assert main(["run", "ablations", "synthetic", *tiny, "launcher.workers=2",
                 f"results_dir={tmp_path / 'r'}"]) == 0
    out = capsys.readouterr().out
    assert "✓ evaluator" in out  # trained by a worker beside the runs' training, not before it
    _, runs = plan("ablations", "synthetic", tiny)
    for run in runs:
        assert out.count(f"✓ {run.variant} seed 0") == 2  # trained, then scored (the parent says so)
        assert (run.run_dir / "metrics.json").is_file()
    cyclegan = next(r for r in runs if r.variant == "cyclegan")
    train(cyclegan.cfg, tmp_path / "in_process")
    a = load_checkpoint(cyclegan.run_dir / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "in_process" / "checkpoint.pt")["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
