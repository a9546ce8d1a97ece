"""Paper Table 2 in miniature: every ablation of SeCo on the synthetic benchmark, over several seeds.

``seco bench ablation --seeds 3`` trains and evaluates each variant from the
same start (the config's backbone weights), once per seed, and reports CAM,
mask and seg mIoU, the confusion ratio FP/TP of the context classes, per-class
FP/TP and the co-occurring pairs as mean ± std over the seeds, plus the
contrast diagnostics of :mod:`seco.report.diagnostics` (table and
``diagnostics.png``, seed 0's curves). Finished runs
are read back, so an interrupted benchmark resumes where it stopped.

Every number is reported under two protocols: the config's fixed background
score, and the score each run chooses on the train split
(:mod:`seco.bench.threshold`). The issue's target is judged on the second,
as decided before the benchmark was run on it: it compares each variant at
its own best operating point, chosen without looking at val.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seco.atomic import atomic_write
from seco.bench.runs import run_once
from seco.bench.summary import format_markdown, mean_std, summarise
from seco.bench.threshold import DEFAULT_GRID, check_grid, select_bkg_thr
from seco.config import ConfigError, load_config
from seco.report.diagnostics import CURVES, contrast_summary, diagnostics_plot, read_scalars

__all__ = ["VARIANTS", "VariantRun", "check_variants", "run_ablation", "run_variant", "target_check",
           "target_lines", "write_benchmark"]

VARIANTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "baseline": ("ablations/baseline", (), "CAM baseline (cls + aux)"),
    "ptc": ("ablations/ptc", (), "+ PTC, seg, reg (ToCo-like)"),
    "no_lig": ("ablations/no_lig", (), "SeCo w/o LiG"),
    "no_lil": ("ablations/no_lil", (), "SeCo w/o LiL"),
    "no_rect": ("ablations/no_rect", (), "SeCo w/o rectification"),
    "seco_public": ("ablations/seco", ("method.fidelity=public",), "SeCo, fidelity public"),
    "seco_paper": ("ablations/seco", ("method.fidelity=paper",), "SeCo, fidelity paper"),
}
FULL = ("seco_public", "seco_paper")


def target_check(summaries: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The issue's target for full SeCo in its better fidelity (higher mask mIoU) against the baseline.

    Passed when the mean CAM FP/TP of the context classes falls by at least
    30 % and the pseudo-mask mIoU rises by more than 2 standard deviations of
    the seed spread (the larger of the two variants' stds). With fewer than
    two seeds on either side there is no spread, and the mIoU half is
    ``None`` (not judged) rather than passed by any gain.
    """
    full = [n for n in FULL if n in summaries]
    if "baseline" not in summaries or not full:
        return None
    best = max(full, key=lambda n: summaries[n]["miou"]["mask"]["mean"] or 0.0)
    base, seco = summaries["baseline"], summaries[best]
    fp_base, fp_seco = base["context_fp_tp"]["cam"]["mean"], seco["context_fp_tp"]["cam"]["mean"]
    cut = None if fp_base in (None, 0) or fp_seco is None else 1.0 - fp_seco / fp_base
    gain = seco["miou"]["mask"]["mean"] - base["miou"]["mask"]["mean"]
    spread = max(base["miou"]["mask"]["std"] or 0.0, seco["miou"]["mask"]["std"] or 0.0)
    seeds = min(base["miou"]["mask"]["n"], seco["miou"]["mask"]["n"])
    return {
        "variant": best,
        "context_fp_tp_cut": cut,
        "mask_miou_gain": gain,
        "seed_std": spread,
        "fp_tp_target_met": cut is not None and cut >= 0.30,
        "miou_target_met": gain > 2 * spread if seeds >= 2 else None,
        "baseline_context_fp_tp_above_2": fp_base is not None and fp_base > 2,
    }


@dataclass
class VariantRun:
    """One (variant, seed) run of a benchmark: its metrics document at the config's background score, its
    :func:`~seco.bench.threshold.select_bkg_thr` result (None without a grid) and its logged scalars."""

    document: dict[str, Any]
    selection: dict[str, Any] | None
    scalars: dict[str, Any]


def run_variant(name: str, seed: int, out_dir: Path, overrides: Sequence[str] = (), grid: Sequence[float] = (),
                progress: bool = True, select_images: int = 0) -> VariantRun:
    """Train and evaluate variant ``name`` with ``seed`` in ``out_dir/name/seed<seed>`` (read back when done).

    ``grid`` holds the background scores the run chooses from on the train
    split (its first ``select_images`` images, all for 0); empty: none.
    """
    config, extra, _ = VARIANTS[name]
    cfg = load_config(config, [*overrides, *extra, f"seed={seed}", f"out_dir={out_dir / name / f'seed{seed}'}"])
    document = run_once(cfg, progress)
    selection = select_bkg_thr(cfg, document, grid, progress, select_images) if grid else None
    return VariantRun(document, selection, read_scalars(Path(cfg.out_dir) / "tb"))


