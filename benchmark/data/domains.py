"""The one interface every dataset source offers: two image domains X and Y.

The training loop and the evaluation only see `DomainPair(X, Y, aligned, split)` and
`Domain` (len, stem, load, train_ids); the five sources (pix2pix A|B files, CycleGAN
trainA/trainB folders, native Cityscapes, the prepared layout and the synthetic streets)
differ only in how they find and decode files. Keeping that difference behind one small
class is what lets the same run compare methods across datasets. The four file-based sources
share `FileListDomain` (one file per item, in the order given).
"""
from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.labels import snap_to_palette

from .errors import DatasetConfigError, DatasetNotFoundError, ImageReadError, LabelColourError
from .rgb import to_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

PREPARE_HINT = ("for Cityscapes, convert the native release with "
                "`benchmark data prepare cityscapes --src DIR --out DIR --size 128` "
                "and set dataset.source=prepared dataset.root=OUT")

# A colour label half is JPEG-blurred, so many pixels sit a little off the palette. Measured
# on all 3475 pix2pix Cityscapes files (train + val): the share of pixels farther than 10
# (RGB Euclidean) from the nearest palette colour is 0.23 median, 0.41 at most on the label
# halves, but 0.73 at least (median 0.96) on the photo halves, and 0.62 at least on facades
# label halves (another palette). 10 separates best (at 40: labels <= 0.12, photos >= 0.15),
# so an image above 0.55 is not a Cityscapes colour label map.
LABEL_FAR_DISTANCE = 10.0
LABEL_FAR_FRACTION = 0.55


def cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    """Read `key` from a DictConfig, a dict or any object with attributes."""
    if cfg is None:
        return default
    getter = getattr(cfg, "get", None)
    if callable(getter):
        return getter(key, default)
    return getattr(cfg, key, default)


def read_rgb(path: Path) -> Image.Image:
    """Decode an image fully (so truncation is caught here, not in a worker later), as RGB:
    greyscale, palette, CMYK and 16-bit images are converted and alpha is flattened onto white
    (rgb.py says why)."""
    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(f"cannot read image {path} ({err}); re-copy or delete this file "
                             "from the dataset") from None


