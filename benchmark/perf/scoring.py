"""`benchmark perf --eval`: images/s of what scoring runs — G, the segmentation evaluator, FID features.

Split from benchmark/perf/cli.py (training-step timing) so each file has one job.
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from benchmark.perf.probes import load1, time_calls
from benchmark.perf.settings import EvalSizes, PerfSettings


def _inception_random(tmp: Path):
    """torch-fidelity's inception-v3-compat with random weights: nothing is downloaded.

    The extractor loads its weights in __init__, so a skeleton whose load is a no-op is built
    first, its (randomly initialised) state_dict saved, and the real extractor loads that file.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: ARG002
            return None

    empty, weights = tmp / "empty.pth", tmp / "inception-random.pth"
    torch.save({}, empty)
    torch.save(_Skeleton("inception-v3-compat", ["2048"],
                         feature_extractor_weights_path=str(empty)).state_dict(), weights)
    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                       feature_extractor_weights_path=str(weights))


def _translate(sizes: EvalSizes, images: torch.Tensor, device: torch.device, _tmp: Path):
    from models.networks import ResnetGenerator

    torch.manual_seed(0)
    net = ResnetGenerator(3, 3, base_filters=sizes.filters, n_blocks=sizes.blocks).to(device).eval()
    return (lambda: net(images)), f"ResnetGenerator {sizes.blocks} blocks, {sizes.filters} filters"


def _segment(_sizes: EvalSizes, images: torch.Tensor, device: torch.device, _tmp: Path):
    """The evaluator's network as evaluation/segmenter.py builds it (its default architecture)."""
    from evaluation.segmenter import DEFAULT_ARCH, build_segmentation_network

    torch.manual_seed(0)
    net = build_segmentation_network(DEFAULT_ARCH).to(device).eval()
    return (lambda: net(images)), f"evaluation.segmenter.build_segmentation_network({DEFAULT_ARCH!r})"


def _fid_features(_sizes: EvalSizes, images: torch.Tensor, device: torch.device, tmp: Path):
    """The real network where it is (or can be provisioned), as evaluation uses it."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from evaluation.fid import find_inception_weights

    weights, _ = find_inception_weights(None, timeout_s=3)
    net = (FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                       feature_extractor_weights_path=str(weights.path))
           if weights is not None else _inception_random(tmp)).to(device)
    as_uint8 = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return (lambda: net(as_uint8)), (f"torch-fidelity inception-v3-compat "
                                     f"({'2015-12-05 weights' if weights else 'random weights'}), "
                                     "upsampled to 299² inside")


TASKS = (("translate with G", _translate), ("segment (evaluator)", _segment),
         ("FID features", _fid_features))


def eval_lines(settings: PerfSettings) -> list[dict]:
    """Images/s of the three things evaluation runs: G, the segmenter, FID features (fp32)."""
    device, sizes = settings.device, settings.eval_sizes
    gen = torch.Generator().manual_seed(2)
    images = (torch.rand(sizes.batch, 3, sizes.size, sizes.size, generator=gen) * 2 - 1).to(device)
    out = []
    with tempfile.TemporaryDirectory(prefix="perf-inception-") as tmp:
        for task, make in TASKS:
            fn, model_name = make(sizes, images, device, Path(tmp))
            load = load1()
            with torch.inference_mode():
                for _ in range(max(1, settings.warmup)):
                    fn()
                times = time_calls(fn, settings.iterations, device)
            s = statistics.median(times)
            out.append({"task": task, "model": model_name, "input": f"{sizes.size}², batch {sizes.batch}",
                        "precision": "fp32", "s_per_batch": s, "images_per_s": sizes.batch / s,
                        "times": times, "load_1min": load})
            del fn
    return out
