"""pix2pix A|B files on the real shared data: counts, halves, snapping against native labels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data import LabelColourError, TestDomain, TestPairs, open_domains
from benchmark.data.cityscapes_native import native_train_ids
from benchmark.data.domains import resize_ids
from benchmark.data.pix2pix import Pix2PixSide

# pix2pix val file number -> native name (shared/data/README.md, matched by pixels).
VAL_NATIVE = {2: "frankfurt_000000_000576", 9: "frankfurt_000000_003357",
              30: "frankfurt_000000_012868", 95: "frankfurt_000001_015328",
              121: "frankfurt_000001_028335", 136: "frankfurt_000001_033655",
              168: "frankfurt_000001_047552", 193: "frankfurt_000001_055387"}


def cityscapes_cfg(root: Path) -> dict:
    return dict(name="cityscapes", source="pix2pix", root=str(root / "cityscapes"),
                a_domain="photo", b_domain="labels", x_domain="photo", label_domain="labels",
                train_split="train", test_split="val")


def test_cityscapes_counts_and_order(shared_data):
    train = open_domains(cityscapes_cfg(shared_data), "train")
    val = open_domains(cityscapes_cfg(shared_data), "test")
    assert (len(train.X), len(train.Y), len(val.X), len(val.Y)) == (2975, 2975, 500, 500)
    assert val.split == "val" and train.aligned and val.aligned
    assert [train.X.stem(i) for i in range(3)] == ["1", "2", "3"]  # numeric, not "1", "10"
    assert train.X.stem(9) == "10" and train.X.stem(-1) == "2975"
    assert (train.X.name, train.Y.name) == ("photo", "labels")
    assert not train.X.is_label_map and train.Y.is_label_map


def test_halves_and_x_domain_swap(shared_data):
    pair = open_domains(cityscapes_cfg(shared_data), "train")
    photo, labels = pair.X.load(0), pair.Y.load(0)
    assert photo.size == labels.size == (256, 256) and photo.mode == labels.mode == "RGB"
    assert np.abs(np.asarray(photo, float) - np.asarray(labels, float)).mean() > 20
    swapped = open_domains({**cityscapes_cfg(shared_data), "x_domain": "labels"}, "train")
    assert swapped.X.name == "labels" and swapped.X.is_label_map
    assert np.array_equal(np.asarray(swapped.X.load(0)), np.asarray(labels))
    with pytest.raises(ValueError, match="not a label domain"):
        pair.X.train_ids(0)


def test_label_half_snaps_to_train_ids(shared_data):
    pair = open_domains(cityscapes_cfg(shared_data), "train")
    ids = pair.Y.train_ids(0)
    assert ids.dtype == np.uint8 and ids.shape == (256, 256)
    assert set(np.unique(ids)) <= set(range(19)) | {255}
    assert (ids == 0).mean() > 0.2  # a street scene: lots of road
    small = pair.Y.train_ids(0, size=64)
    assert small.shape == (64, 64)
    assert np.array_equal(small, resize_ids(ids, 64))  # resized ids, never blended colours


def test_colour_check_threshold_on_real_halves(shared_data):
    """The label halves with the most off-palette pixels of all 3475 (measured) pass; the
    photo half closest to the palette is refused when declared the label domain."""
    val = open_domains(cityscapes_cfg(shared_data), "val")
    stems = {val.Y.stem(i): i for i in range(len(val.Y))}
    assert val.Y.train_ids(stems["231"]).shape == (256, 256)
    train = open_domains(cityscapes_cfg(shared_data), "train")
    assert train.Y.train_ids(1493, size=128).shape == (128, 128)  # train/1494.jpg
    assert train.X.stem(2048) == "2049"
    photo_as_labels = Pix2PixSide("labels", True, [shared_data / "cityscapes/train/2049.jpg"], 0)
    with pytest.raises(LabelColourError, match=r"2049\.jpg \(left half\)"):
        photo_as_labels.train_ids(0)
    with pytest.raises(LabelColourError):  # sides swapped in the config: refused at open
        open_domains({**cityscapes_cfg(shared_data), "a_domain": "labels",
                      "b_domain": "photo", "x_domain": "photo"}, "train")


def test_snapping_agrees_with_native_label_ids(shared_data):
    """Snapped JPEG colour halves vs official gtFine labelIds (NEAREST to 256) on the 8 val
    images that have both. Measured: 0.938 overall, 0.914-0.953 per image; 99% of the
    disagreements lie within 2 px of a class border (resampling + JPEG)."""
    pair = open_domains(cityscapes_cfg(shared_data), "test")
    stems = {pair.Y.stem(i): i for i in range(len(pair.Y))}
    agree = total = 0
    for number, name in VAL_NATIVE.items():
        snapped = pair.Y.train_ids(stems[str(number)], size=256)
        path = (shared_data / "cityscapes_native/gtFine/val/frankfurt"
                / f"{name}_gtFine_labelIds.png")
        native = resize_ids(native_train_ids(path), 256)
        scored = native != 255
        same = int((snapped[scored] == native[scored]).sum())
        assert same / scored.sum() > 0.90, name
        agree, total = agree + same, total + int(scored.sum())
    assert agree / total > 0.93


def test_test_datasets(shared_data):
    pair = open_domains(cityscapes_cfg(shared_data), "val")
    item = TestPairs(pair, size=64)[3]
    assert item["X"].shape == item["Y"].shape == (3, 64, 64)
    assert item["X"].dtype == torch.float32 and -1 <= item["X"].min() and item["X"].max() <= 1
    assert item["stem"] == pair.X.stem(3) and item["index"] == 3
    dom = TestDomain(pair.Y, size=32)
    assert len(dom) == 500 and dom[0]["image"].shape == (3, 32, 32) and dom[0]["stem"] == "1"


@pytest.mark.parametrize("name, split, count, a", [("facades", "test", 20, "photo"),
                                                    ("maps", "val", 20, "aerial")])
def test_other_pix2pix_datasets(shared_data, name, split, count, a):
    cfg = dict(name=name, source="pix2pix", root=str(shared_data / name), a_domain=a,
               b_domain="labels" if a == "photo" else "map", x_domain=a, label_domain=None,
               train_split="train", test_split=split)
    pair = open_domains(cfg, "test")
    assert len(pair.X) == len(pair.Y) == count
    assert not pair.X.is_label_map and not pair.Y.is_label_map
    x = pair.X.load(0)
    assert x.size[0] == x.size[1] and x.mode == "RGB"
