"""The pretraining set: determinism, class balance, contexts independent of classes, no benchmark images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chi2_contingency, chisquare

from seco.synthetic.draw import Canvas, frame
from seco.synthetic.pretrain_scenes import PRETRAIN_CLASSES, PRETRAIN_DRAWERS, render_pretrain_scene
from seco.synthetic.pretrain_set import PretrainSet
from seco.synthetic.scenes import CLASSES, render_scene
from seco.synthetic.shapes import DRAWERS

SAMPLE = 900
SIZE = 48


def _presence(render, classes: tuple[str, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(images, classes) and (images, contexts water/rails/sky) presence from ``SAMPLE`` small renders."""
    objects = np.zeros((SAMPLE, len(classes) - 1), bool)
    contexts = np.zeros((SAMPLE, 3), bool)
    for i in range(SAMPLE):
        canvas = render(np.random.default_rng([seed, i]), SIZE)
        objects[i, np.unique(canvas.label)[1:] - 1] = True
        contexts[i, np.unique(canvas.context)[1:] - 1] = True
    return objects, contexts


def _independence_p(objects: np.ndarray, present: np.ndarray) -> float:
    """Chi-square p-value of "class counts do not depend on whether a context is present"."""
    table = np.stack([objects[present].sum(0), objects[~present].sum(0)])
    return float(chi2_contingency(table[:, table.min(0) > 0])[1])


@pytest.fixture(scope="module")
def pretrain_sample() -> tuple[np.ndarray, np.ndarray]:
    return _presence(render_pretrain_scene, PRETRAIN_CLASSES, seed=11)


def test_many_classes_including_the_benchmarks_objects() -> None:
    assert PRETRAIN_CLASSES[0] == "background"
    assert set(CLASSES[1:]) <= set(PRETRAIN_CLASSES)
    assert len(PRETRAIN_CLASSES) - 1 >= 3 * (len(CLASSES) - 1)
    assert len(set(PRETRAIN_CLASSES)) == len(PRETRAIN_CLASSES)


@pytest.mark.parametrize("name", [n for n in PRETRAIN_CLASSES[1:] if n not in DRAWERS])
def test_each_new_shape_draws_inside_its_box(name: str) -> None:
    canvas = Canvas(64)
    f = frame(64, 8.0, 12.0, 40.0, 36.0)
    for region, colour in PRETRAIN_DRAWERS[name](f, np.random.default_rng(0)):
        canvas.paint(region, colour, label=1)
    rows, cols = np.nonzero(canvas.label)
    assert rows.size > 0.15 * 40 * 36, f"{name} covers too little of its box"
    assert rows.min() >= 8 and rows.max() < 48 and cols.min() >= 12 and cols.max() < 48


def test_same_seed_same_images_other_seed_other_images() -> None:
    first, again, other = PretrainSet(5, "train", 3, SIZE), PretrainSet(5, "train", 3, SIZE), PretrainSet(6, "train", 3)
    for i in range(3):
        for key in ("image", "labels", "mask", "context"):
            assert torch.equal(first[i][key], again[i][key])
    assert not torch.equal(first[0]["image"], PretrainSet(6, "train", 3, SIZE)[0]["image"])
    assert other[0]["image"].shape == (3, 96, 96)
    assert not torch.equal(first[0]["image"], PretrainSet(5, "val", 3, SIZE)[0]["image"])


def test_items_agree_with_their_masks() -> None:
    data = PretrainSet(0, "val", 20, SIZE)
    for i in range(len(data)):
        item = data[i]
        ids = torch.unique(item["mask"].long())
        assert torch.equal(torch.nonzero(item["labels"]).flatten() + 1, ids[ids > 0])
        assert item["image"].dtype == torch.float32 and 0.0 <= item["image"].min() <= item["image"].max() <= 1.0
        assert int(item["context"].max()) < len(data.context_names)
    with pytest.raises(IndexError):
        data[20]


def test_no_benchmark_image_is_drawn_again() -> None:
    benchmark = {render_scene(np.random.default_rng([0, split, i]), SIZE).to_uint8().tobytes()
                 for split in (0, 1) for i in range(50)}
    for split in ("train", "val"):
        data = PretrainSet(0, split, 50, SIZE)
        for i in range(50):
            image = (data[i]["image"].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            assert image.tobytes() not in benchmark


def test_classes_are_balanced(pretrain_sample: tuple[np.ndarray, np.ndarray]) -> None:
    objects, _ = pretrain_sample
    counts = objects.sum(0)
    assert counts.min() > 0
    assert chisquare(counts)[1] > 1e-3, counts


def test_contexts_are_common_and_predict_no_class(pretrain_sample: tuple[np.ndarray, np.ndarray]) -> None:
    objects, contexts = pretrain_sample
    for k, name in enumerate(("water", "rails", "sky")):
        assert 0.1 < contexts[:, k].mean() < 0.6, name
        assert _independence_p(objects, contexts[:, k]) > 1e-3, name


def test_the_independence_check_does_catch_the_benchmarks_shortcut() -> None:
    objects, contexts = _presence(render_scene, CLASSES, seed=11)
    for k in range(3):
        assert _independence_p(objects, contexts[:, k]) < 1e-6


def test_every_nth_batch_is_of_mosaics_whose_tile_labels_match_their_quadrants() -> None:
    data = PretrainSet(3, "train", 12, SIZE, mosaic_every=2, batch_size=3)
    assert [data.grid(i) for i in range(12)] == [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]
    half = SIZE // 2
    for i in (3, 4, 10):
        item = data[i]
        assert item["image"].shape == (3, SIZE, SIZE) and item["tile_labels"].shape == (4, len(PRETRAIN_CLASSES) - 1)
        assert torch.equal(item["labels"], item["tile_labels"].amax(0))
        for tile, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            ids = torch.unique(item["mask"][r * half:(r + 1) * half, c * half:(c + 1) * half].long())
            assert torch.equal(torch.nonzero(item["tile_labels"][tile]).flatten() + 1, ids[ids > 0])
    plain = PretrainSet(3, "train", 12, SIZE)
    for i in (0, 7):  # the full-size batches are the very images of a run without mosaics
        assert data[i]["tile_labels"].shape[0] == 1
        for key in ("image", "labels", "mask", "context"):
            assert torch.equal(data[i][key], plain[i][key])


def test_mosaics_need_an_even_image_size() -> None:
    with pytest.raises(ValueError, match="divisible by 2"):
        PretrainSet(0, "train", 4, 49, mosaic_every=1)
