"""Tiny file datasets in the pix2pix Cityscapes layout (photo | colour labels), for tests that
need real files: fingerprints, moved and changed folders, bad images."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from evaluation.labels import TRAIN_PALETTE

SIDE = 32  # each half; the smoke profile crops 32x32


def pair_file(path: Path, seed: int) -> None:
    """One 64x32 A|B file: random photo half, a palette label half (exact colours)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 19, (SIDE // 8, SIDE // 8)).repeat(8, 0).repeat(8, 1)
    label = TRAIN_PALETTE[ids]
    photo = rng.integers(0, 256, label.shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([photo, label], axis=1).astype(np.uint8)).save(path)


def make_dataset(root: Path, *, train: int = 4, val: int = 3, seed: int = 0) -> Path:
    """ROOT/{train,val}/<i>.png; `seed` makes another dataset with the same names and count."""
    for split, n in (("train", train), ("val", val)):
        for i in range(n):
            pair_file(root / split / f"{i}.png", seed * 1000 + (split == "val") * 100 + i)
    return root


def move_dataset(src: Path, dst: Path) -> Path:
    shutil.move(str(src), str(dst))
    return dst


def file_overrides(root: Path, *extra: str) -> list[str]:
    """A smoke-sized CycleGAN run on the dataset at `root` (FID off: not the point here)."""
    return ["dataset=cityscapes", f"dataset.root={root}", "profile=smoke", "progress=false",
            "trainer.iterations=2", "trainer.checkpoint_every=2", "trainer.sample_every=2",
            "evaluation.fid.enabled=false", "evaluation.segmenter.iterations=2", *extra]
