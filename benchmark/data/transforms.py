"""Image <-> tensor transforms with the paper code's augmentation: resize to load_size
(286, or 143 for 128 training), random crop crop_size, random horizontal flip, scale to [-1, 1].

Label maps are resized NEAREST so they keep palette colours (a bicubic label map would teach
the generator colours that are no class). All randomness comes from the caller's
torch.Generator, so a sample is a pure function of its seed: exact resume, and the same
batches with any number of DataLoader workers.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def _resample(is_label_map: bool) -> int:
    return Image.NEAREST if is_label_map else Image.BICUBIC


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 (3, H, W) in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous().div_(127.5).sub_(1.0)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """(3, H, W) (or (1, 3, H, W)) tensor in [-1, 1] -> uint8 RGB image; inverse of to_tensor."""
    t = tensor.detach()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"to_image expects a (3, H, W) tensor, got shape {tuple(tensor.shape)}")
    arr = ((t.float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).numpy(), mode="RGB")


def _draw_crop_flip(load_size: int, crop_size: int, flip: bool,
                    generator: torch.Generator) -> tuple[int, int, bool]:
    if crop_size > load_size:
        raise ValueError(f"crop_size {crop_size} is larger than load_size {load_size}; "
                         "set load_size >= crop_size (the paper: 286/256, 143/128)")
    top = int(torch.randint(load_size - crop_size + 1, (1,), generator=generator))
    left = int(torch.randint(load_size - crop_size + 1, (1,), generator=generator))
    flipped = bool(torch.rand(1, generator=generator) < 0.5) if flip else False
    return top, left, flipped


def _apply(img: Image.Image, load_size: int, crop_size: int, is_label_map: bool,
           top: int, left: int, flipped: bool) -> torch.Tensor:
    img = img.convert("RGB").resize((load_size, load_size), _resample(is_label_map))
    img = img.crop((left, top, left + crop_size, top + crop_size))
    if flipped:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(img)


def train_transform(img: Image.Image, *, load_size: int, crop_size: int, flip: bool,
                    is_label_map: bool, generator: torch.Generator) -> torch.Tensor:
    """Resize to load_size^2, random crop crop_size^2, random flip (p=0.5) -> [-1, 1]."""
    top, left, flipped = _draw_crop_flip(load_size, crop_size, flip, generator)
    return _apply(img, load_size, crop_size, is_label_map, top, left, flipped)


def paired_train_transform(img_x: Image.Image, img_y: Image.Image, *, load_size: int,
                           crop_size: int, flip: bool, is_label_map_x: bool,
                           is_label_map_y: bool, generator: torch.Generator
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The same crop and flip for both images of an aligned pair (pix2pix training), so
    pixel (i, j) of X and of Y still show the same point of the scene."""
    top, left, flipped = _draw_crop_flip(load_size, crop_size, flip, generator)
    return (_apply(img_x, load_size, crop_size, is_label_map_x, top, left, flipped),
            _apply(img_y, load_size, crop_size, is_label_map_y, top, left, flipped))


def test_transform(img: Image.Image, *, size: int, is_label_map: bool) -> torch.Tensor:
    """Resize to size^2 (NEAREST for label maps), no randomness -> [-1, 1]."""
    return to_tensor(img.convert("RGB").resize((size, size), _resample(is_label_map)))


# pytest would otherwise try to collect test_transform when a test module imports it.
test_transform.__test__ = False  # type: ignore[attr-defined]
