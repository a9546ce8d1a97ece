"""Tests of seco.method.patches: centre sampling and exact patch cropping."""

import pytest
import torch

from seco.method.patches import crop_patches, sample_patch_centres


def test_centres_are_distinct_uncertain_pixels_of_the_central_region():
    uncertain = torch.zeros(2, 10, 12, dtype=torch.bool)
    uncertain[0, 0:2, :] = True  # inside the border margin: never drawn
    uncertain[0, 4, 4:8] = True
    uncertain[0, 6, 8] = True
    uncertain[1, 3:7, 3:9] = True
    centres = sample_patch_centres(uncertain, num=5, margin=2, generator=torch.Generator().manual_seed(0))
    assert centres.shape == (2, 5, 2) and centres.dtype == torch.int64
    assert set(map(tuple, centres[0].tolist())) == {(4, 4), (4, 5), (4, 6), (4, 7), (6, 8)}
    ys, xs = centres[1].unbind(-1)
    assert uncertain[1, ys, xs].all() and len(set(map(tuple, centres[1].tolist()))) == 5


def test_too_few_uncertain_pixels_fall_back_to_the_whole_central_region():
    """The public rule: fewer uncertain pixels than patches -> any central pixel (padding included)."""
    uncertain = torch.zeros(1, 8, 8, dtype=torch.bool)
    uncertain[0, 4, 4] = True
    centres = sample_patch_centres(uncertain, num=4, margin=3, generator=torch.Generator().manual_seed(1))
    assert sorted(map(tuple, centres[0].tolist())) == [(3, 3), (3, 4), (4, 3), (4, 4)]


def test_centres_are_deterministic_given_a_generator():
    uncertain = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.5
    first = sample_patch_centres(uncertain, 10, 4, torch.Generator().manual_seed(7))
    again = sample_patch_centres(uncertain, 10, 4, torch.Generator().manual_seed(7))
    other = sample_patch_centres(uncertain, 10, 4, torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_centres_are_uniform_over_the_candidates():
    uncertain = torch.zeros(4000, 6, 6, dtype=torch.bool)
    uncertain[:, 2:4, 2:4] = True  # 4 candidates, 2 drawn per image: each pixel in half the images
    centres = sample_patch_centres(uncertain, 2, 1, torch.Generator().manual_seed(0))
    counts = torch.bincount((centres[..., 0] * 6 + centres[..., 1]).flatten(), minlength=36)
    chosen = counts[[14, 15, 20, 21]].float() / 4000
    assert torch.allclose(chosen, torch.full((4,), 0.5), atol=0.03) and counts.sum() == 8000


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
    """centres.content: uncertain content, then any content, then the central region."""
    uncertain = torch.zeros(3, 12, 12, dtype=torch.bool)
    uncertain[:, 2:10, 2:10] = True
    valid = torch.zeros(3, 12, 12, dtype=torch.bool)
    valid[0, :6, :6] = True  # 16 uncertain content pixels in the central region
    valid[1, :4, :4] = True  # 4: too few uncertain -> all content (also 4) -> central region
    valid[2] = True
    gen = torch.Generator().manual_seed(0)
    centres = sample_patch_centres(uncertain, 5, 2, gen, valid)
    assert bool((centres[0] < 6).all()) and bool((centres[0] >= 2).all())
    assert int(centres[1].max()) >= 4  # fell back to the central region
    no_uncertain = sample_patch_centres(torch.zeros_like(uncertain), 5, 2, gen, valid)
    assert bool((no_uncertain[0] < 6).all())  # any content pixel of image 0
