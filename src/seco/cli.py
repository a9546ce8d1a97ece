"""The ``seco`` command line.

Every command that builds a model takes ``--config NAME|FILE`` (default
``synthetic``) and any number of dotted ``key=value`` overrides, e.g.::

    seco train --config voc data.root=/data/VOC2012 train.iterations=20000
    seco evaluate --checkpoint runs/voc/last.pt eval.crf=true
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

__all__ = ["main"]


def _add_config_args(parser: argparse.ArgumentParser, default: str | None = "synthetic") -> None:
    parser.add_argument("--config", default=default,
                        help="shipped config name (synthetic, voc, coco, ablations/...) or a YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")


def _add_settings_args(parser: argparse.ArgumentParser) -> None:
    """One flag per field of :class:`~seco.engine.pretrain_settings.PretrainSettings`."""
    from seco.engine.pretrain_settings import PretrainSettings

    for item in dataclasses.fields(PretrainSettings):
        flag, text = f"--{item.name.replace('_', '-')}", item.metadata["help"]
        if isinstance(item.default, bool):
            parser.add_argument(flag, action="store_true", help=text)
        else:
            parser.add_argument(flag, type=type(item.default), default=item.default, help=f"{text} (%(default)s)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seco", description="SeCo weakly supervised semantic segmentation")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="generate the synthetic benchmark, train SeCo, evaluate, print the table")
    demo.add_argument("--out", default=None, help="run folder (default runs/demo)")
    demo.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in the run folder")
    _add_config_args(demo)

    train = sub.add_parser("train", help="train SeCo or an ablation")
    train.add_argument("--fresh", action="store_true", help="do not resume from OUT/last.pt")
    train.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    _add_config_args(train)

    evaluate = sub.add_parser("evaluate", help="CAM, pseudo-mask and segmentation mIoU of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True, type=Path)
    evaluate.add_argument("--split", default=None, help="data split (default eval.split)")
    evaluate.add_argument("--outputs", default="cam,mask,seg", help="comma list of cam, mask, seg")
    evaluate.add_argument("--out", default=None, type=Path, help="folder for metrics.json and the report")
    _add_config_args(evaluate, default=None)

    export = sub.add_parser("export-masks", help="write pseudo masks (CAM + PAR) as VOC palette PNGs")
    export.add_argument("--checkpoint", required=True, type=Path)
    export.add_argument("--split", default=None)
    export.add_argument("--out", required=True, type=Path)
    _add_config_args(export, default=None)

    predict = sub.add_parser("predict", help="segment your own images (files or folders)")
    predict.add_argument("paths", nargs="+", type=Path)
    predict.add_argument("--checkpoint", required=True, type=Path)
    predict.add_argument("--out", default=Path("predictions"), type=Path)

    compare = sub.add_parser("compare", help="compare the metrics of several runs")
    compare.add_argument("runs", nargs="+", type=Path)
    compare.add_argument("--out", default=Path("runs/compare"), type=Path)

    pre = sub.add_parser("pretrain", help="pretrain the config's ViT encoder on synthetic objects; write its weights")
    pre.add_argument("--out", type=Path, default=Path("runs/pretrain/encoder.pth"),
                     help="weights file to write (the encoder's timm ViT state dict, as model.weights loads it)")
    pre.add_argument("--run-dir", type=Path, default=Path("runs/pretrain"),
                     help="folder for the resumable checkpoint last.pt, pretrain.jsonl and metrics.json")
    pre.add_argument("--fresh", action="store_true", help="do not resume from RUN_DIR/last.pt")
    _add_settings_args(pre)
    _add_config_args(pre)

    synth = sub.add_parser("make-synthetic", help="write the synthetic co-occurrence benchmark (VOC layout)")
    synth.add_argument("out", type=Path)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--n-train", type=int, default=1200)
    synth.add_argument("--n-val", type=int, default=300)
    synth.add_argument("--image-size", type=int, default=96)

    configs = sub.add_parser("configs", help="list the shipped configs, or print one resolved")
    configs.add_argument("name", nargs="?", default=None)
    configs.add_argument("overrides", nargs="*", metavar="key=value")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seco`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from seco import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from seco.commands import run_command
    from seco.config import ConfigError
    from seco.data import DataError
    from seco.engine import dist
    from seco.engine.checkpoint import CheckpointError
    from seco.engine.crf import MissingExtraError
    from seco.engine.train import NonFiniteLossError

    try:
        return run_command(args)
    except KeyboardInterrupt:
        print(f"interrupted; the last checkpoint is intact and `seco {args.command}` resumes from it", file=sys.stderr)
        return 130
    except (ConfigError, DataError, CheckpointError, MissingExtraError, NonFiniteLossError,
            FileNotFoundError) as err:
        # These errors already name the file or the config key at fault.
        print(f"seco {args.command}: error: {err}", file=sys.stderr)
        return 1
    finally:
        dist.cleanup()


if __name__ == "__main__":
    sys.exit(main())
