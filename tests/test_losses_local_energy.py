import math

import torch

from seco.method.losses import bilateral_energy_loss


def test_one_pair_by_hand():
    probs = torch.tensor([[1.0, 0.5], [0.0, 0.5]]).reshape(1, 2, 1, 2).requires_grad_()
    rgb = torch.tensor([[0.0, 10 / 255], [0.0, 0.0], [0.0, 0.0]]).reshape(1, 3, 1, 2)
    valid = torch.ones(1, 1, 2, dtype=torch.bool)
    loss = bilateral_energy_loss(probs, rgb, valid, sigma_rgb=15.0, sigma_xy=100.0, scale=1.0, window=3)
    expected = math.exp(-100 / (2 * 15**2) - 1 / (2 * 100**2)) * (1 - 0.5)
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    loss.backward()
    assert probs.grad is not None


def test_spatial_distance_is_measured_at_the_original_resolution():
    probs = torch.zeros(1, 2, 2, 4)
    probs[:, 0, :, :2] = 1.0
    probs[:, 1, :, 2:] = 1.0
    rgb = torch.full((1, 3, 2, 4), 0.5)
    loss = bilateral_energy_loss(probs, rgb, torch.ones(1, 2, 4, dtype=torch.bool), sigma_xy=2.0, scale=0.5, window=3)
    # half resolution: a 1x2 grid, one pair two original pixels apart, labels fully disagree
    assert math.isclose(loss.item(), math.exp(-(2.0**2) / (2 * 2.0**2)), rel_tol=1e-6)


def _split(column: int, size: int = 32) -> torch.Tensor:
    probs = torch.zeros(1, 2, size, size)
    probs[:, 0, :, :column] = 1.0
    probs[:, 1, :, column:] = 1.0
    return probs


def test_zero_for_a_constant_one_hot_labelling():
    probs = torch.zeros(2, 3, 16, 16)
    probs[:, 1] = 1.0
    rgb = torch.rand(2, 3, 16, 16)
    loss = bilateral_energy_loss(probs, rgb, torch.ones(2, 16, 16, dtype=torch.bool))
    assert loss.item() == 0.0


def test_cut_along_a_colour_edge_costs_less_than_inside_a_uniform_region():
    rgb = torch.zeros(1, 3, 32, 32)
    rgb[..., 16:] = 1.0
    valid = torch.ones(1, 32, 32, dtype=torch.bool)
    along_edge = bilateral_energy_loss(_split(16), rgb, valid)
    inside_region = bilateral_energy_loss(_split(8), rgb, valid)
    assert along_edge.item() < 1e-6 < inside_region.item()


def test_pairs_outside_the_valid_region_do_not_count():
    rgb = torch.zeros(1, 3, 32, 32)
    valid = torch.ones(1, 32, 32, dtype=torch.bool)
    valid[..., 16:] = False  # the label split sits on the crop border
    assert bilateral_energy_loss(_split(16), rgb, valid).item() == 0.0
    probs = _split(16).requires_grad_()
    empty = bilateral_energy_loss(probs, rgb, torch.zeros(1, 32, 32, dtype=torch.bool))
    assert empty.item() == 0.0 and torch.isfinite(empty)
    empty.backward()
    assert probs.grad is not None


def test_runs_on_a_larger_input_with_bounded_memory():
    logits = torch.randn(1, 2, 64, 64, requires_grad=True)
    valid = torch.ones(1, 64, 64, dtype=torch.bool)
    loss = bilateral_energy_loss(logits.softmax(dim=1), torch.rand(1, 3, 64, 64), valid)
    assert torch.isfinite(loss) and 0.0 < loss.item() < 1.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
