"""The command line as a new user meets it: overrides anywhere among the flags, a training set smaller than one
batch, a backbone of another width, and images that share a name; each run as a user runs seco, no traceback."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
import torch
from conftest import write_image
from PIL import Image

from seco.cli import _build_parser, main
from seco.config import config_diff, load_config, to_dict
from seco.data import VOC_CLASSES
from seco.method.seco import SeCoMethod
from seco.model import build_model
from support import TINY_MODEL, assert_clean_error, run_seco, tiny_overrides

A, B, C = "data.root=a", "train.iterations=7", "out_dir=runs/x"

# One line per command that takes overrides: an override before the first flag, one between flags, one after
# the last (a many-word flag such as --variants must give the override after it back).
LINES = {
    "demo": ["demo", A, "--fresh", B, "--out", "o", C],
    "train": ["train", A, "--no-eval", B, "--config", "voc", C],
    "check-data": ["check-data", A, "--split", "val", B, "--workers", "1", C],
    "evaluate": ["evaluate", A, "--checkpoint", "c.pt", B, "--outputs", "seg", C],
    "export-masks": ["export-masks", A, "--checkpoint", "c.pt", B, "--out", "o", C],
    "pretrain": ["pretrain", A, "--iterations", "5", B, "--fresh", C],
    "bench ablation": ["bench", "ablation", A, "--seeds", "1", B, "--variants", "seco", "baseline", C],
    "bench sensitivity": ["bench", "sensitivity", A, "--seed", "1", B, "--sweeps", "phi", C],
    "bench scale": ["bench", "scale", A, "--tiny", B, "--variants", "seco", C],
    "configs": ["configs", "voc", A, B, C],
}


def _commands_with_overrides(parser: object, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every command (``bench ablation`` for a nested one) whose parser has the ``overrides`` positional."""
    found = set()
    for action in parser._actions:  # type: ignore[attr-defined]
        if action.dest == "overrides":
            found.add(" ".join(prefix))
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found |= _commands_with_overrides(child, (*prefix, name))
    return found


def test_every_command_with_overrides_has_a_line_here() -> None:
    assert _commands_with_overrides(_build_parser()) == set(LINES)


@pytest.mark.parametrize("command", sorted(LINES))
def test_overrides_stand_before_between_and_after_the_flags(command: str) -> None:
    args = _build_parser().parse_args(LINES[command])
    assert args.overrides == [A, B, C]
    if command == "bench ablation":
        assert args.variants == ["seco", "baseline"] and args.seeds == 1
    if command == "bench scale":
        assert args.variants == ["seco"] and args.tiny
    if command == "train":
        assert args.no_eval and args.config == "voc"


def test_train_takes_overrides_after_its_flags(synthetic_root: Path, tmp_path: Path) -> None:
    """The issue's own line: ``seco train --config synthetic --no-eval out_dir=...`` (and more around --fresh)."""
    first, *rest = tiny_overrides(synthetic_root, tmp_path / "run", iterations=1)
    done = run_seco("train", first, "--config", "synthetic", "--no-eval", *rest[:5], "--fresh", *rest[5:])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert (tmp_path / "run" / "last.pt").is_file() and not (tmp_path / "run" / "metrics.json").exists()


def test_evaluate_takes_overrides_between_and_after_its_flags(tiny_checkpoint: Path, tmp_path: Path) -> None:
    done = run_seco("evaluate", "eval.max_images=2", "--checkpoint", str(tiny_checkpoint), "eval.flip=false",
                    "--outputs", "seg", "--out", str(tmp_path), "eval.seg_scales=[1.0]")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "val, first 2 of 8 images" in done.stdout


def test_an_unknown_flag_is_named_under_its_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["train", "train.iterations=2", "--no-evl"])
    assert "seco train: error: unrecognized arguments: --no-evl" in capsys.readouterr().err


# --- a training set smaller than one batch ---


def test_a_set_smaller_than_one_batch_names_the_split_and_the_ways_out(synthetic_root: Path, tmp_path: Path) -> None:
    """24 images, the default batch of 32: one line that names the split and gives a batch that fits; that batch
    then trains. (An error, not a silently smaller batch: the batch sets the reservoir's steps and the lr schedule
    a config was tuned for, and the saved config must say what ran.)"""
    overrides = [f"data.root={synthetic_root}", "data.synthetic.n_train=24", "data.synthetic.n_val=8",
                 f"out_dir={tmp_path / 'run'}", *TINY_MODEL]
    line = assert_clean_error(run_seco("train", "--no-eval", *overrides),
                              "split 'train'", f"data.root={synthetic_root}", "24 images",
                              "train.batch_size=32", "add images")
    assert "train.batch_size=16" in line  # the largest under 24 whose steps fill method.reservoir.capacity 1536
    assert not (tmp_path / "run" / "last.pt").exists()
    assert main(["train", "--no-eval", *overrides, "train.batch_size=16", "train.iterations=1"]) == 0
    assert (tmp_path / "run" / "last.pt").is_file()


