"""Native Cityscapes (leftImg8bit + gtFine) and its conversion to the prepared layout."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from benchmark.data import DatasetNotFoundError, open_domains, prepare_cityscapes
from evaluation.labels import TRAIN_PALETTE, train_ids_to_colors


def native_cfg(root) -> dict:
    return dict(name="cityscapes_native", source="cityscapes_native", root=str(root),
                a_domain="photo", b_domain="labels", x_domain="photo", label_domain="labels",
                train_split="train", test_split="val")


def test_native_pairs_and_train_ids(shared_data):
    pair = open_domains(native_cfg(shared_data / "cityscapes_native"), "train")
    assert len(pair.X) == len(pair.Y) == 4 and pair.aligned
    assert pair.X.stem(0) == "aachen_000000_000019" == pair.Y.stem(0)
    assert pair.X.load(0).size == (2048, 1024)
    ids = pair.Y.train_ids(0)
    assert ids.shape == (1024, 2048) and ids.dtype == np.uint8
    values = set(np.unique(ids).tolist())
    assert values <= set(range(19)) | {255} and len(values - {255}) >= 8
    assert np.array_equal(np.asarray(pair.Y.load(0)), train_ids_to_colors(ids))
    small = pair.Y.train_ids(0, size=128)
    assert small.shape == (128, 128) and set(np.unique(small)) <= values


def test_native_val_without_photos_is_a_clear_error(shared_data):
    with pytest.raises(DatasetNotFoundError, match=r"found 0 leftImg8bit photos and 8 gtFine"):
        open_domains(native_cfg(shared_data / "cityscapes_native"), "test")


def test_prepare_then_read_back(shared_data, tmp_path):
    out = tmp_path / "prepared"
    report = prepare_cityscapes(shared_data / "cityscapes_native", out, size=32)
    assert report["splits"]["train"] == {"pairs": 4, "written": 4, "present": 0}
    assert "val" in report["skipped_splits"] and "0 leftImg8bit" in report["skipped_splits"]["val"]
    assert not (out / "val").exists()
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.jpg"))

    cfg = {**native_cfg(out), "name": "cityscapes_prepared", "source": "prepared"}
    pair = open_domains(cfg, "train")
    native = open_domains(native_cfg(shared_data / "cityscapes_native"), "train")
    assert len(pair.X) == 4 and pair.X.stem(3) == "aachen_000003_000019"
    assert pair.X.load(0).size == (32, 32)
    for i in range(4):
        ids = pair.Y.train_ids(i)
        assert np.array_equal(ids, native.Y.train_ids(i, size=32))
        colours = np.asarray(pair.Y.load(i))
        assert np.array_equal(colours, train_ids_to_colors(ids))  # exact palette, no JPEG
        palette = {tuple(c) for c in TRAIN_PALETTE.tolist()} | {(0, 0, 0)}
        assert {tuple(c) for c in colours.reshape(-1, 3).tolist()} <= palette

    again = prepare_cityscapes(shared_data / "cityscapes_native", out, size=32)
    assert again["splits"]["train"] == {"pairs": 4, "written": 0, "present": 4}


def test_prepare_resumes_partial_output(shared_data, tmp_path):
    out = tmp_path / "p"
    prepare_cityscapes(shared_data / "cityscapes_native", out, size=16, splits=("train",))
    (out / "train/labels/aachen_000001_000019.png").unlink()
    report = prepare_cityscapes(shared_data / "cityscapes_native", out, size=16, splits=("train",))
    assert report["splits"]["train"] == {"pairs": 4, "written": 1, "present": 3}
    assert Image.open(out / "train/labels/aachen_000001_000019.png").size == (16, 16)
    cfg = {**native_cfg(out), "source": "prepared"}
    stored = open_domains(cfg, "train").Y.train_ids(1)
    shutil.rmtree(out / "train/train_ids")  # without the id PNGs the exact colours are snapped
    assert np.array_equal(open_domains(cfg, "train").Y.train_ids(1), stored)


def test_prepare_without_pairs_fails(tmp_path):
    (tmp_path / "src/gtFine/train/x").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no Cityscapes photo\\+label pairs"):
        prepare_cityscapes(tmp_path / "src", tmp_path / "out")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        prepare_cityscapes(tmp_path / "missing", tmp_path / "out")
