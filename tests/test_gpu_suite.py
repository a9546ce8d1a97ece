"""benchmarks/gpu_suite.sh: the card's folder name, the kernels read from the config, the targets judged, and
the whole suite as its CPU dry run (the same items at tiny sizes), so a GPU call cannot fail on a typo."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seco.config import Config, switch_choices

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("gpu_suite", ROOT / "benchmarks" / "gpu_suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


suite = _load()


@pytest.mark.parametrize("name, slug", [("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA H200", "h200"),
                                        ("NVIDIA A100-SXM4-80GB", "a100"), ("NVIDIA GeForce RTX 4090", "rtx-4090"),
                                        ("Tesla V100-PCIE-16GB", "v100")])
def test_card_folder_names(name: str, slug: str):
    assert suite.card_slug(name) == slug


def test_kernels_come_from_the_config_switch_default_first_or_from_the_flag(monkeypatch: pytest.MonkeyPatch):
    switches = switch_choices(Config)
    if suite.KERNEL_KEY in switches:
        from seco.method.losses.dense_energy import AUTO_KERNEL

        kernels, default = suite.kernel_choices(None)
        twice = {AUTO_KERNEL["cuda"]} if default == "auto" else set()  # auto's CUDA kernel is the default item
        assert sorted(kernels) == sorted(set(switches[suite.KERNEL_KEY]) - twice) and kernels[0] == default
        assert len(kernels) == len(set(kernels))
    assert suite.kernel_choices("a, b")[0] == ["a", "b"]
    without = {k: v for k, v in switches.items() if k != suite.KERNEL_KEY}
    monkeypatch.setattr("seco.config.switch_choices", lambda schema: without)
    assert suite.kernel_choices(None) == ([], None)
    items = suite.step_items(Path("x"), dry=False, kernels=[], default_kernel=None)
    assert [i.name for i in items] == ["voc_public_bf16", "tiny", "voc_public_bf16_compile"]
    items = suite.step_items(Path("x"), dry=False, kernels=["k1", "k2"], default_kernel="k1")
    assert [i.name for i in items] == ["voc_public_bf16_k1_default", "tiny", "voc_public_bf16_k2",
                                       "voc_public_bf16_compile"]
    assert "method.losses.reg.kernel=k2" in items[2].argv and "train.amp=true" in items[2].argv


def test_targets_are_judged_on_the_default_kernel_and_the_tiny_config():
    voc = {"seco_s_per_step": 0.1, "seco_peak_memory_mib": 17000.0, "seco_host_syncs_per_step": 0}
    items = [suite.Item("voc_public_bf16_k2", [], 1, result={**voc, "seco_s_per_step": 0.05}),
             suite.Item("voc_public_bf16_k1_default", [], 1, result=voc),
             suite.Item("tiny", [], 1, result={"seco_over_baseline": 2.5})]
    targets = suite.judge(items)
    assert targets["voc_seco_s_per_step"] == {"value": 0.1, "target": 0.12, "met": True}
    assert targets["voc_peak_gb"]["value"] == pytest.approx(17000 * 2**20 / 1e9) and not targets["voc_peak_gb"]["met"]
    assert targets["voc_host_syncs"]["met"] and targets["tiny_seco_over_baseline"]["met"] is False
    assert suite.judge([])["voc_seco_s_per_step"]["met"] is None


def test_dry_run_measures_every_item_on_the_cpu(tmp_path: Path):
    kernels = suite.kernel_choices(None)[0][:1]  # the default kernel only: each item is a process
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SECO_CACHE": str(tmp_path / "cache")}
    args = ["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), "--dry-run", "--out", str(tmp_path / "out"),
            "--copy-to", str(tmp_path / "copy"), *(["--kernels", kernels[0]] if kernels else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "gpu_suite.json").read_text())
    statuses = {item["name"]: item["status"] for item in doc["items"]}
    assert statuses.pop("voc_public_bf16_compile") == "skipped: GPU only" and set(statuses.values()) == {"ok"}
    for item in doc["items"][:2]:  # VOC at tiny sizes, then the tiny config: both variants timed
        assert item["result"]["baseline_s_per_step"] > 0 and item["result"]["seco_s_per_step"] > 0
        assert Path(item["argv"][item["argv"].index("--out") + 1]).is_file()
    assert doc["items"][0]["result"]["meta"]["config"] == "voc"
    assert doc["targets"]["voc_host_syncs"]["value"] is not None
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["gpu_suite.json", "gpu_suite_log.txt",
                                                                      "out.tar.gz"]
    assert "=== tiny" in (tmp_path / "out" / "gpu_suite_log.txt").read_text()
