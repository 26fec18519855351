"""Checkpoint files of a run: written so that a kill, a full disk or a torn file never strands it.

Training writes checkpoints, scoring reads them; both use this module, so evaluation never
imports the training loop. The rules:

* a new checkpoint is written to a temporary file, hashed (read back from disk) and only then
  takes the place of `checkpoint.pt`; the one it replaces becomes `checkpoint.prev.pt`, so the
  previous good checkpoint survives until the new one is known to be whole;
* `checkpoint.pt.sha256` beside it holds the checksum; a file that does not match it (or does
  not load) is named in a warning, moved aside as `*.corrupt`, and the previous one is used;
* a full disk is said as such: where, how much is free and how much the checkpoint needs;
* temporaries left by a killed writer (`.checkpoint.pt.*.tmp`) are removed on the next start;
* a checkpoint is unpickled with `weights_only=True`: only tensors, plain containers and the
  numpy types of the NumPy RNG state (see `SAFE_GLOBALS`) are built, so opening someone else's
  run directory cannot run their code. A file naming any other type is refused
  (`UnsafeCheckpointError`, one line naming the file), never moved aside nor replaced by the
  previous checkpoint: it is not a torn write, and the user decides what to do with it.

Hand-written: torch.save has no atomic, verified or rotating mode.
"""
from __future__ import annotations

import errno
import gc
import os
import pickle
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark import atomic
from evaluation.inception_weights import file_sha256

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
CHECKSUM_SUFFIX = ".sha256"
CORRUPT_SUFFIX = ".corrupt"


