"""trainer.precision: fp32 | bf16 | fp16 | auto, in the run's identity, resolved per device."""
from __future__ import annotations

import json

import pytest
import torch

from models import precision as P


def test_precision_is_part_of_the_run_hash():
    from benchmark.config import compose_config, config_hash

    hashes = {p: config_hash(compose_config(["profile=cpu", f"trainer.precision={p}"]))
              for p in ("fp32", "bf16", "fp16", "auto")}
    assert len(set(hashes.values())) == 4, hashes


@pytest.mark.parametrize("flags, expected", [
    ({"avx2", "avx512f"}, "fp32"),                     # AVX-512 without BF16: emulated, fp32
    ({"avx2", "avx512f", "avx512_bf16"}, "bf16"),
    ({"avx2", "amx_bf16", "amx_tile"}, "bf16"),
    (set(), "fp32"),                                   # no /proc/cpuinfo
])
def test_auto_on_cpu_follows_the_bf16_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset(flags))
    assert P.resolve_precision("auto", torch.device("cpu")) == expected
    for explicit in ("fp32", "bf16", "fp16"):  # an explicit precision is taken as asked
        assert P.resolve_precision(explicit, torch.device("cpu")) == explicit


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_on_cuda_asks_for_native_bf16(monkeypatch, native, expected):
    seen = {}

    def supported(including_emulation=True):
        seen["including_emulation"] = including_emulation
        return native

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx512_bf16"}))  # the GPU decides
    assert P.resolve_precision("auto", torch.device("cuda")) == expected
    assert seen == {"including_emulation": False}


def test_unknown_precision_is_one_clear_line():
    with pytest.raises(P.PrecisionError, match=r"trainer.precision='fp8'.*fp32, bf16, fp16, auto"):
        P.resolve_precision("fp8", torch.device("cpu"))


def test_bf16_uses_fused_adam_and_fp32_keeps_the_default(monkeypatch):
    from benchmark.config import compose_config
    from benchmark.model_registry import build_model

    for precision, fused in (("fp32", None), ("bf16", True)):
        model = build_model(compose_config(["profile=smoke", f"trainer.precision={precision}"]))
        model.configure_precision(precision, torch.device("cpu"))
        model.configure_optimizers(lr=2e-4, betas=(0.5, 0.999), lr_lambda=lambda s: 1.0)
        assert {opt.param_groups[0]["fused"] for opt in model.optimizers.values()} == {fused}


def test_env_json_records_what_auto_resolved_to(tmp_path, monkeypatch):
    from benchmark.config import compose_config, config_hash
    from benchmark.run.train import train

    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2"}))  # no native bf16 here
    cfg = compose_config(["profile=smoke", "dataset=synthetic", f"run_dir={tmp_path}", "progress=false",
                          "dataset.train_count=4", "dataset.test_count=2", "dataset.size=64",
                          "trainer.iterations=2", "trainer.precision=auto", "device=cpu"])
    train(cfg)
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["precision"] == "fp32" and env["precision_requested"] == "auto"
    assert env["config_hash"] == config_hash(cfg)  # the literal "auto" is hashed
