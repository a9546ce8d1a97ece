"""The ``seco`` command line.

Every command that builds a model takes ``--config NAME|FILE`` (default
``synthetic``) and any number of dotted ``key=value`` overrides, before,
between or after its flags, e.g.::

    seco train --config voc data.root=/data/VOC2012 train.iterations=20000
    seco train --no-eval out_dir=runs/x --fresh train.iterations=10
    seco evaluate --checkpoint runs/voc/last.pt eval.crf=true
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
from pathlib import Path

__all__ = ["main"]

ALLOW_CHANGE_HELP = "resume OUT/last.pt even if the config changed since (the changed keys are listed otherwise)"


_OVERRIDE = re.compile(r"^[A-Za-z_][\w.]*=")  # a dotted key=value word


class _CommandParser(argparse.ArgumentParser):
    """A command's parser whose positionals (``key=value`` overrides, paths) may stand anywhere among its flags.

    Plain argparse fills a list positional from the first run of bare words only, so the words after a
    later flag (``--no-eval out_dir=runs/x``) came back unrecognised; a command parses intermixed instead.
    A parser that holds sub-commands itself (``bench``) parses as usual: argparse cannot intermix those.
    A word the command does not know is an error under the command's own usage (``seco train: error:``),
    not under ``seco``'s, which lists no flag of the command.
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args may call parse_known_args back
        try:
            parsed, unknown = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        if hasattr(parsed, "overrides"):
            self._reclaim_overrides(parsed, list(args if args is not None else sys.argv[1:]))
        return parsed, unknown

    def _reclaim_overrides(self, parsed: argparse.Namespace, words: list[str]) -> None:
        """Give back to the overrides the ``key=value`` words that a many-word flag took
        (``--variants seco baseline train.iterations=10``), and keep the overrides in the line's order
        (the last value of a key wins)."""
        for action in self._actions:
            values = getattr(parsed, action.dest, None)
            if not action.option_strings or action.nargs not in ("+", "*") or not isinstance(values, list):
                continue
            taken = [v for v in values if isinstance(v, str) and _OVERRIDE.match(v)]
            if taken:
                setattr(parsed, action.dest, [v for v in values if v not in taken] or action.default)
                parsed.overrides = [*parsed.overrides, *taken]
        position = {word: index for index, word in reversed(list(enumerate(words)))}
        parsed.overrides.sort(key=lambda word: position.get(word, len(words)))


OVERRIDES_HELP = ("dotted config overrides, anywhere on the line (e.g. train.iterations=100; `seco configs NAME` "
                  "shows every key)")
CHECKPOINT_HELP = "a run's checkpoint (OUT/last.pt)"


