"""The command line as a new user meets it: overrides anywhere among the flags, and a training set smaller than one
batch; each run as a user runs seco, no traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from seco.cli import _build_parser, main
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
