"""Tests of seco.method.tags: patch tags by the paper's and the public code's rules, global-view tags."""

import pytest
import torch

from seco.method.tags import global_tags, patch_tags, patch_tags_public, present_classes, tag_agreement

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


def test_outside_crop_pixels_are_neither_certain_nor_foreground_under_the_paper_rule():
    outside = torch.full((1, 4, 4), 255)
    outside[0, 0, :3] = 0  # 3/16 background, the rest outside the crop
    assert patch_tags(outside, 0.2).tolist() == [U]
    outside[0, 1, :2] = 0  # 5/16 background now
    assert patch_tags(outside, 0.2).tolist() == [0]


def test_present_classes_ignores_uncertain_background_and_outside():
    mask = torch.tensor([[[2, -1], [0, 255]], [[-1, 0], [0, 0]], [[1, 3], [3, 0]]])
    assert present_classes(mask, 3).tolist() == [[False, True, False], [False, False, False], [True, False, True]]


def test_global_tags_paper_and_public():
    present = torch.tensor([[False, False, True], [True, True, False], [False, False, False]])
    assert global_tags(present, "paper").tolist() == [3, U, U]
    assert global_tags(present, "public").tolist() == [3, U, 1]  # the public default flag is class 1


def _one_patch(mask: torch.Tensor, phi: float = 0.2) -> tuple[list[int], list[int]]:
    """Tags of the whole (1, s, s) mask as one patch: (public rule, paper rule)."""
    size = mask.shape[-1]
    centre = torch.tensor([[[size // 2, size // 2]]])
    public = patch_tags_public(mask, present_classes(mask, 20), centre, size, phi)
    return public.tolist(), patch_tags(mask, phi).tolist()


def test_the_issue_example_uncertain_pixels_count_as_target_only_in_the_public_rule():
    """10 % class 3, 60 % uncertain, 30 % background: public 3, paper 0 (fg 0.1 <= phi, certain 0.4 > phi)."""
    mask = torch.zeros(1, 10, 10, dtype=torch.long)
    mask.view(-1)[:10] = 3
    mask.view(-1)[10:70] = U
    assert _one_patch(mask) == ([3], [0])


def test_the_public_background_test_sums_class_ids():
    """5 % of class 15: ids sum to 0.05 * 15 = 0.75 > phi, so public says 15; pixel counting says background."""
    mask = torch.zeros(1, 10, 10, dtype=torch.long)
    mask.view(-1)[:5] = 15
    assert _one_patch(mask) == ([15], [0])
    mask = torch.zeros(1, 10, 10, dtype=torch.long)
    mask.view(-1)[:15] = 1  # 15 % of class 1: 0.15 <= 0.2 either way
    assert _one_patch(mask) == ([0], [0])


def test_the_public_rule_counts_outside_crop_pixels_as_background():
    mask = torch.full((1, 10, 10), 255)
    mask.view(-1)[:10] = 0  # 10 % background, 90 % outside the crop
    assert _one_patch(mask) == ([0], [U])


def test_the_public_rule_fills_uncertain_pixels_with_the_only_confident_class():
    """Image 0 has one confident class (2): its uncertain pixels take class 2 (left patch -> 2); its right
    patch holds one pixel of 2, ids summing to 2/16 <= phi (-> 0). Image 1 has two classes: uncertain
    pixels stay uncertain (left -> -1) and a patch with ids 2 and 1 summing to 9/16 is -1."""
    mask = torch.zeros(2, 4, 8, dtype=torch.long)
    mask[0, :, :4] = U
    mask[0, 0, 7] = 2
    mask[1, :, :4] = U
    mask[1, 0, 4:8] = 2
    mask[1, 3, 7] = 1
    centres = torch.tensor([[[2, 2], [2, 6]], [[2, 2], [2, 6]]])
    tags = patch_tags_public(mask, present_classes(mask, 3), centres, 4, 0.2)
    assert tags.tolist() == [2, 0, U, U]  # image 1, right patch: ids 2 and 1 -> -1


def test_tag_agreement_splits_the_confident_patches_by_kind_of_error():
    tags = torch.tensor([3, 0, 2, 2, 0, U, 1, 4])
    truth = torch.tensor([3, 0, 0, 1, 2, 3, U, 4])
    # compared (both confident): indices 0-4 and 7 -> 6 patches
    shares = tag_agreement(tags, truth)
    assert shares["tag_agreement_gt"].item() == pytest.approx(3 / 6)  # 3=3, 0=0, 4=4
    assert shares["tag_false_class"].item() == pytest.approx(1 / 6)  # 2 where the truth says background
    assert shares["tag_false_background"].item() == pytest.approx(1 / 6)  # 0 where the truth says 2
    assert shares["tag_wrong_class"].item() == pytest.approx(1 / 6)  # 2 where the truth says 1
    kinds = ("tag_agreement_gt", "tag_false_class", "tag_false_background", "tag_wrong_class")
    assert sum(shares[k].item() for k in kinds) == pytest.approx(1.0)
    # tagged a class, truth confident: indices 0 (3=3), 2 (2, truth 0), 3 (2, truth 1), 7 (4=4); index 6 has no truth
    assert shares["tag_class_precision"].item() == pytest.approx(2 / 4)
    assert torch.isnan(tag_agreement(torch.tensor([U, 1]), torch.tensor([2, U]))["tag_agreement_gt"])
    assert torch.isnan(tag_agreement(torch.tensor([0, 0]), torch.tensor([0, 2]))["tag_class_precision"])


def test_confident_class_tags_keep_a_class_only_where_the_confident_mask_covers_more_than_phi():
    from seco.method.tags import confident_class_tags

    # confident masks (the tag mask at the stricter threshold) of four patches, 16 pixels each
    strict = torch.tensor([
        [[3, 3, 0, 0], [3, 3, 0, 0], [U, U, 0, 0], [0, 0, 0, 0]],  # 4/16 = 0.25 of class 3 > 0.2: kept
        [[3, 3, 0, 0], [3, U, 0, 0], [U, U, 0, 0], [0, 0, 0, 0]],  # 3/16 = 0.1875 <= 0.2: -> uncertain
        [[2, 2, 2, 2], [2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],  # 5/16 of class 2, but the tag is 1: -> uncertain
        [[U] * 4] * 4,  # background and uncertain tags are never touched
    ])
    tags = torch.tensor([3, 3, 1, 0])
    assert confident_class_tags(tags, strict, 0.2).tolist() == [3, U, U, 0]
    assert confident_class_tags(torch.tensor([U, 0, U, 0]), strict, 0.2).tolist() == [U, 0, U, 0]
    # phi 0.25: 4/16 is no longer more than phi
    assert confident_class_tags(tags, strict, 0.25).tolist() == [U, U, U, 0]
