"""Augmentation: shapes, ranges, label maps kept exact, randomness only from the generator."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.data import paired_train_transform, test_transform, to_image, to_tensor, train_transform
from evaluation.labels import TRAIN_PALETTE


def label_image(size: int = 50) -> Image.Image:
    ids = (np.arange(size)[:, None] // 5 + np.arange(size)[None, :] // 7) % 19
    return Image.fromarray(TRAIN_PALETTE[ids])


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_round_trip_is_exact():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8))
    t = to_tensor(img)
    assert t.shape == (3, 9, 7) and t.min() >= -1 and t.max() <= 1
    assert np.array_equal(np.asarray(to_image(t)), np.asarray(img))
    assert np.array_equal(np.asarray(to_image(t[None])), np.asarray(img))
    with pytest.raises(ValueError):
        to_image(torch.zeros(2, 3, 4, 4))


def test_train_transform_shape_determinism_and_label_colours():
    img = label_image()
    a = train_transform(img, load_size=40, crop_size=32, flip=True, is_label_map=True,
                        generator=gen(1))
    b = train_transform(img, load_size=40, crop_size=32, flip=True, is_label_map=True,
                        generator=gen(1))
    assert a.shape == (3, 32, 32) and torch.equal(a, b)
    outs = {train_transform(img, load_size=40, crop_size=32, flip=True, is_label_map=True,
                            generator=gen(s)).numpy().tobytes() for s in range(8)}
    assert len(outs) > 1
    colours = {tuple(c) for c in np.asarray(to_image(a)).reshape(-1, 3).tolist()}
    assert colours <= {tuple(c) for c in TRAIN_PALETTE.tolist()}  # NEAREST: no blends
    photo = train_transform(img, load_size=40, crop_size=32, flip=False, is_label_map=False,
                            generator=gen(1))
    blended = {tuple(c) for c in np.asarray(to_image(photo)).reshape(-1, 3).tolist()}
    assert not blended <= {tuple(c) for c in TRAIN_PALETTE.tolist()}  # BICUBIC for photos
    with pytest.raises(ValueError, match="crop_size"):
        train_transform(img, load_size=20, crop_size=32, flip=False, is_label_map=True,
                        generator=gen(0))


def test_flip_only_when_asked():
    img = Image.fromarray(np.tile(np.arange(32, dtype=np.uint8)[None, :, None] * 8, (32, 1, 3)))
    flips = [train_transform(img, load_size=32, crop_size=32, flip=True, is_label_map=True,
                             generator=gen(s))[0, 0, 0].item() > 0 for s in range(20)]
    assert 3 < sum(flips) < 17
    assert all(train_transform(img, load_size=32, crop_size=32, flip=False, is_label_map=True,
                               generator=gen(s))[0, 0, 0].item() == -1 for s in range(5))


def test_paired_transform_same_crop():
    img = label_image()
    x, y = paired_train_transform(img, img.copy(), load_size=44, crop_size=32, flip=True,
                                  is_label_map_x=True, is_label_map_y=True, generator=gen(3))
    assert torch.equal(x, y)


def test_test_transform():
    t = test_transform(label_image(), size=20, is_label_map=True)
    assert t.shape == (3, 20, 20)
    assert torch.equal(t, test_transform(label_image(), size=20, is_label_map=True))
