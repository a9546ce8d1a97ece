"""Tests of seco.method.patches: centre sampling and exact patch cropping."""

import pytest
import torch

from seco.method.patches import crop_patches, sample_patch_centres


def test_centres_respect_margin_and_uncertain_mask():
    uncertain = torch.zeros(2, 10, 12, dtype=torch.bool)
    uncertain[0, 0:2, :] = True  # inside the border margin: never drawn
    uncertain[0, 4, 5] = True
    uncertain[0, 6, 8] = True
    uncertain[1, 3:7, 3:9] = True
    centres = sample_patch_centres(uncertain, num=50, margin=2, generator=torch.Generator().manual_seed(0))
    assert centres.shape == (2, 50, 2) and centres.dtype == torch.int64
    assert set(map(tuple, centres[0].tolist())) == {(4, 5), (6, 8)}
    ys, xs = centres[1].unbind(-1)
    assert uncertain[1, ys, xs].all()


def test_centres_fall_back_to_the_central_region():
    uncertain = torch.zeros(2, 8, 8, dtype=torch.bool)
    uncertain[0, 0, 0] = True  # only in the margin -> fallback
    uncertain[1, 4, 4] = True
    centres = sample_patch_centres(uncertain, num=200, margin=3, generator=torch.Generator().manual_seed(1))
    assert centres[0].min() >= 3 and centres[0].max() < 5
    assert len(set(map(tuple, centres[0].tolist()))) == 4  # the whole 2x2 central region is reachable
    assert set(map(tuple, centres[1].tolist())) == {(4, 4)}


def test_centres_are_deterministic_given_a_generator():
    uncertain = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.5
    first = sample_patch_centres(uncertain, 10, 4, torch.Generator().manual_seed(7))
    again = sample_patch_centres(uncertain, 10, 4, torch.Generator().manual_seed(7))
    other = sample_patch_centres(uncertain, 10, 4, torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_margin_too_large_is_an_error():
    with pytest.raises(ValueError):
        sample_patch_centres(torch.ones(1, 6, 6, dtype=torch.bool), 2, 3)


def test_crop_patches_equals_manual_slicing():
    images = torch.arange(2 * 3 * 6 * 7, dtype=torch.float32).view(2, 3, 6, 7)
    centres = torch.tensor([[[3, 3], [0, 0]], [[5, 6], [2, 4]]])
    patches = crop_patches(images, centres, size=4)
    assert patches.shape == (4, 3, 4, 4)
    assert torch.equal(patches[0], images[0, :, 1:5, 1:5])  # centred: rows 3-2 .. 3+1
    assert torch.equal(patches[1], images[0, :, 0:4, 0:4])  # clamped at the top-left
    assert torch.equal(patches[2], images[1, :, 2:6, 3:7])  # clamped at the bottom-right
    assert torch.equal(patches[3], images[1, :, 0:4, 2:6])


def test_crop_patches_of_integer_masks_and_padding():
    masks = torch.tensor([[[0, 1, 2], [3, 4, 5], [-1, 7, 255]]])
    same = crop_patches(masks, torch.tensor([[[1, 1]]]), size=2)
    assert same.dtype == masks.dtype and torch.equal(same[0], masks[0, 0:2, 0:2])
    padded = crop_patches(masks, torch.tensor([[[1, 1]]]), size=4, fill=255)
    expected = torch.full((4, 4), 255)
    expected[:3, :3] = masks[0]
    assert padded.shape == (1, 4, 4) and torch.equal(padded[0], expected)


def test_centres_stay_out_of_the_crop_padding() -> None:
    uncertain = torch.ones(2, 12, 12, dtype=torch.bool)
    valid = torch.zeros(2, 12, 12, dtype=torch.bool)
    valid[0, :6, :6] = True  # image 0: content only in the top-left corner
    valid[1] = True
    gen = torch.Generator().manual_seed(0)
    centres = sample_patch_centres(uncertain, 50, 2, gen, valid)
    assert bool((centres[0] < 6).all()) and bool((centres[0] >= 2).all())
    assert int(centres[1].max()) >= 6  # the full image still spreads over the central region
    no_uncertain = sample_patch_centres(torch.zeros_like(uncertain), 50, 2, gen, valid)
    assert bool((no_uncertain[0] < 6).all())
