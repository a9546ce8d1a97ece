"""Tests of seco.method.augment: weak and strong views, batched and seeded."""

import torch

from seco.method.augment import colour_jitter, gaussian_blur, random_grayscale, shift_hue, strong_augment, weak_augment


def _rgb(n: int = 32, size: int = 6) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_weak_augment_flips_whole_samples_only():
    x = _rgb()
    out = weak_augment(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, s.flip(-1)) for o, s in zip(out, x)])
    kept = torch.tensor([torch.equal(o, s) for o, s in zip(out, x)])
    assert torch.all(flipped | kept) and flipped.any() and kept.any()


def test_augmentations_are_deterministic_given_a_generator():
    x = _rgb()
    for augment in (weak_augment, strong_augment):
        first = augment(x, torch.Generator().manual_seed(3))
        assert torch.equal(first, augment(x, torch.Generator().manual_seed(3)))
        assert not torch.equal(first, augment(x, torch.Generator().manual_seed(4)))


def test_strong_augment_keeps_shape_and_valid_colour_range():
    x = _rgb()
    out = strong_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1


def test_colour_ops_with_probability_zero_or_one():
    rgb = torch.rand(4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    torch.testing.assert_close(colour_jitter(rgb, generator, p=0.0), rgb)
    torch.testing.assert_close(random_grayscale(rgb, generator, p=0.0), rgb)
    torch.testing.assert_close(gaussian_blur(rgb, generator, p=0.0), rgb)
    gray = random_grayscale(rgb, generator, p=1.0)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])


def test_gaussian_blur_preserves_constants_and_smooths_an_impulse():
    generator = torch.Generator().manual_seed(0)
    constant = torch.full((2, 3, 5, 5), 0.3)
    torch.testing.assert_close(gaussian_blur(constant, generator, p=1.0), constant)
    impulse = torch.zeros(1, 3, 9, 9)
    impulse[..., 4, 4] = 1.0
    blurred = gaussian_blur(impulse, generator, p=1.0, sigma=(1.0, 1.0))
    torch.testing.assert_close(blurred.sum(dim=(-2, -1)), torch.ones(1, 3))
    assert blurred[0, 0, 4, 4] < 0.2 and blurred[0, 0, 4, 5] > 0.05


def test_shift_hue_matches_torchvision_per_sample():
    from torchvision.transforms.v2 import functional as TF

    rgb = torch.rand(3, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    turns = torch.tensor([0.0, 0.1, -0.37]).view(3, 1, 1, 1)
    shifted = shift_hue(rgb, turns)
    for i in range(3):
        torch.testing.assert_close(shifted[i], TF.adjust_hue(rgb[i], float(turns[i])), atol=1e-5, rtol=1e-5)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    green = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(shift_hue(red, torch.full((1, 1, 1, 1), 1 / 3)), green)
