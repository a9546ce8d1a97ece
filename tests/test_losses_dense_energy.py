"""The public code's regularisation loss: gated dense bilateral energy, value and gradient by hand."""

import pytest
import torch
import torch.nn.functional as F

from seco.method.losses.dense_energy import AUTO_KERNEL, dense_bilateral_filter, dense_energy_loss


def test_filter_is_the_exact_dense_gaussian_sum():
    gen = torch.Generator().manual_seed(0)
    values, rgb = torch.rand(2, 3, 5, 6, generator=gen), torch.rand(2, 3, 5, 6, generator=gen) * 255
    out = dense_bilateral_filter(values, rgb, sigma_rgb=15.0, sigma_xy=3.0)
    ys, xs = torch.meshgrid(torch.arange(5.0), torch.arange(6.0), indexing="ij")
    for b in range(2):
        for i in range(5):
            for j in range(6):
                colour = ((rgb[b] - rgb[b, :, i, j, None, None]) ** 2).sum(0) / (2 * 15.0**2)
                weight = torch.exp(-((ys - i) ** 2 + (xs - j) ** 2) / (2 * 3.0**2) - colour)
                torch.testing.assert_close(out[b, :, i, j], (weight * values[b]).sum(dim=(1, 2)), rtol=1e-4,
                                           atol=1e-6)


def test_gated_energy_value_and_its_public_gradient_by_hand():
    """One 1x3 image, equal colours and a huge sigma_xy: W is all ones, so (W S)_i = sum_j S_j = T for every
    pixel. Pixel 0 is labelled (gate 1 - max prob), pixel 1 is ignored (gate 1), pixel 2 is outside the crop
    (S = 0 there, no gradient). Value -1e-7 sum_i g_i S_i . T; gradient -2e-7 g_i T (the public code's)."""
    probs = torch.tensor([[[[0.7, 0.4, 0.5]], [[0.3, 0.6, 0.5]]]], requires_grad=True)  # (1, 2, 1, 3)
    rgb = torch.full((1, 3, 1, 3), 0.5)
    valid = torch.tensor([[[True, True, False]]])
    pseudo = torch.tensor([[[1, 255, 0]]])
    loss = dense_energy_loss(probs, rgb, valid, pseudo, sigma_rgb=15.0, sigma_xy=1e6, scale=1.0)
    total = torch.tensor([0.7 + 0.4, 0.3 + 0.6])  # S summed over the crop's pixels
    gate = torch.tensor([1 - 0.7, 1.0])
    s = torch.tensor([[0.7, 0.3], [0.4, 0.6]])
    energy = (gate[:, None] * s * total).sum()
    torch.testing.assert_close(loss, -1e-7 * energy)
    loss.backward()
    expected = torch.zeros(1, 2, 1, 3)
    expected[0, :, 0, 0] = -2e-7 * gate[0] * total
    expected[0, :, 0, 1] = -2e-7 * gate[1] * total
    torch.testing.assert_close(probs.grad, expected)


def test_filter_stays_float32_under_bf16_autocast():
    """The exponent is a difference of squared norms in the hundreds: bf16 would ruin it, so autocast is off."""
    gen = torch.Generator().manual_seed(0)
    values, rgb = torch.rand(2, 3, 6, 6, generator=gen), torch.rand(2, 3, 6, 6, generator=gen) * 255
    expected = dense_bilateral_filter(values, rgb, sigma_rgb=15.0, sigma_xy=3.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dense_bilateral_filter(values, rgb, sigma_rgb=15.0, sigma_xy=3.0)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)


def _demo_sized_maps() -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax maps and smooth colours like the demo's reg energy: 24 x 24 at sigma_xy 25, colours 0..255."""
    gen = torch.Generator().manual_seed(1)
    values = (3 * torch.randn(4, 10, 24, 24, generator=gen)).softmax(1)
    rgb = F.interpolate(torch.rand(4, 3, 6, 6, generator=gen), size=(24, 24), mode="bilinear") * 255
    return values, rgb


def test_sdpa_kernel_matches_the_blocked_reference():
    """The attention form (one extra key recovers the softmax's denominator) equals the blocked exact sum."""
    values, rgb = _demo_sized_maps()
    reference = dense_bilateral_filter(values, rgb, sigma_rgb=15.0, sigma_xy=25.0, kernel="blocked")
    out = dense_bilateral_filter(values, rgb, sigma_rgb=15.0, sigma_xy=25.0, kernel="sdpa")
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4 * reference.abs().max().item())
    gen = torch.Generator().manual_seed(0)
    small, colours = torch.rand(2, 3, 5, 6, generator=gen), torch.rand(2, 3, 5, 6, generator=gen) * 255
    exact = dense_bilateral_filter(small, colours, 15.0, 3.0, kernel="blocked")
    torch.testing.assert_close(dense_bilateral_filter(small, colours, 15.0, 3.0, kernel="sdpa"), exact, rtol=1e-4,
                               atol=1e-6)


def test_auto_kernel_is_the_devices_choice_and_unknown_kernels_are_refused():
    values, rgb = _demo_sized_maps()
    chosen = AUTO_KERNEL["cpu"]
    assert torch.equal(dense_bilateral_filter(values, rgb, 15.0, 25.0, kernel="auto"),
                       dense_bilateral_filter(values, rgb, 15.0, 25.0, kernel=chosen))
    with pytest.raises(ValueError, match="'bogus'; one of auto, blocked, sdpa, lattice"):
        dense_bilateral_filter(values, rgb, 15.0, 25.0, kernel="bogus")


def test_gated_energy_and_gradient_agree_between_kernels():
    values, rgb = _demo_sized_maps()
    valid = torch.ones(4, 24, 24, dtype=torch.bool)
    valid[:, :, 20:] = False
    pseudo = values.argmax(1)
    pseudo[:, :4] = 255
    results = []
    for kernel in ("blocked", "sdpa"):
        probs = values.clone().requires_grad_(True)
        loss = dense_energy_loss(probs, rgb / 255, valid, pseudo, sigma_xy=25.0, scale=1.0, kernel=kernel)
        loss.backward()
        results.append((loss.detach(), probs.grad))
    (blocked_loss, blocked_grad), (sdpa_loss, sdpa_grad) = results
    torch.testing.assert_close(sdpa_loss, blocked_loss, rtol=1e-4, atol=0.0)
    torch.testing.assert_close(sdpa_grad, blocked_grad, rtol=1e-4, atol=1e-4 * blocked_grad.abs().max().item())


def test_sdpa_kernel_stays_float32_under_bf16_autocast():
    values, rgb = _demo_sized_maps()
    expected = dense_bilateral_filter(values, rgb, 15.0, 25.0, kernel="sdpa")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dense_bilateral_filter(values, rgb, 15.0, 25.0, kernel="sdpa")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)
