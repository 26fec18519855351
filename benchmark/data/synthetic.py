"""Synthetic street scenes: a Cityscapes-palette label map and a photo rendered from it.

The embedded default dataset, so the whole suite (training, both evaluation directions,
reports) runs with no download and no licence question. Each scene is drawn in perspective
(road to a vanishing point, sidewalks, facades with windows, trees, poles with signs and
lights, cars, trucks, buses, people, riders on bicycles, fences, walls) into two canvases at
once: the label map gets the class's trainId, the photo gets a per-object colour that is NOT
the palette colour, then the photo gets class-dependent texture, lighting gradients,
a colour cast and noise. So photo->labels is learnable but not a colour lookup, and
labels->photo has to invent texture. Windows, lane marks and car glass appear only in the
photo, as in real label maps.

Scene (split, i) is a pure function of (seed, split, i) and is drawn on the fly; train and
test use different SeedSequence streams, so they never share a scene.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from evaluation.labels import IGNORE_INDEX, train_ids_to_colors

from .domains import Domain, DomainPair, cfg_get, domain_names
from .errors import DatasetConfigError

# trainIds
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = range(11)
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = range(11, 19)

_SPLIT_STREAM = {"train": 0, "test": 1}
DEFAULT_SIZE = 256

# Photo colours per class: deliberately not the palette (road is grey asphalt, not purple).
_BUILDING_COLOURS = ((172, 152, 122), (146, 84, 62), (205, 202, 192), (112, 112, 122),
                     (188, 170, 140), (95, 90, 85))
_CAR_COLOURS = ((200, 30, 30), (225, 225, 225), (30, 30, 35), (150, 155, 160), (30, 60, 140),
                (90, 120, 90), (210, 180, 60), (120, 40, 40))
_CLOTHES = ((30, 30, 40), (60, 60, 90), (140, 30, 30), (200, 200, 200), (40, 80, 50),
            (150, 120, 80), (90, 60, 120))
_SKIN = ((230, 190, 160), (180, 130, 100), (120, 80, 60))

# Per-class texture (luminance noise std) and vertical shading (brighter lower in the image).
_TEXTURE = np.zeros(256, np.float32)
_TEXTURE[[ROAD, SIDEWALK, BUILDING, WALL, FENCE, TERRAIN, VEGETATION]] = (7, 9, 6, 8, 6, 16, 22)
_TEXTURE[[SKY, PERSON, RIDER, CAR, TRUCK, BUS, BICYCLE, POLE]] = (1.5, 4, 4, 3, 3, 3, 3, 3)
_VSHADE = np.zeros(256, np.float32)
_VSHADE[[ROAD, SIDEWALK, SKY, BUILDING, VEGETATION]] = (0.35, 0.25, 0.3, -0.15, 0.1)


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int], amount: float = 14.0
            ) -> tuple[int, int, int]:
    noise = rng.normal(0.0, amount, 3).tolist()  # python ints: numpy per-call overhead adds up
    return tuple(min(255, max(0, int(c + d))) for c, d in zip(colour, noise))


def _pick(rng: np.random.Generator, options: tuple) -> Any:
    return options[int(rng.integers(len(options)))]


def _box(box) -> tuple[float, float, float, float]:
    """PIL wants x0 <= x1 and y0 <= y1; tiny scenes can invert a computed box."""
    x0, y0, x1, y1 = box
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


class _Canvas:
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


class _Street:
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


def _draw_background(c: _Canvas, g: _Street, rng: np.random.Generator) -> None:
    s = g.s
    vp = (g.vx, g.h)
    # Ground: sidewalk everywhere below the facades, then terrain strips, then the road.
    walk = _jitter(rng, (150, 146, 140), 10)
    c.polygon([vp, (0, g.base_l), (0, s), (s, s), (s, g.base_r)], SIDEWALK, walk)
    for side in (0, 1):
        if rng.random() < 0.45:
            edge = g.road_l if side == 0 else g.road_r
            width = s * rng.uniform(0.08, 0.25) * (-1 if side == 0 else 1)
            c.polygon([vp, (edge + width, s), (edge, s)], TERRAIN, _jitter(rng, (118, 136, 72)))
    asphalt = _jitter(rng, (88, 88, 94), 8)
    c.polygon([vp, (g.road_l, s), (g.road_r, s)], ROAD, asphalt)
    # Curbs and lane marks exist only in the photo.
    curb = tuple(min(255, v + 40) for v in asphalt)
    width = max(1, s // 128)
    c.detail_line([vp, (g.road_l, s)], curb, width)
    c.detail_line([vp, (g.road_r, s)], curb, width)
    mark = _jitter(rng, (225, 225, 215), 8)
    centre = rng.uniform(0.4, 0.6)
    t = 0.04
    while t < 1.0:
        t2 = min(1.0, t * 1.35 + 0.01)
        w1, w2 = 0.004 * s * t + 0.3, 0.004 * s * t2 + 0.3
        x1, x2 = g.road_x(t, centre), g.road_x(t2, centre)
        c.detail_polygon([(x1 - w1, g.ground_y(t)), (x1 + w1, g.ground_y(t)),
                          (x2 + w2, g.ground_y(t2)), (x2 - w2, g.ground_y(t2))], mark)
        t = t2 * 1.35 + 0.02
    # Far end of the street: a low band of buildings or trees across the vanishing point.
    far_h = s * rng.uniform(0.03, 0.12)
    far_cls = BUILDING if rng.random() < 0.7 else VEGETATION
    far_col = _jitter(rng, (140, 140, 145) if far_cls == BUILDING else (70, 100, 55))
    c.rectangle((g.vx - s * 0.2, g.h - far_h, g.vx + s * 0.2, g.h + 1), far_cls, far_col)
    for side in (0, 1):
        _draw_facades(c, g, rng, side)


def _draw_facades(c: _Canvas, g: _Street, rng: np.random.Generator, side: int) -> None:
    """Buildings (with windows), walls and hedges along one side, far to near."""
    s = g.s
    d = rng.uniform(0.0, 0.08)
    while d < 1.0:
        d2 = min(1.0, d + rng.uniform(0.12, 0.45) * (0.4 + d))
        (x1, b1), (x2, b2) = g.facade(side, d), g.facade(side, d2)
        if d2 >= 1.0:  # extend the last facade past the image edge
            x2 = -s * 0.05 if side == 0 else s * 1.05
        kind = rng.random()
        height = s * rng.uniform(0.35, 1.3)
        top1, top2 = g.h - height * d, g.h - height * d2
        if kind < 0.75:
            colour = _jitter(rng, _pick(rng, _BUILDING_COLOURS), 12)
            c.polygon([(x1, top1), (x2, top2), (x2, b2), (x1, b1)], BUILDING, colour)
            _draw_windows(c, rng, (x1, top1, b1), (x2, top2, b2), colour)
        elif kind < 0.88:
            wall_h = rng.uniform(0.08, 0.25)
            colour = _jitter(rng, (160, 150, 138), 12)
            c.polygon([(x1, b1 - (b1 - top1) * wall_h), (x2, b2 - (b2 - top2) * wall_h),
                       (x2, b2), (x1, b1)], WALL, colour)
            c.detail_line([(x1, b1 - (b1 - top1) * wall_h), (x2, b2 - (b2 - top2) * wall_h)],
                          tuple(v - 30 for v in colour), max(1, s // 128))
        else:
            hedge_h = rng.uniform(0.15, 0.4)
            c.polygon([(x1, b1 - (b1 - top1) * hedge_h), (x2, b2 - (b2 - top2) * hedge_h),
                       (x2, b2), (x1, b1)], VEGETATION, _jitter(rng, (58, 96, 40), 10))
        d = d2


def _draw_windows(c: _Canvas, rng: np.random.Generator, near_a, near_b, wall) -> None:
    """Rows of windows on a facade quad (photo only: Cityscapes labels them building)."""
    (xa, ta, ba), (xb, tb, bb) = near_a, near_b
    cols = int(rng.integers(2, 6))
    rows = int(rng.integers(3, 8))
    glass = _jitter(rng, (60, 70, 85) if rng.random() < 0.7 else (150, 170, 190), 10)
    frame = tuple(max(0, v - 25) for v in wall)
    for i in range(cols):
        u1, u2 = (i + 0.25) / cols, (i + 0.75) / cols
        xl, xr = xa + (xb - xa) * u1, xa + (xb - xa) * u2
        if abs(xr - xl) < 1.0:
            continue
        tl, bl = ta + (tb - ta) * u1, ba + (bb - ba) * u1
        tr, br = ta + (tb - ta) * u2, ba + (bb - ba) * u2
        for j in range(rows - 1):  # the ground floor row stays blank (doors, shops)
            v1, v2 = (j + 0.3) / rows, (j + 0.75) / rows
            c.detail_polygon([(xl, tl + (bl - tl) * v1), (xr, tr + (br - tr) * v1),
                              (xr, tr + (br - tr) * v2), (xl, tl + (bl - tl) * v2)],
                             glass if rng.random() < 0.9 else frame)


def _draw_tree(c: _Canvas, g: _Street, rng: np.random.Generator, t: float, x: float) -> None:
    s, y = g.s, g.ground_y(t)
    scale = s * t
    trunk_h, crown = scale * rng.uniform(0.35, 0.6), scale * rng.uniform(0.15, 0.3)
    trunk_w = max(1.0, scale * 0.02)
    c.rectangle((x - trunk_w, y - trunk_h, x + trunk_w, y), VEGETATION, _jitter(rng, (85, 65, 45)))
    cy = y - trunk_h
    leaves = _jitter(rng, (62, 104, 42), 14)
    c.ellipse((x - crown, cy - crown * 1.3, x + crown, cy + crown * 0.5), VEGETATION, leaves)


def _draw_pole(c: _Canvas, g: _Street, rng: np.random.Generator, t: float, x: float) -> None:
    s, y = g.s, g.ground_y(t)
    scale = s * t
    height, w = scale * rng.uniform(0.5, 0.8), max(1.0, scale * 0.012)
    top = y - height
    c.rectangle((x - w, top, x + w, y), POLE, _jitter(rng, (82, 86, 92), 8))
    if rng.random() < 0.5:  # traffic light: a dark box with one lamp lit
        bw, bh = max(2.0, scale * 0.035), max(4.0, scale * 0.09)
        c.rectangle((x - bw, top - bh, x + bw, top), LIGHT, _jitter(rng, (38, 40, 38), 6))
        lamp = _pick(rng, ((240, 60, 40), (250, 200, 40), (70, 230, 90)))
        slot = int(rng.integers(3))
        r = bw * 0.6
        cy = top - bh + bh * (slot + 0.5) / 3
        c.detail_rectangle((x - r, cy - r, x + r, cy + r), lamp)
    else:  # traffic sign: disc, triangle or rectangle on the pole
        r = max(2.0, scale * rng.uniform(0.03, 0.05))
        colour = _jitter(rng, _pick(rng, ((205, 35, 35), (35, 75, 170), (235, 235, 235),
                                          (240, 200, 30))), 8)
        shape = rng.random()
        if shape < 0.4:
            c.ellipse((x - r, top - 2 * r, x + r, top), SIGN, colour)
        elif shape < 0.7:
            c.polygon([(x - r, top), (x + r, top), (x, top - 2 * r)], SIGN, colour)
        else:
            c.rectangle((x - 1.3 * r, top - 1.6 * r, x + 1.3 * r, top), SIGN, colour)
        c.detail_rectangle((x - r * 0.4, top - r * 1.1, x + r * 0.4, top - r * 0.9),
                           (250, 250, 250))


def _draw_vehicle(c: _Canvas, g: _Street, rng: np.random.Generator, t: float, x: float,
                  cls: int) -> None:
    s, y = g.s, g.ground_y(t)
    scale = s * t
    if cls == CAR:
        w, h, colour = scale * rng.uniform(0.28, 0.38), scale * rng.uniform(0.2, 0.26), \
            _jitter(rng, _pick(rng, _CAR_COLOURS), 10)
    elif cls == TRUCK:
        w, h, colour = scale * 0.42, scale * 0.42, _jitter(rng, (185, 182, 172), 12)
    else:
        w, h, colour = scale * 0.5, scale * 0.5, _jitter(rng, (205, 168, 45), 12)
    left, top = x - w / 2, y - h
    wheel = max(1.0, h * 0.16)
    body_top = top + h * (0.45 if cls == CAR else 0.1)
    # Body, cabin and wheels are all the vehicle's class; glass and tyres only in the photo.
    c.rectangle((left, body_top, left + w, y - wheel * 0.6), cls, colour)
    if cls == CAR:
        inset = w * rng.uniform(0.12, 0.2)
        c.polygon([(left + inset, top), (left + w - inset, top), (left + w - w * 0.05, body_top),
                   (left + w * 0.05, body_top)], cls, colour)
        c.detail_polygon([(left + inset + w * 0.04, top + h * 0.06),
                          (left + w - inset - w * 0.04, top + h * 0.06),
                          (left + w - w * 0.1, body_top - 1), (left + w * 0.1, body_top - 1)],
                         _jitter(rng, (45, 55, 70), 8))
        lamp_w = w * 0.1
        c.detail_rectangle((left + w * 0.04, body_top + h * 0.08, left + w * 0.04 + lamp_w,
                            body_top + h * 0.16), (230, 40, 30))
        c.detail_rectangle((left + w * 0.96 - lamp_w, body_top + h * 0.08, left + w * 0.96,
                            body_top + h * 0.16), (230, 40, 30))
    else:
        c.detail_rectangle((left + w * 0.08, top + h * 0.15, left + w * 0.92, top + h * 0.45),
                           _jitter(rng, (50, 60, 75), 8))
    for wx in (left + w * 0.18, left + w * 0.82):
        c.ellipse((wx - wheel, y - 2 * wheel, wx + wheel, y), cls, (22, 22, 24))


def _draw_person(c: _Canvas, g: _Street, rng: np.random.Generator, t: float, x: float,
                 cls: int = PERSON, feet: float | None = None) -> None:
    s = g.s
    y = g.ground_y(t) if feet is None else feet
    height = s * t * rng.uniform(0.34, 0.44)
    w = max(1.0, height * 0.13)
    shirt, trousers = _jitter(rng, _pick(rng, _CLOTHES)), _jitter(rng, _pick(rng, _CLOTHES))
    head = max(1.0, height * 0.075)
    c.rectangle((x - w * 0.8, y - height * 0.48, x + w * 0.8, y), cls, trousers)   # legs
    c.detail_line([(x, y - height * 0.4), (x, y)], tuple(max(0, v - 35) for v in trousers),
                  max(1, int(w * 0.3)))
    c.rectangle((x - w, y - height * 0.84, x + w, y - height * 0.48), cls, shirt)  # torso
    c.ellipse((x - head, y - height, x + head, y - height + 2 * head), cls,
              _jitter(rng, _pick(rng, _SKIN), 8))


def _draw_cyclist(c: _Canvas, g: _Street, rng: np.random.Generator, t: float, x: float) -> None:
    s, y = g.s, g.ground_y(t)
    r = max(1.5, s * t * 0.07)
    width = max(1, int(r * 0.25))
    frame = _jitter(rng, (35, 35, 38), 6)
    for wx in (x - r * 1.4, x + r * 1.4):
        c.ring((wx - r, y - 2 * r, wx + r, y), BICYCLE, frame, width)
    c.line([(x - r * 1.4, y - r), (x, y - r * 1.9), (x + r * 1.4, y - r)], BICYCLE, frame, width)
    _draw_person(c, g, rng, t, x, RIDER, feet=y - r * 0.6)


def _draw_objects(c: _Canvas, g: _Street, rng: np.random.Generator) -> None:
    """Trees, poles, vehicles and people, each at a random depth, drawn far to near."""
    objects: list[tuple[float, int, float, str]] = []  # (depth, order, x, kind)
    for side in (0, 1):
        for _ in range(int(rng.integers(0, 4))):
            t = rng.uniform(0.15, 0.9)
            objects.append((t, len(objects), g.walk_x(side, t, rng.uniform(0.4, 0.9)), "tree"))
        for _ in range(int(rng.integers(0, 3))):
            t = rng.uniform(0.15, 0.95)
            objects.append((t, len(objects), g.walk_x(side, t, rng.uniform(0.05, 0.2)), "pole"))
        for _ in range(int(rng.integers(0, 4))):
            t = rng.uniform(0.2, 1.0)
            objects.append((t, len(objects), g.walk_x(side, t, rng.uniform(0.2, 0.8)), "person"))
        for _ in range(int(rng.integers(0, 4))):  # parked along the curb
            t = rng.uniform(0.1, 0.95)
            objects.append((t, len(objects), g.road_x(t, 0.12 if side == 0 else 0.88), "car"))
    for _ in range(int(rng.integers(0, 4))):      # traffic in the lanes
        t = rng.uniform(0.08, 0.9)
        u = rng.uniform(0.3, 0.7)
        kind = "car" if rng.random() < 0.8 else ("truck" if rng.random() < 0.5 else "bus")
        objects.append((t, len(objects), g.road_x(t, u), kind))
    if rng.random() < 0.35:
        t = rng.uniform(0.3, 0.95)
        objects.append((t, len(objects), g.road_x(t, rng.choice([0.22, 0.78])), "cyclist"))
    if rng.random() < 0.3:
        _draw_fence(c, g, rng)
    for t, _, x, kind in sorted(objects):
        if kind == "tree":
            _draw_tree(c, g, rng, t, x)
        elif kind == "pole":
            _draw_pole(c, g, rng, t, x)
        elif kind == "person":
            _draw_person(c, g, rng, t, x)
        elif kind == "cyclist":
            _draw_cyclist(c, g, rng, t, x)
        else:
            _draw_vehicle(c, g, rng, t, x, {"car": CAR, "truck": TRUCK, "bus": BUS}[kind])


def _draw_fence(c: _Canvas, g: _Street, rng: np.random.Generator) -> None:
    """A fence along the facades of one side, with posts and rails in the photo."""
    side = int(rng.integers(2))
    d1, d2 = rng.uniform(0.1, 0.5), rng.uniform(0.6, 1.1)
    (x1, b1), (x2, b2) = g.facade(side, d1), g.facade(side, min(d2, 1.0))
    if d2 > 1.0:
        x2 = -g.s * 0.05 if side == 0 else g.s * 1.05
    h1, h2 = g.s * 0.12 * d1, g.s * 0.12 * min(d2, 1.0)
    colour = _jitter(rng, (118, 108, 88), 10)
    c.polygon([(x1, b1 - h1), (x2, b2 - h2), (x2, b2), (x1, b1)], FENCE, colour)
    dark = tuple(max(0, v - 40) for v in colour)
    for k in range(1, 12):
        u = k / 12
        px, pb, ph = x1 + (x2 - x1) * u, b1 + (b2 - b1) * u, h1 + (h2 - h1) * u
        c.detail_line([(px, pb - ph), (px, pb)], dark, 1)


def _draw_ego_vehicle(c: _Canvas, rng: np.random.Generator) -> None:
    """The camera car's bonnet at the bottom: ignore (255), as in Cityscapes."""
    s = c.size
    top = s * rng.uniform(0.86, 0.95)
    c.polygon([(-1, s), (-1, top + s * 0.03), (s * 0.5, top), (s + 1, top + s * 0.03), (s + 1, s)],
              IGNORE_INDEX, _jitter(rng, (25, 25, 30), 5))


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


def _render_photo(photo: Image.Image, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def draw_scene(seed: int, split: str, index: int, size: int = DEFAULT_SIZE
               ) -> tuple[np.ndarray, np.ndarray]:
    """Scene `index` of `split`: (trainIds (size, size) uint8, photo (size, size, 3) uint8)."""
    if split not in _SPLIT_STREAM:
        raise DatasetConfigError(f"synthetic split must be 'train' or 'test', got {split!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_STREAM[split],
                                                        int(index)]))
    sky = _jitter(rng, _pick(rng, ((150, 190, 228), (196, 202, 208), (175, 200, 225))), 8)
    canvas = _Canvas(size, sky)
    street = _Street(rng, size)
    _draw_background(canvas, street, rng)
    _draw_objects(canvas, street, rng)
    if rng.random() < 0.3:
        _draw_ego_vehicle(canvas, rng)
    ids = np.asarray(canvas.labels)
    return ids, _render_photo(canvas.photo, ids, rng)


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
