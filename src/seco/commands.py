"""What each ``seco`` sub-command does (the parser lives in :mod:`seco.cli`)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from seco.config import Config, ConfigError, available_configs, config_yaml, load_config
from seco.engine import dist

if TYPE_CHECKING:
    from seco.evaluation.trained import Trained

__all__ = ["run_command"]


def _train_and_report(cfg: Config, fresh: bool, skip_eval: bool = False, allow_config_change: bool = False) -> Path:
    from seco.engine.train import train
    from seco.evaluation.evaluate import default_outputs
    from seco.evaluation.trained import load_trained

    result = train(cfg, resume=not fresh, allow_config_change=allow_config_change)
    if dist.is_main() and result.iterations:
        print(f"trained {result.iterations} iterations in this process (iteration {result.first_iteration} -> "
              f"{result.first_iteration + result.iterations} of {result.total}) in {result.seconds:.0f} s "
              f"({result.images_per_second:.1f} img/s); checkpoint {result.checkpoint}")
    if not skip_eval:
        trained = load_trained(result.checkpoint)
        _evaluate_into(trained, cfg.eval.split, default_outputs(cfg), cfg.eval.crf, Path(cfg.out_dir),
                       train_seconds=result.seconds if result.iterations else None, tensorboard=True)
    return result.checkpoint


def _evaluate_into(trained: Trained, split: str, outputs: tuple[str, ...], crf: bool, out_dir: Path,
                   train_seconds: float | None = None, tensorboard: bool = False) -> None:
    """Evaluate, print the tables and write the report into ``out_dir``; with ``tensorboard`` (``out_dir`` is the
    run's folder) also log the scores and overlays into its TensorBoard at the checkpoint's iteration."""
    from seco.engine.bad_samples import BadSampleLog, evaluation_list
    from seco.evaluation.eval_log import log_final_evaluation
    from seco.evaluation.evaluate import evaluate
    from seco.evaluation.run_report import write_run_report
    from seco.report.ceiling import run_setting
    from seco.report.tables import split_label

    cfg = trained.cfg
    start = time.perf_counter()
    evaluation = evaluate(trained.net, cfg, split, outputs, crf=crf, max_images=cfg.eval.max_images,
                          num_samples=cfg.eval.num_overlays, num_embeddings=cfg.eval.num_embeddings,
                          progress=dist.is_main(), class_names=trained.class_names)
    meta = evaluation.document.setdefault("meta", {})
    meta.update(run=cfg.name, iteration=trained.iteration, eval_seconds=round(time.perf_counter() - start, 1),
                supervision=cfg.train.supervision, setting=run_setting(cfg))
    if train_seconds is not None:
        meta["train_seconds"] = round(train_seconds, 1)
    if not dist.is_main():
        return
    label = split_label(evaluation.document)
    if evaluation.skipped:
        out_dir.mkdir(parents=True, exist_ok=True)
        log = BadSampleLog(out_dir / evaluation_list(split))
        log.add(evaluation.skipped)
        print(f"evaluate {label}: skipped {len(log)} bad samples; listed in {log.path}")
    if evaluation.scored_pixels == 0:
        print(f"evaluate {label}: nothing to score: none of the {meta['images']} images has a ground-truth "
              f"mask pixel (masks are read from data.mask_dir={cfg.data.mask_dir!r}); no report written")
        return
    print(write_run_report(trained, evaluation, out_dir))
    if tensorboard:
        log_final_evaluation(out_dir, evaluation, trained.class_names, trained.iteration)


def _outputs(text: str | None) -> tuple[str, ...]:
    """``--outputs cam,seg`` as a tuple (empty when not given), each name checked."""
    from seco.evaluation.inference import OUTPUTS

    asked = tuple(o.strip() for o in (text or "").split(",") if o.strip())
    unknown = [o for o in asked if o not in OUTPUTS]
    if unknown:
        raise ConfigError(f"--outputs {text}: {', '.join(unknown)} is not an output; choose from {', '.join(OUTPUTS)}")
    return asked


def _check_data(cfg: Config, split: str | None, workers: int) -> None:
    from seco.data import DataError
    from seco.tools.check_data import check_split

    check = check_split(cfg, split or cfg.data.train_split, workers)
    shown = 20
    for bad in check.bad[:shown]:
        print(bad.line())
    if len(check.bad) > shown:
        print(f"... and {len(check.bad) - shown} more")
    summary = (f"checked {check.checked} samples of split {check.split!r} in {check.seconds:.1f} s with "
               f"{workers} workers: ")
    if check.bad:
        raise DataError(summary + f"{len(check.bad)} bad (listed above); fix or remove them, or set "
                        "data.on_error=skip to leave them out of runs")
    print(summary + "all good")


def _bkg_grid(text: str | None) -> tuple[float, ...]:
    """``--bkg-grid``: a comma list of scores, or ``none``; not given: the default grid."""
    from seco.bench.threshold import DEFAULT_GRID

    if text is None:
        return DEFAULT_GRID
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--bkg-grid {text!r}: expected a comma list of numbers such as 0.3,0.4,0.5, "
                          "or 'none'") from None


def _bench_scale(args: argparse.Namespace) -> None:
    """``seco bench scale``: the sizes of the flags (``--tiny``: the CPU preset), then the ablation's tables."""
    from seco.bench.scale import run_scale, summary_lines
    from seco.bench.scale_settings import FULL_VARIANTS, TINY_OVERRIDES, settings_from_args

    settings = settings_from_args(args)
    grid = (0.3, 0.45) if args.tiny and args.bkg_grid is None else _bkg_grid(args.bkg_grid)
    overrides = [*TINY_OVERRIDES, *args.overrides] if args.tiny else args.overrides
    out = Path(args.out)
    doc = run_scale(settings, args.variants or list(FULL_VARIANTS), out, overrides, grid)
    print((out / "scale.md").read_text())
    print("\n".join(summary_lines(doc, out)))


def _bench(args: argparse.Namespace) -> None:
    """``seco bench ablation`` / ``seco bench sensitivity``: print the tables and where they were written."""
    from seco.bench import SWEEPS, VARIANTS, run_ablation, run_sensitivity
    from seco.bench.ablation import target_lines

    if args.bench == "scale":
        _bench_scale(args)
    elif args.bench == "ablation":
        if args.seeds < 1:
            raise ConfigError(f"--seeds {args.seeds}: need at least one seed")
        doc = run_ablation(args.variants or list(VARIANTS), list(range(args.seeds)), args.out, args.overrides,
                           bkg_grid=_bkg_grid(args.bkg_grid))
        print((args.out / "ablation.md").read_text())
        for line in target_lines(doc):
            print(line)
        print(f"wrote {args.out / 'ablation.json'} and {args.out / 'ablation.md'}")
    else:
        unknown = [s for s in args.sweeps or () if s not in SWEEPS]
        if unknown:
            raise ConfigError(f"--sweeps {' '.join(unknown)}: choose from {', '.join(SWEEPS)}")
        run_sensitivity(args.seed, args.out, args.overrides, args.sweeps or tuple(SWEEPS))
        print(f"wrote {args.out / 'sensitivity.json'} and {args.out / 'sensitivity.png'}")


def _demo(args: argparse.Namespace) -> None:
    """``seco demo``: the CAM baseline and SeCo side by side (:mod:`seco.bench.demo`), or one of them (``--only``)."""
    from seco.bench.demo import demo_configs, run_demo

    start = time.perf_counter()
    folder, cfgs = demo_configs(args.config, args.overrides, args.out)
    data = cfgs["seco"].data
    if data.format == "synthetic":
        from seco.synthetic.cache import ensure_synthetic

        print(f"synthetic co-occurrence benchmark: {ensure_synthetic(data)} ({time.perf_counter() - start:.1f} s)")
    demo = run_demo(folder, cfgs, args.only, args.fresh, args.allow_config_change)
    print(demo.text)
    if demo.figure is not None:
        print(f"figure: {demo.figure}")
    print(f"demo finished in {time.perf_counter() - start:.0f} s; see {demo.report}")


def _compare_figure(runs: list[Path], out: Path) -> Path | None:
    """``seco compare A B``: the side-by-side CAMs of the two runs' checkpoints; None (said why) otherwise."""
    from seco.engine.checkpoint import LAST
    from seco.evaluation.context_cams import FIGURE, runs_side_by_side
    from seco.report.report import run_names

    if len(runs) != 2:
        return None
    missing = [str(run / LAST) for run in runs if not (run / LAST).is_file()]
    if missing:
        print(f"no side-by-side CAM figure: it draws the checkpoints of both runs, and {', '.join(missing)} "
              "is missing")
        return None
    figure = runs_side_by_side(dict(zip(run_names(runs), runs)), out / FIGURE)
    if figure is None:
        print("no side-by-side CAM figure: no image of the split shows a class with its co-occurring context")
    return figure


def _pretrain(args: argparse.Namespace) -> None:
    from seco.pretrain.settings import PretrainSettings
    from seco.pretrain.train import pretrain, summarize

    cfg = load_config(args.config, args.overrides)
    settings = PretrainSettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainSettings)})
    result = pretrain(cfg, settings, args.out, args.run_dir, resume=not args.fresh, overwrite=args.overwrite)
    print(f"pretrained {result.iterations} iterations in {result.seconds:.0f} s "
          f"({result.images_per_second:.1f} img/s); weights {result.weights} "
          f"({result.weights.stat().st_size / 1e6:.1f} MB)")
    print(f"validation ({result.metrics['val']['images']} images): {summarize(result.metrics['val'])}")


