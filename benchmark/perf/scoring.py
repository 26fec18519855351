"""`benchmark perf --eval`: images/s of what scoring runs — G, the segmentation evaluator, FID features.

Split from benchmark/perf/cli.py (training-step timing) so each file has one job.
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from benchmark.perf.probes import load1, time_calls


def _segmentation_network(num_classes: int = 19):
    """The suite's evaluator network if evaluation/segmenter.py offers it, else torchvision's."""
    try:
        from evaluation import segmenter
    except ImportError:
        segmenter = None
    if segmenter is not None:
        arch = getattr(getattr(segmenter, "SegmenterConfig", None), "arch", "lraspp_mobilenet_v3_large")
        for name in ("build_model", "build_segmentation_network"):
            build = getattr(segmenter, name, None)
            if build is not None:
                try:
                    return build(arch, num_classes), f"evaluation.segmenter.{name}({arch!r})"
                except (TypeError, ValueError, KeyError):
                    pass
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    return (lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes),
            "torchvision lraspp_mobilenet_v3_large")


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


def eval_lines(device: torch.device, args) -> list[dict]:
    """Images/s of the three things evaluation runs: G, the segmenter, FID features (fp32)."""
    size, batch = args.eval_size, args.eval_batch
    gen = torch.Generator().manual_seed(2)
    images = (torch.rand(batch, 3, size, size, generator=gen) * 2 - 1).to(device)

    def translate():
        from models.networks import ResnetGenerator

        torch.manual_seed(0)
        net = ResnetGenerator(3, 3, base_filters=args.eval_filters, n_blocks=args.eval_blocks)
        net = net.to(device).eval()
        return (lambda: net(images)), (f"ResnetGenerator {args.eval_blocks} blocks, "
                                       f"{args.eval_filters} filters")

    def segment():
        torch.manual_seed(0)
        net, name = _segmentation_network()
        net = net.to(device).eval()
        return (lambda: net(images)), name

    tmp = tempfile.TemporaryDirectory(prefix="perf-inception-")

    def fid_features():
        # the real network where it is (or can be provisioned), as evaluation uses it
        from evaluation.fid import find_inception_weights
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        weights, _ = find_inception_weights(None, timeout_s=3)
        net = (FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                           feature_extractor_weights_path=str(weights.path))
               if weights is not None else _inception_random(Path(tmp.name))).to(device)
        as_uint8 = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return (lambda: net(as_uint8)), (f"torch-fidelity inception-v3-compat "
                                         f"({'2015-12-05 weights' if weights else 'random weights'}), "
                                         "upsampled to 299² inside")

    tasks = (("translate with G", translate), ("segment (evaluator)", segment),
             ("FID features", fid_features))
    out = []
    try:
        for task, make in tasks:
            try:
                fn, model_name = make()
            except ImportError:
                continue  # the module is not installed or not written yet: skip the line
            load = load1()
            with torch.inference_mode():
                for _ in range(max(1, args.warmup)):
                    fn()
                times = time_calls(fn, args.iterations, device)
            s = statistics.median(times)
            out.append({"task": task, "model": model_name, "input": f"{size}², batch {batch}",
                        "precision": "fp32", "s_per_batch": s, "images_per_s": batch / s,
                        "times": times, "load_1min": load})
            del fn
    finally:
        tmp.cleanup()
    return out
