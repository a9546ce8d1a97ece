"""benchmarks/eval_scale.py at a tiny N: it generates the stand-in, evaluates in a child process and reports
rate, memory and what was written."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from seco.evaluation.crf import crf_available

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_scale.py"


def _load():
    spec = importlib.util.spec_from_file_location("eval_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_eval_scale_runs_at_tiny_n(tmp_path: Path) -> None:
    eval_scale = _load()
    out = tmp_path / "result.json"
    crf = ["--crf-workers", "1"] if crf_available() else ["--no-crf"]
    rows = eval_scale.main(["--sizes", "3", "6", "--image-size", "32", "--batch-size", "4", "--root",
                            str(tmp_path / "data"), "--out", str(out), *crf])
    assert [r.images for r in rows] == [3, 6]
    mask = np.asarray(Image.open(tmp_path / "data" / "SegmentationClass" / "000005.png"))
    assert mask.shape == (32, 32) and mask.max() < eval_scale.NUM_CLASSES
    for row in rows:
        assert row.images_per_s > 0 and row.evaluator_peak_rss_mb > 50
        assert row.peak_rss_mb >= row.evaluator_peak_rss_mb
        assert eval_scale.float_files(row.files) == [] and "metrics.json" in row.files
        assert 0.0 <= row.miou <= 1.0
    doc = json.loads(out.read_text())
    assert len(doc["rows"]) == 2 and doc["meta"]["classes"] == 81
    assert doc["meta"]["crf_workers"] == (1 if crf_available() else None)


def test_float_files_flags_anything_but_the_report() -> None:
    eval_scale = _load()
    assert eval_scale.float_files(["metrics.json", "report.md", "figures/iou_seg.png"]) == []
    assert eval_scale.float_files(["metrics.json", "probs/000001.npy"]) == ["probs/000001.npy"]
