"""Whole-dataset checks run when a dataset opens: cheap enough to run every time.

Item 0 being fine says nothing about item 2974. Reading every file's header (PIL parses the
header and stops; no pixels are decoded) costs well under a second for Cityscapes' 3475 files
and finds an unreadable, tiny or wrongly shaped image before any training; greyscale, palette,
CMYK, 16-bit and alpha images are accepted (rgb.py converts them when they load; alpha is
flattened onto white) and counted in one line on stderr, so the user knows; a few label
maps spread over the split are snapped to the palette to catch a label side that is not a
label map; and the test split can be decoded in full once before a suite trains, so an
unreadable test image is not found hours later by the evaluation.

Hand-written: no library checks an image folder against a dataset's layout.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from .domains import DomainPair
from .errors import ImageFormatError, ImageReadError
from .rgb import conversion_kind, summary

#: The smallest crop a config may ask for (validation.py: data.crop_size >= 16); a smaller
#: image can only be upsampled blur, and is most likely a thumbnail copied by mistake.
MIN_SIDE = 16
#: Label maps snapped at open time, evenly spread over the split.
LABEL_SAMPLES = 8
#: Offending files named in an error; the rest are counted.
SHOWN = 5

_checked: set[tuple] = set()


def header_problem(path: Path, *, side_by_side: bool, kinds: dict[Path, str | None] | None = None) -> str | None:
    """Why the file at `path` is not a usable image of its layout (header only), or None.

    `kinds`, when given, receives the file's conversion to RGB (rgb.conversion_kind)."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            try:
                kind = conversion_kind(img)
            except ValueError as exc:
                return str(exc)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return f"not readable ({' '.join(str(exc).split())[:80]})"
    if kinds is not None:
        kinds[path] = kind
    if side_by_side and width % 2:
        return f"width {width} is odd, so it is not two images side by side (A | B)"
    half = width // 2 if side_by_side else width
    if min(half, height) < MIN_SIDE:
        return f"{width}x{height} is tiny (each image must be at least {MIN_SIDE}x{MIN_SIDE})"
    if side_by_side and width != 2 * height:
        return (f"{width}x{height} is not two square images side by side (width must be twice "
                f"the height, e.g. 512x256)")
    return None


def _raise(problems: list[str], total: int, error=ImageFormatError) -> None:
    shown = "; ".join(problems[:SHOWN])
    more = f" and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    raise error(f"{len(problems)} of {total} image files of the dataset are unusable: {shown}{more}; "
                "re-copy or re-save them as PNG or JPEG at the dataset's size, or remove them")


def files_of(pair: DomainPair) -> list[Path]:
    """The distinct files behind both sides (an A|B file serves both)."""
    return list(dict.fromkeys([*pair.X.files(), *pair.Y.files()]))


def check_headers(pair: DomainPair, *, name: str = "the dataset") -> str | None:
    """Every file of the pair, header only; one error listing the offending files.

    Returns the one line saying how many images are converted to RGB when loaded (None when
    all are RGB, or when this file list was checked already in this process), and prints it on
    stderr, where the preflight and a job's log show it."""
    side_by_side = bool(getattr(pair.X, "side_by_side", False))
    files = files_of(pair)
    key = tuple(files)
    if not files or key in _checked:
        return None
    kinds: dict[Path, str | None] = {}
    problems = [f"{p}: {why}" for p in files
                if (why := header_problem(p, side_by_side=side_by_side, kinds=kinds))]
    if problems:
        _raise(problems, len(files))
    _checked.add(key)
    line = summary(kinds.values(), len(files))
    if line:
        line = f"note: {name} {pair.split}: {line}"
        print(line, file=sys.stderr, flush=True)
    return line


def spread(n: int, k: int) -> list[int]:
    """k indices evenly spread over range(n), first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def check_label_samples(pair: DomainPair, k: int = LABEL_SAMPLES) -> None:
    """Decode item 0 of each side, and snap a few label maps spread over the split to the palette.

    Snapping at 64x64 (NEAREST picks pixels, so the far-from-palette share is the same
    estimate) keeps this at a few milliseconds per image.
    """
    for domain in (pair.X, pair.Y):
        if not len(domain):
            continue
        domain.load(0)
        if domain.is_label_map:
            for i in spread(len(domain), k):
                domain.train_ids(i, size=64)


def check_readable(pair: DomainPair, *, progress: bool = False) -> int:
    """Decode every file of the pair in full (the test split, once before a suite trains).

    Headers do not show truncation; decoding does. Returns the number of files decoded
    (0 for sources without files: the synthetic scenes, the native Cityscapes release).
    """
    from tqdm import tqdm

    files = files_of(pair)
    problems: list[str] = []
    for path in tqdm(files, desc=f"reading {pair.split}", disable=not progress, leave=False, unit="img"):
        try:
            with Image.open(path) as img:
                img.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            problems.append(f"{path}: {' '.join(str(exc).split())[:80]}")
    if problems:
        _raise(problems, len(files), ImageReadError)
    return len(files)
