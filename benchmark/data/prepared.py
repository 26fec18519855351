"""The suite's own small layout, written by `prepare_cityscapes`: OUT/<split>/{photo,labels,
train_ids}/<stem>.png.

Everything is already at training size and lossless, so loading is cheap and the trainIds
are exact (no snapping of JPEG colours).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .domains import (
    DomainPair,
    FileListDomain,
    domain_names,
    list_images,
    not_found,
    read_ids,
    require_root,
    resolve_split,
)

LAYOUT = ("ROOT/<split>/photo/<stem>.png, ROOT/<split>/labels/<stem>.png and "
          "ROOT/<split>/train_ids/<stem>.png")
FOLDERS = ("photo", "labels")


class PreparedDomain(FileListDomain):
    """A folder of PNGs whose label side may carry exact trainIds in a sibling folder."""

    def __init__(self, name: str, is_label_map: bool, paths: list[Path],
                 ids_folder: Path | None = None):
        super().__init__(name, is_label_map, paths)
        self._ids_folder = ids_folder
        # Without train_ids/ the exact palette PNGs are snapped, which is lossless.
        self.stores_ids = ids_folder is not None and ids_folder.is_dir()

    def _full_train_ids(self, i: int) -> np.ndarray:
        return read_ids(self._ids_folder / f"{self.stem(i)}.png")  # type: ignore[operator]


def open_prepared(cfg: Any, split: str) -> DomainPair:
    names = domain_names(cfg, "photo", "labels")
    root = require_root(cfg, LAYOUT)
    split = resolve_split(cfg, split)
    found = {}
    for folder_name in FOLDERS:
        folder = root / split / folder_name
        if not folder.is_dir():
            raise not_found(cfg, f"folder {folder} does not exist", LAYOUT)
        found[folder_name] = list_images(folder)
        if not found[folder_name]:
            raise not_found(cfg, f"folder {folder} holds no .png images", LAYOUT)
    photos, labels = found["photo"], found["labels"]
    if photos.keys() != labels.keys():
        only = sorted(photos.keys() ^ labels.keys())
        raise not_found(cfg, f"{root / split}: photo/ and labels/ differ in {len(only)} stems "
                             f"(e.g. {only[0]}); re-run the prepare step to complete it", LAYOUT)
    ids_folder = root / split / "train_ids"
    # A is the photo, B the colour labels, as in the pix2pix Cityscapes files.
    side_a = PreparedDomain(names.a, names.is_label(names.a), list(photos.values()))
    side_b = PreparedDomain(names.b, names.is_label(names.b), list(labels.values()), ids_folder)
    x, y = names.order(side_a, side_b)
    return DomainPair(X=x, Y=y, aligned=True, split=split)
