"""FID/KID in the benchmark: making the network available, a direction's scores, the sanity rows.

The settings a run is scored with (`evaluation.fid`) are `FidSettings` in
benchmark/run/evaluation_settings.py; the evaluation hash carries the sha256 of the weights FID
would use (or "unavailable"), so a run scored without weights is re-scored, never retrained,
once weights are there.

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

from benchmark.run.evaluation_settings import EvaluationSettings, FidSettings
from benchmark.run.real_images import image_folder, real_image_folder
from evaluation import fid

FID_KEYS = ("fid", "kid", "kid_std", "kid_subset_size", "kid_subsets", "num_generated", "num_real", "weights_sha256")


def prepare(settings: FidSettings) -> tuple[bool, str]:
    """Before scoring: make the weights available (provisioning them if needed); (ok, reason)."""
    if not settings.enabled:
        return False, "disabled by evaluation.fid.enabled=false"
    if settings.feature_extractor != fid.INCEPTION_EXTRACTOR:
        return True, f"feature extractor {settings.feature_extractor}"
    return fid.check_inception_weights(settings.weights_path)


def score(settings: FidSettings, generated: Path, real: Path, device) -> dict:
    """A direction's FID/KID fields: FID_KEYS, or {"unavailable": {"fid": why, "kid": why}}."""
    fk = fid.compute_fid_kid(generated, real, weights_path=settings.weights_path, device=device,
                             feature_extractor=settings.feature_extractor,
                             kid_subset_size_wanted=settings.kid_subset_size, kid_subsets=settings.kid_subsets,
                             cache_dir=settings.cache_dir)
    if "unavailable" in fk:
        return unavailable(fk["unavailable"])
    return {k: fk[k] for k in FID_KEYS}


def unavailable(reason: str) -> dict:
    return {"unavailable": {"fid": reason, "kid": reason}}


def evenly_spaced(total: int, n: int) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(0, total - 1, min(n, total))})


# -- sanity rows -----------------------------------------------------------------------------------
def sanity_rows(settings: EvaluationSettings, test_pair, train_pair, *, device: torch.device) -> dict:
    """{"fid_floor": {direction: ROW}, "identity": {direction: ROW}} (module docstring)."""
    limit = settings.max_images
    ok, reason = prepare(settings.fid)
    rows: dict[str, dict] = {"fid_floor": {}, "identity": {}}
    for direction, name in settings.directions.items():
        source, target = test_pair.oriented(direction)
        if target.is_label_map:
            continue  # label maps are no photo domain: no FID
        train_target = train_pair.Y if direction == "X2Y" else train_pair.X
        real = real_image_folder(settings, target) if ok else None
        n = min(len(target), limit) if limit is not None else len(target)
        floor_what = (f"{min(n, len(train_target))} real {settings.train_split} {target.name} images "
                      f"(evenly spaced) vs {n} real {settings.test_split} ones")
        ident_what = f"the {settings.test_split} {source.name} inputs as the translation, untranslated"
        if not ok:
            rows["fid_floor"][name] = {**unavailable(reason), "what": floor_what}
            rows["identity"][name] = {**unavailable(reason), "what": ident_what}
            continue
        train = image_folder(settings, train_target, settings.train_split, evenly_spaced(len(train_target), n))
        inputs = real_image_folder(settings, source)
        rows["fid_floor"][name] = {**score(settings.fid, train, real, device), "what": floor_what}
        rows["identity"][name] = {**score(settings.fid, inputs, real, device), "what": ident_what}
    return rows
