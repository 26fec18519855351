"""The synthetic scenes' drawing tools: class ids, a canvas that draws every shape into the
label map and the photo at once, the street's perspective, and the photo finish.

The scenes themselves (what stands where) are painted by street_painter.py; this module only
knows how a shape lands in the two images and how the flat-shaded photo is made to look like
one (class texture, light gradients, a colour cast, sensor noise).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

# trainIds (the label map's pixel values)
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = range(11)
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = range(11, 19)

# Per-class texture (luminance noise std) and vertical shading (brighter lower in the image).
_TEXTURE = np.zeros(256, np.float32)
_TEXTURE[[ROAD, SIDEWALK, BUILDING, WALL, FENCE, TERRAIN, VEGETATION]] = (7, 9, 6, 8, 6, 16, 22)
_TEXTURE[[SKY, PERSON, RIDER, CAR, TRUCK, BUS, BICYCLE, POLE]] = (1.5, 4, 4, 3, 3, 3, 3, 3)
_VSHADE = np.zeros(256, np.float32)
_VSHADE[[ROAD, SIDEWALK, SKY, BUILDING, VEGETATION]] = (0.35, 0.25, 0.3, -0.15, 0.1)


def jitter(rng: np.random.Generator, colour: tuple[int, int, int], amount: float = 14.0
           ) -> tuple[int, int, int]:
    noise = rng.normal(0.0, amount, 3).tolist()  # python ints: numpy per-call overhead adds up
    return tuple(min(255, max(0, int(c + d))) for c, d in zip(colour, noise))


def pick(rng: np.random.Generator, options: tuple) -> Any:
    return options[int(rng.integers(len(options)))]


def _box(box) -> tuple[float, float, float, float]:
    """PIL wants x0 <= x1 and y0 <= y1; tiny scenes can invert a computed box."""
    x0, y0, x1, y1 = box
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


class Canvas:
    """Draws every shape into the label map (class id) and the photo (colour) at once."""

    def __init__(self, size: int, sky_colour: tuple[int, int, int]):
        self.size = size
        self.labels = Image.new("L", (size, size), SKY)
        self.photo = Image.new("RGB", (size, size), sky_colour)
        self._lab = ImageDraw.Draw(self.labels)
        self._pho = ImageDraw.Draw(self.photo)

    def polygon(self, pts, cls: int, colour) -> None:
        self._lab.polygon(pts, fill=cls)
        self._pho.polygon(pts, fill=colour)

    def rectangle(self, box, cls: int, colour) -> None:
        box = _box(box)
        self._lab.rectangle(box, fill=cls)
        self._pho.rectangle(box, fill=colour)

    def ellipse(self, box, cls: int, colour) -> None:
        box = _box(box)
        self._lab.ellipse(box, fill=cls)
        self._pho.ellipse(box, fill=colour)

    def ring(self, box, cls: int, colour, width: int) -> None:
        box = _box(box)
        self._lab.ellipse(box, outline=cls, width=width)
        self._pho.ellipse(box, outline=colour, width=width)

    def line(self, pts, cls: int, colour, width: int) -> None:
        self._lab.line(pts, fill=cls, width=width)
        self._pho.line(pts, fill=colour, width=width)

    # Photo-only details: things the label map does not separate (windows, lane marks).
    def detail_polygon(self, pts, colour) -> None:
        self._pho.polygon(pts, fill=colour)

    def detail_rectangle(self, box, colour) -> None:
        self._pho.rectangle(_box(box), fill=colour)

    def detail_line(self, pts, colour, width: int) -> None:
        self._pho.line(pts, fill=colour, width=width)


class Street:
    """Geometry of one scene: horizon, vanishing point and the lines that meet there."""

    def __init__(self, rng: np.random.Generator, s: int):
        self.s = s
        self.h = s * rng.uniform(0.36, 0.5)              # horizon
        self.vx = s * rng.uniform(0.38, 0.62)            # vanishing point x
        self.road_l = s * rng.uniform(-0.35, 0.12)       # road edges at the bottom row
        self.road_r = s * rng.uniform(0.88, 1.35)
        self.base_l = self.h + (s - self.h) * rng.uniform(0.25, 0.6)  # facade base at x=0
        self.base_r = self.h + (s - self.h) * rng.uniform(0.25, 0.6)  # and at x=s

    def ground_y(self, t: float) -> float:
        """Image row of ground depth t (0 = horizon, 1 = bottom row)."""
        return self.h + (self.s - self.h) * t

    def road_x(self, t: float, u: float) -> float:
        """x of lateral position u (0 = left road edge, 1 = right) at depth t."""
        left = self.vx + (self.road_l - self.vx) * t
        right = self.vx + (self.road_r - self.vx) * t
        return left + (right - left) * u

    def facade(self, side: int, d: float) -> tuple[float, float]:
        """(x, base y) of the facade line at depth d (0 = vanishing point, 1 = image edge)."""
        if side == 0:
            return self.vx * (1 - d), self.h + (self.base_l - self.h) * d
        return self.vx + (self.s - self.vx) * d, self.h + (self.base_r - self.h) * d

    def walk_x(self, side: int, t: float, frac: float) -> float:
        """x on the sidewalk at ground depth t, frac of the way from the curb to the facade."""
        curb = self.road_x(t, 0.0 if side == 0 else 1.0)
        base = self.base_l if side == 0 else self.base_r
        # depth along the facade line that reaches row ground_y(t)
        d = min(1.0, (self.ground_y(t) - self.h) / max(base - self.h, 1e-6))
        wall_x = self.facade(side, d)[0] if d < 1.0 else (0.0 if side == 0 else float(self.s))
        return curb + (wall_x - curb) * frac


_NOISE_BANKS: dict[int, np.ndarray] = {}


def _noise_bank(size: int) -> np.ndarray:
    """A fixed (2*size, 2*size) tile of Gaussian noise; each scene reads a random window of it.

    Drawing fresh per-pixel noise costs more than the whole scene, and a window at a random
    offset and orientation of one fixed tile looks just as random to a network.
    """
    if size not in _NOISE_BANKS:
        bank_rng = np.random.default_rng(np.random.SeedSequence([0x5EED, size]))
        _NOISE_BANKS[size] = bank_rng.standard_normal((2 * size, 2 * size), dtype=np.float32)
    return _NOISE_BANKS[size]


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    bank = _noise_bank(size)
    top, left = (int(v) for v in rng.integers(0, size, 2))
    return bank[top:top + size, left:left + size]


def _upsampled(rng: np.random.Generator, cells: int, size: int, resample: int) -> np.ndarray:
    """Smooth random field: a cells x cells grid of uniform noise, interpolated to size."""
    small = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize((size, size), resample))


def render_photo(photo: Image.Image, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat-shaded drawing -> photo-like image: texture, light gradients, colour cast, noise."""
    s = ids.shape[0]
    img = np.asarray(photo, dtype=np.float32)
    # Class texture (fine grain plus coarse blotches: leaves, stains on asphalt) and sensor noise.
    fine = _noise(rng, s)
    coarse = _upsampled(rng, max(2, s // 8), s, Image.BILINEAR)
    lum = _TEXTURE[ids] * (0.8 * fine + 1.6 * coarse) + 2.0 * _noise(rng, s)
    # Light: a vertical gradient per class and a soft random illumination field.
    rows = np.linspace(-0.5, 0.5, s, dtype=np.float32)[:, None]
    gain = 1.0 + _VSHADE[ids] * rows + 0.12 * _upsampled(rng, 3, s, Image.BICUBIC)
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32) * np.float32(rng.uniform(0.8, 1.15))
    out = img * cast            # (H, W, 3) colour cast first, then per-pixel light and texture
    out *= gain[..., None]
    out += lum[..., None]
    return np.clip(out, 0, 255, out=out).astype(np.uint8)
