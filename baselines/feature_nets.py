"""Frozen ImageNet feature networks for the feature-loss baseline, and where their weights come from.

Two networks:
* `vgg16` — VGG-16 up to relu4_2 (the paper's choice), torchvision's ImageNet weights
  (`VGG16_Weights.IMAGENET1K_V1`), ImageNet mean/std normalisation.
* `inception` — the FID Inception (torch-fidelity's `FeatureExtractorInceptionV3`, the
  network every FID number of the suite uses), read at a spatial mixed layer (Mixed_6e by
  default, the mid-level analogue of relu4_2) or at the 2048-d pool. torch-fidelity's own
  `forward` only takes uint8 images, which would cut the gradient to G, so `InceptionFeatures`
  runs its layers itself on float input mapped from [-1, 1] to its 0..255 scale (hand-written
  because no library exposes a differentiable float entry point; the TF-compatible bilinear
  resize and the (x − 128)/128 scaling are torch-fidelity's own, the size is a config key).

Weights are never replaced by random ones. `locate_weights` looks only at the disk (an
explicit `model.feature_net.weights_path`, else torch's hub cache); `fetch_weights` — called
before training — may download into that cache, but first probes the host with a short
timeout in a daemon thread (the idea of evaluation/fid.py's probe; DNS ignores socket
timeouts), so an offline machine fails in seconds with one line naming the option, not after
a hang.
"""
from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

OPTION = "model.feature_net.weights_path"
ARCHS = ("vgg16", "inception")
#: torchvision's VGG-16 `features` indices: 20 is relu4_2, so [:21] ends there.
VGG_LAYERS = {"relu3_3": 16, "relu4_2": 21, "relu4_3": 23, "relu5_3": 30}
#: torch-fidelity's Inception children in forward order, and the names a feature may be read at.
INCEPTION_SEQUENCE = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1",
                      "Conv2d_3b_1x1", "Conv2d_4a_3x3", "MaxPool_2", "Mixed_5b", "Mixed_5c",
                      "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                      "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool")
INCEPTION_LAYERS = (*INCEPTION_SEQUENCE[7:-1], "pool")


class FeatureWeightsUnavailable(RuntimeError):
    """The feature network's weights are neither on disk nor downloadable: the run cannot train."""


class FeatureWeightsError(ValueError):
    """A weights file was named (or cached) but is not the network's."""


def weights_url(arch: str) -> str:
    if arch == "vgg16":
        from torchvision.models import VGG16_Weights
        return VGG16_Weights.IMAGENET1K_V1.url
    if arch == "inception":
        from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
        return URL_INCEPTION_V3
    raise ValueError(f"model.feature_net.arch={arch!r}: valid architectures are {', '.join(ARCHS)}")


