"""The synthetic street scenes' painter: a Cityscapes-palette label map and a photo
rendered from it (synthetic.py serves them as a dataset; street_canvas.py holds the tools).

Each scene is drawn in perspective (road to a vanishing point, sidewalks, facades with
windows, trees, poles with signs and lights, cars, trucks, buses, people, riders on bicycles,
fences, walls) into two canvases at once: the label map gets the class's trainId, the photo
gets a per-object colour that is NOT the palette colour, then the photo gets class-dependent
texture, lighting gradients, a colour cast and noise. So photo->labels is learnable but not a
colour lookup, and labels->photo has to invent texture. Windows, lane marks and car glass
appear only in the photo, as in real label maps.

Scene (split, i) is a pure function of (seed, split, i) and is drawn on the fly; train and
test use different SeedSequence streams, so they never share a scene.
"""
from __future__ import annotations

import numpy as np

from evaluation.labels import IGNORE_INDEX

from .errors import DatasetConfigError
from .street_canvas import (
    BICYCLE,
    BUILDING,
    BUS,
    CAR,
    FENCE,
    LIGHT,
    PERSON,
    POLE,
    RIDER,
    ROAD,
    SIDEWALK,
    SIGN,
    TERRAIN,
    TRUCK,
    VEGETATION,
    WALL,
    Canvas,
    Street,
    jitter,
    pick,
    render_photo,
)

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


