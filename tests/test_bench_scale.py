"""``seco bench scale``: its sizes, the stretched run config, the up-front checks, the progress it reads from
the runs' logs, and the whole pipeline end to end at ``--tiny`` sizes on the CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml

from seco.bench import scale_jobs
from seco.bench.ablation import VARIANTS
from seco.bench.scale import data_root, run_overrides, run_scale, start_path
from seco.bench.scale_check import GIB, check_resources
from seco.bench.scale_jobs import Job, JobStatus, ScaleDeadline, _projected_end, read_status
from seco.bench.scale_settings import TINY, TINY_OVERRIDES, ScaleSettings, settings_from_args
from seco.cli import _build_parser, main
from seco.config import ConfigError, load_config
from support import run_seco


def _settings(*argv: str) -> ScaleSettings:
    return settings_from_args(_build_parser().parse_args(["bench", "scale", *argv]))


def test_flags_take_the_gpu_defaults_or_the_tiny_preset_and_a_given_flag_wins():
    assert _settings() == ScaleSettings()
    tiny = _settings("--tiny", "--depth", "4")
    assert tiny.depth == 4 and tiny.width == TINY["width"] and tiny.device == "cpu"
    with pytest.raises(ConfigError, match="--image-size 100 must be an even number of --patch 8"):
        _settings("--image-size", "100")
    with pytest.raises(ConfigError, match="--depth 2: need at least 3 blocks"):
        _settings("--tiny", "--depth", "2")


def test_the_run_config_stretches_the_miniature_schedule_and_scales_the_sizes(tmp_path: Path):
    s = ScaleSettings()
    overrides = run_overrides(s, data_root(s, tmp_path), start_path(s, tmp_path))
    cfg = load_config("ablations/seco", overrides)
    mini = load_config("synthetic")
    stretch = 3000 / 220
    assert cfg.method.losses.lig.start_iter == round(44 * stretch) == 600
    assert cfg.method.losses.reg.start_iter == 1500 and cfg.method.decomposition.tag_switch_iter == 2005
    assert cfg.train.warmup_iters == round(15 * stretch) and cfg.train.iterations == 3000
    assert cfg.method.teacher.momentum == pytest.approx(0.99 ** (220 / 3000), abs=1e-6)
    # the reservoir holds as many steps of keys as the miniature's (8): 16 images x (8 patches + 2 global views)
    held = mini.method.reservoir.capacity // (32 * (4 + 2))
    assert cfg.method.reservoir.capacity == held * 16 * (8 + 2) == 1280
    assert cfg.data.crop_size == cfg.data.synthetic.image_size == 160 and cfg.method.decomposition.global_size == 80
    assert cfg.model.kwargs == {"embed_dim": 192, "depth": 8, "num_heads": 3, "patch_size": 8, "img_size": 160}
    assert cfg.model.weights == str(tmp_path / "start" / "encoder.pth") and cfg.train.amp
    for name in ("baseline", "ptc", "seco_public", "seco_paper"):  # every variant accepts the sizes
        config, extra, _ = VARIANTS[name]
        assert load_config(config, [*overrides, *extra]).train.batch_size == 16


def test_missing_cuda_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           capsys: pytest.CaptureFixture):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "scale", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a CUDA GPU (--device cuda)" in err[0] and "--tiny" in err[0]
    assert not (tmp_path / "out").exists()  # nothing written before the check


def _fake_gpu(monkeypatch: pytest.MonkeyPatch, free_gib: float) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (int(free_gib * GIB), int(80 * GIB)))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake GPU 80GB")


def test_gpu_memory_cores_and_disk_are_checked_and_the_process_count_fits_them(monkeypatch: pytest.MonkeyPatch,
                                                                               tmp_path: Path):
    cores = len(os.sched_getaffinity(0))
    _fake_gpu(monkeypatch, free_gib=12.0)
    res = check_resources(ScaleSettings(gpu_gib_per_proc=5.0), tmp_path, jobs=12)
    assert res.procs == min(2, cores) and res.device == "Fake GPU 80GB"  # 12 GiB hold two 5-GiB processes
    assert res.pretrain_workers == max(0, cores - 4 - 1)
    with pytest.raises(ConfigError, match=r"needs 10.0 GiB of free GPU memory \(2 processes x --gpu-gib-per-proc "
                                          r"5.0\) and Fake GPU 80GB has 8.0 GiB free; pass --procs 1"):
        _fake_gpu(monkeypatch, free_gib=8.0)
        check_resources(ScaleSettings(procs=2, gpu_gib_per_proc=5.0), tmp_path, jobs=12)
    with pytest.raises(ConfigError, match=f"--procs {cores + 1} needs {cores + 1} CPU cores"):
        check_resources(ScaleSettings(procs=cores + 1, gpu_gib_per_proc=0.0), tmp_path, jobs=12)
    _fake_gpu(monkeypatch, free_gib=3.0)
    with pytest.raises(ConfigError, match="not one training process fits"):
        check_resources(ScaleSettings(gpu_gib_per_proc=5.0), tmp_path, jobs=12)
    monkeypatch.setattr("shutil.disk_usage", lambda path: type("Usage", (), {"free": GIB // 2})())
    with pytest.raises(ConfigError, match=r"needs about \d+\.\d GiB of disk under .* has 0.5 GiB free"):
        check_resources(ScaleSettings(device="cpu"), tmp_path / "not" / "yet", jobs=12)


BAR = ("train:   0%|          | 0/3000 [00:00<?, ?it/s]\r"
       "train:  10%|#         | 300/3000 [00:40<06:00,  7.50it/s, loss=0.3]\r"
       "train:  20%|##        | 600/3000 [01:20<05:20,  {rate}, loss=0.2]")


def test_the_status_is_read_from_the_last_progress_bar_of_a_log(tmp_path: Path):
    log = tmp_path / "bench.log"
    assert read_status(log).state == "queued"
    log.write_text("pid 4242\n" + BAR.format(rate="7.50it/s"))
    status = read_status(log)
    assert (status.pid, status.done, status.total, status.state) == (4242, 600, 3000, "training")
    assert status.elapsed == 80.0 and status.remaining == 320.0 and status.rate == 7.5
    log.write_text("pid 1\n" + BAR.format(rate="2.00s/it"))
    assert read_status(log).rate == 0.5


def test_the_projection_waits_for_rates_and_counts_the_queued_runs_in_waves(tmp_path: Path):
    def running(done: int, rate: float, elapsed: float = 60.0) -> JobStatus:
        return JobStatus(done=done, total=3000, elapsed=elapsed, rate=rate, state="training")

    a, b, c = Job("baseline", 0, tmp_path), Job("seco_paper", 0, tmp_path), Job("seco_paper", 1, tmp_path)
    assert _projected_end({a: running(300, 10.0, elapsed=5.0)}, procs=2) is None  # too early to trust a rate
    statuses = {a: running(600, 10.0), b: running(300, 5.0), c: JobStatus()}
    # running: max(2400 / 10, 2700 / 5) = 540 s left; then one wave of the queued seco run: 3000 / 5 = 600 s
    assert _projected_end(statuses, procs=2) == pytest.approx(540 + 600)
    statuses[c] = JobStatus(state="done")
    assert _projected_end(statuses, procs=2) == pytest.approx(540)
    d = Job("ptc", 0, tmp_path)  # no ptc run has a rate yet: it counts as long as the slowest run (600 s)
    statuses[d] = JobStatus()
    assert _projected_end(statuses, procs=2) == pytest.approx(540 + 600)


def test_tiny_runs_the_whole_pipeline_on_the_cpu(tmp_path: Path):
    out = tmp_path / "scale"
    done = run_seco("bench", "scale", "--tiny", "--out", str(out), timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((out / "scale.json").read_text())
    assert set(doc["variants"]) == {"baseline", "ptc", "seco_public", "seco_paper"}
    assert all(v["runs"] == 1 for v in doc["variants"].values())
    assert "diagnostics" in doc["variants"]["seco_paper"] and "diagnostics" not in doc["variants"]["baseline"]
    assert doc["bkg_selection"]["grid"] == [0.3, 0.45]
    assert doc["meta"]["start"]["pretrained_here"] and doc["meta"]["settings"]["depth"] == TINY["depth"]
    assert doc["meta"]["resources"]["procs"] == 2 and not doc["meta"]["failed"]
    assert set(doc["meta"]["seconds"]) == {"start", "data (beside the start)", "runs", "total"}
    run = out / "seco_paper" / "seed0"
    assert json.loads((run / "bkg_selection.json").read_text())["images"] == TINY["select_images"]
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["crop_size"] == 64 and saved["model"]["weights"] == str(out / "start" / "encoder.pth")
    assert saved["train"]["iterations"] == TINY["iterations"] and saved["method"]["fidelity"] == "paper"
    assert (out / "diagnostics.png").is_file() and "# SeCo at scale" in (out / "scale.md").read_text()
    progress = json.loads((out / "progress.json").read_text())
    assert {job["state"] for job in progress["jobs"].values()} == {"done"}
    assert "## Target" in done.stdout and "wall time" in done.stdout


def test_a_bad_size_stops_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(["bench", "scale", "--tiny", "--out", str(tmp_path / "o"), "--local-patch", "40"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["seco bench: error: bench scale --local-patch 40 must be at most half the --image-size 64"]
    assert not (tmp_path / "o").exists()


def test_a_deadline_stops_every_run_with_the_measured_rates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(scale_jobs, "MIN_RATED_SECONDS", 2.0)  # the bars report every 10 s off a terminal
    s = ScaleSettings(**{**TINY, "iterations": 5000, "deadline": 5.0})
    with pytest.raises(ScaleDeadline, match=r"at the measured rates \((baseline|seco_paper)/seed0 [\d.]+ it/s"):
        run_scale(s, ["baseline", "seco_paper"], tmp_path, TINY_OVERRIDES, (), progress=False, poll=2.0)
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["projected_training_end_s"] > 0
    for name in ("baseline", "seco_paper"):  # each stopped run wrote a checkpoint of where it was
        checkpoint = torch.load(tmp_path / name / "seed0" / "last.pt", map_location="cpu", weights_only=True)
        assert 0 < checkpoint["iteration"] < 5000
