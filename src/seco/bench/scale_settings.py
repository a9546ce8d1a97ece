"""The sizes of ``seco bench scale``: one flag each, with GPU defaults and a ``--tiny`` preset for the CPU.

No torch import, so the command line stays light. The GPU defaults are the
sizes estimated to fit 9 minutes of wall time on one H100-class card and 16
cores (docs/performance.md, "SeCo at scale", says how they were estimated);
``--tiny`` runs the same pipeline end to end on a CPU in well under a minute.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FULL_VARIANTS", "TINY", "TINY_OVERRIDES", "ScaleSettings", "add_scale_args", "settings_from_args"]

FULL_VARIANTS = ("baseline", "ptc", "seco_public", "seco_paper")


def _size(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ScaleSettings:
    """Model, data, schedule and process sizes of one scale benchmark (method settings come from the config)."""

    device: str = _size("cuda", "device of every process (cuda or cpu)")
    start: str = _size("", "encoder weights of this model size (a `seco pretrain` file, e.g. an earlier run's "
                           "OUT/start/encoder.pth); empty: pretrain one first")
    depth: int = _size(8, "ViT blocks")
    width: int = _size(192, "ViT width (embedding dimension)")
    heads: int = _size(3, "attention heads")
    patch: int = _size(8, "ViT patch side in pixels (conv stem: a power of two)")
    image_size: int = _size(160, "image side of the pretraining images, the benchmark and the training crop")
    pretrain_iters: int = _size(3200, "pretraining steps (the shipped start's recipe has 3,200)")
    pretrain_batch: int = _size(32, "pretraining images per step, each drawn fresh")
    n_train: int = _size(6000, "benchmark train images")
    n_val: int = _size(1000, "benchmark val images")
    local_patch: int = _size(32, "side in pixels of SeCo's local patches (a part of an object at 160 px)")
    num_patches: int = _size(8, "local patches per image")
    iterations: int = _size(3000, "training iterations of every run")
    batch_size: int = _size(16, "training images per step (16 x 3,000 = 8 epochs of 6,000, as the paper's VOC "
                                "schedule has about 7.6)")
    seeds: int = _size(3, "seeds per variant, 0..N-1")
    procs: int = _size(0, "training processes sharing the device (0: as many as the runs, the cores and the "
                          "GPU memory allow)")
    loader_workers: int = _size(1, "data loader processes per training process")
    gen_workers: int = _size(4, "processes generating the benchmark (beside the pretraining)")
    select_images: int = _size(1000, "train images each run chooses its background score on (0: all)")
    gpu_gib_per_proc: float = _size(5.0, "GPU memory one training process is expected to need, GiB")
    deadline: float = _size(0.0, "seconds from the start: stop early, with the measured rates, when the runs "
                                 "are projected to end later (0: never)")

    def check(self) -> None:
        """Raise :class:`~seco.config.ConfigError` naming the first flag out of range."""
        from seco.config import ConfigError

        for name in ("depth", "width", "heads", "patch", "pretrain_iters", "pretrain_batch", "n_train", "n_val",
                     "local_patch", "num_patches", "iterations", "batch_size", "seeds", "gen_workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"bench scale --{_flag(name)} must be at least 1, got {getattr(self, name)}")
        for name in ("procs", "loader_workers", "select_images", "gpu_gib_per_proc", "deadline"):
            if getattr(self, name) < 0:
                raise ConfigError(f"bench scale --{_flag(name)} must be >= 0, got {getattr(self, name)}")
        if self.depth < 3:
            raise ConfigError(f"bench scale --depth {self.depth}: need at least 3 blocks (the auxiliary CAM reads "
                              "block L-3, model.aux_layer)")
        if self.device not in ("cuda", "cpu"):
            raise ConfigError(f"bench scale --device {self.device!r}: choose cuda or cpu")
        if self.width % self.heads:
            raise ConfigError(f"bench scale --width {self.width} does not split into --heads {self.heads}")
        tokens = self.image_size // self.patch
        if self.image_size % self.patch or tokens % 2:
            raise ConfigError(f"bench scale --image-size {self.image_size} must be an even number of --patch "
                              f"{self.patch} px patches (pretraining's 2x2 mosaics split the token grid)")
        if self.local_patch > self.image_size // 2:
            raise ConfigError(f"bench scale --local-patch {self.local_patch} must be at most half the "
                              f"--image-size {self.image_size}")
        if self.n_train < self.batch_size:
            raise ConfigError(f"bench scale --n-train {self.n_train} is smaller than --batch-size {self.batch_size}")


TINY: dict[str, Any] = {
    "device": "cpu", "depth": 3, "width": 32, "heads": 2, "patch": 8, "image_size": 64, "pretrain_iters": 4,
    "pretrain_batch": 8, "n_train": 16, "n_val": 6, "local_patch": 16, "num_patches": 2, "iterations": 4,
    "batch_size": 4, "seeds": 1, "procs": 2, "loader_workers": 0, "gen_workers": 1, "select_images": 8,
    "gpu_gib_per_proc": 0.0,
}
"""``--tiny``: every size at its smallest, on the CPU; a flag given beside it still wins."""

TINY_OVERRIDES = ("eval.num_overlays=0", "eval.num_embeddings=0", "eval.cam_scales=[1.0]", "eval.cam_flip=false",
                  "eval.seg_scales=[1.0]", "eval.flip=false")
"""Config overrides of ``--tiny`` (before the user's): evaluation at one scale, no figures of samples."""


def _flag(name: str) -> str:
    return name.replace("_", "-")


def add_scale_args(parser: argparse.ArgumentParser) -> None:
    """The flags of ``seco bench scale``: one per :class:`ScaleSettings` field, ``--tiny`` and the outputs."""
    parser.add_argument("--tiny", action="store_true",
                        help="every size at its smallest on the CPU: the whole pipeline in seconds (a test)")
    for item in dataclasses.fields(ScaleSettings):
        tiny = f"; --tiny: {TINY[item.name]}" if item.name in TINY else ""
        parser.add_argument(f"--{_flag(item.name)}", type=type(item.default), default=None,
                            help=f"{item.metadata['help']} (default {item.default}{tiny})")
    parser.add_argument("--variants", nargs="+", default=None,
                        help=f"variants to train (default: {' '.join(FULL_VARIANTS)})")
    parser.add_argument("--out", type=str, default="runs/bench/scale",
                        help="folder of the start, the data, the runs and the tables (%(default)s)")
    parser.add_argument("--bkg-grid", default=None,
                        help="comma list of background scores each run chooses from on the train split, or "
                             "'none' (default 0.10,0.15,...,0.60; --tiny: 0.3,0.45)")


def settings_from_args(args: argparse.Namespace) -> ScaleSettings:
    """The sizes a parsed command line asks for: the flags given, else the preset's (``--tiny``) or the default."""
    preset = TINY if args.tiny else {}
    given = {item.name: getattr(args, item.name) for item in dataclasses.fields(ScaleSettings)
             if getattr(args, item.name) is not None}
    settings = ScaleSettings(**{**preset, **given})
    settings.check()
    return settings
