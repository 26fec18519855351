"""The results page's image files: each image once at full size, plus a small thumbnail.

Why files and not inlined data: a suite on Cityscapes shows 500 test images × (every run + the
input + the ground truth) per direction; inlined, that is a page of hundreds of megabytes that
no browser opens quickly, and a `git diff` of a committed page would be unreadable. As files
beside the page (relative links), the page stays a few hundred kilobytes, the browser loads only
the thumbnails it shows (`loading="lazy"`), and the whole folder still opens from the file system.

* Full size: the generated image exactly as it was scored (a hard link to the store's
  `RUN/test/<direction>/<stem>.png` where the file system allows one, else a copy: the store
  writes every file anew, never in place, so a link never changes under the page), and the input
  and ground truth as `benchmark.run.samples.report_sample_rows` reads them from the dataset, at
  the evaluation resolution, as lossless PNG.
* Thumbnail: a WebP (quality 90) no larger than THUMB_PX on its long side, only where the image
  is larger than that. An image already that small (the synthetic default scores at 32²) is its
  own thumbnail: a thumbnail would be a lossy copy that saves nothing, and the page shows it
  magnified pixel for pixel instead.

A report replaces its whole folder, so every image is written again each time; what costs time
is the thumbnails (about 10 ms each here: 25 Cityscapes runs × 2 directions × 500 images is
minutes). A generated image whose previous report's copy is the very same file (a hard link to
the same inode: the store writes a re-scored run's images as new files, never in place) keeps
that report's thumbnail, so a report that only adds runs makes only their thumbnails.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image

#: Long side of a thumbnail file in pixels: 1.5 times the size the pages show it at
#: (pages.DISPLAY_PX), so it stays sharp on a high-density screen.
THUMB_PX = 96
IMAGES_DIR = "images"


@dataclass(frozen=True)
class ImageRef:
    """One image of the page: URL paths relative to the report folder, and its full size."""

    full: str
    thumb: str
    width: int
    height: int

    @property
    def thumb_px(self) -> int:
        """The thumbnail file's long side."""
        return min(max(self.width, self.height), THUMB_PX)


def _url(path: Path, root: Path) -> str:
    """A relative URL from the report folder (a stem may hold spaces or '#': quoted)."""
    return quote(path.relative_to(root).as_posix())


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:  # another file system, or hard links to others' files not allowed
        shutil.copyfile(src, dest)


class ImageFolder:
    """Writes images under `<report>/images/` and hands back their ImageRef.

    `parts` name the folder of an image below images/ (direction, then 'input', 'truth' or
    '<variant>/seed<k>'); the file keeps the test image's stem, so a reader can find any image
    of the page by name."""

    def __init__(self, report_dir: Path, previous: Path | None = None):
        self.report_dir = Path(report_dir)
        self.root = self.report_dir / IMAGES_DIR
        self.previous = previous  # the report folder this one replaces, if any
        self.count = 0
        self.reused = 0

    def _dest(self, parts: tuple[str, ...], stem: str, suffix: str) -> Path:
        folder = self.root.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{stem}{suffix}"

    def _finish(self, image: Image.Image, full: Path) -> ImageRef:
        self.count += 1
        width, height = image.size
        thumb = full
        if max(width, height) > THUMB_PX:
            small = image.convert("RGB")
            small.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
            thumb = full.with_name(f"{full.stem}.thumb.webp")
            small.save(thumb, format="WEBP", quality=90, method=4)
        return ImageRef(full=_url(full, self.report_dir), thumb=_url(thumb, self.report_dir),
                        width=width, height=height)

    def _reuse(self, src: Path, dest: Path) -> ImageRef | None:
        """The previous report's thumbnail of this very file, where it has one."""
        if self.previous is None:
            return None
        old = self.previous / dest.relative_to(self.report_dir)
        try:
            if not os.path.samefile(old, src):
                return None
        except OSError:  # no previous copy
            return None
        with Image.open(dest) as image:  # the header only: no decoding
            width, height = image.size
        thumb = dest
        if max(width, height) > THUMB_PX:
            old_thumb = old.with_name(f"{old.stem}.thumb.webp")
            if not old_thumb.is_file():
                return None
            thumb = dest.with_name(old_thumb.name)
            _link_or_copy(old_thumb, thumb)
        self.count += 1
        self.reused += 1
        return ImageRef(full=_url(dest, self.report_dir), thumb=_url(thumb, self.report_dir),
                        width=width, height=height)

    def from_file(self, src: Path, parts: tuple[str, ...]) -> ImageRef:
        """A generated image of the store, linked (or copied) as it is."""
        dest = self._dest(parts, src.stem, src.suffix.lower())
        _link_or_copy(src, dest)
        if (ref := self._reuse(src, dest)) is not None:
            return ref
        with Image.open(dest) as image:
            image.load()
            return self._finish(image, dest)

    def from_pixels(self, image: Any, parts: tuple[str, ...], stem: str) -> ImageRef:
        """An input or ground-truth image (PIL image or (H, W, 3) uint8 array), saved as PNG."""
        if not isinstance(image, Image.Image):
            image = Image.fromarray(np.asarray(image, dtype=np.uint8))
        dest = self._dest(parts, stem, ".png")
        image.convert("RGB").save(dest, format="PNG")
        return self._finish(image, dest)
