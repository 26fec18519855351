"""Bad input gives one clear line naming the file or folder and the fix."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import (
    AlignedPairError,
    DatasetConfigError,
    DatasetNotFoundError,
    ImageFormatError,
    ImageReadError,
    LabelColourError,
    open_domains,
)
from benchmark.data.pix2pix import open_pix2pix
from evaluation.labels import TRAIN_PALETTE


def pix2pix_cfg(root: Path, **over) -> dict:
    cfg = dict(name="cityscapes", source="pix2pix", root=str(root), a_domain="photo",
               b_domain="labels", x_domain="photo", label_domain="labels",
               train_split="train", test_split="val")
    return {**cfg, **over}


def write_pair(path: Path, label_half: np.ndarray, width: int | None = None) -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, label_half.shape, dtype=np.uint8)
    img = Image.fromarray(np.concatenate([photo, label_half], axis=1))
    if width is not None:
        img = img.crop((0, 0, width, img.height))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=90)


def palette_blocks(size: int = 32) -> np.ndarray:
    ids = (np.arange(size)[:, None] // 8 * 4 + np.arange(size)[None, :] // 8) % 19
    return TRAIN_PALETTE[ids]


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_root_and_split_name_the_layout_and_prepare(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        open_domains(pix2pix_cfg(tmp_path / "nope"), "train")
    text = one_line(err)
    assert str(tmp_path / "nope") in text and "<split>/<n>.jpg" in text
    assert "benchmark data prepare cityscapes --src DIR --out DIR --size 128" in text
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetNotFoundError, match="val does not exist"):
        open_domains(pix2pix_cfg(tmp_path), "test")
    with pytest.raises(DatasetNotFoundError, match="holds no .jpg/.png"):
        open_domains(pix2pix_cfg(tmp_path), "train")


@pytest.mark.parametrize("source, needle", [("unaligned", "trainA"),
                                            ("prepared", "photo/<stem>.png"),
                                            ("cityscapes_native", "_gtFine_labelIds.png")])
def test_empty_folders_other_sources(tmp_path, source, needle):
    with pytest.raises(DatasetNotFoundError) as err:
        open_domains(pix2pix_cfg(tmp_path, source=source, name="facades"), "train")
    text = one_line(err)
    assert needle in text
    assert ("benchmark data prepare cityscapes" in text) == (source != "unaligned")


def test_truncated_jpeg_names_the_file(tmp_path):
    good = tmp_path / "val" / "1.jpg"
    write_pair(good, palette_blocks())
    write_pair(tmp_path / "val" / "2.jpg", palette_blocks())
    bad = tmp_path / "val" / "2.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    # Opening decodes a spread of label maps (here: all), so the bad file is named at once ...
    with pytest.raises(ImageReadError) as err:
        open_domains(pix2pix_cfg(tmp_path), "val")
    assert str(bad) in one_line(err)
    # ... and the source's own lazy reads name it too, wherever they come first.
    pair = open_pix2pix(pix2pix_cfg(tmp_path), "val")
    with pytest.raises(ImageReadError) as err:
        pair.X.load(1)
    assert str(bad) in one_line(err)
    with pytest.raises(ImageReadError):
        pair.Y.train_ids(1)


def test_odd_width_names_the_file(tmp_path):
    write_pair(tmp_path / "train" / "1.jpg", palette_blocks(), width=63)
    with pytest.raises(ImageFormatError) as err:  # the header check, before any decoding
        open_domains(pix2pix_cfg(tmp_path), "train")
    text = one_line(err)
    assert str(tmp_path / "train" / "1.jpg") in text and "odd" in text
    with pytest.raises(AlignedPairError) as err:  # the split itself refuses it too
        open_pix2pix(pix2pix_cfg(tmp_path), "train").X.load(0)
    assert "odd" in one_line(err)


def test_non_palette_label_half(tmp_path):
    rng = np.random.default_rng(1)
    write_pair(tmp_path / "train" / "1.jpg", palette_blocks())
    write_pair(tmp_path / "train" / "2.jpg", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    with pytest.raises(LabelColourError) as err:  # a spread of label maps is snapped at open
        open_domains(pix2pix_cfg(tmp_path), "train")
    assert str(tmp_path / "train" / "2.jpg") in one_line(err)
    pair = open_pix2pix(pix2pix_cfg(tmp_path), "train")  # a real palette label half passes
    assert (pair.Y.train_ids(0) != 255).mean() > 0.9
    with pytest.raises(LabelColourError) as err:
        pair.Y.train_ids(1)
    text = one_line(err)
    assert str(tmp_path / "train" / "2.jpg") in text and "%" in text
    # Swapping the sides (the photo declared as the label domain) fails at open time.
    with pytest.raises(LabelColourError):
        open_domains(pix2pix_cfg(tmp_path, label_domain="photo"), "train")


def test_bad_config(tmp_path):
    with pytest.raises(DatasetConfigError, match="unknown source"):
        open_domains(pix2pix_cfg(tmp_path, source="zip"), "train")
    with pytest.raises(DatasetConfigError, match="x_domain"):
        open_domains(pix2pix_cfg(tmp_path, x_domain="map"), "train")
