"""CycleGAN-style unaligned folders: ROOT/trainA, trainB, testA, testB.

The layout of the truly unpaired datasets (horse2zebra, monet2photo, ...): image i of A and
image i of B are unrelated, so `aligned=False` and evaluation treats each side on its own
(`TestDomain`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .domains import DomainPair, FileListDomain, domain_names, list_images, not_found, require_root, resolve_split

LAYOUT = "ROOT/trainA, ROOT/trainB, ROOT/testA, ROOT/testB, each a folder of .jpg/.png images"


class FolderDomain(FileListDomain):
    """Every image of one folder, in stem order."""


def folder_prefix(root: Path, split: str) -> str:
    """trainA/trainB for "train"; testA/testB for "test" or "val" unless valA exists."""
    if (root / f"{split}A").is_dir() or split not in ("test", "val"):
        return split
    return "test"


def open_unaligned(cfg: Any, split: str) -> DomainPair:
    names = domain_names(cfg)
    root = require_root(cfg, LAYOUT)
    prefix = folder_prefix(root, resolve_split(cfg, split))
    sides = []
    for letter, name in (("A", names.a), ("B", names.b)):
        folder = root / f"{prefix}{letter}"
        if not folder.is_dir():
            raise not_found(cfg, f"folder {folder} does not exist", LAYOUT)
        paths = list(list_images(folder).values())
        if not paths:
            raise not_found(cfg, f"folder {folder} holds no .jpg/.png images", LAYOUT)
        sides.append(FolderDomain(name, names.is_label(name), paths))
    x, y = names.order(*sides)
    return DomainPair(X=x, Y=y, aligned=False, split=prefix)