# --- another backbone width ---


@pytest.mark.parametrize("name, width", [("vit_tiny_patch16_224", 192), ("vit_small_patch16_224", 384),
                                         ("vit_base_patch16_224", 768)])
def test_the_projection_follows_the_encoder_width(name: str, width: int) -> None:
    """The VOC config compares projected queries with class tokens (prototypes.space=backbone): with
    model.proj_dim unset, q (eq. 2) has the encoder's width for every ViT."""
    cfg = load_config("voc", [f"model.name={name}", "model.pretrained=false"])
    assert cfg.model.proj_dim == 0 and cfg.method.prototypes.space == "backbone"
    torch.manual_seed(0)
    net = build_model(cfg.model, len(VOC_CLASSES))
    method = SeCoMethod(net, cfg.method, VOC_CLASSES)
    assert net.encoder.embed_dim == width
    assert net.embed(torch.rand(1, 3, 32, 32)).shape == (1, width)
    assert method.prototypes.P.shape[-1] == width


def _voc_tiny(root: Path, out: Path) -> list[str]:
    """The VOC config shrunk to the conftest folder (2 train images) and 64 px crops."""
    return [f"data.root={root}", "data.train_split=train", "data.mask_dir=SegmentationClass", "data.crop_size=64",
            "data.num_workers=0", f"out_dir={out}", "model.pretrained=false", "train.iterations=1",
            "train.batch_size=2", "train.warmup_iters=1", "method.decomposition.patch_size=32",
            "method.decomposition.num_patches=2", "method.decomposition.global_size=32",
            "method.decomposition.border_margin=8", "method.reservoir.capacity=8"]


def test_voc_trains_a_small_vit_without_setting_proj_dim(voc_root: Path, tmp_path: Path) -> None:
    done = run_seco("train", "--config", "voc", "model.name=vit_small_patch16_224", "--no-eval",
                    *_voc_tiny(voc_root, tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert (tmp_path / "run" / "last.pt").is_file()


def test_an_explicit_proj_dim_off_the_width_is_one_line(voc_root: Path, tmp_path: Path) -> None:
    done = run_seco("train", "--config", "voc", "model.name=vit_small_patch16_224", "model.proj_dim=768",
                    *_voc_tiny(voc_root, tmp_path / "run"))
    assert_clean_error(done, "model.proj_dim=768", "(384)", "method.prototypes.space=backbone")


def test_a_run_saved_with_an_explicit_width_resumes_with_proj_dim_unset(
    tiny_run: Path, synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Checkpoints made before the VOC config left proj_dim unset hold the width itself (here 32 = embed_dim):
    the same run is not a changed config."""
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    overrides = [*tiny_overrides(synthetic_root, run, iterations=2), "model.proj_dim=0"]
    assert main(["train", "--no-eval", *overrides]) == 0
    assert "nothing left to train" in capsys.readouterr().out
    stored = torch.load(run / "last.pt", map_location="cpu", weights_only=True)["config"]
    assert stored["model"]["proj_dim"] == 32
    assert "model.proj_dim" not in config_diff(stored, load_config("synthetic", overrides))
    assert "model.proj_dim" in config_diff(stored, load_config("synthetic", [*overrides, "model.proj_dim=16"]))
    assert to_dict(load_config("synthetic", overrides))["model"]["proj_dim"] == 0


# --- images that share a name ---


def test_predict_writes_both_images_that_share_a_name(tiny_checkpoint: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "a.jpg", (24, 32), 0)
    write_image(photos / "a.png", (20, 28), 1)
    write_image(photos / "b.jpg", (16, 16), 2)
    before = {p: p.read_bytes() for p in photos.iterdir()}
    done = run_seco("predict", str(photos), "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "keep the extension: a.jpg.png, a.png.png" in done.stdout
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["a.jpg.png", "a.jpg_overlay.png", "a.png.png", "a.png_overlay.png", "b.png",
                       "b_overlay.png"]
    assert Image.open(tmp_path / "out" / "a.jpg.png").size == (32, 24)
    assert Image.open(tmp_path / "out" / "a.png.png").size == (28, 20)
    assert {p: p.read_bytes() for p in photos.iterdir()} == before
    again = run_seco("predict", str(photos), "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "out"))
    assert_clean_error(again, "exists", "--overwrite")
