"""The results store: one directory per run, and what state each run is in.

A run directory holds config.yaml, env.json, train_log.csv, checkpoint.pt, samples/, test/,
status.json and finally metrics.json. The rerun rule reads only these files:
metrics.json of the same evaluation -> done (skip); a checkpoint -> resume; else start.
A lock file makes sure no two processes ever train the same directory at once.

The store never writes into a folder it did not make: `run_lock` refuses an existing folder
that holds anything but a run's config.yaml or the few files the store writes before it
(`run_dir=` pointing at a user's folder), and a config.yaml that is not a run config is named
in one line, never parsed into a traceback.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark import atomic

STORE_FORMAT = 1
STORE_MARKER = "store.json"

# The locks are the operating system's own (flock; msvcrt's byte lock on Windows, which has no
# fcntl), so they are dropped when their holder dies: a killed or preempted job never leaves a
# stale lock behind. Trying a lock never writes the lock file, so the pid its holder wrote there
# stays readable; the filelock package would not keep that (its 3.x lock opens the file with
# O_TRUNC on every attempt, erasing the holder's pid).
if sys.platform == "win32":
    import msvcrt

    def _try_lock(fh) -> bool:
        """Lock the file's first byte at once; False if another process holds it."""
        fh.seek(0)
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fh) -> bool:
        """Take the file's exclusive flock at once; False if another process holds it."""
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fh) -> None:
        fcntl.flock(fh, fcntl.LOCK_UN)


class StoreFormatError(RuntimeError):
    """The store was written by a newer, incompatible version of the suite."""


class RunLockedError(RuntimeError):
    """Another process is working in this run directory."""


class RunDirRefusedError(ValueError):
    """A folder the store will not write into: not its own, or a run of another config. Never
    recorded as the run's failure (the folder is not this run's)."""


#: What a run config has at its top (a foreign or truncated config.yaml lacks some).
RUN_CONFIG_KEYS = ("seed", "device", "store_dir", "model", "dataset", "trainer", "evaluation")
#: Files the store writes into a run directory before its config.yaml (lock, failure, SLURM job).
EARLY_FILES = ("config.yaml", ".lock", "status.json", "slurm.json")


def read_run_config(run_dir: Path) -> dict | None:
    """A run directory's config.yaml, resolved; None where there is none; a one-line
    RunDirRefusedError where it is not readable or not a run config of this benchmark."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return None
    try:
        tree = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunDirRefusedError(f"{path} is not a readable run config ({type(exc).__name__}: {first}): "
                                 "restore it, or use another run_dir=") from None
    missing = [k for k in RUN_CONFIG_KEYS if not isinstance(tree, dict) or k not in tree]
    if missing:
        raise RunDirRefusedError(f"{path} is not a run config of this benchmark (no {', '.join(missing)}): "
                                 "this folder is not a run directory; use another run_dir=")
    return tree


def check_own_folder(run_dir: Path) -> None:
    """Refuse an existing folder the store did not make (module docstring)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or read_run_config(run_dir) is not None:
        return
    foreign = sorted(p.name for p in run_dir.iterdir()
                     if p.name not in EARLY_FILES and not (p.name.startswith(".") and p.name.endswith(".tmp")))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise RunDirRefusedError(f"{run_dir} is a folder the benchmark did not make (it holds {shown}): refusing "
                                 "to write into it; use a new or empty run_dir=")


def check_store(store_dir: Path) -> None:
    """Create the store marker, or refuse a store written by a newer format."""
    marker = Path(store_dir) / STORE_MARKER
    if marker.exists():
        found = json.loads(marker.read_text()).get("format", 0)
        if found > STORE_FORMAT:
            raise StoreFormatError(f"store {store_dir} was written by store format {found}; this version "
                                   f"reads format {STORE_FORMAT}: upgrade the benchmark or use another store_dir=")
        return
    atomic.write_json(marker, {"format": STORE_FORMAT})


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@dataclass
class RunState:
    """What the store says about one run: pending, partial, running, trained, done, failed."""

    state: str
    iteration: int | None = None
    total: int | None = None
    error: str | None = None
    attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.state == "done"


def run_state(run_dir: Path, evaluation_hash: str | None = None) -> RunState:
    run_dir = Path(run_dir)
    metrics = read_json(run_dir / "metrics.json")
    status = read_json(run_dir / "status.json") or {}
    attempts = int(status.get("attempts", 0))
    if metrics and (evaluation_hash is None
                    or metrics.get("evaluation", {}).get("evaluation_hash") == evaluation_hash):
        return RunState("done", status.get("iteration"), status.get("total"), attempts=attempts)
    if is_locked(run_dir):
        return RunState("running", status.get("iteration"), status.get("total"), attempts=attempts)
    if status.get("state") == "failed":
        return RunState("failed", status.get("iteration"), status.get("total"), status.get("error"), attempts)
    if status.get("state") == "trained":
        return RunState("trained", status.get("iteration"), status.get("total"), attempts=attempts)
    if (run_dir / "checkpoint.pt").exists() or (run_dir / "checkpoint.prev.pt").exists():
        return RunState("partial", status.get("iteration"), status.get("total"), attempts=attempts)
    return RunState("pending", attempts=attempts)


def is_locked(run_dir: Path) -> bool:
    lock = Path(run_dir) / ".lock"
    if not lock.exists():
        return False
    with open(lock, "a") as fh:
        if not _try_lock(fh):
            return True
        _unlock(fh)
        return False


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock; refuse at once if another process holds it, naming the file
    that holds its pid. The OS releases it when the holder dies (see the note on the locks above).
    A folder the store did not make is refused before anything is written into it."""
    run_dir = Path(run_dir)
    check_own_folder(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / ".lock", "a")
    try:
        if not _try_lock(fh):
            raise RunLockedError(f"{run_dir} is being worked on by another process (pid in "
                                 f"{run_dir / '.lock'}): wait for it, or stop it first")
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """A named lock for work that must not run twice at once (a suite, an evaluator)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        if not _try_lock(fh):
            raise RunLockedError(f"{what} is already running (lock {path}): wait for it to finish")
        yield


def write_status(run_dir: Path, state: str, **fields) -> None:
    """status.json: the run's state, keeping the attempt count across writes."""
    previous = read_json(Path(run_dir) / "status.json") or {}
    atomic.write_json(Path(run_dir) / "status.json",
                      {"state": state, "attempts": int(previous.get("attempts", 0)), **fields,
                       "time": time.strftime("%Y-%m-%dT%H:%M:%S")})


def record_failure(run_dir: Path, error: BaseException) -> None:
    """Mark a run failed with the error's last line; count the attempt for the retry limit."""
    status = read_json(Path(run_dir) / "status.json") or {}
    message = (str(error).strip().splitlines() or [type(error).__name__])[-1]
    atomic.write_json(Path(run_dir) / "status.json",
                      {**status, "state": "failed", "error": f"{type(error).__name__}: {message}",
                       "attempts": int(status.get("attempts", 0)) + 1})
