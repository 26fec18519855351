"""Where a number came from: commit, dirty flag, package versions, device, SLURM job.

Written to every run's `env.json` and into the header of every report table.
"""
from __future__ import annotations

import os
import platform
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
    """The commit of the code that ran and whether it had uncommitted changes."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
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

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text


def slurm_state() -> dict:
    keys = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID",
            "array_task_id": "SLURM_ARRAY_TASK_ID", "node": "SLURMD_NODENAME",
            "partition": "SLURM_JOB_PARTITION", "restart_count": "SLURM_RESTART_COUNT"}
    return {k: os.environ[v] for k, v in keys.items() if v in os.environ}


def environment(device) -> dict:
    return {**git_state(), "versions": versions(), "device": device_description(device),
            "host": socket.gethostname(), "slurm": slurm_state(),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
