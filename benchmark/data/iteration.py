"""Training and test datasets built on a DomainPair.

Training follows the paper's code: an epoch is max(|X|, |Y|) iterations, X is walked in a
fresh random order each epoch, and Y is drawn uniformly at random every step (even when the
files happen to be paired). Unlike a shuffling DataLoader, sample k is a pure function of
(seed, k): no sampler state, so a resumed run sees exactly the samples the uninterrupted run
would have, and any number of DataLoader workers gives the same batches.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from .domains import Domain, DomainPair
from .transforms import _resample, paired_train_transform, test_transform, train_transform


def resize_for_training(img: Image.Image, *, load_size: int, is_label_map: bool) -> Image.Image:
    """The deterministic first half of the training transform (RGB, resized to load_size²),
    with the resampling filter `train_transform` uses (NEAREST for label maps)."""
    return img.convert("RGB").resize((load_size, load_size), _resample(is_label_map))

#: Bytes of resized training images one process keeps (see UnpairedIterations._resized).
RESIZED_CACHE_BYTES = 512 * 2 ** 20
# Separate seed streams so an epoch's permutation never shares a seed with a sample's draws.
_EPOCH_STREAM = 0
_SAMPLE_STREAM = 1
#: Length reported to torch: the dataset is indexed by sample number, without end.
NUM_SAMPLES = 2 ** 62


def seeded_generator(*key: int) -> torch.Generator:
    """A torch.Generator seeded from a tuple of ints (via numpy's SeedSequence hashing)."""
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(2, np.uint32)
    gen = torch.Generator()
    gen.manual_seed(int(state[0]) << 32 | int(state[1]))
    return gen


class UnpairedIterations(Dataset):
    """Sample k = iteration * batch_size + b -> {"X", "Y", "X_index", "Y_index"}.

    paired=True (the pix2pix baseline) takes Y at X's index and crops/flips both alike.
    """

    def __init__(self, pair: DomainPair, *, load_size: int, crop_size: int, flip: bool,
                 seed: int, paired: bool = False):
        if len(pair.X) == 0 or len(pair.Y) == 0:
            raise ValueError(f"split {pair.split!r} has an empty domain "
                             f"(|X|={len(pair.X)}, |Y|={len(pair.Y)}); nothing to train on")
        if paired and not (pair.aligned and len(pair.X) == len(pair.Y)):
            raise ValueError("paired=True needs an aligned dataset with |X| == |Y| (pix2pix "
                             "trains on pairs); use source pix2pix/prepared/cityscapes_native")
        self.pair = pair
        self.load_size = int(load_size)
        self.crop_size = int(crop_size)
        self.flip = bool(flip)
        self.seed = int(seed)
        self.paired = bool(paired)
        self.epoch_length = max(len(pair.X), len(pair.Y))
        self._perm_cache: tuple[int, torch.Tensor] | None = None  # pure memo, not state
        self._resized: dict[tuple[str, int], Image.Image] = {}  # pure memo, not state
        self._resized_bytes, self.resized_cache_bytes = 0, RESIZED_CACHE_BYTES

    def __len__(self) -> int:
        return NUM_SAMPLES

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            gen = seeded_generator(self.seed, _EPOCH_STREAM, epoch)
            self._perm_cache = (epoch, torch.randperm(len(self.pair.X), generator=gen))
        return self._perm_cache[1]

    def indices(self, k: int) -> tuple[int, int, torch.Generator]:
        """(X index, Y index, the generator for sample k's augmentation)."""
        if k < 0:
            raise IndexError(f"sample number must be >= 0, got {k}")
        epoch, position = divmod(k, self.epoch_length)
        x_index = int(self._permutation(epoch)[position % len(self.pair.X)])
        gen = seeded_generator(self.seed, _SAMPLE_STREAM, k)
        y_random = int(torch.randint(len(self.pair.Y), (1,), generator=gen))
        return x_index, (x_index if self.paired else y_random), gen

    def _load_resized(self, name: str, index: int) -> Image.Image:
        """Image `index` of domain `name` decoded and resized to load_size², memoised.

        Decoding a 512x256 JPEG and resizing it was ~6 ms of every cpu-profile step (3%), for
        the same few thousand images over and over. The resize is a pure function of the file,
        so its result is kept (up to RESIZED_CACHE_BYTES per process; each DataLoader worker
        has its own); the random crop and flip stay per sample. `train_transform` resizes again
        to the same size, which PIL answers with a copy: the tensors are bit-identical.
        """
        key = (name, index)
        img = self._resized.get(key)
        if img is None:
            domain = self.pair.X if name == "X" else self.pair.Y
            img = resize_for_training(domain.load(index), load_size=self.load_size,
                                      is_label_map=domain.is_label_map)
            size = self.load_size * self.load_size * 3
            if self._resized_bytes + size <= self.resized_cache_bytes:
                self._resized[key] = img
                self._resized_bytes += size
        return img

    def __getitem__(self, k: int) -> dict:
        x_index, y_index, gen = self.indices(int(k))
        X, Y = self.pair.X, self.pair.Y
        common = dict(load_size=self.load_size, crop_size=self.crop_size, flip=self.flip,
                      generator=gen)
        img_x, img_y = self._load_resized("X", x_index), self._load_resized("Y", y_index)
        if self.paired:
            x, y = paired_train_transform(img_x, img_y, is_label_map_x=X.is_label_map,
                                          is_label_map_y=Y.is_label_map, **common)
        else:
            x = train_transform(img_x, is_label_map=X.is_label_map, **common)
            y = train_transform(img_y, is_label_map=Y.is_label_map, **common)
        return {"X": x, "Y": y, "X_index": x_index, "Y_index": y_index}


class IterationBatchSampler(Sampler):
    """Batches of sample numbers for iterations start_iteration .. start_iteration + num - 1."""

    def __init__(self, start_iteration: int, num_iterations: int, batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if start_iteration < 0 or num_iterations < 0:
            raise ValueError(f"start_iteration ({start_iteration}) and num_iterations "
                             f"({num_iterations}) must be >= 0")
        self.start_iteration = int(start_iteration)
        self.num_iterations = int(num_iterations)
        self.batch_size = int(batch_size)

    def __len__(self) -> int:
        return self.num_iterations

    def __iter__(self) -> Iterator[list[int]]:
        bs = self.batch_size
        for it in range(self.start_iteration, self.start_iteration + self.num_iterations):
            yield list(range(it * bs, (it + 1) * bs))


def iteration_sampler(start_iteration: int, num_iterations: int,
                      batch_size: int) -> IterationBatchSampler:
    """batch_sampler for DataLoader: iteration t gets samples t*batch_size ... +batch_size-1.

    Yields the `num_iterations` iterations that start at `start_iteration` (a COUNT, not the
    end): a run resumed at iteration t of N passes (t, N - t, batch_size) and sees exactly the
    batches the uninterrupted run would have seen from iteration t on.
    """
    return IterationBatchSampler(start_iteration, num_iterations, batch_size)


class TestPairs(Dataset):
    """Aligned test split: item i -> {"X", "Y", "stem", "index"} at size x size."""

    __test__ = False  # not a pytest class

    def __init__(self, pair: DomainPair, size: int):
        if not pair.aligned:
            raise ValueError(f"TestPairs needs an aligned split, but {pair.split!r} is unaligned; "
                             "use TestDomain(pair.X, size) and TestDomain(pair.Y, size)")
        if len(pair.X) != len(pair.Y):
            raise ValueError(f"aligned split {pair.split!r} has |X|={len(pair.X)} != "
                             f"|Y|={len(pair.Y)}")
        self.pair = pair
        self.size = int(size)

    def __len__(self) -> int:
        return len(self.pair.X)

    def __getitem__(self, i: int) -> dict:
        X, Y = self.pair.X, self.pair.Y
        return {"X": test_transform(X.load(i), size=self.size, is_label_map=X.is_label_map),
                "Y": test_transform(Y.load(i), size=self.size, is_label_map=Y.is_label_map),
                "stem": X.stem(i), "index": int(i)}


class TestDomain(Dataset):
    """One domain of a test split: item i -> {"image", "stem", "index"} at size x size."""

    __test__ = False

    def __init__(self, domain: Domain, size: int):
        self.domain = domain
        self.size = int(size)

    def __len__(self) -> int:
        return len(self.domain)

    def __getitem__(self, i: int) -> dict:
        d = self.domain
        return {"image": test_transform(d.load(i), size=self.size, is_label_map=d.is_label_map),
                "stem": d.stem(i), "index": int(i)}
