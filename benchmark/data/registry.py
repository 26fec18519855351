"""The top of the data package: a dataset config's `source` -> the module that opens it.

Each source module depends only on the base classes (domains.py); only this module knows the
sources, so adding one is a new module plus one line in SOURCES, and nothing below depends
on a source. Every pair leaves through the same checks (checks.py), whatever its source.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import cityscapes_native, pix2pix, prepared, synthetic, unaligned
from .checks import check_headers, check_label_samples
from .domains import DomainPair, cfg_get
from .errors import DatasetConfigError

SOURCES: dict[str, Callable[[Any, str], DomainPair]] = {
    "pix2pix": pix2pix.open_pix2pix,
    "unaligned": unaligned.open_unaligned,
    "cityscapes_native": cityscapes_native.open_cityscapes_native,
    "prepared": prepared.open_prepared,
    "synthetic": synthetic.open_synthetic,
}


def open_domains(dataset_cfg: Any, split: str) -> DomainPair:
    """Open split `split` ("train", "test" or a folder name) of the dataset described by
    `dataset_cfg` (keys: name, source, root, a_domain, b_domain, x_domain, label_domain,
    train_split, test_split; synthetic: train_count, test_count, seed, size).

    Every file's header is checked (readable, size, aspect) and a few label maps are snapped, so
    a bad image fails here, with the list of offenders, not hours into training; images that
    are not RGB (greyscale, palette, CMYK, 16-bit, alpha) are counted in one line on stderr and
    converted when they load (rgb.py).
    """
    source = cfg_get(dataset_cfg, "source", None)
    if source not in SOURCES:
        raise DatasetConfigError(f"dataset {cfg_get(dataset_cfg, 'name', '?')}: unknown "
                                 f"source {source!r}; use one of {', '.join(SOURCES)}")
    pair = SOURCES[source](dataset_cfg, split)
    check_headers(pair, name=f"dataset {cfg_get(dataset_cfg, 'name', source)}")
    check_label_samples(pair)
    return pair
