"""Exceptions the datasets raise, so callers (CLI, tests) can tell bad data from bad code.

Each message is one line that names the file or folder and says how to fix it.
"""
from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder is missing or holds no images of the expected layout."""


class DatasetConfigError(ValueError):
    """The dataset config names an unknown source or inconsistent domains."""


class ImageReadError(ValueError):
    """An image file cannot be decoded (truncated, corrupt, not an image)."""


class AlignedPairError(ImageReadError):
    """A pix2pix A|B file cannot be split into two equal halves (odd width)."""


class LabelColourError(ValueError):
    """A colour label image is not (a JPEG-blurred copy of) the Cityscapes palette."""


class ImageFormatError(ImageReadError):
    """Images whose header is unreadable, or shows a mode without an RGB conversion, or the wrong
    size or aspect for the layout (greyscale, palette, CMYK and alpha are converted: rgb.py)."""