def _configs(name: str | None, overrides: list[str]) -> None:
    """``seco configs``: the shipped config names, or the config ``name`` resolved with ``overrides``."""
    if name is None:
        print("\n".join(available_configs()))
        return
    if "=" in name and not Path(name).exists():  # `seco configs train.iterations=5`: no name before the overrides
        raise ConfigError(f"{name!r} is an override, not a config name: `seco configs` takes a config name first, "
                          f"e.g. `seco configs synthetic {' '.join([name, *overrides])}` (`seco configs` lists them)")
    print(config_yaml(load_config(name, overrides)), end="")


def run_command(args: argparse.Namespace) -> int:
    """Dispatch a parsed command line; returns the process exit code."""
    command = args.command
    if command == "demo":
        _demo(args)
    elif command == "train":
        cfg = load_config(args.config, args.overrides)
        _train_and_report(cfg, args.fresh, skip_eval=args.no_eval, allow_config_change=args.allow_config_change)
    elif command == "evaluate":
        from seco.evaluation.evaluate import default_outputs
        from seco.evaluation.trained import load_trained

        asked = _outputs(args.outputs)  # before the checkpoint loads: a typo costs nothing
        dist.init_distributed("auto")  # under torchrun, ranks share the split
        trained = load_trained(args.checkpoint, args.config, args.overrides)
        split = args.split or trained.cfg.eval.split
        out = args.out or args.checkpoint.parent / f"eval-{split}"
        _evaluate_into(trained, split, asked or default_outputs(trained.cfg), trained.cfg.eval.crf, out)
    elif command == "export-masks" and args.format == "voc-test":
        from seco.evaluation.trained import load_trained
        from seco.tools.submission import export_voc_test

        trained = load_trained(args.checkpoint, args.config, args.overrides)
        split = args.split or "test"
        submission = export_voc_test(trained, split, args.out, archive=args.archive)
        print(f"wrote {submission.count} segmentation masks of split {split!r} to {submission.folder}"
              + (f"; archive {submission.archive}" if submission.archive else ""))
    elif command == "export-masks":
        from seco.evaluation.trained import load_trained
        from seco.tools.export import export_masks

        if args.archive:
            raise ConfigError("--archive belongs to --format voc-test (the test-server submission)")
        trained = load_trained(args.checkpoint, args.config, args.overrides)
        split = args.split or trained.cfg.data.train_split
        written = export_masks(trained, split, args.out)
        limit = trained.cfg.eval.max_images
        limited = f" (its first {written} images: eval.max_images={limit})" if 0 < limit <= written else ""
        print(f"wrote {written} pseudo masks of split {split!r}{limited} to {args.out}")
    elif command == "predict":
        from seco.tools.predict import Predictor, plan_predictions, predict_paths

        jobs = plan_predictions(args.paths, args.out, args.overwrite)  # refuse before loading the model
        written = predict_paths(Predictor.from_checkpoint(args.checkpoint), args.paths, args.out, args.overwrite)
        print(f"wrote {len(written)} masks and {len(written)} overlays to {args.out}")
        kept = [job.mask.name for job in jobs if job.kept_suffix]
        if kept:
            print(f"{len(kept)} images share a name, so their outputs keep the extension: {', '.join(kept[:4])}"
                  + (" ..." if len(kept) > 4 else ""))
    elif command == "check-data":
        _check_data(load_config(args.config, args.overrides), args.split, args.workers)
        return 0
    elif command == "explain":
        from seco.tools.explain import explain_image

        checkpoints = {"checkpoint": args.checkpoint, **({"baseline": args.baseline} if args.baseline else {})}
        out = args.out or args.checkpoint.parent / "explain" / f"{args.image.stem}.png"
        figure = explain_image(args.image, checkpoints, out, args.grid, args.mask, args.projection)
        print(f"patch view written to {figure}")
    elif command == "compare":
        from seco.report.report import compare_runs

        print(f"comparison written to {compare_runs(args.runs, args.out, figure=_compare_figure(args.runs, args.out))}")
    elif command == "pretrain":
        _pretrain(args)
    elif command == "make-synthetic":
        from seco.config import SyntheticConfig
        from seco.synthetic.benchmark import make_synthetic

        start = time.perf_counter()
        make_synthetic(args.out, SyntheticConfig(args.seed, args.n_train, args.n_val, args.image_size), args.workers)
        print(f"wrote the synthetic benchmark to {args.out} in {time.perf_counter() - start:.1f} s")
    elif command == "bench":
        _bench(args)
    elif command == "configs":
        _configs(args.name, args.overrides)
    return 0
