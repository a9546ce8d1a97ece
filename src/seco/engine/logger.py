"""TensorBoard scalars and images, written by the main process only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["ScalarLogger"]


class ScalarLogger:
    """A thin TensorBoard writer; ``log_dir=None`` makes every call a no-op."""

    def __init__(self, log_dir: Path | None) -> None:
        self.writer = None
        if log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir))

    def log(self, scalars: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, step)

    def image(self, tag: str, rgb: np.ndarray, step: int) -> None:
        """One HxWx3 uint8 image under ``tag`` at ``step`` (TensorBoard's Images tab, a slider over steps)."""
        if self.writer is not None:
            self.writer.add_image(tag, rgb, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