class CheckpointCorruptError(RuntimeError):
    """Every checkpoint of a run directory is unreadable."""


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint names a type this suite never writes (it could run code when unpickled).

    A RuntimeError, so the CLI prints it as one `error: ...` line."""


def _numpy_reconstruct() -> Any:
    """numpy's array rebuilder: `numpy._core.multiarray._reconstruct` (numpy 2) or
    `numpy.core.multiarray._reconstruct` (numpy 1); the pickle names whichever wrote it."""
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


# What a run's checkpoint holds beyond torch's own weights-only allowlist (tensors, OrderedDict,
# plain containers and scalars): `np.random.get_state()` is ('MT19937', uint32 ndarray, int,
# int, float), pickled through ndarray, its dtype and numpy's rebuilder. The uint32 dtype's
# class (numpy.dtypes.UInt32DType, numpy >= 1.25) is listed too, as some numpy versions pickle it
# by class; the rebuilder is also accepted under numpy 1's name, so a checkpoint written with
# numpy 1 resumes under numpy 2. Found by listing the globals of a real checkpoint of every family
# (torch.serialization.get_unsafe_globals_in_checkpoint); nothing else is needed.
SAFE_GLOBALS: list[Any] = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), _numpy_reconstruct(),
                           (_numpy_reconstruct(), "numpy.core.multiarray._reconstruct")]

# torch words it "Unsupported global: GLOBAL x.y was not ..." or "unsupported GLOBAL x.y whose ..."
_UNSUPPORTED = re.compile(r"unsupported global:? (?:GLOBAL )?(\S+)", re.IGNORECASE)


class DiskFullError(OSError):
    """No room on the disk for a checkpoint (errno ENOSPC; printed as its message alone)."""

    def __str__(self) -> str:
        return str(self.strerror)


def load_checkpoint(path: Path) -> dict:
    """Load on the CPU: RNG and image-pool generator states must stay CPU ByteTensors (found on
    CUDA: mapping them to the GPU breaks `set_state`); weights move when they are loaded into
    the model, optimiser state follows its parameters.

    Weights only, with `SAFE_GLOBALS` allowed for this call alone (the allowlist of the process
    is left as it was): a file naming any other type raises UnsafeCheckpointError before that
    type is built, so its code never runs."""
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "WeightsUnpickler" not in text and "weights_only" not in text.lower():
            raise  # a torn or garbled pickle: the caller names it as unusable
        found = _UNSUPPORTED.search(text)
        what = (f"{found.group(1).rstrip('.')}" if found
                else "something other than tensors, numpy arrays and plain containers")
        raise UnsafeCheckpointError(
            f"refused to load the checkpoint {path}: it names {what}, which this suite never writes "
            "and which could run code when unpickled; if you did not make it, delete it (and its "
            ".sha256), else train the run again in a fresh run_dir=") from None


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def state_bytes(obj: Any) -> int:
    """Bytes of the tensors in a (nested) checkpoint state: what torch.save will write, ± metadata."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(state_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(state_bytes(v) for v in obj)
    return 64


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete `.checkpoint*.tmp` files a killed writer left (call while holding the run)."""
    stale = sorted(Path(run_dir).glob(".checkpoint*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _is_disk_full(exc: BaseException, folder: Path, needed: int) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    # torch's zip writer reports a short write as "enforce fail at inline_container.cc"
    text = str(exc)
    if "inline_container" in text or "file write failed" in text or "No space left" in text:
        try:
            return shutil.disk_usage(folder).free < needed
        except OSError:
            return True
    return False


def save_checkpoint(run_dir: Path, state: dict, *, iteration: int) -> Path:
    """Write `state` as the run's checkpoint; the previous one is kept as checkpoint.prev.pt.

    Order matters for a kill at any point: the new file is complete and hashed before the old
    one is renamed, and a reader that finds no (or a mismatching) checkpoint.pt falls back to
    checkpoint.prev.pt.
    """
    run_dir = Path(run_dir)
    path, previous = run_dir / CHECKPOINT, run_dir / PREVIOUS
    needed = state_bytes(state)
    failure: BaseException | None = None
    try:
        with atomic.atomic_path(path) as tmp:  # fsynced, then renamed over checkpoint.pt; removed on failure
            torch.save(state, tmp)
            digest = file_sha256(tmp)
            if path.exists():
                os.replace(path, previous)
                if checksum_path(path).exists():
                    os.replace(checksum_path(path), checksum_path(previous))
                else:
                    checksum_path(previous).unlink(missing_ok=True)
            atomic.write_text(checksum_path(path), f"{digest}  {CHECKPOINT}\n")
        return path
    except (OSError, RuntimeError) as exc:
        failure = exc
        chained: BaseException | None = exc
        while chained is not None:  # the frames of the whole chain hold the writer
            chained.__traceback__ = None
            chained = chained.__context__
    # Out of the except block: torch's zip writer, held by the failed frames, is gone and with it
    # its handle on the (already unlinked) temporary, so its space is freed and the free space
    # said is true.
    gc.collect()
    kept = next((p for p in (path, previous) if p.exists()), None)
    intact = f"the previous checkpoint {kept} is intact" if kept else "no earlier checkpoint exists"
    if _is_disk_full(failure, run_dir, needed):
        raise DiskFullError(errno.ENOSPC, f"disk full: could not save the checkpoint {path} at iteration "
                            f"{iteration}: it needs about {_size(needed)} ({_size(2 * needed)} with the "
                            f"previous one kept beside it) and {run_dir} has {_free(run_dir)} free; {intact}: "
                            "free space (or use another store_dir=) and run the same command again "
                            "to resume") from failure
    raise OSError(getattr(failure, "errno", None) or errno.EIO,
                  f"could not save the checkpoint {path} at iteration {iteration} "
                  f"({getattr(failure, 'strerror', None) or failure}); {intact}: fix that and run the "
                  "same command again to resume") from failure


def _free(folder: Path) -> str:
    try:
        return _size(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown space"


def _problem(path: Path) -> str | None:
    """Why `path` is not a whole checkpoint (checksum or load), or None when its checksum holds.

    A file without a checksum (older runs) is accepted here and checked by loading it.
    """
    sidecar = checksum_path(path)
    if not sidecar.exists():
        return None
    try:
        expected = sidecar.read_text().split()[0]
    except (OSError, IndexError):
        return None
    if file_sha256(path) != expected:
        return f"its sha256 does not match {sidecar.name} (truncated or overwritten)"
    return None


def load_latest(run_dir: Path, *, repair: bool = True,
                warn: Callable[[str], None] | None = None) -> dict | None:
    """The newest whole checkpoint of a run (checkpoint.pt, else checkpoint.prev.pt), or None.

    A corrupt file is named in a warning; with `repair` (the trainer, holding the run) it is
    renamed to `<name>.corrupt` so the next save cannot rotate it over the good previous
    checkpoint. If every file present is corrupt, CheckpointCorruptError names them and says
    how to start over (nothing is moved then: the user decides).
    """
    run_dir = Path(run_dir)
    warn = warn or _warn
    bad: list[tuple[Path, str]] = []
    for path in (run_dir / CHECKPOINT, run_dir / PREVIOUS):
        if not path.exists():
            continue
        problem = _problem(path)
        state = None
        if problem is None:
            try:
                state = load_checkpoint(path)
            except UnsafeCheckpointError:
                raise  # not a torn write: neither moved aside nor silently replaced by the previous one
            except Exception as exc:  # zip, pickle and EOF errors have many types; the file is what matters
                problem = f"it does not load ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]})"
        if problem is None and not (isinstance(state, dict) and "iteration" in state):
            problem = "it is not a run checkpoint"
        if problem is None:
            for bad_path, why in bad:
                moved = ""
                if repair:
                    aside = bad_path.with_name(bad_path.name + CORRUPT_SUFFIX)
                    os.replace(bad_path, aside)
                    checksum_path(bad_path).unlink(missing_ok=True)
                    moved = f" (moved to {aside.name})"
                warn(f"checkpoint {bad_path} is unusable: {why}{moved}; using the previous checkpoint "
                     f"{path} (iteration {state['iteration']})")
            return state
        bad.append((path, problem))
    if bad:
        raise CheckpointCorruptError(
            f"no usable checkpoint in {run_dir}: " + "; ".join(f"{p} is unusable: {why}" for p, why in bad)
            + "; delete those files (or use another run_dir=) to train this run from the start")
    return None


def _warn(text: str) -> None:
    """One line on stderr, where the user sees it beside the progress bar."""
    print(f"warning: {text}", file=sys.stderr, flush=True)
