"""`benchmark perf` at tiny sizes: the table has its rows, the numbers are real, JSON is written.

Speed itself is not asserted (the CI machine is shared); what could break is the plumbing:
row selection, FLOP counting, the probe, memory accounting, the settings, the eval lines.
"""
from __future__ import annotations

import json

import pytest
import torch

from benchmark.perf import cli as perf
from benchmark.perf import scoring as perf_eval
from benchmark.perf.settings import PerfSettings


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
    for r in rows:  # whole step vs the networks alone, timed on the same model
        assert r["model"] == "cyclegan" and 0 < r["networks_only_s"]
        assert r["overhead_share_wall"] == pytest.approx(1 - r["networks_only_s"] / r["s_per_iteration"])
        assert r["overhead_share"] == pytest.approx(1 - r["networks_only_cpu_s"] / r["cpu_s_per_iteration"])
        assert r["probe_matmul_tflops"] > 0 and r["probe_conv_tflops"] > 0
        assert r["probe_tflops"] == max(r["probe_matmul_tflops"], r["probe_conv_tflops"])
    assert "fp32 overhead" in printed and "fp32 networks-only s" in printed


def test_default_rows_skip_emulated_bf16_on_cpu():
    models = [perf.ModelChoice("cyclegan", "variant"), perf.ModelChoice("pix2pix", "baseline")]
    rows = perf.candidate_rows(torch.device("cpu"), perf.TINY_SHAPES, models)
    chosen, notes = perf.select_rows(rows, None, torch.device("cpu"), bf16_ok=False)
    assert [r.id for r in chosen] == ["cyclegan:tiny-2blocks-32:fp32:contiguous",
                                      "pix2pix:tiny-2blocks-32:fp32:contiguous"]
    assert any(":bf16:" in n and "no native bf16" in n for n in notes)
    chosen, _ = perf.select_rows(rows, None, torch.device("cpu"), bf16_ok=True)
    assert {(r.model, r.precision) for r in chosen} == {(m, p) for m in ("cyclegan", "pix2pix")
                                                         for p in ("fp32", "bf16")}
    # Asked for by pattern, a row runs even where it is not a default; the old three-field
    # SHAPE:PRECISION:FORMAT patterns still mean full CycleGAN.
    chosen, _ = perf.select_rows(rows, "*:bf16:*", torch.device("cpu"), bf16_ok=False)
    assert {r.id for r in chosen} == {"cyclegan:tiny-2blocks-32:bf16:contiguous",
                                      "cyclegan:tiny-2blocks-32:bf16:channels_last"}
    chosen, _ = perf.select_rows(rows, "pix2pix:*:fp32:*", torch.device("cpu"), bf16_ok=False)
    assert {r.model for r in chosen} == {"pix2pix"} and len(chosen) == 2


def test_default_size_is_the_cpu_profile_and_every_model_config_is_a_row():
    from benchmark.config import available, compose_config

    cfg = compose_config(["profile=cpu"])
    shape = perf.SHAPES[0]
    assert (shape.n_blocks, shape.size, shape.filters, shape.disc_filters, shape.batch) == (
        cfg.network.n_blocks, cfg.data.crop_size, cfg.network.base_filters,
        cfg.network.disc_base_filters, cfg.trainer.batch_size)
    choices = perf.model_choices()
    assert [c.name for c in choices[:5]] == ["cyclegan", "gan_only", "cycle_only", "gan_forward",
                                             "gan_backward"]
    assert {c.name for c in choices} == set(available("model"))  # baselines appear as they are added
    assert all(c.kind == "baseline" for c in choices[5:])


