"""FID/KID in the benchmark: the settings a run is scored with, and the sanity rows.

`evaluation.fid` in the config:
  enabled, feature_extractor, weights_path (null: torch hub's cache, torch-fidelity's download,
  else the registry package, converted once: evaluation/inception_weights.py),
  kid_subset_size (default 100: at most half the set, so kid_std is a real spread; see
  evaluation/fid.py), kid_subsets (default 100).

The evaluation hash carries the sha256 of the weights FID would use (or "unavailable"), so a run
scored without weights is re-scored, never retrained, once weights are there.

Sanity rows, computed with the same pipeline as the runs' scores (same resolution, same real
test folder, same feature cache), for every direction whose target is a photo domain:
  * "fid_floor": the real training images of the target domain (as many as the test set,
    evenly spaced) scored as if generated: the floor a perfect model could reach.
  * "identity": the source test images themselves scored as the translation: what doing
    nothing scores.
JSON shape (stored with the reference rows, see benchmark/run/evaluate.py reference_rows):
  {"fid_floor": {direction: ROW}, "identity": {direction: ROW}}, where ROW is what a run's
  direction holds for FID/KID: {"fid", "kid", "kid_std", "kid_subset_size", "kid_subsets",
  "num_generated", "num_real", "weights_sha256", "what": one line saying which images}, or
  {"unavailable": {"fid": reason, "kid": reason}, "what": ...}.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image

from benchmark import atomic
from benchmark.data.domains import Domain
from benchmark.data.transforms import test_transform, to_image
from evaluation import fid
from evaluation.labels import TRAIN19, check_snap_rule

FID_KEYS = ("fid", "kid", "kid_std", "kid_subset_size", "kid_subsets", "num_generated", "num_real", "weights_sha256")


def snap_rule(cfg: DictConfig) -> str:
    """evaluation.snap_rule: how generated label maps become classes (train19 unless set)."""
    return check_snap_rule(str(cfg.evaluation.get("snap_rule", TRAIN19)))


def kid_settings(cfg: DictConfig) -> tuple[int, int]:
    """(kid_subset_size wanted, kid_subsets) from evaluation.fid, with the documented defaults."""
    f = cfg.evaluation.fid
    return int(f.get("kid_subset_size", fid.KID_SUBSET_SIZE)), int(f.get("kid_subsets", fid.KID_SUBSETS))


def weights_identity(cfg: DictConfig) -> str:
    """What enters the evaluation hash for the FID network: its sha256, or why there is none."""
    f = cfg.evaluation.fid
    if not f.enabled:
        return "disabled"
    if f.feature_extractor == fid.INCEPTION_EXTRACTOR:
        return fid.weights_identity(f.weights_path)
    return fid.iw.file_sha256(Path(f.weights_path)) if f.weights_path else fid.UNAVAILABLE


def prepare(cfg: DictConfig) -> tuple[bool, str]:
    """Before scoring: make the weights available (provisioning them if needed); (ok, reason)."""
    f = cfg.evaluation.fid
    if not f.enabled:
        return False, "disabled by evaluation.fid.enabled=false"
    if f.feature_extractor != fid.INCEPTION_EXTRACTOR:
        return True, f"feature extractor {f.feature_extractor}"
    return fid.check_inception_weights(f.weights_path)


def score(cfg: DictConfig, generated: Path, real: Path, device) -> dict:
    """A direction's FID/KID fields: FID_KEYS, or {"unavailable": {"fid": why, "kid": why}}."""
    wanted, subsets = kid_settings(cfg)
    fk = fid.compute_fid_kid(generated, real, weights_path=cfg.evaluation.fid.weights_path, device=device,
                             feature_extractor=cfg.evaluation.fid.feature_extractor,
                             kid_subset_size_wanted=wanted, kid_subsets=subsets,
                             cache_dir=Path(cfg.store_dir) / "_fid_cache")
    if "unavailable" in fk:
        return {"unavailable": {"fid": fk["unavailable"], "kid": fk["unavailable"]}}
    return {k: fk[k] for k in FID_KEYS}


def unavailable(reason: str) -> dict:
    return {"unavailable": {"fid": reason, "kid": reason}}


# -- real image folders --------------------------------------------------------------------------
def read_rgb_resized(domain: Domain, i: int, resolution: int) -> Image.Image:
    return to_image(test_transform(domain.load(i), size=resolution, is_label_map=domain.is_label_map))


def image_folder(cfg: DictConfig, domain: Domain, split: str, resolution: int, indices: list[int]) -> Path:
    """Images `indices` of a domain as PNGs at the evaluation resolution, written once."""
    n = len(indices)
    whole = indices == list(range(n))
    tag = f"{n}" if whole else f"{n}of{len(domain)}"
    folder = Path(cfg.store_dir) / "_real" / cfg.dataset.name / f"{split}-{domain.name}-{resolution}px-{tag}"
    if not (folder / ".complete").exists():
        for i in indices:
            atomic.save_image(read_rgb_resized(domain, i, resolution), folder / f"{domain.stem(i)}.png")
        atomic.write_text(folder / ".complete", f"{n}\n")
    return folder


def real_image_folder(cfg: DictConfig, domain: Domain, resolution: int, limit: int | None) -> Path:
    """The first `limit` (all) test images of a domain: what generated images are scored against."""
    n = len(domain) if limit is None else min(limit, len(domain))
    return image_folder(cfg, domain, str(cfg.dataset.test_split), resolution, list(range(n)))


def evenly_spaced(total: int, n: int) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(0, total - 1, min(n, total))})


# -- sanity rows -----------------------------------------------------------------------------------
def sanity_rows(cfg: DictConfig, test_pair, train_pair, names: dict[str, str], *,
                device: torch.device) -> dict:
    """{"fid_floor": {direction: ROW}, "identity": {direction: ROW}} (module docstring)."""
    resolution = int(cfg.evaluation.resolution)
    limit = cfg.evaluation.get("max_images")
    ok, reason = prepare(cfg)
    rows: dict[str, dict] = {"fid_floor": {}, "identity": {}}
    for direction, name in names.items():
        source, target = test_pair.oriented(direction)
        if target.is_label_map:
            continue  # label maps are no photo domain: no FID
        train_target = train_pair.Y if direction == "X2Y" else train_pair.X
        real = real_image_folder(cfg, target, resolution, limit) if ok else None
        n = min(len(target), limit) if limit is not None else len(target)
        floor_what = (f"{min(n, len(train_target))} real {cfg.dataset.train_split} {target.name} images "
                      f"(evenly spaced) vs {n} real {cfg.dataset.test_split} ones")
        ident_what = f"the {cfg.dataset.test_split} {source.name} inputs as the translation, untranslated"
        if not ok:
            rows["fid_floor"][name] = {**unavailable(reason), "what": floor_what}
            rows["identity"][name] = {**unavailable(reason), "what": ident_what}
            continue
        train = image_folder(cfg, train_target, str(cfg.dataset.train_split), resolution,
                             evenly_spaced(len(train_target), n))
        inputs = real_image_folder(cfg, source, resolution, limit)
        rows["fid_floor"][name] = {**score(cfg, train, real, device), "what": floor_what}
        rows["identity"][name] = {**score(cfg, inputs, real, device), "what": ident_what}
    return rows
