"""A short training run whose losses and final weights are pinned, so a refactor cannot move the step's numbers.

``python tests/step_reference.py`` records ``tests/data/step_reference.pt`` (run it only when a change is meant to
move the numbers, and say why in the commit); ``tests/test_step_reference.py`` replays the same runs and compares.
Both fidelity presets run 4 iterations of the tiny synthetic config with every loss on from the first iteration, on
one thread (a sum's order, and so its last bit, follows the thread count); the caller's thread count is restored.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from support import TINY_SYNTHETIC, tiny_overrides  # noqa: E402

REFERENCE = Path(__file__).parent / "data" / "step_reference.pt"
PRESETS = ("paper", "public")


def run_preset(fidelity: str, root: Path, out: Path) -> dict[str, Any]:
    """Train the tiny config under ``fidelity``; its logged losses ``{tag: [(step, value)]}`` and final weights."""
    from seco.config import load_config
    from seco.engine.train import train
    from seco.report.diagnostics import read_scalars

    overrides = [*tiny_overrides(root, out, iterations=4), f"method.fidelity={fidelity}", "train.ckpt_every=4",
                 "train.threads=1"]
    cfg = load_config("synthetic", overrides)
    threads = torch.get_num_threads()
    try:
        result = train(cfg, resume=False, progress=False)
    finally:
        torch.set_num_threads(threads)
    state = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    losses = {tag: points for tag, points in read_scalars(result.run_dir / "tb").items() if tag.startswith("loss/")}
    return {"losses": losses, "weights": state["model"]}


def run_all(work: Path) -> dict[str, Any]:
    """Both presets' runs on one freshly generated tiny synthetic set, with the torch version that ran them."""
    from seco.synthetic.benchmark import make_synthetic

    root = make_synthetic(work / "set", TINY_SYNTHETIC)
    return {"torch": str(torch.__version__), **{p: run_preset(p, root, work / p) for p in PRESETS}}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        recorded = run_all(Path(tmp))
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    torch.save(recorded, REFERENCE)
    print(f"wrote {REFERENCE} (torch {recorded['torch']}):",
          {p: sorted(recorded[p]["losses"]) for p in PRESETS})
