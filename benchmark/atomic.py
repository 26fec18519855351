"""Atomic file writes: a reader (or a resumed run) sees the old file or the new one, never half.

Every file of a run directory goes through here. The temporary file lives in the target's
directory so `os.replace` is a rename on one filesystem; on any failure (disk full included)
the temporary is removed and the previous file is left untouched. A file gets the mode an
ordinary `open` would give it (0666 less the umask), not mkstemp's 0600: in a lab's shared
store, colleagues read each other's results.

A folder that must be one set (the generated images of one evaluation, a real-image cache) is
written whole into a new folder beside its target and swapped in (`fresh_folder`): a reader never
sees new files beside old ones.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if sys.platform != "win32":
            os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc/self/status);
    elsewhere set and restored at once."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_folder(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put the finished folder `new` where `target` is, as one swap.

    POSIX has no atomic exchange of two non-empty directories, so: rename the old folder aside,
    rename the new one in, delete the old. If the second rename fails the old folder is put back;
    a crash between the two renames leaves both complete folders on disk, never a mixture.
    """
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def fresh_folder(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a new, empty folder beside `target`; swap it in for `target` if the block succeeds,
    delete it if not (the old `target`, if any, is then left as it was)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    new = target.with_name(f".{target.name}.new-{uuid.uuid4().hex[:8]}")
    new.mkdir()
    try:
        yield new
        replace_folder(new, target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_image(image, path: str | os.PathLike) -> None:
    """Save a PIL image atomically (format from the suffix of `path`)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"))
