"""The same code on CUDA: training in every precision and memory format, resume, evaluation.

Skipped where no CUDA device is present (CI has none); run on a GPU machine with
`python -m pytest tests/test_cuda.py`.
"""
from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

SMALL = ["profile=smoke", "device=cuda", "progress=false", "dataset.train_count=8", "dataset.test_count=6",
         "dataset.size=64", "trainer.iterations=4", "trainer.checkpoint_every=2", "trainer.sample_every=4",
         "evaluation.segmenter.iterations=10"]


def _cfg(tmp_path, *extra):
    from benchmark.config import compose_config

    return compose_config([*SMALL, f"store_dir={tmp_path / 'store'}", f"run_dir={tmp_path / 'run'}", *extra])


@pytest.mark.parametrize("extra", [[], ["trainer.precision=bf16"], ["trainer.precision=fp16"],
                                   ["trainer.channels_last=true"],
                                   ["trainer.channels_last=true", "trainer.precision=bf16"]])
def test_training_runs_on_cuda(tmp_path, extra):
    import pandas as pd

    from benchmark.run.train import train

    result = train(_cfg(tmp_path, *extra))
    assert result["iteration"] == 4
    log = pd.read_csv(tmp_path / "run" / "train_log.csv")
    assert all(math.isfinite(v) for v in log.filter(like="loss_").to_numpy().ravel())
    env = (tmp_path / "run" / "env.json").read_text()
    assert torch.cuda.get_device_name() in env


def test_resume_on_cuda_continues_from_the_checkpoint(tmp_path):
    from benchmark.run.train import CHECKPOINT, train

    train(_cfg(tmp_path), stop_after=2)
    again = train(_cfg(tmp_path))
    assert again["resumed_from"] == 2 and again["iteration"] == 4
    assert torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)["iteration"] == 4


def test_evaluation_on_cuda(tmp_path):
    from benchmark.run.evaluate import evaluate_run
    from benchmark.run.train import train

    cfg = _cfg(tmp_path, "evaluation.fid.enabled=false")
    train(cfg)
    metrics = evaluate_run(tmp_path / "run", cfg, progress=False)
    assert set(metrics["directions"]) == {"photo2labels", "labels2photo"}
    assert 0.0 <= metrics["directions"]["labels2photo"]["per_pixel_acc"] <= 1.0
