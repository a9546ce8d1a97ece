"""Tests of seco.method.cam: normalisation, multi-scale flipped CAMs, CAM masks."""

import torch
import torch.nn.functional as F

from seco.method.cam import cams_to_mask, multiscale_cams, normalize_cams, with_background


def test_normalize_cams_min_max_per_class_and_masked():
    cams = torch.tensor([[[[-1.0, 0.0], [1.0, 3.0]], [[2.0, 2.0], [4.0, 6.0]]]])  # (1,2,2,2)
    out = normalize_cams(cams, torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.0, 0.0], [1 / 3, 1.0]]) * 3 / (3 + 1e-5))
    torch.testing.assert_close(out[0, 1], torch.tensor([[0.0, 0.0], [0.5, 1.0]]) * 4 / (4 + 1e-5))
    absent = normalize_cams(cams, torch.tensor([[0.0, 1.0]]))
    assert absent[0, 0].abs().sum() == 0
    torch.testing.assert_close(absent[0, 1], out[0, 1])


def _toy_cam_fn(calls):
    """Two fixed 1x1 convs at stride-2 'token' resolution, ReLU'd; records batch sizes."""
    weight = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0], [0.5, 0.5, 0.5]])[:, :, None, None]

    def cam_fn(images):
        calls.append(images.shape)
        tokens = F.avg_pool2d(images, 2)
        return F.conv2d(tokens, weight), -F.conv2d(tokens, weight)

    return cam_fn


def test_multiscale_cams_shape_range_labels_and_batched_flip():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 8, 8, generator=generator)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    calls = []
    cam, cam_aux = multiscale_cams(_toy_cam_fn(calls), images, labels, [1.0, 0.5, 1.5], flip=True, out_size=(12, 12))
    assert [c[0] for c in calls] == [4, 4, 4]  # image and flip in one call per scale
    assert [tuple(c[-2:]) for c in calls] == [(8, 8), (4, 4), (12, 12)]
    for out in (cam, cam_aux):
        assert out.shape == (2, 3, 12, 12)
        assert out.min() >= 0 and out.max() <= 1
        assert (out * (1 - labels)[:, :, None, None]).abs().sum() == 0
    present = cam.flatten(2).amax(2)[labels > 0]
    assert torch.all(present > 0.99)


def test_multiscale_cams_flip_is_folded_back():
    """A CAM fn that always marks column 0: the flipped view's CAM lands on the last column."""
    def cam_fn(images):
        cam = torch.zeros(images.shape[0], 1, *images.shape[-2:])
        cam[..., 0] = 1.0
        return cam, 2 * cam

    images = torch.zeros(1, 3, 4, 4)
    cam, cam_aux = multiscale_cams(cam_fn, images, torch.ones(1, 1), [1.0], flip=True)
    expected = torch.tensor([1.0, 0.0, 0.0, 1.0]).expand(4, 4) / (1 + 1e-5)
    torch.testing.assert_close(cam[0, 0], expected)
    torch.testing.assert_close(cam_aux[0, 0], expected * (1 + 1e-5) * 2 / (2 + 1e-5))
    no_flip, _ = multiscale_cams(cam_fn, images, torch.ones(1, 1), [1.0], flip=False)
    torch.testing.assert_close(no_flip[0, 0], torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(4, 4) / (1 + 1e-5))


def test_cams_to_mask_background_threshold_and_labels():
    cam = torch.tensor([[[[0.9, 0.2], [0.6, 0.0]], [[0.1, 0.8], [0.7, 0.0]]]])
    mask = cams_to_mask(cam, torch.tensor([[1.0, 1.0]]), bkg_thr=0.5)
    assert mask.tolist() == [[[1, 2], [2, 0]]]
    mask = cams_to_mask(cam, torch.tensor([[1.0, 0.0]]), bkg_thr=0.5)
    assert mask.dtype == torch.int64 and mask.tolist() == [[[1, 0], [1, 0]]]


def test_with_background_prepends_a_constant_channel():
    cam = torch.rand(2, 3, 4, 5)
    scores = with_background(cam, 0.45)
    assert scores.shape == (2, 4, 4, 5)
    assert scores[:, 0].eq(0.45).all() and torch.equal(scores[:, 1:], cam)


def _fixed(maps: torch.Tensor):
    return lambda images: (maps, maps)


def test_relu_before_or_after_upsampling():
    """Raw map [-2, 2] upsampled to 4 columns is [-2, -1, 1, 2]: ReLU after gives [0, 0, 1, 2] (public),
    ReLU before gives [0, 2] -> [0, 0.5, 1.5, 2]; both are then divided by their max."""
    raw = torch.tensor([[[[-2.0, 2.0]]]])
    one = torch.ones(1, 1)
    after, _ = multiscale_cams(_fixed(raw), torch.zeros(1, 3, 1, 4), one, [1.0], False, (1, 4), "max", True)
    before, _ = multiscale_cams(_fixed(raw), torch.zeros(1, 3, 1, 4), one, [1.0], False, (1, 4), "max", False)
    torch.testing.assert_close(after[0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 2.0]) / (2 + 1e-5))
    torch.testing.assert_close(before[0, 0, 0], torch.tensor([0.0, 0.5, 1.5, 2.0]) / (2 + 1e-5))


def test_flip_pairs_merge_by_max_or_sum():
    """View [4, 1, 0], mirror (flipped back) [0, 1, 0]: max [4, 1, 0] (public), sum [4, 2, 0]."""
    raw = torch.tensor([[[[4.0, 1.0, 0.0]]], [[[0.0, 1.0, 0.0]]]])  # the mirror's map is its own flip
    one = torch.ones(1, 1)
    by_max, _ = multiscale_cams(_fixed(raw), torch.zeros(1, 3, 1, 3), one, [1.0], True, None, "max", True)
    by_sum, _ = multiscale_cams(_fixed(raw), torch.zeros(1, 3, 1, 3), one, [1.0], True, None, "sum", False)
    torch.testing.assert_close(by_max[0, 0, 0], torch.tensor([1.0, 0.25, 0.0]) * 4 / (4 + 1e-5))
    torch.testing.assert_close(by_sum[0, 0, 0], torch.tensor([1.0, 0.5, 0.0]) * 4 / (4 + 1e-5))


def test_inference_cams_take_eval_scales_and_flip_where_set_else_the_training_steps():
    import pytest

    from seco.config import ConfigError, load_config
    from seco.evaluation.inference import inference_cam_config

    cfg = load_config("synthetic", ["method.cam.scales=[1.0]", "method.cam.flip=false", "eval.cam_scales=[]",
                                    "eval.cam_flip=null"])
    same = inference_cam_config(cfg)
    assert same.scales == [1.0] and same.flip is False and same.bkg_thr == cfg.method.cam.bkg_thr
    paper = inference_cam_config(load_config("synthetic", ["method.cam.scales=[1.0]", "method.cam.flip=false",
                                                           "eval.cam_scales=[1.0,0.5]", "eval.cam_flip=true"]))
    assert paper.scales == [1.0, 0.5] and paper.flip is True
    unflipped = inference_cam_config(load_config("voc", ["eval.cam_flip=false"]))
    assert unflipped.flip is False and unflipped.scales == [1.0, 0.5, 0.75, 1.5]
    with pytest.raises(ConfigError, match="eval.cam_scales"):
        load_config("synthetic", ["eval.cam_scales=[1.0,-0.5]"])
