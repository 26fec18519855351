"""Datasets as they come: greyscale, palette, CMYK, 16-bit and alpha images load as RGB.

horse2zebra, like many real collections, holds greyscale JPEGs among its colour ones; the
suite must train and score on it as the reference code does (which converts every image to RGB).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.data import ImageFormatError, open_domains
from benchmark.data.rgb import conversion_kind, summary, to_rgb


def _colour(rng, size=(40, 40)):
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def test_every_mode_becomes_rgb():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    out = to_rgb(Image.fromarray(grey))
    assert out.mode == "RGB" and all(np.array_equal(np.asarray(out)[..., c], grey) for c in range(3))
    wide = (grey.astype(np.uint16) * 257)  # 16-bit: PIL's own conversion would clip all of it to 255
    sixteen = Image.fromarray(wide)
    assert sixteen.mode == "I;16" and conversion_kind(sixteen) == "16-bit greyscale"
    assert np.array_equal(np.asarray(to_rgb(sixteen))[..., 0], grey)
    palette = Image.fromarray(_colour(rng, (8, 8))).convert("P")
    assert conversion_kind(palette) == "palette" and to_rgb(palette).mode == "RGB"
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # full magenta + yellow: red
    assert conversion_kind(cmyk) == "CMYK" and to_rgb(cmyk).getpixel((0, 0)) == (255, 0, 0)
    assert conversion_kind(Image.new("RGB", (2, 2))) is None
    with pytest.raises(ValueError, match="mode F cannot be converted"):
        to_rgb(Image.new("F", (2, 2)))


def test_alpha_is_flattened_onto_white():
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))  # transparent black ...
    rgba.putpixel((1, 0), (200, 0, 0, 128))  # ... and half-transparent red
    out = to_rgb(rgba)
    assert conversion_kind(rgba) == "alpha"
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((1, 0)) == pytest.approx((227, 127, 127), abs=1)
    for mode in ("LA", "La", "PA", "RGBa"):  # every alpha mode PIL has, premultiplied ones too
        assert to_rgb(Image.new(mode, (1, 1))).getpixel((0, 0)) == (255, 255, 255), mode
    transparent_palette = Image.new("P", (1, 1), 0)
    transparent_palette.info["transparency"] = 0
    assert conversion_kind(transparent_palette) == "alpha"
    assert to_rgb(transparent_palette).getpixel((0, 0)) == (255, 255, 255)


def test_summary_counts_each_kind_in_one_line():
    line = summary(["greyscale", None, "palette", "greyscale", "alpha"], 6)
    assert line == ("4 of 6 images are not RGB and are converted to RGB when loaded: 2 greyscale, 1 alpha, "
                    "1 palette (alpha flattened onto white)")
    assert summary([None, None], 2) is None


def _horse2zebra(root, rng):
    """A horse2zebra-like folder: mostly colour, greyscale JPEGs on both sides, a palette PNG,
    a CMYK JPEG, a 16-bit PNG and an RGBA PNG."""
    for folder, n in (("trainA", 4), ("trainB", 4), ("testA", 3), ("testB", 3)):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(_colour(rng)).save(root / folder / f"{i}.jpg", quality=90)
    Image.fromarray(_colour(rng)).convert("L").save(root / "trainA" / "4_grey.jpg")
    Image.fromarray(_colour(rng)).convert("L").save(root / "trainB" / "4_grey.jpg")
    Image.fromarray(_colour(rng)).convert("L").save(root / "testA" / "3_grey.jpg")
    Image.fromarray(_colour(rng)).convert("P").save(root / "trainB" / "5_palette.png")
    Image.fromarray(_colour(rng)).convert("CMYK").save(root / "trainA" / "5_cmyk.jpg")
    Image.fromarray(rng.integers(0, 65536, (40, 40), dtype=np.uint16)).save(root / "testB" / "3_16bit.png")
    Image.fromarray(_colour(rng)).convert("RGBA").save(root / "testB" / "4_alpha.png")


def _dataset_cfg(root):
    return dict(name="horse2zebra", source="unaligned", root=str(root), a_domain="A", b_domain="B",
                x_domain="A", label_domain=None, train_split="train", test_split="test")


def test_open_counts_the_converted_images_in_one_line(tmp_path, capsys):
    _horse2zebra(tmp_path / "h2z", np.random.default_rng(1))
    pair = open_domains(_dataset_cfg(tmp_path / "h2z"), "train")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["note: dataset horse2zebra train: 4 of 12 images are not RGB and are converted to RGB when "
                   "loaded: 2 greyscale, 1 CMYK, 1 palette"]
    assert all(pair.X.load(i).mode == "RGB" for i in range(len(pair.X)))


def test_unreadable_file_is_still_refused_with_its_name(tmp_path):
    root = tmp_path / "h2z"
    _horse2zebra(root, np.random.default_rng(2))
    (root / "trainA" / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageFormatError, match=r"1 of 13 image files .*broken\.jpg: not readable"):
        open_domains(_dataset_cfg(root), "train")


def test_greyscale_dataset_trains_and_scores(tmp_path, capsys):
    """The horse2zebra situation end to end through the CLI: train a few iterations, then score."""
    root, run = tmp_path / "h2z", tmp_path / "run"
    _horse2zebra(root, np.random.default_rng(3))
    common = ["dataset=unaligned", f"dataset.root={root}", "dataset.name=horse2zebra", "profile=smoke",
              "progress=false", "evaluation.fid.enabled=false", f"store_dir={tmp_path / 'store'}"]
    assert main(["train", *common, f"run_dir={run}", "trainer.iterations=4", "trainer.checkpoint_every=4",
                 "trainer.sample_every=4", "--yes"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "note: dataset horse2zebra train: 4 of 12 images are not RGB" in err
    assert "note: dataset horse2zebra test: 3 of 9 images are not RGB" in err and "1 alpha" in err
    assert main(["evaluate", str(run), "progress=false", "--json"]) == 0, capsys.readouterr().err
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["directions"]) == {"A2B", "B2A"}
    for direction in ("A2B", "B2A"):
        generated = sorted((run / "test" / direction).glob("*.png"))
        assert len(generated) == (4 if direction == "A2B" else 5)
        assert all(Image.open(p).mode == "RGB" for p in generated)
