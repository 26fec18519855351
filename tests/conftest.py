"""Shared fixtures: where the real data lives, and how tests behave when it is absent.

Real-data tests find `../shared/data` beside the checkout (or `BENCHMARK_SHARED_DATA`). Outside
CI they skip with the reason; in CI (`CI=true`) the data is promised, so its absence fails.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# The tests' tensors are tiny: one thread avoids OpenMP start-up and spin costs that dominate
# them, and keeps subprocesses (SLURM jobs, killed runs) on the same arithmetic as this process.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("BENCHMARK_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-image folder; skips (fails in CI) where it is missing."""
    path = _shared_data_dir()
    if not (path / "cityscapes" / "train").is_dir():
        reason = (f"real data not found at {path} (set BENCHMARK_SHARED_DATA to the folder "
                  "holding cityscapes/, facades/, maps/, camvid/, cityscapes_native/)")
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def smoke_suite(tmp_path_factory) -> tuple[Path, list[str]]:
    """One finished `benchmark run ablations synthetic profile=smoke` (small sets, a dozen
    iterations; FID off: the Inception network's cost buys nothing for the tables, status and page
    these tests read, and FID through a whole suite is tested by test_baselines_suite.py and
    tests/test_evaluate.py), as (root, overrides): root/store is its store, root/results its
    report and results page. Shared by the modules that read a finished suite (the local suite
    tests, the browser test), which carry the xdist group "smoke_suite" so that one worker
    trains it once instead of each module training its own."""
    from benchmark.cli import main

    root = tmp_path_factory.mktemp("smoke_suite")
    args = [f"store_dir={root / 'store'}", f"results_dir={root / 'results'}", "progress=false",
            "dataset.train_count=16", "dataset.test_count=8", "dataset.size=64",
            "trainer.iterations=12", "trainer.sample_every=12", "trainer.checkpoint_every=6",
            "evaluation.segmenter.iterations=20", "evaluation.fid.enabled=false"]
    assert main(["run", "ablations", "synthetic", "profile=smoke", *args]) == 0
    return root, args


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`-n 3 --dist loadgroup`, the README's command) the tests that submit
    to the SLURM cluster run one after another on one worker: they share one 2-CPU node, and the
    preemption test needs it whole, so two of them at once would preempt or starve each other.
    They mostly wait on the queue, so the other workers run the CPU-bound tests beside them."""
    for item in items:
        if item.get_closest_marker("slurm") is not None:
            item.add_marker(pytest.mark.xdist_group("slurm"))
    # The SLURM chain is the longest serial path (time limits and requeues of at least a minute
    # each): handed out first, it runs while the other workers take the rest; last, the whole
    # run waited for it at the end.
    items.sort(key=lambda item: item.get_closest_marker("slurm") is None)