def test_bad_arguments_exit_2_with_one_line(capsys):
    assert perf.main(["--tiny", "--configs", "nope:*"]) == 2
    err = capsys.readouterr().err
    assert "--configs" in err and "tiny-2blocks-32:fp32:contiguous" in err
    assert perf.main(["--iterations", "0"]) == 2
    if not torch.cuda.is_available():
        assert perf.main(["--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_eval_lines_time_generator_evaluator_and_fid_features(tmp_path, monkeypatch, capsys):
    # The FID extractor is exercised separately below; here a small stand-in keeps the test fast.
    monkeypatch.setattr(perf_eval, "_inception_random", lambda _tmp: torch.nn.Identity())
    import evaluation.fid

    monkeypatch.setattr(evaluation.fid, "find_inception_weights", lambda *a, **k: (None, None))
    out = tmp_path / "perf.json"
    assert perf.main(["--tiny", "--device", "cpu", "--eval", "--json", str(out),
                      "--configs", "*:fp32:contiguous"]) == 0
    evals = json.loads(out.read_text())["eval"]
    assert [e["task"] for e in evals] == ["translate with G", "segment (evaluator)", "FID features"]
    assert all(e["images_per_s"] > 0 for e in evals)
    # the evaluator is the network evaluation/segmenter.py trains, not a stand-in
    from evaluation.segmenter import DEFAULT_ARCH

    assert evals[1]["model"] == f"evaluation.segmenter.build_segmentation_network({DEFAULT_ARCH!r})"
    assert "images/s" in capsys.readouterr().out


def test_eval_lines_do_not_hide_a_missing_module(monkeypatch):
    """Every module the lines use is a dependency: one that fails to import is an error, not a
    line quietly left out of the table."""
    def missing(_tmp):
        raise ImportError("torch_fidelity not installed")

    monkeypatch.setattr(perf_eval, "_inception_random", missing)
    import evaluation.fid

    monkeypatch.setattr(evaluation.fid, "find_inception_weights", lambda *a, **k: (None, None))
    settings = PerfSettings.from_args(perf.parse_args(["--tiny", "--eval"]), torch.device("cpu"))
    with pytest.raises(ImportError, match="torch_fidelity"):
        perf_eval.eval_lines(settings)


def test_settings_are_built_once_and_frozen():
    import dataclasses

    cpu = torch.device("cpu")
    tiny = PerfSettings.from_args(perf.parse_args(["--tiny"]), cpu)
    assert (tiny.iterations, tiny.warmup, tiny.threads, tiny.shapes) == (1, 1, 1, perf.TINY_SHAPES)
    full = PerfSettings.from_args(perf.parse_args(["--warmup", "0", "--no-mkldnn"]), cpu)
    assert (full.iterations, full.warmup, full.threads, full.mkldnn) == (5, 0, None, False)
    assert full.shapes == perf.SHAPES and full.eval_sizes.size == 128 and full.probe.channels == 256
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.iterations = 3


def test_fid_extractor_builds_from_random_weights_without_download(tmp_path, monkeypatch):
    pytest.importorskip("torch_fidelity")

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download Inception weights")

    import torch_fidelity.feature_extractor_inceptionv3 as fe

    monkeypatch.setattr(fe, "load_state_dict_from_url", no_download)
    net = perf_eval._inception_random(tmp_path)
    with torch.inference_mode():
        features = net(torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8))
    assert features[0].shape == (1, 2048) and torch.isfinite(features[0]).all()


# -- the step itself: what `benchmark perf` measures and what the trainer does ----------------------
def test_networks_only_replays_exactly_the_calls_of_one_step():
    from benchmark.perf.step import prepare

    step = prepare("cyclegan", perf.TINY_SHAPES[0], "fp32", "contiguous", torch.device("cpu"))
    try:
        calls = [(c.network, c.weights_grad, [t.requires_grad for t in c.inputs()]) for c in step.calls]
        # generator step: G(x), F(y), D_Y(G(x)) and D_X(F(y)) with D frozen, F(G(x)), G(F(y));
        # then each discriminator on a real and a pooled fake image
        assert calls == [("G", True, [False]), ("F", True, [False]), ("D_Y", False, [True]),
                         ("D_X", False, [True]), ("F", True, [True]), ("G", True, [True]),
                         ("D_Y", True, [False]), ("D_Y", True, [False]), ("D_X", True, [False]),
                         ("D_X", True, [False])]
        before = {k: v.clone() for k, v in step.model.state_dict().items()}
        step.networks_only()
        assert all(torch.equal(v, step.model.state_dict()[k]) for k, v in before.items())  # no update
        assert all(p.grad is None for p in step.model.parameters())
        assert all(p.requires_grad for p in step.model.parameters())  # flags restored
        step.whole()
        assert any(not torch.equal(v, step.model.state_dict()[k]) for k, v in before.items())
    finally:
        step.cleanup()


def test_train_step_returns_detached_scalars_without_a_host_sync():
    from benchmark.config import compose_config
    from benchmark.model_registry import build_model

    model = build_model(compose_config(["profile=smoke", "model=cyclegan"]))
    model.configure_optimizers(lr=2e-4, betas=(0.5, 0.999), lr_lambda=lambda s: 1.0)
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    losses = model.train_step(x, y)
    assert set(losses) >= {"loss_G_gan_y", "loss_D_Y", "loss_G_total"}
    for v in losses.values():
        assert isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad
        assert v.grad_fn is None and v.dtype == torch.float32


def test_loss_buffer_drains_all_waiting_steps_in_order_and_finds_non_finite():
    from benchmark.run.loss_buffer import LossBuffer

    buf = LossBuffer()
    buf.add(0, {"loss_a": torch.tensor(1.5), "loss_b": torch.tensor(2.0)}, lr=0.1)
    buf.add(1, {"loss_a": torch.tensor(float("inf")), "loss_b": float("nan")}, lr=0.2)
    steps = buf.drain()
    assert len(buf) == 0 and buf.drain() == []
    assert [(s.iteration, s.losses["loss_a"], s.extra["lr"]) for s in steps] == [(0, 1.5, 0.1),
                                                                                 (1, float("inf"), 0.2)]
    assert steps[0].non_finite() == [] and steps[1].non_finite() == ["loss_a", "loss_b"]


def _smoke(run_dir, *extra):
    from benchmark.config import compose_config

    return compose_config(["profile=smoke", "dataset=synthetic", f"run_dir={run_dir}", "progress=false",
                           "dataset.train_count=8", "dataset.test_count=4", "dataset.size=64",
                           "trainer.iterations=8", "trainer.sample_every=8", *extra])


def test_non_finite_loss_between_log_rows_is_caught_before_the_checkpoint(tmp_path, monkeypatch):
    """Losses are read only when a row is logged (every 3 here): a NaN at step 5 is still found
    before the checkpoint at 8 could hold it, and named with its own iteration."""
    from benchmark.run.train import NonFiniteLossError, train
    from models.cyclegan import CycleGANFamily

    real, calls = CycleGANFamily.train_step, {"n": 0}

    def exploding(self, x, y):
        calls["n"] += 1
        out = real(self, x, y)
        return {**out, "loss_D_X": out["loss_D_X"] * float("nan")} if calls["n"] == 6 else out

    monkeypatch.setattr(CycleGANFamily, "train_step", exploding)
    with pytest.raises(NonFiniteLossError, match="loss_D_X.*iteration 5"):
        train(_smoke(tmp_path, "trainer.log_every=3", "trainer.checkpoint_every=4"))
    assert calls["n"] == 6  # found at the row due after step 5, not at the end
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["iteration"] == 4
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and status["iteration"] == 5
    rows = (tmp_path / "train_log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["2"]  # the one row logged before the failure


def test_training_with_log_rows_every_step_and_every_third_ends_identical(tmp_path):
    """Reading the losses later changes nothing the run computes."""
    from benchmark.run.train import train

    a, b = tmp_path / "a", tmp_path / "b"
    train(_smoke(a, "trainer.checkpoint_every=8"))
    train(_smoke(b, "trainer.checkpoint_every=8", "trainer.log_every=3"))
    wa, wb = (torch.load(d / "checkpoint.pt", weights_only=False)["model"] for d in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    log_a = (a / "train_log.csv").read_text().splitlines()
    log_b = (b / "train_log.csv").read_text().splitlines()
    assert len(log_a) == 9 and [r.split(",")[:-1] for r in log_b[1:]] == [
        r.split(",")[:-1] for r in log_a[1:] if int(r.split(",")[0]) % 3 == 2]  # same losses, lr


def test_resized_image_memo_gives_bit_identical_samples():
    from benchmark.config import compose_config
    from benchmark.data import open_domains
    from benchmark.data.iteration import UnpairedIterations

    cfg = compose_config(["profile=smoke", "dataset=synthetic", "dataset.train_count=6",
                          "dataset.size=64"])
    pair = open_domains(cfg.dataset, cfg.dataset.train_split)
    cached = UnpairedIterations(pair, load_size=36, crop_size=32, flip=True, seed=3)
    plain = UnpairedIterations(pair, load_size=36, crop_size=32, flip=True, seed=3)
    plain.resized_cache_bytes = 0
    drawn = set()
    for k in [*range(14), *range(14)]:  # the second pass reads the memo
        a, b = cached[k], plain[k]
        assert torch.equal(a["X"], b["X"]) and torch.equal(a["Y"], b["Y"])
        drawn |= {("X", a["X_index"]), ("Y", a["Y_index"])}
    assert set(cached._resized) == drawn and not plain._resized  # each image resized once
