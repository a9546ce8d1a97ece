"""seco explain: patches embedded and tagged, the figure written for a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seco.cli import main
from seco.evaluation.eval_data import eval_dataset
from seco.evaluation.inference import predict_scores
from seco.evaluation.trained import load_trained
from seco.tools.explain import _read_inputs, explain_cams, find_mask, grid_boxes, image_tensor, patch_view


def test_grid_boxes_cover_every_pixel_once() -> None:
    boxes = grid_boxes(10, 7, 3)
    covered = np.zeros((10, 7), int)
    for y0, y1, x0, x1 in boxes:
        covered[y0:y1, x0:x1] += 1
    assert len(boxes) == 9 and (covered == 1).all()


def test_patch_view_tags_from_the_mask_and_from_cams(tiny_checkpoint: Path) -> None:
    trained = load_trained(tiny_checkpoint)
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:32, :32] = 3      # patch 1 all class 3
    mask[32:, 32:] = 255    # patch 4 all ignore
    mask[:32, 32:48] = 5    # patch 2 half class 5
    mask[:32, 48:] = 6      #         half class 6: mixed
    view = patch_view(trained, rgb, 2, mask)
    assert view.tag_source == "ground truth"
    assert view.tags.tolist() == [3, -1, 0, -1]
    assert view.embeddings.shape == (4, trained.net.projector.mlp[-1].out_features)
    assert np.allclose(np.linalg.norm(view.embeddings, axis=1), 1.0, atol=1e-4)
    assert view.similarity.shape == (4, len(trained.prototypes)) and len(trained.prototypes) > 0
    assert np.abs(view.similarity).max() <= 1.0 + 1e-5
    from_cams = patch_view(trained, rgb, 2)
    assert from_cams.tag_source == "CAM" and from_cams.tags.shape == (4,)
    assert np.allclose(from_cams.embeddings, view.embeddings)


def test_explain_writes_its_figure(tiny_checkpoint: Path, synthetic_root: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    name = (synthetic_root / "ImageSets" / "Segmentation" / "val.txt").read_text().split()[0]
    image = next((synthetic_root / "JPEGImages").glob(f"{name}.*"))
    assert find_mask(image, "SegmentationClass") == synthetic_root / "SegmentationClass" / f"{name}.png"
    out = tmp_path / "fig.png"
    assert main(["explain", str(image), "--checkpoint", str(tiny_checkpoint), "--baseline", str(tiny_checkpoint),
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as figure:
        assert figure.format == "PNG" and figure.width > 3 * figure.height / 2  # image + two views side by side


def test_explain_names_a_mask_of_the_wrong_size(tiny_checkpoint: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    image, mask = tmp_path / "x.png", tmp_path / "m.png"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(image)
    Image.fromarray(np.zeros((30, 50), np.uint8)).save(mask)
    assert main(["explain", str(image), "--checkpoint", str(tiny_checkpoint), "--mask", str(mask)]) == 1
    assert "m.png" in capsys.readouterr().err


def test_explain_and_evaluate_draw_identical_cams(tiny_checkpoint: Path) -> None:
    """Issue 25: explain drew CAMs at the training step's method.cam.scales (one scale, no flip, for the
    synthetic config) while evaluate uses eval.cam_scales with flips. Both now go through one inference."""
    trained = load_trained(tiny_checkpoint)
    cfg = trained.cfg
    assert list(cfg.eval.cam_scales) != list(cfg.method.cam.scales)  # the two inferences would differ
    dataset = eval_dataset(cfg, cfg.eval.split, trained.class_names)
    item = dataset[0]
    rgb, _ = _read_inputs(dataset.records[0].image, None, len(trained.class_names), cfg.eval.max_side)
    image = image_tensor(rgb, "cpu")
    assert torch.equal(image, item["image"][None])  # explain reads the very pixels evaluate reads
    cams, labels = explain_cams(trained, image)
    evaluated = predict_scores(trained.net, item["image"][None], labels, None, cfg, ("cam",))["cam"]
    assert labels.sum() >= 1 and cams.abs().sum() > 0
    assert torch.equal(cams, evaluated[:, 1:])  # channel 0 is evaluate's constant background score


def test_explain_says_how_it_inferred_the_cams(tiny_checkpoint: Path, synthetic_root: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    name = (synthetic_root / "ImageSets" / "Segmentation" / "val.txt").read_text().split()[0]
    source = next((synthetic_root / "JPEGImages").glob(f"{name}.*"))
    image = tmp_path / source.name  # no mask next to it: the tags come from CAMs
    image.write_bytes(source.read_bytes())
    assert main(["explain", str(image), "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "f.png")]) == 0
    err = capsys.readouterr().err
    assert "checkpoint: CAM inference: scales 1, 0.5, 0.75, 1.5 with flips, background score 0.45" in err
    assert "tag thresholds 0.7 (class) / 0.25 (background)" in err
