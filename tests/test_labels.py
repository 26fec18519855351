"""The Cityscapes label table and colour snapping.

The expected values below are typed in from the official `cityscapesscripts.helpers.labels`
table (name, id, trainId, colour), independently of `evaluation/labels.py`, so a typo in the
vendored copy fails here.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from evaluation import labels as L

# (name, id, trainId, colour) for all 34 labelled ids, as in cityscapesscripts.
OFFICIAL = [
    ("unlabeled", 0, 255, (0, 0, 0)),
    ("ego vehicle", 1, 255, (0, 0, 0)),
    ("rectification border", 2, 255, (0, 0, 0)),
    ("out of roi", 3, 255, (0, 0, 0)),
    ("static", 4, 255, (0, 0, 0)),
    ("dynamic", 5, 255, (111, 74, 0)),
    ("ground", 6, 255, (81, 0, 81)),
    ("road", 7, 0, (128, 64, 128)),
    ("sidewalk", 8, 1, (244, 35, 232)),
    ("parking", 9, 255, (250, 170, 160)),
    ("rail track", 10, 255, (230, 150, 140)),
    ("building", 11, 2, (70, 70, 70)),
    ("wall", 12, 3, (102, 102, 156)),
    ("fence", 13, 4, (190, 153, 153)),
    ("guard rail", 14, 255, (180, 165, 180)),
    ("bridge", 15, 255, (150, 100, 100)),
    ("tunnel", 16, 255, (150, 120, 90)),
    ("pole", 17, 5, (153, 153, 153)),
    ("polegroup", 18, 255, (153, 153, 153)),
    ("traffic light", 19, 6, (250, 170, 30)),
    ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)),
    ("terrain", 22, 9, (152, 251, 152)),
    ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)),
    ("rider", 25, 12, (255, 0, 0)),
    ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)),
    ("bus", 28, 15, (0, 60, 100)),
    ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)),
    ("train", 31, 16, (0, 80, 100)),
    ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
]

OFFICIAL_TRAIN_NAMES = [
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
]


def test_table_matches_official_values():
    got = [(l.name, l.id, l.train_id, tuple(l.color)) for l in L.LABELS]
    assert got == OFFICIAL


def test_nineteen_train_classes_in_train_id_order():
    assert L.NUM_CLASSES == 19
    assert list(L.CLASS_NAMES) == OFFICIAL_TRAIN_NAMES
    assert [l.train_id for l in L.TRAIN_LABELS] == list(range(19))
    by_name = {name: colour for name, _, _, colour in OFFICIAL}
    assert L.TRAIN_PALETTE.shape == (19, 3) and L.TRAIN_PALETTE.dtype == np.uint8
    assert [tuple(int(v) for v in c) for c in L.TRAIN_PALETTE] == [by_name[n] for n in OFFICIAL_TRAIN_NAMES]


def test_label_ids_map_to_train_ids_and_255():
    ids = np.array([[7, 8, 26], [0, 9, 33]], dtype=np.uint8)
    assert L.label_ids_to_train_ids(ids).tolist() == [[0, 1, 13], [255, 255, 18]]
    # every official id; -1 (licence plate) is ignored too
    all_ids = np.array([i for _, i, _, _ in OFFICIAL] + [-1])
    expected = [t for _, _, t, _ in OFFICIAL] + [255]
    assert L.label_ids_to_train_ids(all_ids).tolist() == expected


def test_train_ids_to_colors_round_trip():
    ids = np.arange(19, dtype=np.uint8).reshape(1, 19)
    rgb = L.train_ids_to_colors(ids)
    assert rgb.shape == (1, 19, 3)
    snapped, dist = L.snap_to_palette(rgb)
    assert snapped.tolist() == ids.tolist()
    assert np.all(dist == 0)
    assert L.train_ids_to_colors(np.array([[255]])).tolist() == [[[0, 0, 0]]]


def test_exact_palette_colours_snap_to_exact_ids():
    rgb = L.TRAIN_PALETTE[None, :, :]
    ids, dist = L.snap_to_palette(rgb)
    assert ids.dtype == np.uint8 and ids.shape == (1, 19)
    assert ids[0].tolist() == list(range(19))
    assert dist.shape == (1, 19) and np.all(dist == 0)


def test_jpeg_like_noise_of_six_levels_still_snaps_right():
    # Nearest-colour decisions are linear in the noise, so the worst case over the box
    # [-6, 6]^3 is attained at one of its 8 corners: checking them all is exhaustive.
    corners = np.array(list(itertools.product((-6, 6), repeat=3)))
    rgb = np.clip(L.TRAIN_PALETTE.astype(int)[:, None, :] + corners[None, :, :], 0, 255)
    ids, dist = L.snap_to_palette(rgb.astype(np.uint8))
    assert (ids == np.arange(19)[:, None]).all()
    assert dist.max() <= np.sqrt(3 * 36) + 1e-6
    # and random noise inside the box
    rng = np.random.default_rng(0)
    noise = rng.integers(-6, 7, size=(19, 200, 3))
    rgb = np.clip(L.TRAIN_PALETTE.astype(int)[:, None, :] + noise, 0, 255).astype(np.uint8)
    assert (L.colors_to_train_ids(rgb) == np.arange(19)[:, None]).all()


@pytest.mark.parametrize("colour", [(250, 170, 160), (0, 0, 0), (81, 0, 81), (0, 0, 90), (180, 165, 180)])
def test_non_train_colours_snap_to_ignore(colour):
    ids, dist = L.snap_to_palette(np.array([[colour]], dtype=np.uint8))
    assert ids.tolist() == [[255]]
    assert dist.tolist() == [[0.0]]


def test_pole_and_polegroup_share_a_colour_that_means_pole():
    ids = L.colors_to_train_ids(np.array([[(153, 153, 153)]], dtype=np.uint8))
    assert ids.tolist() == [[5]]


def test_distance_is_euclidean_to_nearest_colour():
    rgb = np.array([[(128 + 3, 64 - 4, 128), (255, 255, 255)]], dtype=np.uint8)
    ids, dist = L.snap_to_palette(rgb)
    assert ids[0, 0] == 0 and dist[0, 0] == pytest.approx(5.0)
    # white is far from every palette colour: a caller can tell "not a label map"
    assert dist[0, 1] > 40


def test_chunking_does_not_change_the_result():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(37, 41, 3), dtype=np.uint8)
    a = L.snap_to_palette(rgb)
    b = L.snap_to_palette(rgb, chunk=100)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="H, W, 3"):
        L.snap_to_palette(np.zeros((4, 4), dtype=np.uint8))


def test_fence_under_colour_noise_train19_recovers_more_than_full_palette():
    """Issue 10: sigma=20 colour noise on a fence region. Nearest of the 19 training colours
    recovers ~0.82 of the pixels; the full palette loses many to guard rail / parking (255)."""
    rng = np.random.default_rng(0)
    fence = L.TRAIN_PALETTE[4].astype(float)
    rgb = np.clip(fence + rng.normal(0, 20, size=(200, 200, 3)), 0, 255).round().astype(np.uint8)
    recovered = {rule: float((L.snap_to_palette(rgb, rule=rule)[0] == 4).mean()) for rule in L.SNAP_RULES}
    assert recovered["train19"] == pytest.approx(0.82, abs=0.02)
    assert recovered["full_palette"] == pytest.approx(0.51, abs=0.02)
    # train19 never answers "ignore"; the full palette does for the lost pixels
    assert not (L.snap_to_palette(rgb, rule="train19")[0] == 255).any()
    assert (L.snap_to_palette(rgb, rule="full_palette")[0] == 255).mean() > 0.3


def test_snap_rules_agree_on_training_colours_and_differ_on_void_ones():
    for rule in L.SNAP_RULES:
        assert L.snap_to_palette(L.TRAIN_PALETTE[None], rule=rule)[0][0].tolist() == list(range(19))
    guard_rail = np.array([[(180, 165, 180)]], dtype=np.uint8)
    assert L.colors_to_train_ids(guard_rail, rule="full_palette").tolist() == [[255]]
    assert L.colors_to_train_ids(guard_rail, rule="train19").tolist() != [[255]]


def test_unknown_snap_rule_is_one_clear_line():
    with pytest.raises(ValueError, match=r"evaluation.snap_rule='nearest'.*train19, full_palette"):
        L.snap_to_palette(np.zeros((2, 2, 3), dtype=np.uint8), rule="nearest")
