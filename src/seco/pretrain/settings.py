"""The settings of ``seco pretrain``: schedule, sizes and speed (no torch import, so the CLI stays light).

Each field becomes a ``seco pretrain --flag`` (underscores as dashes), with
the field's ``help`` metadata as its help text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SCHEDULE", "PretrainSettings"]


def _setting(default: float | int | bool, help: str) -> object:
    return field(default=default, metadata={"help": help})


@dataclass
class PretrainSettings:
    """How long and how a pretraining run trains (model and seed come from the config).

    The defaults are the recipe of the shipped ``seco/weights/synthetic_vit_tiny.pth``
    (docs/results.md): ``seco pretrain --out FILE`` remakes it.
    """

    iterations: int = _setting(3200, "optimisation steps; each sees batch-size new images")
    batch_size: int = _setting(32, "images per step")
    lr: float = _setting(1e-3, "peak AdamW learning rate")
    weight_decay: float = _setting(0.05, "AdamW weight decay (not on norms, biases, tokens)")
    warmup_iters: int = _setting(100, "linear warmup steps before the poly decay")
    aux_weight: float = _setting(0.5, "weight of the auxiliary classifier's loss (block aux_layer)")
    cls_weight: float = _setting(0.0, "weight of a linear classifier on the final class token, as an ImageNet ViT "
                                      "is trained (0: the class token's output is never trained)")
    mosaic_every: int = _setting(2, "every N-th step trains on 2x2 mosaics of half-size scenes, each tile "
                                    "classified from its own tokens (0: never)")
    image_size: int = _setting(96, "image side in pixels")
    n_val: int = _setting(1000, "validation images")
    eval_every: int = _setting(800, "evaluate every N steps (0: only at the end)")
    ckpt_every: int = _setting(100, "write RUN_DIR/last.pt every N steps")
    threads: int = _setting(1, "torch CPU threads")
    workers: int = _setting(0, "data loader processes drawing images (0: draw in the training process)")
    half: bool = _setting(False, "store the weights as float16 (half the file size)")

    def check(self) -> None:
        """Raise :class:`~seco.config.ConfigError` naming the first setting out of range."""
        from seco.config import ConfigError

        for name in ("iterations", "batch_size", "n_val", "ckpt_every", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain --{name.replace('_', '-')} must be at least 1")
        if self.lr <= 0 or min(self.weight_decay, self.aux_weight, self.cls_weight) < 0:
            raise ConfigError("pretrain --lr must be positive, --weight-decay, --aux-weight and --cls-weight "
                              "not negative")
        if min(self.warmup_iters, self.eval_every, self.workers, self.mosaic_every) < 0 or self.image_size < 16:
            raise ConfigError("pretrain --warmup-iters, --eval-every, --workers and --mosaic-every must be >= 0, "
                             "--image-size >= 16")


SCHEDULE = ("iterations", "batch_size", "lr", "weight_decay", "warmup_iters", "aux_weight", "cls_weight",
            "mosaic_every", "image_size")
"""Settings a resumed run must share with its checkpoint; the others change only logging and speed."""
