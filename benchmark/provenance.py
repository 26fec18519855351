"""Where a number came from: commit, dirty flag, package versions, device, SLURM job, and
what can change the bits of a CPU run.

Written to every run's `env.json` and into the header of every report table. The same config
and seed retrained on another 2-core AMD EPYC gave a model whose scores differed by about the
seed spread: oneDNN and MKL pick kernels by CPU flags and thread count, and floating-point sums
in another order round differently. So `compute` records the CPU model and flags, the thread
count and the torch, MKL and oneDNN versions: bit-identical results are promised only where
all of these match (see the README's "What reproducible means").
"""
from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("torch", "torchvision", "torch-fidelity", "hydra-core", "submitit", "scikit-learn",
            "numpy", "pandas", "seaborn")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                             text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


@lru_cache(maxsize=1)
def git_state() -> dict:
    """The commit of the code that ran and whether it had uncommitted changes.

    results/ is left out of the check: it holds what reports write, not code, so a report
    regenerated over an earlier one (kept for its thumbnails) says what the code was, not that
    the previous report had not been committed yet."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_description(device) -> str:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def machine_description() -> str:
    """CPU model and core count (and GPU, if any): what a reader needs to compare timings."""
    import torch

    text = f"{_cpu_info()[0]}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text


#: CPU flags that decide which kernels oneDNN/MKL run (a difference here can change the bits).
KERNEL_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile",
                "amx_bf16", "amx_int8", "avx_vnni")


def _cpu_info() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == (platform.processor() or platform.machine()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                present = set(line.split(":", 1)[1].split())
                flags = [f for f in KERNEL_FLAGS if f in present]
    except OSError:
        pass
    return model, flags


def compute() -> dict:
    """What can change the bits of a run: CPU model and kernel flags, threads, math libraries."""
    import torch

    model, flags = _cpu_info()
    config = torch.__config__.show()
    return {"cpu": model, "cpu_flags": flags, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(), "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkl": _built_with(config, r"Math Kernel Library Version (\S+)"),
            "onednn": _built_with(config, r"MKL-DNN v(\S+)"),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}


def _built_with(config: str, pattern: str) -> str | None:
    """A library version from torch.__config__.show(), or None where torch was built without it."""
    found = re.search(pattern, config)
    return found.group(1) if found else None


def slurm_state() -> dict:
    keys = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID",
            "array_task_id": "SLURM_ARRAY_TASK_ID", "node": "SLURMD_NODENAME",
            "partition": "SLURM_JOB_PARTITION", "restart_count": "SLURM_RESTART_COUNT"}
    return {k: os.environ[v] for k, v in keys.items() if v in os.environ}


def environment(device) -> dict:
    return {**git_state(), "versions": versions(), "device": device_description(device),
            "compute": compute(), "host": socket.gethostname(), "slurm": slurm_state(),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
