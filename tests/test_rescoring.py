"""Re-scoring a run (issue 17): only this evaluation's images are counted, and `benchmark
evaluate RUN key=value` is checked like any override and never replaces the run's metrics.json.

Repro 1 of the issue: a run scored on 6 test images, then re-scored with
`evaluation.max_images=3`, used to count 6 generated images against 3 real ones in FID/KID while
metrics.json said 3. Here the counts are 3 and 3, and the FID is the one a clean copy of the run
scores.
"""
from __future__ import annotations

import json
import shutil

import pytest

from benchmark.cli import main
from benchmark.config import compose_config
from benchmark.run.evaluate import evaluate_run
from benchmark.run.train import train

SMALL = ["profile=smoke", "progress=false", "dataset.train_count=8", "dataset.test_count=6",
         "dataset.size=64", "trainer.iterations=4", "trainer.checkpoint_every=2", "trainer.sample_every=4",
         "evaluation.segmenter.iterations=10"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("rescore")
    overrides = [*SMALL, f"store_dir={root / 'store'}", f"run_dir={root / 'run'}"]
    train(compose_config(overrides))
    clean = root / "clean"
    shutil.copytree(root / "run", clean)  # the same weights, never scored
    return root, overrides, clean


def _pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


def test_rescoring_with_fewer_images_counts_only_them_and_matches_a_clean_run(trained):
    root, overrides, clean = trained
    run = root / "run"
    full = evaluate_run(run, compose_config(overrides), progress=False)
    assert full["directions"]["labels2photo"]["num_generated"] == 6
    fewer = evaluate_run(run, compose_config([*overrides, "evaluation.max_images=3"]), progress=False)
    fresh = evaluate_run(clean, compose_config([*overrides, f"run_dir={clean}", f"store_dir={root / 'other'}",
                                                "evaluation.max_images=3"]), progress=False)
    for name, scores in fewer["directions"].items():
        assert scores["num_images"] == 3 and len(_pngs(run / "test" / name)) == 3, name
    l2p, clean_l2p = fewer["directions"]["labels2photo"], fresh["directions"]["labels2photo"]
    assert l2p["num_generated"] == l2p["num_real"] == 3
    assert l2p["fid"] == pytest.approx(clean_l2p["fid"], rel=1e-6, abs=1e-6)
    assert l2p["kid"] == pytest.approx(clean_l2p["kid"], rel=1e-6, abs=1e-9)
    assert fewer["evaluation"]["num_images"] == 3
    assert json.loads((run / "metrics.json").read_text()) == fewer
    assert not [p for p in (run).iterdir() if ".new-" in p.name or ".old-" in p.name], "no folder left over"


def test_a_failed_rescore_leaves_the_previous_images(trained, monkeypatch):
    from benchmark.run import evaluate

    root, overrides, _ = trained
    run = root / "run"
    evaluate_run(run, compose_config([*overrides, "evaluation.fid.enabled=false"]), progress=False)
    before = {d.name: _pngs(d) for d in (run / "test").iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("scoring failed halfway")

    monkeypatch.setattr(evaluate, "score_generated_photos", broken)
    with pytest.raises(RuntimeError, match="halfway"):
        evaluate_run(run, compose_config([*overrides, "evaluation.fid.enabled=false",
                                          "evaluation.max_images=2"]), progress=False)
    assert {d.name: _pngs(d) for d in (run / "test").iterdir()} == before
    assert not [p for p in run.iterdir() if ".new-" in p.name]


# -- benchmark evaluate RUN key=value ---------------------------------------------------------------
def test_evaluate_subset_writes_its_own_metrics_and_keeps_the_full_set(trained, capsys):
    root, overrides, _ = trained
    run = root / "run"
    # the run's own settings score the full set into metrics.json (whatever ran before: the tests
    # of this module may run in any order, or on different xdist workers)
    assert main(["evaluate", str(run)]) == 0
    full = (run / "metrics.json").read_text()
    capsys.readouterr()
    assert main(["evaluate", str(run), "evaluation.fid.enabled=false", "evaluation.max_images=2", "--json"]) == 0
    subset = json.loads(capsys.readouterr().out)
    assert (run / "metrics.json").read_text() == full, "the full-set metrics.json is never replaced"
    own = run / "evaluations" / subset["evaluation"]["evaluation_hash"]
    assert json.loads((own / "metrics.json").read_text()) == subset
    assert subset["evaluation"]["num_images"] == 2 and len(_pngs(own / "test" / "photo2labels")) == 2
    assert len(_pngs(run / "test" / "photo2labels")) == 6


@pytest.mark.parametrize("override, words", [
    ("evaluation.max_imgs=5", ["unknown key evaluation.max_imgs", "max_images"]),
    ("evaluation.resolution=7", ["evaluation.resolution=7", ">= 16"]),
    ("trainer.iterations=8", ["trainer.iterations is part of the trained run's identity"]),
    ("evaluation.max_images=abc", ["evaluation.max_images='abc'", "an integer"]),
])
def test_evaluate_overrides_are_checked_like_any_other(trained, capsys, override, words):
    root, _, _ = trained
    before = (root / "run" / "metrics.json").read_bytes() if (root / "run" / "metrics.json").exists() else None
    assert main(["evaluate", str(root / "run"), override]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and line.startswith("error:"), line
    for word in words:
        assert word in line, (word, line)
    after = (root / "run" / "metrics.json").read_bytes() if (root / "run" / "metrics.json").exists() else None
    assert after == before
