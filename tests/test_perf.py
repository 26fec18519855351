"""`benchmark perf` at tiny sizes: the table has its rows, the numbers are real, JSON is written.

Speed itself is not asserted (the CI machine is shared); what could break is the plumbing:
row selection, FLOP counting, the probe, memory accounting, the eval lines and their skipping.
"""
from __future__ import annotations

import json

import pytest
import torch

from benchmark import perf


def test_tiny_run_prints_rows_and_writes_json(tmp_path, capsys):
    out = tmp_path / "perf.json"
    threads = torch.get_num_threads()
    assert perf.main(["--tiny", "--device", "cpu", "--json", str(out),
                      "--configs", "*:fp32:contiguous,*:fp32:channels_last"]) == 0
    assert torch.get_num_threads() == threads  # --tiny runs on 1 thread, then restores
    printed = capsys.readouterr().out
    assert "s/iteration" in printed and "efficiency" in printed
    assert f"torch: {torch.__version__}" in printed and "git_commit:" in printed
    assert "avx512_bf16=" in printed  # says whether bf16 is native here

    data = json.loads(out.read_text())
    rows = data["rows"]
    assert [(r["precision"], r["memory_format"]) for r in rows] == [
        ("fp32", "contiguous"), ("fp32", "channels_last")]
    for r in rows:
        assert r["s_per_iteration"] > 0 and r["achieved_tflops"] > 0 and r["probe_tflops"] > 0
        assert r["efficiency"] > 0 and r["peak_memory_mib"] >= 0
        assert len(r["times"]) == 1  # --tiny: one timed iteration
    # FLOP are counted once per shape, so both formats report the same count; a CycleGAN step
    # (4 generator passes + 4 discriminator passes, forward and backward) is far above the probe.
    assert rows[0]["flop_per_iteration"] == rows[1]["flop_per_iteration"] > 10**8
    assert data["header"]["memory"].startswith("CPU")
    assert data["eval"] == []


def test_default_rows_skip_emulated_bf16_on_cpu():
    rows = perf.candidate_rows(torch.device("cpu"), perf.TINY_SHAPES)
    chosen, notes = perf.select_rows(rows, None, torch.device("cpu"), bf16_ok=False)
    assert [r.id for r in chosen] == ["tiny-2blocks-32:fp32:contiguous"]
    assert any(":bf16:" in n and "no native bf16" in n for n in notes)
    chosen, _ = perf.select_rows(rows, None, torch.device("cpu"), bf16_ok=True)
    assert {r.precision for r in chosen} == {"fp32", "bf16"}
    # Asked for by pattern, a row runs even where it is not a default.
    chosen, _ = perf.select_rows(rows, "*:bf16:*", torch.device("cpu"), bf16_ok=False)
    assert {r.id for r in chosen} == {"tiny-2blocks-32:bf16:contiguous",
                                      "tiny-2blocks-32:bf16:channels_last"}


def test_bad_arguments_exit_2_with_one_line(capsys):
    assert perf.main(["--tiny", "--configs", "nope:*"]) == 2
    err = capsys.readouterr().err
    assert "--configs" in err and "tiny-2blocks-32:fp32:contiguous" in err
    assert perf.main(["--iterations", "0"]) == 2
    if not torch.cuda.is_available():
        assert perf.main(["--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err


def test_eval_lines_and_missing_modules_are_skipped(tmp_path, monkeypatch, capsys):
    # The FID extractor is exercised separately below; here it stands for a missing module.
    def missing(_tmp):
        raise ImportError("torch_fidelity not installed")

    monkeypatch.setattr(perf, "_inception_random", missing)
    out = tmp_path / "perf.json"
    assert perf.main(["--tiny", "--device", "cpu", "--eval", "--json", str(out),
                      "--configs", "*:fp32:contiguous"]) == 0
    evals = json.loads(out.read_text())["eval"]
    assert [e["task"] for e in evals] == ["translate with G", "segment (evaluator)"]
    assert all(e["images_per_s"] > 0 for e in evals)
    assert "images/s" in capsys.readouterr().out


def test_fid_extractor_builds_from_random_weights_without_download(tmp_path, monkeypatch):
    pytest.importorskip("torch_fidelity")

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download Inception weights")

    import torch_fidelity.feature_extractor_inceptionv3 as fe

    monkeypatch.setattr(fe, "load_state_dict_from_url", no_download)
    net = perf._inception_random(tmp_path)
    with torch.inference_mode():
        features = net(torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8))
    assert features[0].shape == (1, 2048) and torch.isfinite(features[0]).all()