def check_variants(variants: Sequence[str]) -> None:
    """A ConfigError naming every name of ``variants`` that is not one of :data:`VARIANTS`."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")


def run_ablation(variants: Sequence[str], seeds: Sequence[int], out_dir: Path, overrides: Sequence[str] = (),
                 progress: bool = True, bkg_grid: Sequence[float] = DEFAULT_GRID) -> dict[str, Any]:
    """Train and evaluate ``variants`` x ``seeds``; write ``ablation.json`` and ``ablation.md`` into ``out_dir``.

    ``bkg_grid`` holds the background scores each run chooses from on the
    train split (empty: the fixed score only). ``ablation.json`` keeps the
    fixed-score summaries under ``variants``/``target`` and the chosen-score
    ones under ``bkg_selection``.
    """
    check_variants(variants)
    grid = check_grid(bkg_grid) if bkg_grid else ()
    runs = {name: [run_variant(name, seed, out_dir, overrides, grid, progress) for seed in seeds] for name in variants}
    return write_benchmark(runs, seeds, out_dir, overrides, grid)


def write_benchmark(runs: dict[str, list[VariantRun]], seeds: Sequence[int], out_dir: Path,
                    overrides: Sequence[str] = (), grid: Sequence[float] = (), stem: str = "ablation",
                    meta: dict[str, Any] | None = None, preface: str = "", figure: bool = True) -> dict[str, Any]:
    """Summarise ``runs`` (variant -> its runs, one per seed done) over seeds; write ``<stem>.json``,
    ``<stem>.md`` and ``diagnostics.png`` into ``out_dir`` and return the document.

    A variant without a finished run is left out. ``meta`` is stored as the
    document's ``meta`` (what a caller records about how the runs were made)
    and ``preface`` (markdown) opens ``<stem>.md``; ``figure`` false leaves
    ``diagnostics.png`` as it is (a caller that rewrites the tables often).
    """
    summaries, selected, chosen, curves = {}, {}, {}, {}
    for name, done in runs.items():
        if not done:
            continue
        summaries[name] = summarise([run.document for run in done])
        selections = [run.selection for run in done if run.selection is not None]
        if selections:
            selected[name] = summarise([s["document"] for s in selections])
            chosen[name] = [s["bkg_thr"] for s in selections]
        if any(tag in done[0].scalars for tag in CURVES):  # a variant with the decomposition and its tags
            means = [contrast_summary(run.scalars) for run in done]
            summaries[name]["diagnostics"] = {tag: mean_std([m.get(tag) for m in means]) for tag in means[0]}
            curves[labels_of(name)] = done[0].scalars
    labels = {name: labels_of(name) for name in summaries}
    doc = {"seeds": list(seeds), "overrides": list(overrides), "labels": labels, "variants": summaries,
           "target": target_check(summaries), **({"meta": meta} if meta is not None else {})}
    markdown = format_markdown(summaries, labels)
    if grid:
        markdown = "## Background score fixed by the config (method.cam.bkg_thr)\n\n" + markdown
        doc["bkg_selection"] = {"grid": list(grid), "chosen": chosen, "variants": selected,
                                "target": target_check(selected)}
        markdown += _selection_markdown(doc["bkg_selection"], labels)
    verdicts = target_lines(doc)
    if verdicts:
        markdown += ("\n## Target: full SeCo (its better fidelity) against the CAM baseline\n\n"
                     + "".join(f"- {line}\n" for line in verdicts))
    atomic_write(out_dir / f"{stem}.json", json.dumps(doc, indent=2))
    atomic_write(out_dir / f"{stem}.md", preface + markdown)
    if curves and figure:
        diagnostics_plot(curves, out_dir / "diagnostics.png")
    return doc


def _verdict(target: dict[str, Any], labels: dict[str, str]) -> str:
    """One sentence for a :func:`target_check` result."""
    def met(flag: bool | None) -> str:
        return "not judged: fewer than 2 seeds" if flag is None else "met" if flag else "not met"

    cut = target["context_fp_tp_cut"]
    cut_text = "n/a" if cut is None else f"{100 * cut:.1f} % lower"
    return (f"{labels.get(target['variant'], target['variant'])} against the CAM baseline: context CAM FP/TP "
            f"{cut_text} (at least 30 %: {met(target['fp_tp_target_met'])}); mask mIoU "
            f"{100 * target['mask_miou_gain']:+.2f} against 2 std = {200 * target['seed_std']:.2f} "
            f"({met(target['miou_target_met'])}); baseline context FP/TP above 2: "
            f"{'yes' if target['baseline_context_fp_tp_above_2'] else 'no'}")


def target_lines(doc: dict[str, Any]) -> list[str]:
    """The target verdicts of an ``ablation.json`` document, one readable line per protocol."""
    labels = doc.get("labels", {})
    lines = []
    if doc.get("target") is not None:
        lines.append(f"target at the fixed background score: {_verdict(doc['target'], labels)}")
    if doc.get("bkg_selection", {}).get("target") is not None:
        verdict = _verdict(doc["bkg_selection"]["target"], labels)
        lines.append(f"target at the scores chosen on train (the issue's): {verdict}")
    return lines


def _selection_markdown(selection: dict[str, Any], labels: dict[str, str]) -> str:
    """The chosen-score section of ``ablation.md``: each run's score, then the tables at those scores."""
    grid = ", ".join(f"{t:.2f}" for t in selection["grid"])
    lines = ["", f"## Background score chosen on the train split (grid {grid}; seco.bench.threshold)", "",
             "| variant | chosen score per seed |", "|---|---|"]
    edges = (selection["grid"][0], selection["grid"][-1])
    lines += [f"| {labels[name]} | {', '.join(f'{t:.2f}' + (' (grid edge)' if t in edges else '') for t in scores)} |"
              for name, scores in selection["chosen"].items()]
    return "\n".join(lines) + "\n\n" + format_markdown(selection["variants"], labels)


def labels_of(variant: str) -> str:
    """The table label of ``variant``."""
    return VARIANTS[variant][2]
