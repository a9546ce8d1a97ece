"""Tests of seco.method.par: convex propagation that respects colour edges."""

import math

import pytest
import torch
import torch.nn.functional as F

from seco.method.par import PAR, interior


def _two_region_image(size: int = 12) -> torch.Tensor:
    """Left half dark red, right half light blue: one strong vertical colour edge."""
    rgb = torch.empty(1, 3, size, size)
    rgb[..., : size // 2] = torch.tensor([0.8, 0.1, 0.1])[:, None, None]
    rgb[..., size // 2 :] = torch.tensor([0.1, 0.3, 0.9])[:, None, None]
    return rgb


def test_neighbours_gather_offsets_with_replicate_padding():
    par = PAR(dilations=[1], num_iter=1)
    x = torch.arange(9.0).view(1, 1, 3, 3)
    centre, flat = par.neighbours(x)
    assert torch.equal(interior(centre, 3, 1), x)
    around = torch.stack([interior(n, 3, 1) for n in flat], dim=2)
    assert around.shape == (1, 1, 8, 3, 3)
    assert sorted(around[0, 0, :, 1, 1].tolist()) == [0, 1, 2, 3, 5, 6, 7, 8]
    # corner (0, 0): out-of-image neighbours replicate the border
    assert sorted(around[0, 0, :, 0, 0].tolist()) == [0, 0, 0, 1, 1, 3, 3, 4]


def test_affinity_is_convex_and_position_term_matches_formula():
    par = PAR(dilations=[1, 2], num_iter=1, w1=0.3, w2=0.01)
    distance = torch.tensor([math.sqrt(2), 1, math.sqrt(2), 1, 1, math.sqrt(2), 1, math.sqrt(2)])
    distance = torch.cat([distance, 2 * distance])
    expected = (-(distance / (0.3 * distance.std())) ** 2).softmax(0)
    torch.testing.assert_close(par.position_weights, expected)
    rgb = torch.rand(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    weights = par.affinity(rgb)
    assert weights.shape == (2, 16, 5, 6) and weights.min() >= 0
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 5, 6))


def test_refined_probs_stay_in_unit_interval_and_keep_class_sums():
    generator = torch.Generator().manual_seed(1)
    par = PAR(dilations=[1, 2, 4], num_iter=5)
    rgb = torch.rand(2, 3, 9, 7, generator=generator)
    probs = torch.randn(2, 4, 9, 7, generator=generator).softmax(1)
    refined = par(rgb, probs)
    assert refined.shape == probs.shape
    assert refined.min() >= 0 and refined.max() <= 1
    torch.testing.assert_close(refined.sum(1), torch.ones(2, 9, 7))
    constant = torch.full((2, 2, 9, 7), 0.5)
    torch.testing.assert_close(par(rgb, constant), constant)


def test_label_spreads_inside_uniform_region_and_stops_at_edge():
    par = PAR(dilations=[1, 2, 4, 8, 12, 24], num_iter=10)
    rgb = _two_region_image()
    foreground = torch.zeros(1, 1, 12, 12)
    foreground[..., :6] = 1.0
    foreground[..., 2:4, 2:4] = 0.0  # a hole in the left region
    probs = torch.cat([1 - foreground, foreground], dim=1)
    refined = par(rgb, probs)
    assert torch.all(refined[0, 1, :, :6] > 0.5)  # hole filled by the uniform region
    assert torch.all(refined[0, 1, :, 6:] < 0.05)  # little leaks across the edge (w2 term only)
    assert refined.argmax(1)[0, :, :6].eq(1).all() and refined.argmax(1)[0, :, 6:].eq(0).all()
    # without the edge the same labels do leak into the right half
    flat = par(torch.full_like(rgb, 0.5), probs)
    assert flat[0, 1, :, 6:].max() > 0.3


def test_size_mismatch_is_an_error():
    par = PAR(dilations=[1], num_iter=1)
    with pytest.raises(ValueError):
        par(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 5, 5))


def _shifted_views(par: PAR, x: torch.Tensor) -> list[torch.Tensor]:
    """The M neighbours of every pixel as (B,C,H,W) views of one replicate-padded copy."""
    height, width, pad = *x.shape[-2:], par.padding
    padded = F.pad(x, [pad, pad, pad, pad], mode="replicate")
    return [padded[..., pad + dy : pad + dy + height, pad + dx : pad + dx + width] for dy, dx in par.offsets]


def _shifted_view_par(par: PAR, rgb: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """PAR as first written: the affinity and one accumulation per offset over shifted views of the whole batch."""
    around = _shifted_views(par, rgb)
    mean = sum(around) / len(around)
    bandwidth = par.w1 * (sum((x - mean) ** 2 for x in around) / (len(around) - 1)).sqrt() + 1e-8
    k_rgb = torch.stack([(((x - rgb).abs() / bandwidth) ** 2).mean(dim=1).neg() for x in around], dim=1)
    weights = (k_rgb.softmax(dim=1) + par.w2 * par.position_weights[None, :, None, None]) / (1.0 + par.w2)
    for _ in range(par.num_iter):
        refined = torch.zeros_like(probs)
        for weight, neighbour in zip(weights.unbind(dim=1), _shifted_views(par, probs)):
            refined.addcmul_(weight.unsqueeze(1), neighbour)
        probs = refined
    return probs


@pytest.mark.parametrize(("shape", "dilations"), [((9, 10, 48, 48), [1, 2, 4]), ((3, 4, 9, 11), [1, 2, 4]),
                                                 ((2, 21, 20, 17), [1, 2, 4, 8, 12, 24])])
def test_blocked_flat_propagation_equals_the_shifted_view_loop_bitwise(shape, dilations):
    """The cache-sized blocks and flattened rows change no bit: 9 maps of 48 px split into blocks of 4, 4, 1;
    VOC's dilations pad a 20 x 17 map by more than its size."""
    generator = torch.Generator().manual_seed(2)
    batch, channels, height, width = shape
    rgb = torch.rand(batch, 3, height, width, generator=generator)
    probs = (3 * torch.randn(batch, channels, height, width, generator=generator)).softmax(1)
    par = PAR(dilations=dilations, num_iter=5)
    assert torch.equal(par(rgb, probs), _shifted_view_par(par, rgb, probs))