def cached_path(arch: str) -> Path:
    """Where torch.hub (and so torchvision and torch-fidelity) caches the weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights_url(arch)).path)


def locate_weights(arch: str, weights_path: str | None) -> Path | None:
    """The weights file on this disk, or None. A named file that does not exist is an error."""
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise FeatureWeightsError(f"{OPTION}={path} does not exist: point it at "
                                      f"{cached_path(arch).name} ({weights_url(arch)})")
        return path
    cached = cached_path(arch)
    return cached if cached.is_file() else None


def probe(url: str, timeout_s: float) -> str | None:
    """None if `url` answers a HEAD request within `timeout_s`, else why not."""
    result: list[str | None] = [f"timed out after {timeout_s:.0f} s"]

    def run() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
                result[0] = None
        except urllib.error.HTTPError as exc:
            result[0] = f"HTTP {exc.code}"
        except Exception as exc:  # URLError, socket and SSL errors
            result[0] = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    return result[0]


def unavailable_reason(arch: str, why: str) -> str:
    return (f"{arch} feature-loss weights not cached at {cached_path(arch)} and "
            f"{urlparse(weights_url(arch)).hostname} unreachable ({why}): download "
            f"{cached_path(arch).name} on a networked machine and pass {OPTION}=/path/to/it")


def fetch_weights(arch: str, weights_path: str | None, timeout_s: float = 5.0) -> Path:
    """The weights file, downloading it into the hub cache if needed; fails fast when offline."""
    path = locate_weights(arch, weights_path)
    if path is not None:
        return path
    url = weights_url(arch)
    why = probe(url, timeout_s)
    if why is not None:
        raise FeatureWeightsUnavailable(unavailable_reason(arch, why))
    target = cached_path(arch)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(target), progress=False)
    return target


def _read_state(path: Path, arch: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors come in many types
        raise FeatureWeightsError(f"{OPTION}: {path} does not load as {arch} weights "
                                  f"({type(exc).__name__}); expected {cached_path(arch).name}") from exc
    if not isinstance(state, dict):
        raise FeatureWeightsError(f"{OPTION}: {path} holds no state dict; expected {cached_path(arch).name}")
    return state


class VGGFeatures(nn.Module):
    """VGG-16 `features` up to `layer` (relu4_2), on images in [-1, 1]."""

    def __init__(self, layer: str = "relu4_2") -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        if layer not in VGG_LAYERS:
            raise ValueError(f"model.feature_net.layer={layer!r}: VGG-16 layers are {', '.join(VGG_LAYERS)}")
        self.features = make_layers(cfgs["D"], batch_norm=False)[:VGG_LAYERS[layer]]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def load_weights(self, path: Path) -> None:
        """torchvision's full VGG-16 file (or its `features.*` part); only the used layers load."""
        state = _read_state(path, "vgg16")
        own = self.features.state_dict()
        picked = {k: state.get(f"features.{k}") for k in own}
        missing = [k for k, v in picked.items() if v is None or v.shape != own[k].shape]
        if missing:
            raise FeatureWeightsError(f"{OPTION}: {path} is not VGG-16 (features.{missing[0]} missing "
                                      f"or of another shape); expected {cached_path('vgg16').name}")
        self.features.load_state_dict(picked)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(((images + 1) / 2 - self.mean) / self.std)


class InceptionFeatures(nn.Module):
    """torch-fidelity's FID Inception read at `layer`, differentiable, on images in [-1, 1]."""

    def __init__(self, weights: Path, layer: str = "Mixed_6e", input_size: int = 299) -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        if layer not in INCEPTION_LAYERS:
            raise ValueError(f"model.feature_net.layer={layer!r}: Inception layers are "
                             f"{', '.join(INCEPTION_LAYERS)}")
        _read_state(weights, "inception")  # a clear error before torch-fidelity's own load
        try:
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                   feature_extractor_weights_path=str(weights))
        except RuntimeError as exc:
            raise FeatureWeightsError(f"{OPTION}: {weights} is not torch-fidelity's Inception "
                                      f"({str(exc).splitlines()[0][:120]})") from exc
        last = "AvgPool" if layer == "pool" else layer
        self.sequence = INCEPTION_SEQUENCE[:INCEPTION_SEQUENCE.index(last) + 1]
        self.input_size = int(input_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

        x = (images.float() + 1) * 127.5  # torch-fidelity's 0..255 scale, kept float for gradients
        x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(self.input_size, self.input_size),
                                                      align_corners=False)
        x = (x - 128) / 128
        for name in self.sequence:
            x = getattr(self.net, name)(x)
        return x


def build_feature_net(arch: str, weights: Path, *, layer: str | None, input_size: int) -> nn.Module:
    """The frozen, eval-mode feature network with its pretrained weights loaded."""
    if arch == "vgg16":
        net = VGGFeatures(layer or "relu4_2")
        net.load_weights(weights)
    elif arch == "inception":
        net = InceptionFeatures(weights, layer or "Mixed_6e", input_size)
    else:
        raise ValueError(f"model.feature_net.arch={arch!r}: valid architectures are {', '.join(ARCHS)}")
    net.requires_grad_(False)
    return net.eval()
