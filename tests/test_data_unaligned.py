"""CycleGAN-style trainA/trainB/testA/testB folders: unaligned, each side on its own."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmark.data import TestDomain, TestPairs, UnpairedIterations, open_domains


@pytest.fixture
def unaligned_root(tmp_path):
    rng = np.random.default_rng(0)
    for folder, n in (("trainA", 3), ("trainB", 5), ("testA", 2), ("testB", 4)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            img = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(img).save(tmp_path / folder / f"{folder}_{i:02d}.png")
    (tmp_path / "trainA" / "notes.txt").write_text("not an image")
    return tmp_path


def cfg(root, **over):
    return {**dict(name="horse2zebra", source="unaligned", root=str(root), a_domain="horse",
                   b_domain="zebra", x_domain="horse", label_domain=None,
                   train_split="train", test_split="test"), **over}


def test_open_train_and_test(unaligned_root):
    train = open_domains(cfg(unaligned_root), "train")
    assert not train.aligned and (len(train.X), len(train.Y)) == (3, 5)
    assert (train.X.name, train.Y.name) == ("horse", "zebra")
    assert train.X.stem(1) == "trainA_01" and train.X.load(0).size == (24, 20)
    for split in ("test", "val"):  # CycleGAN keeps val images in testA/testB
        test = open_domains(cfg(unaligned_root), split)
        assert test.split == "test" and (len(test.X), len(test.Y)) == (2, 4)
    swapped = open_domains(cfg(unaligned_root, x_domain="zebra"), "train")
    assert swapped.X.name == "zebra" and len(swapped.X) == 5


def test_training_epoch_is_the_longer_domain(unaligned_root):
    data = UnpairedIterations(open_domains(cfg(unaligned_root), "train"), load_size=20,
                              crop_size=16, flip=True, seed=0)
    assert data.epoch_length == 5
    item = data[7]
    assert item["X"].shape == item["Y"].shape == (3, 16, 16)
    assert 0 <= item["X_index"] < 3 and 0 <= item["Y_index"] < 5
    with pytest.raises(ValueError, match="aligned"):
        UnpairedIterations(data.pair, load_size=20, crop_size=16, flip=True, seed=0, paired=True)


def test_test_datasets(unaligned_root):
    test = open_domains(cfg(unaligned_root), "test")
    with pytest.raises(ValueError, match="TestDomain"):
        TestPairs(test, 16)
    ys = TestDomain(test.Y, 16)
    assert len(ys) == 4 and ys[3]["stem"] == "testB_03" and ys[3]["image"].shape == (3, 16, 16)
