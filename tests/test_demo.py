"""``seco demo`` on the tiny config: the CAM baseline and SeCo side by side, runs reused, ``--only``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seco.bench.demo import demo_configs
from seco.cli import _build_parser, main
from seco.config import config_diff, load_config, to_dict
from support import tensorboard_events, tiny_overrides


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[Path, str]:
    """The demo folder of one full ``seco demo`` run and what it printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo") / "demo"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--out", str(out), *tiny_overrides(synthetic_root, out)]) == 0
    return out, printed.getvalue()


def _docs(out: Path) -> dict[str, dict]:
    return {name: json.loads((out / name / "metrics.json").read_text()) for name in ("baseline", "seco")}


def test_the_baseline_is_the_same_config_with_the_baselines_losses_off(synthetic_root: Path, tmp_path: Path) -> None:
    folder, cfgs = demo_configs("synthetic", tiny_overrides(synthetic_root, tmp_path / "x"), str(tmp_path / "d"))
    assert folder == tmp_path / "d"
    assert cfgs["seco"].out_dir == str(folder / "seco") and cfgs["baseline"].out_dir == str(folder / "baseline")
    changed = config_diff(to_dict(cfgs["seco"]), cfgs["baseline"])
    assert set(changed) == {"name", "out_dir", *(f"method.losses.{n}.enabled" for n in ("ptc", "lig", "lil", "seg",
                                                                                       "reg"))}
    assert all(changed[f"method.losses.{n}.enabled"] == (True, False) for n in ("ptc", "lig", "lil", "seg", "reg"))


def test_the_demo_config_is_the_synthetic_one_at_half_the_batch() -> None:
    """``seco demo`` runs configs/demo.yaml: synthetic.yaml's data, model, method and loss starts, with half the
    batch, a shorter schedule and the reservoir still holding 8 steps of keys."""
    assert _build_parser().parse_args(["demo"]).config == "demo"
    demo, synthetic = load_config("demo"), load_config("synthetic")
    changed = config_diff(to_dict(synthetic), demo)
    assert set(changed) == {"name", "train.batch_size", "train.iterations", "method.reservoir.capacity"}
    assert demo.train.batch_size * 2 == synthetic.train.batch_size

    def steps_held(cfg):
        views = cfg.method.decomposition.num_patches + cfg.method.decomposition.num_global
        return cfg.method.reservoir.capacity / (cfg.train.batch_size * views)

    assert steps_held(demo) == steps_held(synthetic) == 8
    losses = demo.method.losses
    starts = [losses.ptc.start_iter, losses.lig.start_iter, losses.lil.start_iter, losses.seg.start_iter,
              losses.reg.start_iter, demo.method.decomposition.tag_switch_iter]
    assert max(starts) < demo.train.iterations  # every loss and the tag switch still happen


def test_demo_prints_both_runs_the_table_and_a_sentence_of_its_numbers(demo: tuple[Path, str]) -> None:
    out, printed = demo
    docs = _docs(out)
    assert set(docs["baseline"]["results"]) == {"cam", "mask"}  # the baseline trains no seg head
    assert set(docs["seco"]["results"]) == {"cam", "mask", "seg"}
    for header in ("CAM: baseline", "CAM: SeCo", "mask: baseline", "mask: SeCo", "boat w/(water)", "rider w/(horse)"):
        assert header in printed
    mious = [f"{100 * docs[n]['results'][b]['miou']:.1f}" for b in ("cam", "mask") for n in ("baseline", "seco")]
    assert [line for line in printed.splitlines() if line.startswith("mIoU (%)")][0].split()[2:] == mious
    sentence = [line for line in printed.splitlines() if line.startswith("This one run (seed 0)")]
    assert len(sentence) == 1 and f"mIoU from {mious[2]} to {mious[3]} %" in sentence[0]


def test_the_report_opens_at_the_figure_then_the_table(demo: tuple[Path, str]) -> None:
    out, _ = demo
    report = (out / "report.md").read_text()
    figure = report.index("![CAMs side by side](side_by_side.png)")
    assert figure < report.index("| mIoU (%) |") < report.index("## CAM (split: val)")
    assert (out / "side_by_side.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("baseline", "seco"):
        assert (out / name / "report.md").is_file() and (out / name / "last.pt").is_file()
        scalars, images = tensorboard_events(out / name / "tb")
        last = yaml.safe_load((out / name / "config.yaml").read_text())["train"]["iterations"]
        assert scalars["val/cam_miou"] == [last] and [step for step, _, _ in images["val/overlays"]] == [last]


def test_a_second_demo_reuses_the_runs_and_only_seco_prints_one_run(
    demo: tuple[Path, str], synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    out, _ = demo
    stamps = {name: (out / name / "last.pt").stat().st_mtime_ns for name in ("baseline", "seco")}
    assert main(["demo", "--out", str(out), *tiny_overrides(synthetic_root, out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("is reused") == 2 and "trained in" not in printed
    assert main(["demo", "--only", "seco", "--out", str(out), *tiny_overrides(synthetic_root, out)]) == 0
    single = capsys.readouterr().out
    assert "CAM (split: val)" in single and "CAM: baseline" not in single and "baseline:" not in single
    assert f"see {out / 'seco' / 'report.md'}" in single
    assert stamps == {name: (out / name / "last.pt").stat().st_mtime_ns for name in ("baseline", "seco")}


def test_compare_of_two_runs_opens_with_their_side_by_side_figure(
    demo: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out, _ = demo
    assert main(["compare", str(out / "baseline"), str(out / "seco"), "--out", str(tmp_path / "cmp")]) == 0
    text = (tmp_path / "cmp" / "comparison.md").read_text()
    assert text.index("![CAMs side by side](side_by_side.png)") < text.index("| mIoU (%) |")
    assert "CAM: baseline" in text and "CAM: seco" in text
    assert (tmp_path / "cmp" / "side_by_side.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics_only = tmp_path / "metrics_only"
    metrics_only.mkdir()
    (metrics_only / "metrics.json").write_text((out / "seco" / "metrics.json").read_text())
    assert main(["compare", str(out / "baseline"), str(metrics_only), "--out", str(tmp_path / "cmp2")]) == 0
    printed = capsys.readouterr().out
    assert f"no side-by-side CAM figure: it draws the checkpoints of both runs, and {metrics_only / 'last.pt'}" \
        in printed
    assert "CAMs side by side" not in (tmp_path / "cmp2" / "comparison.md").read_text()
