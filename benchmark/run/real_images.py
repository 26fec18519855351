"""Real images at the evaluation resolution: what generated images are compared with.

A dataset image goes through the same test transform as a model's input, resized to
`evaluation.resolution`: the ground-truth colour maps that the snapping rule is checked on, the
real folders FID/KID score generated images against (written once per store as PNGs, so every
run of a suite shares them and their cached features; keyed by the dataset's content
fingerprint, so two folders of one name, or images replaced in place, never share them), and
the input / ground-truth rows of the report's sample grids.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from benchmark import atomic
from benchmark.data.domains import Domain
from benchmark.data.transforms import test_transform, to_image
from benchmark.run.evaluation_settings import EvaluationSettings


def read_rgb_resized(domain: Domain, i: int, resolution: int) -> Image.Image:
    """Image `i` of a domain, test-transformed at `resolution` (label maps resized as label maps)."""
    return to_image(test_transform(domain.load(i), size=resolution, is_label_map=domain.is_label_map))


def image_folder(settings: EvaluationSettings, domain: Domain, split: str, indices: list[int]) -> Path:
    """Images `indices` of a domain as PNGs at the evaluation resolution, written once."""
    n = len(indices)
    whole = indices == list(range(n))
    tag = f"{n}" if whole else f"{n}of{len(domain)}"
    folder = settings.real_dir / f"{split}-{domain.name}-{settings.resolution}px-{tag}"
    if not (folder / ".complete").exists():  # written whole, then swapped in: never a partial set
        with atomic.fresh_folder(folder) as new:
            for i in indices:
                atomic.save_image(read_rgb_resized(domain, i, settings.resolution), new / f"{domain.stem(i)}.png")
            atomic.write_text(new / ".complete", f"{n}\n")
    return folder


def real_image_folder(settings: EvaluationSettings, domain: Domain) -> Path:
    """The first `evaluation.max_images` (all) test images of a domain."""
    limit = settings.max_images
    n = len(domain) if limit is None else min(limit, len(domain))
    return image_folder(settings, domain, settings.test_split, list(range(n)))
