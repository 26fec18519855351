"""GANLoss against hand-computed values for every mode; ImagePool's fill, swap, replay rules."""
from __future__ import annotations

import io
import math

import pytest
import torch

from models.gan_loss import GANLoss
from models.image_pool import ImagePool

REAL = torch.tensor([[0.5, 2.0], [-1.0, 1.0]])
FAKE = torch.tensor([[0.0, -0.5], [1.5, 3.0]])


def _softplus(v: float) -> float:
    return math.log1p(math.exp(v))


# --- GANLoss ---------------------------------------------------------------------------------

def test_lsgan_by_hand():
    loss = GANLoss("lsgan")
    # G: mean((f - 1)^2) over 1, 2.25, 0.25, 4
    assert loss.generator_loss(FAKE).item() == pytest.approx((1 + 2.25 + 0.25 + 4) / 4)
    # D: mean((r - 1)^2) = (0.25 + 1 + 4 + 0) / 4, mean(f^2) = (0 + 0.25 + 2.25 + 9) / 4
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(5.25 / 4 + 11.5 / 4)


def test_vanilla_by_hand():
    loss = GANLoss("vanilla")
    # BCE-with-logits vs 1 is softplus(-x); vs 0 is softplus(x).
    g = sum(_softplus(-v) for v in FAKE.flatten().tolist()) / 4
    d = (sum(_softplus(-v) for v in REAL.flatten().tolist()) / 4
         + sum(_softplus(v) for v in FAKE.flatten().tolist()) / 4)
    assert loss.generator_loss(FAKE).item() == pytest.approx(g, rel=1e-6)
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)


def test_hinge_by_hand():
    loss = GANLoss("hinge")
    assert loss.generator_loss(FAKE).item() == pytest.approx(-(0 - 0.5 + 1.5 + 3.0) / 4)
    # relu(1 - r): 0.5, 0, 2, 0 ; relu(1 + f): 1, 0.5, 2.5, 4
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(2.5 / 4 + 8.0 / 4)


def test_default_mode_is_the_papers_lsgan():
    assert GANLoss().mode == "lsgan"


def test_discriminator_loss_is_not_halved():
    # Perfect D on real (1), fooled on fake (1): the full objective is 0 + 1, the caller halves.
    assert GANLoss("lsgan").discriminator_loss(torch.ones(3), torch.ones(3)).item() == 1.0


def test_unknown_mode_lists_valid_ones():
    with pytest.raises(ValueError, match="lsgan, vanilla, hinge"):
        GANLoss("wgan")


@pytest.mark.parametrize("mode", ["lsgan", "vanilla", "hinge"])
def test_loss_is_float32_under_autocast_and_has_gradients(mode):
    loss = GANLoss(mode)
    real = REAL.clone().to(torch.bfloat16).requires_grad_()
    fake = FAKE.clone().to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = loss.generator_loss(fake)
        d = loss.discriminator_loss(real, fake)
    assert g.dtype == d.dtype == torch.float32 and g.dim() == d.dim() == 0
    assert d.item() == pytest.approx(GANLoss(mode).discriminator_loss(REAL, FAKE).item(), rel=1e-2)
    d.backward()
    assert real.grad is not None and fake.grad is not None


# --- ImagePool -------------------------------------------------------------------------------

def _images(start: int, n: int) -> torch.Tensor:
    """n distinct 1x2x2 images whose every value is their id."""
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(
        n, 1, 2, 2).clone()


def _ids(batch: torch.Tensor) -> list[int]:
    return [int(v) for v in batch[:, 0, 0, 0].tolist()]


def test_size_zero_returns_input_unchanged():
    pool = ImagePool(0)
    x = torch.randn(3, 3, 4, 4, requires_grad=True)
    assert pool.query(x) is x
    assert len(pool) == 0


