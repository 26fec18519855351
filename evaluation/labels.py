"""The Cityscapes label definitions and colour <-> class conversion.

The table is a vendored copy of the official `cityscapesscripts.helpers.labels` values (id,
trainId, colour), kept here so that scoring needs no extra package; `tests/test_labels.py`
pins it to the official numbers. The paper scores the 19 *training* classes (trainId 0-18);
every other id maps to 255, which the metrics ignore.

Generated and JPEG-stored label images are colour maps, so they are turned into classes by
snapping each pixel to the nearest palette colour. Two rules (`SNAP_RULES`):

* `train19` (the default for *generated* maps, docs/protocol.md's usual rule): the nearest of the 19
  training-class colours. A generator is only asked for those classes; with the full palette,
  a slightly-off fence pixel that lands nearer guard rail or parking becomes "ignore" and
  counts as an error (colour noise sigma=20 on fence: 0.82 recovered vs 0.51).
* `full_palette`: every colour of the table, non-training ones (void, parking, guard rail, ...)
  mapping to 255. This is right for *ground-truth* JPEG maps, whose void regions are really
  void, and stays available for generated maps as `evaluation.snap_rule=full_palette`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

IGNORE_INDEX = 255


class Label(NamedTuple):
    name: str
    id: int
    train_id: int
    color: tuple[int, int, int]


LABELS: tuple[Label, ...] = (
    Label("unlabeled", 0, 255, (0, 0, 0)),
    Label("ego vehicle", 1, 255, (0, 0, 0)),
    Label("rectification border", 2, 255, (0, 0, 0)),
    Label("out of roi", 3, 255, (0, 0, 0)),
    Label("static", 4, 255, (0, 0, 0)),
    Label("dynamic", 5, 255, (111, 74, 0)),
    Label("ground", 6, 255, (81, 0, 81)),
    Label("road", 7, 0, (128, 64, 128)),
    Label("sidewalk", 8, 1, (244, 35, 232)),
    Label("parking", 9, 255, (250, 170, 160)),
    Label("rail track", 10, 255, (230, 150, 140)),
    Label("building", 11, 2, (70, 70, 70)),
    Label("wall", 12, 3, (102, 102, 156)),
    Label("fence", 13, 4, (190, 153, 153)),
    Label("guard rail", 14, 255, (180, 165, 180)),
    Label("bridge", 15, 255, (150, 100, 100)),
    Label("tunnel", 16, 255, (150, 120, 90)),
    Label("pole", 17, 5, (153, 153, 153)),
    Label("polegroup", 18, 255, (153, 153, 153)),
    Label("traffic light", 19, 6, (250, 170, 30)),
    Label("traffic sign", 20, 7, (220, 220, 0)),
    Label("vegetation", 21, 8, (107, 142, 35)),
    Label("terrain", 22, 9, (152, 251, 152)),
    Label("sky", 23, 10, (70, 130, 180)),
    Label("person", 24, 11, (220, 20, 60)),
    Label("rider", 25, 12, (255, 0, 0)),
    Label("car", 26, 13, (0, 0, 142)),
    Label("truck", 27, 14, (0, 0, 70)),
    Label("bus", 28, 15, (0, 60, 100)),
    Label("caravan", 29, 255, (0, 0, 90)),
    Label("trailer", 30, 255, (0, 0, 110)),
    Label("train", 31, 16, (0, 80, 100)),
    Label("motorcycle", 32, 17, (0, 0, 230)),
    Label("bicycle", 33, 18, (119, 11, 32)),
)

NUM_CLASSES = 19
TRAIN_LABELS: tuple[Label, ...] = tuple(sorted((l for l in LABELS if l.train_id != IGNORE_INDEX),
                                               key=lambda l: l.train_id))
CLASS_NAMES: tuple[str, ...] = tuple(l.name for l in TRAIN_LABELS)
#: (19, 3) uint8: the colour of each training class, indexed by trainId.
TRAIN_PALETTE = np.array([l.color for l in TRAIN_LABELS], dtype=np.uint8)

#: (34,) uint8 lookup: official labelId -> trainId (255 for every non-training id).
ID_TO_TRAIN_ID = np.full(256, IGNORE_INDEX, dtype=np.uint8)
for _label in LABELS:
    ID_TO_TRAIN_ID[_label.id] = _label.train_id

# Snapping candidates: the 19 training colours first, then every non-training colour that no
# training class uses (void black, dynamic, ground, parking, ...), each mapped to 255.
_train_colors = {l.color for l in TRAIN_LABELS}
_void_colors = sorted({l.color for l in LABELS if l.train_id == IGNORE_INDEX} - _train_colors)
SNAP_COLORS = np.array([l.color for l in TRAIN_LABELS] + _void_colors, dtype=np.int32)
SNAP_TRAIN_IDS = np.array([l.train_id for l in TRAIN_LABELS] + [IGNORE_INDEX] * len(_void_colors),
                          dtype=np.uint8)
TRAIN19, FULL_PALETTE = "train19", "full_palette"
#: rule -> (candidate colours, their trainIds); the 19 training colours are the first 19 rows
SNAP_RULES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    TRAIN19: (SNAP_COLORS[:NUM_CLASSES], SNAP_TRAIN_IDS[:NUM_CLASSES]),
    FULL_PALETTE: (SNAP_COLORS, SNAP_TRAIN_IDS),
}


def check_snap_rule(rule: str) -> str:
    if rule not in SNAP_RULES:
        raise ValueError(f"evaluation.snap_rule={rule!r} is not a snapping rule: use one of {', '.join(SNAP_RULES)}")
    return rule


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Official gtFine `labelIds` (0-33, -1 for licence plate) -> trainIds (0-18, 255)."""
    return ID_TO_TRAIN_ID[np.asarray(label_ids).astype(np.int64) & 0xFF]


