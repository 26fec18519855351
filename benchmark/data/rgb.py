"""Datasets as they come: every image is converted to 3-channel RGB when it is loaded.

Real collections mix modes: horse2zebra holds greyscale JPEGs among its colour ones, scraped
sets hold palette GIF-turned-PNGs, print scans are CMYK, medical and scientific images are
16-bit greyscale PNGs. The reference CycleGAN code converts every image with
`Image.open(path).convert('RGB')`; refusing them would make the suite unusable on the very
datasets it should compare methods on. What each mode becomes:

* greyscale `L` and bilevel `1`: the grey value in all three channels (PIL's conversion);
* 16-bit greyscale (`I;16`, `I;16B`, `I;16L`, and `I`, which is how PIL opens some 16-bit
  PNGs): scaled by 255/65535 and rounded, then as `L`. PIL's own conversion clips every value
  above 255 to white, which would turn a normal 16-bit photo into a white square;
* palette `P`: its colours, as PIL maps them;
* CMYK and YCbCr: PIL's conversion (no colour profile applied: the same as the reference code);
* alpha (`RGBA`, `LA`, `PA`, premultiplied `RGBa`/`La`, and a palette with a transparent
  colour): **flattened onto white**, i.e. composited over an opaque white background. Refusing
  alpha would reject many PNG collections; dropping it as `convert('RGB')` does exposes
  whatever colour transparent pixels happen to store (often black, sometimes noise), so the
  same-looking image would train differently depending on the tool that wrote it. White is
  what an image viewer and a web page show behind a cut-out, so the network sees the image
  its author saw.

Any other mode (32-bit float `F`, LAB, HSV: no JPEG or PNG decodes to them) is refused with the
file's name. Hand-written: PIL has no alpha-aware, 16-bit-aware conversion to RGB.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from PIL import Image

#: Mode -> what the conversion is called in the log line (None: already RGB).
_KINDS = {
    "RGB": None,
    "L": "greyscale", "1": "greyscale",
    "I;16": "16-bit greyscale", "I;16L": "16-bit greyscale", "I;16B": "16-bit greyscale",
    "I;16N": "16-bit greyscale", "I": "16-bit greyscale",
    "P": "palette",
    "CMYK": "CMYK", "YCbCr": "YCbCr",
    "RGBA": "alpha", "LA": "alpha", "PA": "alpha", "RGBa": "alpha", "La": "alpha",
}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
#: The background alpha is flattened onto (see the module docstring for why white).
BACKGROUND = (255, 255, 255)


def has_alpha(img: Image.Image) -> bool:
    """True for alpha modes and for a palette image with a transparent colour."""
    return _KINDS.get(img.mode) == "alpha" or (img.mode == "P" and "transparency" in img.info)


def conversion_kind(img: Image.Image) -> str | None:
    """What loading `img` as RGB does to it ("greyscale", "alpha", ...), None when it is RGB.

    Reads the header only (mode and palette info), so it costs nothing for a whole dataset.
    Raises ValueError for a mode that has no faithful RGB conversion."""
    if img.mode not in _KINDS:
        raise ValueError(f"mode {img.mode} cannot be converted to RGB (convert the file to an RGB PNG or JPEG)")
    return "alpha" if has_alpha(img) else _KINDS[img.mode]


def to_rgb(img: Image.Image) -> Image.Image:
    """`img` as an RGB image, by the rules of the module docstring (alpha onto white)."""
    conversion_kind(img)  # refuses the modes without a faithful conversion
    if img.mode == "RGB":
        return img
    if has_alpha(img):
        rgba = (img.convert("LA") if img.mode == "La" else img).convert("RGBA")  # PIL has no La -> RGBA
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img, dtype=np.float64)
        grey = np.clip(np.rint(wide * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")  # uint8 (H, W): mode L
    return img.convert("RGB")


def summary(kinds: Iterable[str | None], total: int) -> str | None:
    """The log line for a split whose files convert as `kinds`, or None when all are RGB:
    "5 of 12 images are not RGB and are converted to RGB when loaded: 3 greyscale, 2 palette"."""
    counts = Counter(k for k in kinds if k)
    if not counts:
        return None
    parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    flattened = " (alpha flattened onto white)" if "alpha" in counts else ""
    return (f"{sum(counts.values())} of {total} images are not RGB and are converted to RGB when "
            f"loaded: {parts}{flattened}")
