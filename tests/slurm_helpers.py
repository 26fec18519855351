"""Gate for tests that need a real SLURM cluster: skip outside CI, fail inside it.

Why: a contributor without SLURM should still get a green suite with the reason printed, but CI
brings a cluster up (`slurm/up.sh`) precisely to run these tests, so there a missing or broken
cluster must fail instead of silently skipping. `sacct` is checked too because submitit reads
job state only through it: without accounting a cancelled job's `result()` waits forever.

Use: `from slurm_helpers import require_slurm` at the top of a test (or in a fixture).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest

UP_HINT = "bring one up with `sudo slurm/up.sh` (see slurm/README.md)"
_CHECKS = (
    ("sinfo", "-h", "-o", "%P %a"),       # the controller answers and has partitions
    ("sacct", "-n", "-X", "-S", "now"),   # accounting (slurmdbd) answers
)


def in_ci() -> bool:
    """True where env CI says so (GitHub/GitLab set CI=true); same rule as conftest.py."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@functools.lru_cache(maxsize=1)
def slurm_problem() -> str | None:
    """Why SLURM cannot be used here, or None when sbatch, sinfo and sacct all work.

    Asked once per test session: without a slurm.conf, `sinfo` waits ~20 s on DNS before failing.
    """
    if shutil.which("sbatch") is None:
        return "`sbatch` is not on PATH"
    for cmd in _CHECKS:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(cmd)}` failed: {exc}"
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return f"`{' '.join(cmd)}` exited {proc.returncode}: {lines[-1] if lines else 'no output'}"
        if cmd[0] == "sinfo" and not proc.stdout.strip():
            return "`sinfo` lists no partition"
    return None


def require_slurm() -> None:
    """Skip the calling test when no usable SLURM cluster is here; fail instead when CI=true."""
    problem = slurm_problem()
    if problem is None:
        return
    reason = f"no usable SLURM cluster: {problem}; {UP_HINT}"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