def _command(sub: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    """A sub-command whose own ``--help`` opens with the line that ``seco --help`` lists it with."""
    return sub.add_parser(name, help=text, description=text)


def _add_config_args(parser: argparse.ArgumentParser, default: str | None = "synthetic") -> None:
    parser.add_argument("--config", default=default,
                        help="shipped config name (synthetic, voc, coco, ablations/...) or a YAML file (default "
                             + (f"{default})" if default else "the checkpoint's own config)"))
    parser.add_argument("overrides", nargs="*", metavar="key=value", help=OVERRIDES_HELP)


def _add_settings_args(parser: argparse.ArgumentParser) -> None:
    """One flag per field of :class:`~seco.pretrain.settings.PretrainSettings`."""
    from seco.pretrain.settings import PretrainSettings

    for item in dataclasses.fields(PretrainSettings):
        flag, text = f"--{item.name.replace('_', '-')}", item.metadata["help"]
        if isinstance(item.default, bool):
            parser.add_argument(flag, action="store_true", help=text)
        else:
            parser.add_argument(flag, type=type(item.default), default=item.default, help=f"{text} (%(default)s)")


def _build_parser() -> argparse.ArgumentParser:
    from seco.bench.scale_settings import add_scale_args

    parser = argparse.ArgumentParser(
        prog="seco", description="SeCo weakly supervised semantic segmentation",
        epilog="`seco COMMAND --help` lists a command's flags. Commands that build a model take --config NAME|FILE "
               "and dotted key=value overrides anywhere on the line, e.g. `seco train --config voc "
               "data.root=/data/VOC2012 --no-eval train.iterations=100`.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)

    demo = _command(sub, "demo", "generate the synthetic benchmark, train the CAM baseline and SeCo from the same "
                                 "start, print and write them side by side")
    demo.add_argument("--out", default=None, help="demo folder, the runs in OUT/baseline and OUT/seco "
                                                  "(default runs/demo)")
    demo.add_argument("--only", choices=["baseline", "seco"], default=None,
                      help="train and report this one run only (seco: the single-run demo)")
    demo.add_argument("--fresh", action="store_true", help="train again instead of reusing the runs in the folder")
    demo.add_argument("--allow-config-change", action="store_true", help=ALLOW_CHANGE_HELP)
    _add_config_args(demo, default="demo")

    train = _command(sub, "train", "train SeCo or an ablation")
    train.add_argument("--fresh", action="store_true", help="do not resume from OUT/last.pt")
    train.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    train.add_argument("--allow-config-change", action="store_true", help=ALLOW_CHANGE_HELP)
    _add_config_args(train)

    check = _command(sub, "check-data", "read every sample of a split in parallel and list the bad ones")
    check.add_argument("--split", default=None, help="data split (default data.train_split)")
    check.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                       help="worker processes (%(default)s)")
    _add_config_args(check)

    evaluate = _command(sub, "evaluate", "CAM, pseudo-mask and segmentation mIoU of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True, type=Path, help=CHECKPOINT_HELP)
    evaluate.add_argument("--split", default=None, help="data split (default eval.split)")
    evaluate.add_argument("--outputs", default=None,
                          help="comma list of cam, mask, seg (default all three; seg for a train.supervision=full run)")
    evaluate.add_argument("--out", default=None, type=Path,
                          help="folder for metrics.json and the report (default CHECKPOINT_DIR/eval-SPLIT)")
    _add_config_args(evaluate, default=None)

    export = _command(sub, "export-masks", "write pseudo masks (CAM + PAR), or a VOC test-server submission, "
                                           "as VOC palette PNGs")
    export.add_argument("--checkpoint", required=True, type=Path, help=CHECKPOINT_HELP)
    export.add_argument("--split", default=None, help="default data.train_split (pseudo) or test (voc-test)")
    export.add_argument("--out", required=True, type=Path, help="folder to write the masks into")
    export.add_argument("--format", default="pseudo", choices=["pseudo", "voc-test"],
                        help="pseudo: CAM + PAR masks of a labelled split; voc-test: segmentation-head predictions "
                             "in the evaluation server's layout (results/VOC2012/Segmentation/comp6_test_cls)")
    export.add_argument("--archive", action="store_true", help="with voc-test: also write OUT/results.tar.gz")
    _add_config_args(export, default=None)

    predict = _command(sub, "predict", "segment your own images (files or folders)")
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files and folders of images")
    predict.add_argument("--checkpoint", required=True, type=Path, help=CHECKPOINT_HELP)
    predict.add_argument("--out", default=Path("predictions"), type=Path,
                         help="output folder (default predictions); a folder given as input keeps its sub-folders "
                              "there")
    predict.add_argument("--overwrite", action="store_true", help="replace predictions already in --out")

    explain = _command(sub, "explain", "patch-level feature view of one image (paper Fig. 6)")
    explain.add_argument("image", type=Path, help="the image to draw")
    explain.add_argument("--checkpoint", required=True, type=Path, help=CHECKPOINT_HELP)
    explain.add_argument("--baseline", default=None, type=Path, help="a second checkpoint drawn beside the first")
    explain.add_argument("--mask", default=None, type=Path,
                         help="ground-truth mask PNG (default: <root>/<data.mask_dir>/<stem>.png if it exists)")
    explain.add_argument("--grid", default=4, type=int, help="patches per side (default 4: 16 patches)")
    explain.add_argument("--projection", default="pca", choices=["pca", "tsne"],
                         help="2-D projection of the patch embeddings (default pca)")
    explain.add_argument("--out", default=None, type=Path, help="PNG path (default CHECKPOINT_DIR/explain/STEM.png)")

    compare = _command(sub, "compare", "compare the metrics of several runs")
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (holding metrics.json)")
    compare.add_argument("--out", default=Path("runs/compare"), type=Path,
                         help="folder for comparison.md (default runs/compare)")

    pre = _command(sub, "pretrain", "pretrain the config's ViT encoder on synthetic objects; write its weights")
    pre.add_argument("--out", type=Path, default=Path("runs/pretrain/encoder.pth"),
                     help="weights file to write (the encoder's timm ViT state dict, as model.weights loads it)")
    pre.add_argument("--run-dir", type=Path, default=Path("runs/pretrain"),
                     help="folder for the resumable checkpoint last.pt, pretrain.jsonl and metrics.json")
    pre.add_argument("--fresh", action="store_true", help="do not resume from RUN_DIR/last.pt")
    pre.add_argument("--overwrite", action="store_true", help="replace the weights file --out if it exists")
    _add_settings_args(pre)
    _add_config_args(pre)

    synth = _command(sub, "make-synthetic", "write the synthetic co-occurrence benchmark (VOC layout)")
    synth.add_argument("out", type=Path, help="folder to write (the data.root of data.format=synthetic)")
    synth.add_argument("--seed", type=int, default=0, help="generator seed (%(default)s)")
    synth.add_argument("--n-train", type=int, default=1200, help="train images (%(default)s)")
    synth.add_argument("--n-val", type=int, default=300, help="val images (%(default)s)")
    synth.add_argument("--image-size", type=int, default=96, help="image side in pixels (%(default)s)")
    synth.add_argument("--workers", type=int, default=1, help="processes drawing images (%(default)s)")

    bench = _command(sub, "bench", "benchmarks on the synthetic set: ablation (paper Table 2 over seeds), "
                                   "sensitivity (paper Fig. 4), scale (the same rows at a larger scale on one GPU)")
    kinds = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    ablation = _command(kinds, "ablation", "every ablation x seeds: mIoU and FP/TP as mean +- std")
    ablation.add_argument("--variants", nargs="+", default=None,
                          help="baseline ptc no_lig no_lil no_rect seco_public seco_paper (default: all)")
    ablation.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default 3)")
    ablation.add_argument("--out", type=Path, default=Path("runs/bench/ablation"), help="folder (%(default)s)")
    ablation.add_argument("--bkg-grid", default=None,
                          help="comma list of background scores each run chooses from on the train split, "
                               "or 'none' for the config's fixed score only (default 0.10,0.15,...,0.60)")
    ablation.add_argument("overrides", nargs="*", metavar="key=value",
                          help=f"{OVERRIDES_HELP}; applied to every variant")
    sensitivity = _command(kinds, "sensitivity", "full SeCo against phi, sigma and the reservoir capacity N")
    sensitivity.add_argument("--seed", type=int, default=0, help="seed of every run (%(default)s)")
    sensitivity.add_argument("--sweeps", nargs="+", default=None, help="phi sigma N (default: all)")
    sensitivity.add_argument("--out", type=Path, default=Path("runs/bench/sensitivity"), help="folder (%(default)s)")
    sensitivity.add_argument("overrides", nargs="*", metavar="key=value", help=OVERRIDES_HELP)
    scale = _command(kinds, "scale", "the miniature of the paper's setting on one GPU in one call: pretrain a "
                                     "larger start, generate a larger benchmark, train baseline, PTC and SeCo "
                                     "over seeds as processes sharing the device, write the ablation's tables")
    add_scale_args(scale)
    scale.add_argument("overrides", nargs="*", metavar="key=value", help=f"{OVERRIDES_HELP}; applied to every run")

    configs = _command(sub, "configs", "list the shipped configs, or print one resolved")
    configs.add_argument("name", nargs="?", default=None, help="a shipped config name or a YAML file to print")
    configs.add_argument("overrides", nargs="*", metavar="key=value", help=OVERRIDES_HELP)
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
    from seco.engine import dist
    from seco.engine.stop import TrainingInterrupted
    from seco.errors import SecoError

    log = logging.getLogger("seco")
    handler = logging.StreamHandler(sys.stderr)  # the library's one-line notes (e.g. which weights loaded)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda _record: dist.is_main())  # once per run, not once per torchrun process
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return run_command(args)
    except KeyboardInterrupt:
        print(f"interrupted; the last checkpoint is intact and `seco {args.command}` resumes from it", file=sys.stderr)
        return 130
    except TrainingInterrupted as stop:
        print(f"seco {args.command}: {stop}", file=sys.stderr)
        return stop.exit_code
    except (SecoError, FileNotFoundError, FileExistsError) as err:
        # A mistake the user can fix, its message naming the file or the config key at fault; a file that is
        # missing, or there already and not to be replaced, is one too, raised as the built-in error.
        print(f"seco {args.command}: error: {err}", file=sys.stderr)
        return 1
    finally:
        log.removeHandler(handler)
        dist.cleanup()


if __name__ == "__main__":
    sys.exit(main())
