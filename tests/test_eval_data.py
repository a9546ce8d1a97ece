"""Evaluation input: one image size per batch (no padding), the first N images, the model's classes checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import write_image, write_palette_png

from seco.config import Config, load_config
from seco.data import DataError, build_dataset
from seco.evaluation.eval_data import image_batches, same_size_batches, select
from seco.evaluation.evaluate import evaluate
from seco.model import build_model
from seco.report.tables import split_label
from support import TINY_MODEL

SIZES = [(40, 48), (32, 40), (40, 48), (48, 32), (32, 40), (40, 48)]


@pytest.fixture
def mixed_sizes(tmp_path: Path) -> Path:
    """A VOC folder whose six val images come in three sizes, interleaved."""
    root = tmp_path / "VOC"
    names = [f"im{i}" for i in range(len(SIZES))]
    for i, (name, hw) in enumerate(zip(names, SIZES)):
        write_image(root / "JPEGImages" / f"{name}.jpg", hw, i)
        mask = torch.zeros(hw, dtype=torch.uint8)
        mask[4:20, 6:22] = 1 + i % 3
        write_palette_png(root / "SegmentationClass" / f"{name}.png", mask.numpy())
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(names) + "\n")
    return root


def _cfg(root: Path, *extra: str) -> Config:
    return load_config("synthetic", ["data.format=voc", f"data.root={root}", "method.cam.scales=[1.0]",
                                     "eval.seg_scales=[1.0]", *TINY_MODEL, *extra])


def test_batches_hold_one_image_size_in_order_of_first_appearance(mixed_sizes: Path) -> None:
    dataset = build_dataset(_cfg(mixed_sizes).data, "val", train=False)
    assert same_size_batches(dataset, range(6), 2) == [[0, 2], [5], [1, 4], [3]]
    assert same_size_batches(dataset, [1, 0], 8) == [[1], [0]]


def test_batched_evaluation_equals_one_image_at_a_time(mixed_sizes: Path) -> None:
    torch.manual_seed(0)
    net = build_model(_cfg(mixed_sizes).model, 21).eval()
    results = [evaluate(net, _cfg(mixed_sizes, f"eval.batch_size={b}"), "val", progress=False).document["results"]
               for b in (1, 4)]
    for block in ("cam", "mask", "seg"):
        assert results[0][block]["confusion_matrix"] == results[1][block]["confusion_matrix"], block
        assert results[0][block]["num_pixels"] == sum(h * w for h, w in SIZES)


def test_a_limited_evaluation_says_how_many_images_of_how_many(mixed_sizes: Path) -> None:
    cfg = _cfg(mixed_sizes)
    dataset = build_dataset(cfg.data, "val", train=False)
    assert select(dataset, 4).label("val") == "val, first 4 of 6 images" and select(dataset, 0).label("val") == "val"
    net = build_model(cfg.model, 21).eval()
    doc = evaluate(net, cfg, "val", outputs=("seg",), max_images=4, progress=False).document
    assert doc["subset"] == {"first": 4, "of": 6} and doc["meta"]["images"] == 4
    assert split_label(doc) == "val, first 4 of 6 images"


def test_a_model_of_other_classes_is_refused_before_evaluating(mixed_sizes: Path) -> None:
    cfg = _cfg(mixed_sizes)
    net = build_model(cfg.model, 10).eval()
    with pytest.raises(DataError, match=r"trained on 10 classes .* data \(data\.format=voc, data\.root=.*VOC, "
                                        r"split 'val'\) has 21"):
        evaluate(net, cfg, "val", progress=False, class_names=["background", *"abcdefghi"])


def test_skip_drops_a_bad_image_from_the_evaluation_and_counts_it(mixed_sizes: Path) -> None:
    (mixed_sizes / "JPEGImages" / "im2.jpg").write_bytes(b"not a jpeg")
    cfg = _cfg(mixed_sizes, "data.on_error=skip")
    net = build_model(cfg.model, 21).eval()
    evaluation = evaluate(net, cfg, "val", outputs=("seg",), progress=False)
    assert [bad.name for bad in evaluation.skipped] == ["im2"] and "im2.jpg" in evaluation.skipped[0].reason
    assert evaluation.document["meta"] == {"images": 5, "skipped": 1}
    h, w = SIZES[2]
    assert evaluation.scored_pixels == sum(h * w for h, w in SIZES) - h * w


def test_image_batches_skip_empty_batches_and_count_every_sample():
    import io

    from tqdm.auto import tqdm

    from seco.data.skip import BadSample

    bad = [BadSample("a", "a.jpg: corrupt image"), BadSample("b", "b.jpg: corrupt image")]
    loader = [{"name": ["x", "y"], "skipped": []}, {"name": [], "skipped": bad[:1]},
              {"name": ["z"], "skipped": bad[1:]}]
    bar = tqdm(total=5, file=io.StringIO())
    skipped: list[BadSample] = []
    names = [batch["name"] for batch in image_batches(loader, bar, skipped)]
    assert names == [["x", "y"], ["z"]]  # the batch of skipped samples only is not yielded
    assert bar.n == 5 and skipped == bad
    assert [b["name"] for b in image_batches(loader, tqdm(disable=True))] == names  # without a list to fill
