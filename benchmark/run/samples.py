"""Sample grids like the paper's Figure 4: input, translation, reconstruction, both ways.

The inputs are the first test images of each domain, fixed for the whole run, so grids taken
at different iterations (and of different variants) show the same scenes.

`report_sample_rows` serves the report's grids (benchmark/report/sample_grid.py): the store
keeps only generated images, so the input row and the ground-truth row are read back from the
dataset's test split here, at the evaluation resolution the generated images were saved at.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from benchmark import atomic
from benchmark.config import directions_of
from benchmark.data import open_domains
from benchmark.data.iteration import TestDomain
from benchmark.data.transforms import to_image
from benchmark.run.real_images import read_rgb_resized


def sample_batch(cfg, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `trainer.num_samples` test images of X and of Y at the training resolution."""
    pair = open_domains(cfg.dataset, cfg.dataset.test_split)
    n = int(cfg.trainer.num_samples)
    size = int(cfg.data.crop_size)
    xs, ys = TestDomain(pair.X, size), TestDomain(pair.Y, size)
    x = torch.stack([xs[i]["image"] for i in range(min(n, len(xs)))])
    y = torch.stack([ys[i]["image"] for i in range(min(n, len(ys)))])
    return x.to(device), y.to(device)


def save_sample_grid(model, x: torch.Tensor, y: torch.Tensor, path: Path) -> Image.Image:
    """One row per entry of `model.sample_rows` (x, G(x), F(G(x)), y, F(y), G(F(y))), saved
    to `path` and returned (the live curves show it too)."""
    was_training = model.training
    model.eval()
    try:
        rows = model.sample_rows(x, y)
    finally:
        model.train(was_training)
    n = min(len(t) for _, t in rows)
    tiles = torch.cat([t[:n].float().cpu() for _, t in rows])
    grid = make_grid(tiles, nrow=n, padding=2, pad_value=1.0)
    image = to_image(grid)
    atomic.save_image(image, path)
    return image


def report_sample_rows(cfg, direction: str, stems) -> dict[str, dict[str, Image.Image]]:
    """{"input": {stem: image}, "ground truth": {stem: image}} for the test images `stems` of
    `direction` ('<source>2<target>'), at `evaluation.resolution`.

    Generated images are named after their source image's stem; on an aligned dataset the
    source's i-th image and the target's i-th image show the same scene, so the target's i-th
    image is the ground truth. An unaligned dataset has no ground truth: the row is left out.
    """
    names = directions_of(cfg)
    if direction not in names.values():
        raise ValueError(f"direction {direction!r} is not one of this dataset's "
                         f"{sorted(names.values())}")
    pair = open_domains(cfg.dataset, cfg.dataset.test_split)
    source, target = pair.oriented("X2Y" if direction == names["X2Y"] else "Y2X")
    size = int(cfg.evaluation.resolution)
    index = {source.stem(i): i for i in range(len(source))}
    wanted = [s for s in stems if s in index]
    rows = {"input": {s: read_rgb_resized(source, index[s], size) for s in wanted}}
    if pair.aligned:
        rows["ground truth"] = {s: read_rgb_resized(target, index[s], size) for s in wanted}
    return rows
