"""Which floating-point precision a step runs in: `trainer.precision` = fp32 | bf16 | fp16 | auto.

`auto` picks bf16 autocast only where the hardware does bf16 natively -- a CUDA device with bf16
support, or a CPU with AMX (`amx_bf16`) or AVX-512 BF16 (`avx512_bf16`) -- and fp32 elsewhere:
on a CPU without those units oneDNN emulates bf16 and a step is ~40x slower than fp32. The
literal value ("auto") is what enters a run's identity hash, because suites are planned on login
nodes that lack the training device; the resolved value is recorded in the run's env.json.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# benchmark/config_rules.py lists the same values for the config check.
#: CPU feature flags (/proc/cpuinfo) that mean bf16 matrix arithmetic runs in hardware.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


class PrecisionError(ValueError):
    """trainer.precision holds a value that is none of PRECISIONS."""


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of this machine (empty where /proc/cpuinfo is not there)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 runs at hardware speed on `device` (no emulation)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        return any(flag in cpu_flags() for flag in CPU_BF16_FLAGS)
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """fp32 | bf16 | fp16 as asked, or what `auto` means on `device`."""
    precision = str(precision)
    if precision not in PRECISIONS:
        raise PrecisionError(f"trainer.precision={precision!r}: valid values are {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision
