"""predict never loses a file: no input is written over, sub-folders are kept, outputs are not replaced unasked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_image
from PIL import Image

from seco.config import load_config
from seco.data import SYNTHETIC_CLASSES, voc_palette
from seco.model import build_model
from seco.tools.predict import PredictError, Predictor, predict_paths
from support import TINY_MODEL


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    cfg = load_config("synthetic", [*TINY_MODEL, "eval.seg_scales=[1.0]", "eval.flip=false"])
    torch.manual_seed(0)
    return Predictor(build_model(cfg.model, len(SYNTHETIC_CLASSES)).eval(), cfg, list(SYNTHETIC_CLASSES))


def _hashes(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_output_into_the_input_folder_never_replaces_an_input(predictor: Predictor, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "a.png", (24, 32), 1)  # its mask would be a.png
    write_image(photos / "b.jpg", (24, 32), 0)
    before = _hashes(photos)
    with pytest.raises(PredictError, match=r"a\.png is one of the input images.*another --out"):
        predict_paths(predictor, [photos], photos)
    assert _hashes(photos) == before


def test_images_that_share_a_name_keep_their_extension_and_replace_nothing(predictor: Predictor,
                                                                         tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "a.jpg", (24, 32), 0)
    write_image(photos / "a.png", (20, 28), 1)  # the mask of a.jpg would be a.png, an input
    write_image(photos / "b_overlay.jpg", (16, 16), 2)  # its mask would be b.png's overlay
    write_image(photos / "b.png", (12, 12), 3)
    write_image(photos / "c.jpg", (8, 8), 4)
    before = _hashes(photos)
    written = predict_paths(predictor, [photos], photos)  # into the input folder itself
    assert sorted(p.name for p in written) == ["a.jpg.png", "a.png.png", "b.png.png", "b_overlay.jpg.png", "c.png"]
    assert Image.open(photos / "a.jpg.png").size == (32, 24) and Image.open(photos / "a.png.png").size == (28, 20)
    assert (photos / "b_overlay.jpg_overlay.png").is_file() and (photos / "c_overlay.png").is_file()
    assert {p: h for p, h in _hashes(photos).items() if p in before} == before


def test_sub_folders_are_kept_so_equal_names_do_not_collide(predictor: Predictor, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "x" / "img.jpg", (24, 32), 0)
    write_image(photos / "y" / "img.jpg", (16, 20), 1)
    write_image(photos / "top.jpg", (20, 20), 2)
    before = _hashes(photos)
    written = predict_paths(predictor, [photos], tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == ["top.png", "x/img.png",
                                                                                   "y/img.png"]
    assert Image.open(tmp_path / "out" / "y" / "img.png").size == (20, 16)
    assert (tmp_path / "out" / "x" / "img_overlay.png").is_file()
    assert _hashes(photos) == before


def test_two_inputs_for_one_output_are_refused_before_writing(predictor: Predictor, tmp_path: Path) -> None:
    write_image(tmp_path / "x" / "img.jpg", (24, 32), 0)
    write_image(tmp_path / "y" / "img.jpg", (24, 32), 1)  # the same name: the extension cannot tell them apart
    with pytest.raises(PredictError, match=r"x/img\.jpg and .*y/img\.jpg would both be written to .*img\.jpg\.png"
                                           r".*give their common folder"):
        predict_paths(predictor, [tmp_path / "x" / "img.jpg", tmp_path / "y" / "img.jpg"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_outputs_need_overwrite_and_nothing_changes_without_it(predictor: Predictor, tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "a.jpg", (24, 32), 0)
    write_image(tmp_path / "in" / "b.jpg", (24, 32), 1)
    out = tmp_path / "out"
    assert len(predict_paths(predictor, [tmp_path / "in"], out)) == 2
    (out / "a.png").write_bytes(b"the user's own file")
    before = _hashes(tmp_path)
    with pytest.raises(PredictError, match=r"a\.png exists \(and 3 more outputs\); pass --overwrite"):
        predict_paths(predictor, [tmp_path / "in"], out)
    assert _hashes(tmp_path) == before
    assert len(predict_paths(predictor, [tmp_path / "in"], out, overwrite=True)) == 2
    assert np.asarray(Image.open(out / "a.png")).shape == (24, 32)


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(predictor: Predictor, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "a.jpg", (24, 32), 0)
    assert len(predict_paths(predictor, [photos], photos / "masks")) == 1
    assert len(predict_paths(predictor, [photos], photos / "masks", overwrite=True)) == 1


def test_overlay_names_the_output_and_has_a_legend_band(predictor: Predictor) -> None:
    image = Image.fromarray(np.zeros((30, 40, 3), np.uint8))
    mask = np.zeros((30, 40), np.uint8)
    mask[5:15, 5:15] = 3
    overlay = predictor.overlay(image, mask)
    assert overlay.height > 30 and overlay.width >= 40
    band = np.asarray(overlay)[30:]
    assert (band == 255).all(axis=-1).mean() > 0.5  # a white band with text and swatches
    assert (band == voc_palette()[3]).all(axis=-1).any()  # the swatch of class 3
