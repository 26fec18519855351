"""pix2pix aligned files: ROOT/<split>/<n>.jpg, each one A | B side by side.

This is how the paper's Cityscapes (photo | colour labels, 512x256), maps and facades are
distributed, so it is the default source. A and B of a file are the same scene, hence
`aligned=True`; the unpaired methods still draw Y at random (see iteration.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from .domains import (
    DomainPair,
    FileListDomain,
    domain_names,
    list_images,
    not_found,
    read_rgb,
    require_root,
    resolve_split,
)
from .errors import AlignedPairError

LAYOUT = "ROOT/<split>/<n>.jpg (or .png), each file the A image and the B image side by side"


def split_halves(img: Image.Image, path: Path) -> tuple[Image.Image, Image.Image]:
    """(A, B): the left and the right half of an A|B file."""
    width, height = img.size
    if width % 2:
        raise AlignedPairError(f"{path}: width {width} is odd, so it cannot be split into "
                               "A | B halves; an aligned pix2pix file is two equal images side "
                               "by side (re-create it, e.g. 512x256 for two 256x256 images)")
    half = width // 2
    return img.crop((0, 0, half, height)), img.crop((half, 0, width, height))


class Pix2PixSide(FileListDomain):
    """The A (left) or B (right) half of every file in one split folder."""

    def __init__(self, name: str, is_label_map: bool, paths: list[Path], side: int):
        super().__init__(name, is_label_map, paths)
        self._side = side

    side_by_side = True

    def describe(self, i: int) -> str:
        return f"{self.path(i)} ({'left' if self._side == 0 else 'right'} half)"

    def load(self, i: int) -> Image.Image:
        path = self.path(i)
        return split_halves(read_rgb(path), path)[self._side]


def open_pix2pix(cfg: Any, split: str) -> DomainPair:
    names = domain_names(cfg)
    root = require_root(cfg, LAYOUT)
    split = resolve_split(cfg, split)
    folder = root / split
    if not folder.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise not_found(cfg, f"split folder {folder} does not exist (found: "
                             f"{', '.join(present) or 'no folders'})", LAYOUT)
    paths = list(list_images(folder).values())
    if not paths:
        raise not_found(cfg, f"split folder {folder} holds no .jpg/.png images", LAYOUT)
    side_a = Pix2PixSide(names.a, names.is_label(names.a), paths, side=0)
    side_b = Pix2PixSide(names.b, names.is_label(names.b), paths, side=1)
    x, y = names.order(side_a, side_b)
    return DomainPair(X=x, Y=y, aligned=True, split=split)
