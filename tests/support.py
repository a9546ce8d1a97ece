"""Settings shared by the tests: the tiny synthetic set and the tiny model."""

from __future__ import annotations

from pathlib import Path

from seco.config import SyntheticConfig

TINY_SYNTHETIC = SyntheticConfig(seed=0, n_train=24, n_val=8, image_size=96)


TINY_MODEL = [
    "model.kwargs={embed_dim: 32, depth: 3, num_heads: 2, patch_size: 8, img_size: 96}",
    "model.proj_hidden=64",
    "model.proj_dim=32",
]


def tiny_overrides(root: Path, out: Path, iterations: int = 3) -> list[str]:
    """Overrides that make the synthetic config train a tiny model on ``root`` in seconds."""
    return [
        f"data.root={root}",
        f"data.synthetic.n_train={TINY_SYNTHETIC.n_train}",
        f"data.synthetic.n_val={TINY_SYNTHETIC.n_val}",
        f"out_dir={out}",
        f"train.iterations={iterations}",
        "train.batch_size=4",
        "train.warmup_iters=1",
        "train.log_every=1",
        "train.ckpt_every=2",
        "method.reservoir.capacity=48",
        "method.prototypes.start_iter=0",
        "method.losses.ptc.start_iter=0",
        "method.losses.lig.start_iter=0",
        "method.losses.lil.start_iter=0",
        "method.losses.seg.start_iter=1",
        "method.losses.reg.start_iter=1",
        "eval.batch_size=4",
        "eval.num_overlays=2",
        *TINY_MODEL,
    ]


