"""Issue 9: each defect a new user hit, tried where the user is — the `benchmark` command.

Subprocesses run the installed console script (one thread, like CI); where a fault has to be
injected (a full disk) the same `main` runs in this process with the fault patched in.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.cli import main
from benchmark.config import compose_config, job_payload
from benchmark.run.checkpoint import load_checkpoint
from evaluation.labels import TRAIN_PALETTE

REPO = Path(__file__).resolve().parents[1]
TINY = ["profile=smoke", "progress=false", "dataset.train_count=8", "dataset.test_count=4",
        "dataset.size=64", "trainer.iterations=8", "trainer.checkpoint_every=4",
        "trainer.sample_every=8", "evaluation.segmenter.iterations=5", "evaluation.fid.enabled=false"]


def benchmark(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """The console script as a user runs it: (exit code, stdout, stderr)."""
    exe = Path(sys.executable).with_name("benchmark")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "benchmark.cli"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    proc = subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in env.items() if v is not None})  # None: unset
    return proc.returncode, proc.stdout, proc.stderr


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


# -- 1. launcher=slurm: the job gets a resolved config and never resolves it again ----------------
def test_shipped_slurm_config_runs_inside_a_job_and_its_run_evaluates(tmp_path):
    from benchmark.suite.jobs import execute_run

    cfg = compose_config([*TINY, "launcher=slurm", f"store_dir={tmp_path / 'store'}",
                          f"run_dir={tmp_path / 'run'}"])
    metrics = execute_run(job_payload(cfg))  # what RunJob does inside the SLURM job
    assert set(metrics["directions"]) == {"photo2labels", "labels2photo"}
    assert "${SLURM_CPUS_PER_TASK:-1}" in (tmp_path / "run" / "config.yaml").read_text()
    code, out, err = benchmark("evaluate", str(tmp_path / "run"), "--json")
    assert code == 0, err
    assert set(json.loads(out)["directions"]) == {"photo2labels", "labels2photo"}


# -- 2. the headline command on real data runs the paper's protocol, and says what it costs ------
def test_real_dataset_defaults_to_paper_and_a_cpu_plan_stops_with_the_options(shared_data, tmp_path):
    code, out, err = benchmark("run", "ablations", "cityscapes", f"store_dir={tmp_path / 'store'}",
                               env={"BENCHMARK_DATA": str(shared_data)})
    assert code == 2, out + err
    assert "profile=paper" in out and "595,000 iterations a run" in out and "s/iteration" in out
    line = error_line(err)
    for word in ("profile=cpu", "launcher=slurm", "--yes", "days"):
        assert word in line, line
    assert not list((tmp_path / "store").rglob("checkpoint.pt")), "nothing may train"


def test_a_finished_suite_measures_nothing(tmp_path, capsys):
    from benchmark.run import cost

    calls = []
    real = cost.seconds_per_iteration
    args = ["ablations", "synthetic", *TINY, "trainer.iterations=2", "trainer.checkpoint_every=2",
            "trainer.sample_every=2", f"store_dir={tmp_path / 's'}", f"results_dir={tmp_path / 'r'}"]
    try:
        cost.seconds_per_iteration = lambda *a, **k: calls.append(1) or real(*a, **k)
        assert main(["run", *args]) == 0
        assert len(calls) == 1 and "estimate:" in capsys.readouterr().out
        assert main(["run", *args]) == 0
        assert len(calls) == 1 and "estimate:" not in capsys.readouterr().out
    finally:
        cost.seconds_per_iteration = real


def test_runs_left_only_to_score_are_not_counted_as_training(tmp_path, capsys):
    """A store of trained, unscored runs (new evaluation settings) measures and plans no training."""
    from benchmark import cli
    from benchmark.run import cost
    from benchmark.run.train import train

    cfg = compose_config([*TINY, "dataset=synthetic", "trainer.iterations=2", "trainer.checkpoint_every=2",
                          "trainer.sample_every=2", f"run_dir={tmp_path / 'run'}"])
    train(cfg)
    real, calls = cost.seconds_per_iteration, []
    try:
        cost.seconds_per_iteration = lambda *a, **k: calls.append(1) or real(*a, **k)
        cli.preflight(cfg, [tmp_path / "run"], what="scoring only", confirmed=False)
    finally:
        cost.seconds_per_iteration = real
    assert calls == [] and "plan:" not in capsys.readouterr().out


@pytest.mark.parametrize("model", ["cogan", "pix2pix", "cyclegan"])
def test_the_cost_probe_builds_crop_sized_models_for_its_smaller_crop(model):
    """CoGAN and the U-Net are sized to the crop: timed at 32² they must be built for 32², and
    the estimate is still scaled to the real 64² crop (found: the cpu-profile CoGAN run died in
    the probe with 'Kernel size can't be greater than actual input size')."""
    import torch

    from benchmark.run import cost

    cfg = compose_config([f"model={model}", "dataset=synthetic", "profile=cpu"])
    per_it, side = cost.seconds_per_iteration(cfg, torch.device("cpu"))
    assert side == cost.CPU_PROBE_SIDE < int(cfg.data.crop_size) and per_it > 0
    assert int(cfg.data.crop_size) == 64, "the probe must not change the caller's config"


# -- 4. a torn checkpoint: named, the previous one used, stale temporaries removed ----------------
def _train_args(run_dir: Path, *extra: str) -> list[str]:
    return ["profile=smoke", "dataset=synthetic", f"run_dir={run_dir}", "progress=false",
            "dataset.train_count=8", "dataset.test_count=4", "dataset.size=64",
            "trainer.checkpoint_every=4", "trainer.sample_every=12", *extra]


def test_truncated_checkpoint_falls_back_to_the_previous_and_ends_identical(tmp_path):
    from benchmark.run.train import train

    train(compose_config(_train_args(tmp_path / "straight", "trainer.iterations=12")))
    run = tmp_path / "torn"
    train(compose_config(_train_args(run, "trainer.iterations=12")), stop_after=8)
    assert load_checkpoint(run / "checkpoint.prev.pt")["iteration"] == 4
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])   # a torn write
    (run / ".checkpoint.pt.x1y2.tmp").write_bytes(b"left by a kill")

    code, out, err = benchmark("train", *_train_args(run, "trainer.iterations=12"))
    assert code == 0, err
    assert f"{run / 'checkpoint.pt'} is unusable" in err and "previous checkpoint" in err, err
    assert "iteration 4" in err and (run / "checkpoint.pt.corrupt").exists()
    assert not list(run.glob(".checkpoint*.tmp"))
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["model"]
    b = load_checkpoint(run / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed from iteration 4, exactly"


def test_every_checkpoint_torn_is_one_line_naming_them(tmp_path, capsys):
    from benchmark.run.train import train

    run = tmp_path / "run"
    train(compose_config(_train_args(run, "trainer.iterations=8")))
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (run / name).write_bytes(b"PK\x03\x04 torn")
    assert main(["train", *_train_args(run, "trainer.iterations=12")]) == 2
    line = error_line(capsys.readouterr().err)
    assert "checkpoint.pt is unusable" in line and "checkpoint.prev.pt is unusable" in line


# -- 5. a full disk says so: where, how much is free, how much is needed -------------------------
def test_disk_full_while_saving_says_where_and_how_much(tmp_path, monkeypatch, capsys):
    import shutil

    from benchmark.run import checkpoint

    saves = {"n": 0}
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        saves["n"] += 1
        if saves["n"] == 2:
            Path(f).write_bytes(b"partial")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 884")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full_disk)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 2048, 2048))
    run = tmp_path / "run"
    assert main(["train", *_train_args(run, "trainer.iterations=8")]) == 2
    line = error_line(capsys.readouterr().err)
    for word in ("disk full", str(run / "checkpoint.pt"), "iteration 8", "needs about", "MiB",
                 "2.0 KiB free", "is intact"):
        assert word in line, (word, line)
    monkeypatch.undo()
    assert load_checkpoint(run / "checkpoint.pt")["iteration"] == 4
    assert not list(run.glob(".checkpoint*.tmp"))


# -- 6. a corrupt cached evaluator is named and retrained -----------------------------------------
def test_corrupt_evaluator_is_named_and_retrained(tmp_path, capsys):
    args = ["evaluator", "train", "synthetic", *TINY, f"store_dir={tmp_path}"]
    assert main(args) == 0
    path = next(tmp_path.glob("_evaluators/synthetic/*/segmenter.pt"))
    path.write_bytes(path.read_bytes()[:1000])
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"the cached evaluator {path} is corrupt" in err, err
    assert path.with_name("segmenter.pt.corrupt").exists()
    assert "state_dict" in torch.load(path, weights_only=True), "a whole evaluator again"


# -- 7. values are checked when the config is composed --------------------------------------------
def test_bad_value_is_one_line_with_key_value_and_range():
    code, _, err = benchmark("train", "trainer.iterations=abc")
    assert code == 2
    line = error_line(err)
    assert "trainer.iterations='abc'" in line and "an integer >= 1" in line


@pytest.mark.parametrize("override", ["seeds=0", "trainer.iterations=0"])
def test_zero_seeds_or_iterations_stop_before_anything_runs(tmp_path, capsys, override):
    assert main(["run", "ablations", "synthetic", override, f"store_dir={tmp_path}"]) == 2
    assert ">= 1" in error_line(capsys.readouterr().err)
    assert not (tmp_path / "synthetic").exists()


# -- 8. every image's header, a sample of the labels, and the whole test split, before training ---
def _pair_file(path: Path, label_half: np.ndarray | None = None, *, size=(64, 32), mode="RGB") -> None:
    rng = np.random.default_rng(len(path.name))
    h = size[1]
    label = label_half if label_half is not None else TRAIN_PALETTE[(np.arange(h)[:, None] // 8
                                                                    + np.arange(h)[None, :] // 8) % 19]
    photo = rng.integers(0, 256, label.shape, dtype=np.uint8)
    img = Image.fromarray(np.concatenate([photo, label], axis=1)).resize(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert(mode).save(path)


def _dataset(root: Path, n: int = 6) -> None:
    for split in ("train", "val"):
        for i in range(n):
            _pair_file(root / split / f"{i}.png")


def _train_on(root: Path, run: Path) -> list[str]:
    return ["train", "dataset=cityscapes", f"dataset.root={root}", "profile=smoke", "progress=false",
            f"run_dir={run}", "trainer.iterations=2", "evaluation.fid.enabled=false"]


def test_bad_image_headers_are_listed_in_one_line(tmp_path, capsys):
    """Greyscale and alpha files are converted when loaded (benchmark/data/rgb.py), not listed."""
    root = tmp_path / "data"
    _dataset(root)
    _pair_file(root / "train" / "gray.png", mode="L")
    _pair_file(root / "train" / "alpha.png", mode="RGBA")
    (root / "train" / "broken.png").write_bytes(b"not a png")
    _pair_file(root / "train" / "tiny.png", size=(16, 8))
    _pair_file(root / "train" / "wide.png", size=(96, 32))
    for i in range(4):
        _pair_file(root / "train" / f"zz{i}.png", size=(96, 32))  # sorted after the five above
    assert main(_train_on(root, tmp_path / "run")) == 2
    line = error_line(capsys.readouterr().err)
    assert "7 of 15 image files" in line and "and 2 more" in line, line
    for word in ("broken.png: not readable", "tiny.png: 16x8 is tiny", "wide.png: 96x32 is not two square images"):
        assert word in line, (word, line)
    assert "gray.png" not in line and "alpha.png" not in line
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_off_palette_label_late_in_the_split_is_found_at_open(tmp_path, capsys):
    root = tmp_path / "data"
    _dataset(root)
    photo_half = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    _pair_file(root / "train" / "5.png", photo_half)  # the last file: item 0 is fine
    assert main(_train_on(root, tmp_path / "run")) == 2
    line = error_line(capsys.readouterr().err)
    assert "5.png" in line and "not a colour label map" in line


def test_unreadable_test_image_stops_before_training(tmp_path, capsys):
    root = tmp_path / "data"
    _dataset(root, n=12)
    broken = root / "val" / "4.png"  # not among the label maps sampled at open time
    broken.write_bytes(broken.read_bytes()[:200])
    assert main(_train_on(root, tmp_path / "run")) == 2
    line = error_line(capsys.readouterr().err)
    assert "4.png" in line and "1 of 12 image files" in line, line
    assert not (tmp_path / "run" / "checkpoint.pt").exists(), "found before any training"


# -- 10. messages ------------------------------------------------------------------------------------
def test_missing_data_names_benchmark_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCHMARK_DATA", str(tmp_path / "nowhere"))
    assert main(["train", "dataset=cityscapes", "profile=smoke", f"store_dir={tmp_path}"]) == 2
    line = error_line(capsys.readouterr().err)
    assert "BENCHMARK_DATA" in line and "cityscapes/" in line and str(tmp_path / "nowhere") in line


def test_evaluating_a_run_that_is_training_says_so(tmp_path):
    from benchmark.run.store import run_lock, write_status

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(json.dumps(job_payload(compose_config([]))))  # a run config (issue 17)
    write_status(run, "running", iteration=3, total=8)
    with run_lock(run):
        code, _, err = benchmark("evaluate", str(run))
    assert code == 2
    line = error_line(err)
    assert "is training now (iteration 3/8)" in line


def test_status_from_another_directory_names_the_store(tmp_path):
    code, out, err = benchmark("status", "ablations", "synthetic", cwd=tmp_path, env={"BENCHMARK_STORE": None})
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith(f"store: {tmp_path / 'runs'}") and "does not exist" in first, first


@pytest.mark.slow
def test_progress_false_silences_every_bar(tmp_path):
    code, out, err = benchmark("run", "ablations", "synthetic", *TINY, "trainer.iterations=2",
                               "trainer.checkpoint_every=2", "trainer.sample_every=2",
                               f"store_dir={tmp_path / 's'}", f"results_dir={tmp_path / 'r'}")
    assert code == 0, err
    for bar in ("it/s]", "%|", "s/it]"):
        assert bar not in err and bar not in out, (bar, err[-2000:])


# -- 12, 13. one-way dependencies ---------------------------------------------------------------------
def test_scoring_never_imports_the_training_loop():
    code = "import sys, benchmark.run.evaluate; print('benchmark.run.train' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.update({(node.module or "")} | {f"{node.module or ''}.{a.name}".lstrip(".") for a in node.names})
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_data_sources_depend_on_the_base_and_nothing_depends_on_a_source():
    from benchmark.data.registry import SOURCES

    folder = REPO / "benchmark" / "data"
    sources = {"pix2pix", "unaligned", "cityscapes_native", "prepared", "synthetic"}
    assert sources <= set(SOURCES)
    for path in folder.glob("*.py"):
        if path.stem in ("__init__", "registry"):
            continue
        imported = {name.split(".")[0] for name in _imports(path)}
        assert "registry" not in imported, path.name
        if path.stem not in sources:  # the base, checks, errors, transforms, iteration
            assert not imported & sources, (path.name, imported & sources)
