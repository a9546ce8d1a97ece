"""The command line end to end on the tiny synthetic set: demo, evaluate, export, predict, compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seco.cli import main
from seco.commands import _evaluate_into
from seco.config import load_config
from seco.data import VOC_CLASSES
from seco.evaluation.trained import Trained
from seco.model import build_model
from support import TINY_MODEL, assert_clean_error, run_seco, tiny_overrides


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--only", "seco", "--out", str(out), *tiny_overrides(synthetic_root, out)]) == 0
    return out / "seco"


def test_demo_writes_config_checkpoint_metrics_and_overlays(demo_run: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("config.yaml", "last.pt", "metrics.json", "report.md", "figures/cam_overlays.png"):
        assert (demo_run / name).is_file(), name
    doc = json.loads((demo_run / "metrics.json").read_text())
    assert doc["split"] == "val"
    assert set(doc["results"]) == {"cam", "mask", "seg"}
    for block in doc["results"].values():
        assert len(block["per_class"]) == 10 and 0.0 <= block["miou"] <= 1.0
    assert "boat w/(water)" in {row["label"] for row in doc["cooccurrence"]["cam"]}


def test_evaluate_names_the_split_and_counts_train_images(demo_run: Path, capsys: pytest.CaptureFixture) -> None:
    out = demo_run / "eval-train"
    assert main(["evaluate", "--checkpoint", str(demo_run / "last.pt"), "--split", "train", "--outputs", "cam,seg",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "split: train" in printed and "mIoU (train)" in printed
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["split"] == "train" and set(doc["results"]) == {"cam", "seg"}
    assert doc["meta"]["images"] == 24
    scales = ", ".join(f"{s:g}" for s in doc["cam_inference"]["scales"])
    assert f"CAM inference: scales {scales}" in printed  # so an unexpected scale cannot pass unseen


def test_export_masks_writes_voc_layout(demo_run: Path, tmp_path: Path) -> None:
    assert main(["export-masks", "--checkpoint", str(demo_run / "last.pt"), "--split", "val",
                 "--out", str(tmp_path)]) == 0
    names = (tmp_path / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert len(names) == 8
    mask = Image.open(tmp_path / "SegmentationClass" / f"{names[0]}.png")
    assert mask.mode == "P" and mask.size == (96, 96)
    assert np.asarray(mask).max() < 10


def test_predict_on_png_jpeg_and_grayscale_of_odd_sizes(demo_run: Path, tmp_path: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)).save(images / "odd.png")
    Image.fromarray(rng.integers(0, 255, (101, 67, 3), dtype=np.uint8)).save(images / "photo.jpg")
    Image.fromarray(rng.integers(0, 255, (45, 29), dtype=np.uint8), mode="L").save(tmp_path / "gray.png")
    out = tmp_path / "out"
    assert main(["predict", str(images), str(tmp_path / "gray.png"), "--checkpoint",
                 str(demo_run / "last.pt"), "--out", str(out)]) == 0
    for stem, size in (("odd", (53, 37)), ("photo", (67, 101)), ("gray", (29, 45))):
        assert Image.open(out / f"{stem}.png").size == size
        overlay = Image.open(out / f"{stem}_overlay.png").size  # the image above its legend band
        assert overlay[0] >= size[0] and overlay[1] > size[1]


def test_predict_reports_an_unreadable_image(demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    assert main(["predict", str(bad), "--checkpoint", str(demo_run / "last.pt"), "--out", str(tmp_path)]) == 1
    assert "broken.jpg" in capsys.readouterr().err


def test_compare_two_runs(demo_run: Path, tmp_path: Path) -> None:
    assert main(["compare", str(demo_run), str(demo_run), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "comparison.md").is_file()


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt")]) == 1
    assert "none.pt" in capsys.readouterr().err


def test_bad_override_is_a_clear_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "train.iteratons=3"]) == 1
    assert "train.iteratons" in capsys.readouterr().err


def test_make_synthetic_and_configs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["make-synthetic", str(tmp_path / "set"), "--n-train", "4", "--n-val", "2"]) == 0
    assert len((tmp_path / "set" / "ImageSets" / "Segmentation" / "train.txt").read_text().split()) == 4
    assert main(["configs"]) == 0 and "ablations/no_lil" in capsys.readouterr().out
    assert main(["configs", "voc", "train.iterations=5"]) == 0 and "iterations: 5" in capsys.readouterr().out


def test_configs_with_overrides_but_no_name_says_it_takes_one(capsys: pytest.CaptureFixture) -> None:
    assert main(["configs", "train.iterations=5"]) == 1
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith("seco configs: error: 'train.iterations=5' is an override, not a config name")
    assert "`seco configs synthetic train.iterations=5`" in line


def test_evaluate_with_dense_crf_streams_both_variants(demo_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("pydensecrf.densecrf", reason="the crf extra (pydensecrf2) is not installed")
    assert main(["evaluate", "--checkpoint", str(demo_run / "last.pt"), "--outputs", "seg,cam", "--out",
                 str(tmp_path), "eval.crf=true", "eval.crf_workers=2"]) == 0
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert set(doc["results"]) == {"seg", "cam", "seg_crf", "cam_crf"}
    for block in ("seg_crf", "cam_crf"):
        assert doc["results"][block]["num_pixels"] == doc["results"]["seg"]["num_pixels"] == 8 * 96 * 96


# --- a user's mistakes: one message that names the file or key, no traceback (run as a user runs seco) ---


def test_predict_into_its_input_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "b.jpg")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")  # its mask would be a.png
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    done = run_seco("predict", str(tmp_path), "--out", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt"))
    assert_clean_error(done, str(tmp_path / "a.png"), "--out")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_impossible_value_names_its_key() -> None:
    assert_clean_error(run_seco("train", "train.batch_size=0"), "train.batch_size", "must be positive")


def test_a_checkpoint_of_random_bytes_or_empty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    line = assert_clean_error(run_seco("evaluate", "--checkpoint", str(tmp_path / "random.pt")),
                              str(tmp_path / "random.pt"), "not a PyTorch checkpoint")
    assert "weights_only" not in line
    (tmp_path / "empty.pt").touch()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "empty.pt")]) == 1
    assert "empty.pt is empty (0 bytes)" in capsys.readouterr().err


def test_a_checkpoint_of_another_model_names_the_keys(tiny_run: Path, synthetic_root: Path, tmp_path: Path) -> None:
    overrides = [*tiny_overrides(synthetic_root, tmp_path), "model.proj_dim=16"]
    done = run_seco("evaluate", "--checkpoint", str(tiny_run / "last.pt"), "--config", "synthetic", *overrides)
    assert_clean_error(done, str(tiny_run / "last.pt"), "does not fit the model", "model.proj_dim (32 -> 16)")


def test_a_checkpoint_evaluated_on_data_of_other_classes(tiny_run: Path, voc_root: Path) -> None:
    done = run_seco("evaluate", "--checkpoint", str(tiny_run / "last.pt"), "data.format=voc",
                    f"data.root={voc_root}")
    assert_clean_error(done, "trained on 10 classes", "data.format=voc", f"data.root={voc_root}", "has 21")


def test_resuming_a_run_folder_made_with_another_config(
    tiny_run: Path, synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    overrides = [*tiny_overrides(synthetic_root, run, iterations=2), "model.proj_dim=16"]
    assert_clean_error(run_seco("train", "--no-eval", *overrides), str(run / "last.pt"),
                       "model.proj_dim (32 -> 16)", "--allow-config-change", "--fresh")
    assert main(["train", "--no-eval", "--allow-config-change", *overrides]) == 1
    assert "does not fit the model" in capsys.readouterr().err


def test_a_synthetic_root_that_does_not_exist(tmp_path: Path) -> None:
    done = run_seco("train", f"data.root={tmp_path / 'typo'}")
    assert_clean_error(done, f"data.root={tmp_path / 'typo'}", "seco make-synthetic")
    assert not (tmp_path / "typo").exists()


# --- honest labels ---


def test_a_limited_evaluation_says_so_in_every_heading_and_figure(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seco.report.plots as plots

    titles, real_save = [], plots.save_figure

    def recording(fig: object, path: object) -> Path:
        titles.append(fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title())
        return real_save(fig, path)

    monkeypatch.setattr(plots, "save_figure", recording)
    assert main(["evaluate", "--checkpoint", str(demo_run / "last.pt"), "--out", str(tmp_path),
                 "eval.max_images=3"]) == 0
    label = "val, first 3 of 8 images"
    printed = capsys.readouterr().out
    assert f"Segmentation (split: {label})" in printed and f"mIoU ({label})" in printed
    report = (tmp_path / "report.md").read_text()
    assert f"# Evaluation results (split: {label})" in report and "(split: val)" not in report
    headings = [line[4:] for line in report.split("## Figures")[1].splitlines() if line.startswith("### ")]
    assert sorted(headings) == sorted(titles) and all(label in t for t in titles if "Prototype" not in t)
    assert json.loads((tmp_path / "metrics.json").read_text())["subset"] == {"first": 3, "of": 8}


def test_export_masks_honours_max_images(demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export-masks", "--checkpoint", str(demo_run / "last.pt"), "--split", "val", "--out",
                 str(tmp_path), "eval.max_images=3"]) == 0
    assert len(list((tmp_path / "SegmentationClass").iterdir())) == 3
    assert "wrote 3 pseudo masks of split 'val' (its first 3 images: eval.max_images=3)" in capsys.readouterr().out


def test_an_evaluation_without_masks_says_there_is_nothing_to_score(
    voc_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (voc_root / "SegmentationClass" / "c.png").unlink()
    (voc_root / "labels.json").write_text(json.dumps({"c": []}))
    cfg = load_config("synthetic", ["data.format=voc", f"data.root={voc_root}", "data.labels_file=labels.json",
                                    *TINY_MODEL])
    trained = Trained(build_model(cfg.model, len(VOC_CLASSES)).eval(), cfg, list(VOC_CLASSES), iteration=0)
    _evaluate_into(trained, "val", ("seg",), False, tmp_path / "eval")
    assert "evaluate val: nothing to score: none of the 1 images has a ground-truth mask" in capsys.readouterr().out
    assert not (tmp_path / "eval" / "report.md").exists()
