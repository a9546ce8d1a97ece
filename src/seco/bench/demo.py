"""``seco demo``: the CAM baseline and full SeCo from the same start and data, side by side.

Both runs take the config given (``synthetic`` by default) and its
overrides; the baseline then switches off what
``configs/ablations/baseline.yaml`` switches off (every loss but the two
classification ones), so the only difference is SeCo. They train into
``OUT/baseline`` and ``OUT/seco`` with :func:`seco.bench.runs.run_once`, so a
finished run of the same config is read back instead of trained again, as
``seco bench`` does. Then ``OUT/report.md`` (the comparison of ``seco
compare``) opens with the side-by-side CAM figure and table, and one
sentence computed from this run's numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from seco.bench.runs import finished, run_once
from seco.config import Config, load_config
from seco.evaluation.context_cams import FIGURE, runs_side_by_side
from seco.evaluation.evaluate import default_outputs
from seco.evaluation.run_report import console_tables
from seco.report.comparison import comparison_console, one_run_sentence
from seco.report.report import compare_runs

__all__ = ["BASELINE", "RUNS", "Demo", "baseline_overrides", "demo_configs", "run_demo"]

BASELINE = "ablations/baseline"
RUNS = {"baseline": "baseline", "seco": "SeCo"}  # run folder -> the name tables and figures give it
REPORT = "report.md"


def _dotted(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def baseline_overrides() -> list[str]:
    """What ``configs/ablations/baseline.yaml`` sets over its base, as dotted overrides for any config."""
    raw = yaml.safe_load((resources.files("seco") / "configs" / f"{BASELINE}.yaml").read_text())
    raw.pop("base", None)
    return [f"{key}={json.dumps(value)}" for key, value in _dotted(raw)]


def demo_configs(config: str, overrides: Sequence[str], out: str | None) -> tuple[Path, dict[str, Config]]:
    """The demo's folder (``out``, else the config's ``out_dir``) and the config of each of :data:`RUNS`."""
    folder = Path(out or load_config(config, overrides).out_dir)
    changes = {"baseline": baseline_overrides(), "seco": []}
    return folder, {name: load_config(config, [*overrides, *changes[name], f"out_dir={folder / name}"])
                    for name in RUNS}


@dataclass
class Demo:
    """What ``seco demo`` prints and where it wrote it: ``report`` is the comparison (or the one run's report)."""

    text: str
    report: Path
    figure: Path | None = None


def _run(name: str, cfg: Config, fresh: bool, allow_config_change: bool) -> dict[str, Any]:
    """Train and evaluate one run of the demo (or read it back), saying which."""
    reused = finished(cfg) and not fresh
    print(f"{RUNS[name]}: {'the finished run in' if reused else 'training into'} {cfg.out_dir}"
          + (" is reused (--fresh trains it again)" if reused else ""), flush=True)
    embeddings = cfg.eval.num_embeddings if name == "seco" else 0  # the baseline never trains the projection head
    doc = run_once(cfg, outputs=default_outputs(cfg), fresh=fresh, allow_config_change=allow_config_change,
                   num_embeddings=embeddings)
    if not reused:
        meta = doc["meta"]
        print(f"{RUNS[name]}: trained in {meta['train_seconds']} s, evaluated in {meta['eval_seconds']} s", flush=True)
    return doc


def run_demo(folder: Path, cfgs: dict[str, Config], only: str | None = None, fresh: bool = False,
             allow_config_change: bool = False) -> Demo:
    """Train and evaluate the runs of ``cfgs`` (only ``only``, when given) and write the comparison into ``folder``."""
    names = [only] if only else list(cfgs)
    docs = {name: _run(name, cfgs[name], fresh, allow_config_change) for name in names}
    if only:
        report = Path(cfgs[only].out_dir) / REPORT
        return Demo(console_tables(docs[only]), report)
    folders = {RUNS[name]: Path(cfg.out_dir) for name, cfg in cfgs.items()}
    figure = runs_side_by_side(folders, folder / FIGURE)
    sentence = one_run_sentence(f"CAM {RUNS['baseline']}", docs["baseline"], RUNS["seco"], docs["seco"])
    report = compare_runs(list(folders.values()), folder, names=list(folders), figure=figure, note=sentence,
                          file_name=REPORT)
    named = {RUNS[name]: doc for name, doc in docs.items()}
    return Demo(f"{comparison_console(named)}\n{sentence}", report, figure)
