"""The training sample stream: a pure function of (seed, k), so resume is exact."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from benchmark.data import Domain, DomainPair, UnpairedIterations, iteration_sampler, open_domains

CFG = dict(name="synthetic", source="synthetic", root=None, a_domain="photo",
           b_domain="labels", x_domain="photo", label_domain="labels", train_split="train",
           test_split="test", train_count=6, test_count=2, size=32, seed=1)


def make(paired=False, seed=5, **cfg):
    pair = open_domains({**CFG, **cfg}, "train")
    return UnpairedIterations(pair, load_size=36, crop_size=32, flip=True, seed=seed,
                              paired=paired)


def test_same_sample_number_same_tensors():
    a, b = make(), make()
    for k in (0, 3, 17):
        x, y = a[k], b[k]
        assert torch.equal(x["X"], y["X"]) and torch.equal(x["Y"], y["Y"])
        assert (x["X_index"], x["Y_index"]) == (y["X_index"], y["Y_index"])
    assert x["X"].shape == (3, 32, 32) and -1 <= x["X"].min() and x["X"].max() <= 1
    other = make(seed=6)
    assert any(not torch.equal(other[k]["X"], a[k]["X"]) for k in range(4))


def test_epochs_are_permutations_and_y_is_random():
    data = make()
    assert data.epoch_length == 6
    epochs = [[data.indices(e * 6 + p)[0] for p in range(6)] for e in range(3)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled every epoch
    ys = [data.indices(k)[1] for k in range(60)]
    xs = [data.indices(k)[0] for k in range(60)]
    assert set(ys) == set(range(6)) and ys != xs


class Gradients(Domain):
    """n distinct images: a horizontal ramp plus the index, so crops and flips show."""

    def __init__(self, n: int, name: str = "g"):
        super().__init__(name, is_label_map=False)
        self.n = n

    def __len__(self):
        return self.n

    def stem(self, i):
        return str(i)

    def describe(self, i):
        return f"gradient {i}"

    def load(self, i):
        ramp = np.tile(np.arange(40, dtype=np.uint8)[None, :, None] * 5, (40, 1, 3))
        ramp[..., 0] = i * 20
        return Image.fromarray(ramp)


def test_uneven_domains_wrap():
    pair = DomainPair(X=Gradients(4), Y=Gradients(10), aligned=False, split="train")
    data = UnpairedIterations(pair, load_size=40, crop_size=32, flip=False, seed=0)
    assert data.epoch_length == 10
    xs = [data.indices(k)[0] for k in range(10)]
    assert sorted(xs[:4]) == [0, 1, 2, 3]
    assert xs[4:8] == xs[:4] and xs[8:] == xs[:2]  # positions past |X| wrap (modulo)


def test_paired_uses_same_index_crop_and_flip():
    pair = DomainPair(X=Gradients(5), Y=Gradients(5), aligned=True, split="train")
    paired = UnpairedIterations(pair, load_size=40, crop_size=24, flip=True, seed=0, paired=True)
    unpaired = UnpairedIterations(pair, load_size=40, crop_size=24, flip=True, seed=0)
    differs = 0
    for k in range(12):
        item = paired[k]
        assert item["X_index"] == item["Y_index"]
        assert torch.equal(item["X"], item["Y"])  # identical images, identical crop and flip
        other = unpaired[k]
        differs += not torch.equal(other["X"], other["Y"])
    assert differs > 6


def test_resumed_sampler_continues_the_same_sequence():
    data = make()
    full = list(DataLoader(data, batch_sampler=iteration_sampler(0, 6, 2)))
    head = list(DataLoader(data, batch_sampler=iteration_sampler(0, 3, 2)))
    tail = list(DataLoader(data, batch_sampler=iteration_sampler(3, 3, 2), num_workers=2))
    assert len(full) == 6 and len(head) == len(tail) == 3
    for got, want in zip(head + tail, full):
        assert torch.equal(got["X"], want["X"]) and torch.equal(got["Y"], want["Y"])
        assert got["X_index"].tolist() == want["X_index"].tolist()
    assert list(iteration_sampler(3, 2, 2)) == [[6, 7], [8, 9]]
    assert len(iteration_sampler(3, 2, 2)) == 2
