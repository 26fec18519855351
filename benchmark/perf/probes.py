"""What `benchmark perf` measures with: timers, FLOP counts, the peak probes, peak memory.

Why a peak probe beside every row: seconds per iteration alone cannot be compared across
machines, and on a shared or throttled machine not even across runs. The probes are one 3x3
convolution (256 -> 256 channels at 64x64, batch 1: the residual-block convolution that
dominates the 9-block generator at 256x256) and one square matmul, each timed forward +
backward right before and right after each row; the faster is this device's measured peak.
"""
from __future__ import annotations

import ctypes
import gc
import math
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmark.run.step import to_channels_last
from models.precision import AMP_DTYPES


# -- timing ----------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], n: int, device: torch.device, reps: int = 1) -> list[float]:
    """Seconds per call of `fn`, one sample per `reps` calls, `n` samples."""
    out = []
    for _ in range(n):
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        _sync(device)
        out.append((time.perf_counter() - t) / reps)
    return out


def count_flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


class _PeakProbe:
    """One small op, forward + backward under the row's precision, timed in enough calls per
    sample that the timer and launch latency do not dominate (CUDA). Subclasses build their
    tensors, then call `_calibrate`, and say what the op is (`forward`) and which grads to clear."""

    def __init__(self, device: torch.device, precision: str) -> None:
        torch.manual_seed(0)
        self.device = device
        self.dtype = AMP_DTYPES[precision]
        self.grad = None

    def _calibrate(self) -> None:
        self.flop = count_flops(self)
        self.reps = max(1, min(1000, math.ceil(0.05 / min(time_calls(self, 2, self.device)))))

    def forward(self) -> torch.Tensor:
        raise NotImplementedError

    def clear_grads(self) -> None:
        raise NotImplementedError

    def __call__(self) -> None:
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32,
                            enabled=self.dtype is not None):
            out = self.forward()
        if self.grad is None:
            self.grad = torch.ones_like(out)
        out.backward(self.grad)
        self.clear_grads()

    def sample(self, n: int) -> list[float]:
        return time_calls(self, n, self.device, self.reps)


class Probe(_PeakProbe):
    """The peak-speed reference: one conv forward + backward under the row's precision and format."""

    def __init__(self, device: torch.device, precision: str, memory_format: str,
                 channels: int, size: int) -> None:
        super().__init__(device, precision)
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device)
        self.x = torch.randn(1, channels, size, size, device=device)
        if memory_format == "channels_last":
            self.conv, self.x = to_channels_last(self.conv), to_channels_last(self.x)
        self.x.requires_grad_(True)  # so backward computes the input gradient too, as in a net
        self._calibrate()

    def forward(self) -> torch.Tensor:
        return self.conv(self.x)

    def clear_grads(self) -> None:
        self.conv.weight.grad = self.conv.bias.grad = self.x.grad = None


class MatmulProbe(_PeakProbe):
    """The other peak reference: one square matmul forward + backward (the GEMM oneDNN/cuBLAS
    reach their best on). The device's peak is the faster of the two probes."""

    def __init__(self, device: torch.device, precision: str, n: int) -> None:
        super().__init__(device, precision)
        self.a = torch.randn(n, n, device=device, requires_grad=True)
        self.b = torch.randn(n, n, device=device, requires_grad=True)
        self._calibrate()

    def forward(self) -> torch.Tensor:
        return self.a @ self.b

    def clear_grads(self) -> None:
        self.a.grad = self.b.grad = None


# -- memory ----------------------------------------------------------------------------------------
class PeakMemory:
    """Peak memory of one row: CUDA allocator peak, or the CPU process's resident-set growth."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.can_reset_rss = device.type == "cpu" and self._reset_hwm()
        if device.type == "cuda":
            self.label = "torch.cuda.max_memory_allocated during the row (model + optimiser + activations)"
        elif self.can_reset_rss:
            self.label = ("CPU peak RSS increase over the row (VmHWM after resetting it via "
                          "/proc/self/clear_refs, minus RSS at the row's start)")
        else:
            self.label = ("CPU ru_maxrss increase (a process-lifetime high-water mark: 0 means the "
                          "row stayed below an earlier row's peak)")
        self.base = 0

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _status_kib(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def start(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:  # give freed heap back to the OS so the baseline is what is really in use
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        if self.can_reset_rss:
            self._reset_hwm()
            self.base = self._status_kib("VmRSS") or 0
        else:
            self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def peak_mib(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if self.can_reset_rss:
            return max(0, (self._status_kib("VmHWM") or 0) - self.base) / 1024
        return max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.base) / 1024


def load1() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")