def read_ids(path: Path) -> np.ndarray:
    """Decode a single-channel id PNG (labelIds or trainIds) as uint8 (H, W)."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ("L", "P", "I", "I;16"):
                raise ValueError(f"mode {img.mode}, expected a single-channel id image")
            arr = np.asarray(img)
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"cannot read id image {path} ({err}); re-copy this file from "
                             "the Cityscapes release or re-run the prepare step") from None
    return arr.astype(np.uint8)  # a writable copy (PIL's buffer is read-only)


def sort_stems(stems: Sequence[str]) -> list[str]:
    """Numeric order when every stem is an integer (1, 2, ..., 10), else lexicographic."""
    if stems and all(s.isdigit() for s in stems):
        return sorted(stems, key=int)
    return sorted(stems)


def list_images(folder: Path) -> dict[str, Path]:
    """stem -> path of the images directly in `folder`, refusing ambiguous stems."""
    found: dict[str, Path] = {}
    for path in folder.iterdir():
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            if path.stem in found:
                raise DatasetConfigError(f"two images share the stem {path.stem!r} in {folder} "
                                         f"({found[path.stem].name}, {path.name}); keep one")
            found[path.stem] = path
    return {s: found[s] for s in sort_stems(list(found))}


def snap_label_image(rgb: np.ndarray, path: Any) -> np.ndarray:
    """Colour label map -> trainIds, refusing images that are not palette label maps."""
    ids, dist = snap_to_palette(rgb)
    far = float((dist > LABEL_FAR_DISTANCE).mean())
    if far > LABEL_FAR_FRACTION:
        raise LabelColourError(
            f"{path}: {far:.1%} of pixels are farther than {LABEL_FAR_DISTANCE:g} from every "
            f"Cityscapes palette colour (JPEG label maps stay under {LABEL_FAR_FRACTION:.0%}); "
            "this is not a colour label map: check dataset.label_domain / a_domain / b_domain")
    return ids


def resize_ids(ids: np.ndarray, size: int | None) -> np.ndarray:
    """Resize a class-id map by NEAREST: ids are categories and must never be blended."""
    if size is None or ids.shape == (size, size):
        return ids
    return np.array(Image.fromarray(ids, mode="L").resize((size, size), Image.NEAREST))


class Domain(abc.ABC):
    """One side of a dataset: an indexed, read-only list of images.

    Sources implement `__len__`, `stem`, `load` and `describe`; label domains whose source
    stores class ids set `stores_ids` and implement `_full_train_ids`; the others are snapped
    to the nearest palette colour.
    """

    def __init__(self, name: str, is_label_map: bool):
        self.name = name
        self.is_label_map = is_label_map

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def stem(self, i: int) -> str:
        """A unique file-name stem of item i (used for sample and prediction files)."""

    @abc.abstractmethod
    def load(self, i: int) -> Image.Image:
        """Item i as an RGB image at its full stored resolution."""

    @abc.abstractmethod
    def describe(self, i: int) -> str:
        """Where item i comes from (a path), for error messages."""

    #: True where the source stores class ids (`_full_train_ids`); False: snap the colours.
    stores_ids = False
    #: True where each file holds both sides, A | B (pix2pix): its width must be twice its height.
    side_by_side = False

    def files(self) -> list[Path]:
        """The image files behind this domain, for the header checks; [] where there are none
        to check (drawn on the fly, or a release whose layout its own prepare step checks)."""
        return []

    def train_ids(self, i: int, size: int | None = None) -> np.ndarray:
        """Ground-truth trainIds (uint8, 255 = ignore), NEAREST-resized to size x size."""
        if not self.is_label_map:
            raise DatasetConfigError(f"domain {self.name!r} is not a label domain, so it has no "
                                     "trainIds; set dataset.label_domain to the label side")
        i = self._index(i)
        if self.stores_ids:
            return resize_ids(self._full_train_ids(i), size)
        # Snapping is per pixel and NEAREST only picks pixels, so picking first and snapping
        # the few picked pixels gives the same ids as snapping the full image, much faster.
        img = self.load(i)
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.NEAREST)
        return snap_label_image(np.asarray(img), self.describe(i))

    def _full_train_ids(self, i: int) -> np.ndarray:
        """The stored trainIds of item i at full resolution (sources with stores_ids)."""
        raise NotImplementedError

    def _index(self, i: int) -> int:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for domain {self.name!r} with {n} images")
        return i % n

    def __repr__(self) -> str:
        kind = ", label map" if self.is_label_map else ""
        return f"{type(self).__name__}({self.name!r}, {len(self)} images{kind})"


class FileListDomain(Domain):
    """One image file per item, in the order given (the file-based sources' shared plumbing).

    Item i is read from `path(i)` and named after that file's stem, unless the source passes
    its own `stems` (native Cityscapes drops the `_leftImg8bit` suffix). Subclasses change what
    `load` and `describe` make of the path (pix2pix: one half of an A|B file).
    """

    def __init__(self, name: str, is_label_map: bool, paths: list[Path],
                 stems: list[str] | None = None):
        super().__init__(name, is_label_map)
        self._paths = paths
        self._stems = stems

    def __len__(self) -> int:
        return len(self._paths)

    def files(self) -> list[Path]:
        return list(self._paths)

    def path(self, i: int) -> Path:
        """The file behind item i."""
        return self._paths[self._index(i)]

    def stem(self, i: int) -> str:
        if self._stems is not None:
            return self._stems[self._index(i)]
        return self.path(i).stem

    def describe(self, i: int) -> str:
        return str(self.path(i))

    def load(self, i: int) -> Image.Image:
        return read_rgb(self.path(i))


@dataclass(frozen=True)
class DomainPair:
    """X and Y of one split; `aligned` means X[i] and Y[i] show the same scene."""

    X: Domain
    Y: Domain
    aligned: bool
    split: str

    def oriented(self, direction: str) -> tuple[Domain, Domain]:
        """(source, target) of a translation direction: 'X2Y' reads X and writes Y."""
        if direction not in ("X2Y", "Y2X"):
            raise ValueError(f"direction {direction!r}: valid are 'X2Y', 'Y2X'")
        return (self.X, self.Y) if direction == "X2Y" else (self.Y, self.X)


@dataclass(frozen=True)
class DomainNames:
    """The config's naming of the two sides, checked once for every source."""

    a: str
    b: str
    x: str
    label: str | None

    @property
    def x_is_a(self) -> bool:
        return self.x == self.a

    def is_label(self, name: str) -> bool:
        return self.label is not None and name == self.label

    def order(self, side_a: Domain, side_b: Domain) -> tuple[Domain, Domain]:
        """(X, Y) from the A and B domains."""
        return (side_a, side_b) if self.x_is_a else (side_b, side_a)


def domain_names(cfg: Any, default_a: str = "A", default_b: str = "B") -> DomainNames:
    a = str(cfg_get(cfg, "a_domain", default_a))
    b = str(cfg_get(cfg, "b_domain", default_b))
    x = str(cfg_get(cfg, "x_domain", a))
    label = cfg_get(cfg, "label_domain", None)
    label = None if label in (None, "", "null", "None") else str(label)
    name = cfg_get(cfg, "name", "?")
    if a == b:
        raise DatasetConfigError(f"dataset {name}: a_domain and b_domain are both {a!r}; "
                                 "give the two sides different names")
    if x not in (a, b):
        raise DatasetConfigError(f"dataset {name}: x_domain={x!r} is neither a_domain={a!r} "
                                 f"nor b_domain={b!r}; set x_domain to one of them")
    if label is not None and label not in (a, b):
        raise DatasetConfigError(f"dataset {name}: label_domain={label!r} is neither "
                                 f"a_domain={a!r} nor b_domain={b!r}; set it to one or null")
    return DomainNames(a, b, x, label)


def resolve_split(cfg: Any, split: str) -> str:
    """Map the roles "train"/"test" to the config's split names; other names pass through.

    Callers may ask for `open_domains(cfg, "test")` whatever the dataset calls its test
    folder (Cityscapes: val, facades: test).
    """
    if split == "train":
        return str(cfg_get(cfg, "train_split", "train"))
    if split == "test":
        return str(cfg_get(cfg, "test_split", "test"))
    return split


def not_found(cfg: Any, what: str, layout: str) -> DatasetNotFoundError:
    """One-line error for a missing or empty dataset folder, with the expected layout."""
    name = str(cfg_get(cfg, "name", "?"))
    source = str(cfg_get(cfg, "source", "?"))
    cityscapes = "cityscapes" in name.lower() or source in ("cityscapes_native", "prepared")
    hint = f"; {PREPARE_HINT}" if cityscapes else ""
    folder = Path(str(cfg_get(cfg, "root", None) or name)).name
    env = os.environ.get("BENCHMARK_DATA")
    now = f"now {env}" if env else "unset, so ./data is used"
    return DatasetNotFoundError(f"dataset {name} (source {source}): {what}; expected {layout}; "
                                f"set BENCHMARK_DATA to the folder holding {folder}/ ({now}) or "
                                f"dataset.root= to the dataset folder itself{hint}")


def require_root(cfg: Any, layout: str) -> Path:
    root = cfg_get(cfg, "root", None)
    if root in (None, ""):
        raise not_found(cfg, "dataset.root is not set", layout)
    path = Path(str(root)).expanduser()
    if not path.is_dir():
        raise not_found(cfg, f"folder {path} does not exist", layout)
    return path
