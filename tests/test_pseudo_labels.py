"""Tests of seco.method.pseudo_labels: segmentation pseudo labels, aux label map, tag mask."""

import pytest
import torch

from seco.method.cam import with_background
from seco.method.par import PAR
from seco.method.pseudo_labels import (
    aux_label_map,
    crop_mask,
    refine_scores,
    segmentation_pseudo_labels,
    tag_mask,
)

HIGH, LOW = 0.7, 0.25


def _toy_cam() -> torch.Tensor:
    """(1,2,4,4) CAMs: class 1 confident top-left, class 2 confident bottom-right, a middle band."""
    cam = torch.zeros(1, 2, 4, 4)
    cam[0, 0, :2, :2] = 0.9
    cam[0, 1, 2:, 2:] = 0.8
    cam[0, 0, :2, 2:] = 0.5  # between low and high: the two maps disagree
    cam[0, 1, 2:, :2] = 0.1  # below low: background in both maps
    return cam


def test_crop_mask():
    mask = crop_mask(torch.tensor([[1, 3, 0, 2], [0, 4, 0, 4]]), 4, 4)
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[1:3, 0:2] = True
    assert torch.equal(mask[0], expected) and mask[1].all()


def test_pseudo_labels_agreement_rule_without_par():
    full_box = torch.tensor([[0, 4, 0, 4]])
    labels = segmentation_pseudo_labels(_toy_cam(), torch.rand(1, 3, 4, 4), full_box, HIGH, LOW, par=None)
    assert labels.dtype == torch.int64
    assert labels[0].tolist() == [
        [1, 1, 255, 255],
        [1, 1, 255, 255],
        [0, 0, 2, 2],
        [0, 0, 2, 2],
    ]


def test_pseudo_labels_outside_crop_is_ignored():
    box = torch.tensor([[0, 3, 1, 4]])
    labels = segmentation_pseudo_labels(_toy_cam(), torch.rand(1, 3, 4, 4), box, HIGH, LOW, par=None)
    assert labels[0].tolist() == [
        [255, 1, 255, 255],
        [255, 1, 255, 255],
        [255, 0, 2, 2],
        [255, 255, 255, 255],
    ]


def test_absent_classes_never_win():
    cam = _toy_cam()
    box = torch.tensor([[0, 4, 0, 4]])
    only_first = torch.tensor([[1.0, 0.0]])
    labels = segmentation_pseudo_labels(cam, torch.rand(1, 3, 4, 4), box, HIGH, LOW, None, labels=only_first)
    assert not labels.eq(2).any() and labels[0, :2, :2].eq(1).all()


def test_par_refinement_fills_a_uniform_region_at_half_resolution():
    rgb = torch.zeros(1, 3, 12, 12)
    rgb[..., :6] = torch.tensor([0.9, 0.2, 0.1])[:, None, None]
    rgb[..., 6:] = torch.tensor([0.1, 0.4, 0.9])[:, None, None]
    cam = torch.zeros(1, 2, 12, 12)
    cam[0, 0, :, :6] = 0.95
    cam[0, 0, 4:8, 2:4] = 0.5  # uncertain hole inside the object's uniform region
    cam[0, 1, :, 6:] = 0.05
    box = torch.tensor([[0, 12, 0, 12]])
    par = PAR(dilations=[1, 2, 4], num_iter=10)
    unrefined = segmentation_pseudo_labels(cam, rgb, box, HIGH, LOW, par=None)
    refined = segmentation_pseudo_labels(cam, rgb, box, HIGH, LOW, par=par, downscale=2)
    assert unrefined[0, 4:8, 2:4].eq(255).all()
    assert refined.shape == (1, 12, 12)
    assert refined[0, :, :5].eq(1).all() and refined[0, :, 7:].eq(0).all()


def test_refine_scores_masks_absent_channels_and_keeps_probabilities():
    generator = torch.Generator().manual_seed(0)
    scores = with_background(torch.rand(2, 3, 8, 8, generator=generator), 0.5)
    present = torch.tensor([[True, True, False, True], [True, False, False, False]])
    rgb = torch.rand(2, 3, 8, 8, generator=generator)
    for par in (None, PAR(dilations=[1, 2], num_iter=3)):
        probs = refine_scores(scores, rgb, present, par, downscale=2)
        assert probs.shape == (2, 4, 8, 8)
        torch.testing.assert_close(probs.sum(1), torch.ones(2, 8, 8))
        assert probs[0, 2].abs().max() == 0 and probs[1, 1:].abs().max() == 0
    unrefined = refine_scores(scores, rgb, present, None)
    torch.testing.assert_close(unrefined[0, [0, 1, 3]], scores[0, [0, 1, 3]].softmax(0))


@pytest.mark.parametrize("size", [(16, 12), (96, 96)])
def test_maps_of_one_image_share_its_affinity_and_match_one_batch(size):
    """Two score maps per image (G, B, C, H, W) share the resized image and PAR's affinity, and match one call on
    the 2B maps with the image repeated (the layout before; 16 x 12 takes the CPU's other resize kernel). Within
    float rounding: on several threads the softmax of B images' affinities may round a last bit otherwise than that
    of 2B (bitwise equal on one thread)."""
    generator = torch.Generator().manual_seed(3)
    cam = torch.rand(5, 3, *size, generator=generator)
    rgb = torch.rand(5, 3, *size, generator=generator)
    present = torch.rand(5, 4, generator=generator) > 0.4
    present[:, 0] = True
    scores = torch.stack([with_background(cam, HIGH), with_background(cam, LOW)])
    for par in (None, PAR(dilations=[1, 2, 4], num_iter=5)):
        together = refine_scores(scores, rgb, present, par, downscale=2)
        batched = refine_scores(scores.flatten(0, 1), rgb.repeat(2, 1, 1, 1), present.repeat(2, 1), par, downscale=2)
        assert together.shape == (2, 5, 4, *size)
        torch.testing.assert_close(together.flatten(0, 1), batched, rtol=1e-6, atol=1e-7)
        if torch.get_num_threads() == 1:
            assert torch.equal(together.flatten(0, 1), batched)


def test_pseudo_labels_batched_per_image_boxes():
    cam = torch.cat([_toy_cam(), _toy_cam().flip(-1)])
    boxes = torch.tensor([[0, 4, 0, 4], [0, 2, 0, 4]])
    labels = segmentation_pseudo_labels(cam, torch.rand(2, 3, 4, 4), boxes, HIGH, LOW, par=None)
    single = segmentation_pseudo_labels(cam[1:], torch.rand(1, 3, 4, 4), boxes[1:], HIGH, LOW, par=None)
    assert torch.equal(labels[1], single[0]) and labels[1, 2:].eq(255).all()


def test_aux_label_map_and_tag_mask_thresholds():
    cam = torch.tensor([[[[0.9, 0.7, 0.5], [0.25, 0.1, 0.0]], [[0.0, 0.0, 0.6], [0.0, 0.0, 0.8]]]])
    box = torch.tensor([[0, 2, 0, 3]])
    assert aux_label_map(cam, box, HIGH, LOW)[0].tolist() == [[1, 255, 255], [0, 0, 2]]
    assert tag_mask(cam, HIGH, LOW, box)[0].tolist() == [[1, -1, -1], [0, 0, 2]]
    cropped = torch.tensor([[1, 2, 0, 2]])
    assert aux_label_map(cam, cropped, HIGH, LOW)[0].tolist() == [[255, 255, 255], [0, 0, 255]]
    assert tag_mask(cam, HIGH, LOW, cropped)[0].tolist() == [[255, 255, 255], [0, 0, 255]]
