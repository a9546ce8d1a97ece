"""What each ``seco`` sub-command does (the parser lives in :mod:`seco.cli`)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from seco.config import Config, available_configs, config_yaml, load_config
from seco.engine import dist

if TYPE_CHECKING:
    from seco.engine.restore import Trained

__all__ = ["run_command"]


def _with_out(cfg: Config, out: str | None) -> Config:
    return dataclasses.replace(cfg, out_dir=out) if out else cfg


def _train_and_report(cfg: Config, fresh: bool, skip_eval: bool = False) -> Path:
    from seco.engine.restore import load_trained
    from seco.engine.train import train

    result = train(cfg, resume=not fresh)
    if dist.is_main():
        print(f"trained {result.iterations} iterations in {result.seconds:.0f} s "
              f"({result.images_per_second:.1f} img/s); checkpoint {result.checkpoint}")
    if not skip_eval:
        trained = load_trained(result.checkpoint)
        _evaluate_into(trained, cfg.eval.split, ("cam", "mask", "seg"), cfg.eval.crf, Path(cfg.out_dir),
                       train_seconds=result.seconds)
    return result.checkpoint


def _evaluate_into(trained: Trained, split: str, outputs: tuple[str, ...], crf: bool, out_dir: Path,
                   train_seconds: float | None = None) -> None:
    from seco.engine.evaluate import evaluate
    from seco.engine.run_report import write_run_report

    cfg = trained.cfg
    start = time.perf_counter()
    evaluation = evaluate(trained.net, cfg, split, outputs, crf=crf, max_images=cfg.eval.max_images,
                          num_samples=cfg.eval.num_overlays, num_embeddings=cfg.eval.num_embeddings,
                          progress=dist.is_main())
    meta = evaluation.document.setdefault("meta", {})
    meta.update(run=cfg.name, iteration=trained.iteration, eval_seconds=round(time.perf_counter() - start, 1))
    if train_seconds is not None:
        meta["train_seconds"] = round(train_seconds, 1)
    if dist.is_main():
        print(write_run_report(trained, evaluation, out_dir))


def _pretrain(args: argparse.Namespace) -> None:
    from seco.engine.pretrain import pretrain, summarize
    from seco.engine.pretrain_settings import PretrainSettings

    cfg = load_config(args.config, args.overrides)
    settings = PretrainSettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainSettings)})
    result = pretrain(cfg, settings, args.out, args.run_dir, resume=not args.fresh)
    print(f"pretrained {result.iterations} iterations in {result.seconds:.0f} s "
          f"({result.images_per_second:.1f} img/s); weights {result.weights} "
          f"({result.weights.stat().st_size / 1e6:.1f} MB)")
    print(f"validation ({result.metrics['val']['images']} images): {summarize(result.metrics['val'])}")


def run_command(args: argparse.Namespace) -> int:
    """Dispatch a parsed command line; returns the process exit code."""
    command = args.command
    if command == "demo":
        cfg = _with_out(load_config(args.config, args.overrides), args.out)
        start = time.perf_counter()
        if cfg.data.format == "synthetic":
            from seco.data import ensure_synthetic

            print(f"synthetic co-occurrence benchmark: {ensure_synthetic(cfg.data)} "
                  f"({time.perf_counter() - start:.1f} s)")
        _train_and_report(cfg, args.fresh)
        print(f"demo finished in {time.perf_counter() - start:.0f} s; see {cfg.out_dir}/report.md")
    elif command == "train":
        cfg = load_config(args.config, args.overrides)
        _train_and_report(cfg, args.fresh, skip_eval=args.no_eval)
    elif command == "evaluate":
        from seco.engine.restore import load_trained

        dist.init_distributed("auto")  # under torchrun, ranks share the split
        trained = load_trained(args.checkpoint, args.config, args.overrides)
        split = args.split or trained.cfg.eval.split
        out = args.out or args.checkpoint.parent / f"eval-{split}"
        outputs = tuple(o.strip() for o in args.outputs.split(",") if o.strip())
        _evaluate_into(trained, split, outputs, trained.cfg.eval.crf, out)
    elif command == "export-masks":
        from seco.engine.export import export_masks
        from seco.engine.restore import load_trained

        trained = load_trained(args.checkpoint, args.config, args.overrides)
        split = args.split or trained.cfg.data.train_split
        written = export_masks(trained, split, args.out)
        print(f"wrote {written} pseudo masks of split {split!r} to {args.out}")
    elif command == "predict":
        from seco.engine.predict import Predictor, predict_paths

        written = predict_paths(Predictor.from_checkpoint(args.checkpoint), args.paths, args.out)
        print(f"wrote {len(written)} masks and overlays to {args.out}")
    elif command == "compare":
        from seco.report.report import compare_runs

        print(f"comparison written to {compare_runs(args.runs, args.out)}")
    elif command == "pretrain":
        _pretrain(args)
    elif command == "make-synthetic":
        from seco.config import SyntheticConfig
        from seco.data import make_synthetic

        start = time.perf_counter()
        make_synthetic(args.out, SyntheticConfig(args.seed, args.n_train, args.n_val, args.image_size))
        print(f"wrote the synthetic benchmark to {args.out} in {time.perf_counter() - start:.1f} s")
    elif command == "configs":
        if args.name is None:
            print("\n".join(available_configs()))
        else:
            print(config_yaml(load_config(args.name, args.overrides)), end="")
    return 0
