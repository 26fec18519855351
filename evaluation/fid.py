"""FID and KID between a folder of generated images and a folder of real ones (torch-fidelity).

torch-fidelity downloads its Inception weights on first use; on a machine without network that
download either fails late or hangs. So before any work `check_inception_weights` decides,
within a few seconds, whether the weights are usable (a given file, torch's hub cache, or a
reachable download host). If they are not, `compute_fid_kid` returns
`{"unavailable": reason}` naming the file and the option to pass it: never a hang, never a
made-up number. A weights file the user named that does not load is an error, not
"unavailable": the user asked for it and must fix it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

import numpy as np
import torch

INCEPTION_EXTRACTOR = "inception-v3-compat"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")  # what torch-fidelity globs in a folder
#: Parameters whose shapes identify torch-fidelity's Inception (a wrong file fails here, early).
_INCEPTION_SIGNATURE = {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "fc.weight": (1008, 2048)}


class InceptionWeightsError(RuntimeError):
    """A weights file was named (or cached) but is not torch-fidelity's Inception."""


def _inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    return URL_INCEPTION_V3


def inception_weights_name() -> str:
    """`weights-inception-2015-12-05-6726825d.pth`, as torch-fidelity names it."""
    return os.path.basename(urlparse(_inception_url()).path)


def cached_inception_path() -> Path:
    """Where torch-fidelity's download lands: torch.hub.load_state_dict_from_url's cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / inception_weights_name()


def _validate_weights(path: Path, how: str) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors come in many types
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise InceptionWeightsError(
            f"{how} {path} does not load ({type(exc).__name__}: {first_line}); expected torch-fidelity's "
            f"{inception_weights_name()} (from {_inception_url()})") from exc
    for key, shape in _INCEPTION_SIGNATURE.items():
        got = tuple(state[key].shape) if isinstance(state, dict) and key in state else None
        if got != shape:
            raise InceptionWeightsError(
                f"{how} {path} is not torch-fidelity's Inception ({key}: expected shape {shape}, got {got}); "
                f"expected {inception_weights_name()} (from {_inception_url()})")


def _probe(url: str, timeout_s: float) -> str | None:
    """None if `url` answers a HEAD request within `timeout_s`, else why not. Runs in a daemon
    thread because DNS lookups ignore socket timeouts and could otherwise block for minutes."""
    result: list[str | None] = ["timed out after %.0f s" % timeout_s]

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


def check_inception_weights(weights_path: str | os.PathLike | None, timeout_s: float = 5.0) -> tuple[bool, str]:
    """(ok, reason): can FID/KID run without hanging?

    ok if `weights_path` loads, or torch-fidelity's cached file exists, or its download host
    answers within `timeout_s`. Raises InceptionWeightsError for a named or cached file that
    is broken (the fix is to replace that file, which "unavailable" would hide).
    """
    name = inception_weights_name()
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise InceptionWeightsError(f"evaluation.fid.weights_path={path} does not exist: point it at {name}")
        _validate_weights(path, "evaluation.fid.weights_path")
        return True, f"Inception weights from {path}"
    cached = cached_inception_path()
    if cached.is_file():
        _validate_weights(cached, "cached Inception weights")
        return True, f"Inception weights cached at {cached}"
    url = _inception_url()
    why = _probe(url, timeout_s)
    if why is None:
        return True, f"Inception weights will be downloaded from {url} to {cached}"
    host = urlparse(url).hostname
    return False, (f"Inception weights not cached at {cached} and {host} unreachable ({why}): download "
                   f"{name} on a networked machine and pass evaluation.fid.weights_path=/path/to/it")


def _list_images(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if len(files) < 2:
        raise ValueError(f"{what} folder {folder} holds {len(files)} images; FID/KID need at least 2")
    return files


def _real_cache_name(files: list[Path], weights: Path | None, extractor: str, layer: str | None) -> str:
    """Cache key for the real set's features: its files (name, size, mtime) and the weights."""
    h = hashlib.sha256(f"{extractor}|{layer}".encode())
    for p in files + ([weights] if weights else []):
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return "real-" + h.hexdigest()[:16]


def compute_fid_kid(generated_dir: str | os.PathLike, real_dir: str | os.PathLike, *,
                    weights_path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                    feature_extractor: str = INCEPTION_EXTRACTOR, feature_layer: str | None = None,
                    batch_size: int = 32,
                    cache_dir: str | os.PathLike | None = None, timeout_s: float = 5.0,
                    progress: bool = False) -> dict[str, Any]:
    """FID and KID of two image folders, or {"unavailable": reason}.

    KID's subset size is min(1000, n_generated, n_real) so small test sets still work.
    `cache_dir` keeps the real folder's features between calls (the suite scores many runs
    against one real test set). `feature_layer` defaults to the extractor's own choice
    ("2048", the pool features every published FID uses); smaller layers are for quick tests.
    """
    import torch_fidelity

    gen_files = _list_images(Path(generated_dir), "generated-images")
    real_files = _list_images(Path(real_dir), "real-images")
    if feature_extractor == INCEPTION_EXTRACTOR:
        ok, reason = check_inception_weights(weights_path, timeout_s=timeout_s)
        if not ok:
            return {"unavailable": reason}
        if weights_path is None and cached_inception_path().is_file():
            weights_path = cached_inception_path()
    elif weights_path is None:
        # other extractors download their own weights with no timeout: refuse rather than hang
        return {"unavailable": f"feature extractor {feature_extractor!r} needs its weights file: "
                               "pass evaluation.fid.weights_path=/path/to/it"}
    weights = Path(weights_path) if weights_path else None
    device = torch.device(device)
    kid_subset_size = min(1000, len(gen_files), len(real_files))
    kwargs: dict[str, Any] = dict(
        input1=str(generated_dir), input2=str(real_dir), fid=True, kid=True,
        kid_subset_size=kid_subset_size, feature_extractor=feature_extractor,
        feature_extractor_weights_path=str(weights) if weights else None,
        cuda=device.type == "cuda", batch_size=batch_size, verbose=progress,
        save_cpu_ram=device.type != "cuda",  # no loader worker processes on a CPU-only run
        samples_find_deep=False, cache=cache_dir is not None)
    if feature_layer is not None:
        kwargs.update(feature_layer_fid=str(feature_layer), feature_layer_kid=str(feature_layer))
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        kwargs.update(cache_root=str(cache_dir),
                      input2_cache_name=_real_cache_name(real_files, weights, feature_extractor, feature_layer))
    try:
        if device.type == "cuda":
            with torch.cuda.device(device):
                metrics = torch_fidelity.calculate_metrics(**kwargs)
        else:
            metrics = torch_fidelity.calculate_metrics(**kwargs)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return {"unavailable": f"downloading {feature_extractor} weights failed ({exc}): pass "
                               "evaluation.fid.weights_path=/path/to/it"}
    return {
        "fid": float(metrics["frechet_inception_distance"]),
        "kid": float(metrics["kernel_inception_distance_mean"]),
        "kid_std": float(metrics["kernel_inception_distance_std"]),
        "kid_subset_size": kid_subset_size,
        "num_generated": len(gen_files),
        "num_real": len(real_files),
        "feature_extractor": feature_extractor,
        "feature_layer": str(feature_layer) if feature_layer is not None else (
            "2048" if feature_extractor == INCEPTION_EXTRACTOR else "default"),
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
