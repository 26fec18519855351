"""The synthetic dataset: street scenes drawn on the fly as a `DomainPair` (photo, labels).

The embedded default dataset, so the whole suite (training, both evaluation directions,
reports) runs with no download and no licence question. The scenes are painted by
street_painter.py (`draw_scene`); this module only serves them as the two domains, with exact
trainIds on the label side. Scene (split, i) is a pure function of (seed, split, i).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from PIL import Image

from evaluation.labels import train_ids_to_colors

from .domains import Domain, DomainPair, cfg_get, domain_names
from .errors import DatasetConfigError
from .street_painter import DEFAULT_SIZE, draw_scene

__all__ = ["DEFAULT_SIZE", "SyntheticDomain", "draw_scene", "open_synthetic"]


class _Scenes:
    """Scenes of one split, with a small in-memory memo so X.load(i) and Y.load(i) of the same
    scene draw it once (nothing is cached on disk)."""

    def __init__(self, seed: int, split: str, count: int, size: int):
        self.seed, self.split, self.count, self.size = seed, split, count, size
        self._memo: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self._memo:
            self._memo[i] = draw_scene(self.seed, self.split, i, self.size)
            if len(self._memo) > 8:
                self._memo.popitem(last=False)
        return self._memo[i]


class SyntheticDomain(Domain):
    def __init__(self, name: str, is_label_map: bool, scenes: _Scenes, draws_labels: bool):
        super().__init__(name, is_label_map)
        self._scenes = scenes
        self._draws_labels = draws_labels
        self.stores_ids = draws_labels

    def __len__(self) -> int:
        return self._scenes.count

    def stem(self, i: int) -> str:
        return f"{self._scenes.split}_{self._index(i):05d}"

    def describe(self, i: int) -> str:
        return f"synthetic scene {self.stem(i)} (seed {self._scenes.seed})"

    def load(self, i: int) -> Image.Image:
        ids, photo = self._scenes.get(self._index(i))
        # A copy: callers may edit the image in place, the memo must stay intact.
        return Image.fromarray(train_ids_to_colors(ids) if self._draws_labels else photo.copy())

    def _full_train_ids(self, i: int) -> np.ndarray:
        return self._scenes.get(i)[0].copy()


def open_synthetic(cfg: Any, split: str) -> DomainPair:
    names = domain_names(cfg, "photo", "labels")
    train_split = str(cfg_get(cfg, "train_split", "train"))
    test_split = str(cfg_get(cfg, "test_split", "test"))
    if split in ("train", train_split):
        role, count = "train", cfg_get(cfg, "train_count", 200)
    elif split in ("test", "val", test_split):
        role, count = "test", cfg_get(cfg, "test_count", 50)
    else:
        raise DatasetConfigError(f"synthetic dataset has splits {train_split!r} and "
                                 f"{test_split!r}, not {split!r}")
    count, size = int(count), int(cfg_get(cfg, "size", DEFAULT_SIZE) or DEFAULT_SIZE)
    if count < 1 or size < 16:
        raise DatasetConfigError(f"synthetic dataset needs {role}_count >= 1 and size >= 16, "
                                 f"got {count} and {size}")
    scenes = _Scenes(int(cfg_get(cfg, "seed", 0)), role, count, size)
    # A is the photo, B the label map, as in the pix2pix Cityscapes files.
    side_a = SyntheticDomain(names.a, names.is_label(names.a), scenes, draws_labels=False)
    side_b = SyntheticDomain(names.b, names.is_label(names.b), scenes, draws_labels=True)
    x, y = names.order(side_a, side_b)
    split_name = train_split if role == "train" else test_split
    return DomainPair(X=x, Y=y, aligned=True, split=split_name)