def train_ids_to_colors(train_ids: np.ndarray) -> np.ndarray:
    """(H, W) trainIds -> (H, W, 3) uint8 colour map; 255 (ignore) is drawn black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:NUM_CLASSES] = TRAIN_PALETTE
    return lut[np.asarray(train_ids, dtype=np.uint8)]


def snap_to_palette(rgb: np.ndarray, chunk: int = 1 << 16,
                    rule: str = FULL_PALETTE) -> tuple[np.ndarray, np.ndarray]:
    """Snap an (H, W, 3) colour label image to classes by `rule` (see the module docstring; the
    full palette by default because ground-truth maps are read with it; scoring passes
    `evaluation.snap_rule`, train19 unless changed).

    Returns `(train_ids, distance)`: the trainId of the nearest candidate colour per pixel
    (255 where that colour is a non-training one) and the Euclidean RGB distance to it, so a
    caller can tell JPEG noise (small distances) from an image that is not a label map at all.
    """
    colors, train_ids = SNAP_RULES[check_snap_rule(rule)]
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB label image, got shape {rgb.shape}")
    flat = rgb.reshape(-1, 3).astype(np.int32)
    ids = np.empty(len(flat), dtype=np.uint8)
    dist = np.empty(len(flat), dtype=np.float32)
    for start in range(0, len(flat), chunk):
        block = flat[start:start + chunk]
        d2 = ((block[:, None, :] - colors[None, :, :]) ** 2).sum(axis=2)
        nearest = d2.argmin(axis=1)
        ids[start:start + chunk] = train_ids[nearest]
        dist[start:start + chunk] = np.sqrt(d2[np.arange(len(block)), nearest])
    return ids.reshape(rgb.shape[:2]), dist.reshape(rgb.shape[:2])


def colors_to_train_ids(rgb: np.ndarray, rule: str = FULL_PALETTE) -> np.ndarray:
    """(H, W, 3) colour label image -> (H, W) trainIds by nearest candidate colour of `rule`."""
    return snap_to_palette(rgb, rule=rule)[0]