def _draw_background(c: Canvas, g: Street, rng: np.random.Generator) -> None:
    s = g.s
    vp = (g.vx, g.h)
    # Ground: sidewalk everywhere below the facades, then terrain strips, then the road.
    walk = jitter(rng, (150, 146, 140), 10)
    c.polygon([vp, (0, g.base_l), (0, s), (s, s), (s, g.base_r)], SIDEWALK, walk)
    for side in (0, 1):
        if rng.random() < 0.45:
            edge = g.road_l if side == 0 else g.road_r
            width = s * rng.uniform(0.08, 0.25) * (-1 if side == 0 else 1)
            c.polygon([vp, (edge + width, s), (edge, s)], TERRAIN, jitter(rng, (118, 136, 72)))
    asphalt = jitter(rng, (88, 88, 94), 8)
    c.polygon([vp, (g.road_l, s), (g.road_r, s)], ROAD, asphalt)
    # Curbs and lane marks exist only in the photo.
    curb = tuple(min(255, v + 40) for v in asphalt)
    width = max(1, s // 128)
    c.detail_line([vp, (g.road_l, s)], curb, width)
    c.detail_line([vp, (g.road_r, s)], curb, width)
    mark = jitter(rng, (225, 225, 215), 8)
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
    far_col = jitter(rng, (140, 140, 145) if far_cls == BUILDING else (70, 100, 55))
    c.rectangle((g.vx - s * 0.2, g.h - far_h, g.vx + s * 0.2, g.h + 1), far_cls, far_col)
    for side in (0, 1):
        _draw_facades(c, g, rng, side)


def _draw_facades(c: Canvas, g: Street, rng: np.random.Generator, side: int) -> None:
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
            colour = jitter(rng, pick(rng, _BUILDING_COLOURS), 12)
            c.polygon([(x1, top1), (x2, top2), (x2, b2), (x1, b1)], BUILDING, colour)
            _draw_windows(c, rng, (x1, top1, b1), (x2, top2, b2), colour)
        elif kind < 0.88:
            wall_h = rng.uniform(0.08, 0.25)
            colour = jitter(rng, (160, 150, 138), 12)
            c.polygon([(x1, b1 - (b1 - top1) * wall_h), (x2, b2 - (b2 - top2) * wall_h),
                       (x2, b2), (x1, b1)], WALL, colour)
            c.detail_line([(x1, b1 - (b1 - top1) * wall_h), (x2, b2 - (b2 - top2) * wall_h)],
                          tuple(v - 30 for v in colour), max(1, s // 128))
        else:
            hedge_h = rng.uniform(0.15, 0.4)
            c.polygon([(x1, b1 - (b1 - top1) * hedge_h), (x2, b2 - (b2 - top2) * hedge_h),
                       (x2, b2), (x1, b1)], VEGETATION, jitter(rng, (58, 96, 40), 10))
        d = d2


def _draw_windows(c: Canvas, rng: np.random.Generator, near_a, near_b, wall) -> None:
    """Rows of windows on a facade quad (photo only: Cityscapes labels them building)."""
    (xa, ta, ba), (xb, tb, bb) = near_a, near_b
    cols = int(rng.integers(2, 6))
    rows = int(rng.integers(3, 8))
    glass = jitter(rng, (60, 70, 85) if rng.random() < 0.7 else (150, 170, 190), 10)
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


def _draw_tree(c: Canvas, g: Street, rng: np.random.Generator, t: float, x: float) -> None:
    s, y = g.s, g.ground_y(t)
    scale = s * t
    trunk_h, crown = scale * rng.uniform(0.35, 0.6), scale * rng.uniform(0.15, 0.3)
    trunk_w = max(1.0, scale * 0.02)
    c.rectangle((x - trunk_w, y - trunk_h, x + trunk_w, y), VEGETATION, jitter(rng, (85, 65, 45)))
    cy = y - trunk_h
    leaves = jitter(rng, (62, 104, 42), 14)
    c.ellipse((x - crown, cy - crown * 1.3, x + crown, cy + crown * 0.5), VEGETATION, leaves)


def _draw_pole(c: Canvas, g: Street, rng: np.random.Generator, t: float, x: float) -> None:
    s, y = g.s, g.ground_y(t)
    scale = s * t
    height, w = scale * rng.uniform(0.5, 0.8), max(1.0, scale * 0.012)
    top = y - height
    c.rectangle((x - w, top, x + w, y), POLE, jitter(rng, (82, 86, 92), 8))
    if rng.random() < 0.5:  # traffic light: a dark box with one lamp lit
        bw, bh = max(2.0, scale * 0.035), max(4.0, scale * 0.09)
        c.rectangle((x - bw, top - bh, x + bw, top), LIGHT, jitter(rng, (38, 40, 38), 6))
        lamp = pick(rng, ((240, 60, 40), (250, 200, 40), (70, 230, 90)))
        slot = int(rng.integers(3))
        r = bw * 0.6
        cy = top - bh + bh * (slot + 0.5) / 3
        c.detail_rectangle((x - r, cy - r, x + r, cy + r), lamp)
    else:  # traffic sign: disc, triangle or rectangle on the pole
        r = max(2.0, scale * rng.uniform(0.03, 0.05))
        colour = jitter(rng, pick(rng, ((205, 35, 35), (35, 75, 170), (235, 235, 235),
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


def _draw_vehicle(c: Canvas, g: Street, rng: np.random.Generator, t: float, x: float,
                  cls: int) -> None:
    s, y = g.s, g.ground_y(t)
    scale = s * t
    if cls == CAR:
        w, h, colour = scale * rng.uniform(0.28, 0.38), scale * rng.uniform(0.2, 0.26), \
            jitter(rng, pick(rng, _CAR_COLOURS), 10)
    elif cls == TRUCK:
        w, h, colour = scale * 0.42, scale * 0.42, jitter(rng, (185, 182, 172), 12)
    else:
        w, h, colour = scale * 0.5, scale * 0.5, jitter(rng, (205, 168, 45), 12)
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
                         jitter(rng, (45, 55, 70), 8))
        lamp_w = w * 0.1
        c.detail_rectangle((left + w * 0.04, body_top + h * 0.08, left + w * 0.04 + lamp_w,
                            body_top + h * 0.16), (230, 40, 30))
        c.detail_rectangle((left + w * 0.96 - lamp_w, body_top + h * 0.08, left + w * 0.96,
                            body_top + h * 0.16), (230, 40, 30))
    else:
        c.detail_rectangle((left + w * 0.08, top + h * 0.15, left + w * 0.92, top + h * 0.45),
                           jitter(rng, (50, 60, 75), 8))
    for wx in (left + w * 0.18, left + w * 0.82):
        c.ellipse((wx - wheel, y - 2 * wheel, wx + wheel, y), cls, (22, 22, 24))


def _draw_person(c: Canvas, g: Street, rng: np.random.Generator, t: float, x: float,
                 cls: int = PERSON, feet: float | None = None) -> None:
    s = g.s
    y = g.ground_y(t) if feet is None else feet
    height = s * t * rng.uniform(0.34, 0.44)
    w = max(1.0, height * 0.13)
    shirt, trousers = jitter(rng, pick(rng, _CLOTHES)), jitter(rng, pick(rng, _CLOTHES))
    head = max(1.0, height * 0.075)
    c.rectangle((x - w * 0.8, y - height * 0.48, x + w * 0.8, y), cls, trousers)   # legs
    c.detail_line([(x, y - height * 0.4), (x, y)], tuple(max(0, v - 35) for v in trousers),
                  max(1, int(w * 0.3)))
    c.rectangle((x - w, y - height * 0.84, x + w, y - height * 0.48), cls, shirt)  # torso
    c.ellipse((x - head, y - height, x + head, y - height + 2 * head), cls,
              jitter(rng, pick(rng, _SKIN), 8))


def _draw_cyclist(c: Canvas, g: Street, rng: np.random.Generator, t: float, x: float) -> None:
    s, y = g.s, g.ground_y(t)
    r = max(1.5, s * t * 0.07)
    width = max(1, int(r * 0.25))
    frame = jitter(rng, (35, 35, 38), 6)
    for wx in (x - r * 1.4, x + r * 1.4):
        c.ring((wx - r, y - 2 * r, wx + r, y), BICYCLE, frame, width)
    c.line([(x - r * 1.4, y - r), (x, y - r * 1.9), (x + r * 1.4, y - r)], BICYCLE, frame, width)
    _draw_person(c, g, rng, t, x, RIDER, feet=y - r * 0.6)


def _draw_objects(c: Canvas, g: Street, rng: np.random.Generator) -> None:
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


def _draw_fence(c: Canvas, g: Street, rng: np.random.Generator) -> None:
    """A fence along the facades of one side, with posts and rails in the photo."""
    side = int(rng.integers(2))
    d1, d2 = rng.uniform(0.1, 0.5), rng.uniform(0.6, 1.1)
    (x1, b1), (x2, b2) = g.facade(side, d1), g.facade(side, min(d2, 1.0))
    if d2 > 1.0:
        x2 = -g.s * 0.05 if side == 0 else g.s * 1.05
    h1, h2 = g.s * 0.12 * d1, g.s * 0.12 * min(d2, 1.0)
    colour = jitter(rng, (118, 108, 88), 10)
    c.polygon([(x1, b1 - h1), (x2, b2 - h2), (x2, b2), (x1, b1)], FENCE, colour)
    dark = tuple(max(0, v - 40) for v in colour)
    for k in range(1, 12):
        u = k / 12
        px, pb, ph = x1 + (x2 - x1) * u, b1 + (b2 - b1) * u, h1 + (h2 - h1) * u
        c.detail_line([(px, pb - ph), (px, pb)], dark, 1)


def _draw_ego_vehicle(c: Canvas, rng: np.random.Generator) -> None:
    """The camera car's bonnet at the bottom: ignore (255), as in Cityscapes."""
    s = c.size
    top = s * rng.uniform(0.86, 0.95)
    c.polygon([(-1, s), (-1, top + s * 0.03), (s * 0.5, top), (s + 1, top + s * 0.03), (s + 1, s)],
              IGNORE_INDEX, jitter(rng, (25, 25, 30), 5))


def draw_scene(seed: int, split: str, index: int, size: int = DEFAULT_SIZE
               ) -> tuple[np.ndarray, np.ndarray]:
    """Scene `index` of `split`: (trainIds (size, size) uint8, photo (size, size, 3) uint8)."""
    if split not in _SPLIT_STREAM:
        raise DatasetConfigError(f"synthetic split must be 'train' or 'test', got {split!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_STREAM[split],
                                                        int(index)]))
    sky = jitter(rng, pick(rng, ((150, 190, 228), (196, 202, 208), (175, 200, 225))), 8)
    canvas = Canvas(size, sky)
    street = Street(rng, size)
    _draw_background(canvas, street, rng)
    _draw_objects(canvas, street, rng)
    if rng.random() < 0.3:
        _draw_ego_vehicle(canvas, rng)
    ids = np.asarray(canvas.labels)
    return ids, render_photo(canvas.photo, ids, rng)
