"""The top of the data package: a dataset config's `source` -> the function that opens it.

Each source module depends only on the base classes (domains.py); only this module knows the
sources, so adding one to the suite is a new module plus one line in SOURCES, and nothing
below depends on a source. Every pair leaves through the same checks (checks.py), whatever
its source.

A user's own folder layout needs neither: `source: mypkg.data:open_layout` names it by import
path (benchmark/import_path.py), and every process that opens the dataset imports it. The
contract of a source, built-in or not, is `source(dataset_cfg, split) -> DomainPair`:

* `dataset_cfg` is the dataset's config (name, root, a_domain, b_domain, x_domain,
  label_domain, train_split, test_split and any key of the user's own YAML); read it with
  `cfg_get` (domains.py) and map `split` ("train", "test") with `resolve_split`;
* it returns `DomainPair(X, Y, aligned, split)`: X and Y are `Domain`s, in the config's
  orientation (`domain_names(cfg).order(side_a, side_b)`), `aligned` only where X[i] and Y[i]
  are the same scene (a paired model needs that), `split` the folder name read;
* a file-based side is a `FileListDomain(name, is_label_map, paths)` (one image file per
  item, in the order given), so its headers are checked and its non-RGB images converted like
  a shipped source's; the images under `dataset.root` are fingerprinted into the run's
  identity (benchmark/data/fingerprint.py), so keep the dataset under its root; a side drawn
  on the fly subclasses `Domain` (len, stem, load -> RGB PIL image, describe);
* a missing folder raises `not_found(cfg, what, layout)` (one line naming the folder and the
  expected layout). A class may be named too: it is called the same way and must return (or
  be) a DomainPair.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmark.import_path import ImportPathError, is_import_path, resolve

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


def source_function(dataset_cfg: Any) -> Callable[[Any, str], DomainPair]:
    """The function (or class) `dataset.source` names: a built-in source, or an import path."""
    source = cfg_get(dataset_cfg, "source", None)
    if source in SOURCES:
        return SOURCES[source]
    if is_import_path(source):
        opener = resolve(str(source), "dataset.source")
        if not callable(opener):
            raise ImportPathError(f"dataset.source={source!r} is a {type(opener).__name__}, not a function or "
                                  "class: name a callable taking (dataset_cfg, split) and returning a DomainPair")
        return opener
    raise DatasetConfigError(f"dataset {cfg_get(dataset_cfg, 'name', '?')}: unknown source {source!r}; use one "
                             f"of {', '.join(SOURCES)}, or your own by import path, e.g. "
                             "dataset.source=mypkg.data:open_layout")


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
    pair = source_function(dataset_cfg)(dataset_cfg, split)
    if not isinstance(pair, DomainPair):
        raise DatasetConfigError(f"dataset.source={source!r} returned a {type(pair).__name__}, not a "
                                 "benchmark.data.DomainPair(X, Y, aligned, split): return one (see "
                                 "benchmark/data/registry.py)")
    check_headers(pair, name=f"dataset {cfg_get(dataset_cfg, 'name', source)}")
    check_label_samples(pair)
    return pair
