"""A dataset's content fingerprint: what a run was trained on, and what real-image caches hold.

A dataset's name and folder say nothing about its images: two folders may share a name, and a
folder may be refilled in place. The fingerprint is what the images are, cheaply: the sorted
relative paths and sizes of every image file under the root, plus a sha256 of a sample of each
file's bytes (its first and last 4 KiB: headers, quantisation tables and the first and last
coded blocks, so a replaced image with the same size is still seen). On Cityscapes' 3475 files
that is a directory walk and 7 MB read, a fraction of a second, and it is memoised per process
while no file's size or mtime changes. The location is not in it, so a moved dataset keeps its
runs and caches.

The synthetic scenes have no files: they are a pure function of their generating settings,
which are their fingerprint (and are already part of every run's identity).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .domains import IMAGE_SUFFIXES, cfg_get

FINGERPRINT_FORMAT = 1
SAMPLE_BYTES = 4096
#: The settings the synthetic scenes are drawn from (benchmark/data/synthetic.py).
SYNTHETIC_KEYS = ("source", "seed", "train_count", "test_count", "size", "train_split", "test_split")
#: What the fingerprint reads when the dataset folder is missing: a run planned on it cannot be
#: trained (opening the dataset says why), yet its plan, status and description still work.
ABSENT = "absent"

_memo: dict[tuple, str] = {}


def has_files(dataset_cfg: Any) -> bool:
    """True for sources read from a folder (all but the synthetic scenes)."""
    return cfg_get(dataset_cfg, "source", None) != "synthetic"


def dataset_root(dataset_cfg: Any) -> Path | None:
    """The dataset folder, absolute (None where there is none)."""
    root = cfg_get(dataset_cfg, "root", None)
    if root in (None, "") or not has_files(dataset_cfg):
        return None
    return Path(os.path.abspath(Path(str(root)).expanduser()))  # absolute, `..` folded, links kept


def dataset_fingerprint(dataset_cfg: Any) -> str:
    """16 hex digits naming the dataset's contents (module docstring); "absent" for a missing folder."""
    if not has_files(dataset_cfg):
        settings = {k: cfg_get(dataset_cfg, k, None) for k in SYNTHETIC_KEYS}
        return _digest(json.dumps(settings, sort_keys=True, default=str).encode())
    root = dataset_root(dataset_cfg)
    if root is None or not root.is_dir():
        return ABSENT
    return folder_fingerprint(root)


def folder_fingerprint(root: Path) -> str:
    """The fingerprint of every image file under `root` (hidden files and folders skipped)."""
    listing = _listing(Path(root))
    key = (str(root), tuple(listing))
    if key not in _memo:
        h = hashlib.sha256(f"format {FINGERPRINT_FORMAT}\n".encode())
        for rel, size, _ in listing:
            h.update(f"{rel}\0{size}\0".encode())
            h.update(_sample(Path(root) / rel, size))
        _memo[key] = h.hexdigest()[:16]
    return _memo[key]


def _listing(root: Path) -> list[tuple[str, int, int]]:
    """(relative POSIX path, size, mtime_ns) of every image file under `root`, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            path = Path(folder) / name
            st = path.stat()
            found.append((path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    return sorted(found)


def _sample(path: Path, size: int) -> bytes:
    """The first and last SAMPLE_BYTES of a file (the whole file when it is small)."""
    with open(path, "rb") as fh:
        if size <= 2 * SAMPLE_BYTES:
            return fh.read()
        head = fh.read(SAMPLE_BYTES)
        fh.seek(size - SAMPLE_BYTES)
        return head + fh.read(SAMPLE_BYTES)


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:16]
