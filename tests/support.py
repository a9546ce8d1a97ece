"""Settings shared by the tests: the tiny synthetic set and the tiny model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import seco
from seco.config import SyntheticConfig

TINY_SYNTHETIC = SyntheticConfig(seed=0, n_train=24, n_val=8, image_size=96)


TINY_MODEL = [
    "model.kwargs={embed_dim: 32, depth: 3, num_heads: 2, patch_size: 8, img_size: 96}",
    "model.proj_hidden=64",
    "model.proj_dim=32",
    "model.weights=",          # the shipped weights fit the default size only
    "model.weights_sha256=",
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
        "method.losses.start_inclusive=true",  # seg and reg from iteration 1 itself
        "eval.batch_size=4",
        "eval.num_overlays=2",
        *TINY_MODEL,
    ]



def tensorboard_events(tb: Path) -> tuple[dict[str, list[int]], dict[str, list[tuple[int, int, int]]]]:
    """Scalar tag -> steps and image tag -> (step, height, width) of every event file under ``tb``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, list[int]] = {}
    images: dict[str, list[tuple[int, int, int]]] = {}
    for events in sorted(tb.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(e.step for e in acc.Scalars(tag))
        for tag in acc.Tags()["images"]:
            images.setdefault(tag, []).extend((e.step, e.height, e.width) for e in acc.Images(tag))
    return scalars, images


SECO = [sys.executable, "-m", "seco.cli"]


def seco_env() -> dict[str, str]:
    """The environment of a ``seco`` subprocess: it imports this checkout (PYTHONPATH passed through),
    one thread, unbuffered output."""
    src = str(Path(seco.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def run_seco(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m seco.cli ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run([*SECO, *args], capture_output=True, text=True, timeout=timeout, env=seco_env())


def assert_clean_error(done: subprocess.CompletedProcess, *named: str) -> str:
    """A failed command printed one ``seco CMD: error: ...`` line naming each of ``named``, and no traceback."""
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, done.stderr[-3000:]
    for name in named:
        assert name in errors[0], (name, errors[0])
    return errors[0]
