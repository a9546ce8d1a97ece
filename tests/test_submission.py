"""The VOC test-server export: layout, indexed PNGs with the VOC palette at each image's size, archive."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seco.cli import main
from seco.data import voc_palette

SERVER_DIR = Path("results/VOC2012/Segmentation/comp6_test_cls")


@pytest.fixture
def test_split(voc_root: Path) -> Path:
    """The VOC fixture as a test set: a split list and images of three sizes, no masks, no labels."""
    shutil.rmtree(voc_root / "SegmentationClass")
    (voc_root / "ImageSets" / "Segmentation" / "test.txt").write_text("a\nb\nc\n")
    return voc_root


def _export(checkpoint: Path, root: Path, out: Path, *overrides: str, archive: bool = False) -> int:
    return main(["export-masks", "--checkpoint", str(checkpoint), "--format", "voc-test", "--out", str(out),
                 *(["--archive"] if archive else []), "data.format=voc", f"data.root={root}", "eval.batch_size=2",
                 *overrides])


def test_voc_test_export_writes_the_server_layout(tiny_checkpoint: Path, test_split: Path, tmp_path: Path) -> None:
    out = tmp_path / "submission"
    assert _export(tiny_checkpoint, test_split, out, "eval.crf=false", archive=True) == 0
    folder = out / SERVER_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "c.png"]
    for name, size in (("a", (24, 20)), ("b", (18, 16)), ("c", (14, 12))):
        png = Image.open(folder / f"{name}.png")
        assert png.format == "PNG" and png.mode == "P" and png.size == size
        assert np.array_equal(np.asarray(png.getpalette(), np.uint8).reshape(-1, 3)[:256], voc_palette(256))
        assert np.asarray(png).max() < 10  # class ids of the tiny 10-class model
    with tarfile.open(out / "results.tar.gz") as tar:
        assert sorted(tar.getnames()) == [str(SERVER_DIR / f"{n}.png") for n in "abc"]
        assert tar.extractfile(str(SERVER_DIR / "a.png")).read() == (folder / "a.png").read_bytes()


def test_voc_test_export_with_dense_crf(tiny_checkpoint: Path, test_split: Path, tmp_path: Path) -> None:
    pytest.importorskip("pydensecrf.densecrf", reason="the crf extra (pydensecrf2) is not installed")
    assert _export(tiny_checkpoint, test_split, tmp_path, "eval.crf=true", "eval.crf_workers=0") == 0
    assert Image.open(tmp_path / SERVER_DIR / "b.png").size == (18, 16)


def test_archive_needs_the_voc_test_format(tiny_checkpoint: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    assert main(["export-masks", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path), "--archive"]) == 1
    assert "--format voc-test" in capsys.readouterr().err


def test_missing_test_list_names_the_file(tiny_checkpoint: Path, voc_root: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    assert _export(tiny_checkpoint, voc_root, tmp_path) == 1
    assert str(voc_root / "ImageSets" / "Segmentation" / "test.txt") in capsys.readouterr().err
