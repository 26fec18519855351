"""The native Cityscapes release (leftImg8bit + gtFine), and its conversion to `prepared`.

Reading the native files gives exact labels (labelIds, not JPEG-blurred colours) but costs a
2048x1024 PNG decode per image, so `prepare_cityscapes` resizes once into the small
`prepared` layout (photo, colour labels, trainIds; PNG only so labels stay exact).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from benchmark.atomic import save_image
from evaluation.labels import label_ids_to_train_ids, train_ids_to_colors

from .domains import (
    DomainPair,
    FileListDomain,
    domain_names,
    not_found,
    read_ids,
    read_rgb,
    require_root,
    resolve_split,
)
from .errors import DatasetNotFoundError

LAYOUT = ("ROOT/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png and "
          "ROOT/gtFine/<split>/<city>/<name>_gtFine_labelIds.png")
PHOTO_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"


@dataclass(frozen=True)
class NativePair:
    stem: str
    photo: Path
    label_ids: Path


def find_pairs(root: Path, split: str) -> tuple[list[NativePair], int, int]:
    """(pairs with both files, number of photos found, number of labelIds found)."""
    photos = {p.name[: -len(PHOTO_SUFFIX)]: p
              for p in (root / "leftImg8bit" / split).glob(f"*/*{PHOTO_SUFFIX}")}
    labels = {p.name[: -len(LABEL_SUFFIX)]: p
              for p in (root / "gtFine" / split).glob(f"*/*{LABEL_SUFFIX}")}
    stems = sorted(photos.keys() & labels.keys())
    return [NativePair(s, photos[s], labels[s]) for s in stems], len(photos), len(labels)


def native_train_ids(path: Path) -> np.ndarray:
    return label_ids_to_train_ids(read_ids(path))


class NativePhotos(FileListDomain):
    """One file of every pair (the leftImg8bit photo here), named by the pair's stem."""

    def files(self) -> list[Path]:
        return []  # 2048x1024 release files: find_pairs and the prepare step check the layout


class NativeLabels(NativePhotos):
    """Colour label maps drawn from labelIds, so they are exact palette colours."""

    stores_ids = True

    def load(self, i: int) -> Image.Image:
        return Image.fromarray(train_ids_to_colors(self._full_train_ids(self._index(i))))

    def _full_train_ids(self, i: int) -> np.ndarray:
        return native_train_ids(self._paths[i])


def open_cityscapes_native(cfg: Any, split: str) -> DomainPair:
    names = domain_names(cfg, "photo", "labels")
    root = require_root(cfg, LAYOUT)
    split = resolve_split(cfg, split)
    pairs, n_photos, n_labels = find_pairs(root, split)
    if not pairs:
        raise not_found(cfg, f"split {split!r} under {root} has no photo+label pairs (found "
                             f"{n_photos} leftImg8bit photos and {n_labels} gtFine labelIds)",
                        LAYOUT)
    # A is the photo, B the labels (the pix2pix Cityscapes convention).
    stems = [p.stem for p in pairs]
    photo = NativePhotos(names.a, names.is_label(names.a), [p.photo for p in pairs], stems)
    labels = NativeLabels(names.b, names.is_label(names.b), [p.label_ids for p in pairs], stems)
    x, y = names.order(photo, labels)
    return DomainPair(X=x, Y=y, aligned=True, split=split)


def prepare_cityscapes(src: Path, out: Path, size: int = 128,
                       splits: Iterable[str] = ("train", "val"), *, progress: bool = True) -> dict:
    """Convert native Cityscapes under `src` into the `prepared` layout under `out`.

    Writes out/<split>/photo/<stem>.png (BICUBIC), out/<split>/labels/<stem>.png (palette
    colours of the NEAREST-resized trainIds) and out/<split>/train_ids/<stem>.png (uint8).
    Resumable: a stem whose three files exist is skipped. Splits without pairs are skipped
    and reported; if no split has pairs, raises DatasetNotFoundError.
    Returns {"out", "size", "splits": {split: {"pairs", "written", "present"}},
    "skipped_splits": {split: reason}}.
    """
    src, out = Path(src), Path(out)
    if size < 1:
        raise ValueError(f"prepare size must be a positive number of pixels, got {size}")
    if not src.is_dir():
        raise DatasetNotFoundError(f"Cityscapes source folder {src} does not exist; expected "
                                   f"{LAYOUT.replace('ROOT', str(src))}")
    report: dict = {"out": str(out), "size": size, "splits": {}, "skipped_splits": {}}
    for split in splits:
        pairs, n_photos, n_labels = find_pairs(src, split)
        if not pairs:
            report["skipped_splits"][split] = (f"no photo+label pairs ({n_photos} leftImg8bit "
                                               f"photos, {n_labels} gtFine labelIds)")
            continue
        folders = {k: out / split / k for k in ("photo", "labels", "train_ids")}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        written = present = 0
        for pair in tqdm(pairs, desc=f"prepare cityscapes {split}", unit="img", disable=not progress):
            targets = {k: f / f"{pair.stem}.png" for k, f in folders.items()}
            if all(t.exists() for t in targets.values()):
                present += 1
                continue
            photo = read_rgb(pair.photo).resize((size, size), Image.BICUBIC)
            ids = Image.fromarray(native_train_ids(pair.label_ids), mode="L")
            ids = ids.resize((size, size), Image.NEAREST)
            save_image(photo, targets["photo"])
            save_image(Image.fromarray(train_ids_to_colors(np.asarray(ids))), targets["labels"])
            save_image(ids, targets["train_ids"])
            written += 1
        report["splits"][split] = {"pairs": len(pairs), "written": written, "present": present}
    if not report["splits"]:
        reasons = "; ".join(f"{s}: {r}" for s, r in report["skipped_splits"].items())
        raise DatasetNotFoundError(f"no Cityscapes photo+label pairs under {src} ({reasons}); "
                                   f"expected {LAYOUT.replace('ROOT', str(src))}")
    return report
