import math

import torch
import torch.nn.functional as F

from seco.method.losses import balanced_seg_loss


def _ce(logits: list[float], target: int) -> float:
    return -(logits[target] - math.log(sum(math.exp(v) for v in logits)))


def test_background_and_foreground_are_averaged_separately():
    pixels = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [5.0, 0.0, 0.0]]
    logits = torch.tensor(pixels).T.reshape(1, 3, 1, 4).requires_grad_()
    target = torch.tensor([[[0, 0, 2, 255]]])
    loss = balanced_seg_loss(logits, target)
    background = (_ce(pixels[0], 0) + _ce(pixels[1], 0)) / 2
    foreground = _ce(pixels[2], 2)
    assert math.isclose(loss.item(), 0.5 * (background + foreground), rel_tol=1e-6)
    loss.backward()
    assert torch.equal(logits.grad[..., 3], torch.zeros(1, 3, 1))  # ignored pixel


def test_single_kind_batch_counts_half_publicly_or_alone_when_dropped():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)
    background = (_ce([2.0, 0.0], 0) + _ce([0.0, 1.0], 0)) / 2
    halved = balanced_seg_loss(logits, torch.tensor([[[0, 0]]]), empty_kind="halve")
    assert math.isclose(halved.item(), 0.5 * background, rel_tol=1e-6)  # the public 0.5 * (bg + 0)
    dropped = balanced_seg_loss(logits, torch.tensor([[[0, 0]]]), empty_kind="drop")
    assert math.isclose(dropped.item(), background, rel_tol=1e-6)


def test_all_ignore_crop_gives_zero_with_grad():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = balanced_seg_loss(logits, torch.full((2, 8, 8), 255))
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_low_resolution_logits_are_upsampled():
    logits = torch.randn(1, 3, 2, 2)
    target = torch.randint(0, 3, (1, 4, 4))
    up = F.interpolate(logits, size=(4, 4), mode="bilinear", align_corners=False)
    assert torch.allclose(balanced_seg_loss(logits, target), balanced_seg_loss(up, target))
