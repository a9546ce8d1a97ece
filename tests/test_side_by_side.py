"""The side-by-side CAM figure: which images it picks, its panels, one colour scale, the outlines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage

from seco.config import DataConfig, load_config
from seco.data import build_dataset, voc_palette
from seco.evaluation.context_cams import context_region, context_rows, pick_images
from seco.evaluation.trained import Trained
from seco.model import build_model
from seco.report.plots import save_figure
from seco.report.side_by_side import ContextRow, side_by_side_figure
from support import tiny_overrides

NAMES = ["background", "boat", "rider", "horse"]


def row(class_id: int, context_name: str, low: float, high: float) -> ContextRow:
    """A 12x12 image: the class in the top-left 4x4, its context in the bottom half; the CAMs are constant
    ``low`` / ``high`` on the context and 1 on the class, so the panel's means are known by hand."""
    gt = np.zeros((12, 12), dtype=np.int64)
    gt[:4, :4] = class_id
    context = np.zeros((12, 12), dtype=bool)
    context[6:] = True
    cams = {}
    for run, on_context in (("baseline", high), ("SeCo", low)):
        cam = np.zeros((12, 12))
        cam[context] = on_context
        cam[gt == class_id] = 1.0
        cams[run] = cam
    image = np.full((12, 12, 3), 120, dtype=np.uint8)
    return ContextRow(f"img{class_id}", image, gt, class_id, context_name, context, cams)


def test_panels_titles_one_colour_scale_outlines_and_legend(tmp_path: Path) -> None:
    rows = [row(1, "water", 0.1, 0.8), row(2, "horse", 0.2, 0.6)]
    fig = side_by_side_figure(rows, NAMES, voc_palette(256), title="CAMs")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 * 4
    titles = [ax.get_title() for ax in panels]
    assert titles[:4] == ["boat with water", "ground truth", "baseline: CAM of boat", "SeCo: CAM of boat"]
    assert titles[4:] == ["rider with horse", "ground truth", "baseline: CAM of rider", "SeCo: CAM of rider"]
    cams = [ax for ax in panels if "CAM of" in ax.get_title()]
    overlays = [ax.images[-1] for ax in cams]
    assert all(isinstance(im, AxesImage) and im.get_clim() == (0.0, 1.0) for im in overlays)
    assert len({im.get_cmap().name for im in overlays}) == 1
    assert all(len(ax.collections) == 2 for ax in cams)  # the context's outline and the class's
    assert len(panels[1].collections) == 1  # the ground truth: the context's outline
    assert cams[0].get_xlabel() == "mean on boat 1.00, on water 0.80"
    assert cams[1].get_xlabel() == "mean on boat 1.00, on water 0.10"
    assert cams[3].get_xlabel() == "mean on rider 1.00, on horse 0.20"
    legend = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert {"background", "boat", "rider"} <= set(legend) and any("context" in t for t in legend)
    colour_bars = [ax for ax in fig.axes if ax.get_ylabel().startswith("CAM score")]
    assert len(colour_bars) == 1  # one scale shared by every CAM panel
    path = save_figure(fig, tmp_path / "side.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        side_by_side_figure([], NAMES, voc_palette(256))


def test_picks_show_the_class_and_its_context_contexts_first(synthetic_root: Path) -> None:
    dataset = build_dataset(DataConfig(format="synthetic", root=str(synthetic_root)), "val", train=False)
    picks = pick_images(dataset, 5)
    assert 0 < len(picks) <= 5 and len({p.index for p in picks}) == len(picks)
    names = dataset.class_names
    kinds = [p.context_name in names for p in picks]
    assert kinds == sorted(kinds)  # unlabeled contexts (water, rails, sky) before partner classes
    for pick in picks:
        item = dataset[pick.index]
        assert pick.class_id in dataset.records[pick.index].labels
        assert (pick.class_id, names[pick.class_id], pick.context_name) in {
            (names.index(c), c, ctx) for c, ctx in dataset.cooccurrence}
        assert context_region(item, dataset, pick.context_name).any()
    assert pick_images(dataset, 2) == picks[:2]  # the same images every time


def test_rows_hold_each_models_cam_of_the_picked_class(synthetic_root: Path, tmp_path: Path) -> None:
    cfg = load_config("synthetic", tiny_overrides(synthetic_root, tmp_path, 1))
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(build_model(cfg.model, 10).eval())
    names = build_dataset(cfg.data, "val", train=False).class_names
    models = {name: Trained(net, cfg, list(names), 0) for name, net in zip(("a", "b"), nets)}
    rows = context_rows(models, 2)
    assert len(rows) == 2
    for r in rows:
        assert list(r.cams) == ["a", "b"]
        for cam in r.cams.values():
            assert cam.shape == r.gt.shape == r.context.shape == r.image.shape[:2]
            assert 0.0 <= cam.min() and cam.max() <= 1.0
        assert not np.array_equal(r.cams["a"], r.cams["b"])


def test_a_context_the_data_do_not_annotate_takes_any_image_of_the_class(voc_root: Path) -> None:
    pairs = [["aeroplane", "sky"], ["person", "dog"], ["dog", "sofa"]]  # sky: no map; sofa: in no image
    dataset = build_dataset(DataConfig(format="voc", root=str(voc_root), cooccurrence=pairs), "train", train=False)
    picks = pick_images(dataset, 3)
    names = dataset.class_names
    assert [(p.index, names[p.class_id], p.context_name) for p in picks] == [(1, "aeroplane", "sky"),
                                                                            (0, "person", "dog")]
    assert not context_region(dataset[1], dataset, "sky").any()
    rows = [row(1, "sky", 0.1, 0.5)]
    rows[0].context[:] = False
    fig = side_by_side_figure(rows, NAMES, voc_palette(256))
    assert fig.axes[0].get_title() == "boat with sky\n(context not annotated)"
    assert [ax.get_xlabel() for ax in fig.axes[2:4]] == ["mean on boat 1.00, on sky n/a"] * 2
