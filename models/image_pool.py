"""The history of generated images that discriminators are trained on (Shrivastava et al. 2017).

Updating D only on the newest G output lets the two chase each other; CycleGAN instead keeps the
50 most recently generated images and, half of the time, shows D an older one (docs/protocol.md).

The pool draws its randomness ONLY from its own ``torch.Generator``: the global RNG stays
untouched (so adding or removing a pool does not shift any other random stream), and
``state_dict()`` captures everything (stored images + generator state) that the next
``query`` depends on, which makes a resumed run replay exactly.
"""
from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """A buffer of up to ``size`` generated images; ``size=0`` turns it off.

    ``generator`` should be seeded by the caller, a different one per pool; when omitted the pool
    seeds a private generator from ``torch.initial_seed()`` (so two such pools make the same
    choices). The generator lives on the CPU whatever device the images are on.
    """

    def __init__(self, size: int = 50, generator: torch.Generator | None = None) -> None:
        if size < 0:
            raise ValueError(f"ImagePool size must be >= 0 (0 disables the pool), got {size}")
        if generator is None:
            generator = torch.Generator().manual_seed(torch.initial_seed())
        elif generator.device.type != "cpu":
            raise ValueError(f"ImagePool needs a CPU torch.Generator, got one on "
                             f"{generator.device}; pass torch.Generator() seeded with your seed")
        self.size = size
        self.generator = generator
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch for D, image by image: the new one, or (once full, p=0.5) an older one.

        When an older image is returned the new one takes its slot. The result is detached, so
        a D loss on it never reaches the generator; when no image was swapped it is the input
        batch itself (detached, not copied): read it, do not write into it.
        """
        if images.dim() != 4:
            raise ValueError(f"ImagePool.query expects a batch [B, C, H, W], got shape "
                             f"{tuple(images.shape)}")
        if self.size == 0:
            return images
        images = images.detach()
        out, swapped = [], False
        for image in images:
            if self.images and image.shape != self.images[0].shape:
                raise ValueError(f"ImagePool holds images of shape {tuple(self.images[0].shape)}, "
                                 f"got {tuple(image.shape)}; use one pool per image size")
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() < 0.5:
                slot = int(torch.randint(self.size, (), generator=self.generator).item())
                out.append(self.images[slot].to(image.device))
                self.images[slot] = image.clone()
                swapped = True
            else:
                out.append(image)
        # Nothing swapped in: the batch itself, without stacking a copy of it (the usual case
        # while the pool fills, and half of the draws after) -- when it has the layout a stack
        # would give, so D sees the same memory format and computes the same numbers.
        return images if not swapped and images.is_contiguous() else torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        """Stored images and generator state; loadable with ``torch.load(weights_only=True)``."""
        return {
            "size": self.size,
            "images": list(self.images),
            "generator_state": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved; the pool size must match the saved one."""
        missing = {"size", "images", "generator_state"} - set(state)
        if missing:
            raise ValueError(f"ImagePool state is missing {sorted(missing)}; pass the dict that "
                             "ImagePool.state_dict() returned")
        if state["size"] != self.size:
            raise ValueError(f"ImagePool state was saved with size {state['size']} but this pool "
                             f"has size {self.size}; build the pool with size={state['size']}")
        self.images = [image.detach().clone() for image in state["images"]]
        self.generator.set_state(state["generator_state"])
