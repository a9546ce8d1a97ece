"""The permutohedral lattice (``method.losses.reg.kernel=lattice``): hand-checked small cases, its adjoint, its
determinism, and its error against the exact dense Gaussian sum (the ``blocked`` reference) on a small image."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seco.method.losses.dense_energy import dense_bilateral_filter, dense_energy_loss
from seco.method.permutohedral import (
    PermutohedralLattice,
    _barycentric,
    _elevation,
    _enclosing_simplex,
    _vertex_keys,
    permutohedral_filter,
)


def _at_vertex_self_weight(dim: int) -> float:
    """A lone point on a lattice vertex: the lattice holds its simplex's d+1 vertices, a cycle whose steps are the
    d+1 blur directions in the blur's order, so half of the value goes once around it and comes back,
    ``1 + 2^-(d+1)``, times ``alpha = 1 / (1 + 2^-d)``."""
    return (1 + 2.0 ** -(dim + 1)) / (1 + 2.0**-dim)


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_a_lone_point_on_a_vertex_keeps_the_hand_computed_share_of_its_value(dim: int):
    values = torch.tensor([[[1.0, -2.0]]])
    out = permutohedral_filter(values, torch.zeros(1, 1, dim))
    torch.testing.assert_close(out, values * _at_vertex_self_weight(dim))  # 65/66 in 5-d: 0.985


def test_points_far_apart_see_only_themselves_and_identical_points_mix():
    """Points 10 and 20 feature units apart share no vertex: each comes out as it does alone (its own value times
    its self weight, which depends on where it falls in its simplex). Two points with the same features share
    every vertex: both come out as the self weight times the sum of their values."""
    features = torch.tensor([[[0.0, 0, 0, 0, 0], [10.3, 0.2, 0, 0, 0], [0, 20.7, 0, 1.1, 0], [0.0, 0, 0, 0, 0]]])
    values = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])
    out = permutohedral_filter(values, features)
    alone = [permutohedral_filter(values[:, i : i + 1], features[:, i : i + 1]) for i in range(3)]
    torch.testing.assert_close(out[:, 1:3], torch.cat(alone[1:], dim=1))
    own = _at_vertex_self_weight(5)
    torch.testing.assert_close(out[0, [0, 3], 0], torch.full((2,), own * (1.0 + 4.0)))
    self_weights = torch.cat(alone, dim=1)[0, :, 0] / values[0, :3, 0]
    assert ((self_weights > 0.4) & (self_weights < 1.4)).all()  # not the exact kernel's 1


def test_the_images_of_a_batch_never_mix():
    gen = torch.Generator().manual_seed(0)
    features, values = torch.rand(3, 40, 5, generator=gen) * 2, torch.rand(3, 40, 2, generator=gen)
    out = permutohedral_filter(values, features)
    for b in range(3):
        torch.testing.assert_close(out[b : b + 1], permutohedral_filter(values[b : b + 1], features[b : b + 1]))


def test_each_point_is_the_barycentric_mean_of_its_simplexs_vertices():
    """The enclosing simplex, its ranks and the weights: every weight in [0, 1], summing to 1, and the weighted
    vertices (the stored d coordinates, the last one minus their sum) give back the lifted point."""
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 300, 5, generator=gen) * 3
    elevated = features @ _elevation(5, features.device)
    remainder0, rank = _enclosing_simplex(elevated)
    weight = _barycentric(elevated, remainder0, rank)
    keys = _vertex_keys(remainder0, rank).double()
    vertices = torch.cat([keys, -keys.sum(-1, keepdim=True)], dim=-1)  # (B, N, d+1 vertices, d+1)
    assert (weight >= -1e-6).all() and (weight <= 1 + 1e-6).all()
    torch.testing.assert_close(weight.sum(-1), torch.ones(2, 300))
    torch.testing.assert_close((weight.double()[..., None] * vertices).sum(-2), elevated.double(), atol=1e-4,
                               rtol=0)


def test_the_backward_is_the_filters_exact_adjoint_and_gradients_flow():
    """gradcheck compares the backward (the blur's directions reversed) with finite differences of the forward,
    a linear map: the adjoint must match to float64 rounding."""
    gen = torch.Generator().manual_seed(0)
    lattice = PermutohedralLattice.build(torch.rand(2, 12, 5, generator=gen) * 1.5)
    values = torch.rand(2, 12, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lattice.filter, (values,), eps=1e-6, atol=1e-9, rtol=1e-7)
    lattice.filter(values).pow(2).sum().backward()
    assert values.grad is not None and values.grad.abs().sum() > 0


def _small_image() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 16 x 16 batch of 2 with 3 classes: peaked softmax maps, smooth colours 0..1, a crop box, ignored pixels."""
    gen = torch.Generator().manual_seed(3)
    probs = F.interpolate(4 * torch.randn(2, 3, 4, 4, generator=gen), size=(16, 16), mode="bilinear").softmax(1)
    rgb = F.interpolate(torch.rand(2, 3, 4, 4, generator=gen), size=(16, 16), mode="bilinear")
    valid = torch.ones(2, 16, 16, dtype=torch.bool)
    valid[1, :, 12:] = False
    pseudo = probs.argmax(1)
    pseudo[:, :3] = 255
    return probs, rgb, valid, pseudo


def _energy_and_gradient(kernel: str, sigma_xy: float) -> tuple[torch.Tensor, torch.Tensor]:
    probs, rgb, valid, pseudo = _small_image()
    probs.requires_grad_(True)
    loss = dense_energy_loss(probs, rgb, valid, pseudo, sigma_xy=sigma_xy, scale=1.0, kernel=kernel)
    loss.backward()
    return loss.detach(), probs.grad


# measured on this batch (seed 3): the lattice's energy is 0.46 (sigma_xy 25) and 0.43 (sigma_xy 5) of the exact
# one, and its gradient, scaled by the least-squares factor (about 2.1-2.2), is within 0.11 and 0.13 of the exact
# gradient (cosine 0.994 and 0.991). The lattice's sums are about half the Gaussian's on image features (its weights
# only pass between vertices some pixel splats onto; the C++ filter's too), so the bounds are on that ratio and on
# the gradient's shape; a broken lattice (a wrong weight, a lost direction or vertex) moves them far outside.
ENERGY_RATIO, SHAPE_ERROR = (0.35, 0.6), 0.2


def _errors(kernel: str, sigma_xy: float) -> tuple[float, float]:
    """The lattice's energy over the exact one, and its gradient's relative error after the least-squares scale."""
    exact_loss, exact_grad = _energy_and_gradient("blocked", sigma_xy)
    loss, grad = _energy_and_gradient(kernel, sigma_xy)
    scale = (grad * exact_grad).sum() / (grad * grad).sum()
    return (loss / exact_loss).item(), ((scale * grad - exact_grad).norm() / exact_grad.norm()).item()


@pytest.mark.parametrize("sigma_xy", [25.0, 5.0])
def test_the_energy_is_about_half_the_exact_one_and_its_gradient_has_the_exact_shape(sigma_xy: float):
    """sigma_xy 25: the demo's (100 at scale 0.25; the image spans 0.6 feature units in x and y); 5: a 16 x 16
    image spanning 3 units, where the lattice's cut tails and its uneven self weight show most."""
    ratio, shape_error = _errors("lattice", sigma_xy)
    print(f"sigma_xy {sigma_xy}: energy ratio {ratio:.4f}, gradient error after the best scale {shape_error:.4f}")
    assert ENERGY_RATIO[0] < ratio < ENERGY_RATIO[1] and shape_error < SHAPE_ERROR


def test_repeated_calls_give_the_same_bits_and_autocast_leaves_float32():
    probs, rgb, _, _ = _small_image()
    rgb255 = rgb * 255
    first = dense_bilateral_filter(probs, rgb255, 15.0, 5.0, kernel="lattice")
    assert torch.equal(first, dense_bilateral_filter(probs, rgb255, 15.0, 5.0, kernel="lattice"))
    grads = [_energy_and_gradient("lattice", 5.0)[1] for _ in range(2)]
    assert torch.equal(*grads)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dense_bilateral_filter(probs, rgb255, 15.0, 5.0, kernel="lattice")
    assert out.dtype == torch.float32 and torch.equal(out, first)


def test_the_lattice_takes_the_features_in_the_public_codes_order():
    """x first, then y (the public code's ``bilateralfilter``): a transposed image gives the transposed result
    only up to the lattice's anisotropy, so the order is pinned against the function called directly."""
    probs, rgb, _, _ = _small_image()
    rgb255 = rgb * 255
    out = dense_bilateral_filter(probs, rgb255, 15.0, 5.0, kernel="lattice")
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    position = torch.stack([xs, ys]).expand(2, 2, 16, 16) / 5.0
    features = torch.cat([position, rgb255 / 15.0], dim=1).flatten(2).transpose(1, 2)
    expected = permutohedral_filter(probs.flatten(2).transpose(1, 2), features).transpose(1, 2).reshape(out.shape)
    torch.testing.assert_close(out, expected)


def test_features_too_spread_for_int64_keys_are_refused():
    with pytest.raises(ValueError, match="int64"):
        permutohedral_filter(torch.ones(1, 2, 1), torch.tensor([[[0.0] * 5, [1e5] * 5]]))
