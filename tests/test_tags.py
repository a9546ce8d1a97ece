"""Tests of seco.method.tags: patch tags by pixel counts, global-view tags."""

import pytest
import torch

from seco.method.tags import global_tags, patch_tags

U = -1  # uncertain pixel

# 4x4 tag-mask patches; 16 pixels each
ONE_CLASS = [[3, 3, 0, 0], [3, 3, 0, 0], [3, U, 0, 0], [0, 0, 0, 0]]  # 5/16 fg (0.3125), 1 uncertain
SMALL_OBJECT = [[2, 0, 0, 0], [2, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]  # 3/16 fg (0.1875)
TWO_CLASSES = [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0]]  # 8/16 fg, ids 1 and 2
ALL_BACKGROUND = [[0] * 4] * 4
MOSTLY_UNCERTAIN = [[U] * 4, [U] * 4, [U] * 4, [U, U, 0, 0]]  # 14/16 uncertain, 2/16 certain
HALF_UNCERTAIN = [[U] * 4, [U] * 4, [0] * 4, [0] * 4]  # 8/16 uncertain, 8/16 background
BIG_ID = [[7] * 4] * 4  # one class with a large id: counting, not summing ids


@pytest.mark.parametrize(
    "phi, expected",
    [
        (0.0, [3, 2, U, 0, 0, 0, 7]),  # phi 0: any certain pixel suffices for background
        (0.2, [3, 0, U, 0, U, 0, 7]),
        (0.5, [0, 0, 0, 0, U, U, 7]),  # fg exactly 0.5 is not > phi; certain 0.5 <= phi
    ],
)
def test_patch_tags_on_hand_written_masks(phi, expected):
    patches = [ONE_CLASS, SMALL_OBJECT, TWO_CLASSES, ALL_BACKGROUND, MOSTLY_UNCERTAIN, HALF_UNCERTAIN, BIG_ID]
    masks = torch.tensor(patches)
    tags = patch_tags(masks, phi)
    assert tags.dtype == torch.int64 and tags.tolist() == expected


def test_uncertain_pixels_are_not_foreground_and_decide_only_when_they_dominate():
    # 3 fg pixels of class 1 (0.1875) and 13 uncertain: not enough fg at phi 0.2, too little certain -> -1
    mask = torch.full((1, 4, 4), U)
    mask[0, 0, :3] = 1
    assert patch_tags(mask, 0.2).tolist() == [U]
    # same fg, 12 uncertain and 1 background: certain fraction 4/16 = 0.25 > 0.2 -> background
    mask[0, 3, 3] = 0
    mask[0, 3, 2] = 0
    assert patch_tags(mask, 0.2).tolist() == [0]
    # fully uncertain is -1 for every phi, phi = 0 included
    assert patch_tags(torch.full((1, 4, 4), U), 0.0).tolist() == [U]


def test_patch_tags_boundary_fraction_equal_to_phi_is_background():
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    mask[0, 0] = 5  # exactly 4/16 = 0.25 foreground
    assert patch_tags(mask, 0.25).tolist() == [0]
    assert patch_tags(mask, 0.24).tolist() == [5]


def test_global_tags():
    labels = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    cam = torch.zeros(4, 3, 2, 2)
    cam[0, 2, 0, 0] = 0.9  # only class 3 confident (class 1 present but weak) -> 3
    cam[0, 0, 1, 1] = 0.5
    cam[1, 0, 0, 0] = 0.8  # two confident classes -> -1
    cam[1, 1, 1, 0] = 0.75
    cam[2, 0, 0, 0] = 0.95  # confident but absent from labels; labelled class weak -> -1
    cam[2, 1, 0, 0] = 0.3
    cam[3, 0, 0, 0] = 0.7  # not above threshold: none confident -> -1, never a default id
    assert global_tags(labels, cam, 0.7).tolist() == [3, U, U, U]