def test_fills_by_storing_and_returning_each_image():
    pool = ImagePool(5, torch.Generator().manual_seed(0))
    assert _ids(pool.query(_images(0, 3))) == [0, 1, 2]
    assert _ids(pool.query(_images(3, 2))) == [3, 4]
    assert len(pool) == 5
    assert sorted(_ids(torch.stack(pool.images))) == [0, 1, 2, 3, 4]


def test_stores_copies_not_views():
    pool = ImagePool(2, torch.Generator().manual_seed(0))
    x = _images(0, 2)
    pool.query(x)
    x.fill_(-1.0)
    assert _ids(torch.stack(pool.images)) == [0, 1]


def test_once_full_about_half_come_from_history():
    size, n = 10, 2000
    pool = ImagePool(size, torch.Generator().manual_seed(1234))
    pool.query(_images(0, size))
    stored = set(range(size))  # what the pool should hold
    from_history = 0
    for i in range(size, size + n):
        (out,) = _ids(pool.query(_images(i, 1)))
        if out != i:
            from_history += 1
            assert out in stored  # an older image, handed out once: the new one takes its slot
            stored.remove(out)
            stored.add(i)
    assert set(_ids(torch.stack(pool.images))) == stored and len(pool) == size
    assert 0.45 * n < from_history < 0.55 * n


def test_swapped_image_takes_the_slot():
    pool = ImagePool(3, torch.Generator().manual_seed(0))
    pool.query(_images(0, 3))
    for i in range(3, 50):
        out = _ids(pool.query(_images(i, 1)))[0]
        stored = _ids(torch.stack(pool.images))
        assert (out == i and i not in stored) or (out != i and i in stored and out not in stored)


def test_outputs_are_detached():
    pool = ImagePool(2, torch.Generator().manual_seed(0))
    w = torch.ones((), requires_grad=True)
    for start in range(0, 20, 2):
        out = pool.query(_images(start, 2) * w)
        assert not out.requires_grad and out.grad_fn is None
    assert all(not img.requires_grad for img in pool.images)


def test_uses_only_its_own_generator():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    pool = ImagePool(2, torch.Generator().manual_seed(0))
    for start in range(0, 20, 2):
        pool.query(_images(start, 2))
    assert torch.equal(torch.rand(1), expected)


def test_state_dict_round_trip_replays_exactly():
    pool = ImagePool(4, torch.Generator().manual_seed(7))
    for start in range(0, 12, 3):
        pool.query(_images(start, 3))
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    expected = [_ids(pool.query(_images(s, 3))) for s in range(100, 160, 3)]

    buffer.seek(0)
    resumed = ImagePool(4, torch.Generator().manual_seed(999))
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert [_ids(resumed.query(_images(s, 3))) for s in range(100, 160, 3)] == expected
    assert any(a != list(range(s, s + 3)) for a, s in zip(expected, range(100, 160, 3)))


def test_load_state_dict_rejects_other_size():
    state = ImagePool(4).state_dict()
    with pytest.raises(ValueError, match="size=4"):
        ImagePool(8).load_state_dict(state)


def test_rejects_non_batch_and_mismatched_shapes():
    pool = ImagePool(4)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        pool.query(torch.zeros(3, 4, 4))
    pool.query(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="one pool per image size"):
        pool.query(torch.zeros(1, 3, 8, 8))


def test_batch_without_a_swap_is_returned_without_a_copy():
    pool = ImagePool(4, torch.Generator().manual_seed(0))
    w = torch.ones((), requires_grad=True)
    x = _images(0, 3) * w
    out = pool.query(x)
    assert out.data_ptr() == x.data_ptr() and not out.requires_grad  # filling: no stack, detached
    assert _ids(out) == [0, 1, 2]
    for start in range(3, 60, 2):  # once full: a swap anywhere in the batch gives a new tensor
        x = _images(start, 2)
        out = pool.query(x)
        new = _ids(out) == [start, start + 1]
        assert (out.data_ptr() == x.data_ptr()) == new
