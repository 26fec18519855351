"""Sample grids like the paper's Figure 4: input, translation, reconstruction, both ways.

The inputs are the first test images of each domain, fixed for the whole run, so grids taken
at different iterations (and of different variants) show the same scenes.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

from benchmark import atomic
from benchmark.data import open_domains
from benchmark.data.iteration import TestDomain
from benchmark.data.transforms import to_image


def sample_batch(cfg, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `trainer.num_samples` test images of X and of Y at the training resolution."""
    pair = open_domains(cfg.dataset, cfg.dataset.test_split)
    n = int(cfg.trainer.num_samples)
    size = int(cfg.data.crop_size)
    xs, ys = TestDomain(pair.X, size), TestDomain(pair.Y, size)
    x = torch.stack([xs[i]["image"] for i in range(min(n, len(xs)))])
    y = torch.stack([ys[i]["image"] for i in range(min(n, len(ys)))])
    return x.to(device), y.to(device)


def save_sample_grid(model, x: torch.Tensor, y: torch.Tensor, path: Path) -> None:
    """One row per entry of `model.sample_rows` (x, G(x), F(G(x)), y, F(y), G(F(y)))."""
    was_training = model.training
    model.eval()
    try:
        rows = model.sample_rows(x, y)
    finally:
        model.train(was_training)
    n = min(len(t) for _, t in rows)
    tiles = torch.cat([t[:n].float().cpu() for _, t in rows])
    grid = make_grid(tiles, nrow=n, padding=2, pad_value=1.0)
    atomic.save_image(to_image(grid), path)
